# Builds and runs the consumer project in a scratch directory; in package mode, also the
# examples against the installed package.
#   cmake -DMODE=package|subdirectory -DSOURCE_DIR=<wsload> -DBUILD_DIR=<wsload build>
#         -DWORK_DIR=<scratch> [-DLAUNCHER=ccache] -P run.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
# Unoptimised, without debug information: the package is under test, not the code's
# speed, and a Beast translation unit then compiles in half the time (67 s, not 140 s).
set(args -DWSLOAD_CONSUMER_MODE=${MODE} -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0)
if(LAUNCHER)
  list(APPEND args -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()

function(step)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer test: '${ARGV}' failed (${rc})")
  endif()
endfunction()

if(MODE STREQUAL "package")
  step("${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")
  # The package never finds CLI11: no installed header may need it (the program's own
  # headers stay in tools/).
  file(GLOB_RECURSE installed_headers "${prefix}/include/wsload/*")
  foreach(header IN LISTS installed_headers)
    file(STRINGS "${header}" cli11_include REGEX "^#include <CLI/")
    if(cli11_include)
      message(FATAL_ERROR "consumer test: ${header} is installed but needs CLI11")
    endif()
  endforeach()
  list(APPEND args "-DCMAKE_PREFIX_PATH=${prefix}")
else()
  list(APPEND args "-DWSLOAD_SOURCE_DIR=${SOURCE_DIR}")
endif()
step("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/test_suites/consumer" -B "${WORK_DIR}/build" ${args})
step("${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
step("${WORK_DIR}/build/consumer")
if(MODE STREQUAL "package")
  step("${WORK_DIR}/build/core_consumer")
endif()

# The examples as a user's project: wsload_add_load_test, then `ctest -L load`.
if(MODE STREQUAL "package")
  step("${CMAKE_COMMAND}" -S "${SOURCE_DIR}/examples" -B "${WORK_DIR}/examples" ${args})
  step("${CMAKE_COMMAND}" --build "${WORK_DIR}/examples")
  step("${CMAKE_CTEST_COMMAND}" --test-dir "${WORK_DIR}/examples" -L load --output-on-failure
       --no-tests=error)
  foreach(program chat_load_tests chat_load_tests_canary)
    if(NOT EXISTS "${WORK_DIR}/examples/wsload-reports/${program}.wsload.json")
      message(FATAL_ERROR "consumer test: no ${program} report in ${WORK_DIR}/examples/wsload-reports")
    endif()
  endforeach()
  # Two programs with the same cases, one with a TEST_PREFIX: both sets are tests.
  execute_process(COMMAND "${CMAKE_CTEST_COMMAND}" --test-dir "${WORK_DIR}/examples" -N -L load
                  OUTPUT_VARIABLE listed RESULT_VARIABLE rc)
  foreach(name " ChatLoad.TwentyUsersGetTimelyAnswers\n" " canary.ChatLoad.TwentyUsersGetTimelyAnswers\n")
    string(FIND "${listed}" "${name}" at)
    if(NOT rc EQUAL 0 OR at EQUAL -1)
      message(FATAL_ERROR "consumer test: ctest does not list '${name}':\n${listed}")
    endif()
  endforeach()
endif()
