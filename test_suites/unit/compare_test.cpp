#include <wsload/compare.hpp>

#include <sstream>

#include <gtest/gtest.h>

namespace {

using namespace wsload;

RunSamples one_case(std::vector<double> p99, std::vector<double> rps) {
  RunSamples runs;
  runs["chat"]["p99"] = std::move(p99);
  runs["chat"]["rps"] = std::move(rps);
  return runs;
}

const MetricChange& change_of(const RunComparison& c, const std::string& metric) {
  for (const auto& m : c.changes) {
    if (m.metric == metric) return m;
  }
  throw std::runtime_error("no " + metric);
}

TEST(Compare, DirectionDecidesWhatIsWorse) {
  const auto c = compare_runs(one_case({100}, {50}), one_case({150}, {100}), {"p99", "rps"}, 10);
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
