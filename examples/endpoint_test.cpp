// Load tests for a chat endpoint, as GoogleTest cases: one case for one endpoint, and one
// case run over a list of endpoints. Without WSLOAD_URL (or WSLOAD_ENDPOINTS) they run
// against a stand-in, the embedded test server, so they work out of the box.
#include <memory>

#include <wsload/gtest.hpp>
#include <wsload/testing/server.hpp>

namespace {

using namespace std::chrono_literals;

// A stand-in for the real endpoint when none is configured: echoes after 5 ms.
std::unique_ptr<wsload::testing::Server> stand_in_for(wsload::LoadConfig& config) {
  if (!config.url.empty()) return nullptr;
  wsload::testing::ServerOptions options;
  options.reply_delay = 5ms;
  auto server = std::make_unique<wsload::testing::Server>(options);
  config.url = server->url("/prod");
  return server;
}

class ChatLoad : public wsload::LoadTest {
 protected:
  void SetUp() override {
    stand_in_ = stand_in_for(config_);
    config_.origin = "https://app.example.com";
    config_.prompts = wsload::read_prompts(WSLOAD_EXAMPLE_PROMPTS);
  }
  std::unique_ptr<wsload::testing::Server> stand_in_;
};

TEST_F(ChatLoad, TwentyUsersGetTimelyAnswers) {
  config_.connections = 20;
  config_.max_average_latency = wsload::Seconds(0.5);  // on the average
  config_.min_rps = 100;
  config_.min_success_rate = 95;  // percent
  const wsload::Summary summary = RunLoad();
  EXPECT_LOAD_OK(summary);
  EXPECT_P99_BELOW(summary, 800ms);
  EXPECT_THRESHOLDS(summary, "p95<500ms", "errors==0");
}

// The same case over every endpoint of WSLOAD_ENDPOINTS (a JSON file), or these.
class ChatEndpoints : public wsload::EndpointLoadTest {
 protected:
  void SetUp() override {
    stand_in_ = stand_in_for(config_);
    config_.prompts = wsload::read_prompts(WSLOAD_EXAMPLE_PROMPTS);
    config_.connections = 5;
    config_.thresholds = {"p99<800ms", "success_rate>=95%"};
  }
  std::unique_ptr<wsload::testing::Server> stand_in_;
};

TEST_P(ChatEndpoints, MeetTheirThresholds) {
  EXPECT_LOAD_OK(RunLoad());
}

std::vector<wsload::Endpoint> default_endpoints() {
  wsload::Endpoint prod;
  prod.name = "prod";
  wsload::Endpoint staging;
  staging.name = "staging";
  staging.thresholds = {"avg<=1s"};
  return {prod, staging};
}

INSTANTIATE_TEST_SUITE_P(
    Chat, ChatEndpoints,
    ::testing::ValuesIn(wsload::endpoints_from_environment(default_endpoints())),
    wsload::EndpointName());

}  // namespace
