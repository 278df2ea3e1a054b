// The real `wsload` binary against the embedded server: exit codes, summaries, messages,
// environment fallbacks, progress output and Ctrl-C.
#include <algorithm>
#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <set>
#include <sstream>
#include <tuple>

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

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

// An LLM's streamed answer: --first-token skips the acknowledgement, and the token
// figures reach the thresholds, the console and the summary; a bad rule is exit code 2.
TEST_F(Cli, FirstTokenRuleTimesTokensAndJudgesTheirThresholds) {
  wsload::testing::ServerOptions options;
  options.mode = wsload::testing::ReplyMode::api_gateway;
  wsload::testing::Route route;
  route.kind = wsload::testing::Route::Kind::tokens;
  route.chunks = 4;
  route.delay = 30ms;
  route.chunk_delay = 5ms;
  options.routes = {{"$default", route}};
  wsload::testing::Server server(options);
  auto args = run_args(server.url("/chat"));
  args.insert(args.end(), {"--connections", "2", "--complete", R"(/type=="end")", "--first-token",
                           R"(/type=="token")", "-t", "ttft_min>=30ms", "-t", "itl_p50>=4ms", "-t",
                           "tpot_p99<60s"});
  const auto r = run_process(args, clean_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS  ttft_min>=30ms"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("First token (ms):"), std::string::npos) << r.out;
  const auto summary = read_json(summary_);
  EXPECT_EQ(summary["inter_frame"]["count"], summary["successful_requests"].get<int>() * 3);
  EXPECT_EQ(summary["config"]["first_token"], R"(/type=="token")");

  args = run_args(server.url("/chat"));
  args.insert(args.end(), {"--first-token", "frames=0"});
  const auto bad = run_process(args, clean_env());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("first token"), std::string::npos) << bad.err;

  args = run_args(server.url("/chat"));
  args.insert(args.end(), {"--complete", R"(/type=="end")", "--tokens", "/usage/output_tokens"});
  ASSERT_EQ(run_process(args, clean_env()).exit_code, 0);
  EXPECT_EQ(read_json(summary_)["output"]["tokens"],
            read_json(summary_)["successful_requests"].get<int>() * 4);
  args = run_args(server.url("/chat"));
  args.insert(args.end(), {"--tokens", "usage"});
  const auto bad_tokens = run_process(args, clean_env());
  EXPECT_EQ(bad_tokens.exit_code, 2);
  EXPECT_NE(bad_tokens.err.find("tokens"), std::string::npos) << bad_tokens.err;
}

// A dozen secrets in every input a run takes (the URL from the environment, the query,
// headers, the origin, a subprotocol, the template): they reach the server, and no output
// or message shows one, whether the run fails a threshold or is refused as bad input.
TEST_F(Cli, SecretsReachTheServerButNoOutputNorMessage) {
  const std::string jwt_in_query = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJxIn0.QueryJwtSignature4";
  const std::string jwt_in_header = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJoIn0.HeaderJwtSignature8";
  const std::vector<std::string> secrets = {"JwtQuerySecret1",      "PwdQuerySecret2",
                                            "CodeQuerySecret3",     jwt_in_query,
                                            "AmzSignatureSecret5",  "BearerHeaderSecret6",
                                            "ApiKeyHeaderSecret7",  jwt_in_header,
                                            "CookieSessionSecret9", "OriginPasswordSecret10",
                                            "K8sBearerSecret11",    "TemplateTokenSecret12"};
  const auto leaks = [&](const std::string& where, const std::string& text) {
    for (const auto& secret : secrets) {
      const auto at = text.find(secret);
      EXPECT_EQ(at, std::string::npos)
          << secret << " in " << where << ": ..." << text.substr(at < 60 ? 0 : at - 60, 120);
    }
  };
  wsload::testing::Server server;
  auto env = clean_env();
  const std::string query = "?jwt=" + secrets[0] + "&pwd=" + secrets[1] + "&code=" + secrets[2] +
                            "&stage=dev&state=" + jwt_in_query;
  env["WSLOAD_URL"] = server.url("/chat") + query;
  const auto report = dir_ / "report.html";
  const auto junit = dir_ / "junit.xml";
  const std::vector<std::string> inputs = {
      "--query",
      "X-Amz-Signature=" + secrets[4],
      "-H",
      "Authorization: Bearer " + secrets[5],
      "-H",
      "X-Api-Key: " + secrets[6],
      "-H",
      "X-Client-Assertion: " + jwt_in_header,
      "-H",
      "Cookie: session=" + secrets[8],
      "--origin",
      "https://deploy:" + secrets[9] + "@app.example.com",
      "--subprotocol",
      "chat",
      "--subprotocol",
      "base64url.bearer.authorization.k8s.io." + secrets[10],
      "--template",
      R"({"action":"sendmessage","token":")" + secrets[11] + R"(","prompt":{{prompt}}})"};
  std::vector<std::string> args = {WSLOAD_CLI,  "run",          "--prompts", prompts_,
                                   "--summary", summary_,       "--report",  report.string(),
                                   "--junit",   junit.string(), "-t",        "p99<1us"};
  args.insert(args.end(), inputs.begin(), inputs.end());
  const auto r = run_process(args, env);
  ASSERT_EQ(r.exit_code, 1) << "p99<1us fails\n" << r.out << r.err;
  const auto handshake = server.handshakes().at(0);
  EXPECT_EQ(handshake.target, "/chat" + query + "&X-Amz-Signature=" + secrets[4]);
  EXPECT_EQ(handshake.header("authorization"), "Bearer " + secrets[5]);
  leaks("stdout", r.out);
  leaks("stderr", r.err);
  leaks("the summary", read_text(summary_));
  leaks("the report", read_text(report));
  leaks("the JUnit XML", read_text(junit));
  EXPECT_NE(read_text(summary_).find("stage=dev"), std::string::npos) << "only secrets go";

  args.push_back("--json");
  const auto json = run_process(args, env);
  EXPECT_EQ(json.exit_code, 1) << json.err;
  leaks("stdout (--json)", json.out);

  // Refused input echoes its value, without the secrets in it.
  const std::vector<std::pair<std::map<std::string, std::string>, std::vector<std::string>>> bad = {
      {{{"WSLOAD_URL", "http://127.0.0.1/" + query}}, {}},
      {{}, {"--url", "ws://deploy:" + secrets[9] + "@127.0.0.1/x" + query}},
      {{}, {"--subprotocol", "base64url.bearer.authorization.k8s.io." + secrets[10] + "?"}},
      {{}, {"--template", R"({"token":")" + secrets[11] + R"(","prompt":"{{prompt}}})"}},
      {{}, {"--connections", jwt_in_query}},
      {{}, {"--origin", "https://deploy:" + secrets[9] + "@app.example.com\r\nX: y"}},
      {{}, {"--correlation", "/" + jwt_in_header}}};
  for (const auto& [variables, extra] : bad) {
    auto bad_env = env;
    for (const auto& [name, value] : variables) bad_env[name] = value;
    std::vector<std::string> bad_args = {WSLOAD_CLI, "run", "--prompts", prompts_, "--summary", ""};
    bad_args.insert(bad_args.end(), extra.begin(), extra.end());
    const auto refused = run_process(bad_args, bad_env);
    EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
    EXPECT_NE(refused.err.find("wsload: "), std::string::npos) << refused.err;
    leaks("a refusal's stderr", refused.out + refused.err);
  }
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
      // Every number finite and in range, echoed as given, its range readable, and the
      // flag to blame named (a whole line from "wsload: " on is the exact message).
      {{"--rate", "0.01", "-c", "1", "--run-timeout", "20"},
       "wsload: --rate: sends the 3 requests over 300 s, not shorter than the run's timeout "
       "(timeouts.run, --run-timeout: 20 s), which would cut it short; raise that or the rate "
       "(got '0.01')"},
      {{"--rate", "1e-300", "-c", "1"},
       "wsload: --rate: sends the 3 requests over 3e+300 s, not shorter than the run's timeout "
       "(timeouts.run, --run-timeout: 600 s), which would cut it short; raise that or the rate "
       "(got '1e-300')"},
      {{"--duration", "700", "--run-timeout", "600"},
       "wsload: --duration: is not shorter than the run's timeout (timeouts.run, --run-timeout: "
       "600 s), which would cut it short; raise that (got '700 s')"},
      {{"--warmup", "5", "--duration", "2"},
       "wsload: --warmup: is not shorter than the run's sending time; nothing would be measured "
       "(got '5 s')"},
      {{"--timeout", "nan"},
       "wsload: --timeout: 'nan' is not a number in [0.001 - 86400] (see wsload --help)"},
      {{"--duration", "nan"},
       "wsload: --duration: 'nan' is not a number in 0 or [0.001 - 604800] (see wsload --help)"},
      {{"--duration", "1e-300"},
       "wsload: --duration: 1e-300 is not in 0 or [0.001 - 604800] (see wsload --help)"},
      {{"--rate", "inf"}, "wsload: --rate: inf is not in [0 - 10000000] (see wsload --help)"},
      {{"--connect-rate", "nan"},
       "wsload: --connect-rate: 'nan' is not a number in [0 - 1000000] (see wsload --help)"},
      {{"--min-rps", "-1"}, "wsload: --min-rps: -1 is not in [0 - 1000000000] (see wsload --help)"},
      {{"--max-latency", "0"}, "wsload: --max-latency: 0 is not in (0 - 3600] (see wsload --help)"},
      {{"--max-latency", "nan"},
       "wsload: --max-latency: 'nan' is not a number in (0 - 3600] (see wsload --help)"},
      {{"--max-send-size", "-1"},
       "wsload: --max-send-size: -1 is not in [1 - 1073741824] (see wsload --help)"},
      {{"--max-send-size", "99999999999999999999999"},
       "wsload: --max-send-size: 99999999999999999999999 is not in [1 - 1073741824] (see wsload "
       "--help)"},
      {{"--iterations", "010"},
       "wsload: --iterations: '010' is not a plain whole number (digits only, no leading 0) in "
       "[1 - 10000000] (see wsload --help)"},
      {{"--connections", "1e300"},
       "wsload: --connections: 1e300 is not in [1 - 100000] (see wsload --help)"},
      {{"--reconnect-backoff", "nan"},
       "wsload: --reconnect-backoff: 'nan' is not a number in [0.001 - 3600] (see wsload --help)"},
      {{"--stages", "0.0000001s:5"},
       "wsload: --stages: a stage lasts 1 ms to 24 h, with a unit (ms, s, m) (got "
       "'0.0000001s:5')"},
  };
  for (const auto& [extra, culprit] : cases) {
    std::ofstream(summary_) << "previous run";
    auto args = run_args(url);
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_process(args, clean_env());
    const auto shown = extra.front() + " " + (extra.size() > 1 ? extra[1] : "");
    EXPECT_EQ(r.exit_code, 2) << shown << "\n" << r.err;
    if (culprit.starts_with("wsload: ")) {
      EXPECT_EQ(r.err, culprit + "\n") << shown;
    } else {
      EXPECT_NE(r.err.find(culprit), std::string::npos) << shown << ": " << r.err;
    }
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

  // A bad value names the variable it came from, and the flag when the flag gave it.
  const std::tuple<const char*, const char*, std::vector<std::string>, std::string> refused[] = {
      {"WSLOAD_MIN_SUCCESS_RATE",
       "lots",
       {},
       "wsload: WSLOAD_MIN_SUCCESS_RATE (--min-success-rate): 'lots' is not a number in "
       "[0 - 100] (see wsload --help)\n"},
      {"WSLOAD_CONNECTIONS",
       "-1",
       {},
       "wsload: WSLOAD_CONNECTIONS (--connections): -1 is not in [1 - 100000] (see wsload "
       "--help)\n"},
      {"WSLOAD_CONNECTIONS",
       "-1",
       {"--connections", "0"},
       "wsload: --connections: 0 is not in [1 - 100000] (see wsload --help)\n"},
  };
  for (const auto& [variable, value, flags, says] : refused) {
    auto bad_env = env;
    bad_env[variable] = value;
    std::vector<std::string> args = {WSLOAD_CLI, "run", "--summary", summary_};
    args.insert(args.end(), flags.begin(), flags.end());
    const auto bad = run_process(args, bad_env);
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_EQ(bad.err, says);
  }
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

// Ctrl-C, a SIGTERM, or the terminal or SSH session going away (SIGHUP) stops the run:
// the summary of what was measured is written, marked, and the exit code is 128 + the
// signal.
TEST_F(Cli, InterruptWritesAPartialSummaryAndExits128PlusTheSignal) {
  wsload::testing::ServerOptions options;
  options.reply_delay = 5ms;
  wsload::testing::Server server(options);
  auto args = run_args(server.url());
  args.insert(args.end(),
              {"--connections", "2", "--iterations", "100000", "--progress-interval", "0.1"});
  for (const int signal : {SIGINT, SIGTERM, SIGHUP}) {
    fs::remove(summary_);
    // The first progress line says the run is under way: then the signal.
    const auto r =
        run_process(args, clean_env(), 60s, [signal](const std::string&, const std::string& err) {
          return err.find("progress: ") != std::string::npos ? signal : 0;
        });
    ASSERT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 128 + signal) << r.err;
    ASSERT_TRUE(fs::exists(summary_)) << "killed by signal " << signal;
    const auto j = read_json(summary_);
    EXPECT_TRUE(j["interrupted"].get<bool>());
    EXPECT_GT(j["successful_requests"].get<int>(), 0);
    EXPECT_EQ(j["total_requests"].get<int>() + j["not_sent"].get<int>(), 600'000)
        << "what the interrupt left unsent is noted, not failed";
    EXPECT_LE(j["failed_requests"].get<int>(), 2) << "at most the requests in flight";
    EXPECT_NE(r.out.find("INTERRUPTED"), std::string::npos) << r.out;
  }
}

// Windows editors start a UTF-8 file with a byte order mark: it is not part of the prompt.
TEST_F(Cli, ByteOrderMarkIsNotPartOfTheFirstPrompt) {
  wsload::testing::ServerOptions options;
  options.mode = wsload::testing::ReplyMode::api_gateway;  // it keeps what it received
  wsload::testing::Server server(options);
  const auto prompts = write("bom.txt",
                             "\xEF\xBB\xBF"
                             "first prompt\r\nsecond prompt\r\n");
  auto args = run_args(server.url());
  args[5] = prompts.string();
  args.insert(args.end(), {"--connections", "1", "--no-error-rules"});
  const auto r = run_process(args, clean_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(server.received(), (std::vector<std::string>{"first prompt", "second prompt"}));
}

// What a run needs of `ulimit -n` is counted, not guessed: one connection runs within 32
// open files; 40 cannot, and the message says which flag to lower.
TEST_F(Cli, OpenFileLimitIsWhatTheRunNeeds) {
  wsload::testing::Server server;
  const auto limited = [&](const std::string& connections) {
    auto args = run_args(server.url());
    args.insert(args.end(), {"--connections", connections});
    std::vector<std::string> shell = {"/bin/sh", "-c", "ulimit -n 32 && exec \"$0\" \"$@\""};
    shell.insert(shell.end(), args.begin(), args.end());
    return run_process(shell, clean_env());
  };
  const auto one = limited("1");
  ASSERT_EQ(one.exit_code, 0) << one.out << one.err;
  EXPECT_EQ(read_json(summary_)["successful_requests"], 3);
  const auto forty = limited("40");
  EXPECT_EQ(forty.exit_code, 2) << forty.out << forty.err;
  EXPECT_EQ(forty.err.rfind("wsload: --connections: needs about ", 0), 0u) << forty.err;
  EXPECT_NE(forty.err.find("but this process may open only 32 (ulimit -n; hard limit 32)"),
            std::string::npos)
      << forty.err;
}

// Whatever an input file holds, merge, report and compare answer with one line naming what
// is wrong: never a library's exception text.
TEST_F(Cli, NoRawExceptionTextReachesTheUser) {
  wsload::testing::Server server;
  std::vector<std::string> shards;
  for (int k = 0; k < 2; ++k) {
    shards.push_back((dir_ / ("shard-" + std::to_string(k) + ".json")).string());
    auto args = run_args(server.url());
    args[7] = shards.back();
    args.insert(args.end(), {"--connections", "2", "--shard", std::to_string(k) + "/2"});
    ASSERT_EQ(run_process(args, clean_env()).exit_code, 0);
  }
  const auto edited = [&](const std::string& name,
                          const std::function<void(nlohmann::json&)>& edit) {
    auto j = read_json(shards[0]);
    edit(j);
    return write(name, j.dump()).string();
  };
  // A histogram whose header asks for 9 significant digits (HdrHistogram takes 0 to 5).
  std::string raw;
  wsload::detail::put_be(raw, static_cast<std::uint32_t>(wsload::detail::hdr_v2_cookie), 4);
  wsload::detail::put_be(raw, 0, 4);
  wsload::detail::put_be(raw, 0, 4);
  wsload::detail::put_be(raw, 9, 4);
  wsload::detail::put_be(raw, 1, 8);
  wsload::detail::put_be(raw, 3'600'000'000, 8);
  wsload::detail::put_be(raw, std::bit_cast<std::uint64_t>(1.0), 8);
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
            reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()), 6);
  packed.resize(packed_size);
  std::string framed;
  wsload::detail::put_be(framed,
                         static_cast<std::uint32_t>(wsload::detail::hdr_v2_compressed_cookie), 4);
  wsload::detail::put_be(framed, packed.size(), 4);
  const auto digits = edited("digits.json", [&](nlohmann::json& j) {
    j["latency"]["histogram"]["data"] = wsload::detail::base64_encode(framed + packed);
  });
  const auto far = edited("far.json", [](nlohmann::json& j) { j["time_series"]["start"] = 1e300; });
  const auto negative =
      edited("negative.json", [](nlohmann::json& j) { j["shard"]["index"] = -1; });
  const auto no_latency = edited("no-latency.json", [](nlohmann::json& j) { j.erase("latency"); });
  const auto benchmark = write("benchmark.json", R"({"benchmarks":[{"name":"a"}]})").string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"merge", digits, shards[1]},
       "wsload: " + digits +
           ": latency.histogram: not an HdrHistogram compressed V2 histogram: 9 "
           "significant digits are not 0 to 5"},
      {{"merge", negative, shards[1]},
       "wsload: " + negative +
           ": shard.index: -1 is not a whole number from 0 to 9007199254740992"},
      {{"merge", far, shards[1]}, "wsload: "},
      {{"report", no_latency},
       "wsload: " + no_latency + ": malformed summary: lacks the field 'latency'"},
      {{"compare", shards[0], no_latency},
       "wsload: " + no_latency + ": malformed summary: lacks the field 'latency'"},
      {{"compare", benchmark, benchmark},
       "wsload: compare: the two files have no case (and metric) in common"},
  };
  for (const auto& [command, says] : cases) {
    std::vector<std::string> args = {WSLOAD_CLI};
    args.insert(args.end(), command.begin(), command.end());
    if (command[0] != "compare") args.insert(args.end(), {"--out", ""});
    const auto r = run_process(args, clean_env());
    EXPECT_EQ(r.exit_code, 2) << command[0] << " " << command[1] << ": " << r.err;
    EXPECT_EQ(r.err.rfind(says, 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    for (const char* raw_text : {"json.exception", "std::", "vector::", "bad_alloc", "what()"}) {
      EXPECT_EQ(r.err.find(raw_text), std::string::npos) << r.err;
    }
  }
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

namespace {

// A shard's summary as the engine writes one, made here so that each edit of it below is
// the only thing wrong: 20 requests, 17 of them answered, 3 timed out, over two seconds.
wsload::Summary shard_summary(std::size_t index) {
  wsload::Summary s;
  s.name = "edited";
  s.total_requests = 20;
  s.successful_requests = 17;
  s.failed_requests = 3;
  s.total_time = wsload::Seconds(2);
  for (int i = 0; i < 17; ++i) {
    s.latency.record(1'000 + 10 * i);
    s.ttfb.record(500 + 10 * i);
    s.time_series.record(static_cast<std::size_t>(i % 2), 1'000 + 10 * i);
  }
  s.time_series.fail(1, 3);
  s.errors = {{wsload::ErrorKind::reply_timeout, "", 3}};
  s.connections_configured = 2;
  s.connections_opened = 2;
  s.threads = 1;
  s.measured_from = 1'800'000'000;
  s.shard = wsload::Shard{index, 2};
  s.config = {{"connections", 4}};
  return s;
}

/// A GoogleTest reporter's file holding `summary` as the case Load.Case.
nlohmann::json gtest_report_of(const wsload::Summary& summary) {
  auto entry = to_json(summary);
  entry["suite"] = "Load";
  entry["test"] = "Case";
  entry["status"] = "passed";
  return {{"schema", wsload::gtest_report_schema}, {"entries", {entry}}};
}

TEST_F(Cli, EditedSummariesAreRefusedByMergeReportAndCompareNamingTheFileAndField) {
  using nlohmann::json;
  const auto first = write("shard-0.json", to_json(shard_summary(0)).dump()).string();
  const auto good = to_json(shard_summary(1));
  write("shard-1.json", good.dump());
  const auto merged = (dir_ / "merged.json").string();
  const auto html = (dir_ / "report.html").string();
  const auto accepted = run_process(
      {WSLOAD_CLI, "merge", first, (dir_ / "shard-1.json").string(), "--out", ""}, clean_env());
  ASSERT_EQ(accepted.exit_code, 0) << "the unedited shards merge: " << accepted.err;

  const auto histogram = [](std::int64_t value, std::int64_t count) {
    wsload::Histogram h;
    h.record(value, count);
    return h.encode();
  };
  const std::vector<std::pair<std::string, std::function<void(json&)>>> cases = {
      {"total_requests: 20 is not successful_requests 17 + failed_requests 4",
       [](json& j) { j["failed_requests"] = 4; }},
      {"total_requests: -5 is not a whole number", [](json& j) { j["total_requests"] = -5; }},
      {"total_requests: 18446744073709551615 is not a whole number",
       [](json& j) { j["total_requests"] = ~std::uint64_t{0}; }},
      {"total_requests: 1e+30 is not a whole number", [](json& j) { j["total_requests"] = 1e30; }},
      {"total_requests: 1.5 is not a whole number", [](json& j) { j["total_requests"] = 1.5; }},
      {"latency.histogram: holds 17 samples, but successful_requests is 1000",
       [](json& j) {
         j["successful_requests"] = 1000;
         j["total_requests"] = 1003;
       }},
      {"latency.histogram: holds 1000000 samples, but successful_requests is 17",
       [&](json& j) {
         auto& h = j["latency"]["histogram"];
         h["data"] = histogram(1'000, 1'000'000);
         h["max"] = 1'000;
         h["sum"] = 1e9;
       }},
      {"errors.details: their requests sum to 5, but failed_requests is 3",
       [](json& j) { j["errors"]["details"][0]["requests"] = 5; }},
      {"ttfb.histogram: holds 18 samples, more than successful_requests 17",
       [&](json& j) {
         auto& h = j["ttfb"]["histogram"];
         h["data"] = histogram(500, 18);
         h["max"] = 500;
         h["sum"] = 9'000;
       }},
      {"time_series.intervals: their succeeded sum to 18, but successful_requests is 17",
       [](json& j) { j["time_series"]["intervals"][0]["succeeded"] = 10; }},  // of 9
      {"time_series.intervals: their failed sum to 4, more than failed_requests 3",
       [](json& j) { j["time_series"]["intervals"][1]["failed"] = 4; }},
      {"shard.index: -1 is not a whole number", [](json& j) { j["shard"]["index"] = -1; }},
  };
  for (const auto& [says, edit] : cases) {
    auto j = good;
    edit(j);
    const auto edited = write("shard-1.json", j.dump()).string();
    const std::vector<std::vector<std::string>> commands = {
        {WSLOAD_CLI, "merge", first, edited, "--out", merged},
        {WSLOAD_CLI, "report", edited, "--out", html},
        {WSLOAD_CLI, "compare", first, edited},
    };
    for (const auto& command : commands) {
      const auto r = run_process(command, clean_env());
      EXPECT_EQ(r.exit_code, 2) << command[1] << ", " << says << ": " << r.out << r.err;
      EXPECT_NE(r.err.find("wsload: " + edited + ": " + says), std::string::npos)
          << command[1] << ": " << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    }
    EXPECT_FALSE(fs::exists(merged)) << says;
    EXPECT_FALSE(fs::exists(html)) << says;
  }

  // A GoogleTest report's entry is read the same way, and named by its case.
  const auto report = write("report-0.json", gtest_report_of(shard_summary(0)).dump()).string();
  auto edited_report = gtest_report_of(shard_summary(1));
  edited_report["entries"][0]["failed_requests"] = 4;
  const auto edited = write("report-1.json", edited_report.dump()).string();
  for (const auto& command :
       std::vector<std::vector<std::string>>{{WSLOAD_CLI, "merge", report, edited, "--out", merged},
                                             {WSLOAD_CLI, "report", edited, "--out", html},
                                             {WSLOAD_CLI, "compare", report, edited}}) {
    const auto r = run_process(command, clean_env());
    EXPECT_EQ(r.exit_code, 2) << command[1] << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("wsload: " + edited +
                         " (Load.Case): total_requests: 20 is not successful_requests 17 + "
                         "failed_requests 4"),
              std::string::npos)
        << command[1] << ": " << r.err;
  }
}

}  // namespace

namespace {

// A "schema" that is no text is neither a summary nor a GoogleTest report: refused as bad
// input naming the file, by the same reader as every other summary.
TEST_F(Cli, ASchemaThatIsNoTextIsRefusedNamingTheFile) {
  const auto odd = write("odd.json", R"({"schema": 5})").string();
  const auto out = (dir_ / "out").string();
  for (const auto& command :
       std::vector<std::vector<std::string>>{{WSLOAD_CLI, "report", odd, "--out", out},
                                             {WSLOAD_CLI, "merge", odd, odd, "--out", out}}) {
    const auto r = run_process(command, clean_env());
    EXPECT_EQ(r.exit_code, 2) << command[1] << ": " << r.err;
    EXPECT_EQ(r.err.rfind("wsload: " + odd + ": malformed summary: ", 0), 0u)
        << command[1] << ": " << r.err;
    EXPECT_FALSE(fs::exists(out));
  }
}

TEST_F(Cli, DashPutsTheSummaryReportOrJUnitOnStandardOutput) {
  wsload::testing::Server server;
  const bool stray_before = fs::exists("-");
  auto args = run_args(server.url());
  args[7] = "-";  // --summary -
  auto r = run_process(args, clean_env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(nlohmann::json::accept(r.out)) << "stdout is the summary alone: " << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["total_requests"], 60);
  EXPECT_NE(r.err.find("Result: PASS"), std::string::npos) << "the table goes to stderr";
  EXPECT_EQ(fs::exists("-"), stray_before) << "a file named '-' was made";

  for (const auto& [flag, begins] : std::vector<std::pair<std::string, std::string>>{
           {"--report", "<!DOCTYPE html>"}, {"--junit", "<?xml"}}) {
    args = run_args(server.url());
    args[7] = "";
    args.insert(args.end(), {flag, "-", "--quiet"});
    r = run_process(args, clean_env());
    ASSERT_EQ(r.exit_code, 0) << flag << ": " << r.err;
    EXPECT_EQ(r.out.rfind(begins, 0), 0u) << flag << ": " << r.out.substr(0, 200);
    EXPECT_NE(r.err.find("Result: PASS"), std::string::npos) << r.err;
  }
  EXPECT_EQ(server.messages(), 180u);

  // Standard output carries one output at most: refused before anything is sent.
  args = run_args(server.url());
  args[7] = "-";
  args.insert(args.end(), {"--junit", "-"});
  r = run_process(args, clean_env());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("wsload: --junit: standard output already carries --summary"),
            std::string::npos)
      << r.err;
  args = run_args(server.url());
  args.insert(args.end(), {"--json", "--report", "-"});
  r = run_process(args, clean_env());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("wsload: --report: standard output already carries --json"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(server.messages(), 180u);

  // merge --out - and report --out - too.
  const auto first = write("shard-0.json", to_json(shard_summary(0)).dump()).string();
  const auto second = write("shard-1.json", to_json(shard_summary(1)).dump()).string();
  r = run_process({WSLOAD_CLI, "merge", first, second, "--out", "-"}, clean_env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(nlohmann::json::accept(r.out)) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["total_requests"], 40);
  EXPECT_NE(r.err.find("Merged from 2 shards"), std::string::npos) << r.err;
  r = run_process({WSLOAD_CLI, "report", first, "--out", "-"}, clean_env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("<!DOCTYPE html>", 0), 0u) << r.out.substr(0, 200);
  EXPECT_NE(r.err.find("Report of 1 run written to standard output"), std::string::npos) << r.err;
  EXPECT_EQ(fs::exists("-"), stray_before);
}

TEST_F(Cli, OutputsThroughADeviceAFifoAndASymlinkLeaveThemInPlace) {
  const auto null = null_device("null");
  if (null.empty()) GTEST_SKIP() << "mknod needs CAP_MKNOD";
  const auto fifo = dir_ / "report.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  fs::create_directory(dir_ / "results");
  const auto junit = write("results/junit.xml", "old");
  fs::create_symlink("results/junit.xml", dir_ / "junit.xml");
  wsload::test::FifoReader reader(fifo, 60s);
  ASSERT_TRUE(reader.opened());

  wsload::testing::Server server;
  auto args = run_args(server.url());
  args[7] = null.string();
  args.insert(args.end(), {"--report", fifo.string(), "--junit", (dir_ / "junit.xml").string()});
  const auto r = run_process(args, clean_env());
  const auto html = reader.stop();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u) << html.substr(0, 200);
  EXPECT_NE(html.find("</html>"), std::string::npos) << "the whole report came through";
  EXPECT_EQ(type_of(null), S_IFCHR) << "the device was replaced";
  EXPECT_EQ(type_of(fifo), S_IFIFO) << "the FIFO was replaced";
  EXPECT_EQ(type_of(dir_ / "junit.xml"), S_IFLNK) << "the link was replaced";
  EXPECT_EQ(read_text(junit).rfind("<?xml", 0), 0u) << "the link's target holds the XML";
}

TEST_F(Cli, UnwritableOutputsAreRefusedBeforeAnyTraffic) {
  wsload::testing::Server server;
  const auto directory = (dir_ / "a-directory").string();
  fs::create_directory(directory);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--summary", directory},
      {"--report", directory},
      {"--junit", (dir_ / "missing" / "junit.xml").string()},
      {"--summary", "/proc/wsload_summary.json"},
      {"--report", "/proc/wsload_report.html"},
      {"--junit", "/proc/self/wsload_junit.xml"},
  };
  for (const auto& [flag, path] : cases) {
    auto args = run_args(server.url());
    if (flag == "--summary") {
      args[7] = path;
    } else {
      args.insert(args.end(), {flag, path});
    }
    const auto r = run_process(args, clean_env());
    EXPECT_EQ(r.exit_code, 2) << flag << " " << path << ": " << r.out << r.err;
    EXPECT_EQ(r.err.rfind("wsload: " + flag + ": ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
    EXPECT_EQ(r.out, "") << flag << " " << path;
  }
  EXPECT_EQ(server.messages(), 0u) << "a refused output sent traffic first";
  EXPECT_TRUE(server.handshakes().empty()) << "a refused output opened connections first";

  const auto first = write("shard-0.json", to_json(shard_summary(0)).dump()).string();
  const auto second = write("shard-1.json", to_json(shard_summary(1)).dump()).string();
  for (const auto& [command, says] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{WSLOAD_CLI, "merge", first, second, "--out", "/proc/wsload_merged.json"},
            "wsload: --out: "},
           {{WSLOAD_CLI, "merge", first, second, "--report", directory}, "wsload: --report: "},
           {{WSLOAD_CLI, "report", first, "--out", directory}, "wsload: --out: "}}) {
    const auto r = run_process(command, clean_env());
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_EQ(r.err.rfind(says, 0), 0u) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace
