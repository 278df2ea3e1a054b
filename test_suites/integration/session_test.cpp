// Scripted sessions (session.hpp) over loopback: steps, captures, checks, think time and
// handlers against the embedded server and hostile servers written here.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

#include "../support/frame_recorder.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using wsload::ErrorKind;
using wsload::LoadConfig;
using wsload::rule;
using wsload::Session;
using wsload::SessionTask;
using wsload::testing::Server;
using wsload::testing::ServerOptions;

LoadConfig session_config(const std::string& url, wsload::SessionFunction session) {
  LoadConfig config;
  config.url = url;
  config.connections = 1;
  config.iterations = 1;
  config.threads = 1;
  config.timeouts.reply = 5s;
  config.timeouts.run = 30s;
  config.session = std::move(session);
  return config;
}

std::uint64_t errors_of(const wsload::Summary& s, ErrorKind kind) {
  std::uint64_t n = 0;
  for (const auto& e : s.errors) {
    if (e.kind == kind) n += e.requests;
  }
  return n;
}

// A server that answers "start" with a ping and a pong with {"type":"done"}.
wsload::test::Misbehaviour pings_until_ponged() {
  wsload::test::Misbehaviour pinging;
  pinging.answer = [](const std::string& message) -> std::vector<std::string> {
    if (message == "start") return {R"({"type":"ping"})"};
    if (message == R"({"type":"pong"})") return {R"({"type":"done"})"};
    return {};
  };
  return pinging;
}

// A helper session, co_awaited by the others.
SessionTask hello(Session& s) {
  co_await s.send(R"({"type":"hello","n":7})");
  auto reply = co_await s.receive_until(rule("/type==hello"));
  if (!s.capture("n", reply, "/n")) throw std::runtime_error("no n");
}

SessionTask echo_conversation(Session& s) {
  co_await hello(s);
  auto reply = co_await s.request(
      "again", s.fill(R"({"type":"again","n":{{n}},"c":{{connection}}})"), rule("/type==again"));
  s.check("n echoed", json::parse(reply.last())["n"] == 7);
  s.check("never", false);
  co_await s.think(1ms, 3ms);
}

TEST(Session, RunsEachConnectionsSessionsWithStepsChecksAndCaptures) {
  Server server;
  auto config = session_config(server.url(), echo_conversation);
  config.connections = 2;
  config.iterations = 3;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.total_requests, 6u) << wsload::format_report(s);
  EXPECT_EQ(s.successful_requests, 6u) << wsload::format_report(s);
  EXPECT_EQ(s.latency.count(), 6u);
  EXPECT_EQ(server.messages(), 12u);
  EXPECT_EQ(s.connections_opened, 2u) << "a connection keeps its socket across its sessions";
  ASSERT_TRUE(s.steps.count("again"));
  const auto& step = s.steps.find("again")->second;
  EXPECT_EQ(step.count, 6u);
  EXPECT_EQ(step.failures, 0u);
  EXPECT_EQ(step.latency.count(), 6u);
  EXPECT_EQ(step.ttfb.count(), 6u);
  EXPECT_EQ(s.steps.size(), 1u) << "only requests are steps";
  ASSERT_TRUE(s.checks.count("n echoed"));
  EXPECT_EQ(s.checks.find("n echoed")->second.passes, 6u);
  EXPECT_EQ(s.checks.find("never")->second.failures, 6u);
}

TEST(Session, AFailedRequiredCheckFailsItsStepAndTheSession) {
  Server server;
  auto config = session_config(server.url(), [](Session& s) -> SessionTask {
    auto reply = co_await s.request("ask", "plain", rule("regex:plain"));
    s.check("is json", reply.last().starts_with("{"), wsload::CheckMode::fail_step);
    co_await s.send("never sent");
  });
  config.iterations = 2;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.failed_requests, 2u) << wsload::format_report(s);
  EXPECT_EQ(errors_of(s, ErrorKind::session_failed), 2u);
  const auto& step = s.steps.find("ask")->second;
  EXPECT_EQ(step.failures_by_kind.at("check"), 2u);
  EXPECT_EQ(server.messages(), 2u);
}

TEST(Session, AnExceptionEndsTheSessionAsAFailureNotTheRun) {
  Server server;
  auto config = session_config(server.url(), [](Session& s) -> SessionTask {
    co_await s.send("x");
    if (s.iteration() == 0) throw std::runtime_error("boom");
    co_await s.receive_until(rule("regex:x"));
  });
  config.iterations = 2;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 1u) << wsload::format_report(s);
  EXPECT_EQ(errors_of(s, ErrorKind::session_failed), 1u);
}

// What a connection's first session captured (a login's token) serves its later ones,
// as a scenario's `connect` list promises.
TEST(Session, CapturesLastForTheConnectionsLaterSessions) {
  Server server;
  auto config = session_config(server.url(), [](Session& s) -> SessionTask {
    if (s.first_on_connection()) {
      auto login =
          co_await s.request("login", R"({"type":"login","token":"t-42"})", rule("/type==login"));
      s.capture("token", login, "/token");
    }
    co_await s.request("ask", s.fill(R"({"type":"ask","token":{{token}}})"), rule("/type==ask"));
  });
  config.iterations = 3;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 3u) << wsload::format_report(s);
  EXPECT_EQ(s.steps.find("ask")->second.count, 3u);
}

// A session that ended on an error frame leaves no reply deadline armed: the next one,
// on the same socket, may think longer than the reply timeout.
TEST(Session, AnErrorFrameLeavesTheNextSessionNoDeadline) {
  Server server;
  auto config = session_config(server.url(), [](Session& s) -> SessionTask {
    if (s.iteration() == 0) {
      co_await s.request("bad", R"({"type":"bad"})", rule("/type==bad"));
    } else {
      co_await s.think(2s);
      co_await s.request("good", R"({"type":"good"})", rule("/type==good"));
    }
  });
  config.iterations = 2;
  config.timeouts.reply = 1s;
  config.error_rules = {R"(/type=="bad")"};
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 1u) << wsload::format_report(s);
  EXPECT_EQ(s.steps.find("bad")->second.failures_by_kind.at("error_frame"), 1u);
  ASSERT_TRUE(s.steps.count("good")) << wsload::format_report(s);
  EXPECT_EQ(s.steps.find("good")->second.failures, 0u);
  EXPECT_EQ(s.connections_opened, 1u) << "the socket was not closed under the session";
}

// A step whose reply came is counted even when the session throws after it.
TEST(Session, AStepBeforeAnExceptionIsStillCounted) {
  Server server;
  auto config = session_config(server.url(), [](Session& s) -> SessionTask {
    co_await s.request("a", "x", rule("regex:x"));
    throw wsload::SessionFailure("gave up after a");
  });
  const auto s = wsload::run_load(config);
  EXPECT_EQ(errors_of(s, ErrorKind::session_failed), 1u) << wsload::format_report(s);
  ASSERT_TRUE(s.steps.count("a")) << wsload::format_report(s);
  EXPECT_EQ(s.steps.find("a")->second.count, 1u);
  EXPECT_EQ(s.steps.find("a")->second.latency.count(), 1);
}

TEST(Session, HandlersAnswerServerPingsWhileTheSessionWaits) {
  wsload::test::FrameRecorder server(pings_until_ponged());
  auto config = session_config(server.url(), [](Session& s) -> SessionTask {
    s.on(rule("/type==ping"), R"({"type":"pong"})");
    auto reply = co_await s.request("start", "start", rule("/type==done"));
    s.check("only done", reply.frames.size() == 1);
  });
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 1u) << wsload::format_report(s);
  EXPECT_EQ(s.checks.find("only done")->second.passes, 1u);
}

TEST(Session, AServerThatNeverAnswersTimesTheStepOutWithinTheReplyTimeout) {
  ServerOptions options;
  options.mode = wsload::testing::ReplyMode::silent;
  Server server(options);
  auto config = session_config(server.url(), [](Session& s) -> SessionTask {
    co_await s.request("ask", "anyone?", rule("regex:."));
  });
  config.iterations = 2;
  config.timeouts.reply = 200ms;
  const auto started = std::chrono::steady_clock::now();
  const auto s = wsload::run_load(config);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_EQ(errors_of(s, ErrorKind::reply_timeout), 2u) << wsload::format_report(s);
  const auto& step = s.steps.find("ask")->second;
  EXPECT_EQ(step.count, 2u);
  EXPECT_EQ(step.failures_by_kind.at("timeout"), 2u);
  EXPECT_EQ(s.timeout_reconnects, 1u) << "the next session starts on a fresh connection";
}

TEST(Session, AServerThatClosesMidSessionFailsTheStepAsClosed) {
  ServerOptions options;
  options.fault = wsload::testing::Fault::close_after;
  options.fault_after = 1;
  Server server(options);
  auto config = session_config(server.url(), [](Session& s) -> SessionTask {
    co_await s.request("first", "one", rule("regex:one"));
    co_await s.request("second", "two", rule("regex:two"));
  });
  config.iterations = 2;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.failed_requests, 2u) << wsload::format_report(s);
  EXPECT_EQ(errors_of(s, ErrorKind::server_error), 2u) << "closed with 1011";
  EXPECT_EQ(s.steps.find("first")->second.failures, 0u);
  EXPECT_EQ(s.steps.find("second")->second.failures_by_kind.at("closed"), 2u);
}

TEST(Session, AServerThatAnswersTwiceDoesNotAnswerTheNextStep) {
  wsload::test::Misbehaviour twice;
  twice.answer = [](const std::string& message) {
    return std::vector<std::string>{message, message};
  };
  wsload::test::FrameRecorder server(twice);
  std::vector<std::string> second_reply;
  auto config = session_config(server.url(), [&](Session& s) -> SessionTask {
    co_await s.request("one", "1", rule("regex:1"));
    auto reply = co_await s.request("two", "2", rule("regex:."));
    second_reply = reply.frames;
  });
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 1u) << wsload::format_report(s);
  EXPECT_EQ(second_reply, std::vector<std::string>{"2"});
  EXPECT_GE(s.unconsumed_frames(), 1u) << "the duplicates are noted";
}

TEST(Session, ARunWithADurationEndsItsSessionsWhenItEnds) {
  Server server;
  auto config = session_config(server.url(), [](Session& s) -> SessionTask {
    co_await s.request("ask", "a", rule("regex:a"));
    co_await s.think(20ms);
  });
  config.iterations = 1;
  config.duration = 300ms;
  const auto s = wsload::run_load(config);
  EXPECT_GT(s.successful_requests, 2u) << wsload::format_report(s);
  EXPECT_EQ(s.failed_requests, 0u);
  EXPECT_EQ(s.steps.find("ask")->second.count, s.successful_requests);
}

TEST(Session, ASessionNeedsNoPromptsButNoOpenLoop) {
  Server server;
  auto config = session_config(server.url(), [](Session&) -> SessionTask { co_return; });
  EXPECT_NO_THROW(wsload::Engine{config});
  config.rate = 10;
  EXPECT_THROW(wsload::Engine{config}, wsload::ConfigError);
}

// An `on` step in a loop registered a new handler each time round: the list grew with the
// loop, and every frame was judged against all of them. Once per step and session now.
TEST(Session, AnOnStepInALoopRegistersOneHandler) {
  Server server;
  const auto scenario = std::make_shared<const wsload::Scenario>(
      wsload::parse_scenario(json::parse(R"({"steps": [{"repeat": 50, "steps": [
        {"on": "/type==ping", "reply": "pong"},
        {"request": "ask", "send": "a", "until": "regex:a"}]}]})"),
                             "scenario"));
  std::vector<std::size_t> handlers;
  auto config = session_config(server.url(), [&](Session& s) -> SessionTask {
    co_await wsload::detail::run_scenario(s, scenario);
    handlers.push_back(wsload::detail::SessionAccess::handlers(s).size());
  });
  config.iterations = 2;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 2u) << wsload::format_report(s);
  EXPECT_EQ(handlers, (std::vector<std::size_t>{1, 1}));
}

// In C++, a handler for a rule replaces the earlier one for the same rule (which could never
// answer again), and a session that registers more than max_session_handlers distinct rules
// fails, naming the limit, instead of growing its list without bound.
TEST(Session, AHandlerReplacesTheOneForTheSameRuleAndTheirNumberIsCapped) {
  wsload::test::FrameRecorder server(pings_until_ponged());
  std::size_t handlers = 0;
  auto config = session_config(server.url(), [&](Session& s) -> SessionTask {
    for (int i = 0; i < 100; ++i) s.on(rule("/type==ping"), i == 99 ? R"({"type":"pong"})" : "old");
    handlers = wsload::detail::SessionAccess::handlers(s).size();
    co_await s.request("start", "start", rule("/type==done"));
  });
  config.timeouts.reply = 2s;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 1u) << wsload::format_report(s);
  EXPECT_EQ(handlers, 1u);

  Server echo;
  auto capped = session_config(echo.url(), [](Session& s) -> SessionTask {
    for (std::size_t i = 0; i <= Session::max_handlers; ++i) {
      s.on(rule("/h" + std::to_string(i)), "x");
    }
    co_await s.send("never");
  });
  const auto failed = wsload::run_load(capped);
  EXPECT_EQ(errors_of(failed, ErrorKind::session_failed), 1u) << wsload::format_report(failed);
  EXPECT_NE(wsload::format_report(failed).find("64 handlers"), std::string::npos)
      << wsload::format_report(failed);
}

// A step's figures are kept or left out by the warm-up as of when its reply ended, not when
// the session moved on to its next operation: here the session works on past the warm-up's
// end before its next step (the sleep stands for a session's own work between steps).
TEST(Session, AStepIsJudgedByTheWarmUpWhenItsReplyEnded) {
  Server server;
  const auto warm_up_over = std::chrono::steady_clock::now() + 2s;
  auto config = session_config(server.url(), [&](Session& s) -> SessionTask {
    co_await s.request("early", "e", rule("regex:e"));
    std::this_thread::sleep_until(warm_up_over);
    co_await s.request("late", "l", rule("regex:l"));
  });
  config.warmup = 1s;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 1u) << wsload::format_report(s);
  EXPECT_FALSE(s.steps.count("early")) << "a warm-up reply was counted";
  ASSERT_TRUE(s.steps.count("late")) << wsload::format_report(s);
  EXPECT_EQ(s.steps.find("late")->second.count, 1u);
}

// Session frames are judged by the scan the prompt loops use: a binary frame is bytes, so a
// JSON rule never matches it (the session times out), while a regex reads its bytes.
TEST(Session, ABinaryFrameIsBytesThatOnlyARegexMatches) {
  Server server;
  for (const char* until : {"/type==x", "regex:x"}) {
    auto config = session_config(server.url(), [until](Session& s) -> SessionTask {
      co_await s.send_binary(R"({"type":"x"})");
      co_await s.receive_until(rule(until));
    });
    config.timeouts.reply = 500ms;
    const auto s = wsload::run_load(config);
    const bool regex = std::string(until).starts_with("regex:");
    EXPECT_EQ(s.successful_requests, regex ? 1u : 0u) << until << wsload::format_report(s);
    EXPECT_EQ(errors_of(s, ErrorKind::reply_timeout), regex ? 0u : 1u) << until;
  }
}

}  // namespace
