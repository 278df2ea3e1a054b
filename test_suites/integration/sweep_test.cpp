// A capacity sweep over loopback against the embedded server with a known capacity
// (ServerOptions::service_time): the knee lies below it, rates well above it fail.
#include <chrono>
#include <vector>

#include <gtest/gtest.h>

#include <wsload/engine.hpp>
#include <wsload/render/sweep.hpp>
#include <wsload/sweep.hpp>
#include <wsload/testing/server.hpp>

namespace {

using namespace std::chrono_literals;
using namespace wsload;

// A service of capacity 100 requests/s.
wsload::testing::ServerOptions serving_one_at_a_time() {
  wsload::testing::ServerOptions options;
  options.service_time = 10ms;
  return options;
}

LoadConfig load_against(const wsload::testing::Server& server) {
  LoadConfig config;
  config.url = server.url("/");
  config.prompts = {"hello"};
  config.connections = 50;  // enough that the generator keeps up below capacity
  config.timeouts.reply = 10s;
  config.timeouts.run = 60s;
  return config;
}

TEST(ServiceTime, CapsTheServerAtOneMessagePerServiceTime) {
  wsload::testing::Server server(serving_one_at_a_time());
  LoadConfig config = load_against(server);
  config.connections = 20;
  config.duration = 1s;
  const Summary s = run_load(config);
  ASSERT_GT(s.successful_requests, 0u);
  // Capacity 100/s; a plain echo server answers thousands a second here.
  EXPECT_LE(s.requests_per_second(), 110)
      << s.successful_requests << " in " << s.total_time.count();
}

TEST(Sweep, FindsTheKneeBelowAKnownCapacityAndFailsTheRatesWellAboveIt) {
  wsload::testing::Server server(serving_one_at_a_time());
  LoadConfig base = load_against(server);
  // The median, not a tail: at 25 requests/s each request is its connection's first, so
  // the tail holds the handshakes, slow on a busy machine or under a sanitizer (p95 was
  // 252 ms at 25/s under TSan, with the median at 14 ms). Above capacity the queue puts
  // the median near half a second.
  base.thresholds = {"p50<200ms"};
  const SweepOptions options{.rate_from = 25,
                             .rate_to = 400,
                             .factor = 2,
                             .step_duration = 1s,
                             .stop_after_failure = false};
  const auto result = run_sweep(options, [&base](double rate, std::chrono::milliseconds duration) {
    LoadConfig config = base;
    config.rate = rate;
    config.duration = duration;
    return run_load(config);
  });
  ASSERT_EQ(result.steps.size(), 5u);
  // The machine is shared: only what holds however slow it is.
  EXPECT_TRUE(result.steps[0].passed()) << format_sweep(result);
  EXPECT_TRUE(result.steps[1].passed()) << format_sweep(result);
  EXPECT_FALSE(result.steps[3].passed()) << format_sweep(result);
  EXPECT_FALSE(result.steps[4].passed()) << format_sweep(result);
  const auto knee = result.knee();
  ASSERT_TRUE(knee.rate) << format_sweep(result);
  EXPECT_GE(*knee.rate, 50);
  EXPECT_LT(*knee.rate, 200);
}

}  // namespace
