// The engine against the embedded server over loopback: counts, headers, latency,
// timeouts, deadlines, interruption and thresholds.
#include <filesystem>

#include <sys/resource.h>
#include <unistd.h>

#include <wsload/detail/open_files.hpp>
#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using wsload::ErrorKind;
using wsload::LoadConfig;
using wsload::testing::ReplyMode;
using wsload::testing::Server;
using wsload::testing::ServerOptions;

LoadConfig config_for(const Server& server, std::size_t connections = 4,
                      std::vector<std::string> prompts = {"hello", "world"}) {
  LoadConfig c;
  c.url = server.url("/chat");
  c.prompts = std::move(prompts);
  c.connections = connections;
  c.timeouts.run = 60s;
  c.tls.ca_pem = server.ca_pem();
  return c;
}

TEST(Engine, CountsAreExactForConnectionsTimesPromptsTimesIterations) {
  Server server;
  auto config = config_for(server, 8, {"a", "bb", "ccc", "dddd", "eeeee"});
  config.iterations = 3;
  config.threads = 2;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.total_requests, 120u);
  EXPECT_EQ(s.successful_requests, 120u);
  EXPECT_EQ(s.failed_requests, 0u);
  EXPECT_EQ(s.latency.count(), 120);
  EXPECT_EQ(s.connections_opened, 8u);
  EXPECT_EQ(server.messages(), 120u);
  EXPECT_EQ(server.connections(), 8u);
  EXPECT_DOUBLE_EQ(s.success_rate(), 100.0);
  EXPECT_GT(s.requests_per_second(), 0);
  EXPECT_FALSE(s.interrupted);
  EXPECT_EQ(s.threads, 2u);
}

TEST(Engine, SendsOriginHeadersSubprotocolsAndTheUrlTarget) {
  Server server;
  auto config = config_for(server, 2);
  config.url = server.url("/prod/chat?stage=dev");
  config.origin = "https://app.example.com";
  config.headers = {{"X-Api-Key", "k-123"}, {"X-Trace", "t1"}};
  config.subprotocols = {"chat.v1", "chat.v2"};
  const auto s = wsload::run_load(config);
  ASSERT_EQ(s.successful_requests, 4u);
  const auto seen = server.handshakes();
  ASSERT_EQ(seen.size(), 2u);
  for (const auto& h : seen) {
    EXPECT_EQ(h.target, "/prod/chat?stage=dev");
    EXPECT_EQ(h.header("origin"), "https://app.example.com");
    EXPECT_EQ(h.header("x-api-key"), "k-123");
    EXPECT_EQ(h.header("x-trace"), "t1");
    EXPECT_EQ(h.header("sec-websocket-protocol"), "chat.v1, chat.v2");
    EXPECT_EQ(h.header("host"), "127.0.0.1:" + std::to_string(server.port()));
  }
  const auto text = to_json(s).dump();
  EXPECT_EQ(text.find("k-123"), std::string::npos) << "secret header leaked into the summary";
}

TEST(Engine, LatencyIsNeverBelowTheServersDelay) {
  ServerOptions options;
  options.reply_delay = 20ms;
  Server server(options);
  auto config = config_for(server, 4, {"x", "y", "z"});
  config.iterations = 2;
  const auto s = wsload::run_load(config);
  ASSERT_EQ(s.successful_requests, 24u);
  EXPECT_GE(s.latency.min(), 20'000) << "microseconds";
  EXPECT_GE(*s.latency_at(50), 0.020);
  // Loose upper bound: a busy CI machine may add a lot; the tight figure is a benchmark's.
  EXPECT_LT(*s.latency_at(50), 0.250);
  EXPECT_GE(s.total_time.count(), 6 * 0.020);
}

TEST(Engine, ServerThatNeverRepliesCountsReplyTimeoutsAndEnds) {
  ServerOptions options;
  options.mode = ReplyMode::silent;
  Server server(options);
  auto config = config_for(server, 3, {"a", "b", "c", "d"});
  config.timeouts.reply = 200ms;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 0u);
  EXPECT_EQ(s.failed_requests, 12u);
  EXPECT_EQ(s.errors_of(ErrorKind::reply_timeout), 12u)
      << "each request timed out, each on a fresh connection";
  EXPECT_EQ(s.timeout_reconnects, 9u);
  EXPECT_LT(s.total_time.count(), 10.0);
  EXPECT_FALSE(s.deadline_exceeded);
}

TEST(Engine, ClosedPortCountsConnectErrorsPromptly) {
  LoadConfig config;
  config.url = "ws://127.0.0.1:" + std::to_string(wsload::testing::unused_loopback_port()) + "/";
  config.prompts = {"a", "b"};
  config.connections = 5;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.failed_requests, 10u);
  EXPECT_EQ(s.errors_of(ErrorKind::connect), 10u);
  EXPECT_EQ(s.connections_failed, 5u);
  EXPECT_EQ(s.connections_opened, 0u);
  EXPECT_LT(s.total_time.count(), 5.0);
  EXPECT_TRUE(s.latency.empty());
}

TEST(Engine, RunDeadlineEndsAStuckRun) {
  ServerOptions options;
  options.mode = ReplyMode::silent;
  Server server(options);
  auto config = config_for(server, 2, {"a", "b"});
  config.timeouts.reply = 60s;
  config.timeouts.run = 300ms;
  const auto s = wsload::run_load(config);
  EXPECT_TRUE(s.deadline_exceeded);
  EXPECT_EQ(s.errors_of(ErrorKind::run_deadline), 4u);
  EXPECT_LT(s.total_time.count(), 10.0);
}

TEST(Engine, StopInterruptsAndKeepsWhatWasMeasured) {
  ServerOptions options;
  options.reply_delay = 5ms;
  Server server(options);
  auto config = config_for(server, 2, {"a"});
  config.iterations = 100'000;
  wsload::Engine engine(config);
  const auto s = engine.run(
      [&](const wsload::Progress& p) {
        if (p.done > 0) engine.stop();
      },
      20ms);
  EXPECT_TRUE(s.interrupted);
  EXPECT_GT(s.successful_requests, 0u);
  EXPECT_LE(s.errors_of(ErrorKind::interrupted), 2u) << "at most the requests in flight";
  EXPECT_EQ(s.successful_requests + s.failed_requests + s.not_sent, 200'000u)
      << "what was never sent is noted, not failed";
  EXPECT_EQ(to_json(wsload::summary_from_json(to_json(s))), to_json(s));
}

TEST(Engine, ProgressIsMonotonicAndBounded) {
  ServerOptions options;
  options.reply_delay = 10ms;
  Server server(options);
  auto config = config_for(server, 2, {"a", "b", "c", "d", "e"});
  config.iterations = 4;
  std::vector<wsload::Progress> seen;
  const auto s =
      wsload::Engine(config).run([&](const wsload::Progress& p) { seen.push_back(p); }, 30ms);
  ASSERT_EQ(s.successful_requests, 40u);
  ASSERT_FALSE(seen.empty()) << "a 400 ms run reports progress at least once";
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].expected, 40u);
    EXPECT_LE(seen[i].done, 40u);
    if (i > 0) {
      EXPECT_GE(seen[i].done, seen[i - 1].done);
    }
  }
}

TEST(Engine, ThresholdsPassAndFailWithTheirSentences) {
  Server server;
  auto config = config_for(server);
  config.thresholds = {"p99<10s", "rps>=1000000000", "errors==0"};
  config.min_success_rate = 95;
  const auto s = wsload::run_load(config);
  ASSERT_EQ(s.verdicts.size(), 4u);
  EXPECT_TRUE(s.verdicts[0].passed) << s.verdicts[0].message;  // success_rate comes first
  EXPECT_TRUE(s.verdicts[1].passed) << s.verdicts[1].message;
  EXPECT_FALSE(s.verdicts[2].passed);
  EXPECT_NE(s.verdicts[2].message.find("is below the 1000000000 req/s minimum"), std::string::npos)
      << s.verdicts[2].message;
  EXPECT_TRUE(s.verdicts[3].passed);
  EXPECT_FALSE(s.passed());
}

TEST(Engine, ThresholdsOnLatencyFailWhenNothingSucceeded) {
  LoadConfig config;
  config.url = "ws://127.0.0.1:" + std::to_string(wsload::testing::unused_loopback_port()) + "/";
  config.prompts = {"a"};
  config.connections = 1;
  config.max_average_latency = wsload::Seconds(0.5);
  const auto s = wsload::run_load(config);
  ASSERT_EQ(s.verdicts.size(), 1u);
  EXPECT_FALSE(s.verdicts[0].passed);
  EXPECT_NE(s.verdicts[0].message.find("no samples"), std::string::npos);
}

TEST(Engine, SummaryOfARealRunRoundTripsThroughAFile) {
  Server server;
  auto config = config_for(server);
  const auto s = wsload::run_load(config);
  const auto path = std::filesystem::temp_directory_path() /
                    ("wsload_engine_summary_" + std::to_string(::getpid()) + ".json");
  wsload::write_summary(s, path);
  const auto back = wsload::read_summary(path);
  std::filesystem::remove(path);
  EXPECT_EQ(back.total_requests, s.total_requests);
  EXPECT_EQ(back.latency.counts(), s.latency.counts());
  EXPECT_EQ(to_json(back), to_json(s));
}

TEST(Engine, WatchesItsOwnLoadAndTrustsAnIdleGenerator) {
  ServerOptions options;
  options.reply_delay = 30ms;
  Server server(options);
  auto config = config_for(server, 4);
  config.iterations = 5;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 40u);
  // CPU over run time: waiting 30 ms per reply, the engine is nowhere near busy.
  EXPECT_GT(s.generator_busy, 0.0);
  EXPECT_LT(s.generator_busy, 0.5);
  EXPECT_GE(s.loop_lag_max, s.loop_lag_p99);
  EXPECT_GT(s.connect_time, 0.0);
  EXPECT_LT(s.connect_time, s.total_time.count());
  const auto j = wsload::to_json(s);
  EXPECT_EQ(j["generator"]["busy"], s.generator_busy);
  EXPECT_EQ(j["generator"]["saturated"], s.generator_saturated());
  const auto back = wsload::summary_from_json(j);
  EXPECT_EQ(back.loop_lag_p99, s.loop_lag_p99);
  EXPECT_EQ(back.connect_time, s.connect_time);
}

TEST(Engine, RaisesTheOpenFileLimitOrSaysWhyItCannot) {
  rlimit limit{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_NO_THROW(wsload::detail::ensure_open_files(limit.rlim_cur));
  if (limit.rlim_max == RLIM_INFINITY) GTEST_SKIP() << "no hard limit to run into";
  try {
    wsload::detail::ensure_open_files(limit.rlim_max + 1);
    ADD_FAILURE() << "more files than the hard limit allowed";
  } catch (const wsload::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("ulimit -n"), std::string::npos) << e.what();
    EXPECT_EQ(e.field(), "connections");
  }
}

TEST(Engine, InvalidConfigurationThrowsBeforeAnyTraffic) {
  LoadConfig config;
  config.url = "ws://127.0.0.1:1/";
  EXPECT_THROW(wsload::Engine{config}, wsload::ConfigError) << "no prompts";
}

}  // namespace
