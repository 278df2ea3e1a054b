// `wsload run --scenario FILE` through the real process: a scenario's session against the
// embedded server and against graphql-ws from npm, and a bad file refused before traffic.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <wsload/testing/server.hpp>

#include "../support/node_servers.hpp"
#include "../support/process.hpp"
#include "../support/scratch.hpp"

namespace {

using wsload::test::run_process;

class ScenarioCli : public wsload::test::ScratchTest {
 protected:
  std::vector<std::string> run_args(const std::string& url, const std::string& scenario) const {
    return {WSLOAD_CLI,  "run",     "--url",     url, "--scenario",    scenario,
            "--summary", summary(), "--min-rps", "0", "--max-latency", "30"};
  }
  std::string summary() const { return (dir_ / "summary.json").string(); }
};

TEST_F(ScenarioCli, RunsTheScenarioSessionOnEachConnection) {
  wsload::testing::Server server;
  const auto scenario = write("chat.json", R"({"steps": [
    {"send": "{\"type\":\"hello\",\"n\":7}"},
    {"receive": "/type==hello"},
    {"capture": "n", "pointer": "/n"},
    {"repeat": "prompts", "steps": [
      {"request": "ask", "send": "{\"n\":{{n}},\"prompt\":{{prompt}}}", "until": "/n==7"},
      {"check": "prompt echoed", "rule": "/prompt", "mode": "fail_step"}]},
    {"think": [0.001, 0.002]}]})");
  auto args = run_args(server.url(), scenario.string());
  args.insert(args.end(),
              {"--connections", "2", "--iterations", "2", "--prompt", "one", "--prompt", "two"});
  const auto r = run_process(args, wsload::test::clean_wsload_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto s = nlohmann::json::parse(read_text(summary()));
  EXPECT_EQ(s["total_requests"], 4);
  EXPECT_EQ(s["successful_requests"], 4);
  EXPECT_EQ(server.messages(), 4u * 3u) << "a hello and two asks per session";
}

TEST_F(ScenarioCli, ASendPromptsStepCountsEachPromptAsARequest) {
  wsload::testing::Server server;
  const auto scenario = write("prompts.json", R"({"connect": [
    {"request": "login", "send": "{\"login\":1}", "until": "/login"}],
    "steps": [{"send_prompts": true}]})");
  auto args = run_args(server.url(), scenario.string());
  args.insert(args.end(), {"--connections", "2", "--iterations", "2", "--prompt", "one", "--prompt",
                           "two", "--prompt", "three"});
  const auto r = run_process(args, wsload::test::clean_wsload_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto s = nlohmann::json::parse(read_text(summary()));
  EXPECT_EQ(s["total_requests"], 2 * 2 * 3) << "the prompts, not the 4 sessions";
  EXPECT_EQ(s["successful_requests"], 2 * 2 * 3);
  EXPECT_EQ(s["steps"]["login"]["count"], 2);
  EXPECT_EQ(server.messages(), 2u * 2u * 3u + 2u) << "the prompts and one login per socket";
}

TEST_F(ScenarioCli, ASendPromptsStepPipelinesThePromptsWithInFlight) {
  wsload::testing::Server server;  // an echo: each reply carries its request's id
  const auto scenario = write("pipelined.json", R"({"steps": [{"send_prompts": true}]})");
  auto args = run_args(server.url(), scenario.string());
  args.insert(args.end(), {"--connections", "2", "--iterations", "2", "--prompt", "one", "--prompt",
                           "two", "--prompt", "three", "--in-flight", "3", "--correlation", "/id",
                           "--template", R"({"id":{{sequence}},"p":{{prompt}}})"});
  const auto r = run_process(args, wsload::test::clean_wsload_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto s = nlohmann::json::parse(read_text(summary()));
  EXPECT_EQ(s["successful_requests"], 2 * 2 * 3) << s.dump();
  EXPECT_EQ(s["config"]["in_flight"], 3);

  // A scenario that sends no prompts has nothing to pipeline.
  const auto plain = write("plain.json", R"({"steps": [{"send": "hi"}]})");
  auto refused = run_args(server.url(), plain.string());
  refused.insert(refused.end(), {"--in-flight", "3", "--correlation", "/id", "--template",
                                 R"({"id":{{sequence}},"p":{{prompt}}})", "--prompt", "one"});
  const auto bad = run_process(refused, wsload::test::clean_wsload_env());
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
  EXPECT_NE(bad.err.find("--in-flight"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("sends none"), std::string::npos) << bad.err;
}

TEST_F(ScenarioCli, ABadStepIsNamedAndExitsTwoBeforeAnyTraffic) {
  wsload::testing::Server server;
  struct Case {
    std::string steps;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"([{"send": "hi"}, {"request": "login", "send": "{}", "until": "type==ok"}])",
       "steps[1] (request 'login') until: expected a JSON pointer"},
      {R"([{"request": "ask", "send": "{\"id\":{{id}}}", "until": "/id"}])",
       "steps[0] (request 'ask') send: uses a variable no earlier step captures"},
      {R"([{"repeat": 0, "steps": [{"send": "x"}]}])", "steps[0] repeat: must be a count"},
      {R"([{"sleep": 1}])", "steps[0]: has no known step"},
      {R"([{"think": -1}])", "steps[0] think: must be seconds"},
      {R"([{"send_prompts": 1}])", "steps[0] send_prompts: must be true"},
      {R"([{"send": "x", "send_prompts": true}])",
       "steps[0]: \"send_prompts\" does not go in a \"send\" step"},
      {R"([{"think": 0.1, "sleep": 1}])", "steps[0]: \"sleep\" does not go in a \"think\" step"},
      {R"([{"repeat": 2, "steps": [{"send_prompts": true}]}])",
       "steps[0] steps[0] send_prompts: sends the prompts: give a prompts file"},
  };
  for (const auto& c : cases) {
    const auto scenario = write("bad.json", R"({"steps": )" + c.steps + "}");
    const auto r =
        run_process(run_args(server.url(), scenario.string()), wsload::test::clean_wsload_env());
    EXPECT_EQ(r.exit_code, 2) << c.steps << r.err;
    EXPECT_NE(r.err.find("scenario " + scenario.string() + ": " + c.message), std::string::npos)
        << r.err;
  }
  const auto missing = run_process(run_args(server.url(), (dir_ / "none.json").string()),
                                   wsload::test::clean_wsload_env());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("is not a readable file"), std::string::npos) << missing.err;
  EXPECT_EQ(server.connections(), 0u) << "no traffic before the scenario is checked";
}

TEST_F(ScenarioCli, AGraphqlSubscriptionScenarioAgainstGraphqlWs) {
  WSLOAD_REQUIRE_NODE_SERVERS();
  wsload::test::NodeServer server({"graphql", "3", "30"});
  auto args = run_args(server.url(),
                       std::string(WSLOAD_EXAMPLES_DIR) + "/sessions/graphql_subscription.json");
  args.insert(args.end(), {"--connections", "2", "--iterations", "2", "--subprotocol",
                           "graphql-transport-ws", "--threshold", "p50>=90ms"});
  const auto r = run_process(args, wsload::test::clean_wsload_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto s = nlohmann::json::parse(read_text(summary()));
  EXPECT_EQ(s["successful_requests"], 4);
  EXPECT_EQ(s["steps"]["subscribe"]["count"], 4) << s["steps"].dump();
}

// The same scenario with a step threshold: met by a quick server, failed (exit 1, the
// step named) once the server takes 300 ms between results, 900 ms for the step at least.
TEST_F(ScenarioCli, AStepThresholdFailsWhenTheServerIsSlowed) {
  WSLOAD_REQUIRE_NODE_SERVERS();
  for (const char* apart : {"10", "300"}) {
    wsload::test::NodeServer server({"graphql", "3", apart});
    auto args = run_args(server.url(),
                         std::string(WSLOAD_EXAMPLES_DIR) + "/sessions/graphql_subscription.json");
    args.insert(args.end(), {"--connections", "2", "--iterations", "2", "--subprotocol",
                             "graphql-transport-ws", "--threshold", "p95[subscribe]<800ms"});
    const auto r = run_process(args, wsload::test::clean_wsload_env());
    const bool slowed = std::string(apart) == "300";
    EXPECT_EQ(r.exit_code, slowed ? 1 : 0) << apart << " ms apart\n" << r.out << r.err;
    if (slowed) {
      EXPECT_NE(r.out.find("FAIL  p95[subscribe]<800ms"), std::string::npos) << r.out;
    }
  }
}

// Sessions arriving at a rate (--session-rate), one at a time (--max-sessions 1) against a
// 100 ms reply: five due 40 ms apart, then a quiet tail so that all start. The summary
// says how many waited for the cap, and the console warns of it.
TEST_F(ScenarioCli, ArrivingSessionsReportTheCapTheyWaitedFor) {
  wsload::testing::ServerOptions options;
  options.reply_delay = std::chrono::milliseconds(100);
  wsload::testing::Server server(options);
  const auto scenario =
      write("ask.json", R"({"steps": [{"request": "ask", "send": "a", "until": "regex:a"}]})");
  auto args = run_args(server.url(), scenario.string());
  args.insert(args.end(),
              {"--session-rate", "25", "--stages", "200ms:25,1ms:0,5s:0", "--max-sessions", "1"});
  const auto r = run_process(args, wsload::test::clean_wsload_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto s = nlohmann::json::parse(read_text(summary()));
  EXPECT_EQ(s["total_requests"], 5);
  EXPECT_EQ(s["successful_requests"], 5);
  EXPECT_EQ(s["config"]["session_rate"], 25);
  const auto& schedule = s["schedule"];
  EXPECT_EQ(schedule["sent"], 5) << schedule.dump();
  EXPECT_EQ(schedule["not_sent"], 0);
  EXPECT_EQ(schedule["max_sessions"], 1);
  EXPECT_EQ(schedule["peak_sessions"], 1);
  EXPECT_EQ(schedule["sessions_waited"], 4);
  EXPECT_GE(schedule["late_sends"].get<int>(), 4);
  EXPECT_EQ(server.connections(), 5u) << "each session on a connection of its own";
  EXPECT_NE(r.out.find("WARNING: 4 sessions waited for a free slot"), std::string::npos) << r.out;
}

TEST_F(ScenarioCli, SessionRateNeedsASessionAndExcludesRate) {
  wsload::testing::Server server;
  const auto scenario =
      write("ask.json", R"({"steps": [{"request": "ask", "send": "a", "until": "regex:a"}]})");
  const auto env = wsload::test::clean_wsload_env();
  const std::vector<std::string> prompts_only = {
      WSLOAD_CLI,       "run", "--url",      server.url(), "--prompt",  "a",
      "--session-rate", "5",   "--duration", "1",          "--summary", summary()};
  auto r = run_process(prompts_only, env);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--session-rate"), std::string::npos) << r.err;
  auto with_rate = run_args(server.url(), scenario.string());
  with_rate.insert(with_rate.end(), {"--session-rate", "5", "--rate", "5", "--duration", "1"});
  r = run_process(with_rate, env);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--session-rate"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--rate"), std::string::npos) << r.err;
  auto no_duration = run_args(server.url(), scenario.string());
  no_duration.insert(no_duration.end(), {"--session-rate", "5"});
  r = run_process(no_duration, env);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--session-rate"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--duration"), std::string::npos) << r.err;
  EXPECT_EQ(server.connections(), 0u) << "no traffic before the flags are checked";
}

TEST_F(ScenarioCli, OptionsTheSessionsWouldLeaveUnusedAreRefused) {
  wsload::testing::Server server;
  const auto scenario =
      write("ask.json", R"({"steps": [{"request": "ask", "send": "a", "until": "regex:a"}]})");
  const auto env = wsload::test::clean_wsload_env();
  // Each list ends with the option refused and its value.
  const std::vector<std::vector<std::string>> unused = {
      {"--max-sessions", "5"},  // no arrivals to cap
      {"--session-rate", "5", "--duration", "1", "--connect-rate", "10"},
      {"--session-rate", "5", "--duration", "1", "--reconnect", "3"},
      {"--session-rate", "5", "--duration", "1", "--connections", "5"},
      {"--session-rate", "5", "--duration", "1", "--iterations", "3"},
      {"--keepalive", "{}"},
  };
  for (const auto& flags : unused) {
    auto args = run_args(server.url(), scenario.string());
    args.insert(args.end(), flags.begin(), flags.end());
    const auto r = run_process(args, env);
    const auto& refused = flags[flags.size() - 2];
    EXPECT_EQ(r.exit_code, 2) << refused << r.out << r.err;
    EXPECT_NE(r.err.find(refused), std::string::npos) << refused << ": " << r.err;
  }
  EXPECT_EQ(server.connections(), 0u) << "no traffic before the flags are checked";
}

// A file of repeats nested 100,000 deep is bad input: refused before nlohmann's DOM or the
// step parser recurse that deep (it overflowed the stack), naming where and the limit.
TEST_F(ScenarioCli, StepsNestedTooDeepAreBadInputNotACrash) {
  wsload::testing::Server server;
  std::string text;
  constexpr int depth = 100'000;
  for (int i = 0; i < depth; ++i) text += R"({"repeat": 2, "steps": [)";
  text += R"({"send": "x"})";
  for (int i = 0; i < depth; ++i) text += "]}";
  const auto scenario = write("deep.json", R"({"steps": [)" + text + "]}");
  const auto r = run_process(run_args(server.url(), scenario.string()),
                             wsload::test::clean_wsload_env(), std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 2) << r.err.substr(0, 2000);
  EXPECT_NE(r.err.find("scenario " + scenario.string() + ": steps[0] steps[0] steps[0]"),
            std::string::npos)
      << r.err.substr(0, 2000);
  EXPECT_NE(r.err.find("deeper than 32 levels"), std::string::npos) << r.err.substr(0, 2000);
  EXPECT_LT(r.err.size(), 1000u) << "one line, not the whole path";
  EXPECT_EQ(server.connections(), 0u);
}

// A loop that awaits only instantly (think 0) never suspended, so its thread's watchdog,
// the run's deadline and Ctrl-C never ran: the run never ended. Now it ends on time.
TEST_F(ScenarioCli, ALoopThatNeverSuspendsStillEndsWithTheRun) {
  wsload::testing::Server server;
  const auto scenario = write("spin.json", R"({"steps": [{"send": "x"}, {"repeat": 1000000,
    "steps": [{"repeat": 1000000, "steps": [{"think": 0}, {"check": "spin", "rule": "/x"}]}]}]})");
  auto args = run_args(server.url(), scenario.string());
  args.insert(args.end(), {"--duration", "1", "--timeout", "1", "--min-success-rate", "0"});
  const auto started = std::chrono::steady_clock::now();
  const auto r = run_process(args, wsload::test::clean_wsload_env(), std::chrono::seconds(20));
  ASSERT_FALSE(r.timed_out) << "the run never ended";
  // The one session was still spinning when the run ended: failed, no latency sample.
  EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1) << r.exit_code << r.out << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
  EXPECT_TRUE(std::filesystem::exists(summary()));

  // Interrupted, it ends too (exit 130, the summary written).
  args = run_args(server.url(), scenario.string());
  args.insert(args.end(), {"--duration", "300", "--min-success-rate", "0"});
  std::filesystem::remove(summary());
  const auto interrupted = run_process(
      args, wsload::test::clean_wsload_env(), std::chrono::seconds(20),
      [started = std::chrono::steady_clock::now()](const std::string&, const std::string&) {
        return std::chrono::steady_clock::now() - started > std::chrono::seconds(1) ? SIGINT : 0;
      });
  ASSERT_FALSE(interrupted.timed_out) << "Ctrl-C did not stop it";
  EXPECT_EQ(interrupted.exit_code, 130) << interrupted.out << interrupted.err;
  EXPECT_TRUE(std::filesystem::exists(summary()));
}

}  // namespace
