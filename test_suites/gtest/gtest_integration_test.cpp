// Runs a real GoogleTest load-test program (load_cases.cpp) as a process and checks
// what users see: failure text, skips, XML properties, the JSON report, the WSLOAD_*
// overrides and endpoint-named cases.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <wsload/merge.hpp>
#include <wsload/testing/server.hpp>

#include "../support/process.hpp"
#include "../support/scratch.hpp"

namespace {

using namespace std::chrono_literals;
using wsload::test::run_process;
namespace fs = std::filesystem;

class GtestIntegration : public wsload::test::ScratchTest {
 protected:
  static std::map<std::string, std::string> clean_env() { return wsload::test::clean_wsload_env(); }
  static nlohmann::json read_json(const fs::path& path) {
    return nlohmann::json::parse(read_text(path));
  }
  static const nlohmann::json* entry(const nlohmann::json& report, const std::string& test) {
    for (const auto& e : report["entries"]) {
      if (e["test"] == test) return &e;
    }
    return nullptr;
  }
};

TEST_F(GtestIntegration, PassFailAndSkipReadWellAndLandInXmlAndJson) {
  const auto xml = dir_ / "report.xml";
  const auto r = run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Echo.*:Slow.*:NeedsUrl.*",
                              "--gtest_output=xml:" + xml.string()},
                             clean_env());
  EXPECT_EQ(r.exit_code, 1) << "Slow fails on purpose\n" << r.out;
  // The failure names the figure, the measured value, the limit and the context.
  EXPECT_NE(r.out.find("load thresholds not met:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("p99<1ms: p99 latency "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("is above the 1 ms limit"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/slow, 2 connections, 2 requests, 0 failed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no URL to load: set WSLOAD_URL"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[  SKIPPED ] NeedsUrl.RunsAgainstWsloadUrl"), std::string::npos);
  EXPECT_NE(r.out.find("[       OK ] Echo.MeetsItsThresholds"), std::string::npos);
  EXPECT_NE(r.out.find("<CTestMeasurement type=\"numeric/double\" name=\"wsload.p99_latency\">"),
            std::string::npos);

  const auto xml_text = read_text(xml);
  for (const char* property : {"wsload.requests", "wsload.success_rate",
                               "wsload.requests_per_second", "wsload.average_latency",
                               "wsload.p50_latency", "wsload.p95_latency", "wsload.p99_latency"}) {
    EXPECT_NE(xml_text.find(std::string("name=\"") + property + "\""), std::string::npos)
        << property;
  }

  const auto report = read_json(dir_ / "report.wsload.json");
  EXPECT_EQ(report["schema"], "wsload.gtest-report/1");
  ASSERT_EQ(report["entries"].size(), 2u) << "one per case that ran a load";
  const auto* echo = entry(report, "MeetsItsThresholds");
  const auto* slow = entry(report, "MissesAP99ItCannotMeet");
  ASSERT_TRUE(echo && slow);
  EXPECT_EQ((*echo)["suite"], "Echo");
  EXPECT_EQ((*echo)["status"], "passed");
  EXPECT_EQ((*slow)["status"], "failed");
  EXPECT_EQ((*echo)["total_requests"], 4);
  for (const char* key :
       {"successful_requests", "failed_requests", "success_rate", "total_time",
        "requests_per_second", "average_latency", "median_latency", "min_latency", "max_latency",
        "p95_latency", "p99_latency", "latency", "errors", "thresholds", "config"}) {
    EXPECT_TRUE(echo->contains(key)) << key;
  }
}

// The verdict of every assertion macro joins its case's entry, with the macro as written;
// other failures of the case are listed too, and the HTML and JUnit reports of the file
// show both cases failed, on what.
TEST_F(GtestIntegration, AssertionVerdictsLandInTheEntryAndItsReports) {
  auto env = clean_env();
  const auto json = dir_ / "strict.json";
  env["WSLOAD_SUMMARY"] = json.string();
  const auto r = run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Strict.*"}, env);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("EXPECT_P99_BELOW(summary, 1us): load thresholds not met:\n"
                       "  p99<1us: p99 latency "),
            std::string::npos)
      << r.out;

  const auto report = read_json(json);
  const auto* strict = entry(report, "MeetsItsThresholdsButNotAnAssertion");
  ASSERT_TRUE(strict) << report.dump(2);
  EXPECT_EQ((*strict)["status"], "failed");
  const auto& listed = (*strict)["thresholds"];
  ASSERT_EQ(listed.size(), 2u) << listed.dump(2);
  EXPECT_EQ(listed[0]["expression"], "errors==0");
  EXPECT_TRUE(listed[0]["passed"].get<bool>());
  EXPECT_EQ(listed[0]["assertion"], "EXPECT_LOAD_OK(summary)") << "judged again, listed once";
  EXPECT_EQ(listed[1]["expression"], "p99<1us");
  EXPECT_EQ(listed[1]["assertion"], "EXPECT_P99_BELOW(summary, 1us)");
  EXPECT_NE(listed[1]["source"].get<std::string>().find("load_cases.cpp:"), std::string::npos);
  EXPECT_FALSE(listed[1]["passed"].get<bool>());
  EXPECT_GT(listed[1]["actual"].get<double>(), 1e-6);
  EXPECT_DOUBLE_EQ(listed[1]["limit"].get<double>(), 1e-6);
  EXPECT_NE(listed[1]["message"].get<std::string>().find("is above the 1 us limit"),
            std::string::npos);
  EXPECT_FALSE(strict->contains("failures")) << "its one failure is the verdict";

  const auto* plain = entry(report, "FailsAPlainAssertion");
  ASSERT_TRUE(plain);
  EXPECT_EQ((*plain)["status"], "failed");
  ASSERT_EQ((*plain)["thresholds"].size(), 1u);
  EXPECT_TRUE((*plain)["thresholds"][0]["passed"].get<bool>());
  ASSERT_EQ((*plain)["failures"].size(), 1u) << plain->dump(2);
  EXPECT_NE((*plain)["failures"][0]["message"].get<std::string>().find("wrong on purpose"),
            std::string::npos);
  EXPECT_NE((*plain)["failures"][0]["source"].get<std::string>().find("load_cases.cpp:"),
            std::string::npos);
#ifdef WSLOAD_CLI
  const auto html = dir_ / "strict.html";
  const auto xml = dir_ / "strict.xml";
  const auto shown = run_process(
      {WSLOAD_CLI, "report", json.string(), "--out", html.string(), "--junit", xml.string()},
      clean_env());
  ASSERT_EQ(shown.exit_code, 0) << shown.out << shown.err;
  const auto page = read_text(html);
  EXPECT_EQ(page.find("class=\"pass\">PASS"), std::string::npos) << "neither case is green";
  EXPECT_NE(page.find("FAIL 1 of 2"), std::string::npos);
  EXPECT_NE(page.find("FAIL (the case)"), std::string::npos);
  EXPECT_NE(page.find("FAIL</b> <code>p99&lt;1us</code>"), std::string::npos);
  EXPECT_NE(page.find("<code>EXPECT_P99_BELOW(summary, 1us)</code>"), std::string::npos);
  EXPECT_NE(page.find("wrong on purpose"), std::string::npos);
  const auto junit = read_text(xml);
  EXPECT_NE(junit.find("<testsuites name=\"wsload\" tests=\"4\" failures=\"2\""), std::string::npos)
      << junit;
  EXPECT_NE(junit.find("name=\"EXPECT_P99_BELOW(summary, 1us) [p99&lt;1us]\" time=\"0\">\n"
                       "      <failure"),
            std::string::npos)
      << junit;
  EXPECT_NE(junit.find("type=\"assertion\">"), std::string::npos);
  EXPECT_NE(junit.find("wrong on purpose"), std::string::npos);
#endif
}

// EXPECT_THRESHOLDS takes step and check selectors: a step that never ran fails the
// assertion saying so, and its verdict lands in the case's entry of the report.
TEST_F(GtestIntegration, StepThresholdsOfAStepThatNeverRanFailSayingSo) {
  auto env = clean_env();
  const auto json = dir_ / "steps.json";
  env["WSLOAD_SUMMARY"] = json.string();
  const auto r = run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Steps.*"}, env);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("  p95[log in]<10s: step 'log in' never ran, so 'p95[log in]<10s' cannot "
                       "be met"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("check 'has answer' was never evaluated"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("threshold: the brackets name no step or check"), std::string::npos)
      << r.out;
  const auto report = read_json(json);
  const auto* steps = entry(report, "ThresholdsSelectAStepThatNeverRan");
  ASSERT_TRUE(steps) << report.dump(2);
  const auto& listed = (*steps)["thresholds"];
  ASSERT_EQ(listed.size(), 2u) << listed.dump(2);
  EXPECT_EQ(listed[0]["expression"], "p95[log in]<10s");
  EXPECT_FALSE(listed[0]["passed"].get<bool>());
  EXPECT_TRUE(listed[0]["actual"].is_null());
}

// A bad value of a WSLOAD_* variable fails each case once, naming the variable: no
// assertion adds a "no samples" failure about the load that did not run.
TEST_F(GtestIntegration, ABadEnvironmentValueFailsTheCaseOnce) {
  auto env = clean_env();
  env["WSLOAD_CONNECTIONS"] = "abc";
  env["WSLOAD_SUMMARY"] = (dir_ / "summary.json").string();
  const auto r = run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Echo.*"}, env);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("WSLOAD_CONNECTIONS"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("'abc'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("the load did not run"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("no samples"), std::string::npos) << r.out;
  std::size_t failures = 0;
  for (auto at = r.out.find(": Failure\n"); at != std::string::npos;
       at = r.out.find(": Failure\n", at + 1)) {
    ++failures;
  }
  EXPECT_EQ(failures, 1u) << r.out;
}

TEST_F(GtestIntegration, EnvironmentOverridesTakeEffect) {
  wsload::testing::Server server;
  auto env = clean_env();
  env["WSLOAD_CONNECTIONS"] = "3";
  env["WSLOAD_URL"] = server.url("/from-env");
  env["WSLOAD_SUMMARY"] = (dir_ / "summary.json").string();
  const auto r = run_process({WSLOAD_GTEST_CASES, "--gtest_filter=NeedsUrl.*"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto report = read_json(dir_ / "summary.json");
  const auto* needs = entry(report, "RunsAgainstWsloadUrl");
  ASSERT_TRUE(needs);
  EXPECT_EQ((*needs)["total_requests"], 3) << "3 connections x 1 prompt";
  EXPECT_EQ(server.messages(), 3u);
  EXPECT_EQ(server.handshakes().at(0).target, "/from-env");
}

// Secrets in the URL and the origin a case takes from the environment: in no line of the
// output, the XML, the JSON report or the HTML report, passed or failed.
TEST_F(GtestIntegration, SecretsReachNoOutput) {
  const std::string jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJnIn0.GtestJwtSignature";
  const std::vector<std::string> secrets = {"GtestTokenSecret", "GtestPwdSecret", jwt,
                                            "GtestOriginSecret"};
  wsload::testing::Server server;
  auto env = clean_env();
  env["WSLOAD_URL"] = server.url("/from-env") + "?access_token=" + secrets[0] +
                      "&pwd=" + secrets[1] + "&state=" + jwt;
  env["WSLOAD_ORIGIN"] = "https://ci:" + secrets[3] + "@app.example.com";
  env["WSLOAD_SUMMARY"] = (dir_ / "summary.json").string();
  env["WSLOAD_HTML_REPORT"] = "1";
  const auto xml = dir_ / "cases.xml";
  for (const char* max_latency : {"3600", "0"}) {  // passes, then fails with its context
    env["WSLOAD_MAX_LATENCY"] = max_latency;
    const auto r = run_process(
        {WSLOAD_GTEST_CASES, "--gtest_filter=NeedsUrl.*", "--gtest_output=xml:" + xml.string()},
        env);
    EXPECT_EQ(r.exit_code, max_latency == std::string("0") ? 1 : 0) << r.out;
    const std::string everything = r.out + r.err + read_text(xml) +
                                   read_text(dir_ / "summary.json") +
                                   read_text(dir_ / "summary.html");
    for (const auto& secret : secrets) {
      const auto at = everything.find(secret);
      EXPECT_EQ(at, std::string::npos)
          << secret << ": ..." << everything.substr(at < 60 ? 0 : at - 60, 120);
    }
  }
  EXPECT_EQ(server.handshakes().at(0).header("origin"), env["WSLOAD_ORIGIN"]);
}

TEST_F(GtestIntegration, CasesInSeparateProcessesShareOneReport) {
  auto env = clean_env();
  env["WSLOAD_SUMMARY"] = (dir_ / "shared.json").string();
  EXPECT_EQ(run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Echo.*"}, env).exit_code, 0);
  EXPECT_EQ(run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Slow.*"}, env).exit_code, 1);
  EXPECT_EQ(run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Echo.*"}, env).exit_code, 0);
  const auto report = read_json(dir_ / "shared.json");
  EXPECT_EQ(report["entries"].size(), 2u) << "the rerun of Echo replaced its entry";
}

// A report file the reporter cannot read (hand-edited, another tool's) is not thrown
// away with the cases it may hold: it is kept beside the new one, and the run says so.
TEST_F(GtestIntegration, AnUnreadableReportIsKeptAsideNotLost) {
  const auto shared = write(
      "shared.json", "{\"schema\": \"wsload.gtest-report/1\", \"entries\": [{\"suite\": 1}]}");
  auto env = clean_env();
  env["WSLOAD_SUMMARY"] = shared.string();
  const auto run = run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Echo.*"}, env);
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(read_json(shared)["entries"].size(), 1u);
  const auto kept = dir_ / "shared.json.unreadable";
  ASSERT_TRUE(fs::exists(kept));
  EXPECT_NE(read_text(kept).find("\"suite\": 1"), std::string::npos);
  EXPECT_NE((run.out + run.err).find("shared.json.unreadable"), std::string::npos)
      << run.out << run.err;
}

// A run's own summary where the report goes (`wsload run --summary` to the same path)
// is no case of another process, but it is somebody's result: kept aside, not dropped.
TEST_F(GtestIntegration, ARunsSummaryAtTheReportPathIsKeptAsideNotLost) {
  wsload::Summary earlier;
  earlier.name = "an earlier run";
  const auto shared = write("shared.json", wsload::to_json(earlier).dump());
  auto env = clean_env();
  env["WSLOAD_SUMMARY"] = shared.string();
  const auto run = run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Echo.*"}, env);
  EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
  EXPECT_EQ(read_json(shared)["entries"].size(), 1u);
  const auto kept = dir_ / "shared.json.unreadable";
  ASSERT_TRUE(fs::exists(kept)) << run.out << run.err;
  EXPECT_EQ(read_json(kept)["name"], "an earlier run");
  EXPECT_NE((run.out + run.err).find("not a GoogleTest report"), std::string::npos)
      << run.out << run.err;
}

// Two shard processes of one test program, each with its own report, merged case by
// case: a shard leaves judging to the merge, which judges the whole load.
TEST_F(GtestIntegration, ShardReportsMergeCaseByCase) {
  wsload::testing::Server server;
  std::vector<std::pair<std::string, nlohmann::json>> reports;
  for (const char* index : {"0", "1"}) {
    auto env = clean_env();
    env["WSLOAD_URL"] = server.url("/sharded");
    env["WSLOAD_CONNECTIONS"] = "4";
    env["WSLOAD_MIN_RPS"] = "1000000000";  // beyond any loopback, shard or not
    env["WSLOAD_SHARD_COUNT"] = "2";
    env["WSLOAD_SHARD_INDEX"] = index;
    const auto file = dir_ / ("shard-" + std::string(index) + ".json");
    env["WSLOAD_SUMMARY"] = file.string();
    const auto r = run_process({WSLOAD_GTEST_CASES, "--gtest_filter=NeedsUrl.*"}, env);
    EXPECT_EQ(r.exit_code, 0) << "a shard's throughput is not the load's: " << r.out;
    reports.emplace_back(file.string(), read_json(file));
    const auto* part = entry(reports.back().second, "RunsAgainstWsloadUrl");
    ASSERT_TRUE(part);
    EXPECT_EQ((*part)["total_requests"], 2) << "2 of 4 connections x 1 prompt";
    EXPECT_EQ((*part)["shard"]["index"], std::stoi(index));
  }
  EXPECT_EQ(server.messages(), 4u);
  const auto merged = wsload::merge_gtest_reports(reports);
  const auto* whole = entry(merged, "RunsAgainstWsloadUrl");
  ASSERT_TRUE(whole);
  EXPECT_EQ((*whole)["total_requests"], 4);
  EXPECT_EQ((*whole)["connections"]["opened"], 4);
  EXPECT_EQ((*whole)["status"], "failed");
  EXPECT_EQ((*whole)["thresholds"][0]["expression"], "rps>=1000000000");
  EXPECT_FALSE((*whole)["thresholds"][0]["passed"].get<bool>());
#ifdef WSLOAD_CLI
  // The same through the command line: exit 1 for the failed threshold, the file merged.
  const auto merged_file = dir_ / "merged.json";
  const auto r = run_process(
      {WSLOAD_CLI, "merge", reports[0].first, reports[1].first, "--out", merged_file.string()},
      clean_env());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FAIL  rps>=1000000000"), std::string::npos) << r.out;
  EXPECT_EQ(read_json(merged_file)["entries"][0]["total_requests"], 4);
#endif
}

TEST_F(GtestIntegration, HtmlReportBesideTheJsonOnRequest) {
  auto env = clean_env();
  env["WSLOAD_SUMMARY"] = (dir_ / "loads.json").string();
  env["WSLOAD_HTML_REPORT"] = "1";
  EXPECT_EQ(run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Echo.*:Slow.*"}, env).exit_code, 1);
  const auto html = read_text(dir_ / "loads.html");
  EXPECT_NE(html.find("Echo.MeetsItsThresholds"), std::string::npos);
  EXPECT_NE(html.find("Slow.MissesAP99ItCannotMeet"), std::string::npos);
  EXPECT_NE(html.find("FAIL</b> <code>p99&lt;1ms</code>"), std::string::npos);
  EXPECT_NE(html.find("<svg class=\"plot\" id=\"spectrum\""), std::string::npos);

  env["WSLOAD_HTML_REPORT"] = (dir_ / "elsewhere.html").string();
  EXPECT_EQ(run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Echo.*"}, env).exit_code, 0);
  EXPECT_TRUE(fs::exists(dir_ / "elsewhere.html"));

  env["WSLOAD_HTML_REPORT"] = "";  // unset: the case asks for it in code
  env["WSLOAD_SUMMARY"] = (dir_ / "from_code.json").string();
  EXPECT_EQ(run_process({WSLOAD_GTEST_CASES, "--gtest_filter=HtmlFromCode.*"}, env).exit_code, 0);
  EXPECT_NE(read_text(dir_ / "from_code.html").find("HtmlFromCode.WritesTheReportBesideTheJson"),
            std::string::npos);
}

TEST_F(GtestIntegration, EndpointListGivesNamedCases) {
  wsload::testing::Server server;
  nlohmann::json endpoints = nlohmann::json::array();
  endpoints.push_back({{"name", "chat prod"},
                       {"url", server.url("/prod")},
                       {"headers", {{"X-Stage", "prod"}}},
                       {"thresholds", {"errors==0"}}});
  endpoints.push_back({{"name", "chat-dev"},
                       {"url", server.url("/dev")},
                       {"prompts", {"a", "b"}},
                       {"connections", 2}});
  std::ofstream(dir_ / "endpoints.json") << endpoints.dump();
  auto env = clean_env();
  env["WSLOAD_ENDPOINTS"] = (dir_ / "endpoints.json").string();
  env["WSLOAD_SUMMARY"] = (dir_ / "summary.json").string();

  const auto list = run_process({WSLOAD_GTEST_CASES, "--gtest_list_tests"}, env);
  EXPECT_NE(list.out.find("MeetTheirThresholds/chat_prod"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("MeetTheirThresholds/chat_dev"), std::string::npos) << list.out;

  const auto r = run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Chat/Endpoints.*"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(server.messages(), 1u + 4u) << "prod: 1 x the case's prompt; dev: 2 x 2";
  const auto report = read_json(dir_ / "summary.json");
  ASSERT_EQ(report["entries"].size(), 2u);
  EXPECT_EQ(report["entries"][0]["endpoint"], "chat prod");
  EXPECT_EQ(report["entries"][0]["test"], "MeetTheirThresholds/chat_prod");

  std::ofstream(dir_ / "endpoints.json") << "[{\"url\": 1}]";
  const auto broken = run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Chat/Endpoints.*"}, env);
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.out.find("endpoints file"), std::string::npos) << broken.out;
}

TEST_F(GtestIntegration, WithoutEndpointsTheDefaultSkips) {
  const auto r = run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Chat/Endpoints.*"}, clean_env());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("[  SKIPPED ] Chat/Endpoints.MeetTheirThresholds/default"),
            std::string::npos)
      << r.out;
}

}  // namespace

namespace {

TEST_F(GtestIntegration, ReportDirectoryIsCreatedWhenMissing) {
  auto env = clean_env();
  const auto path = dir_ / "not" / "yet" / "there.json";
  env["WSLOAD_SUMMARY"] = path.string();
  const auto r = run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Echo.*"}, env);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(fs::exists(path));
}

}  // namespace

namespace {

TEST_F(GtestIntegration, ACrashAfterTheLoadKeepsItsEntry) {
  auto env = clean_env();
  env["WSLOAD_SUMMARY"] = (dir_ / "crash.json").string();
  const auto r = run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Crash.*"}, env);
  EXPECT_EQ(r.exit_code, 128 + SIGABRT);
  const auto report = read_json(dir_ / "crash.json");
  ASSERT_EQ(report["entries"].size(), 1u);
  EXPECT_EQ(report["entries"][0]["status"], "running") << "it never finished";
  EXPECT_EQ(report["entries"][0]["successful_requests"], 1);
}

}  // namespace

namespace {

// The reporter writes its JSON after every load and every test's end: into a FIFO each
// time straight through (never reading it back, which would wait for a writer), and its
// HTML report through a symbolic link into the file it points to.
TEST_F(GtestIntegration, ReportsGoThroughAFifoAndASymlink) {
  const auto fifo = dir_ / "loads.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  wsload::test::FifoReader reader(fifo, 60s);
  ASSERT_TRUE(reader.opened());
  const auto html = write("reports.html", "old");
  fs::create_symlink("reports.html", dir_ / "latest.html");
  auto env = clean_env();
  env["WSLOAD_SUMMARY"] = fifo.string();
  env["WSLOAD_HTML_REPORT"] = (dir_ / "latest.html").string();
  const auto r = run_process({WSLOAD_GTEST_CASES, "--gtest_filter=Echo.*"}, env);
  const auto json = reader.stop();
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(json.find("\"schema\": \"wsload.gtest-report/1\""), std::string::npos) << json;
  EXPECT_EQ(type_of(fifo), S_IFIFO) << "the FIFO was replaced";
  EXPECT_EQ(type_of(dir_ / "latest.html"), S_IFLNK) << "the link was replaced";
  EXPECT_NE(read_text(html).find("Echo.MeetsItsThresholds"), std::string::npos);
}

}  // namespace
