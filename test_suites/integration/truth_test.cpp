// Figures and verdicts outside the happy path, against misbehaving servers over loopback:
// a request that is never answered, a generator that falls behind, the drain of the last
// replies, a close that is never answered, an interrupted open loop, replies in more
// frames than the completion rule consumes, and runs whose connections all failed.
#include <gtest/gtest.h>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

namespace {

using namespace std::chrono_literals;
using wsload::ErrorKind;
using wsload::LoadConfig;
using wsload::testing::Fault;
using wsload::testing::ReplyMode;
using wsload::testing::Route;
using wsload::testing::Server;
using wsload::testing::ServerOptions;

// "hang" is never answered; anything else is echoed.
ServerOptions one_route_hangs() {
  ServerOptions options;
  options.mode = ReplyMode::api_gateway;
  options.routes = {{"$default", Route{}}, {"hang", Route{Route::Kind::silent}}};
  return options;
}

LoadConfig truth_config(const Server& server, std::size_t connections,
                        std::vector<std::string> prompts) {
  LoadConfig config;
  config.url = server.url();
  config.prompts = std::move(prompts);
  config.connections = connections;
  config.threads = 1;
  config.timeouts.reply = 5s;
  config.timeouts.close = 2s;
  config.timeouts.run = 60s;
  config.tls.ca_pem = server.ca_pem();
  return config;
}

std::vector<std::string> twenty_prompts_one_hangs() {
  std::vector<std::string> prompts;
  for (int i = 0; i < 20; ++i) {
    prompts.push_back(i == 4 ? R"({"action":"hang"})"
                             : R"({"action":"echo","n":)" + std::to_string(i) + "}");
  }
  return prompts;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Truth, AReplyTimeoutFailsOnlyTheRequestThatTimedOut) {
  const Server server(one_route_hangs());
  auto config = truth_config(server, 5, twenty_prompts_one_hangs());
  config.timeouts.reply = 300ms;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.total_requests, 100u);
  EXPECT_EQ(s.successful_requests, 95u);
  EXPECT_EQ(s.errors_of(ErrorKind::reply_timeout), 5u) << wsload::format_report(s);
  // Uncorrelated replies: a late reply must not be taken for the next request's, so the
  // rest go on a fresh connection.
  EXPECT_EQ(s.timeout_reconnects, 5u);
  EXPECT_EQ(server.messages(), 100u) << "every prompt is still sent";
}

TEST(Truth, ACorrelatedReplyTimeoutKeepsItsConnection) {
  ServerOptions options = one_route_hangs();
  options.id_pointer = "/id";
  const Server server(options);
  auto config = truth_config(server, 5, {"echo", "echo", "hang", "echo"});
  config.message_template = R"({"action":{{prompt}},"id":{{sequence}}})";
  config.correlation = "/id";
  config.in_flight = 2;
  config.iterations = 5;
  config.timeouts.reply = 300ms;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.total_requests, 100u);
  EXPECT_EQ(s.errors_of(ErrorKind::reply_timeout), 25u) << wsload::format_report(s);
  EXPECT_EQ(s.successful_requests, 75u);
  EXPECT_EQ(s.timeout_reconnects, 0u);
  EXPECT_EQ(s.connections_opened, 5u);
}

TEST(Truth, RequestsAfterATimeoutThatCannotBeSentFailUnderTheirOwnKind) {
  // The second request hangs; once it has timed out the server goes away, so the rest
  // are lost with the fresh connection or cannot open one: never timeouts.
  auto server = std::make_unique<Server>(one_route_hangs());
  auto config = truth_config(*server, 1, {R"({"action":"echo"})", R"({"action":"hang"})"});
  config.iterations = 3;
  config.timeouts.reply = 300ms;
  wsload::Engine engine(config);
  std::atomic<bool> stopped{false};
  const auto s = engine.run(
      [&](const wsload::Progress& p) {
        if (p.failed >= 1 && !stopped.exchange(true)) server->stop();
      },
      10ms);
  EXPECT_EQ(s.total_requests, 6u);
  EXPECT_EQ(s.errors_of(ErrorKind::reply_timeout), 1u) << wsload::format_report(s);
  EXPECT_EQ(s.errors_of(ErrorKind::connect) + s.errors_of(ErrorKind::connection_lost) +
                s.errors_of(ErrorKind::going_away),
            s.failed_requests - 1)
      << wsload::format_report(s);
}

TEST(Truth, SendingStopsAtTheDurationWhenTheGeneratorFallsBehind) {
  ServerOptions options;
  options.reply_delay = 50ms;
  const Server server(options);
  auto config = truth_config(server, 1, {"a"});  // 20 of the 100 req/s asked
  config.rate = 100;
  config.duration = 1s;
  config.timeouts.reply = 1s;
  const auto s = wsload::run_load(config);
  ASSERT_TRUE(s.schedule);
  const auto& r = *s.schedule;
  EXPECT_EQ(r.due, 100u);
  EXPECT_LT(r.sent, 50u);
  EXPECT_EQ(r.not_sent, r.due - r.sent);
  EXPECT_EQ(s.total_requests, r.sent) << "what was never sent is no failure of the service";
  EXPECT_EQ(s.failed_requests, 0u) << wsload::format_report(s);
  // Sending ends at 1 s; 100 requests one after the other would take 5 s.
  EXPECT_LT(s.total_time.count(), 3.5);
  EXPECT_LE(server.messages(), 50u);
  EXPECT_FALSE(s.passed()) << "a generator that sent under 95 % of the load does not pass";
  const auto report = wsload::format_report(s);
  EXPECT_TRUE(contains(report, "the load generator fell short")) << report;
}

TEST(Truth, AnOpenLoopThatKeptItsRateMeetsAMinRpsEqualToIt) {
  ServerOptions options;
  options.reply_delay = 20ms;
  const Server server(options);
  auto config = truth_config(server, 5, {"a"});
  config.rate = 100;
  config.duration = 1s;
  config.thresholds = {"rps>=100"};
  const auto s = wsload::run_load(config);
  ASSERT_TRUE(s.schedule);
  // Throughput is judged over the sending window, not the drain of the last replies.
  EXPECT_DOUBLE_EQ(s.requests_per_second(), static_cast<double>(s.successful_requests) / 1.0);
  EXPECT_GT(s.total_time.count(), 0.9) << "total time still ends with the last reply";
  if (s.schedule->sent == s.schedule->due && s.failed_requests == 0) {
    EXPECT_TRUE(s.passed()) << wsload::format_report(s);
  }
}

TEST(Truth, AnUnansweredCloseIsNeitherTrafficTimeNorADeadline) {
  ServerOptions options;
  options.fault = Fault::deaf_after;  // answers 8 messages, then reads and ignores all
  options.fault_after = 8;
  const Server server(options);
  auto config = truth_config(server, 1, {"a", "b", "c", "d", "e", "f", "g", "h"});
  config.timeouts.close = 3s;
  config.timeouts.run = 1500ms;
  config.thresholds = {"rps>=5"};
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 8u);
  EXPECT_LT(s.total_time.count(), 1.0) << "the close timeout is not charged to the traffic";
  EXPECT_FALSE(s.deadline_exceeded) << "no request was lost to the deadline";
  EXPECT_EQ(s.close_timeouts, 1u);
  EXPECT_TRUE(s.passed()) << wsload::format_report(s);
}

TEST(Truth, AnInterruptedOpenLoopFailsOnlyWhatWasInFlight) {
  const Server server;
  auto config = truth_config(server, 2, {"a"});
  config.rate = 200;
  config.duration = 30s;
  wsload::Engine engine(config);
  const auto s = engine.run(
      [&](const wsload::Progress& p) {
        if (p.done >= 50) engine.stop();
      },
      10ms);
  EXPECT_TRUE(s.interrupted);
  ASSERT_TRUE(s.schedule);
  EXPECT_LE(s.failed_requests, 2u) << "at most one request in flight per connection";
  EXPECT_GT(s.success_rate(), 90.0);
  EXPECT_EQ(s.total_requests, s.schedule->sent);
  EXPECT_LT(s.schedule->due, 1'000u) << "what came due before the interrupt, not 30 s of it";
  // Sent over the time it ran (the old figure spread 50 sends over the 30 s planned: 1.7/s).
  EXPECT_GT(s.schedule->achieved_rate, 20.0) << wsload::format_report(s);
  // The interrupt itself makes no shortfall: only a request already 10 ms late when it came
  // is not sent (a machine too busy to send on time is behind, interrupt or not).
  EXPECT_EQ(s.schedule->due, s.schedule->sent + s.schedule->not_sent);
  const auto report = wsload::format_report(s);
  EXPECT_EQ(contains(report, "fell behind"), s.schedule->behind()) << report;
  EXPECT_TRUE(contains(report, "INTERRUPTED")) << report;
}

ServerOptions streaming(std::size_t chunks) {
  ServerOptions options;
  options.mode = ReplyMode::api_gateway;
  Route route{Route::Kind::stream};
  route.chunks = chunks;
  options.routes = {{"$default", route}};
  return options;
}

TEST(Truth, FramesTheCompletionRuleDidNotConsumeAreCountedAndExplained) {
  for (const std::size_t chunks : {3u, 1u}) {  // 4 frames per reply; a reply answered twice
    SCOPED_TRACE(chunks);
    const Server server(streaming(chunks));
    // Requests 100 ms apart: the frames a reply leaves have arrived before the next is
    // sent, which is when they can be told apart from its answer (a closed loop sends the
    // next at once, and a frame that comes after it is indistinguishable from a reply).
    auto config = truth_config(server, 2, {"a", "b", "c"});
    config.rate = 20;
    config.duration = 1s;
    const auto s = wsload::run_load(config);
    EXPECT_EQ(s.total_requests, 20u);
    EXPECT_GT(s.unconsumed_frames(), 0u);
    const auto report = wsload::format_report(s);
    EXPECT_TRUE(contains(report, "--complete")) << report;
    const auto j = wsload::to_json(s);
    EXPECT_GT(j["replies"]["unconsumed"]["total"].get<std::uint64_t>(), 0u) << j["replies"];
  }
}

TEST(Truth, RepliesInOneFrameLeaveNothingUnconsumed) {
  const Server server;
  auto config = truth_config(server, 2, {"a", "b", "c"});
  config.iterations = 10;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.unconsumed_frames(), 0u);
  EXPECT_FALSE(contains(wsload::format_report(s), "--complete"));
}

TEST(Truth, FailedHandshakesDoNotBlameTheGenerator) {
  ServerOptions options;
  options.tls = true;
  const Server server(options);
  auto config = truth_config(server, 20, {"a"});
  config.tls.ca_pem.clear();  // the test certificate is not trusted: every handshake fails
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.errors_of(ErrorKind::tls), 20u);
  EXPECT_FALSE(s.generator_saturated());
  const auto report = wsload::format_report(s);
  EXPECT_FALSE(contains(report, "bottleneck")) << report;
  EXPECT_TRUE(contains(report, "no connection opened")) << report;
}

TEST(Truth, AnOpenLoopWhoseConnectionsWereRefusedDoesNotSayItFellBehind) {
  LoadConfig config;
  config.url = "ws://127.0.0.1:" + std::to_string(wsload::testing::unused_loopback_port()) + "/";
  config.prompts = {"a"};
  config.connections = 4;
  config.rate = 50;
  config.duration = 1s;
  const auto s = wsload::run_load(config);
  ASSERT_TRUE(s.schedule);
  EXPECT_EQ(s.errors_of(ErrorKind::connect), s.failed_requests);
  EXPECT_FALSE(s.schedule->behind());
  const auto report = wsload::format_report(s);
  EXPECT_FALSE(contains(report, "fell behind")) << report;
  EXPECT_FALSE(contains(report, "fell short")) << report;
  EXPECT_TRUE(contains(report, "no connection opened")) << report;
}

}  // namespace
