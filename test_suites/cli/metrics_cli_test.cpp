// Watching a run: `wsload run --metrics-listen` (the endpoint a scraper reads while the
// program runs, the linger that lets the last scrape see the final figures), the live
// progress line, and a help that groups the flags.
#include <gtest/gtest.h>

#include <wsload/testing/server.hpp>

#include "../support/http_get.hpp"
#include "../support/process.hpp"
#include "../support/scratch.hpp"

namespace {

using namespace std::chrono_literals;
using wsload::test::run_process;

class MetricsCli : public wsload::test::ScratchTest {};

TEST_F(MetricsCli, TheFinalFiguresStayUpForTheLinger) {
  wsload::testing::ServerOptions options;
  options.reply_delay = 1ms;
  wsload::testing::Server server(options);
  const auto port = wsload::testing::unused_loopback_port();
  std::string final_scrape;
  const auto r = run_process(
      {WSLOAD_CLI, "run", "--url", server.url(), "--prompt", "hello", "--connections", "2",
       "--iterations", "20", "--min-rps", "1", "--summary", (dir_ / "s.json").string(),
       "--metrics-listen", std::to_string(port), "--metrics-linger", "30"},
      wsload::test::clean_wsload_env(), 60s, [&](const std::string&, const std::string& err) {
        if (err.find("the final figures stay up") == std::string::npos) return 0;
        const auto reply = wsload::test::http_get(port, "/metrics");
        if (reply) final_scrape = reply->body;
        return SIGINT;  // ends the linger, not the verdict
      });
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("metrics: http://127.0.0.1:" + std::to_string(port) + "/metrics"),
            std::string::npos)
      << r.err;
  EXPECT_NE(final_scrape.find("\nwsload_requests_succeeded_total{run=\"wsload\"} 40\n"),
            std::string::npos)
      << final_scrape;
  EXPECT_NE(final_scrape.find("\nwsload_running{run=\"wsload\"} 0\n"), std::string::npos);
}

TEST_F(MetricsCli, AnAddressThatIsNoneIsBadInputBeforeAnyTraffic) {
  wsload::testing::Server server;
  const auto r = run_process({WSLOAD_CLI, "run", "--url", server.url(), "--prompt", "hello",
                              "--metrics-listen", "metrics.example.com:9464"},
                             wsload::test::clean_wsload_env());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--metrics-listen"), std::string::npos) << r.err;
  EXPECT_EQ(server.connections(), 0u);
}

TEST_F(MetricsCli, ProgressShowsLiveLatencyAndWhereTheScheduleStands) {
  wsload::testing::ServerOptions options;
  options.reply_delay = 20ms;
  wsload::testing::Server server(options);
  const auto r =
      run_process({WSLOAD_CLI, "run", "--url", server.url(), "--prompt", "hello", "--connections",
                   "4", "--rate", "40", "--stages", "1s:40,1s:40", "--min-rps", "1",
                   "--progress-interval", "0.1", "--summary", (dir_ / "s.json").string()},
                  wsload::test::clean_wsload_env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(" ms  p99 "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("target 40 req/s (stage 1/2)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(stage 2/2)"), std::string::npos) << r.err;
}

TEST_F(MetricsCli, RunHelpGroupsItsFlags) {
  const auto r = run_process({WSLOAD_CLI, "run", "--help"}, wsload::test::clean_wsload_env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto group_of = [&r](const std::string& flag) {
    auto at = r.out.find("  " + flag + " ");
    if (at == std::string::npos) at = r.out.find("," + flag + " ");  // -t,--threshold
    const auto heading = r.out.rfind(":\n", at);
    return r.out.substr(r.out.rfind('\n', heading - 1) + 1,
                        heading - r.out.rfind('\n', heading - 1) - 1);
  };
  EXPECT_EQ(group_of("--url"), "Connection") << r.out;
  EXPECT_EQ(group_of("--prompts"), "Messages");
  EXPECT_EQ(group_of("--rate"), "Load model");
  EXPECT_EQ(group_of("--threshold"), "Thresholds");
  EXPECT_EQ(group_of("--metrics-listen"), "Outputs");
  EXPECT_EQ(group_of("--correlation"), "Chat backends");
  EXPECT_EQ(group_of("--shard"), "Shards");
}

}  // namespace
