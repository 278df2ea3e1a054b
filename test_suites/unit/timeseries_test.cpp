#include <wsload/results/summary_json.hpp>
#include <wsload/timeseries.hpp>

#include <malloc.h>

#include <gtest/gtest.h>

namespace {

/// What malloc has handed out and not had back, bytes.
std::size_t heap_in_use() {
  const auto m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

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

TEST(TimeSeries, MemoryStaysFlatOverHoursOfSecondsAndCountsStayExact) {
  // Three hours at 20 requests a second, recorded as an engine thread records them.
  constexpr std::size_t hours3 = 3 * 3600;
  const auto before = heap_in_use();
  TimeSeries series;
  for (std::size_t second = 0; second < hours3; ++second) {
    for (int i = 0; i < 20; ++i) series.record(second, 1000 + 97 * i);
    if (second % 600 == 7) series.fail(second, 1);
  }
  EXPECT_LT(heap_in_use() - before, 2u << 20) << "bytes for 3 h (287 MB before)";
  EXPECT_LE(series.intervals(), TimeSeries::max_intervals);
  EXPECT_EQ(series.resolution(), 4u);
  ASSERT_EQ(series.seconds().size(), hours3);
  for (std::size_t second = 0; second < hours3; ++second) {
    ASSERT_EQ(series.seconds()[second].succeeded, 20u) << second;
    ASSERT_EQ(series.seconds()[second].failed, second % 600 == 7 ? 1u : 0u) << second;
  }
}

TEST(WindowThresholds, StayExactOnASeriesOfHours) {
  TimeSeries series;
  const auto slow_window = parse_threshold("p99<500ms over 10s");
  series.keep_windows({slow_window});
  for (std::size_t second = 0; second < 2 * 3600; ++second) {
    for (int i = 0; i < 10; ++i) series.record(second, second == 5003 ? 900'000 : 10'000);
  }
  series.fail(6001, 1);
  EXPECT_EQ(series.resolution(), 2u) << "the coarsest that keeps 10 s windows whole";
  const auto errors = evaluate_windows(parse_threshold("errors==0 over 1s"), series);
  EXPECT_NE(errors.message.find("in the window 6001-6002 s (1 of 7200 windows failed)"),
            std::string::npos)
      << errors.message;
  EXPECT_TRUE(evaluate_windows(parse_threshold("rps>=10 over 1s"), series).passed);
  EXPECT_FALSE(evaluate_windows(parse_threshold("success_rate==100% over 2s"), series).passed);
  const auto slow = evaluate_windows(slow_window, series);
  EXPECT_FALSE(slow.passed);
  EXPECT_NEAR(*slow.actual, 0.9, 0.009) << "2 significant digits";
  EXPECT_NE(slow.message.find("in the window 5000-5010 s (1 of 720 windows failed)"),
            std::string::npos)
      << slow.message;
  const auto average = evaluate_windows(parse_threshold("avg<=10ms over 20s"), series);
  EXPECT_FALSE(average.passed);
  EXPECT_NEAR(*average.actual, (190 * 0.010 + 10 * 0.9) / 200, 1e-9) << "exact";
  EXPECT_NE(average.message.find("window 5000-5020 s"), std::string::npos) << average.message;
}

TEST(TimeSeries, ALateRequestLandsInItsOwnInterval) {
  TimeSeries series;
  series.record(10, 1000);
  series.record(5, 50'000);  // ended at 5 s, recorded after a later one
  EXPECT_EQ(series.interval(5).latency.max(), 50'000);
  EXPECT_EQ(series.interval(10).latency.max(), 1000);
  EXPECT_TRUE(series.interval(7).latency.empty());
}

TEST(TimeSeries, CoarseningKeepsEveryLatencyInItsIntervalEvenLateOnes) {
  // Three hours, coarsened twice on the way (1 s, 2 s, then 4 s intervals), with requests
  // recorded after later ones; each 4 s interval must hold exactly what was recorded in it.
  constexpr std::size_t seconds = 3 * 3600;
  TimeSeries series;
  std::vector<wsload::Histogram> expected(seconds / 4, wsload::Interval{}.latency);
  const auto record = [&](std::size_t second, std::int64_t us) {
    series.record(second, us);
    expected[second / 4].record(us);
  };
  for (std::size_t second = 0; second < seconds; ++second) {
    for (int i = 0; i < 5; ++i) record(second, static_cast<std::int64_t>(100 + second % 997 * i));
    if (second % 97 == 0 && second >= 9) record(second - 9, 777'000);
  }
  ASSERT_EQ(series.resolution(), 4u);
  ASSERT_EQ(series.intervals(), expected.size());
  for (std::size_t k = 0; k < expected.size(); ++k) {
    const auto got = series.interval(k).latency;
    ASSERT_EQ(got.count(), expected[k].count()) << k;
    ASSERT_EQ(got.counts(), expected[k].counts()) << k;
    ASSERT_EQ(got.max(), expected[k].max()) << k;
    ASSERT_EQ(got.min(), expected[k].min()) << k;
  }
}

TEST(TimeSeries, CoarseSeriesMergeIntervalByInterval) {
  // Two engine threads' series of two hours (2 s intervals), the second slow for 2 s.
  TimeSeries a;
  TimeSeries b;
  for (std::size_t second = 0; second < 2 * 3600; ++second) {
    a.record(second, 1000);
    b.record(second, second / 2 == 2000 ? 100'000 : 2000);
  }
  ASSERT_EQ(a.resolution(), 2u);
  a.merge(b);
  ASSERT_EQ(a.intervals(), 3600u);
  const auto slow = a.interval(2000);
  EXPECT_EQ(slow.requests(), 4u);
  EXPECT_EQ(slow.seconds, 2);
  EXPECT_EQ(slow.latency.max(), 100'000) << "exact, as recorded";
  EXPECT_EQ(slow.latency.min(), 1000);
  EXPECT_EQ(a.interval(1999).latency.max(), 2000);
  // Shifted by 2 s it needs 3601 intervals of 2 s: too many, so 4 s ones.
  TimeSeries shifted;
  shifted.merge(b, 2);
  EXPECT_EQ(shifted.seconds().size(), 2u * 3600 + 2);
  ASSERT_EQ(shifted.resolution(), 4u);
  EXPECT_EQ(shifted.interval(1000).latency.max(), 100'000) << "seconds 4002-4003 of 4000-4003";
  EXPECT_EQ(shifted.interval(1001).latency.max(), 2000);
}

TEST(WindowThresholds, SayWhenTheSeriesIsCoarserThanTheWindow) {
  TimeSeries series;  // 3 h with no window to keep: 4 s intervals
  for (std::size_t second = 0; second < 3 * 3600; ++second) series.record(second, 1000);
  ASSERT_EQ(series.resolution(), 4u);
  const auto v = evaluate_windows(parse_threshold("p99<500us over 10s"), series);
  EXPECT_FALSE(v.passed);
  EXPECT_NE(v.message.find("latency is kept per 4 s here"), std::string::npos) << v.message;
  const auto counts = evaluate_windows(parse_threshold("requests>=10 over 10s"), series);
  EXPECT_TRUE(counts.passed) << counts.message;
  EXPECT_EQ(counts.message.find("latency is kept"), std::string::npos) << counts.message;
}

TEST(SummaryJson, ACoarseSeriesKeepsItsSecondsThroughTheJson) {
  wsload::Summary s;  // a consistent one: the reader checks that the figures add up
  for (std::size_t second = 0; second < 3 * 3600; ++second) {
    const auto us = static_cast<std::int64_t>(1000 + second % 50);
    s.time_series.record(second, us);
    s.latency.record(us);
    ++s.successful_requests;
    if (second % 1000 == 3) {
      s.time_series.fail(second, 2);
      s.failed_requests += 2;
    }
  }
  s.total_requests = s.successful_requests + s.failed_requests;
  s.errors = {{wsload::ErrorKind::reply_timeout, "", s.failed_requests}};
  const auto j = to_json(s);
  const auto back = wsload::summary_from_json(j);
  ASSERT_EQ(back.time_series.seconds().size(), 3u * 3600);
  for (std::size_t second = 0; second < 3 * 3600; ++second) {
    ASSERT_EQ(back.time_series.seconds()[second].succeeded, 1u);
    ASSERT_EQ(back.time_series.seconds()[second].failed, second % 1000 == 3 ? 2u : 0u);
  }
  EXPECT_LE(j["time_series"]["intervals"].size(), TimeSeries::max_intervals);
  EXPECT_EQ(to_json(back), j);
}

/// A summary of `seconds` one-second intervals, as a hostile or foreign writer may send.
nlohmann::json long_series(std::size_t seconds) {
  wsload::Summary s;  // its totals agree with the series it will have
  s.time_series.record(0, 1000);
  s.latency.record(1000, static_cast<std::int64_t>(seconds));
  s.successful_requests = s.total_requests = seconds;
  auto j = to_json(s);
  const auto one = j["time_series"]["intervals"][0];
  j["time_series"]["intervals"] = nlohmann::json::array();
  for (std::size_t i = 0; i < seconds; ++i) j["time_series"]["intervals"].push_back(one);
  j["time_series"]["start"] = 1.8e9;
  return j;
}

std::string reading_refusal(const nlohmann::json& j) {
  try {
    wsload::summary_from_json(j, "shard.json");
  } catch (const wsload::ConfigError& e) {
    return e.what();
  }
  return "(read)";
}

TEST(SummaryJson, ReadsAVeryLongSeriesInBoundedMemory) {
  const auto j = long_series(20'000);
  const auto before = heap_in_use();
  const auto s = wsload::summary_from_json(j);
  EXPECT_LT(heap_in_use() - before, 4u << 20) << "bytes (530 MB before)";
  ASSERT_EQ(s.time_series.seconds().size(), 20'000u);
  for (const auto& second : s.time_series.seconds()) ASSERT_EQ(second.succeeded, 1u);
}

TEST(SummaryJson, RefusesASeriesThatSpansWhatNoRunCan) {
  auto j = long_series(2);
  j["time_series"]["start"] = 1e300;
  EXPECT_NE(reading_refusal(j).find("shard.json: time_series.start"), std::string::npos)
      << reading_refusal(j);
  j["time_series"]["start"] = -5;
  EXPECT_NE(reading_refusal(j).find("shard.json: time_series.start"), std::string::npos)
      << reading_refusal(j);
  j = long_series(2);
  j["time_series"]["interval"] = 1e300;
  EXPECT_NE(reading_refusal(j).find("shard.json: time_series.interval"), std::string::npos)
      << reading_refusal(j);
  j = long_series(2);
  j["time_series"]["intervals"][1]["seconds"] = 1e9;
  EXPECT_NE(reading_refusal(j).find("shard.json: time_series.intervals"), std::string::npos)
      << reading_refusal(j);
}

}  // namespace
