// main() of wsload::gtest_main: GoogleTest with wsload's JSON reporter installed.
#include <wsload/gtest/reporter.hpp>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  wsload::install_reporter();
  return RUN_ALL_TESTS();
}
