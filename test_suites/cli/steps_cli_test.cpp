// The real `wsload` binary on figures per step and per check: step thresholds on a run
// (bad selectors are bad input, a step that never ran fails), and merge, report and
// compare of summaries with steps (written here: no session engine needed).
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <wsload/results/runs.hpp>
#include <wsload/testing/server.hpp>

#include "../support/process.hpp"
#include "../support/scratch.hpp"

namespace {

using wsload::test::run_process;

// A name a user may give a step: brackets, quotes, an operator, spaces, non-ASCII.
const std::string hostile = "log]in \"now\" <ünï>";

class StepsCli : public wsload::test::ScratchTest {
 protected:
  /// A summary whose `login` and hostile step took `login_us`, written to `file`; shard
  /// `shard` of 2 when given, with thresholds on the steps in its configuration.
  std::string summary(const std::string& file, std::int64_t login_us, int shard = -1) const {
    wsload::Summary s;
    s.name = "graphql";
    s.total_requests = s.successful_requests = 200;
    s.connections_configured = s.connections_opened = 2;
    s.total_time = wsload::Seconds(2);
    for (int i = 0; i < 200; ++i) s.latency.record(1'000 + i % 10);
    for (int i = 0; i < 2'000; ++i) {
      s.steps["login"].record_success(login_us + (i * 37) % 500, 900);
      s.steps[hostile].record_success(login_us, 900);
    }
    s.steps["login"].record_failure("timeout");
    s.checks["has answer"] = {.passes = 1'999, .failures = 1};
    if (shard >= 0) {
      s.shard = wsload::Shard{static_cast<std::size_t>(shard), 2};
      s.config = {{"thresholds", {"p95[login]<200ms", "checks[has answer]>=99%"}}};
    }
    wsload::write_summary(s, dir_ / file);
    return (dir_ / file).string();
  }
};

TEST_F(StepsCli, BadSelectorsAreBadInputNamingTheThresholdBeforeAnyTraffic) {
  wsload::testing::Server server;
  const auto prompts = write("prompts.txt", "hello\n").string();
  for (const std::string bad : {"p95[]<200ms", "p95[login<200ms", "p95login]<200ms"}) {
    const auto r = run_process({WSLOAD_CLI, "run", "--url", server.url(), "--prompts", prompts,
                                "--summary", (dir_ / "s.json").string(), "--threshold", bad},
                               wsload::test::clean_wsload_env());
    EXPECT_EQ(r.exit_code, 2) << bad << r.out << r.err;
    EXPECT_NE(r.err.find("--threshold"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
  }
  EXPECT_EQ(server.messages(), 0u);
}

TEST_F(StepsCli, AThresholdOnAStepThatNeverRanFailsTheRunSayingSo) {
  wsload::testing::Server server;
  const auto prompts = write("prompts.txt", "hello\n").string();
  const auto out = (dir_ / "s.json").string();
  const auto r = run_process({WSLOAD_CLI, "run", "--url", server.url(), "--prompts", prompts,
                              "--summary", out, "--threshold", "p95[login]<200ms"},
                             wsload::test::clean_wsload_env());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FAIL  p95[login]<200ms  step 'login' never ran"), std::string::npos)
      << r.out;
  const auto j = nlohmann::json::parse(read_text(out));
  EXPECT_FALSE(j.contains("steps")) << "no step ran: no steps object";
  EXPECT_EQ(j["config"]["thresholds"].back(), "p95[login]<200ms");
}

TEST_F(StepsCli, MergeJoinsShardsStepsAndJudgesStepThresholds) {
  const auto merged = (dir_ / "merged.json").string();
  const auto r = run_process({WSLOAD_CLI, "merge", summary("a.json", 1'000, 0),
                              summary("b.json", 300'000, 1), "--out", merged});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("Steps (ms):"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL  p95[login]<200ms  p95[login] "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(4,002 steps, 2 failed: 2 timeout)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS  checks[has answer]>=99%"), std::string::npos) << r.out;
  const auto s = wsload::read_summary(merged);
  EXPECT_EQ(s.steps.at("login").count, 4'002u);
  EXPECT_EQ(s.steps.at(hostile).latency.count(), 4'000);
  EXPECT_EQ(s.checks.at("has answer").passes, 3'998u);
}

TEST_F(StepsCli, ReportAndJUnitShowSteps) {
  const auto html = (dir_ / "r.html").string();
  const auto junit = (dir_ / "j.xml").string();
  const auto r = run_process(
      {WSLOAD_CLI, "report", summary("a.json", 1'000), "--out", html, "--junit", junit});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  const auto page = read_text(html);
  EXPECT_NE(page.find("<section id=\"steps\">"), std::string::npos);
  EXPECT_NE(page.find("<td>login</td><td>2,001</td><td>1</td>"), std::string::npos);
  EXPECT_NE(page.find("log]in &quot;now&quot; &lt;ünï&gt;"), std::string::npos);
  EXPECT_NE(read_text(junit).find("Steps (ms):"), std::string::npos);
}

TEST_F(StepsCli, CompareJudgesEachStepLikeTheRun) {
  const auto base = summary("base.json", 10'000);
  const auto slower = summary("slow.json", 20'000);
  const auto r = run_process({WSLOAD_CLI, "compare", base, slower});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("steps.login.p95"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("steps." + hostile + ".p99"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Result: 6 regressions"), std::string::npos) << r.out;
  const auto same = run_process({WSLOAD_CLI, "compare", base, base, "--json"});
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  const auto j = nlohmann::json::parse(same.out);
  bool step_metric = false;
  for (const auto& c : j["changes"]) step_metric = step_metric || c["metric"] == "steps.login.p50";
  EXPECT_TRUE(step_metric) << same.out;
}

}  // namespace
