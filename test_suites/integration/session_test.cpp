// Scripted sessions (session.hpp) over loopback: steps, captures, checks, think time and
// handlers against the embedded server and hostile servers written here.
#include <chrono>
#include <stdexcept>
#include <string>
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
  wsload::test::Misbehaviour pinging;
  pinging.answer = [](const std::string& message) -> std::vector<std::string> {
    if (message == "start") return {R"({"type":"ping"})"};
    if (message == R"({"type":"pong"})") return {R"({"type":"done"})"};
    return {};
  };
  wsload::test::FrameRecorder server(pinging);
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

}  // namespace
