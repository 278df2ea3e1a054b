// One load test per endpoint, as a GoogleTest case. Here the endpoint is the embedded
// server; point the same binary at a real one with WSLOAD_URL (and WSLOAD_* thresholds).
#include <gtest/gtest.h>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

TEST(ChatEndpoint, TwentyUsersGetTimelyAnswers) {
  wsload::testing::ServerOptions stand_in;
  stand_in.reply_delay = std::chrono::milliseconds(5);
  wsload::testing::Server server(stand_in);

  wsload::LoadConfig config;
  config.name = "chat";
  config.url = server.url("/prod");
  config.origin = "https://app.example.com";
  config.prompts = wsload::read_prompts(WSLOAD_EXAMPLE_PROMPTS);
  config.connections = 20;
  config.max_average_latency = wsload::Seconds(0.5);  // seconds, on the average
  config.min_rps = 100;
  config.min_success_rate = 95;  // percent
  config.thresholds = {"p99<800ms"};
  wsload::apply_environment(config);

  const wsload::Summary summary = wsload::run_load(config);
  for (const auto& verdict : summary.verdicts) {
    EXPECT_TRUE(verdict.passed) << verdict.message;
  }
  wsload::write_summary(summary, "chat_summary.json");
}
