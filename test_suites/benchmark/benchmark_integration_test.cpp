// A real load-benchmark program against the embedded server, its Google Benchmark JSON,
// and `wsload compare` over such files.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <wsload/compare.hpp>
#include <wsload/results/runs.hpp>
#include <wsload/testing/server.hpp>

#include "../support/process.hpp"
#include "../support/scratch.hpp"

namespace {

using namespace std::chrono_literals;
using wsload::test::run_process;
namespace fs = std::filesystem;

class LoadBenchmark : public wsload::test::ScratchTest {
 protected:
  // Runs the benchmark program against `server`; returns the JSON file it wrote.
  fs::path bench(const wsload::testing::Server& server, const std::string& filter,
                 const std::string& out_name, std::vector<std::string> extra = {}) {
    const auto out = dir_ / out_name;
    std::vector<std::string> args = {WSLOAD_LOAD_BENCHMARKS, "--benchmark_filter=" + filter,
                                     "--benchmark_out=" + out.string(),
                                     "--benchmark_out_format=json"};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_process(args, {{"WSLOAD_URL", server.url("/bench")}}, 120s);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return out;
  }
  // Google Benchmark writes NaN for some aggregates, which strict JSON refuses.
  static nlohmann::json read_json(const fs::path& path) {
    std::ifstream in(path);
    return wsload::detail::parse_json_allowing_nan(in);
  }
  static std::vector<nlohmann::json> iterations(const nlohmann::json& report) {
    std::vector<nlohmann::json> runs;
    for (const auto& b : report["benchmarks"]) {
      if (b.value("run_type", "") == "iteration") runs.push_back(b);
    }
    return runs;
  }
  static wsload::test::ProcessResult compare(std::vector<std::string> args) {
    args.insert(args.begin(), {WSLOAD_CLI, "compare"});
    return run_process(args);
  }
};

TEST_F(LoadBenchmark, CountersExistAndAgreeWithTheLoad) {
  wsload::testing::ServerOptions options;
  options.reply_delay = 20ms;
  wsload::testing::Server server(options);
  const auto report = read_json(bench(server, "^Echo", "echo.json"));
  const auto runs = iterations(report);
  ASSERT_EQ(runs.size(), 1u);
  const auto& b = runs[0];
  EXPECT_EQ(b["messages"].get<double>(), 40) << "4 connections x 2 prompts x 5 iterations";
  EXPECT_EQ(b["errors"].get<double>(), 0);
  EXPECT_EQ(b["success_rate"].get<double>(), 100);
  EXPECT_EQ(server.messages(), 40u);
  EXPECT_GE(b["p50_ms"].get<double>(), 20.0) << "never below the server's delay";
  EXPECT_LE(b["p50_ms"].get<double>(), b["p90_ms"].get<double>());
  EXPECT_LE(b["p90_ms"].get<double>(), b["p95_ms"].get<double>());
  EXPECT_LE(b["p95_ms"].get<double>(), b["p99_ms"].get<double>());
  EXPECT_LE(b["p99_ms"].get<double>(), b["p999_ms"].get<double>());
  EXPECT_GT(b["rps"].get<double>(), 0);
  EXPECT_GE(b["avg_ms"].get<double>(), 20.0);
  EXPECT_EQ(b["time_unit"], "ms");
  EXPECT_GE(b["real_time"].get<double>(), 10 * 20.0) << "10 sequential round trips of 20 ms";
  // rps is messages over the run's time: the two counters and the time agree.
  EXPECT_NEAR(b["rps"].get<double>(), 40 / (b["real_time"].get<double>() / 1e3),
              b["rps"].get<double>() * 0.01);
}

TEST_F(LoadBenchmark, StreamedRepliesGiveTheirFiguresAsCounters) {
  wsload::testing::ServerOptions options;
  options.mode = wsload::testing::ReplyMode::api_gateway;
  wsload::testing::Route tokens;
  tokens.kind = wsload::testing::Route::Kind::tokens;
  tokens.chunks = 4;
  tokens.delay = 30ms;
  tokens.chunk_delay = 10ms;
  options.routes = {{"$default", tokens}};
  wsload::testing::Server server(options);
  const auto runs = iterations(read_json(bench(server, "^Streamed", "streamed.json")));
  ASSERT_EQ(runs.size(), 1u);
  const auto& b = runs[0];
  EXPECT_EQ(b["success_rate"].get<double>(), 100) << b.dump();
  // Every counter compare reads for a streamed run, each no lower than the server made it.
  EXPECT_GE(b["ttft_p50_ms"].get<double>(), 30.0 * 0.99);
  EXPECT_LE(b["ttft_p50_ms"].get<double>(), b["ttft_p99_ms"].get<double>());
  EXPECT_GE(b["itl_p50_ms"].get<double>(), 10.0 * 0.9);
  EXPECT_GE(b["tpot_p95_ms"].get<double>(), 10.0 * 0.9);
  EXPECT_GT(b["output_rate_p50"].get<double>(), 0);
  // Each reply met the SLO: goodput is the request rate.
  EXPECT_NEAR(b["goodput"].get<double>(), b["rps"].get<double>(), b["rps"].get<double>() * 1e-6);
  // The plain echo benchmark streams nothing and has no SLO: none of these counters.
  wsload::testing::Server echo;
  const auto plain = iterations(read_json(bench(echo, "^Echo", "plain.json")));
  ASSERT_EQ(plain.size(), 1u);
  EXPECT_FALSE(plain[0].contains("itl_p50_ms"));
  EXPECT_FALSE(plain[0].contains("goodput"));
}

TEST_F(LoadBenchmark, HandWrittenBenchmarksUseTheHelper) {
  wsload::testing::Server server;
  const auto runs = iterations(read_json(bench(server, "^HandWritten", "hand.json")));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["messages"].get<double>(), 80) << "two iterations of 40";
  EXPECT_EQ(runs[0]["successful"].get<double>(), 80);
}

TEST_F(LoadBenchmark, ViolatedThresholdIsAnErrorWithTheVerdict) {
  wsload::testing::Server server;
  const auto report = read_json(bench(server, "^ImpossibleP99", "strict.json"));
  ASSERT_FALSE(report["benchmarks"].empty());
  const auto& b = report["benchmarks"][0];
  EXPECT_TRUE(b.value("error_occurred", false));
  const std::string message = b.value("error_message", "");
  EXPECT_NE(message.find("p99<1us: p99 latency "), std::string::npos) << message;
  EXPECT_NE(message.find("is above the 1 us limit"), std::string::npos) << message;
}

TEST_F(LoadBenchmark, CompareFindsALatencyRegressionAndExitsOne) {
  wsload::testing::Server fast;
  wsload::testing::ServerOptions options;
  options.reply_delay = 20ms;
  wsload::testing::Server slow(options);
  const auto base = bench(fast, "^Echo", "base.json");
  const auto next = bench(slow, "^Echo", "next.json");
  const auto r = compare({base.string(), next.string()});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("p50"), std::string::npos);
  EXPECT_NE(r.out.find("regression"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Result: "), std::string::npos);

  const auto back = compare({next.string(), base.string(), "--json"});
  EXPECT_EQ(back.exit_code, 0) << back.out << back.err;
  const auto j = nlohmann::json::parse(back.out);
  EXPECT_EQ(j["regressions"], 0);
  bool improved = false;
  for (const auto& c : j["changes"]) improved = improved || c["verdict"] == "improvement";
  EXPECT_TRUE(improved) << back.out;
}

TEST_F(LoadBenchmark, CompareOfTheSameServerWithRepetitionsPasses) {
  wsload::testing::ServerOptions options;
  options.reply_delay = 20ms;
  wsload::testing::Server server(options);
  const auto first = bench(server, "^Echo", "first.json", {"--benchmark_repetitions=3"});
  const auto second = bench(server, "^Echo", "second.json", {"--benchmark_repetitions=3"});
  EXPECT_EQ(iterations(read_json(first)).size(), 3u);
  // A generous tolerance: this checks the verdict logic, not the machine's quietness.
  const auto r = compare({first.string(), second.string(), "--max-regression", "50"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("regression\n"), std::string::npos) << r.out;
}

TEST_F(LoadBenchmark, CompareReadsWsloadSummaries) {
  auto summary_with = [](std::int64_t latency_us) {
    wsload::Summary s;
    s.name = "chat";
    s.total_requests = s.successful_requests = 100;
    s.total_time = wsload::Seconds(1);
    for (int i = 0; i < 100; ++i) s.latency.record(latency_us + i);
    return s;
  };
  wsload::write_summary(summary_with(10'000), dir_ / "a.json");
  wsload::write_summary(summary_with(30'000), dir_ / "b.json");
  const auto r =
      compare({(dir_ / "a.json").string(), (dir_ / "b.json").string(), "--metrics", "p50,p99,rps"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  std::istringstream lines(r.out);
  std::map<std::string, std::string> verdicts;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("chat  ", 0) == 0) {
      std::istringstream words(line.substr(6));
      std::string metric;
      words >> metric;
      verdicts[metric] = line.substr(line.find_last_of(' ') + 1);
    }
  }
  EXPECT_EQ(verdicts["p50"], "regression") << "10 ms became 30 ms\n" << r.out;
  EXPECT_EQ(verdicts["p99"], "regression") << r.out;
  EXPECT_EQ(verdicts["rps"], "same") << r.out;
}

TEST_F(LoadBenchmark, CompareBadInputExitsTwoAndNamesIt) {
  std::ofstream(dir_ / "text.json") << "not json";
  std::ofstream(dir_ / "other.json") << R"({"hello": 1})";
  std::ofstream(dir_ / "a.json") << R"({"benchmarks": [{"name": "A", "run_type": "iteration",
      "real_time": 1, "time_unit": "ms", "rps": 10}]})";
  std::ofstream(dir_ / "b.json") << R"({"benchmarks": [{"name": "B", "run_type": "iteration",
      "real_time": 1, "time_unit": "ms", "rps": 10}]})";
  const auto a = (dir_ / "a.json").string();
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{(dir_ / "missing.json").string(), a}, "missing.json"},
      {{a, (dir_ / "text.json").string()}, "is not JSON"},
      {{(dir_ / "other.json").string(), a}, "neither Google Benchmark JSON"},
      {{a, (dir_ / "b.json").string()}, "no case"},
      {{a, a, "--metrics", "latency"}, "latency"},
      {{a}, "NEW"},
      {{a, a, "--max-regression", "lots"}, "--max-regression"},
  };
  for (const auto& [args, culprit] : cases) {
    const auto r = compare(args);
    EXPECT_EQ(r.exit_code, 2) << args[0] << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(culprit), std::string::npos) << r.err;
  }
  EXPECT_EQ(compare({a, a}).exit_code, 0);
}

}  // namespace
