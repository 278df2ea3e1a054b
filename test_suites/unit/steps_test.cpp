// Figures per step and per check: their JSON, merge, thresholds that select them, and
// every consumer of a summary (console, HTML, JUnit, compare).
#include <wsload/compare.hpp>
#include <wsload/merge.hpp>
#include <wsload/render/console.hpp>
#include <wsload/render/html.hpp>
#include <wsload/render/junit.hpp>
#include <wsload/results/runs.hpp>
#include <wsload/results/steps.hpp>

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace wsload;

// Names a user may give: brackets, quotes, spaces, operators, non-ASCII, a dot.
const std::string hostile = "log]in \"now\" <fast> [ünïcødé] v1.2";

/// A run whose session named `login` (1,204 attempts, 4 failed), `subscribe` and a
/// hostile name, with two checks.
Summary with_steps() {
  Summary s;
  s.name = "graphql";
  s.total_requests = s.successful_requests = 10;
  s.total_time = Seconds(2);
  for (int i = 0; i < 10; ++i) s.latency.record(1'000 + i);
  auto& login = s.steps["login"];
  for (int i = 0; i < 1'200; ++i) login.record_success(300'000 + i * 10, 1'000 + i);
  login.record_failure("timeout");
  login.record_failure("timeout");
  login.record_failure("timeout");
  login.record_failure("check");
  for (int i = 0; i < 100; ++i) s.steps["subscribe"].record_success(5'000 + i, 2'000);
  s.steps[hostile].record_success(42'000, 41'000);
  s.checks["has answer"] = {.passes = 98, .failures = 2};
  s.checks[hostile] = {.passes = 1, .failures = 0};
  return s;
}

Threshold parse(const std::string& text) {
  return parse_threshold(text);
}

TEST(Steps, RoundTripExactlyWithHostileNames) {
  const auto s = with_steps();
  const auto j = to_json(s);
  ASSERT_TRUE(j.contains("steps"));
  EXPECT_EQ(j["steps"]["login"]["count"], 1'204);
  EXPECT_EQ(j["steps"]["login"]["failures"], 4);
  EXPECT_EQ(j["steps"]["login"]["failures_by_kind"]["timeout"], 3);
  EXPECT_EQ(j["steps"]["login"]["latency"]["count"], 1'200);
  EXPECT_TRUE(j["steps"]["login"]["latency"]["percentiles"].contains("95"));
  EXPECT_EQ(j["steps"]["login"]["ttfb"]["histogram"]["data"].get<std::string>().rfind("HISTF", 0),
            0u);
  EXPECT_EQ(j["checks"]["has answer"]["passes"], 98);
  EXPECT_DOUBLE_EQ(j["checks"]["has answer"]["share"].get<double>(), 98.0);
  EXPECT_EQ(j["steps"][hostile]["count"], 1);

  const auto back = summary_from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(to_json(back), j);
  ASSERT_EQ(back.steps.size(), 3u);
  EXPECT_EQ(back.steps.at("login").latency.counts(), s.steps.at("login").latency.counts());
  EXPECT_EQ(back.steps.at(hostile).ttfb.max(), 41'000);
  EXPECT_EQ(back.checks.at(hostile).passes, 1u);
}

TEST(Steps, AbsentWhenNoStepRanSoOldSummariesReadUnchanged) {
  Summary s;
  s.total_requests = s.successful_requests = 1;
  s.latency.record(10);
  const auto j = to_json(s);
  EXPECT_FALSE(j.contains("steps"));
  EXPECT_FALSE(j.contains("checks"));
  const auto back = summary_from_json(j);
  EXPECT_TRUE(back.steps.empty());
  EXPECT_EQ(to_json(back), j);
}

TEST(Steps, FiguresThatDoNotAddUpAreRefusedNamingTheStep) {
  const auto j = to_json(with_steps());
  const auto refused = [&](const std::function<void(nlohmann::json&)>& edit, const char* needle) {
    auto edited = j;
    edit(edited);
    try {
      (void)summary_from_json(edited, "run.json");
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("run.json"), std::string::npos) << e.what();
    }
  };
  refused([](auto& e) { e["steps"]["login"]["failures"] = 2'000; },
          "steps[\"login\"].failures: 2000 is more than its count 1204");
  refused([](auto& e) { e["steps"]["login"]["failures_by_kind"]["timeout"] = 1; },
          "steps[\"login\"].failures_by_kind: they sum to 2, but failures is 4");
  refused([](auto& e) { e["steps"]["login"]["count"] = 1'205; },
          "steps[\"login\"].latency.histogram: holds 1200 samples, but the step succeeded 1201");
  refused([](auto& e) { e["steps"]["login"]["count"] = -1; }, "steps[\"login\"].count: -1");
  refused([](auto& e) { e["steps"]["login"].erase("ttfb"); },
          "steps[\"login\"]: lacks the field ttfb");
  refused([](auto& e) { e["steps"][hostile]["failures"] = 1.5; },
          R"(steps["log]in \"now\" <fast> [ünïcødé] v1.2"].failures: 1.5)");
  refused([](auto& e) { e["checks"]["has answer"]["passes"] = "many"; },
          "checks[\"has answer\"].passes");
  refused([](auto& e) { e["steps"] = nlohmann::json::array(); }, "steps: is not an object");
}

TEST(Steps, MergeByNameWithHistogramsExactly) {
  auto a = with_steps();
  Summary b;
  for (int i = 0; i < 50; ++i) b.steps["login"].record_success(900'000 + i, 10);
  b.steps["login"].record_failure("closed");
  b.steps["only here"].record_failure("send");
  b.checks["has answer"] = {.passes = 2, .failures = 0};
  Histogram whole = a.steps["login"].latency;
  whole.merge(b.steps["login"].latency);

  merge_by_name(a.steps, b.steps);
  merge_by_name(a.checks, b.checks);
  const auto& login = a.steps.at("login");
  EXPECT_EQ(login.count, 1'255u);
  EXPECT_EQ(login.failures, 5u);
  EXPECT_EQ(login.failures_by_kind.at("closed"), 1u);
  EXPECT_EQ(login.failures_by_kind.at("timeout"), 3u);
  EXPECT_EQ(login.latency.counts(), whole.counts());
  EXPECT_EQ(login.latency.value_at_percentile(99), whole.value_at_percentile(99));
  EXPECT_EQ(a.steps.at("only here").failures, 1u);
  EXPECT_EQ(a.checks.at("has answer").passes, 100u);
}

TEST(Steps, ShardsMergeTheirStepsAndJudgeStepThresholds) {
  std::vector<RunRecord> parts;
  for (std::size_t k = 0; k < 2; ++k) {
    Summary s;
    s.shard = Shard{k, 2};
    s.config = {{"thresholds", {"p95[login]<200ms", "checks[has answer]>=99%"}}};
    s.total_time = Seconds(1);
    for (int i = 0; i < 100; ++i) s.steps["login"].record_success(k ? 500'000 : 1'000, 10);
    s.checks["has answer"] = {.passes = 100, .failures = 0};
    parts.push_back({.summary = summary_from_json(to_json(s), "shard.json"), .source = "shard"});
  }
  const auto m = merge_shards(parts);
  EXPECT_EQ(m.steps.at("login").count, 200u);
  EXPECT_EQ(m.checks.at("has answer").passes, 200u);
  ASSERT_EQ(m.verdicts.size(), 2u);
  EXPECT_FALSE(m.verdicts[0].passed) << m.verdicts[0].message;
  EXPECT_EQ(m.verdicts[0].message, "p95[login] 500 ms > 200 ms (200 steps)");
  EXPECT_TRUE(m.verdicts[1].passed) << m.verdicts[1].message;
}

TEST(StepThresholds, ParseWithTheirSelectorKept) {
  auto t = parse("p95[login]<200ms");
  EXPECT_EQ(t.selector, "login");
  EXPECT_EQ(t.figure, Figure::latency_percentile);
  EXPECT_DOUBLE_EQ(t.limit, 0.2);
  EXPECT_EQ(t.expression, "p95[login]<200ms");

  t = parse("success_rate[subscribe] >= 99%");
  EXPECT_EQ(t.selector, "subscribe");
  EXPECT_EQ(t.figure, Figure::success_rate);
  EXPECT_EQ(t.expression, "success_rate[subscribe]>=99%");

  t = parse("checks[has answer]>=99%");
  EXPECT_EQ(t.figure, Figure::checks);
  EXPECT_EQ(t.selector, "has answer");  // spaces in a name are kept
  EXPECT_EQ(t.expression, "checks[has answer]>=99%");

  EXPECT_EQ(parse("ttfb_p99[x]<1s").timing, Timing::first_frame);
  EXPECT_EQ(parse("avg[x]<1s").figure, Figure::latency_mean);
  EXPECT_EQ(parse("count[x]>=100").figure, Figure::requests);
  EXPECT_EQ(parse("errors[x]==0").figure, Figure::errors);
  EXPECT_EQ(parse("checks>=99%").selector, "");

  // Any name: brackets, quotes, operators and spaces inside; the expression parses back.
  t = parse("p99[" + hostile + "]<=1s");
  EXPECT_EQ(t.selector, hostile);
  EXPECT_EQ(parse(t.expression).selector, hostile);
  EXPECT_EQ(parse("p95[a]<b]<1s").selector, "a]<b");
}

TEST(StepThresholds, BadSelectorsNameTheThreshold) {
  for (const auto& [text, reason] : std::vector<std::pair<std::string, std::string>>{
           {"p95[]<200ms", "the brackets name no step or check"},
           {"p95[login<200ms", "unbalanced brackets"},
           {"p95login]<200ms", "unbalanced brackets"},
           {"p95]login[<200ms", "unbalanced brackets"},
           {"[login]<200ms", "no figure before '['"},
           {"p95[login]x<200ms", "the comparison must follow ']'"},
           {"p95<200ms[login]", "the brackets must follow the figure"},
           {"rps[login]>=1", "a step takes"},
           {"requests<8 checks[x]>=99%", "the brackets must follow the figure"},
           {"ttft_p95[login]<1s", "a step takes"},
           {"goodput[login]>=1", "a step takes"},
           {"p95[login]<200ms over 10s", "windows hold the whole run"},
           {"checks[x]>=101%", "checks cannot exceed 100%"},
           {"checks[x]>=99ms", "checks is in percent"},
           {"ttfb_checks>=99%", "ttfb_ takes a latency figure"},
       }) {
    try {
      (void)parse(text);
      ADD_FAILURE() << "accepted " << text;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), "threshold");
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  }
}

TEST(StepThresholds, JudgeTheStepAndSayWhatAPersonCanActOn) {
  auto s = with_steps();
  s.judge({parse("p95[login]<200ms"), parse("p95[login]<1s"), parse("success_rate[login]>=99%"),
           parse("count[login]>=1000"), parse("errors[login]==0"), parse("ttfb_p99[subscribe]<1ms"),
           parse("checks[has answer]>=99%"), parse("checks>=90%"),
           parse("p99[" + hostile + "]<1s")});
  const auto& v = s.verdicts;
  ASSERT_EQ(v.size(), 9u);
  EXPECT_FALSE(v[0].passed);
  EXPECT_EQ(v[0].message,
            "p95[login] 311.6 ms > 200 ms (1,204 steps, 4 failed: 1 check, 3 timeout)");
  EXPECT_TRUE(v[1].passed) << v[1].message;
  EXPECT_NEAR(*v[0].actual, 0.3115, 0.001);
  EXPECT_TRUE(v[2].passed) << v[2].message;  // 99.67 %
  EXPECT_TRUE(v[3].passed) << v[3].message;
  EXPECT_FALSE(v[4].passed);
  EXPECT_EQ(*v[4].actual, 4);
  EXPECT_FALSE(v[5].passed);  // ttfb 2 ms
  EXPECT_NE(v[5].message.find("ttfb_p99[subscribe] 2 ms > 1 ms (100 steps)"), std::string::npos)
      << v[5].message;
  EXPECT_FALSE(v[6].passed);
  EXPECT_EQ(v[6].message, "checks[has answer] 98 % < 99 % (98 of 100 checks passed)");
  EXPECT_TRUE(v[7].passed) << v[7].message;
  EXPECT_EQ(v[7].message, "checks 98.02 % > 90 % (99 of 101 checks passed)");
  EXPECT_TRUE(v[8].passed) << v[8].message;
  EXPECT_EQ(s.figure(parse("count[subscribe]>=1")), 100);
}

TEST(StepThresholds, AStepThatNeverRanFailsSayingSo) {
  auto s = with_steps();
  s.judge({parse("p95[logn]<200ms"), parse("count[logn]>=0"), parse("checks[typo]>=1%")});
  ASSERT_EQ(s.verdicts.size(), 3u);
  for (const auto& v : s.verdicts) {
    EXPECT_FALSE(v.passed) << v.expression;
    EXPECT_FALSE(v.actual) << v.expression;
  }
  EXPECT_EQ(s.verdicts[0].message, "step 'logn' never ran, so 'p95[logn]<200ms' cannot be met");
  EXPECT_EQ(s.verdicts[2].message,
            "check 'typo' was never evaluated, so 'checks[typo]>=1%' cannot be met");
  // After a warm-up, a step may have run only inside it, where no figure counts it.
  s.config["warmup"] = 2.0;
  s.judge({parse("p95[logn]<200ms"), parse("checks[typo]>=1%")});
  EXPECT_EQ(s.verdicts[0].message,
            "step 'logn' never ran after the warm-up, so 'p95[logn]<200ms' cannot be met");
  EXPECT_EQ(s.verdicts[1].message,
            "check 'typo' was never evaluated after the warm-up, so 'checks[typo]>=1%' cannot be "
            "met");
  // A step that ran but never succeeded has no latency.
  Summary failing;
  failing.steps["login"].record_failure("timeout");
  failing.judge({parse("p95[login]<1s")});
  EXPECT_EQ(failing.verdicts[0].message,
            "p95[login] has no samples: all 1 step failed (1 timeout), so 'p95[login]<1s' cannot "
            "be met");
}

TEST(StepReports, ConsoleHtmlAndJUnitShowStepsOnlyWhenThereAreSome) {
  auto s = with_steps();
  s.judge({parse("p95[login]<200ms")});
  const auto text = format_report(s);
  EXPECT_NE(text.find("  Steps (ms):"), std::string::npos) << text;
  EXPECT_NE(text.find("    login"), std::string::npos) << text;
  EXPECT_NE(text.find("1,204"), std::string::npos) << text;
  EXPECT_NE(text.find("(1 check, 3 timeout)"), std::string::npos) << text;
  EXPECT_NE(text.find("has answer"), std::string::npos) << text;
  EXPECT_NE(text.find("98 of 100 passed (98 %)"), std::string::npos) << text;
  EXPECT_NE(text.find(hostile), std::string::npos) << text;
  EXPECT_LT(text.find("Steps (ms):"), text.find("Thresholds:"));

  const std::vector<RunRecord> runs{{.summary = s}};
  const auto html = html_report(runs);
  EXPECT_NE(html.find("<section id=\"steps\">"), std::string::npos);
  EXPECT_NE(html.find("<td>login</td><td>1,204</td><td>4</td>"), std::string::npos);
  EXPECT_EQ(html.find(hostile), std::string::npos) << "a name is escaped";
  EXPECT_NE(html.find(detail::escape_markup(hostile)), std::string::npos);

  const auto xml = junit_xml(runs);
  EXPECT_NE(xml.find("name=\"p95[login]&lt;200ms\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("p95[login] 311.6 ms &gt; 200 ms (1,204 steps"), std::string::npos);

  Summary plain;
  EXPECT_EQ(format_report(plain).find("Steps"), std::string::npos);
  EXPECT_EQ(html_report({{.summary = plain}}).find("id=\"steps\""), std::string::npos);
}

TEST(StepCompare, PerStepMetricsAreComparedLikeTheRunsOwn) {
  const auto samples = [](std::int64_t login_us, double failed_share) {
    Summary s;
    s.name = "chat";
    s.total_requests = s.successful_requests = 100;
    s.total_time = Seconds(1);
    for (int i = 0; i < 100; ++i) s.latency.record(1'000 + i);
    for (int i = 0; i < 1'000; ++i) {
      if (i < failed_share * 1'000) {
        s.steps[hostile].record_failure("timeout");
      } else {
        s.steps[hostile].record_success(login_us + i % 50, 10);
      }
    }
    s.steps["subscribe"].record_success(5'000, 10);
    RunSamples runs;
    detail::add_summary_samples(runs, "chat", s);
    return runs;
  };
  auto current = samples(20'000, 0.2);
  current["chat"].erase(detail::step_metric_key("subscribe", "success_rate"));
  current["chat"].erase(detail::step_metric_key("subscribe", "errors"));
  for (const char* p : {"avg", "p50", "p90", "p95", "p99", "p999"}) {
    current["chat"].erase(detail::step_metric_key("subscribe", p));
  }
  const auto c = compare_runs(samples(10'000, 0), current, {"p95", "success_rate"}, 10);
  const auto find = [&c](const std::string& metric) -> const MetricChange& {
    for (const auto& m : c.changes) {
      if (m.metric == metric) return m;
    }
    throw std::runtime_error("no " + metric);
  };
  EXPECT_EQ(find("p95").verdict, "same");
  EXPECT_EQ(find("steps." + hostile + ".p95").verdict, "regression");
  EXPECT_EQ(find("steps." + hostile + ".success_rate").verdict, "regression");
  EXPECT_EQ(c.regressions(), 2u);
  ASSERT_EQ(c.only_in_baseline.size(), 1u);
  EXPECT_EQ(c.only_in_baseline[0], "chat steps.subscribe");
  const auto table = format_comparison(c);
  EXPECT_NE(table.find("steps." + hostile + ".p95"), std::string::npos) << table;
  EXPECT_NE(table.find("only in the baseline: chat steps.subscribe"), std::string::npos);
}

}  // namespace
