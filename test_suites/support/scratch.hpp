// A scratch directory per test case, file helpers, and a clean environment for child
// processes: shared by the suites that write files or run programs.
#pragma once

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

namespace wsload::test {

class ScratchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() / ("wsload_" + std::to_string(::getpid()) + "_" +
                                                     test->test_suite_name() + "_" + test->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::string& name, const std::string& content) const {
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  static std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::filesystem::path dir_;
};

/// Unsets the WSLOAD_* variables for a child (see run_process): the environment the
/// tests run in must not leak into what they check.
inline std::map<std::string, std::string> clean_wsload_env() {
  std::map<std::string, std::string> env;
  for (const char* name :
       {"WSLOAD_URL", "WSLOAD_ORIGIN", "WSLOAD_PROMPTS", "WSLOAD_CONNECTIONS", "WSLOAD_MAX_LATENCY",
        "WSLOAD_MIN_RPS", "WSLOAD_MIN_SUCCESS_RATE", "WSLOAD_SUMMARY", "WSLOAD_ENDPOINTS",
        "WSLOAD_SHARD_INDEX", "WSLOAD_SHARD_COUNT", "JOB_COMPLETION_INDEX", "WSLOAD_START_AT",
        "WSLOAD_HTML_REPORT"}) {
    env[name] = "";
  }
  return env;
}

}  // namespace wsload::test
