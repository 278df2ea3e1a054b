#include <wsload/thresholds.hpp>

#include <gtest/gtest.h>

namespace {

using namespace wsload;

TEST(Thresholds, ParsesLatencyUnitsIntoSeconds) {
  EXPECT_DOUBLE_EQ(parse_threshold("p99<800ms").limit, 0.8);
  EXPECT_DOUBLE_EQ(parse_threshold("avg<=0.5s").limit, 0.5);
  EXPECT_DOUBLE_EQ(parse_threshold("max < 250 us").limit, 250e-6);
  const auto t = parse_threshold("p99.9<1s");
  EXPECT_EQ(t.figure, Figure::latency_percentile);
  EXPECT_DOUBLE_EQ(t.percentile, 99.9);
  EXPECT_DOUBLE_EQ(parse_threshold("p999<1s").percentile, 99.9);
  EXPECT_DOUBLE_EQ(parse_threshold("median<1s").percentile, 50);
  EXPECT_DOUBLE_EQ(parse_threshold("p100<1s").percentile, 100);
}

TEST(Thresholds, ParsesRatesCountsAndComparisons) {
  const auto rps = parse_threshold("rps>=100");
  EXPECT_EQ(rps.figure, Figure::rps);
  EXPECT_EQ(rps.comparison, Comparison::greater_equal);
  const auto sr = parse_threshold("success_rate>95%");
  EXPECT_EQ(sr.comparison, Comparison::greater);
  EXPECT_DOUBLE_EQ(sr.limit, 95);
  const auto errors = parse_threshold("errors==0");
  EXPECT_EQ(errors.figure, Figure::errors);
  EXPECT_EQ(errors.comparison, Comparison::equal);
  EXPECT_EQ(parse_threshold("requests != 5").comparison, Comparison::not_equal);
  EXPECT_EQ(parse_threshold(" p95 < 300 ms ").expression, "p95<300ms");
}

TEST(Thresholds, MalformedExpressionsNameThemselves) {
  for (const char* bad : {"", "p99", "<5ms", "p99<", "p99<800", "p99<800xs", "p99<-1ms",
                          "latency<1s", "p0<1s", "p101<1s", "success_rate>101%", "errors==1.5",
                          "errors=0", "rps>=10ms", "p99<nanms", "p99!5ms", "errors==2%"}) {
    try {
      parse_threshold(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), "threshold");
      EXPECT_EQ(e.value(), bad);
    }
  }
}

TEST(Thresholds, FailureSentenceNamesFigureAndLimit) {
  const auto v = evaluate(parse_threshold("p99<800ms"), 0.9123);
  EXPECT_FALSE(v.passed);
  EXPECT_EQ(v.message, "p99 latency 912.3 ms is above the 800 ms limit");
  const auto ok = evaluate(parse_threshold("p99<800ms"), 0.5);
  EXPECT_TRUE(ok.passed);
  EXPECT_EQ(ok.message, "p99 latency 500 ms is within the 800 ms limit");
}

TEST(Thresholds, MinimumsReadAsMinimums) {
  const auto v = evaluate(parse_threshold("success_rate>=95%"), 93.25);
  EXPECT_FALSE(v.passed);
  EXPECT_EQ(v.message, "success rate 93.25 % is below the 95 % minimum");
  EXPECT_EQ(evaluate(parse_threshold("rps>=100"), 87.34).message,
            "throughput 87.3 req/s is below the 100 req/s minimum");
  EXPECT_TRUE(evaluate(parse_threshold("rps>=100"), 100).passed);
  EXPECT_FALSE(evaluate(parse_threshold("rps>100"), 100).passed);
}

TEST(Thresholds, StrictComparisonsFailAtTheLimit) {
  EXPECT_FALSE(evaluate(parse_threshold("avg<0.5s"), 0.5).passed);
  EXPECT_TRUE(evaluate(parse_threshold("avg<=0.5s"), 0.5).passed);
}

TEST(Thresholds, EqualityOnCounts) {
  EXPECT_TRUE(evaluate(parse_threshold("errors==0"), 0).passed);
  const auto v = evaluate(parse_threshold("errors==0"), 3);
  EXPECT_FALSE(v.passed);
  EXPECT_EQ(v.message, "failed requests 3, expected 0");
}

TEST(Thresholds, NoSamplesFailsAndSaysSo) {
  const auto v = evaluate(parse_threshold("p99<800ms"), std::nullopt);
  EXPECT_FALSE(v.passed);
  EXPECT_NE(v.message.find("no samples"), std::string::npos) << v.message;
  EXPECT_NE(v.message.find("p99<800ms"), std::string::npos) << v.message;
}

TEST(Thresholds, SeedThresholdsMatchTheOriginalTool) {
  EXPECT_EQ(max_average_latency(0.5).expression, "avg<=0.5s");
  EXPECT_EQ(min_rps(100).expression, "rps>=100");
  EXPECT_EQ(min_success_rate(95).expression, "success_rate>=95%");
}

TEST(Thresholds, FormatsSecondsAtAReadableScale) {
  EXPECT_EQ(detail::format_seconds(0.000512), "512 us");
  EXPECT_EQ(detail::format_seconds(0.0205), "20.5 ms");
  EXPECT_EQ(detail::format_seconds(12.5), "12.5 s");
}

}  // namespace

namespace {

TEST(Thresholds, StreamingPrefixesNameTheirTiming) {
  EXPECT_EQ(parse_threshold("ttfb_p95<300ms").timing, Timing::first_frame);
  const auto ttft = parse_threshold("ttft_p95<500ms");
  EXPECT_EQ(ttft.timing, Timing::first_token);
  EXPECT_EQ(ttft.figure, Figure::latency_percentile);
  EXPECT_DOUBLE_EQ(ttft.percentile, 95);
  EXPECT_EQ(parse_threshold("itl_p99<50ms").timing, Timing::inter_frame);
  EXPECT_EQ(parse_threshold("tpot_avg<20ms").timing, Timing::per_token);
  EXPECT_EQ(parse_threshold("tpot_avg<20ms").figure, Figure::latency_mean);
  EXPECT_EQ(parse_threshold("p99<1s").timing, Timing::completion);
  const auto v = evaluate(parse_threshold("itl_p99<50ms"), 0.08);
  EXPECT_FALSE(v.passed);
  EXPECT_NE(v.message.find("inter-token latency (p99)"), std::string::npos) << v.message;
  const auto rate = parse_threshold("output_rate_p50>=20");
  EXPECT_EQ(rate.timing, Timing::output_rate);
  EXPECT_DOUBLE_EQ(rate.limit, 20);
  const auto slow = evaluate(rate, 12.5);
  EXPECT_FALSE(slow.passed);
  EXPECT_EQ(slow.message,
            "per-user output rate (p50) 12.5 tokens/s is below the 20 tokens/s minimum");
  EXPECT_EQ(parse_threshold("goodput>=5/s").figure, Figure::goodput);
  EXPECT_THROW(parse_threshold("goodput>=5 over 10s"), ConfigError);
  for (const char* bad : {"ttft_rps>1", "itl_errors==0", "tpot_p99<5ms over 10s", "itl_p99<5",
                          "output_rate_p50>=20ms"}) {
    EXPECT_THROW(parse_threshold(bad), ConfigError) << bad;
  }
}

}  // namespace
