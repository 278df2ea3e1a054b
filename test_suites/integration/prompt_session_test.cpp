// The built-in prompt session (Session::send_prompts, wsload::prompt_session) over
// loopback: the prompt loop's requests inside a scripted session, judged and counted as
// the prompt loop's, against the embedded server's token route (known first-token delay,
// gaps and count) and its faults.
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

#include "../support/frame_recorder.hpp"

namespace {

using namespace std::chrono_literals;
using wsload::ErrorKind;
using wsload::LoadConfig;
using wsload::Session;
using wsload::SessionTask;
using wsload::testing::Route;
using wsload::testing::Server;
using wsload::testing::ServerOptions;

constexpr std::size_t prompt_session_tokens = 5;

// {"action":"login"} is echoed; anything else streams an ack, 5 tokens (the first after
// 60 ms, then 20 ms apart) and an end marker.
ServerOptions login_and_tokens_server() {
  ServerOptions options;
  options.mode = wsload::testing::ReplyMode::api_gateway;
  Route tokens;
  tokens.kind = Route::Kind::tokens;
  tokens.chunks = prompt_session_tokens;
  tokens.delay = 60ms;
  tokens.chunk_delay = 20ms;
  options.routes = {{"$default", tokens}, {"login", Route{}}};
  return options;
}

LoadConfig prompt_session_config(const Server& server) {
  LoadConfig config;
  config.url = server.url("/");
  config.prompts = {"hello", "again"};
  config.connections = 2;
  config.iterations = 3;
  config.threads = 1;
  config.timeouts.reply = 10s;
  config.timeouts.run = 60s;
  config.completion = R"(/type=="end")";
  config.first_token = R"(/type=="token")";
  config.tokens = "/usage/output_tokens";
  config.slo = "ttft<30s,latency<60s";
  return config;
}

// One connection sending `prompts`, each reply its first frame, `iterations` sessions.
LoadConfig one_connection_config(const Server& server, std::vector<std::string> prompts,
                                 std::size_t iterations) {
  LoadConfig config;
  config.url = server.url();
  config.prompts = std::move(prompts);
  config.connections = 1;
  config.iterations = iterations;
  config.threads = 1;
  config.timeouts.reply = 5s;
  config.timeouts.run = 30s;
  return config;
}

double millis(std::int64_t us) {
  return static_cast<double>(us) / 1e3;
}

std::uint64_t failed_as(const wsload::Summary& s, ErrorKind kind) {
  std::uint64_t n = 0;
  for (const auto& e : s.errors) {
    if (e.kind == kind) n += e.requests;
  }
  return n;
}

// What both the prompt loop and the prompt session must measure of 12 streamed replies.
void expect_streamed_figures(const wsload::Summary& s, const char* who) {
  SCOPED_TRACE(who);
  constexpr std::uint64_t replies = 2 * 3 * 2;
  ASSERT_EQ(s.total_requests, replies) << wsload::format_report(s);
  ASSERT_EQ(s.successful_requests, replies);
  ASSERT_EQ(s.ttft.count(), static_cast<std::int64_t>(replies));
  EXPECT_GE(millis(s.ttft.min()), 60.0 * 0.99);
  EXPECT_LT(s.ttfb.value_at_percentile(50), s.ttft.value_at_percentile(50)) << "the ack is early";
  EXPECT_EQ(s.inter_frame.count(),
            static_cast<std::int64_t>(replies * (prompt_session_tokens - 1)));
  EXPECT_GE(millis(s.inter_frame.value_at_percentile(50)), 20.0 * 0.9);
  EXPECT_EQ(s.tpot.count(), static_cast<std::int64_t>(replies));
  EXPECT_GE(millis(s.tpot.value_at_percentile(50)), 20.0 * 0.9);
  EXPECT_EQ(s.output_tokens, replies * prompt_session_tokens);
  EXPECT_EQ(s.good_requests, replies);
  // Each latency is at least the scheduled stream: T + (N - 1) D.
  EXPECT_GE(millis(s.latency.min()), (60.0 + 4 * 20.0) * 0.99);
}

TEST(PromptSession, MeasuresStreamedRepliesAsThePromptLoopDoes) {
  Server server(login_and_tokens_server());
  const auto loop = wsload::run_load(prompt_session_config(server));
  expect_streamed_figures(loop, "prompt loop");
  auto config = prompt_session_config(server);
  config.session = wsload::prompt_session;
  const auto session = wsload::run_load(config);
  expect_streamed_figures(session, "prompt session");
  EXPECT_TRUE(session.steps.empty()) << "a prompt is a request, no named step";
  EXPECT_TRUE(wsload::MeetsThresholds(session, {"ttft_p50>=60ms", "itl_p50>=18ms"}));
  EXPECT_FALSE(wsload::MeetsThresholds(session, {"ttft_p50<60ms"}));
}

TEST(PromptSession, ALoginStepFirstThenThePromptsEachCountedAsARequest) {
  Server server(login_and_tokens_server());
  auto config = prompt_session_config(server);
  config.message_template = R"({"action":"chat","text":"{{prompt}}","seq":{{sequence}}})";
  std::vector<std::string> logins;
  config.session = [&](Session& s) -> SessionTask {
    if (s.first_on_connection()) {
      auto reply = co_await s.request("login", R"({"action":"login"})", wsload::rule("/action"));
      logins.push_back(reply.last());
    }
    co_await s.send_prompts();
  };
  const auto s = wsload::run_load(config);
  ASSERT_EQ(s.total_requests, 12u) << "the prompts, not the sessions: " << wsload::format_report(s);
  EXPECT_EQ(s.successful_requests, 12u);
  EXPECT_EQ(s.ttft.count(), 12);
  ASSERT_EQ(s.steps.count("login"), 1u);
  EXPECT_EQ(s.steps.at("login").count, 2u);
  EXPECT_EQ(s.steps.at("login").failures, 0u);
  EXPECT_EQ(logins, (std::vector<std::string>{R"({"action":"login"})", R"({"action":"login"})"}));
  EXPECT_EQ(s.connections_opened, 2u) << "each connection's sessions share it";
}

TEST(PromptSession, AServerCloseFailsThePromptInFlightAndThoseAfterItUnderItsKind) {
  ServerOptions options;
  options.fault = wsload::testing::Fault::close_after;
  options.fault_after = 1;
  Server server(options);
  auto config = one_connection_config(server, {"one", "two", "three"}, 2);
  config.session = wsload::prompt_session;
  const auto s = wsload::run_load(config);
  // Each session on its own connection: "one" answered, then a 1011 close for "two".
  EXPECT_EQ(s.total_requests, 6u) << wsload::format_report(s);
  EXPECT_EQ(s.successful_requests, 2u);
  EXPECT_EQ(failed_as(s, ErrorKind::server_error), 4u);
  EXPECT_EQ(s.reconnects, 1u);
}

// Two passes of the prompts "one" and "two" on one connection whose server closes with
// 1011 after `answered` replies; `session` sends them.
wsload::Summary two_passes_closed_after(std::size_t answered, wsload::SessionFunction session) {
  ServerOptions options;
  options.fault = wsload::testing::Fault::close_after;
  options.fault_after = answered;
  Server server(options);
  auto config = one_connection_config(server, {"one", "two"}, 1);
  config.prompt_passes = 2;
  config.session = std::move(session);
  return wsload::run_load(config);
}

TEST(PromptSession, AFailureInTheFirstPassFailsThePromptsOfTheLaterPassesToo) {
  const auto s = two_passes_closed_after(1, [](Session& session) -> SessionTask {
    co_await session.send_prompts();
    co_await session.send_prompts();
  });
  // "one" answered, the 1011 close for "two": it and the second pass's two fail with it.
  EXPECT_EQ(s.total_requests, 4u) << wsload::format_report(s);
  EXPECT_EQ(s.successful_requests, 1u);
  EXPECT_EQ(failed_as(s, ErrorKind::server_error), 3u) << wsload::format_report(s);
  EXPECT_FALSE(s.deadline_exceeded) << "nothing was left for the run's end to count";
}

TEST(PromptSession, AFailureBetweenThePassesFailsThePromptsOfThePassNotBegun) {
  const auto s = two_passes_closed_after(2, [](Session& session) -> SessionTask {
    co_await session.send_prompts();
    co_await session.request("between", "x", wsload::rule("regex:x"));
    co_await session.send_prompts();
  });
  // Both prompts answered, then the 1011 close for the request: the second pass's two fail.
  EXPECT_EQ(s.total_requests, 4u) << wsload::format_report(s);
  EXPECT_EQ(s.successful_requests, 2u);
  EXPECT_EQ(failed_as(s, ErrorKind::server_error), 2u) << wsload::format_report(s);
  EXPECT_FALSE(s.deadline_exceeded);
}

TEST(PromptSession, AnErrorFrameFailsItsPromptAloneAndTheSessionGoesOn) {
  Server server;
  auto config = one_connection_config(
      server, {R"({"type":"ok"})", R"({"type":"bad"})", R"({"type":"ok"})"}, 2);
  config.error_rules = {R"(/type=="bad")"};
  std::size_t ended = 0;
  config.session = [&](Session& s) -> SessionTask {
    co_await s.send_prompts();
    ++ended;
  };
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.total_requests, 6u) << wsload::format_report(s);
  EXPECT_EQ(s.successful_requests, 4u);
  EXPECT_EQ(failed_as(s, ErrorKind::error_reply), 2u);
  EXPECT_EQ(ended, 2u) << "an error frame fails the prompt, not the session";
  EXPECT_EQ(s.connections_opened, 1u);
}

TEST(PromptSession, ASessionThatFailsAfterItsPromptsIsOneFailedRequestMore) {
  Server server;
  auto config = one_connection_config(server, {"a", "b"}, 1);
  config.session = [](Session& s) -> SessionTask {
    co_await s.send_prompts();
    s.check("after", false, wsload::CheckMode::fail_step);
  };
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 2u) << wsload::format_report(s);
  EXPECT_EQ(failed_as(s, ErrorKind::session_failed), 1u);
  EXPECT_EQ(s.total_requests, 3u);
}

TEST(PromptSession, AScenarioSendsThePromptsAfterItsConnectSteps) {
  Server server(login_and_tokens_server());
  auto config = prompt_session_config(server);
  config.session = wsload::scenario_session(wsload::parse_scenario(
      nlohmann::json::parse(R"({"connect": [{"request": "login", "send": "{\"action\":\"login\"}",
                                              "until": "/action"}],
                                "steps": [{"send_prompts": true}]})"),
      "scenario"));
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.total_requests, 12u) << wsload::format_report(s);
  EXPECT_EQ(s.ttft.count(), 12);
  EXPECT_EQ(s.steps.at("login").count, 2u);

  const auto passes =
      wsload::parse_scenario(nlohmann::json::parse(R"({"steps": [{"send_prompts": true},
        {"repeat": 3, "steps": [{"send_prompts": true}, {"think": 0}]},
        {"repeat": "prompts", "steps": [{"send_prompts": true}]}]})"),
                             "scenario");
  EXPECT_EQ(passes.prompt_passes(4), 1u + 3u + 4u);
  EXPECT_EQ(passes.sends_prompts_at(), "steps[0]");
  const auto expect_refused = [](const char* text, const std::string& message) {
    try {
      (void)wsload::parse_scenario(nlohmann::json::parse(text), "scenario x.json");
      ADD_FAILURE() << text << " was taken";
    } catch (const wsload::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  expect_refused(
      R"({"connect": [{"send": "x"}, {"send_prompts": true}], "steps": [{"send": "y"}]})",
      "scenario x.json: connect[1] send_prompts: belongs in \"steps\"");
  try {
    (void)wsload::parse_scenario(nlohmann::json::parse(R"({"steps": [{"send_prompts": 1}]})"),
                                 "scenario x.json");
    FAIL() << "a send_prompts that is not true was taken";
  } catch (const wsload::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("scenario x.json: steps[0] send_prompts"),
              std::string::npos)
        << e.what();
  }
}

TEST(PromptSession, ArrivedSessionsChargeTheirFirstPromptHowLateTheyStarted) {
  Server server(login_and_tokens_server());
  auto config = prompt_session_config(server);
  config.connections = LoadConfig{}.connections;  // arrivals open their own
  config.iterations = LoadConfig{}.iterations;
  config.session = wsload::prompt_session;
  config.session_rate = 20;
  config.duration = 500ms;
  config.max_sessions = 1;  // sessions wait for the one slot: their first prompts count it
  const auto s = wsload::run_load(config);
  ASSERT_GT(s.successful_requests, 0u) << wsload::format_report(s);
  EXPECT_EQ(s.ttft.count(), static_cast<std::int64_t>(s.successful_requests));
  // A session takes two replies of at least 140 ms; at 20 a second with one slot, later
  // sessions start late, and their first prompt's latency counts from when they were due.
  EXPECT_GT(millis(s.latency.max()), 2 * 140.0);
}

TEST(PromptSession, AHandlersAnswerKeepsThePromptsReplyDeadline) {
  // "go" is answered with a ping frame only; the handler's pong gets nothing back.
  wsload::test::Misbehaviour pinging;
  pinging.answer = [](const std::string& message) -> std::vector<std::string> {
    if (message == "go") return {R"({"type":"ping"})"};
    return {};
  };
  wsload::test::FrameRecorder server(pinging);
  LoadConfig config;
  config.url = server.url();
  config.prompts = {"go"};
  config.connections = 1;
  config.threads = 1;
  config.completion = R"(/type=="end")";
  config.timeouts.reply = 300ms;
  config.timeouts.run = 60s;
  config.session = [](Session& s) -> SessionTask {
    s.on(wsload::rule("/type==ping"), R"({"type":"pong"})");
    co_await s.send_prompts();
  };
  const auto started = std::chrono::steady_clock::now();
  const auto s = wsload::run_load(config);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s) << "bounded by the reply timeout";
  EXPECT_EQ(failed_as(s, ErrorKind::reply_timeout), 1u) << wsload::format_report(s);
  EXPECT_EQ(s.total_requests, 1u);
}

TEST(PromptSession, TheRunsDeadlineFailsThePromptsLeftAsThePromptLoopDoes) {
  Server server(login_and_tokens_server());
  auto config = prompt_session_config(server);
  config.connections = 1;
  config.timeouts.run = 200ms;  // inside the first session's second prompt, or earlier
  for (const bool as_session : {false, true}) {
    SCOPED_TRACE(as_session ? "prompt session" : "prompt loop");
    if (as_session) config.session = wsload::prompt_session;
    const auto s = wsload::run_load(config);
    EXPECT_EQ(s.total_requests, 3u * 2u) << "3 sessions of 2 prompts: " << wsload::format_report(s);
    EXPECT_EQ(s.successful_requests + failed_as(s, ErrorKind::run_deadline), 6u);
    EXPECT_EQ(s.not_sent, 0u);
  }
}

TEST(PromptSession, ASessionThatFailsBeforeItsPromptsFailsThemAll) {
  ServerOptions options = login_and_tokens_server();
  Route silent;
  silent.kind = Route::Kind::silent;
  options.routes["login"] = silent;
  Server server(options);
  auto config = prompt_session_config(server);
  config.connections = 1;
  config.iterations = 2;
  config.timeouts.reply = 200ms;
  config.prompt_passes = 1;
  config.session = [](Session& s) -> SessionTask {
    co_await s.request("login", R"({"action":"login"})", wsload::rule("/action"));
    co_await s.send_prompts();
  };
  const auto s = wsload::run_load(config);
  EXPECT_EQ(failed_as(s, ErrorKind::reply_timeout), 2u * 2u)
      << "each session's two prompts fail with its login: " << wsload::format_report(s);
  EXPECT_EQ(s.total_requests, 4u);
  EXPECT_EQ(s.steps.at("login").failures, 2u);
}

// --- Correlated prompts (LoadConfig::correlation, in_flight): the pipelined loop's ----

// "hang" is never answered; anything else is echoed with the request's /id.
ServerOptions correlated_server_one_route_hangs() {
  ServerOptions options;
  options.mode = wsload::testing::ReplyMode::api_gateway;
  options.routes = {{"$default", Route{}}, {"hang", Route{Route::Kind::silent}}};
  options.id_pointer = "/id";
  return options;
}

LoadConfig correlated_config(const std::string& url, std::vector<std::string> prompts) {
  LoadConfig config;
  config.url = url;
  config.prompts = std::move(prompts);
  config.connections = 1;
  config.threads = 1;
  config.message_template = R"({"action":{{prompt}},"id":{{sequence}}})";
  config.correlation = "/id";
  config.timeouts.reply = 5s;
  config.timeouts.run = 60s;
  return config;
}

TEST(PromptSession, CorrelatedPromptsTimeOutOneByOneAndKeepTheirConnection) {
  const Server server(correlated_server_one_route_hangs());
  auto config = correlated_config(server.url(), {"echo", "echo", "hang", "echo"});
  config.connections = 5;
  config.iterations = 5;
  config.in_flight = 2;
  config.timeouts.reply = 300ms;
  for (const bool as_session : {false, true}) {
    SCOPED_TRACE(as_session ? "prompt session" : "prompt loop");
    if (as_session) config.session = wsload::prompt_session;
    const auto s = wsload::run_load(config);
    EXPECT_EQ(s.total_requests, 100u);
    EXPECT_EQ(failed_as(s, ErrorKind::reply_timeout), 25u) << wsload::format_report(s);
    EXPECT_EQ(s.successful_requests, 75u);
    EXPECT_EQ(s.timeout_reconnects, 0u);
    EXPECT_EQ(s.connections_opened, 5u);
    EXPECT_EQ(s.unmatched_replies, 0u);
  }
}

// Replies held until `together` requests are in, then sent newest first, with one frame
// of an id no request has: only requests sent without waiting for replies get any, and
// only matching by id pairs them right.
wsload::test::Misbehaviour answers_when_together(std::size_t together) {
  wsload::test::Misbehaviour held;
  auto waiting = std::make_shared<std::vector<std::string>>();
  held.answer = [waiting, together](const std::string& message) {
    waiting->push_back(message);
    if (waiting->size() < together) return std::vector<std::string>{};
    std::vector<std::string> frames(waiting->rbegin(), waiting->rend());
    frames.insert(frames.begin() + 1, R"({"id":-1})");
    waiting->clear();
    return frames;
  };
  return held;
}

TEST(PromptSession, CorrelatedPromptsAreInFlightTogetherAndMatchedByTheirIds) {
  wsload::test::FrameRecorder server(answers_when_together(4));
  auto config = correlated_config(server.url(), {"a", "b", "c", "d", "e", "f", "g", "h"});
  config.in_flight = 4;
  config.completion = "/action";
  config.prompt_passes = 1;
  std::vector<std::string> actions;
  config.session = [&actions](Session& s) -> SessionTask {
    co_await s.send_prompts();
    actions.push_back("sent");
  };
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 8u) << wsload::format_report(s);
  EXPECT_EQ(s.failed_requests, 0u);
  EXPECT_EQ(s.unmatched_replies, 2u) << "one foreign id per four replies";
  EXPECT_EQ(actions.size(), 1u) << "the session goes on once every prompt is answered";
}

TEST(PromptSession, OneAtATimeTheHeldRepliesNeverComeAndEachTimesOut) {
  // The control for the case above: one prompt at a time never has four in flight.
  wsload::test::FrameRecorder server(answers_when_together(4));
  auto config = correlated_config(server.url(), {"a", "b"});
  config.completion = "/action";
  config.timeouts.reply = 200ms;
  config.session = wsload::prompt_session;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(failed_as(s, ErrorKind::reply_timeout), 2u) << wsload::format_report(s);
  EXPECT_EQ(s.connections_opened, 1u) << "a correlated prompt times out alone";
  EXPECT_EQ(s.timeout_reconnects, 0u);
}

TEST(PromptSession, AConnectionThatEndsFailsEveryCorrelatedPromptInFlightAndThoseAfter) {
  // Two echoed, then a 1001 close instead of the third reply: the four still in flight
  // fail under its kind.
  wsload::test::Misbehaviour closing;
  auto received = std::make_shared<int>(0);
  closing.answer_bytes = [received](const std::string& message) {
    ++*received;
    if (*received <= 2) return wsload::test::frame(0x81, message);
    if (*received == 3) return wsload::test::frame(0x88, std::string("\x03\xe9", 2));
    return std::string();
  };
  wsload::test::FrameRecorder server(closing);
  auto config = correlated_config(server.url(), {"a", "b", "c", "d", "e", "f"});
  config.in_flight = 6;  // all sent before any reply: the close comes while they wait
  config.session = wsload::prompt_session;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.total_requests, 6u) << wsload::format_report(s);
  EXPECT_EQ(s.successful_requests, 2u);
  EXPECT_EQ(failed_as(s, ErrorKind::going_away), 4u) << wsload::format_report(s);
  EXPECT_EQ(s.unmatched_replies, 0u);
}

TEST(PromptSession, InFlightIsRefusedForASessionThatSendsNoPrompts) {
  LoadConfig config;
  config.url = "ws://127.0.0.1:9/";
  config.prompts = {"a"};
  config.correlation = "/id";
  config.message_template = R"({"id":{{sequence}},"p":{{prompt}}})";
  config.in_flight = 2;
  config.session = [](Session& s) -> SessionTask { co_await s.send("hi"); };
  try {
    wsload::validate(config);
    ADD_FAILURE() << "in_flight without send_prompts was accepted";
  } catch (const wsload::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("in_flight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("prompt_passes"), std::string::npos) << e.what();
  }
  config.prompt_passes = 1;
  EXPECT_NO_THROW(wsload::validate(config));
}

}  // namespace
