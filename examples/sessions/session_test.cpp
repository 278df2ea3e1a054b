// Scripted sessions as load tests (sessions.hpp): a GraphQL subscription and JSON-RPC
// calls, each against the endpoint in its variable, skipped without one:
//   WSLOAD_GRAPHQL_URL=ws://host/graphql WSLOAD_JSONRPC_URL=ws://host/rpc ctest -L example
#include <cstdlib>

#include <wsload/gtest.hpp>

#include "sessions.hpp"

namespace {

using namespace std::chrono_literals;

class SessionLoad : public wsload::LoadTest {
 protected:
  void UseEndpoint(const char* variable) {
    const char* url = std::getenv(variable);
    if (!url || !*url) GTEST_SKIP() << variable << " names no endpoint";
    config_.url = url;
    config_.connections = 10;
    config_.iterations = 5;
    config_.min_rps = 0;  // a session takes as long as its stream
  }
};

TEST_F(SessionLoad, TenSubscribersGetEveryResult) {
  UseEndpoint("WSLOAD_GRAPHQL_URL");
  if (IsSkipped()) return;
  config_.subprotocols = {"graphql-transport-ws"};
  config_.session = [](wsload::Session& s) { return example::graphql_subscription(s, 5); };
  const wsload::Summary summary = RunLoad();
  EXPECT_LOAD_OK(summary);
}

TEST_F(SessionLoad, TenClientsCallAndChainResults) {
  UseEndpoint("WSLOAD_JSONRPC_URL");
  if (IsSkipped()) return;
  config_.session = example::json_rpc_calls;
  const wsload::Summary summary = RunLoad();
  EXPECT_LOAD_OK(summary);
  EXPECT_P99_BELOW(summary, 500ms);
}

}  // namespace
