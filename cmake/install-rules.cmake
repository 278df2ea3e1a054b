include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(WSLOAD_CMAKE_DIR "${CMAKE_INSTALL_DATADIR}/cmake/wsload")

install(DIRECTORY include/ DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(TARGETS wsload_core wsload EXPORT wsloadTargets)
install(EXPORT wsloadTargets NAMESPACE wsload:: DESTINATION "${WSLOAD_CMAKE_DIR}")
if(TARGET wsload_gtest)
  install(TARGETS wsload_gtest wsload_gtest_main EXPORT wsloadGtestTargets)
  install(EXPORT wsloadGtestTargets NAMESPACE wsload:: DESTINATION "${WSLOAD_CMAKE_DIR}")
  install(FILES cmake/wsload_gtest_main.cpp DESTINATION "${WSLOAD_CMAKE_DIR}")
endif()
if(TARGET wsload_benchmark)
  install(TARGETS wsload_benchmark EXPORT wsloadBenchmarkTargets)
  install(EXPORT wsloadBenchmarkTargets NAMESPACE wsload:: DESTINATION "${WSLOAD_CMAKE_DIR}")
endif()

configure_package_config_file(cmake/wsloadConfig.cmake.in
  "${PROJECT_BINARY_DIR}/wsloadConfig.cmake" INSTALL_DESTINATION "${WSLOAD_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/wsloadConfigVersion.cmake"
  COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES
  "${PROJECT_BINARY_DIR}/wsloadConfig.cmake"
  "${PROJECT_BINARY_DIR}/wsloadConfigVersion.cmake"
  cmake/wsload-dependencies.cmake
  cmake/wsload.cmake
  DESTINATION "${WSLOAD_CMAKE_DIR}")
