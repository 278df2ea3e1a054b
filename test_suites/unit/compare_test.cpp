#include <wsload/compare.hpp>

#include <cmath>
#include <limits>
#include <sstream>

#include <gtest/gtest.h>

namespace {

using namespace wsload;

const MetricChange& change_of(const RunComparison& c, const std::string& metric) {
  for (const auto& m : c.changes) {
    if (m.metric == metric) return m;
  }
  throw std::runtime_error("no " + metric);
}

RunSamples one_case(const std::vector<double>& p99, const std::vector<double>& rps) {
  RunSamples runs;
  runs["chat"]["p99"].assign(p99.begin(), p99.end());
  runs["chat"]["rps"].assign(rps.begin(), rps.end());
  return runs;
}

/// A closed-loop run of `n` requests from `base_us` to `base_us` + `spread` microseconds, over
/// `seconds` whole seconds whose latencies are shifted by `drift_us` x the second.
Summary run_of(std::int64_t base_us, int n, std::int64_t spread = 100, int seconds = 4,
               std::int64_t drift_us = 0) {
  Summary s;
  s.name = "chat";
  s.total_requests = s.successful_requests = static_cast<std::uint64_t>(n);
  s.connections_opened = 4;
  s.total_time = Seconds(seconds);
  for (int i = 0; i < n; ++i) {
    const int second = i * seconds / n;
    const auto us = base_us + (i * 37) % spread + drift_us * second;
    s.latency.record(us);
    s.time_series.record(static_cast<std::size_t>(second), us);
  }
  return s;
}

RunSamples samples_of(const Summary& s) {
  RunSamples runs;
  detail::add_summary_samples(runs, "chat", s);
  return runs;
}

std::string verdict_of(const Summary& base, const Summary& next, const std::string& metric) {
  return change_of(compare_runs(samples_of(base), samples_of(next), {metric}, 10), metric).verdict;
}

TEST(Compare, DirectionDecidesWhatIsWorse) {
  const auto c = compare_runs(one_case({100}, {50}), one_case({150}, {100}), {"p99", "rps"}, 10);
  EXPECT_EQ(change_of(c, "p99").basis, NoiseBasis::none);
  EXPECT_EQ(change_of(c, "p99").verdict, "regression");
  EXPECT_DOUBLE_EQ(change_of(c, "p99").change_percent, 50);
  EXPECT_EQ(change_of(c, "rps").verdict, "improvement") << "more throughput is better";
  EXPECT_EQ(c.regressions(), 1u);
}

TEST(Compare, WithinTheToleranceIsTheSame) {
  const auto c = compare_runs(one_case({100}, {50}), one_case({109}, {46}), {"p99", "rps"}, 10);
  EXPECT_EQ(change_of(c, "p99").verdict, "same");
  EXPECT_EQ(change_of(c, "rps").verdict, "same");
}

TEST(Compare, OverlappingRepetitionsAreNoiseNotARegression) {
  const auto c =
      compare_runs(one_case({100, 160, 110}, {50}), one_case({150, 105, 170}, {50}), {"p99"}, 10);
  EXPECT_EQ(change_of(c, "p99").verdict, "noise");
  EXPECT_EQ(c.regressions(), 0u);
  const auto apart =
      compare_runs(one_case({100, 105, 110}, {50}), one_case({150, 160, 170}, {50}), {"p99"}, 10);
  EXPECT_EQ(change_of(apart, "p99").verdict, "regression");
}

TEST(Compare, ErrorsAppearingFromNoneAreARegression) {
  RunSamples base;
  RunSamples next;
  base["chat"]["errors"] = {0};
  next["chat"]["errors"] = {3};
  const auto c = compare_runs(base, next, {"errors"}, 10);
  EXPECT_EQ(change_of(c, "errors").verdict, "regression");
  EXPECT_TRUE(std::isinf(change_of(c, "errors").change_percent));
  EXPECT_EQ(to_json(c)["changes"][0]["change_percent"], "inf");
}

TEST(Compare, UnknownMetricAndNothingInCommonAreErrors) {
  EXPECT_THROW(compare_runs(one_case({1}, {1}), one_case({1}, {1}), {"latency"}, 10), ConfigError);
  RunSamples other;
  other["orders"]["p99"] = {1};
  EXPECT_THROW(compare_runs(one_case({1}, {1}), other, {"p99"}, 10), ConfigError);
}

// The order statistics at ranks n·q ± 2.576·sqrt(n·q·(1 - q)) of 1000 samples, one per
// microsecond from 1 to 1000 (exact buckets below 2048 with three digits): p50 at ranks
// 500 ± 40.7, p99 at 990 ± 8.1.
TEST(ConfidenceBounds, OfAPercentileAreItsOrderStatistics) {
  Histogram h;
  for (int us = 1; us <= 1000; ++us) h.record(us);
  const auto [low50, high50] = detail::percentile_bounds(h, 50);
  EXPECT_EQ(low50, 459);
  EXPECT_EQ(high50, 541);
  const auto [low99, high99] = detail::percentile_bounds(h, 99);
  EXPECT_EQ(low99, 981);
  EXPECT_EQ(high99, 999);
  Histogram few;  // ten samples: the median could be nearly any of them
  for (int us = 1; us <= 10; ++us) few.record(us * 100);
  const auto [low, high] = detail::percentile_bounds(few, 50);
  EXPECT_EQ(low, 100);
  EXPECT_EQ(high, 1000);
}

TEST(ConfidenceBounds, OfCountsAndProportions) {
  const auto [none_low, none_high] = detail::count_bounds(0);
  EXPECT_EQ(none_low, 0);
  EXPECT_NEAR(none_high, 2.576 * 2.576, 1e-9) << "no failure does not rule out six";
  const auto [low, high] = detail::count_bounds(100);
  EXPECT_NEAR(low, 100 + 3.318 - 2.576 * std::sqrt(100 + 1.659), 1e-2);
  EXPECT_NEAR(high, 100 + 3.318 + 2.576 * std::sqrt(100 + 1.659), 1e-2);
  const auto [all_low, all_high] = detail::proportion_bounds(100, 100);
  EXPECT_EQ(all_high, 100);
  EXPECT_NEAR(all_low, 100 * 100 / (100 + 2.576 * 2.576), 1e-6) << "Wilson: n / (n + z²)";
}

TEST(CompareSingleRuns, AChangeWithinWhatAFewSamplesCanSayIsNoise) {
  // 20 requests a side, 20 % apart at the median: their bounds overlap.
  const auto base = run_of(1'000, 20, 400);
  const auto next = run_of(1'200, 20, 400);
  EXPECT_EQ(verdict_of(base, next, "p50"), "noise");
  const auto c = compare_runs(samples_of(base), samples_of(next), {"p50"}, 10);
  EXPECT_EQ(c.changes[0].basis, NoiseBasis::bounds);
  EXPECT_TRUE(c.noise_aware());
  EXPECT_NE(format_comparison(c).find("99 % confidence bounds"), std::string::npos);
}

TEST(CompareSingleRuns, AChangeBeyondTheBoundsAndTheToleranceIsARegression) {
  const auto base = run_of(1'000, 4'000);
  EXPECT_EQ(verdict_of(base, run_of(1'400, 4'000), "p50"), "regression") << "40 % slower";
  EXPECT_EQ(verdict_of(base, run_of(1'400, 4'000), "p99"), "regression");
  EXPECT_EQ(verdict_of(run_of(1'400, 4'000), base, "p50"), "improvement");
  EXPECT_EQ(verdict_of(base, run_of(1'050, 4'000), "p50"), "same") << "within the tolerance";
  // Apart (the loops' 60 us lag widens the new band), but the nearer edges of the bands
  // are within the tolerance of each other: one run does not see how the next differs.
  auto lagging = run_of(1'170, 4'000);
  lagging.loop_lag_p99 = 60e-6;
  EXPECT_EQ(verdict_of(base, lagging, "p50"), "noise");
  lagging.loop_lag_p99 = 0;
  EXPECT_EQ(verdict_of(base, lagging, "p50"), "regression");
}

TEST(CompareSingleRuns, DriftOverTheSecondsOfARunIsNoise) {
  // The baseline's median drifted from 1.0 to 1.6 ms while it ran; the new run sits at
  // 1.4 ms throughout: within what the baseline's own seconds measured.
  const auto drifting = run_of(1'000, 4'000, 100, 4, 200);
  const auto steady = run_of(1'400, 4'000);
  EXPECT_EQ(verdict_of(drifting, steady, "p50"), "noise");
  EXPECT_EQ(verdict_of(run_of(1'000, 4'000), steady, "p50"), "regression");
}

TEST(CompareSingleRuns, TheGeneratorsOwnLagIsNoise) {
  // Loops that ran 1 ms late could have added that much to any reply's time.
  auto base = run_of(1'000, 4'000);
  auto lagging = run_of(1'500, 4'000);
  lagging.loop_lag_p99 = 0.001;
  lagging.loop_lag_max = 0.002;
  EXPECT_EQ(verdict_of(base, lagging, "p50"), "noise");
  lagging.loop_lag_p99 = 0.0001;
  EXPECT_EQ(verdict_of(base, lagging, "p50"), "regression");
  // An open loop that sent late: its latency from the due time holds the send lag.
  auto open = run_of(1'500, 4'000);
  open.schedule = ScheduleReport{};
  for (int i = 0; i < 4'000; ++i) open.latency_uncorrected.record(1'000 + i % 100);
  EXPECT_EQ(verdict_of(base, open, "p50"), "noise");
}

TEST(CompareSingleRuns, ThroughputAndCountsHaveBoundsToo) {
  auto base = run_of(1'000, 4'000);
  auto next = run_of(1'000, 4'000);
  next.successful_requests = 3'980;
  next.failed_requests = 20;
  EXPECT_EQ(verdict_of(base, next, "errors"), "regression") << "0 -> 20 is beyond chance";
  next.successful_requests = 3'997;
  next.failed_requests = 3;
  EXPECT_EQ(verdict_of(base, next, "errors"), "noise") << "0 -> 3 is not";
  EXPECT_EQ(verdict_of(base, next, "success_rate"), "same");
  auto slower = run_of(1'000, 2'000);  // half the requests in the same time
  EXPECT_EQ(verdict_of(base, slower, "rps"), "regression");
}

// A run whose replies streamed: each with a first token, `gap_us` between tokens, and a
// TPOT; `good` of them met the --slo limits.
Summary streamed_run(std::int64_t ttft_us, std::int64_t gap_us, std::uint64_t good) {
  auto s = run_of(100'000, 4'000);
  for (int i = 0; i < 4'000; ++i) {
    s.ttft.record(ttft_us + (i * 37) % 100);
    s.inter_frame.record(gap_us + (i * 41) % 50);
    s.tpot.record(gap_us + (i * 43) % 50);
    s.output_rate.record(40'000 + (i * 47) % 1'000);
  }
  s.good_requests = good;
  s.config["slo"] = "ttft<1s";
  return s;
}

TEST(CompareSingleRuns, StreamedFiguresAndGoodputAreComparedToo) {
  const auto base = streamed_run(50'000, 20'000, 3'900);
  EXPECT_EQ(verdict_of(base, streamed_run(80'000, 20'000, 3'900), "ttft_p95"), "regression");
  EXPECT_EQ(verdict_of(base, streamed_run(80'000, 20'000, 3'900), "itl_p50"), "same");
  EXPECT_EQ(verdict_of(base, streamed_run(50'000, 30'000, 3'900), "itl_p99"), "regression");
  EXPECT_EQ(verdict_of(base, streamed_run(50'000, 30'000, 3'900), "tpot_p50"), "regression");
  EXPECT_EQ(verdict_of(base, streamed_run(50'000, 20'000, 2'000), "goodput"), "regression");
  EXPECT_EQ(verdict_of(base, streamed_run(50'000, 20'000, 3'900), "output_rate_p50"), "same");
  const auto c = compare_runs(samples_of(base), samples_of(base), {"ttft_p95", "goodput"}, 10);
  EXPECT_TRUE(c.noise_aware());
  // A run without streamed figures or an SLO has none of these metrics: nothing to compare.
  const auto plain = samples_of(run_of(1'000, 4'000));
  EXPECT_EQ(plain.at("chat").count("ttft_p95"), 0u);
  EXPECT_EQ(plain.at("chat").count("goodput"), 0u);
  EXPECT_THROW(compare_runs(samples_of(base), plain, {"goodput"}, 10), ConfigError);
}

TEST(CompareSingleRuns, WithoutBoundsTheVerdictSaysItIsNotNoiseAware) {
  const auto c = compare_runs(one_case({100}, {50}), one_case({125}, {50}), {"p99", "rps"}, 10);
  EXPECT_EQ(change_of(c, "p99").verdict, "noise") << "25 % is within 3 x 10 %";
  EXPECT_FALSE(c.noise_aware());
  const auto text = format_comparison(c);
  EXPECT_NE(text.find("NOT noise-aware"), std::string::npos) << text;
  EXPECT_NE(text.find("3 x the tolerance (30 %)"), std::string::npos) << text;
  EXPECT_EQ(to_json(c)["noise_aware"], false);
  EXPECT_EQ(
      change_of(compare_runs(one_case({100}, {50}), one_case({131}, {50}), {"p99"}, 10), "p99")
          .verdict,
      "regression");
}

TEST(Compare, AMetricOnOneSideOnlyIsAnErrorNamingIt) {
  RunSamples base = one_case({100}, {50});
  RunSamples next = one_case({100}, {50});
  next["chat"].erase("p99");  // a summary in which nothing succeeded has no latency
  try {
    compare_runs(base, next, {"p99", "rps"}, 10, "base.json", "new.json");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "new");
    EXPECT_EQ(e.value(), "new.json");
    EXPECT_NE(std::string(e.what()).find("case 'chat' has no value of p99"), std::string::npos)
        << e.what();
  }
  next["chat"]["p99"] = {std::numeric_limits<double>::quiet_NaN()};
  EXPECT_THROW(compare_runs(base, next, {"p99"}, 10), ConfigError);
}

TEST(Compare, ToleratesTheNanThatGoogleBenchmarkWrites) {
  std::istringstream in(R"({"a": NaN, "b": [1, -nan, inf], "c": "NaN stays text"})");
  const auto j = detail::parse_json_allowing_nan(in);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_TRUE(j["a"].is_null());
  EXPECT_TRUE(j["b"][1].is_null());
  EXPECT_TRUE(j["b"][2].is_null());
  EXPECT_EQ(j["c"], "NaN stays text");
}

}  // namespace
