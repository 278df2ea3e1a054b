// Load models against the embedded server: open-loop schedules that charge a stall to
// every request it held up, runs bounded by time, ramps, warm-up and the time series.
#include <gtest/gtest.h>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

namespace {

using namespace std::chrono_literals;
using wsload::ErrorKind;
using wsload::LoadConfig;
using wsload::testing::Server;
using wsload::testing::ServerOptions;

LoadConfig base(const Server& server, std::size_t connections) {
  LoadConfig config;
  config.url = server.url();
  config.prompts = {"a", "b", "c"};
  config.connections = connections;
  config.threads = 2;
  config.timeouts.reply = 5s;
  config.timeouts.close = 500ms;
  config.timeouts.run = 60s;
  return config;
}

double p99(const wsload::Histogram& h) {
  return static_cast<double>(h.value_at_percentile(99)) / 1e6;
}

/// Samples of `h` (microseconds) that took at least `seconds`.
std::int64_t at_least(const wsload::Histogram& h, double seconds) {
  std::int64_t n = 0;
  for (std::size_t i = 0; i < h.counts().size(); ++i) {
    if (static_cast<double>(h.value_at_index(i)) >= seconds * 1e6) n += h.counts()[i];
  }
  return n;
}

// The service freezes for 1 s in the middle of a 5 s run.
ServerOptions freezing() {
  ServerOptions options;
  options.pause_from = 2s;
  options.pause_for = 1s;
  return options;
}

TEST(OpenLoop, AStallIsChargedToEveryRequestItHeldUp) {
  const Server open_server(freezing());
  auto open = base(open_server, 10);
  open.rate = 200;
  open.duration = 5s;
  open.thresholds = {"p99<300ms over 1s", "p99<4s over 1s"};
  const auto o = wsload::run_load(open);

  const Server closed_server(freezing());
  auto closed = base(closed_server, 10);
  closed.duration = 5s;
  const auto c = wsload::run_load(closed);

  ASSERT_EQ(o.failed_requests, 0u);
  ASSERT_EQ(c.failed_requests, 0u);
  // 200 requests were due during the freeze: a fifth of the run waited up to a second,
  // the hundred due in its first half at least half a second.
  EXPECT_GE(p99(o.latency), 0.5) << "corrected p99";
  EXPECT_GE(at_least(o.latency, 0.5), 90);
  // A closed loop sends nothing while it waits: only the request in flight on each of
  // its ten connections was held up, however many the machine managed around them.
  EXPECT_LE(at_least(c.latency, 0.5), 10) << "closed-loop p99 " << p99(c.latency);
  EXPECT_LE(p99(o.latency_uncorrected), p99(o.latency));

  ASSERT_EQ(o.verdicts.size(), 2u);
  EXPECT_FALSE(o.verdicts[0].passed);
  EXPECT_NE(o.verdicts[0].message.find("in the window"), std::string::npos)
      << o.verdicts[0].message;
  EXPECT_TRUE(o.verdicts[1].passed) << o.verdicts[1].message;
}

TEST(OpenLoop, KeepsToTheRateWhenTheServerKeepsUp) {
  const Server server;
  auto config = base(server, 10);
  config.rate = 200;
  config.duration = 3s;
  const auto s = wsload::run_load(config);
  ASSERT_TRUE(s.schedule);
  EXPECT_EQ(s.schedule->due, 600u);
  EXPECT_EQ(s.schedule->sent, 600u);
  EXPECT_EQ(s.total_requests, 600u);
  EXPECT_EQ(s.successful_requests, 600u);
  // Never faster than asked; ten connections to an echo server carry 200/s with room to
  // spare, so sends lag only as much as a busy machine delays them, never by the growing
  // backlog of a generator short of connections. A few sends 10 ms late (which behind()
  // counts) say how busy the machine was, not how the schedule is kept; the report warns
  // exactly when behind() holds.
  EXPECT_LE(s.schedule->achieved_rate, 200 * 1.001);
  EXPECT_LT(s.schedule->max_send_lag, 0.25) << s.schedule->late_sends << " late";
  EXPECT_EQ(wsload::format_report(s).find("fell behind") != std::string::npos,
            s.schedule->behind());
  const auto j = to_json(s);
  EXPECT_EQ(j["schedule"]["sent"], 600);
  EXPECT_TRUE(j.contains("latency_uncorrected"));
  EXPECT_EQ(to_json(wsload::summary_from_json(j)), j);
}

TEST(OpenLoop, AnUnderProvisionedRunSaysSo) {
  ServerOptions options;
  options.reply_delay = 50ms;
  const Server server(options);
  auto config = base(server, 1);  // one connection manages 20 of the 100 req/s asked
  config.rate = 100;
  config.duration = 2s;
  config.timeouts.reply = 1s;
  const auto s = wsload::run_load(config);
  ASSERT_TRUE(s.schedule);
  EXPECT_TRUE(s.schedule->behind());
  EXPECT_EQ(s.schedule->due, 200u);
  EXPECT_LT(s.schedule->sent, 100u);
  EXPECT_EQ(s.schedule->not_sent, 200u - s.schedule->sent);
  EXPECT_LT(s.schedule->achieved_rate, 50);
  EXPECT_GT(s.schedule->late_sends, 10u);
  EXPECT_EQ(s.total_requests, s.schedule->sent) << "what was never sent is not a failure";
  EXPECT_EQ(s.failed_requests, 0u);
  EXPECT_LT(s.total_time.count(), 10.0);
  const auto report = wsload::format_report(s);
  EXPECT_NE(report.find("WARNING: the generator fell behind its schedule"), std::string::npos)
      << report;
}

TEST(OpenLoop, PipelinedRequestsKeepTheScheduleToo) {
  ServerOptions options;
  options.mode = wsload::testing::ReplyMode::api_gateway;
  options.routes = {{"$default", {wsload::testing::Route::Kind::echo, 30ms}}};
  const Server server(options);
  auto config = base(server, 2);  // 50/s each against 30 ms replies: only with several in flight
  config.rate = 100;
  config.duration = 1s;
  config.message_template = R"({"id":{{sequence}},"prompt":{{prompt}}})";
  config.correlation = "/id";
  config.in_flight = 8;
  const auto s = wsload::run_load(config);
  ASSERT_TRUE(s.schedule);
  EXPECT_EQ(s.successful_requests, 100u);
  EXPECT_EQ(s.schedule->sent, 100u);
  // One request at a time, the two connections would carry 66 of the 100 req/s and the
  // last sends would lag a third of a second and more. Eight in flight keep up: sends lag
  // only as much as a busy machine delays them (a few 10 ms late, which behind() counts,
  // say how busy it was, not whether requests were pipelined).
  EXPECT_LT(s.schedule->max_send_lag, 0.25) << s.schedule->late_sends << " late";
  EXPECT_GE(static_cast<double>(s.latency.value_at_percentile(50)), 30'000.0);
}

// API Gateway closes a connection idle for 10 minutes and answers no protocol ping; here
// the server closes after 500 ms and requests are a second apart.
TEST(OpenLoop, KeepaliveHoldsIdleConnectionsOpen) {
  ServerOptions options;
  options.mode = wsload::testing::ReplyMode::api_gateway;
  options.idle_timeout = 500ms;
  options.routes = {{"$default", {wsload::testing::Route::Kind::echo, 0ms}},
                    {"keepalive", {wsload::testing::Route::Kind::silent, 0ms}}};
  const auto run = [&options](bool keepalive, std::chrono::milliseconds duration) {
    const Server server(options);
    auto config = base(server, 1);
    config.prompts = {"hello"};  // not JSON: the $default route
    config.rate = 1;
    config.duration = duration;
    if (keepalive) {
      config.keepalive = R"({"action":"keepalive"})";
      config.keepalive_interval = 100ms;
    }
    const auto s = wsload::run_load(config);
    std::uint64_t received = 0;
    for (const auto& m : server.received()) received += m == config.keepalive ? 1 : 0;
    return std::pair(s, received);
  };
  const auto [dropped, none] = run(false, 2s);
  EXPECT_EQ(dropped.successful_requests, 1u) << "the second request finds the connection closed";
  EXPECT_EQ(dropped.failed_requests, 1u);
  EXPECT_EQ(dropped.keepalives, 0u);

  const auto [kept, keepalives] = run(true, 3s);
  EXPECT_EQ(kept.successful_requests, 3u) << wsload::format_report(kept);
  EXPECT_EQ(kept.failed_requests, 0u);
  EXPECT_GE(kept.keepalives, 6u) << "about nine in each idle second";
  EXPECT_EQ(keepalives, kept.keepalives) << "each reached the server";
  EXPECT_EQ(wsload::to_json(kept)["connections"]["keepalives"], kept.keepalives);
}

TEST(Stages, RampsShowInTheTimeSeries) {
  const Server server;
  auto config = base(server, 10);
  config.stages = {{2s, 600}, {1s, 600}};  // 0 -> 600/s over 2 s, then 600/s for 1 s
  const auto s = wsload::run_load(config);
  ASSERT_EQ(s.failed_requests, 0u);
  EXPECT_EQ(s.total_requests, 1200u);
  const auto& seconds = s.time_series.seconds();
  ASSERT_GE(seconds.size(), 3u);
  // The mid-second rates of the ramp, and then the plateau. Requests count in the second
  // they end: at most the slowest one's latency (from when it was due, so with its send
  // lag) of the 600/s near a boundary ends in the next second.
  const double moved = 600 * static_cast<double>(s.latency.max()) / 1e6;
  const double expected[] = {150, 450, 600};
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(static_cast<double>(seconds[i].requests()), expected[i], expected[i] * 0.05 + moved)
        << "second " << i;
  }
  EXPECT_EQ(to_json(s)["time_series"]["intervals"][1]["requests"], seconds[1].requests());
}

TEST(ClosedLoop, ADurationBoundsTheRunInsteadOfACount) {
  const Server server;
  auto config = base(server, 4);
  config.duration = 1s;
  config.warmup = 300ms;
  const auto s = wsload::run_load(config);
  EXPECT_GT(s.successful_requests, 100u);
  EXPECT_EQ(s.failed_requests, 0u);
  EXPECT_EQ(s.total_requests, s.successful_requests);
  EXPECT_GT(s.warmup_requests, 0u);
  EXPECT_EQ(server.messages(), s.total_requests + s.warmup_requests);
  EXPECT_LT(s.total_time.count(), 3.0);
  EXPECT_FALSE(s.schedule);
  EXPECT_NE(wsload::format_report(s).find("Warm-up:"), std::string::npos);
  // The warm-up's requests are in no figure the reader checks against the others.
  EXPECT_EQ(to_json(wsload::summary_from_json(to_json(s))), to_json(s));
}

TEST(ClosedLoop, UnreachableServiceInATimedRunStillCountsFailures) {
  LoadConfig config;
  config.url = "ws://127.0.0.1:" + std::to_string(wsload::testing::unused_loopback_port());
  config.prompts = {"a"};
  config.connections = 3;
  config.duration = 1s;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.errors_of(ErrorKind::connect), 3u) << "one request per connection";
  EXPECT_EQ(s.success_rate(), 0);
}

}  // namespace
