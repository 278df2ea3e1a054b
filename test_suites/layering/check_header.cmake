# Compiles one header alone with wsload::core's flags and fails when it pulls in a header
# of Boost, GoogleTest/GoogleMock, Google Benchmark or CLI11, naming the chain of includes.
#   cmake -DCOMPILER=<c++> -DSTANDARD=<-std=...> -DFLAGS_FILE=<core_flags.cmake>
#         -DHEADER=wsload/<header> -DSOURCE=<a file that includes only it>
#         [-DEXTRA_DEFINITIONS=<name>...] -P check_header.cmake
# (A source file, not -include: g++ -H lists nothing under a header given by -include.)
include("${FLAGS_FILE}")
set(arguments "${STANDARD}")
foreach(directory IN LISTS include_directories)
  list(APPEND arguments "-I${directory}")
endforeach()
foreach(definition IN LISTS definitions EXTRA_DEFINITIONS)
  list(APPEND arguments "-D${definition}")
endforeach()
list(APPEND arguments ${options})

execute_process(
  COMMAND "${COMPILER}" ${arguments} -fsyntax-only -H "${SOURCE}"
  RESULT_VARIABLE result ERROR_VARIABLE opened OUTPUT_QUIET)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${HEADER} does not compile with wsload::core's flags alone:\n${opened}")
endif()

# -H prints each header it opens as dots (its depth) and the path.
set(libraries boost Boost gtest GoogleTest gmock GoogleTest benchmark "Google Benchmark" CLI CLI11)
string(REPLACE "\n" ";" lines "${opened}")
set(chain)
foreach(line IN LISTS lines)
  if(NOT line MATCHES "^(\\.+) (.+)$")
    continue()
  endif()
  string(LENGTH "${CMAKE_MATCH_1}" depth)
  set(path "${CMAKE_MATCH_2}")
  math(EXPR includer_depth "${depth} - 1")
  list(SUBLIST chain 0 ${includer_depth} chain)
  list(APPEND chain "${path}")
  # wsload's own headers are judged by what they open, not by where the checkout lies (a
  # clone under a folder named benchmark/ must not fail).
  set(own FALSE)
  foreach(directory IN LISTS include_directories)
    string(FIND "${path}" "${directory}/wsload/" at)
    if(at EQUAL 0)
      set(own TRUE)
    endif()
  endforeach()
  if(own)
    continue()
  endif()
  if(path MATCHES "/(boost|gtest|gmock|benchmark|CLI)/")
    list(FIND libraries "${CMAKE_MATCH_1}" at)
    math(EXPR at "${at} + 1")
    list(GET libraries ${at} library)
    list(JOIN chain "\n  which includes " how)
    message(FATAL_ERROR "${HEADER} is in the core, results or render layer but pulls in "
                        "${library}:\n  ${how}")
  endif()
endforeach()
message(STATUS "${HEADER}: nothing of Boost, GoogleTest, Google Benchmark or CLI11")
