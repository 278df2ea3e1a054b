#include <wsload/summary.hpp>
#include <wsload/timeseries.hpp>

#include <gtest/gtest.h>

namespace {

using wsload::parse_threshold;
using wsload::TimeSeries;

TEST(WindowThresholds, ParseTheWindow) {
  const auto t = parse_threshold("p99 < 500ms over 10s");
  EXPECT_EQ(t.window, 10);
  EXPECT_EQ(t.limit, 0.5);
  EXPECT_EQ(t.expression, "p99<500ms over 10s");
  EXPECT_EQ(parse_threshold("rps>=100 over 1m").window, 60);
  EXPECT_EQ(parse_threshold("p99<500ms").window, 0);
  for (const char* bad : {"p99<500ms over", "p99<500ms over 0s", "p99<500ms over 1.5s",
                          "p99<500ms over 10", "p99<500ms over 2d", "ttfb_p95<1s over 10s"}) {
    EXPECT_THROW(parse_threshold(bad), wsload::ConfigError) << bad;
  }
}

TEST(WindowThresholds, EveryWindowMustPassAndTheWorstIsNamed) {
  TimeSeries series;
  for (std::size_t second = 0; second < 6; ++second) {
    for (int i = 0; i < 100; ++i) series.record(second, second == 3 ? 900'000 : 10'000);
  }
  series.fail(4, 5);
  const auto slow = evaluate_windows(parse_threshold("p99<500ms over 2s"), series);
  EXPECT_FALSE(slow.passed);
  EXPECT_NEAR(*slow.actual, 0.9, 0.01);
  EXPECT_NE(slow.message.find("in the window 2-4 s (1 of 3 windows failed)"), std::string::npos)
      << slow.message;
  EXPECT_TRUE(evaluate_windows(parse_threshold("p99<1s over 2s"), series).passed);

  const auto rate = evaluate_windows(parse_threshold("rps>=99 over 1s"), series);
  EXPECT_TRUE(rate.passed) << rate.message;
  const auto errors = evaluate_windows(parse_threshold("errors==0 over 3s"), series);
  EXPECT_FALSE(errors.passed);
  EXPECT_NE(errors.message.find("window 3-6 s"), std::string::npos) << errors.message;

  EXPECT_FALSE(evaluate_windows(parse_threshold("p99<1s over 1s"), TimeSeries()).passed);
}

TEST(TimeSeries, MergesBySecondAndSurvivesTheSummaryJson) {
  TimeSeries a;
  TimeSeries b;
  a.record(0, 1000);
  b.record(2, 3000);
  b.fail(0, 2);
  a.merge(b);
  ASSERT_EQ(a.seconds().size(), 3u);
  EXPECT_EQ(a.seconds()[0].requests(), 3u);
  EXPECT_EQ(a.seconds()[1].requests(), 0u);
  EXPECT_EQ(a.seconds()[2].succeeded, 1u);

  wsload::Summary s;
  s.time_series = a;
  s.total_requests = 4;
  s.successful_requests = 2;
  s.failed_requests = 2;
  // The figures a reader checks the series against.
  s.latency.record(1000);
  s.latency.record(3000);
  s.errors = {{wsload::ErrorKind::connection_lost, "", 2}};
  const auto j = to_json(s);
  EXPECT_EQ(j["time_series"]["intervals"].size(), 3u);
  EXPECT_EQ(j["time_series"]["intervals"][0]["failed"], 2);
  EXPECT_EQ(to_json(wsload::summary_from_json(j)), j);
}

}  // namespace
