#include <wsload/render/sweep.hpp>
#include <wsload/results/sweep.hpp>
#include <wsload/sweep.hpp>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../support/scratch.hpp"

namespace {

using namespace wsload;
using namespace std::chrono_literals;

// A run at `rate` of a service that keeps p95 under 200 ms up to `capacity` requests/s.
Summary run_against(double rate, double capacity, bool fell_short = false) {
  Summary s;
  s.total_requests = s.successful_requests = 10;
  s.total_time = Seconds(1);
  const std::int64_t latency_us = rate <= capacity ? 20'000 : 900'000;
  for (int i = 0; i < 10; ++i) s.latency.record(latency_us);
  s.connections_configured = s.connections_opened = 1;
  s.schedule = ScheduleReport{.target_rate = rate,
                              .achieved_rate = fell_short ? rate / 2 : rate,
                              .due = 10,
                              .sent = fell_short ? 5u : 10u,
                              .not_sent = fell_short ? 5u : 0u};
  s.judge({parse_threshold("p95<200ms")});
  return s;
}

SweepRunner service_of_capacity(double capacity, std::vector<double>& ran) {
  return [capacity, &ran](double rate, std::chrono::milliseconds) {
    ran.push_back(rate);
    return run_against(rate, capacity);
  };
}

TEST(SweepPlan, GeometricStepsEndAtTheUpperRate) {
  EXPECT_EQ(geometric_rates(25, 400, 2), (std::vector<double>{25, 50, 100, 200, 400}));
  EXPECT_EQ(geometric_rates(10, 100, 3), (std::vector<double>{10, 30, 90, 100}));
  EXPECT_EQ(geometric_rates(5, 5, 2), (std::vector<double>{5}));
}

TEST(SweepPlan, GeometricStopsAfterTheFirstFailingRateUnlessAskedToGoOn) {
  std::vector<double> ran;
  SweepOptions o{.rate_from = 25, .rate_to = 400, .factor = 2, .step_duration = 1s};
  const auto stopped = run_sweep(o, service_of_capacity(80, ran));
  EXPECT_EQ(ran, (std::vector<double>{25, 50, 100}));
  EXPECT_EQ(stopped.knee().rate, 50);
  EXPECT_EQ(stopped.knee().first_failing_rate, 100);
  EXPECT_FALSE(stopped.knee().generator_limited);

  ran.clear();
  o.stop_after_failure = false;
  const auto all = run_sweep(o, service_of_capacity(80, ran));
  EXPECT_EQ(ran, (std::vector<double>{25, 50, 100, 200, 400}));
  EXPECT_EQ(all.knee().rate, 50);
}

TEST(SweepPlan, SearchConvergesOnTheCapacityWithinItsPrecision) {
  std::vector<double> ran;
  const SweepOptions o{.mode = SweepMode::search,
                       .search_low = 10,
                       .search_high = 1000,
                       .precision = 0.05,
                       .step_duration = 1s};
  const auto r = run_sweep(o, service_of_capacity(137, ran));
  ASSERT_GE(ran.size(), 3u);
  EXPECT_EQ(ran[0], 10);
  EXPECT_EQ(ran[1], 1000);
  EXPECT_LE(ran.size(), search_steps(10, 1000, 0.05));
  const auto knee = r.knee();
  ASSERT_TRUE(knee.rate && knee.first_failing_rate);
  EXPECT_LE(*knee.rate, 137);
  EXPECT_GT(*knee.first_failing_rate, 137);
  EXPECT_LE(*knee.first_failing_rate / *knee.rate, 1.05);
}

TEST(SweepPlan, SearchStopsAtABoundThatDecides) {
  std::vector<double> ran;
  const SweepOptions o{
      .mode = SweepMode::search, .search_low = 10, .search_high = 100, .step_duration = 1s};
  const auto low_fails = run_sweep(o, service_of_capacity(5, ran));
  EXPECT_EQ(ran, (std::vector<double>{10}));
  EXPECT_FALSE(low_fails.knee().rate);
  ran.clear();
  const auto high_holds = run_sweep(o, service_of_capacity(500, ran));
  EXPECT_EQ(ran, (std::vector<double>{10, 100}));
  EXPECT_EQ(high_holds.knee().rate, 100);
  EXPECT_NE(high_holds.knee().note.find("at or above 100"), std::string::npos);
}

TEST(SweepPlan, AGeneratorThatFellShortIsNoVerdictOnTheService) {
  SweepResult r;
  r.steps.push_back({.offered_rate = 50, .summary = run_against(50, 1000)});
  r.steps.push_back({.offered_rate = 100, .summary = run_against(100, 1000, true)});
  const auto knee = r.knee();
  EXPECT_EQ(knee.rate, 50);
  EXPECT_TRUE(knee.generator_limited);
  EXPECT_NE(knee.note.find("no verdict on the service"), std::string::npos) << knee.note;
  EXPECT_NE(format_sweep(r).find("generator fell short"), std::string::npos) << format_sweep(r);
}

TEST(SweepPlan, AnInterruptedRateEndsTheSweepAndJudgesNothing) {
  int runs = 0;
  const auto r = run_sweep({.rate_from = 1, .rate_to = 8, .step_duration = 1s},
                           [&runs](double rate, std::chrono::milliseconds) {
                             auto s = run_against(rate, 100);
                             s.interrupted = ++runs == 2;
                             return s;
                           });
  EXPECT_EQ(r.steps.size(), 2u);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.knee().rate, 1);
  EXPECT_FALSE(r.knee().first_failing_rate);
}

TEST(SweepOptionsCheck, RefusesWhatNoSweepCanRunNamingTheFlag) {
  const auto refusal = [](const SweepOptions& o) -> std::string {
    try {
      validate(o);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_NE(refusal({.rate_from = 0, .rate_to = 10}).find("--rate-from"), std::string::npos);
  EXPECT_NE(refusal({.rate_from = 20, .rate_to = 10}).find("--rate-to"), std::string::npos);
  EXPECT_NE(refusal({.rate_from = 1, .rate_to = 10, .factor = 1}).find("--factor"),
            std::string::npos);
  EXPECT_NE(refusal({.rate_from = 1, .rate_to = 1e6, .factor = 1.01}).find("--factor"),
            std::string::npos);
  EXPECT_NE(
      refusal({.mode = SweepMode::search, .search_low = 10, .search_high = 10}).find("--search"),
      std::string::npos);
  EXPECT_NE(refusal({.mode = SweepMode::search, .search_low = 1, .search_high = 10, .precision = 0})
                .find("--precision"),
            std::string::npos);
  EXPECT_NE(refusal({.rate_from = 1, .rate_to = 10, .step_duration = 0ms}).find("--step-duration"),
            std::string::npos);
  EXPECT_EQ(refusal({.rate_from = 1, .rate_to = 10}), "(accepted)");
}

class SweepFile : public wsload::test::ScratchTest {};

TEST_F(SweepFile, RoundTripsEveryRateWithItsWholeSummary) {
  SweepResult r{.mode = SweepMode::search};
  r.steps.push_back({.offered_rate = 40, .summary = run_against(40, 60)});
  r.steps.push_back({.offered_rate = 80, .summary = run_against(80, 60)});
  const auto path = dir_ / "sweep.json";
  write_sweep(path, r);
  const auto json = nlohmann::json::parse(read_text(path));
  EXPECT_EQ(json["schema"], "wsload.sweep/1");
  EXPECT_EQ(json["knee"], 40);
  EXPECT_EQ(json["steps"][1]["summary"]["p95_latency"], 0.9);
  const auto back = read_sweep(path);
  EXPECT_EQ(back.mode, SweepMode::search);
  ASSERT_EQ(back.steps.size(), 2u);
  EXPECT_EQ(back.steps[1].offered_rate, 80);
  EXPECT_EQ(back.steps[1].summary.latency.count(), 10u);
  EXPECT_FALSE(back.steps[1].passed());
  EXPECT_EQ(back.steps[0].achieved_rate(), 40);
  EXPECT_EQ(to_json(back), to_json(r));
}

TEST_F(SweepFile, RefusesAFileOfAnotherShapeNamingItAndTheStep) {
  const auto refusal = [this](const std::string& text) -> std::string {
    const auto path = write("bad.json", text);
    try {
      read_sweep(path);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "(read)";
  };
  EXPECT_NE(refusal(R"({"schema":"wsload.summary/1"})").find("not a wsload sweep"),
            std::string::npos);
  SweepResult r;
  r.steps.push_back({.offered_rate = 40, .summary = run_against(40, 60)});
  auto json = to_json(r);
  json["steps"][0]["summary"]["total_requests"] = 11;  // no longer adds up
  EXPECT_NE(refusal(json.dump()).find("steps[0]"), std::string::npos) << refusal(json.dump());
  json = to_json(r);
  json["steps"][0].erase("offered_rate");
  EXPECT_NE(refusal(json.dump()).find("offered_rate"), std::string::npos);
}

TEST(SweepRender, TableAndPageShowEveryRateAndTheKnee) {
  SweepResult r;
  for (double rate : {25.0, 50.0, 100.0}) {
    r.steps.push_back({.offered_rate = rate, .summary = run_against(rate, 60)});
  }
  const auto table = format_sweep(r);
  EXPECT_NE(table.find("p95 ms"), std::string::npos);
  EXPECT_NE(table.find("FAIL p95<200ms"), std::string::npos) << table;
  EXPECT_NE(table.find("Knee: 50 requests/s"), std::string::npos) << table;
  const auto html = sweep_html(r);
  EXPECT_NE(html.find("id=\"sweep-latency\""), std::string::npos);
  EXPECT_NE(html.find("id=\"sweep-throughput\""), std::string::npos);
  EXPECT_NE(html.find("data-points=\"3\""), std::string::npos);
  EXPECT_NE(html.find("Knee: 50 requests/s"), std::string::npos);
}

TEST(SweepRender, StreamedFiguresAndGoodputAreColumnsWhenARateHasThem) {
  SweepResult plain;
  plain.steps.push_back({.offered_rate = 25, .summary = run_against(25, 60)});
  for (const char* column : {"ttft p95", "tpot p95", "goodput/s"}) {
    EXPECT_EQ(format_sweep(plain).find(column), std::string::npos) << column;
  }
  SweepResult streamed;
  for (double rate : {25.0, 50.0}) {
    auto s = run_against(rate, 60);
    s.frames_received = 40;  // four frames a reply
    s.ttfb.record(5'000, 10);
    s.ttft.record(rate == 25 ? 40'000 : 90'000, 10);
    s.tpot.record(12'000, 10);
    s.good_requests = rate == 25 ? 10 : 4;
    s.config["slo"] = "ttft<50ms";
    streamed.steps.push_back({.offered_rate = rate, .summary = s});
  }
  const auto table = format_sweep(streamed);
  for (const char* column : {"ttft p95", "tpot p95", "goodput/s"}) {
    EXPECT_NE(table.find(column), std::string::npos) << column << "\n" << table;
  }
  // The 50/s row: TTFT p95 90 ms, TPOT 12 ms, 4 good requests in its second.
  const auto row = table.substr(table.find("\n          50"));
  EXPECT_NE(row.find(" 90 "), std::string::npos) << table;
  EXPECT_NE(row.find(" 12 "), std::string::npos) << table;
  EXPECT_NE(row.find(" 4 "), std::string::npos) << table;
  const auto html = sweep_html(streamed);
  EXPECT_NE(html.find("goodput (met every SLO)"), std::string::npos);
  EXPECT_NE(html.find("<th>goodput/s</th>"), std::string::npos);
}

}  // namespace
