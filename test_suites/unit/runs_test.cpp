#include <wsload/merge.hpp>
#include <wsload/results/runs.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../support/scratch.hpp"

namespace {

using namespace wsload;
namespace fs = std::filesystem;

Summary measured(std::string name = "") {
  Summary s;
  s.name = std::move(name);
  s.total_requests = 5;
  s.successful_requests = 4;
  s.failed_requests = 1;
  s.total_time = Seconds(1);
  for (int i = 1; i <= 4; ++i) s.latency.record(1'000 * i);
  s.errors = {{ErrorKind::reply_timeout, "", 1}};
  s.connections_configured = s.connections_opened = 1;
  s.judge({parse_threshold("errors==0")});
  return s;
}

RunRecord gtest_case(std::string suite, std::string test, std::string status) {
  return {.summary = measured(),
          .suite = std::move(suite),
          .test = std::move(test),
          .endpoint = "chat prod",
          .status = std::move(status)};
}

std::string refusal(const fs::path& file) {
  try {
    read_runs(file);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(read)";
}

class Runs : public wsload::test::ScratchTest {};

TEST(RunRecord, LabelIsTheCaseTheNameOrTheFile) {
  EXPECT_EQ(gtest_case("Chat", "Fast", "passed").label(), "Chat.Fast");
  EXPECT_EQ((RunRecord{.summary = measured("canary"), .source = "dir/a.json"}).label(), "canary");
  EXPECT_EQ((RunRecord{.summary = measured(), .source = "dir/a.json"}).label(), "a.json");
  auto named = gtest_case("Chat", "Fast", "passed");
  named.name = "given";
  EXPECT_EQ(named.label(), "given");
}

TEST(RunRecord, ACaseEndsPassedOnlyWhenItPassed) {
  EXPECT_TRUE(gtest_case("A", "B", "passed").passed());
  EXPECT_FALSE(gtest_case("A", "B", "failed").passed());
  EXPECT_FALSE(gtest_case("A", "B", "skipped").passed());
  EXPECT_FALSE(gtest_case("A", "B", "running").passed()) << "errors==0 failed";
  EXPECT_FALSE((RunRecord{.summary = measured()}).passed()) << "judged by its verdicts";
}

TEST_F(Runs, ReadsARunsSummaryAMergesAndAGtestReport) {
  const auto run = dir_ / "run.json";
  write_summary(measured("chat"), run);
  const auto runs = read_runs(run);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_FALSE(runs[0].is_case());
  EXPECT_EQ(runs[0].label(), "chat");
  EXPECT_EQ(runs[0].source, run.string());
  EXPECT_EQ(runs[0].summary.failed_requests, 1u);

  // A merge's summary is a run's summary of the whole.
  std::vector<RunRecord> shards;
  for (std::size_t k = 0; k < 2; ++k) {
    auto s = measured();
    s.shard = Shard{k, 2};
    shards.push_back({.summary = s, .source = "shard.json"});
  }
  const auto merged_file = dir_ / "merged.json";
  write_runs(merged_file, {RunRecord{.summary = merge_shards(shards)}});
  const auto merged = read_runs(merged_file);
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged[0].summary.total_requests, 10u);
  EXPECT_EQ(merged[0].label(), "merged.json");

  auto crashed = gtest_case("Chat", "Crashed", "running");
  auto listed = gtest_case("Chat", "Listed", "failed");
  listed.failures = {{"chat_test.cpp:12", "wrong on purpose"}};
  const auto report = dir_ / "report.wsload.json";
  write_runs(report, {crashed, listed});
  EXPECT_EQ(read_json_file(report)["schema"], "wsload.gtest-report/1");
  const auto cases = read_runs(report);
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0].label(), "Chat.Crashed");
  EXPECT_EQ(cases[0].status, "running");
  EXPECT_EQ(cases[0].endpoint, "chat prod");
  EXPECT_EQ(cases[0].where(), report.string() + " (Chat.Crashed)");
  EXPECT_TRUE(cases[0].failures.empty());
  ASSERT_EQ(cases[1].failures.size(), 1u);
  EXPECT_EQ(cases[1].failures[0].source, "chat_test.cpp:12");
  EXPECT_EQ(cases[1].failures[0].message, "wrong on purpose");
  // What was written reads back as the same document.
  EXPECT_EQ(runs_to_json(cases), read_json_file(report));
}

TEST_F(Runs, RefusesWhatIsNoneOfThemNamingTheFileAndKey) {
  const auto path = [this](const char* name) { return (dir_ / name).string(); };
  EXPECT_EQ(refusal(dir_), "wsload: " + dir_.string() + ": is a directory");
  EXPECT_EQ(refusal(dir_ / "none.json"), "wsload: " + path("none.json") + ": cannot be opened");
  write("text.json", "not json");
  EXPECT_EQ(refusal(dir_ / "text.json"), "wsload: " + path("text.json") + ": is not valid JSON");
  // A schema that is not text is no report, and no summary either.
  write("number.json", R"({"schema": 5})");
  EXPECT_NE(refusal(dir_ / "number.json").find(path("number.json") + ": malformed summary:"),
            std::string::npos)
      << refusal(dir_ / "number.json");

  auto report = runs_to_json({gtest_case("Chat", "Fast", "passed")});
  report.erase("entries");
  write("no-entries.json", report.dump());
  EXPECT_EQ(refusal(dir_ / "no-entries.json"),
            "wsload: " + path("no-entries.json") +
                ": malformed GoogleTest report: it lacks the list 'entries'");

  report = runs_to_json({gtest_case("Chat", "Fast", "passed")});
  report["entries"][0]["failed_requests"] = 2;
  write("figures.json", report.dump());
  EXPECT_EQ(refusal(dir_ / "figures.json"),
            "wsload: " + path("figures.json") +
                " (Chat.Fast): total_requests: 5 is not successful_requests 4 + failed_requests 2");

  report = runs_to_json({gtest_case("Chat", "Fast", "passed")});
  report["entries"][0]["failures"] =
      nlohmann::json::array({nlohmann::json::object({{"source", "a.cpp:1"}})});
  write("failures.json", report.dump());
  EXPECT_EQ(refusal(dir_ / "failures.json"),
            "wsload: " + path("failures.json") +
                ": malformed status or failures: lacks the field 'message' (got 'Chat.Fast')");

  report = runs_to_json({gtest_case("Chat", "Fast", "passed")});
  report["entries"][0].erase("suite");
  report["entries"][0].erase("test");
  write("nameless.json", report.dump());
  EXPECT_EQ(refusal(dir_ / "nameless.json"),
            "wsload: " + path("nameless.json") +
                ": malformed GoogleTest report: an entry names no suite and no test");
}

TEST(RunRecord, ALabelTwoRunsShareGetsEachOnesFileName) {
  std::vector<RunRecord> runs = {{.summary = measured("chat"), .source = "a/base.json"},
                                 {.summary = measured("chat"), .source = "b/new.json"},
                                 {.summary = measured("other"), .source = "c/other.json"}};
  distinguish_labels(runs);
  EXPECT_EQ(runs[0].label(), "chat (base.json)");
  EXPECT_EQ(runs[1].label(), "chat (new.json)");
  EXPECT_EQ(runs[2].label(), "other");
}

}  // namespace
