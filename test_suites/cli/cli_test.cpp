// The real `wsload` binary against the embedded server: exit codes, summaries, messages,
// environment fallbacks, progress output and Ctrl-C.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <sstream>

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

class Cli : public wsload::test::ScratchTest {
 protected:
  void SetUp() override {
    ScratchTest::SetUp();
    prompts_ = write("prompts.txt", "first prompt\n\nsecond prompt\nthird prompt\n").string();
    summary_ = (dir_ / "summary.json").string();
  }
  static nlohmann::json read_json(const std::string& path) {
    return nlohmann::json::parse(read_text(path));
  }
  // Thresholds a loopback echo server meets by a wide margin.
  std::vector<std::string> run_args(const std::string& url) const {
    return {WSLOAD_CLI, "run",       "--url",  url,         "--prompts",
            prompts_,   "--summary", summary_, "--min-rps", "1"};
  }
  static std::map<std::string, std::string> clean_env() { return wsload::test::clean_wsload_env(); }

  std::string prompts_;
  std::string summary_;
};

TEST_F(Cli, PassingRunExitsZeroWithExactCountsInTheSummary) {
  wsload::testing::Server server;
  auto args = run_args(server.url("/chat"));
  args.insert(args.end(), {"--connections", "4", "--iterations", "2", "--origin",
                           "https://app.example.com", "-H", "Authorization: Bearer s3cret"});
  const auto r = run_process(args, clean_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Total requests:       24"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Result: PASS"), std::string::npos) << r.out;
  const auto j = read_json(summary_);
  EXPECT_EQ(j["total_requests"], 24);
  EXPECT_EQ(j["successful_requests"], 24);
  EXPECT_EQ(j["failed_requests"], 0);
  for (const char* key :
       {"success_rate", "total_time", "requests_per_second", "average_latency", "median_latency",
        "min_latency", "max_latency", "p95_latency", "p99_latency", "schema"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(server.messages(), 24u);
  EXPECT_EQ(server.handshakes().at(0).header("origin"), "https://app.example.com");
  EXPECT_EQ(r.out.find("s3cret"), std::string::npos);
  EXPECT_EQ(read_text(summary_).find("s3cret"), std::string::npos);
}

// An API-Gateway-style chat backend: a templated body, streamed replies completed at the
// end frame, a first-frame threshold, and secrets in a header and the query string that
// reach the server but no output.
TEST_F(Cli, ChatBackendWithTemplateCompletionAndSecrets) {
  wsload::testing::ServerOptions options;
  options.mode = wsload::testing::ReplyMode::api_gateway;
  wsload::testing::Route route;
  route.kind = wsload::testing::Route::Kind::stream;
  route.chunks = 3;
  options.routes = {{"sendmessage", route}};
  wsload::testing::Server server(options);
  auto args = run_args(server.url("/prod"));
  args.insert(
      args.end(),
      {"--connections", "2", "--template", R"({"action":"sendmessage","prompt":{{prompt}}})",
       "--complete", R"(/type=="end")", "-t", "ttfb_p99<5s", "-H", "x-api-key: CLI-KEY-SECRET",
       "--query", "access_token=CLI-QUERY-SECRET", "--query", "stage=dev"});
  const auto r = run_process(args, clean_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Frames per reply:     4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PASS  ttfb_p99<5s"), std::string::npos) << r.out;
  const auto summary = read_text(summary_);
  EXPECT_EQ(read_json(summary_)["replies"]["frames"], 24);
  EXPECT_EQ(server.handshakes().at(0).target, "/prod?access_token=CLI-QUERY-SECRET&stage=dev");
  for (const char* secret : {"CLI-KEY-SECRET", "CLI-QUERY-SECRET"}) {
    EXPECT_EQ((r.out + r.err + summary).find(secret), std::string::npos) << secret;
  }

  // A template that is not JSON once filled is bad input, named as such.
  args = run_args(server.url("/prod"));
  args.insert(args.end(), {"--template", R"({"prompt":"{{prompt}})"});
  const auto bad = run_process(args, clean_env());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--template"), std::string::npos) << bad.err;
}

// A server that drops every connection instead of its second reply: --reconnect carries
// each connection on, and the summary counts what it took.
TEST_F(Cli, ReconnectCarriesDroppedConnectionsOn) {
  wsload::testing::ServerOptions options;
  options.fault = wsload::testing::Fault::close_after;
  options.fault_after = 1;
  wsload::testing::Server server(options);
  auto args = run_args(server.url());
  args.insert(args.end(), {"--connections", "2", "--reconnect", "5", "--reconnect-backoff", "0.01",
                           "--min-success-rate", "0"});
  const auto r = run_process(args, clean_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // first ok, second lost; reopened: third ok.
  const auto j = read_json(summary_);
  EXPECT_EQ(j["successful_requests"], 4);
  EXPECT_EQ(j["errors"]["by_kind"]["server_error"], 2);
  EXPECT_EQ(j["connections"]["reconnects"], 2);
  EXPECT_NE(r.out.find("reopened 2 times (0 attempts failed)"), std::string::npos) << r.out;
}

// Open loop from the command line: a rate for a duration, a threshold per window, and the
// schedule and time series in the summary.
TEST_F(Cli, OpenLoopRateForADurationWithAWindowThreshold) {
  wsload::testing::Server server;
  auto args = run_args(server.url());
  args.insert(args.end(), {"--connections", "4", "--rate", "50", "--duration", "1", "--threshold",
                           "p99<2s over 1s"});
  const auto r = run_process(args, clean_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Open loop:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("p99<2s over 1s"), std::string::npos) << r.out;
  const auto j = read_json(summary_);
  EXPECT_EQ(j["schedule"]["due"], 50);
  EXPECT_EQ(j["schedule"]["sent"], 50);
  EXPECT_EQ(j["config"]["load_model"], "open");
  EXPECT_FALSE(j["time_series"]["intervals"].empty());
}

// One load split over four shard processes that start together, then merged: the same
// counts as one process running it, every message sent exactly once, and the merged
// percentiles those of one histogram of every shard's samples.
TEST_F(Cli, FourShardsMergeIntoTheLoadOfOneProcess) {
  wsload::testing::ServerOptions options;
  options.mode = wsload::testing::ReplyMode::api_gateway;  // it keeps what it received
  const auto load = [&](const std::string& url, const std::string& summary) {
    auto args = run_args(url);
    args[7] = summary;
    args.insert(args.end(), {"--connections", "10", "--iterations", "3", "--template",
                             R"({"c":{{connection}},"s":{{sequence}},"p":{{prompt}}})",
                             "--threshold", "requests==90", "--quiet"});
    return args;
  };
  const wsload::testing::Server single_server(options);
  const auto single = run_process(load(single_server.url(), summary_), clean_env());
  ASSERT_EQ(single.exit_code, 0) << single.out << single.err;
  auto sent_once = single_server.received();
  ASSERT_EQ(sent_once.size(), 90u) << "10 connections x 3 prompts x 3 iterations";

  const wsload::testing::Server server(options);
  const auto start =
      std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now() + 1s);
  std::vector<std::future<wsload::test::ProcessResult>> shards;
  std::vector<std::string> files;
  for (int k = 0; k < 4; ++k) {
    files.push_back((dir_ / ("shard-" + std::to_string(k) + ".json")).string());
    auto args = load(server.url(), files.back());
    args.insert(args.end(), {"--start-at", wsload::detail::iso8601(start)});
    auto env = clean_env();
    if (k < 3) {
      args.insert(args.end(), {"--shard", std::to_string(k) + "/4"});
    } else {
      env["JOB_COMPLETION_INDEX"] = "3";  // as in a Kubernetes Indexed Job
      env["WSLOAD_SHARD_COUNT"] = "4";
    }
    shards.push_back(
        std::async(std::launch::async, [args, env] { return run_process(args, env); }));
  }
  for (std::size_t k = 0; k < shards.size(); ++k) {
    const auto r = shards[k].get();
    EXPECT_EQ(r.exit_code, 0) << "shard " << k << ": " << r.out << r.err;
    const auto shard = wsload::read_summary(files[k]);
    ASSERT_TRUE(shard.shard);
    EXPECT_EQ(shard.shard->index, k);
    EXPECT_TRUE(shard.verdicts.empty()) << "the merge judges";
    EXPECT_GE(shard.measured_from, std::chrono::duration<double>(start.time_since_epoch()).count());
  }
  auto received = server.received();
  std::sort(sent_once.begin(), sent_once.end());
  std::sort(received.begin(), received.end());
  EXPECT_EQ(received, sent_once) << "the shards together sent what one process sent, once";

  const auto merged_file = (dir_ / "merged.json").string();
  const auto merge = run_process(
      {WSLOAD_CLI, "merge", files[0], files[1], files[2], files[3], "--out", merged_file},
      clean_env());
  ASSERT_EQ(merge.exit_code, 0) << merge.out << merge.err;
  EXPECT_NE(merge.out.find("Merged from 4 shards"), std::string::npos) << merge.out;
  EXPECT_NE(merge.out.find("PASS  requests==90"), std::string::npos) << merge.out;
  const auto merged = wsload::read_summary(merged_file);
  const auto whole = wsload::read_summary(summary_);
  EXPECT_EQ(merged.total_requests, whole.total_requests);
  EXPECT_EQ(merged.successful_requests, whole.successful_requests);
  EXPECT_EQ(merged.connections_opened, whole.connections_opened);
  wsload::Histogram all;
  for (const auto& file : files) all.merge(wsload::read_summary(file).latency);
  for (double p : {50.0, 90.0, 99.0, 100.0}) {
    EXPECT_EQ(merged.latency.value_at_percentile(p), all.value_at_percentile(p)) << p;
  }
  std::uint64_t in_series = 0;
  for (const auto& second : merged.time_series.seconds()) in_series += second.requests();
  EXPECT_EQ(in_series, 90u);

  // What a merge refuses, with exit code 2 and the file to blame.
  const auto refused = [&](std::vector<std::string> inputs, const std::string& says) {
    std::vector<std::string> args = {WSLOAD_CLI, "merge", "--out", ""};
    args.insert(args.end(), inputs.begin(), inputs.end());
    const auto r = run_process(args, clean_env());
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
  };
  refused({files[0], files[1], files[2]}, "1 of 4 shards are missing (index 3)");
  refused({files[0], files[1], files[2], files[2]},
          files[2] + ": is the same shard as " + files[2]);
  auto other = read_json(files[3]);
  other["config"]["iterations"] = 4;
  const auto other_file = write("other.json", other.dump()).string();
  refused({files[0], files[1], files[2], other_file},
          other_file + ": has another configuration than " + files[0] + ": /iterations (3 vs 4)");
  refused({files[0], files[1], files[2], summary_}, summary_ + ": is not a shard's summary");
  auto newer = read_json(files[3]);
  newer["schema"] = "wsload.summary/2";
  const auto newer_file = write("newer.json", newer.dump()).string();
  refused({files[0], files[1], files[2], newer_file},
          newer_file + ": unsupported schema; expected wsload.summary/1");
  refused({files[0], (dir_ / "missing.json").string()}, "missing.json: cannot be opened");
}

// The plots of an HTML report as a browser draws them: headless Chromium loads the page
// (no network), its script counts each plot's points, and nothing reaches the console.
// Every section must be in the page. Returns the plots ("id:points ...") or an empty
// string after a failure.
std::string render(const fs::path& html, const fs::path& profile) {
  const auto r = run_process({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                              "--no-first-run", "--disable-background-networking",
                              "--disable-dev-shm-usage",  // small /dev/shm in containers
                              "--user-data-dir=" + profile.string(), "--enable-logging=stderr",
                              "--v=0", "--dump-dom", "file://" + html.string()},
                             {}, 90s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find(":CONSOLE"), std::string::npos) << "console output: " << r.err;
  for (const char* section :
       {"figures", "thresholds", "spectrum", "histogram", "over-time", "first-frame"}) {
    EXPECT_NE(r.out.find("<section id=\"" + std::string(section) + "\">"), std::string::npos)
        << html << " lacks the section " << section;
  }
  const auto at = r.out.find("data-plots=\"");
  EXPECT_NE(at, std::string::npos) << "the page's script did not run: " << r.out.substr(0, 2000);
  if (at == std::string::npos) return "";
  const auto begin = at + std::strlen("data-plots=\"");
  return r.out.substr(begin, r.out.find('"', begin) - begin);
}

void expect_plotted(const std::string& plots, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    const auto at = plots.find(id + ":");
    ASSERT_NE(at, std::string::npos) << id << " missing from " << plots;
    EXPECT_GT(std::stoi(plots.substr(at + id.size() + 1)), 0) << id << " has no points";
  }
}

TEST_F(Cli, ReportsOfAStreamedAndAMergedRunRenderAndJUnitValidates) {
  if (!fs::exists("/usr/bin/chromium") || !fs::exists("/usr/bin/xmllint")) {
    GTEST_SKIP() << "needs chromium and xmllint (scripts/install-deps.sh installs them)";
  }
  wsload::testing::ServerOptions options;
  options.mode = wsload::testing::ReplyMode::api_gateway;
  wsload::testing::Route route;
  route.kind = wsload::testing::Route::Kind::stream;
  route.chunks = 4;
  route.chunk_delay = 1ms;
  options.routes = {{"$default", route}};
  const wsload::testing::Server streaming(options);
  auto args = run_args(streaming.url("/chat"));
  args.insert(args.end(),
              {"--connections", "4", "--iterations", "5", "--complete", R"(/type=="end")",
               "--threshold", "ttfb_p95<1us", "--report", (dir_ / "streamed.html").string(),
               "--junit", (dir_ / "streamed.xml").string(), "--name", "streamed chat"});
  const auto streamed = run_process(args, clean_env());
  ASSERT_EQ(streamed.exit_code, 1) << "ttfb_p95<1us cannot be met: " << streamed.out;

  const wsload::testing::Server echo;
  std::vector<std::string> shards;
  for (int k = 0; k < 2; ++k) {
    shards.push_back((dir_ / ("shard-" + std::to_string(k) + ".json")).string());
    auto shard = run_args(echo.url());
    shard[7] = shards.back();
    shard.insert(shard.end(), {"--connections", "4", "--rate", "40", "--duration", "1", "--shard",
                               std::to_string(k) + "/2"});
    ASSERT_EQ(run_process(shard, clean_env()).exit_code, 0);
  }
  const auto merge = run_process(
      {WSLOAD_CLI, "merge", shards[0], shards[1], "--out", (dir_ / "merged.json").string(),
       "--report", (dir_ / "merged.html").string(), "--junit", (dir_ / "merged.xml").string()},
      clean_env());
  ASSERT_EQ(merge.exit_code, 0) << merge.out << merge.err;
  const auto both = run_process({WSLOAD_CLI, "report", summary_, (dir_ / "merged.json").string(),
                                 "--out", (dir_ / "both.html").string()},
                                clean_env());
  ASSERT_EQ(both.exit_code, 0) << both.out << both.err;
  EXPECT_NE(both.out.find("Report of 2 runs"), std::string::npos) << both.out;

  const std::vector<std::string> every_run = {"spectrum", "histogram", "rate", "latency-over-time"};
  auto plots = render(dir_ / "streamed.html", dir_ / "profile");
  expect_plotted(plots, every_run);
  expect_plotted(plots, {"ttfb-spectrum"});
  plots = render(dir_ / "merged.html", dir_ / "profile");
  expect_plotted(plots, every_run);
  plots = render(dir_ / "both.html", dir_ / "profile");
  expect_plotted(plots, every_run);
  expect_plotted(plots, {"ttfb-spectrum"});
  EXPECT_NE(read_text(dir_ / "both.html").find("merged from 2 shards"), std::string::npos);

  for (const char* xml : {"streamed.xml", "merged.xml"}) {
    const auto r =
        run_process({"/usr/bin/xmllint", "--noout", "--schema",
                     std::string(WSLOAD_TEST_DATA_DIR) + "/junit.xsd", (dir_ / xml).string()});
    EXPECT_EQ(r.exit_code, 0) << xml << ": " << r.err;
  }
  const auto junit = read_text(dir_ / "streamed.xml");
  for (const char* name :
       {"avg&lt;=0.5s", "rps&gt;=1", "success_rate&gt;=95%", "ttfb_p95&lt;1us"}) {
    EXPECT_NE(junit.find("name=\"" + std::string(name) + "\""), std::string::npos) << name;
  }
  EXPECT_NE(junit.find("<failure message=\"time to first frame (p95)"), std::string::npos) << junit;
  EXPECT_NE(read_text(dir_ / "merged.xml").find("failures=\"0\""), std::string::npos);
}

TEST_F(Cli, FailingThresholdExitsOneAndSaysWhichAndWhy) {
  wsload::testing::Server server;
  auto args = run_args(server.url());
  args.insert(args.end(), {"--threshold", "p99<1us"});
  const auto r = run_process(args, clean_env());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FAIL  p99<1us  p99 latency "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("is above the 1 us limit"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(summary_)) << "the summary is written when thresholds fail too";
  EXPECT_FALSE(read_json(summary_)["thresholds"][3]["passed"].get<bool>());
}

TEST_F(Cli, BadInputExitsTwoNamesTheCulpritAndKeepsTheOldSummary) {
  wsload::testing::Server server;
  const auto empty = write("empty.txt", "\n\n").string();
  const std::string url = server.url();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--prompts", (dir_ / "missing.txt").string()}, "--prompts"},
      {{"--prompts", empty}, "--prompts"},
      {{"--prompts", dir_.string()}, "--prompts"},
      {{"--url", "http://example.com/"}, "--url"},
      {{"--url", "ws://host:99999/"}, "--url"},
      {{"--bogus"}, "--bogus"},
      // A value that is no number is told apart from a number out of range.
      {{"--connections", "many"}, "--connections: 'many' is not a whole number in [1 - 100000]"},
      {{"--connections", "0"}, "--connections: 0 is not in [1 - 100000]"},
      {{"--iterations", "1.5"}, "--iterations: '1.5' is not a whole number in [1 - 10000000]"},
      {{"--threads", "-1"}, "--threads: -1 is not in [0 - 256]"},
      {{"--timeout", "soon"}, "--timeout: 'soon' is not a number in [0.001 - 86400]"},
      {{"--timeout", "0"}, "--timeout: 0 is not in [0.001 - 86400]"},
      {{"--min-success-rate", "150"}, "--min-success-rate"},
      {{"--max-latency", "-1"}, "--max-latency"},
      {{"--threshold", "p99<fast"}, "--threshold"},
      {{"--header", "no colon"}, "--header"},
      {{"--summary", (dir_ / "no" / "such" / "dir.json").string()}, "--summary"},
      {{"--reconnect", "-1"}, "--reconnect"},
      {{"--reconnect-backoff", "0"}, "--reconnect-backoff"},
      {{"--stages", "30s"}, "--stages"},
      {{"--rate", "-5"}, "--rate"},
      {{"--duration", "1", "--stages", "1s:5"}, "--duration"},
      {{"--threshold", "p99<1s over 0s"}, "--threshold"},
  };
  for (const auto& [extra, culprit] : cases) {
    std::ofstream(summary_) << "previous run";
    auto args = run_args(url);
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_process(args, clean_env());
    const auto shown = extra.front() + " " + (extra.size() > 1 ? extra[1] : "");
    EXPECT_EQ(r.exit_code, 2) << shown << "\n" << r.err;
    EXPECT_NE(r.err.find(culprit), std::string::npos) << shown << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_EQ(read_text(summary_), "previous run") << shown;
  }
  EXPECT_EQ(server.messages(), 0u);
}

TEST_F(Cli, EnvironmentVariablesFillInAndFlagsWin) {
  wsload::testing::Server server;
  auto env = clean_env();
  env["WSLOAD_URL"] = server.url("/from-env");
  env["WSLOAD_PROMPTS"] = prompts_;
  env["WSLOAD_CONNECTIONS"] = "3";
  env["WSLOAD_ORIGIN"] = "https://env.example.com";
  env["WSLOAD_MIN_RPS"] = "1";
  const auto r = run_process({WSLOAD_CLI, "run", "--summary", summary_}, env);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(read_json(summary_)["total_requests"], 9);
  EXPECT_EQ(server.handshakes().at(0).target, "/from-env");
  EXPECT_EQ(server.handshakes().at(0).header("origin"), "https://env.example.com");

  const auto flag_wins =
      run_process({WSLOAD_CLI, "run", "--summary", summary_, "--connections", "2"}, env);
  ASSERT_EQ(flag_wins.exit_code, 0) << flag_wins.err;
  EXPECT_EQ(read_json(summary_)["total_requests"], 6);

  env["WSLOAD_MIN_SUCCESS_RATE"] = "lots";
  const auto bad = run_process({WSLOAD_CLI, "run", "--summary", summary_}, env);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--min-success-rate"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("WSLOAD_MIN_SUCCESS_RATE"), std::string::npos) << bad.err;
  env.erase("WSLOAD_MIN_SUCCESS_RATE");

  // A bad value names where it came from: the variable, or the flag that overrode it.
  env["WSLOAD_CONNECTIONS"] = "abc";
  const auto bad_variable = run_process({WSLOAD_CLI, "run", "--summary", summary_}, env);
  EXPECT_EQ(bad_variable.exit_code, 2);
  EXPECT_NE(bad_variable.err.find("WSLOAD_CONNECTIONS"), std::string::npos) << bad_variable.err;
  EXPECT_NE(bad_variable.err.find("'abc'"), std::string::npos) << bad_variable.err;
  env["WSLOAD_CONNECTIONS"] = "3";
  const auto bad_flag =
      run_process({WSLOAD_CLI, "run", "--summary", summary_, "--connections", "abc"}, env);
  EXPECT_EQ(bad_flag.exit_code, 2);
  EXPECT_NE(bad_flag.err.find("--connections"), std::string::npos) << bad_flag.err;
  EXPECT_EQ(bad_flag.err.find("WSLOAD_CONNECTIONS"), std::string::npos) << bad_flag.err;
  EXPECT_EQ(server.messages(), 9u + 6u) << "no bad value sent anything";
}

// `wsload compare` of single runs: summaries are judged against the confidence bounds of
// their histograms, Google Benchmark JSON without repetitions is said not to be
// noise-aware, and a figure that is not a number is an error naming it.
TEST_F(Cli, CompareOfSingleRunsKnowsItsNoise) {
  const auto summary = [this](const std::string& file, std::int64_t base_us, int n) {
    wsload::Summary s;
    s.name = "chat";
    s.total_requests = s.successful_requests = static_cast<std::uint64_t>(n);
    s.connections_configured = s.connections_opened = 4;
    s.total_time = wsload::Seconds(4);
    for (int i = 0; i < n; ++i) {
      const auto us = base_us + (i * 37) % 400;
      s.latency.record(us);
      s.time_series.record(static_cast<std::size_t>(i * 4 / n), us);
    }
    wsload::write_summary(s, dir_ / file);
    return (dir_ / file).string();
  };
  const auto compare = [](std::vector<std::string> args) {
    args.insert(args.begin(), {WSLOAD_CLI, "compare"});
    return run_process(args);
  };
  // 20 requests a side, 20 % apart at the median: what 20 samples can say.
  const auto few = compare({summary("few.json", 1'000, 20), summary("few2.json", 1'200, 20)});
  EXPECT_EQ(few.exit_code, 0) << few.out << few.err;
  EXPECT_NE(few.out.find("99 % confidence bounds"), std::string::npos) << few.out;
  EXPECT_EQ(few.out.find("NOT noise-aware"), std::string::npos) << few.out;
  const auto slower =
      compare({summary("base.json", 1'000, 4'000), summary("slow.json", 1'400, 4'000)});
  EXPECT_EQ(slower.exit_code, 1) << slower.out << slower.err;

  const auto benchmark = [this](const std::string& file, const std::string& p50) {
    std::ofstream(dir_ / file) << R"({"benchmarks": [{"name": "Chat", "run_type": "iteration",
        "real_time": 100, "time_unit": "ms", "p50_ms": )"
                               << p50 << "}]}";
    return (dir_ / file).string();
  };
  const auto a = benchmark("a.json", "1.0");
  const auto unaware = compare({a, benchmark("b.json", "1.25"), "--metrics", "p50"});
  EXPECT_EQ(unaware.exit_code, 0) << unaware.out << unaware.err;
  EXPECT_NE(unaware.out.find("NOT noise-aware"), std::string::npos) << unaware.out;
  EXPECT_EQ(compare({a, benchmark("c.json", "1.4"), "--metrics", "p50"}).exit_code, 1);

  for (const auto& [value, said] : std::vector<std::pair<std::string, std::string>>{
           {"null", "p50_ms is null or NaN"},
           {"NaN", "p50_ms is null or NaN"},
           {R"("1.2")", R"(p50_ms is not a number: "1.2")"}}) {
    const auto bad = compare({a, benchmark("bad.json", value), "--metrics", "p50"});
    EXPECT_EQ(bad.exit_code, 2) << value << bad.out;
    EXPECT_NE(bad.err.find("NEW"), std::string::npos) << bad.err;
    EXPECT_NE(bad.err.find(said), std::string::npos) << bad.err;
  }
  // A summary in which nothing succeeded has no median to compare.
  wsload::Summary down;
  down.name = "chat";
  down.total_requests = down.failed_requests = 4;
  down.errors = {{wsload::ErrorKind::connect, "refused", 4}};
  down.total_time = wsload::Seconds(1);
  wsload::write_summary(down, dir_ / "down.json");
  const auto none = compare({(dir_ / "base.json").string(), (dir_ / "down.json").string()});
  EXPECT_EQ(none.exit_code, 2) << none.out;
  EXPECT_NE(none.err.find("case 'chat' has no value of p50"), std::string::npos) << none.err;
}

TEST_F(Cli, JsonPrintsTheSummaryOnStdout) {
  wsload::testing::Server server;
  auto args = run_args(server.url());
  args.push_back("--json");
  const auto r = run_process(args, clean_env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema"], "wsload.summary/1");
  EXPECT_EQ(j["total_requests"], 60);
}

TEST_F(Cli, ProgressIsPlainLinesWhenNotOnATerminal) {
  wsload::testing::ServerOptions options;
  options.reply_delay = 20ms;
  wsload::testing::Server server(options);
  auto args = run_args(server.url());
  args.insert(args.end(),
              {"--connections", "2", "--iterations", "5", "--progress-interval", "0.1"});
  const auto r = run_process(args, clean_env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("progress: "), std::string::npos) << "15 x 20 ms runs past 0.1 s";
  EXPECT_NE(r.err.find("/30 requests"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos);
}

TEST_F(Cli, InterruptWritesAPartialSummaryAndExits130) {
  wsload::testing::ServerOptions options;
  options.reply_delay = 5ms;
  wsload::testing::Server server(options);
  auto args = run_args(server.url());
  args.insert(args.end(),
              {"--connections", "2", "--iterations", "100000", "--progress-interval", "0.1"});
  // The first progress line says the run is under way: then Ctrl-C.
  const auto r =
      run_process(args, clean_env(), 60s, [](const std::string&, const std::string& err) {
        return err.find("progress: ") != std::string::npos ? SIGINT : 0;
      });
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 130) << r.err;
  const auto j = read_json(summary_);
  EXPECT_TRUE(j["interrupted"].get<bool>());
  EXPECT_GT(j["successful_requests"].get<int>(), 0);
  EXPECT_EQ(j["total_requests"], 600'000);
  EXPECT_NE(r.out.find("INTERRUPTED"), std::string::npos) << r.out;
}

TEST_F(Cli, ServePrintsItsUrlAndStopsOnSigterm) {
  std::string url;
  const auto r = run_process({WSLOAD_CLI, "serve", "--tls", "--ca-out", (dir_ / "ca.pem").string()},
                             clean_env(), 30s, [&](const std::string& out, const std::string&) {
                               return out.find("Ctrl-C to stop") != std::string::npos ? SIGTERM : 0;
                             });
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("listening on wss://127.0.0.1:"), std::string::npos) << r.out;
  EXPECT_NE(read_text((dir_ / "ca.pem").string()).find("BEGIN CERTIFICATE"), std::string::npos);
}

TEST_F(Cli, VersionAndHelp) {
  const auto version = run_process({WSLOAD_CLI, "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("wsload 0.1.0"), std::string::npos);
  const auto help = run_process({WSLOAD_CLI, "run", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("WSLOAD_MIN_SUCCESS_RATE"), std::string::npos);
  const auto none = run_process({WSLOAD_CLI});
  EXPECT_EQ(none.exit_code, 2);
}

TEST_F(Cli, DemoRunsWsThenWssAndPasses) {
  const auto r = run_process({WSLOAD_CLI, "demo", "--iterations", "5"}, clean_env());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("demo ws ("), std::string::npos);
  EXPECT_NE(r.out.find("demo wss ("), std::string::npos);
}

}  // namespace

namespace {

TEST_F(Cli, ExampleScriptRunsTheCliWithItsVariables) {
  wsload::testing::Server server;
  auto env = clean_env();
  env["URL"] = server.url("/script");
  env["ORIGIN"] = "https://script.example.com";
  env["CONNECTIONS"] = "2";
  env["MIN_RPS"] = "1";
  env["SUMMARY"] = summary_;
  env["WSLOAD"] = WSLOAD_CLI;
  const auto r = run_process({"/bin/bash", WSLOAD_EXAMPLES_DIR "/run_load_test.sh"}, env);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(read_json(summary_)["total_requests"], 16) << "2 connections x 8 example prompts";
  EXPECT_EQ(server.handshakes().at(0).header("origin"), "https://script.example.com");
}

}  // namespace
