// Header-only use of the whole library: a short load against the embedded server.
#include <iostream>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

int main() {
  wsload::testing::Server server;
  wsload::LoadConfig config;
  config.url = server.url();
  config.prompts = {"ping"};
  config.connections = 2;
  config.timeouts.run = std::chrono::seconds(30);
  const auto summary = wsload::run_load(config);
  std::cout << wsload::format_report(summary);
  return summary.successful_requests == 2 ? 0 : 1;
}
