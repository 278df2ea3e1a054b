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

# wsload_add_load_test(NAME <name> SOURCES <file>... [ENDPOINT <url>] [LABELS <label>...]
#                      [TEST_PREFIX <prefix>] [NETWORK_LIBRARY <target>])
#
# A GoogleTest program of load-test cases with wsload's main (JSON reporter installed).
# Each case becomes a ctest test labelled `load` (plus LABELS) and RUN_SERIAL: two load
# tests sharing the cores would measure each other. XML reports go to
# ${CMAKE_BINARY_DIR}/wsload-reports/<name>/, the JSON summary of all cases to
# ${CMAKE_BINARY_DIR}/wsload-reports/<name>.wsload.json. ENDPOINT sets WSLOAD_URL for
# the cases. TEST_PREFIX goes before each ctest name (as in gtest_discover_tests), so two
# programs with the same case names (one per stage, say) do not collide. The network
# layer comes from NETWORK_LIBRARY, or from one library made by
# wsload_add_network_library the first time this is called.
function(wsload_add_load_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "NAME;ENDPOINT;NETWORK_LIBRARY;TEST_PREFIX" "SOURCES;LABELS")
  if(NOT arg_NAME OR NOT arg_SOURCES)
    message(FATAL_ERROR "wsload_add_load_test: NAME and SOURCES are required")
  endif()
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "wsload_add_load_test: unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  set(network "${arg_NETWORK_LIBRARY}")
  if(NOT network)
    set(network wsload_load_test_network)
    if(NOT TARGET ${network})
      wsload_add_network_library(${network})
    endif()
  endif()
  add_executable(${arg_NAME} ${arg_SOURCES})
  target_link_libraries(${arg_NAME} PRIVATE ${network} wsload::gtest_main)

  set(reports "${CMAKE_BINARY_DIR}/wsload-reports")
  set(environment "WSLOAD_SUMMARY=${reports}/${arg_NAME}.wsload.json")
  if(arg_ENDPOINT)
    list(APPEND environment "WSLOAD_URL=${arg_ENDPOINT}")
  endif()
  set(labels load ${arg_LABELS})
  set(prefix)
  if(arg_TEST_PREFIX)
    set(prefix TEST_PREFIX "${arg_TEST_PREFIX}")
  endif()
  include(GoogleTest)
  gtest_discover_tests(${arg_NAME}
    XML_OUTPUT_DIR "${reports}/${arg_NAME}"
    NO_PRETTY_VALUES  # test names carry the endpoint names already
    DISCOVERY_TIMEOUT 60
    TEST_LIST ${arg_NAME}_TESTS
    ${prefix}
    PROPERTIES RUN_SERIAL TRUE TIMEOUT 900)
  # gtest_discover_tests flattens list-valued PROPERTIES (labels, environment), so they
  # are set by a script ctest includes after the discovered tests.
  set(properties_script "${CMAKE_CURRENT_BINARY_DIR}/${arg_NAME}_wsload_properties.cmake")
  file(CONFIGURE OUTPUT "${properties_script}" @ONLY CONTENT [[
if(@arg_NAME@_TESTS)
  set_tests_properties(${@arg_NAME@_TESTS} PROPERTIES
    LABELS "@labels@" ENVIRONMENT "@environment@")
endif()
]])
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${properties_script}")
endfunction()
