// Live metrics: the endpoint scraped by hand during and after a run, and by a real
// Prometheus server (Debian's package), whose stored figures must equal the summary's.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

#include "../support/http_get.hpp"
#include "../support/process.hpp"
#include "../support/scratch.hpp"

namespace {

using namespace std::chrono_literals;
using wsload::LoadConfig;
using wsload::test::http_get;
using wsload::testing::Server;
using wsload::testing::ServerOptions;

LoadConfig metrics_config(const Server& server) {
  LoadConfig config;
  config.name = "chat \"staging\"";
  config.url = server.url();
  config.prompts = {"a", "b"};
  config.connections = 2;
  config.threads = 2;
  config.timeouts.run = 60s;
  config.metrics.listen = "127.0.0.1:0";
  return config;
}

/// The value of the sample `name` with exactly `labels` in an exposition; NaN when absent.
double sample(const std::string& text, const std::string& name, const std::string& labels) {
  const std::string key = name + "{" + labels + "} ";
  const auto at = text.find("\n" + key);
  if (at == std::string::npos) return std::nan("");
  return std::stod(text.substr(at + 1 + key.size()));
}

const std::string run_label = R"(run="chat \"staging\"")";

TEST(Metrics, TheEndpointAnswersBeforeDuringAndAfterTheRun) {
  ServerOptions options;
  options.reply_delay = 2ms;
  const Server server(options);
  auto config = metrics_config(server);
  config.iterations = 100;
  config.prompts.push_back("never");  // a reply over 1 byte: the echo of "never"
  wsload::Engine engine(config);
  const auto port = engine.metrics_port();
  ASSERT_NE(port, 0);

  const auto before = http_get(port, "/metrics");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->status, 200);
  EXPECT_NE(before->headers.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_EQ(sample(before->body, "wsload_running", run_label), 0);
  EXPECT_EQ(http_get(port, "/")->status, 404);

  bool scraped_while_running = false;
  const auto s = engine.run(
      [&](const wsload::Progress& p) {
        if (scraped_while_running || p.done == 0) return;
        const auto during = http_get(port, "/metrics");
        scraped_while_running = during && sample(during->body, "wsload_running", run_label) == 1;
      },
      20ms);
  EXPECT_TRUE(scraped_while_running);

  const auto after = http_get(port, "/metrics");
  ASSERT_TRUE(after);
  const auto& text = after->body;
  EXPECT_EQ(sample(text, "wsload_running", run_label), 0);
  EXPECT_EQ(sample(text, "wsload_requests_succeeded_total", run_label),
            static_cast<double>(s.successful_requests));
  EXPECT_EQ(sample(text, "wsload_requests_sent_total", run_label), 600);
  EXPECT_EQ(sample(text, "wsload_requests_failed_total", run_label + R"(,kind="reply_timeout")"),
            0);
  EXPECT_EQ(sample(text, "wsload_connections_open", run_label), 0);
  EXPECT_EQ(sample(text, "wsload_latency_seconds_count", run_label),
            static_cast<double>(s.latency.count()));
  EXPECT_EQ(sample(text, "wsload_latency_seconds_bucket", run_label + R"(,le="+Inf")"),
            static_cast<double>(s.latency.count()));
  EXPECT_NEAR(sample(text, "wsload_latency_seconds_sum", run_label), s.latency.sum() / 1e6, 1e-6);
  // Cumulative buckets: never decreasing, and none below 1 ms holds a 2 ms reply.
  double previous = 0;
  for (const double bound : wsload::detail::metrics_buckets) {
    const double count =
        sample(text, "wsload_latency_seconds_bucket",
               run_label + ",le=\"" + wsload::detail::metrics_number(bound) + "\"");
    ASSERT_FALSE(std::isnan(count)) << bound;
    EXPECT_GE(count, previous) << bound;
    if (bound < 0.001) {
      EXPECT_EQ(count, 0) << bound;
    }
    previous = count;
  }
}

TEST(Metrics, AnAddressThatCannotBeListenedOnIsRefusedBeforeAnyTraffic) {
  const Server server;
  auto config = metrics_config(server);
  config.metrics.listen = "127.0.0.1:0";
  wsload::Engine holder(config);  // holds a port
  config.metrics.listen = "127.0.0.1:" + std::to_string(holder.metrics_port());
  try {
    wsload::Engine engine(config);
    FAIL() << "a port in use was taken";
  } catch (const wsload::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("metrics listen"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot be listened on"), std::string::npos) << e.what();
  }
  config.metrics.listen = "chat.example.com:9464";
  EXPECT_THROW(wsload::Engine{config}, wsload::ConfigError);
  EXPECT_EQ(server.connections(), 0u);
}

// --- A real Prometheus server -----------------------------------------------------

class Prometheus : public wsload::test::ScratchTest {
 protected:
  static std::string binary() {
    for (const char* path : {"/usr/bin/prometheus", "/usr/local/bin/prometheus"}) {
      if (std::filesystem::exists(path)) return path;
    }
    return {};
  }

  /// The answer of an instant query; discarded when there was none.
  static nlohmann::json answer(std::uint16_t port, const std::string& promql) {
    std::string encoded;
    for (const unsigned char c : promql) {
      if (std::isalnum(c) || c == '_' || c == '.') {
        encoded += static_cast<char>(c);
      } else {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%%%02X", c);
        encoded += hex;
      }
    }
    const auto reply = http_get(port, "/api/v1/query?query=" + encoded);
    if (!reply) return nlohmann::json::value_t::discarded;
    return nlohmann::json::parse(reply->body, nullptr, false);
  }

  /// The value of an instant query that returns one sample; NaN when it returns none.
  static double query(std::uint16_t port, const std::string& promql) {
    const auto j = answer(port, promql);
    if (j.is_discarded() || j.value("status", "") != "success" || j["data"]["result"].empty()) {
      return std::nan("");
    }
    return std::stod(j["data"]["result"][0]["value"][1].get<std::string>());
  }

  /// Waits (bounded) until `done` holds, checking every 100 ms.
  static bool eventually(const std::function<bool()>& done, std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      ::poll(nullptr, 0, 100);
    }
    return true;
  }
};

TEST_F(Prometheus, ItsScrapedCountersEqualTheSummaryAndItsP99IsInTheSummarysBucket) {
  const auto prometheus = binary();
  if (prometheus.empty()) {
    GTEST_SKIP() << "no prometheus binary (scripts/install-deps.sh installs Debian's)";
  }
  ServerOptions options;
  options.reply_delay = 20ms;
  const Server server(options);
  auto config = metrics_config(server);
  config.connections = 4;
  config.rate = 100;
  config.duration = 3s;
  wsload::Engine engine(config);  // listening from here on

  const auto web_port = wsload::testing::unused_loopback_port();
  write("prometheus.yml",
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        "scrape_configs:\n  - job_name: wsload\n    static_configs:\n"
        "      - targets: ['127.0.0.1:" +
            std::to_string(engine.metrics_port()) + "']\n");
  wsload::test::BackgroundProcess server_process(
      {prometheus, "--config.file=" + (dir_ / "prometheus.yml").string(),
       "--storage.tsdb.path=" + (dir_ / "data").string(),
       "--web.listen-address=127.0.0.1:" + std::to_string(web_port)},
      (dir_ / "prometheus.log").string());
  ASSERT_TRUE(eventually(
      [&] {
        const auto ready = http_get(web_port, "/-/ready", 1s);
        return ready && ready->status == 200;
      },
      60s))
      << read_text(dir_ / "prometheus.log");
  // It has scraped the idle endpoint once before the load starts.
  ASSERT_TRUE(eventually([&] { return query(web_port, "wsload_running") == 0; }, 30s))
      << read_text(dir_ / "prometheus.log");

  const auto s = engine.run();
  ASSERT_GT(s.successful_requests, 0u);
  // The endpoint stays up (as Engine::linger() keeps it) until a scrape saw the end.
  const auto succeeded = static_cast<double>(s.successful_requests);
  ASSERT_TRUE(eventually(
      [&] { return query(web_port, "wsload_requests_succeeded_total") == succeeded; }, 30s))
      << "Prometheus has " << query(web_port, "wsload_requests_succeeded_total") << ", the summary "
      << succeeded;
  EXPECT_EQ(query(web_port, "sum(wsload_requests_failed_total)"),
            static_cast<double>(s.failed_requests));
  EXPECT_EQ(query(web_port, "wsload_requests_sent_total"), static_cast<double>(s.total_requests));
  EXPECT_EQ(query(web_port, "wsload_latency_seconds_count"),
            static_cast<double>(s.latency.count()));

  // histogram_quantile interpolates within a bucket: it must land in the bucket that holds
  // the summary's own p99.
  const double prometheus_p99 =
      query(web_port, "histogram_quantile(0.99, wsload_latency_seconds_bucket)");
  const double summary_p99 = *s.latency_at(99);
  double lower = 0;
  double upper = 0;
  for (const double bound : wsload::detail::metrics_buckets) {
    if (summary_p99 <= bound) {
      upper = bound;
      break;
    }
    lower = bound;
  }
  EXPECT_GE(prometheus_p99, lower) << "summary p99 " << summary_p99;
  EXPECT_LE(prometheus_p99, upper) << "summary p99 " << summary_p99;

  // Every query of the example Grafana dashboard is PromQL this Prometheus accepts, over
  // metrics it has.
  std::ifstream file(std::string(WSLOAD_EXAMPLES_DIR) + "/grafana/wsload-dashboard.json");
  const auto dashboard = nlohmann::json::parse(file);
  std::size_t queries = 0;
  for (const auto& panel : dashboard["panels"]) {
    for (const auto& target : panel["targets"]) {
      auto expr = target["expr"].get<std::string>();
      for (const auto& [from, to] :
           {std::pair<std::string, std::string>{"$run", ".*"}, {"$__rate_interval", "5s"}}) {
        for (auto at = expr.find(from); at != std::string::npos; at = expr.find(from)) {
          expr.replace(at, from.size(), to);
        }
      }
      const auto j = answer(web_port, expr);
      EXPECT_EQ(j.value("status", ""), "success") << expr << "\n" << j.dump();
      ++queries;
    }
  }
  EXPECT_GE(queries, 10u);
}

}  // namespace
