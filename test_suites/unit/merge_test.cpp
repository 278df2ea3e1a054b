#include <wsload/config_validation.hpp>
#include <wsload/merge.hpp>

#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>

namespace {

using namespace wsload;
using namespace std::chrono_literals;

LoadConfig load(std::size_t connections) {
  LoadConfig c;
  c.url = "ws://127.0.0.1:9/";
  c.prompts = {"a", "b", "c"};
  c.connections = connections;
  c.iterations = 4;
  return c;
}

std::uint64_t sharded_total(LoadConfig c, std::size_t count) {
  std::uint64_t total = 0;
  for (std::size_t k = 0; k < count; ++k) {
    c.shard = Shard{k, count};
    total += c.expected_requests();
  }
  return total;
}

TEST(Shards, SplitConnectionsWithTheRemainder) {
  std::size_t sum = 0;
  for (std::size_t k = 0; k < 4; ++k) sum += Shard{k, 4}.connections_of(10);
  EXPECT_EQ(sum, 10u);
  EXPECT_EQ((Shard{0, 4}.connections_of(10)), 3u);
  EXPECT_EQ((Shard{3, 4}.connections_of(10)), 2u);
  EXPECT_EQ((Shard{1, 4}.connection(2)), 9u);
}

TEST(Shards, TheirRequestsAddUpToTheLoad) {
  for (std::size_t connections : {1, 7, 10, 64}) {
    for (std::size_t count : {1, 2, 3, 4, 7}) {
      if (count > connections) continue;
      auto closed = load(connections);
      EXPECT_EQ(sharded_total(closed, count), closed.expected_requests());
      auto open = load(connections);
      open.rate = 137;
      open.duration = 3s;
      EXPECT_EQ(sharded_total(open, count), open.expected_requests())
          << connections << " connections, " << count << " shards";
      open.duration = 0ms;  // the count of the closed load, on a schedule: 12 per connection
      EXPECT_EQ(sharded_total(open, count), connections * 12);
    }
  }
}

TEST(Shards, ParseFromTheFlagAndTheEnvironment) {
  EXPECT_EQ(parse_shard("2/4"), (Shard{2, 4}));
  for (const char* bad : {"4/4", "1", "a/4", "-1/4", "1/0", "1/", "/4"}) {
    EXPECT_THROW(parse_shard(bad), ConfigError) << bad;
  }
  std::map<std::string, std::string> env;
  auto getenv = [&env](const char* n) -> const char* {
    const auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  EXPECT_FALSE(shard_from_environment(getenv));
  env = {{"WSLOAD_SHARD_COUNT", "4"}, {"JOB_COMPLETION_INDEX", "3"}};
  EXPECT_EQ(shard_from_environment(getenv), (Shard{3, 4}));
  env["WSLOAD_SHARD_INDEX"] = "1";
  EXPECT_EQ(shard_from_environment(getenv), (Shard{1, 4})) << "ours wins over Kubernetes'";
  env["WSLOAD_SHARD_INDEX"] = "4";
  try {
    shard_from_environment(getenv);
    ADD_FAILURE() << "index 4 of 4 accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "WSLOAD_SHARD_INDEX");
  }
  env = {{"WSLOAD_SHARD_INDEX", "1"}};
  EXPECT_THROW(shard_from_environment(getenv), ConfigError) << "an index without a count";
  env = {{"WSLOAD_SHARD_COUNT", "4"}};
  EXPECT_THROW(shard_from_environment(getenv), ConfigError) << "a count without an index";
  env = {{"WSLOAD_SHARD_COUNT", "four"}, {"WSLOAD_SHARD_INDEX", "1"}};
  EXPECT_THROW(shard_from_environment(getenv), ConfigError);
}

TEST(Shards, MoreShardsThanConnectionsIsAnError) {
  auto c = load(3);
  c.shard = Shard{0, 4};
  EXPECT_THROW(validate(c), ConfigError);
  c.shard = Shard{2, 3};
  EXPECT_NO_THROW(validate(c));
}

TEST(StartAt, ParsesUtcAndUnixSeconds) {
  const auto at = parse_start_at("2026-11-25T12:00:00Z");
  EXPECT_EQ(std::chrono::system_clock::to_time_t(at), 1'795'608'000);
  EXPECT_EQ(parse_start_at("1795608000"), at);
  EXPECT_EQ(parse_start_at("2026-11-25T12:00:00.250Z") - at, 250ms);
  EXPECT_EQ(detail::iso8601(at + 250ms), "2026-11-25T12:00:00.250Z");
  for (const char* bad :
       {"", "tomorrow", "2026-11-25 12:00:00", "2026-11-25T12:00:00", "2026-11-25T12:00:00+01:00",
        "2026-13-25T12:00:00Z", "2026-11-25T12:00:00.Z"}) {
    EXPECT_THROW(parse_start_at(bad), ConfigError) << bad;
  }
  auto c = load(2);
  c.start_at = std::chrono::system_clock::now() + 48h;
  EXPECT_THROW(validate(c), ConfigError) << "a wait of two days";
}

/// One run's samples dealt to `count` shards, as the engine would have recorded them; the
/// first shard also had 3 reply timeouts, the last 2 and a close with 1011.
struct Dealt {
  Summary whole;
  std::vector<RunRecord> shards;
};

Dealt deal(std::size_t count, std::uint64_t samples) {
  Dealt d;
  LoadConfig c = load(8);
  c.thresholds = {"p99<500ms", "rps>=10"};
  c.min_rps.reset();
  std::mt19937_64 random(42);
  std::lognormal_distribution<double> latency_us(9.0, 0.8);  // about 8 ms, a long tail
  for (std::size_t k = 0; k < count; ++k) {
    auto sc = c;
    sc.shard = Shard{k, count};
    Summary s;
    s.shard = sc.shard;
    s.config = to_json(sc);
    s.measured_from = 1'764'072'000.0 + 0.1 * static_cast<double>(k);
    s.total_time = Seconds(10);
    s.threads = 1;
    d.shards.push_back({.summary = std::move(s), .source = "shard-" + std::to_string(k) + ".json"});
  }
  for (std::uint64_t i = 0; i < samples; ++i) {
    const auto us = static_cast<std::int64_t>(latency_us(random)) + 1;
    auto& s = d.shards[i % count].summary;
    const auto second = static_cast<std::size_t>(i * 10 / samples);
    s.latency.record(us);
    s.ttft.record(us / 2);
    s.inter_frame.record(us / 8, 3);
    s.tpot.record(us / 8);
    s.time_series.record(second, us);
    ++s.successful_requests;
    ++s.total_requests;
    d.whole.latency.record(us);
    d.whole.ttft.record(us / 2);
    d.whole.inter_frame.record(us / 8, 3);
    d.whole.tpot.record(us / 8);
  }
  auto& first = d.shards.front().summary;
  first.errors = {{ErrorKind::reply_timeout, "", 3}};
  first.total_requests += 3;
  first.failed_requests = 3;
  auto& last = d.shards.back().summary;
  last.errors = {{ErrorKind::reply_timeout, "", 2},
                 {ErrorKind::closed_by_peer, "close code 1011", 1}};
  last.total_requests += 3;
  last.failed_requests = 3;
  // Through JSON, as `wsload merge` reads them.
  for (auto& part : d.shards) part.summary = summary_from_json(to_json(part.summary), part.source);
  return d;
}

TEST(Merge, PercentilesAreThoseOfOneHistogramOfEverySample) {
  const auto d = deal(4, 20'000);
  const auto m = merge_shards(d.shards);
  EXPECT_EQ(m.latency.count(), d.whole.latency.count());
  EXPECT_EQ(m.latency.min(), d.whole.latency.min());
  EXPECT_EQ(m.latency.max(), d.whole.latency.max());
  EXPECT_DOUBLE_EQ(m.latency.mean(), d.whole.latency.mean());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    EXPECT_EQ(m.latency.value_at_percentile(p), d.whole.latency.value_at_percentile(p)) << p;
    for (const Timing t : {Timing::first_token, Timing::inter_frame, Timing::per_token}) {
      EXPECT_EQ(m.timed(t).value_at_percentile(p), d.whole.timed(t).value_at_percentile(p)) << p;
    }
  }
  EXPECT_EQ(m.inter_frame.count(), 3 * 20'000);
}

TEST(Merge, SumsCountsAndErrorsByKindAndJudgesTheWhole) {
  const auto d = deal(4, 20'000);
  const auto m = merge_shards(d.shards);
  EXPECT_EQ(m.successful_requests, 20'000u);
  EXPECT_EQ(m.failed_requests, 6u);
  EXPECT_EQ(m.total_requests, 20'006u);
  EXPECT_EQ(m.errors_of(ErrorKind::reply_timeout), 5u);
  EXPECT_EQ(m.errors_of(ErrorKind::closed_by_peer), 1u);
  EXPECT_EQ(m.errors.size(), 2u) << "one entry per kind and detail";
  EXPECT_FALSE(m.shard);
  EXPECT_EQ(m.config["shards"], 4);
  EXPECT_FALSE(m.config.contains("shard"));
  EXPECT_EQ(m.threads, 4u);
  // From the first shard's start to the last one's end: 0.3 s apart, 10 s each.
  EXPECT_NEAR(m.total_time.count(), 10.3, 1e-6);
  ASSERT_EQ(m.verdicts.size(), 2u);
  EXPECT_EQ(m.verdicts[0].expression, "p99<500ms");
  EXPECT_EQ(m.verdicts[1].expression, "rps>=10");
  EXPECT_TRUE(m.verdicts[1].passed) << "about 1940/s in all, about 490/s per shard";
  EXPECT_NEAR(*m.verdicts[1].actual, 20'000 / 10.3, 1e-3);
}

TEST(Merge, OpenLoopShortfallsAndUnconsumedFramesAddUpAndAreJudged) {
  auto d = deal(2, 1'000);
  for (auto& part : d.shards) {
    ScheduleReport r;
    r.due = 600;
    r.sent = 503;
    r.not_sent = 40;  // the rest failed unsent with their connections
    part.summary.schedule = r;
    part.summary.rate_window = Seconds(9.5);
    part.summary.unconsumed_at_close = 2;
    part.summary.timeout_reconnects = 1;
    part.summary.close_timeouts = 3;
  }
  d.shards[1].summary.schedule->not_sent = 30;
  const auto m = merge_shards(d.shards);
  ASSERT_TRUE(m.schedule);
  EXPECT_EQ(m.schedule->not_sent, 70u);
  EXPECT_EQ(m.unconsumed_frames(), 4u);
  EXPECT_EQ(m.timeout_reconnects, 2u);
  EXPECT_EQ(m.close_timeouts, 6u);
  EXPECT_DOUBLE_EQ(m.requests_per_second(), 1'000 / 9.5) << "over the shared sending window";
  ASSERT_FALSE(m.verdicts.empty());
  EXPECT_EQ(m.verdicts.back().expression, "sent>=95%") << "70 of 1200 due were not sent";
}

TEST(Merge, LinesTimeSeriesUpByWallClock) {
  auto d = deal(2, 2'000);
  d.shards[1].summary.measured_from += 2.0;  // began two seconds later
  const auto m = merge_shards(d.shards);
  ASSERT_EQ(m.time_series.seconds().size(), 12u);
  EXPECT_EQ(m.time_series.seconds()[0].requests(), 100u) << "shard 0 alone";
  EXPECT_EQ(m.time_series.seconds()[2].requests(), 200u) << "both";
  EXPECT_EQ(m.time_series.seconds()[11].requests(), 100u) << "shard 1 alone";
  std::uint64_t all = 0;
  for (const auto& i : m.time_series.seconds()) all += i.requests();
  EXPECT_EQ(all, 2'000u);
}

std::string refusal(const std::vector<RunRecord>& parts) {
  try {
    merge_shards(parts);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(merged)";
}

TEST(Merge, RefusesWhatIsNotEveryShardOfOneLoadOnce) {
  auto d = deal(4, 100);
  auto parts = d.shards;
  parts[2].summary.config["connections"] = 9;
  EXPECT_NE(refusal(parts).find("shard-2.json: has another configuration than shard-0.json: "
                                "/connections (8 vs 9)"),
            std::string::npos)
      << refusal(parts);
  parts = d.shards;
  parts[3] = parts[1];
  parts[3].source = "copy.json";
  EXPECT_NE(refusal(parts).find("copy.json: is the same shard as shard-1.json"), std::string::npos)
      << refusal(parts);
  parts = d.shards;
  parts.erase(parts.begin() + 1);
  EXPECT_NE(refusal(parts).find("1 of 4 shards are missing (index 1)"), std::string::npos)
      << refusal(parts);
  parts = d.shards;
  parts[0].summary.shard.reset();
  EXPECT_NE(refusal(parts).find("shard-0.json: is not a shard's summary"), std::string::npos);
  parts = d.shards;
  parts[1].summary.shard->count = 5;
  EXPECT_NE(refusal(parts).find("shard-1.json: is a shard of 5"), std::string::npos)
      << refusal(parts);
  EXPECT_NE(refusal({}).find("no summaries"), std::string::npos);
}

TEST(Merge, GtestReportsCaseByCase) {
  const auto a = deal(2, 1'000);
  const auto b = deal(2, 500);
  std::vector<std::pair<std::string, nlohmann::json>> reports;
  for (std::size_t k = 0; k < 2; ++k) {
    auto entries = nlohmann::json::array();
    for (const auto* d : {&a, &b}) {
      auto e = to_json(d->shards[k].summary);
      e["suite"] = "Chat";
      e["test"] = d == &a ? "Big" : "Small";
      e["endpoint"] = "ws://127.0.0.1:9/";
      e["status"] = "passed";
      entries.push_back(e);
    }
    reports.emplace_back("report-" + std::to_string(k) + ".json",
                         nlohmann::json{{"schema", gtest_report_schema}, {"entries", entries}});
  }
  const auto merged = merge_gtest_reports(reports);
  ASSERT_EQ(merged["entries"].size(), 2u);
  EXPECT_EQ(merged["entries"][0]["test"], "Big");
  EXPECT_EQ(merged["entries"][0]["successful_requests"], 1'000);
  EXPECT_EQ(merged["entries"][1]["successful_requests"], 500);
  EXPECT_EQ(merged["entries"][1]["status"], "passed");

  // A shard whose case never finished (its process crashed) fails the merged case, and
  // says which shard; as does a shard's own failure, with its message.
  auto crashed = reports;
  crashed[1].second["entries"][0]["status"] = "running";
  crashed[0].second["entries"][1]["status"] = "failed";
  crashed[0].second["entries"][1]["failures"] = {
      {{"source", "chat_test.cpp:12"}, {"message", "the answer was empty"}}};
  const auto judged = merge_gtest_reports(crashed);
  EXPECT_EQ(judged["entries"][0]["status"], "failed") << judged["entries"][0].dump();
  EXPECT_NE(judged["entries"][0].dump().find("report-1.json: the case did not finish"),
            std::string::npos)
      << judged["entries"][0].dump();
  EXPECT_EQ(judged["entries"][1]["status"], "failed");
  EXPECT_NE(judged["entries"][1].dump().find("the answer was empty"), std::string::npos)
      << judged["entries"][1].dump();

  reports[1].second["entries"].erase(1);
  try {
    merge_gtest_reports(reports);
    ADD_FAILURE() << "a case missing from one shard was merged";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("report-1.json: lacks this test case"), std::string::npos)
        << e.what();
  }
}

}  // namespace
