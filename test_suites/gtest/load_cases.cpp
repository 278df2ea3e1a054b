// A load-test program as users write one, built and run as a process by
// gtest_integration_test.cpp. Its cases pass, fail, skip and take endpoints on purpose.
#include <cstdlib>
#include <memory>

#include <wsload/gtest.hpp>
#include <wsload/testing/server.hpp>

namespace {

using namespace std::chrono_literals;
using wsload::testing::Server;
using wsload::testing::ServerOptions;

class Echo : public wsload::LoadTest {};

TEST_F(Echo, MeetsItsThresholds) {
  Server server;
  config_.url = server.url("/echo");
  config_.prompts = {"hello", "world"};
  config_.connections = 2;
  config_.thresholds = {"errors==0"};
  const auto summary = RunLoad();
  EXPECT_LOAD_OK(summary);
  EXPECT_P99_BELOW(summary, 10s);
  EXPECT_RPS_AT_LEAST(summary, 1);
  EXPECT_SUCCESS_RATE_AT_LEAST(summary, 100.0);
  EXPECT_THRESHOLDS(summary, "p95<10s", "errors==0");
}

class Slow : public wsload::LoadTest {};

TEST_F(Slow, MissesAP99ItCannotMeet) {
  ServerOptions options;
  options.reply_delay = 20ms;
  Server server(options);
  auto config = config_;
  config.url = server.url("/slow");
  config.prompts = {"one"};
  config.connections = 2;
  config.thresholds = {"p99<1ms"};
  const auto summary = RunLoad(config);
  EXPECT_P99_BELOW(summary, 1ms);
  EXPECT_LOAD_OK(summary);
}

class Strict : public wsload::LoadTest {};

// Meets the thresholds of its configuration but not an assertion's: the case fails, and
// its entry in the report must say on what.
TEST_F(Strict, MeetsItsThresholdsButNotAnAssertion) {
  Server server;
  config_.url = server.url("/strict");
  config_.prompts = {"one"};
  config_.connections = 1;
  config_.thresholds = {"errors==0"};
  const auto summary = RunLoad();
  EXPECT_LOAD_OK(summary);
  EXPECT_P99_BELOW(summary, 1us);
}

// Fails on one of GoogleTest's own assertions after a load that met everything.
TEST_F(Strict, FailsAPlainAssertion) {
  Server server;
  config_.url = server.url("/plain");
  config_.prompts = {"one"};
  config_.connections = 1;
  const auto summary = RunLoad();
  EXPECT_SUCCESS_RATE_AT_LEAST(summary, 100.0);
  EXPECT_EQ(summary.total_requests, 2u) << "wrong on purpose";
}

class Steps : public wsload::LoadTest {};

// Thresholds that select a step or a check take the expressions `--threshold` takes: a
// prompt load names no step, so each fails saying the step never ran; a malformed
// selector fails its assertion naming it.
TEST_F(Steps, ThresholdsSelectAStepThatNeverRan) {
  Server server;
  config_.url = server.url("/steps");
  config_.prompts = {"one"};
  config_.connections = 1;
  const auto summary = RunLoad();
  EXPECT_THRESHOLDS(summary, "p95[log in]<10s", "checks[has answer]>=99%");
  EXPECT_THRESHOLDS(summary, "p95[]<10s");
}

class HtmlFromCode : public wsload::LoadTest {};

// What a main() would do before RUN_ALL_TESTS: ask for the HTML report in code.
TEST_F(HtmlFromCode, WritesTheReportBesideTheJson) {
  wsload::write_html_report();
  Server server;
  config_.url = server.url("/html");
  config_.prompts = {"x"};
  config_.connections = 1;
  EXPECT_LOAD_OK(RunLoad());
}

class Crash : public wsload::LoadTest {};

// Only when run on purpose (filtered in): the report must keep what was measured.
TEST_F(Crash, AfterItsLoadFinished) {
  wsload::testing::Server server;
  config_.url = server.url();
  config_.prompts = {"x"};
  config_.connections = 1;
  RunLoad();
  std::abort();
}

class NeedsUrl : public wsload::LoadTest {};

TEST_F(NeedsUrl, RunsAgainstWsloadUrl) {
  config_.prompts = {"ping"};
  config_.connections = 1;
  EXPECT_LOAD_OK(RunLoad());
}

class Endpoints : public wsload::EndpointLoadTest {};

TEST_P(Endpoints, MeetTheirThresholds) {
  config_.prompts = {"from the case"};
  config_.connections = 1;
  EXPECT_LOAD_OK(RunLoad());
}

// Without WSLOAD_ENDPOINTS: one endpoint with no URL, which skips.
std::vector<wsload::Endpoint> default_endpoints() {
  wsload::Endpoint endpoint;
  endpoint.name = "default";
  return {endpoint};
}

INSTANTIATE_TEST_SUITE_P(
    Chat, Endpoints, ::testing::ValuesIn(wsload::endpoints_from_environment(default_endpoints())),
    wsload::EndpointName());

}  // namespace
