#include <wsload/metrics.hpp>

#include <gtest/gtest.h>

namespace {

using wsload::ConfigError;
using wsload::LiveFigures;
using wsload::parse_metrics_listen;

TEST(Metrics, ListenAddressesAreLoopbackUnlessGiven) {
  EXPECT_EQ(parse_metrics_listen("9464").host, "127.0.0.1");
  EXPECT_EQ(parse_metrics_listen("9464").port, 9464);
  EXPECT_EQ(parse_metrics_listen("localhost:1").host, "127.0.0.1");
  EXPECT_EQ(parse_metrics_listen("[::1]:9464").host, "::1");
  EXPECT_EQ(parse_metrics_listen("0.0.0.0:9464").host, "0.0.0.0") << "any address when asked";
  for (const char* bad : {"", "host:9464", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
                          "[::1]9464", "1.2.3:80", "9464x"}) {
    EXPECT_THROW(parse_metrics_listen(bad), ConfigError) << bad;
  }
  try {
    parse_metrics_listen("example.com:80");
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("metrics listen"), std::string::npos) << e.what();
  }
}

TEST(Metrics, TheExpositionHasCountersGaugesAndCumulativeBuckets) {
  LiveFigures f;
  f.succeeded = 7;
  f.failed[wsload::ErrorKind::reply_timeout] = 2;
  f.sent = 10;
  f.connections_open = 3;
  f.in_flight = 1;
  f.running = true;
  for (const int us : {900, 1'000, 1'400, 20'000, 20'000, 25'000, 2'000'000}) f.latency.record(us);
  const auto text = wsload::prometheus_text(f, {{"run", "a\"b\\c\nd"}, {"shard", "0/2"}});
  const std::string labels = R"(run="a\"b\\c\nd",shard="0/2")";
  const auto has = [&text](const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
  };
  EXPECT_TRUE(has("# TYPE wsload_requests_succeeded_total counter")) << text;
  EXPECT_TRUE(has("wsload_requests_succeeded_total{" + labels + "} 7")) << text;
  EXPECT_TRUE(has("wsload_requests_failed_total{" + labels + R"(,kind="reply_timeout"} 2)"));
  EXPECT_TRUE(has("wsload_requests_failed_total{" + labels + R"(,kind="connect"} 0)"))
      << "every kind, so a rate() over it starts from 0";
  EXPECT_TRUE(has("wsload_connections_open{" + labels + "} 3"));
  EXPECT_TRUE(has("wsload_requests_in_flight{" + labels + "} 1"));
  EXPECT_TRUE(has("wsload_running{" + labels + "} 1"));
  EXPECT_TRUE(has("# TYPE wsload_latency_seconds histogram"));
  EXPECT_TRUE(has("wsload_latency_seconds_bucket{" + labels + R"(,le="0.0007"} 0)")) << text;
  EXPECT_TRUE(has("wsload_latency_seconds_bucket{" + labels + R"(,le="0.001"} 2)")) << text;
  EXPECT_TRUE(has("wsload_latency_seconds_bucket{" + labels + R"(,le="0.0015"} 3)"));
  EXPECT_TRUE(has("wsload_latency_seconds_bucket{" + labels + R"(,le="0.02"} 5)")) << text;
  EXPECT_TRUE(has("wsload_latency_seconds_bucket{" + labels + R"(,le="0.03"} 6)"));
  EXPECT_TRUE(has("wsload_latency_seconds_bucket{" + labels + R"(,le="2"} 7)"));
  EXPECT_TRUE(has("wsload_latency_seconds_bucket{" + labels + R"(,le="+Inf"} 7)"));
  EXPECT_TRUE(has("wsload_latency_seconds_count{" + labels + "} 7"));
  EXPECT_TRUE(has("wsload_ttfb_seconds_count{" + labels + "} 0"));
  EXPECT_EQ(text.find("nan"), std::string::npos);
}

}  // namespace
