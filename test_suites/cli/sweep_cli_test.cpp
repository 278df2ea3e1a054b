// `wsload sweep` as a process against the embedded server with a known capacity: the
// knee, the exit codes, its JSON and HTML, and refusals of bad input before any traffic.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <wsload/results/sweep.hpp>
#include <wsload/testing/server.hpp>

#include "../support/process.hpp"
#include "../support/scratch.hpp"

namespace {

using namespace std::chrono_literals;
using wsload::test::run_process;

// Capacity 100 requests/s: one message at a time, 10 ms each.
wsload::testing::ServerOptions serving_one_at_a_time() {
  wsload::testing::ServerOptions options;
  options.service_time = 10ms;
  return options;
}

class SweepCli : public wsload::test::ScratchTest {
 protected:
  static std::vector<std::string> sweep_args(const std::string& url) {
    return {WSLOAD_CLI,      "sweep", "--url",       url,         "--prompt", "hello",
            "--connections", "50",    "--threshold", "p95<200ms", "--quiet"};
  }
  static std::map<std::string, std::string> clean_env() { return wsload::test::clean_wsload_env(); }
};

TEST_F(SweepCli, FindsTheKneeWritesJsonAndHtmlAndExitsZero) {
  wsload::testing::Server server(serving_one_at_a_time());
  const auto out = (dir_ / "sweep.json").string();
  const auto report = (dir_ / "sweep.html").string();
  auto args = sweep_args(server.url("/"));
  args.insert(args.end(), {"--rate-from", "20", "--rate-to", "400", "--factor", "20",
                           "--step-duration", "0.5", "--out", out, "--report", report});
  const auto r = run_process(args, clean_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("Knee: 20 requests/s"), std::string::npos) << r.out;
  const auto sweep = wsload::read_sweep(out);
  ASSERT_EQ(sweep.steps.size(), 2u);
  EXPECT_TRUE(sweep.steps[0].passed());
  EXPECT_FALSE(sweep.steps[1].passed());
  EXPECT_EQ(sweep.knee().rate, 20);
  EXPECT_GT(sweep.steps[0].summary.successful_requests, 0u);
  const auto html = read_text(report);
  EXPECT_NE(html.find("id=\"sweep-latency\""), std::string::npos);
  EXPECT_NE(html.find("data-points=\"2\""), std::string::npos);
}

TEST_F(SweepCli, ExitsOneWhenEvenTheLowestRateFails) {
  wsload::testing::Server server(serving_one_at_a_time());
  auto args = sweep_args(server.url("/"));
  args.erase(args.begin() + 2);  // `wsload sweep URL`: the URL without --url
  args.insert(args.end(), {"--search", "800:1600", "--step-duration", "0.5", "--out", "-"});
  const auto r = run_process(args, clean_env());
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  const auto json = nlohmann::json::parse(r.out);  // --out - : only the JSON on stdout
  EXPECT_EQ(json["schema"], "wsload.sweep/1");
  EXPECT_EQ(json["steps"].size(), 1u);
  EXPECT_TRUE(json["knee"].is_null());
  EXPECT_NE(r.err.find("Knee: none"), std::string::npos) << r.err;
}

TEST_F(SweepCli, InterruptWritesWhatRanAndExits130) {
  wsload::testing::Server server(serving_one_at_a_time());
  const auto out = (dir_ / "sweep.json").string();
  auto args = sweep_args(server.url("/"));
  args.pop_back();  // not --quiet: the lines of each rate say where the sweep is
  args.insert(args.end(),
              {"--rate-from", "20", "--rate-to", "640", "--step-duration", "1", "--out", out});
  const auto r =
      run_process(args, clean_env(), 60s, [](const std::string&, const std::string& err) {
        return err.find("sweep: 40 requests/s for") != std::string::npos ? SIGINT : 0;
      });
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 128 + SIGINT) << r.out << r.err;
  const auto sweep = wsload::read_sweep(out);
  EXPECT_TRUE(sweep.interrupted);
  ASSERT_EQ(sweep.steps.size(), 2u) << "the rate under way ends, no other starts";
  EXPECT_TRUE(sweep.steps[0].passed());
  EXPECT_NE(r.out.find("INTERRUPTED"), std::string::npos) << r.out;
}

TEST_F(SweepCli, RefusesBadInputNamingTheFlagBeforeAnyTraffic) {
  wsload::testing::Server server;
  const auto refused = [&](std::vector<std::string> extra, const std::string& flag) {
    auto args = sweep_args(server.url("/"));
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = run_process(args, clean_env());
    EXPECT_EQ(r.exit_code, 2) << flag << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(flag), std::string::npos) << r.err;
  };
  refused({"--step-duration", "1"}, "--rate-from");
  {
    auto args = sweep_args("");
    args.erase(args.begin() + 2, args.begin() + 4);  // no URL at all
    args.insert(args.end(), {"--rate-from", "1", "--rate-to", "2", "--step-duration", "1"});
    const auto r = run_process(args, clean_env());
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("--url"), std::string::npos) << r.err;
  }
  refused({"--rate-from", "10", "--rate-to", "100"}, "--step-duration");
  refused({"--rate-from", "10", "--step-duration", "1"}, "--rate-to");
  refused({"--rate-from", "100", "--rate-to", "10", "--step-duration", "1"}, "--rate-to");
  refused({"--rate-from", "10", "--rate-to", "100", "--factor", "1", "--step-duration", "1"},
          "--factor");
  refused({"--search", "10", "--step-duration", "1"}, "--search");
  refused({"--search", "50:10", "--step-duration", "1"}, "--search");
  refused({"--search", "10:50", "--rate-from", "10", "--rate-to", "50", "--step-duration", "1"},
          "--search");
  refused({"--search", "10:50", "--precision", "0", "--step-duration", "1"}, "--precision");
  refused({"--rate-from", "1", "--rate-to", "2", "--step-duration", "1", "--out",
           (dir_ / "missing" / "x.json").string()},
          "--out");
  refused(
      {"--rate-from", "1", "--rate-to", "2", "--step-duration", "1", "--out", "-", "--report", "-"},
      "--report");
  refused({"--rate-from", "1", "--rate-to", "2", "--step-duration", "1", "--threshold", "p95<"},
          "--threshold");
  EXPECT_EQ(server.connections(), 0u);
}

}  // namespace
