# CMake helpers for projects that use wsload (included by wsloadConfig.cmake and by
# wsload's own build).

# wsload_add_network_library(<name>)
#
# A static library that compiles wsload's network layer (Boost.Beast) once. Link it
# instead of wsload::wsload from every target with load tests: their translation units
# then compile in seconds instead of about a minute each (see detail/linkage.hpp).
function(wsload_add_network_library name)
  set(source "${CMAKE_CURRENT_BINARY_DIR}/${name}_wsload_src.cpp")
  file(CONFIGURE OUTPUT "${source}" CONTENT "#include <wsload/src.hpp>\n")
  add_library(${name} STATIC "${source}")
  target_link_libraries(${name} PUBLIC wsload::wsload)
  target_compile_definitions(${name} PUBLIC WSLOAD_SEPARATE_COMPILATION)
endfunction()
