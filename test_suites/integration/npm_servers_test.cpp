// Sessions against servers the project did not write, from npm (test_suites/node/): a
// GraphQL subscription over graphql-ws and JSON-RPC calls to rpc-websockets, scripted as
// the examples do (examples/sessions/sessions.hpp).
#include <chrono>
#include <cstdlib>

#include <gtest/gtest.h>

#include <wsload/gtest.hpp>
#include <wsload/wsload.hpp>

#include "../../examples/sessions/sessions.hpp"
#include "../support/node_servers.hpp"

namespace {

using namespace std::chrono_literals;
using wsload::test::NodeServer;

wsload::LoadConfig config_for(const NodeServer& server, wsload::SessionFunction session) {
  wsload::LoadConfig config;
  config.url = server.url();
  config.connections = 2;
  config.iterations = 2;
  config.threads = 1;
  config.timeouts.reply = 10s;
  config.timeouts.run = 60s;
  config.session = std::move(session);
  return config;
}

TEST(NpmServers, AGraphqlSubscriptionStreamsEveryResultTimedAsItsStep) {
  WSLOAD_REQUIRE_NODE_SERVERS();
  constexpr std::size_t results = 5;
  constexpr auto apart = 40ms;
  NodeServer server({"graphql", std::to_string(results), std::to_string(apart.count())});
  auto config = config_for(
      server, [](wsload::Session& s) { return example::graphql_subscription(s, results); });
  config.subprotocols = {"graphql-transport-ws"};
  const auto s = wsload::run_load(config);
  ASSERT_EQ(s.successful_requests, 4u) << wsload::format_report(s);
  EXPECT_EQ(s.checks.find("every result")->second.passes, 4u);
  const auto& step = s.steps.find("subscribe")->second;
  EXPECT_EQ(step.count, 4u);
  EXPECT_EQ(step.failures, 0u);
  ASSERT_EQ(step.latency.count(), 4u);
  // The server waits `apart` before each result: the step cannot be shorter than that,
  // and a loaded machine makes it only longer (bounded here by the reply timeout).
  const auto least = std::chrono::duration_cast<std::chrono::microseconds>(apart * results);
  EXPECT_GE(step.latency.min(), least.count() * 95 / 100);
  EXPECT_LT(step.latency.max(), std::chrono::microseconds(10s).count());
  EXPECT_GE(step.ttfb.min(), std::chrono::microseconds(apart).count() * 95 / 100);
}

// A step threshold from C++, as a gtest case writes it: met while the server is quick,
// failed once it takes 300 ms between results (the step lasts 1.5 s at least).
TEST(NpmServers, AStepThresholdFailsWhenTheServerIsSlowed) {
  WSLOAD_REQUIRE_NODE_SERVERS();
  for (const int apart_ms : {10, 300}) {
    NodeServer server({"graphql", "5", std::to_string(apart_ms)});
    auto config =
        config_for(server, [](wsload::Session& s) { return example::graphql_subscription(s, 5); });
    config.subprotocols = {"graphql-transport-ws"};
    const auto s = wsload::run_load(config);
    ASSERT_EQ(s.successful_requests, 4u) << wsload::format_report(s);
    const bool met = static_cast<bool>(
        wsload::MeetsThresholds(s, {"p95[subscribe]<1s", "success_rate[subscribe]>=99%"}));
    EXPECT_EQ(met, apart_ms == 10) << apart_ms << " ms apart\n" << wsload::format_report(s);
  }
}

TEST(NpmServers, JsonRpcCallsChainACapturedResult) {
  WSLOAD_REQUIRE_NODE_SERVERS();
  NodeServer server({"jsonrpc"});
  const auto s = wsload::run_load(config_for(server, example::json_rpc_calls));
  ASSERT_EQ(s.successful_requests, 4u) << wsload::format_report(s);
  EXPECT_EQ(s.steps.find("sum")->second.count, 4u);
  EXPECT_EQ(s.steps.find("echo")->second.count, 4u);
  EXPECT_EQ(s.checks.find("echo returns the sum")->second.passes, 4u);
}

}  // namespace
