#include <wsload/schedule.hpp>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using wsload::Schedule;
using wsload::Seconds;

TEST(Schedule, ConstantRateIsEvenlySpaced) {
  const Schedule s(200, Seconds(5), 0);
  EXPECT_EQ(s.total(), 1000u);
  EXPECT_DOUBLE_EQ(s.at(0).count(), 0);
  EXPECT_NEAR(s.at(1).count(), 0.005, 1e-12);
  EXPECT_NEAR(s.at(999).count(), 4.995, 1e-9);
  EXPECT_DOUBLE_EQ(s.duration().count(), 5);
}

TEST(Schedule, WithoutADurationTheCountBoundsIt) {
  const Schedule s(50, Seconds(0), 120);
  EXPECT_EQ(s.total(), 120u);
  EXPECT_NEAR(s.at(119).count(), 2.38, 1e-9);
}

TEST(Schedule, RampsArriveAtTheRateOfEachMoment) {
  // 0 -> 100/s over 10 s (500 arrivals), 100/s for 5 s (500), 100 -> 0 over 10 s (500).
  const Schedule s(0, {{10s, 100}, {5s, 100}, {10s, 0}});
  EXPECT_EQ(s.total(), 1500u);
  EXPECT_DOUBLE_EQ(s.duration().count(), 25);
  // Arrivals by time t on the up-ramp are 5 t^2: the 125th is due at 5 s.
  EXPECT_NEAR(s.at(125).count(), 5, 1e-9);
  EXPECT_NEAR(s.at(500).count(), 10, 1e-9);
  EXPECT_NEAR(s.at(750).count(), 12.5, 1e-9);
  // On the down-ramp, 1000 + 100 t - 5 t^2 arrivals: the 1375th at 5 s into it.
  EXPECT_NEAR(s.at(1375).count(), 20, 1e-9);
  EXPECT_NEAR(s.rate_at(Seconds(5)), 50, 1e-9);
  EXPECT_NEAR(s.rate_at(Seconds(20)), 50, 1e-9);
  // Due times never go backwards.
  for (std::uint64_t n = 1; n < s.total(); ++n) ASSERT_GE(s.at(n), s.at(n - 1)) << n;
}

TEST(Schedule, PerSecondCountsFollowTheRamp) {
  const Schedule s(0, {{10s, 200}});
  std::vector<int> per_second(10);
  for (std::uint64_t n = 0; n < s.total(); ++n)
    ++per_second.at(static_cast<std::size_t>(s.at(n).count()));
  for (int second = 0; second < 10; ++second) {
    EXPECT_NEAR(per_second[second], 20 * second + 10, 1) << second;  // the rate mid-second
  }
}

TEST(Stages, ParseDurationsAndTargets) {
  const auto stages = wsload::parse_stages("30s:100,1m:200,500ms:0");
  ASSERT_EQ(stages.size(), 3u);
  EXPECT_EQ(stages[0].duration, 30s);
  EXPECT_EQ(stages[0].target, 100);
  EXPECT_EQ(stages[1].duration, 60s);
  EXPECT_EQ(stages[2].duration, 500ms);
  for (const char* bad : {"", "30s", "30:100", "30s:-1", "0s:5", "30s:fast", "30s:100,", "2d:1"}) {
    EXPECT_THROW(wsload::parse_stages(bad), wsload::ConfigError) << bad;
  }
}

}  // namespace
