# The dependencies of wsload::core and wsload::wsload, shared by the build tree and the
# installed package.
include(CMakeFindDependencyMacro)
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_dependency(Threads)
find_dependency(Boost 1.74)
find_dependency(OpenSSL 1.1.1)
find_dependency(nlohmann_json 3.9)
find_dependency(ZLIB)

# RE2 (the regex: rules) as re2::re2: from RE2's own CMake package where it ships one,
# else from pkg-config (Debian's libre2-dev ships only re2.pc).
if(NOT TARGET re2::re2)
  find_package(re2 CONFIG QUIET)
endif()
if(NOT TARGET re2::re2)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(wsload_re2 QUIET IMPORTED_TARGET re2)
  endif()
  if(NOT TARGET PkgConfig::wsload_re2)
    set(wsload_re2_missing "RE2 not found: neither a CMake package nor re2.pc for pkg-config (Debian: apt install libre2-dev pkg-config)")
    if(CMAKE_FIND_PACKAGE_NAME)  # inside find_package(wsload): not found, with the reason
      set(${CMAKE_FIND_PACKAGE_NAME}_NOT_FOUND_MESSAGE "${wsload_re2_missing}")
      set(${CMAKE_FIND_PACKAGE_NAME}_FOUND FALSE)
      return()
    endif()
    message(FATAL_ERROR "${wsload_re2_missing}")
  endif()
  add_library(re2::re2 INTERFACE IMPORTED)
  set_target_properties(re2::re2 PROPERTIES INTERFACE_LINK_LIBRARIES PkgConfig::wsload_re2)
endif()
