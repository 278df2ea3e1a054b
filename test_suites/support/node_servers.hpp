// Servers the project did not write (test_suites/node/servers.js: graphql-ws,
// rpc-websockets), installed from npm into the build directory by the test setup and run
// beside a test. Without node or its packages a test skips saying so; under CI (CI set)
// it fails instead, so a CI job never skips them silently.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "process.hpp"

namespace wsload::test {

/// Why the npm servers cannot run here; empty when they can.
inline std::string node_servers_unavailable() {
  const std::string node = WSLOAD_NODE;
  if (node.empty())
    return "node and npm not found at configure time: install them (scripts/install-deps.sh)";
  if (!std::filesystem::exists(std::filesystem::path(WSLOAD_NODE_MODULES) / "graphql-ws") ||
      !std::filesystem::exists(std::filesystem::path(WSLOAD_NODE_MODULES) / "rpc-websockets")) {
    return std::string("the npm packages are not installed in ") + WSLOAD_NODE_MODULES +
           " (the build's npm install failed: see npm.log beside it)";
  }
  return {};
}

/// Skips the test (fails it under CI) when the npm servers cannot run.
#define WSLOAD_REQUIRE_NODE_SERVERS()                                                \
  do {                                                                               \
    if (const auto why = ::wsload::test::node_servers_unavailable(); !why.empty()) { \
      if (std::getenv("CI")) FAIL() << why;                                          \
      GTEST_SKIP() << why;                                                           \
    }                                                                                \
  } while (false)

/// One of servers.js's servers, on 127.0.0.1 and the port it printed; stopped when
/// destroyed. Throws std::runtime_error when it does not report a port within 20 s.
class NodeServer {
 public:
  explicit NodeServer(const std::vector<std::string>& args) {
    log_ = std::filesystem::temp_directory_path() / ("wsload_node_" + std::to_string(::getpid()) +
                                                     "_" + std::to_string(counter()++) + ".log");
    std::vector<std::string> argv = {"/usr/bin/env",
                                     std::string("NODE_PATH=") + WSLOAD_NODE_MODULES, WSLOAD_NODE,
                                     WSLOAD_NODE_SERVERS};
    argv.insert(argv.end(), args.begin(), args.end());
    process_ = std::make_unique<BackgroundProcess>(argv, log_.string());
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (port_ == 0 && std::chrono::steady_clock::now() < give_up && process_->running()) {
      std::ifstream in(log_);
      std::string line;
      if (std::getline(in, line) && !line.empty() && in.good())
        port_ = static_cast<std::uint16_t>(std::stoul(line));
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (port_ == 0) {
      std::ifstream in(log_);
      throw std::runtime_error("the node server did not start: " +
                               std::string(std::istreambuf_iterator<char>(in), {}));
    }
  }
  ~NodeServer() {
    process_.reset();
    std::error_code ignored;
    std::filesystem::remove(log_, ignored);
  }
  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;

  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::filesystem::path log_;
  std::unique_ptr<BackgroundProcess> process_;
  std::uint16_t port_ = 0;
};

}  // namespace wsload::test
