// Streamed LLM replies over loopback: time to first token, inter-token gaps and time per
// output token against the embedded server's token route, whose delays are known. On a
// loaded machine a frame can only come later than scheduled: lower bounds and counts are
// exact, upper bounds generous.
#include <gtest/gtest.h>

#include <wsload/gtest.hpp>
#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

namespace {

using namespace std::chrono_literals;
using wsload::LoadConfig;
using wsload::testing::ReplyMode;
using wsload::testing::Route;
using wsload::testing::Server;
using wsload::testing::ServerOptions;

constexpr std::size_t tokens = 5;
constexpr auto first_token_after = 60ms;
constexpr auto token_gap = 20ms;

ServerOptions token_server() {
  ServerOptions options;
  options.mode = ReplyMode::api_gateway;
  Route r;
  r.kind = Route::Kind::tokens;
  r.chunks = tokens;
  r.delay = first_token_after;
  r.chunk_delay = token_gap;
  options.routes = {{"$default", r}};
  return options;
}

LoadConfig streaming_config(const Server& server) {
  LoadConfig config;
  config.url = server.url("/");
  config.prompts = {"hello"};
  config.connections = 2;
  config.iterations = 4;
  config.threads = 1;
  config.timeouts.reply = 10s;
  config.timeouts.run = 60s;
  config.completion = R"(/type=="end")";
  config.first_token = R"(/type=="token")";
  return config;
}

double ms(std::int64_t us) {
  return static_cast<double>(us) / 1e3;
}

TEST(Streaming, FirstTokenSkipsTheAcknowledgementAndGapsAreCountedPerReply) {
  Server server(token_server());
  const auto s = wsload::run_load(streaming_config(server));
  ASSERT_EQ(s.successful_requests, 8u) << wsload::format_report(s);
  // The acknowledgement comes at once: the first frame is early, the first token is not.
  ASSERT_EQ(s.ttft.count(), 8);
  EXPECT_GE(ms(s.ttft.min()), 60.0 * 0.99);
  EXPECT_LT(ms(s.ttft.max()), 60.0 + 5000);
  EXPECT_LT(s.ttfb.value_at_percentile(50), s.ttft.value_at_percentile(50));
  // N tokens, N - 1 gaps each, the end marker not a token.
  EXPECT_EQ(s.inter_frame.count(), static_cast<std::int64_t>(8 * (tokens - 1)));
  EXPECT_GE(ms(s.inter_frame.value_at_percentile(50)), 20.0 * 0.9);
  ASSERT_EQ(s.tpot.count(), 8);
  // TPOT spreads each reply's time after its first token over its N - 1 later tokens: at
  // least the scheduled gap, and the mean agrees with the latency less the TTFT.
  EXPECT_GE(ms(s.tpot.min()), 20.0 * 0.9);
  const double expected_tpot = (s.latency.mean() - s.ttft.mean()) / (tokens - 1);
  EXPECT_NEAR(s.tpot.mean(), expected_tpot, expected_tpot * 0.05 + 50);
  EXPECT_TRUE(wsload::MeetsThresholds(
      s, {"ttft_p50>=60ms", "itl_p50>=18ms", "tpot_min>=18ms", "ttft_p99<60s", "itl_max<60s"}));
  EXPECT_FALSE(wsload::MeetsThresholds(s, {"ttft_p50<60ms"}));
  // The JSON carries the sections, and reads back to the same figures.
  const auto back = wsload::summary_from_json(wsload::to_json(s));
  EXPECT_EQ(back.ttft.count(), s.ttft.count());
  EXPECT_EQ(back.inter_frame.count(), s.inter_frame.count());
  EXPECT_EQ(back.tpot.max(), s.tpot.max());
}

TEST(Streaming, WithoutAFirstTokenRuleTheFirstFrameIsTheFirstToken) {
  Server server(token_server());
  auto config = streaming_config(server);
  config.first_token = "first";
  config.iterations = 1;
  const auto s = wsload::run_load(config);
  ASSERT_EQ(s.successful_requests, 2u) << wsload::format_report(s);
  EXPECT_EQ(s.ttft.count(), 2);
  // The same frame, the acknowledgement, as the time to first frame.
  EXPECT_EQ(s.ttft.max(), s.ttfb.max());
  EXPECT_EQ(s.ttft.sum(), s.ttfb.sum());
  // The acknowledgement and the N tokens: N gaps each, the first at least T long.
  EXPECT_EQ(s.inter_frame.count(), static_cast<std::int64_t>(2 * tokens));
  EXPECT_GE(ms(s.inter_frame.max()), 60.0 * 0.9);
}

TEST(Streaming, OutputTokensFromTheUsageCountOrTheCharactersOfTheText) {
  Server server(token_server());
  auto config = streaming_config(server);
  config.iterations = 2;
  config.tokens = "/usage/output_tokens";
  const auto usage = wsload::run_load(config);
  ASSERT_EQ(usage.successful_requests, 4u) << wsload::format_report(usage);
  EXPECT_EQ(usage.output_tokens, 4 * tokens);
  EXPECT_EQ(usage.tokens_per_reply.min(), static_cast<std::int64_t>(tokens));
  EXPECT_EQ(usage.tokens_per_reply.max(), static_cast<std::int64_t>(tokens));
  // Each reply's rate is its tokens over its latency: at most N over T + (N - 1) D.
  const double slowest_possible = tokens / (0.060 + (tokens - 1) * 0.020);
  EXPECT_LE(usage.output_rate.max() / 1e3, slowest_possible * 1.01);
  EXPECT_GT(usage.output_rate.min(), 0);
  EXPECT_GT(usage.output_throughput(), 0);
  EXPECT_TRUE(wsload::MeetsThresholds(usage, {"output_rate_p50>0.1", "output_rate_max<1000"}));
  EXPECT_FALSE(wsload::MeetsThresholds(usage, {"output_rate_p50>=1000"}));
  const auto back = wsload::summary_from_json(wsload::to_json(usage));
  EXPECT_EQ(back.output_tokens, usage.output_tokens);
  EXPECT_EQ(back.output_rate.count(), 4);

  // "tok0".."tok4": four characters each.
  config.tokens = "chars:/text";
  const auto chars = wsload::run_load(config);
  ASSERT_EQ(chars.successful_requests, 4u) << wsload::format_report(chars);
  EXPECT_EQ(chars.output_tokens, 4 * tokens * 4);
  EXPECT_EQ(chars.tpot.count(), 4);
  // TPOT spreads the time after the first token over 4N - 1 characters.
  EXPECT_LT(chars.tpot.max(), usage.tpot.min());
}

// A reply that fails after its tokens (its end frame is an error here) is in no figure:
// its gaps leave the inter-token latency as its latency leaves the latency.
TEST(Streaming, AFailedReplyLeavesNoInterTokenGaps) {
  Server server(token_server());
  auto config = streaming_config(server);
  config.iterations = 2;
  config.error_rules = {R"(/type=="end")"};
  const auto s = wsload::run_load(config);
  ASSERT_EQ(s.failed_requests, 4u) << wsload::format_report(s);
  EXPECT_EQ(s.successful_requests, 0u);
  EXPECT_EQ(s.latency.count(), 0);
  EXPECT_EQ(s.ttft.count(), 0);
  EXPECT_EQ(s.inter_frame.count(), 0);
  EXPECT_EQ(s.tpot.count(), 0);
}

// Half the prompts route to a slow token stream: exactly those miss the TTFT limit, and
// goodput counts the other half.
TEST(Streaming, GoodputCountsTheRequestsThatMeetEverySlo) {
  ServerOptions options = token_server();
  Route slow = options.routes.at("$default");
  slow.delay = 1500ms;
  options.routes = {{"fast", options.routes.at("$default")}, {"slow", slow}};
  Server server(options);
  auto config = streaming_config(server);
  config.prompts = {"fast", "slow"};
  config.message_template = R"({"action":{{prompt}}})";
  config.iterations = 2;
  config.slo = "ttft<1s,latency<30s";
  const auto s = wsload::run_load(config);
  ASSERT_EQ(s.successful_requests, 8u) << wsload::format_report(s);  // 2 x 2 prompts x 2
  EXPECT_EQ(s.good_requests, 4u);
  EXPECT_NEAR(s.goodput(), 4 / s.total_time.count(), 1e-9);
  EXPECT_TRUE(wsload::MeetsThresholds(s, {"goodput>0.01"}));
  EXPECT_FALSE(wsload::MeetsThresholds(s, {"goodput>=1000"}));
  EXPECT_EQ(wsload::to_json(s)["goodput"]["share"], 50.0);
  EXPECT_EQ(wsload::summary_from_json(wsload::to_json(s)).good_requests, 4u);
}

}  // namespace
