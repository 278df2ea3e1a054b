// Session arrivals (LoadConfig::session_rate) over loopback: sessions start on a schedule,
// each on a connection of its own, at most max_sessions at once, timed from when they were
// due. The embedded server's reply delay D is the known truth: the bounds asserted are
// lower bounds, which a loaded machine only makes easier to meet.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

namespace {

using namespace std::chrono_literals;
using wsload::LoadConfig;
using wsload::rule;
using wsload::Session;
using wsload::SessionTask;
using wsload::testing::Server;
using wsload::testing::ServerOptions;

SessionTask ask(Session& s) {
  co_await s.request("ask", "a", rule("regex:a"));
}

/// Sessions of one request arriving at `rate` per second, at most `max_sessions` at once.
LoadConfig arrivals_config(const std::string& url, double rate, std::size_t max_sessions) {
  LoadConfig config;
  config.url = url;
  config.session_rate = rate;
  config.max_sessions = max_sessions;
  config.threads = 1;
  config.timeouts.reply = 10s;
  config.timeouts.run = 60s;
  config.min_rps = 0;
  config.session = ask;
  return config;
}

ServerOptions replying_after(std::chrono::milliseconds delay) {
  ServerOptions options;
  options.reply_delay = delay;
  return options;
}

std::int64_t micros(std::chrono::milliseconds ms) {
  return std::chrono::duration_cast<std::chrono::microseconds>(ms).count();
}

// Five sessions due 40 ms apart (then a quiet tail, so that all start before the schedule
// ends) against a 100 ms reply, one at a time: session k cannot start before the k before
// it have had their replies, so it ends no earlier than (k + 1) x D after the start.
TEST(SessionArrivals, QueueBehindTheCapAndCountFromWhenTheyWereDue) {
  constexpr auto delay = 100ms;
  Server server(replying_after(delay));
  auto config = arrivals_config(server.url(), 25, 1);
  config.stages = {{200ms, 25}, {1ms, 0}, {5s, 0}};
  const auto due = wsload::schedule_of(config);
  ASSERT_TRUE(due);
  ASSERT_EQ(due->total(), 5u);
  const auto s = wsload::run_load(config);
  const auto report = wsload::format_report(s);
  EXPECT_EQ(s.total_requests, due->total()) << report;
  EXPECT_EQ(s.successful_requests, due->total()) << report;
  EXPECT_EQ(s.connections_opened, due->total()) << "each session on a connection of its own";
  EXPECT_EQ(server.connections(), due->total());
  ASSERT_TRUE(s.schedule) << report;
  EXPECT_EQ(s.schedule->sent, due->total());
  EXPECT_EQ(s.schedule->not_sent, 0u);
  EXPECT_EQ(s.schedule->max_sessions, 1u);
  EXPECT_EQ(s.schedule->peak_sessions, 1u);
  EXPECT_EQ(s.schedule->sessions_waited, 4u) << "every session after the first came due "
                                                "while the one before it waited for its reply";
  EXPECT_GE(s.schedule->late_sends, 4u);
  // Session k was due at 40k ms and ended no earlier than (k + 1) x 100 ms: the last one's
  // latency from due is at least 500 - 160 ms, the first's at least D.
  const auto last_bound = micros(5 * delay - 160ms);
  EXPECT_GE(s.latency.max(), last_bound) << report;
  EXPECT_GE(s.latency.min(), micros(delay));
  const auto& step = s.steps.find("ask")->second;
  EXPECT_GE(step.latency.max(), last_bound) << "the first step counts from due, queue included";
  EXPECT_GE(step.latency.min(), micros(delay));
  // From its start, each waited about D only: the uncorrected figure hides the queue.
  EXPECT_GE(s.latency_uncorrected.min(), micros(delay));
  EXPECT_NE(report.find("4 sessions waited for a free slot"), std::string::npos) << report;
}

TEST(SessionArrivals, RunSideBySideUnderAHighCapAndTimeTheirFirstStep) {
  constexpr auto delay = 50ms;
  Server server(replying_after(delay));
  auto config = arrivals_config(server.url(), 40, 1000);
  config.duration = 250ms;
  config.threads = 2;
  const auto total = wsload::schedule_of(config)->total();
  ASSERT_EQ(total, 10u);
  const auto s = wsload::run_load(config);
  const auto report = wsload::format_report(s);
  EXPECT_EQ(s.total_requests, total) << report;
  EXPECT_EQ(s.successful_requests, total) << report;
  EXPECT_EQ(s.connections_opened, total);
  ASSERT_TRUE(s.schedule);
  EXPECT_EQ(s.schedule->sent, total);
  EXPECT_EQ(s.schedule->not_sent, 0u);
  EXPECT_EQ(s.schedule->sessions_waited, 0u) << "ten sessions never fill a cap of 1000";
  EXPECT_EQ(s.schedule->max_sessions, 1000u);
  EXPECT_GE(s.schedule->peak_sessions, 1u);
  const auto& step = s.steps.find("ask")->second;
  EXPECT_EQ(step.count, total);
  EXPECT_GE(step.latency.min(), micros(delay));
  EXPECT_GE(s.latency.min(), micros(delay));
  EXPECT_EQ(report.find("waited for a free slot"), std::string::npos) << report;
}

// One session at a time, each 200 ms, six due in the 300 ms the schedule lasts: at most two
// start before it ends, the others wait and are counted as not sent.
TEST(SessionArrivals, ThoseStillWaitingWhenTheScheduleEndsAreNotSent) {
  Server server(replying_after(200ms));
  auto config = arrivals_config(server.url(), 20, 1);
  config.duration = 300ms;
  const auto total = wsload::schedule_of(config)->total();
  ASSERT_EQ(total, 6u);
  const auto s = wsload::run_load(config);
  const auto report = wsload::format_report(s);
  ASSERT_TRUE(s.schedule) << report;
  const auto& r = *s.schedule;
  EXPECT_EQ(r.sent + r.not_sent, total) << report;
  EXPECT_EQ(r.due, total);
  EXPECT_GE(r.not_sent, 4u) << report;
  EXPECT_EQ(s.total_requests, r.sent) << "a session not started is in no request count";
  EXPECT_EQ(s.successful_requests + s.failed_requests, s.total_requests);
  EXPECT_EQ(s.failed_requests, 0u) << report;
  EXPECT_EQ(r.sessions_waited, total - 1) << "started or not, all but the first waited";
  EXPECT_TRUE(r.fell_short());
  EXPECT_NE(report.find("sessions waited for a free slot"), std::string::npos) << report;
}

// Interrupted while the first session waits for its reply and the next ones for the cap:
// the one in flight fails as interrupted, those that came due are not sent.
TEST(SessionArrivals, AnInterruptCountsTheWaitingSessionsAsNotSent) {
  Server server(replying_after(5s));
  auto config = arrivals_config(server.url(), 20, 1);
  config.duration = 2s;
  wsload::Engine engine(config);
  const auto s = engine.run(
      [&](const wsload::Progress& p) {
        // Sessions were due at 0, 50, 100 and 150 ms; the first cannot end before 5 s. From
        // 175 ms on, the one due at 150 ms is past the 10 ms a start may lag, so it counts
        // as not sent rather than caught on its way (stopped at 150 ms, it sometimes was).
        if (p.elapsed >= 175ms && p.done == 0) engine.stop();
      },
      20ms);
  const auto report = wsload::format_report(s);
  EXPECT_TRUE(s.interrupted) << report;
  ASSERT_TRUE(s.schedule) << report;
  const auto& r = *s.schedule;
  EXPECT_EQ(r.sent, 1u) << report;
  EXPECT_EQ(s.total_requests, 1u);
  EXPECT_EQ(s.failed_requests, 1u);
  EXPECT_GE(r.not_sent, 3u) << report;
  EXPECT_EQ(r.due, r.sent + r.not_sent);
  EXPECT_EQ(r.sessions_waited, r.not_sent) << "each waited for the cap";
}

// The watchdog bounds an arrived session's reply as a connection's: against a server that
// never answers, each session fails as a reply timeout, and every one is counted.
TEST(SessionArrivals, AReplyTimeoutFailsEachSessionAndAllAreCounted) {
  ServerOptions options;
  options.mode = wsload::testing::ReplyMode::silent;
  Server server(options);
  auto config = arrivals_config(server.url(), 10, 1000);
  config.duration = 300ms;
  config.timeouts.reply = 200ms;
  const auto total = wsload::schedule_of(config)->total();
  ASSERT_EQ(total, 3u);
  const auto s = wsload::run_load(config);
  const auto report = wsload::format_report(s);
  EXPECT_EQ(s.total_requests, total) << report;
  EXPECT_EQ(s.failed_requests, total) << report;
  ASSERT_EQ(s.errors.size(), 1u) << report;
  EXPECT_EQ(s.errors[0].kind, wsload::ErrorKind::reply_timeout);
  EXPECT_EQ(s.steps.find("ask")->second.failures_by_kind.at("timeout"), total);
  ASSERT_TRUE(s.schedule);
  EXPECT_EQ(s.schedule->sent, total);
  EXPECT_EQ(s.schedule->not_sent, 0u);
}

// Over TLS too: each arrived session makes its own verified handshake.
TEST(SessionArrivals, EachOpensItsOwnVerifiedTlsConnection) {
  ServerOptions options;
  options.tls = true;
  Server server(options);
  auto config = arrivals_config(server.url(), 20, 1000);
  config.duration = 200ms;
  config.tls.ca_pem = server.ca_pem();
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 4u) << wsload::format_report(s);
  EXPECT_EQ(s.connections_opened, 4u);
  EXPECT_EQ(server.connections(), 4u);
}

}  // namespace
