// A scratch directory per test case, file helpers, and a clean environment for child
// processes: shared by the suites that write files or run programs.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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
  /// A character device with /dev/null's numbers (1, 3) in the scratch directory: what is
  /// written to it goes nowhere, and the system's own /dev/null is never touched. Empty
  /// when it cannot be made (mknod needs CAP_MKNOD).
  std::filesystem::path null_device(const std::string& name) const {
    const auto node = dir_ / name;
    if (::mknod(node.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) return {};
    return node;
  }
  /// The file type of `path` itself (S_IFREG, S_IFCHR, S_IFIFO, S_IFLNK...); 0: none.
  static mode_t type_of(const std::filesystem::path& path) {
    struct stat status {};
    return ::lstat(path.c_str(), &status) == 0 ? (status.st_mode & S_IFMT) : 0;
  }

  std::filesystem::path dir_;
};

/// Reads a FIFO on a thread of its own while writers come and go, so a writer never
/// waits for a reader: made before the writer starts, it collects what every writer wrote
/// until stop(). Every wait is bounded by `deadline`.
class FifoReader {
 public:
  FifoReader(const std::filesystem::path& fifo, std::chrono::seconds deadline)
      : read_end_(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)),
        // Held open so that a writer leaving is no end of file: only stop() ends the read.
        write_end_(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) {
    thread_ = std::thread([this, deadline] {
      const auto give_up = std::chrono::steady_clock::now() + deadline;
      while (read_end_ >= 0 && std::chrono::steady_clock::now() < give_up) {
        pollfd p{read_end_, POLLIN, 0};
        ::poll(&p, 1, 100);
        char buffer[65536];
        const auto n = ::read(read_end_, buffer, sizeof buffer);
        if (n > 0) {
          text_.append(buffer, static_cast<std::size_t>(n));
        } else if (stopping_) {
          break;  // drained, and the writers are done
        }
      }
    });
  }
  ~FifoReader() { stop(); }
  FifoReader(const FifoReader&) = delete;
  FifoReader& operator=(const FifoReader&) = delete;

  bool opened() const { return read_end_ >= 0 && write_end_ >= 0; }

  /// Everything written so far; call it once the writers have finished.
  std::string stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    for (int* fd : {&read_end_, &write_end_}) {
      if (*fd >= 0) ::close(*fd);
      *fd = -1;
    }
    return text_;
  }

 private:
  int read_end_;
  int write_end_;
  std::atomic<bool> stopping_{false};
  std::string text_;
  std::thread thread_;
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
