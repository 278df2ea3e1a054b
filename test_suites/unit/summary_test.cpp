#include <wsload/render/console.hpp>
#include <wsload/results/runs.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace {

using namespace wsload;
namespace fs = std::filesystem;

Summary sample() {
  Summary s;
  s.name = "chat";
  s.total_requests = 100;
  s.successful_requests = 97;
  s.failed_requests = 3;
  s.total_time = Seconds(2.5);
  for (int i = 1; i <= 97; ++i) s.latency.record(10'000 + i * 100);
  s.errors = {{ErrorKind::reply_timeout, "", 2}, {ErrorKind::closed_by_peer, "close code 1011", 1}};
  s.connections_configured = 10;
  s.connections_opened = 10;
  s.connections_failed = 1;
  s.threads = 2;
  s.cpu_user = Seconds(0.25);
  s.started_at = "2026-11-24T05:00:00Z";
  s.config = {{"connections", 10}};
  s.judge({parse_threshold("p99<25ms"), parse_threshold("success_rate>=99%")});
  return s;
}

TEST(Summary, FiguresFromCounts) {
  const auto s = sample();
  EXPECT_DOUBLE_EQ(s.success_rate(), 97.0);
  EXPECT_DOUBLE_EQ(s.requests_per_second(), 97 / 2.5);
  EXPECT_NEAR(*s.latency_mean(), 0.0149, 1e-9);
  EXPECT_EQ(s.errors_of(ErrorKind::reply_timeout), 2u);
  EXPECT_FALSE(s.passed());
  EXPECT_TRUE(s.verdicts[0].passed);
  EXPECT_FALSE(s.verdicts[1].passed);
}

TEST(Summary, HasTheOriginalToolsKeysInSeconds) {
  const auto j = to_json(sample());
  for (const char* key :
       {"total_requests", "successful_requests", "failed_requests", "success_rate", "total_time",
        "requests_per_second", "average_latency", "median_latency", "min_latency", "max_latency",
        "p95_latency", "p99_latency", "schema"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["schema"], "wsload.summary/1");
  EXPECT_DOUBLE_EQ(j["min_latency"].get<double>(), 0.0101);
  EXPECT_DOUBLE_EQ(j["max_latency"].get<double>(), 0.0197);
  EXPECT_EQ(j["errors"]["by_kind"]["reply_timeout"], 2);
  EXPECT_EQ(j["errors"]["details"][1]["detail"], "close code 1011");
  EXPECT_EQ(j["thresholds"][1]["message"], "success rate 97 % is below the 99 % minimum");
  EXPECT_EQ(j["latency"]["histogram"]["data"].get<std::string>().rfind("HISTF", 0), 0u);
}

TEST(Summary, NoSuccessMeansNullLatenciesNotZeros) {
  Summary s;
  s.total_requests = 5;
  s.failed_requests = 5;
  s.judge({parse_threshold("avg<=0.5s")});
  const auto j = to_json(s);
  EXPECT_TRUE(j["average_latency"].is_null());
  EXPECT_TRUE(j["p99_latency"].is_null());
  EXPECT_FALSE(j["passed"].get<bool>());
}

TEST(Summary, RoundTripKeepsEveryNumber) {
  const auto s = sample();
  const auto back = summary_from_json(nlohmann::json::parse(to_json(s).dump()));
  EXPECT_EQ(to_json(back), to_json(s));
  EXPECT_EQ(back.latency.counts(), s.latency.counts());
  EXPECT_EQ(back.latency.min(), s.latency.min());
  EXPECT_DOUBLE_EQ(back.latency.mean(), s.latency.mean());
  EXPECT_EQ(back.verdicts.size(), 2u);
}

TEST(Summary, RejectsOtherSchemasAndMissingKeys) {
  auto j = to_json(sample());
  j["schema"] = "wsload.summary/99";
  EXPECT_THROW(summary_from_json(j, "a.json"), ConfigError);
  j = to_json(sample());
  j.erase("total_requests");
  try {
    summary_from_json(j, "b.json");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "b.json");
  }
}

TEST(Summary, WritesAtomicallyAndReadsBack) {
  const auto dir =
      fs::temp_directory_path() / ("wsload_summary_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto path = dir / "load_test_summary.json";
  std::ofstream(path) << "old";
  write_summary(sample(), path);
  const auto back = read_summary(path);
  EXPECT_EQ(back.total_requests, 100u);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u) << "no temporary file left behind";
  fs::remove_all(dir);
}

TEST(Summary, UnwritableDirectoryIsAConfigErrorAndLeavesNothing) {
  EXPECT_THROW(write_summary(sample(), "/nonexistent-dir/s.json"), ConfigError);
}

TEST(Summary, ReadingGarbageNamesTheFile) {
  const auto path =
      fs::temp_directory_path() / ("wsload_garbage_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << "{not json";
  try {
    read_summary(path);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), path.string());
  }
  fs::remove(path);
}

}  // namespace

namespace {

TEST(Summary, ReportNamesCountsLatencyErrorsAndVerdicts) {
  auto s = sample();
  s.config["url"] = "wss://api.example.com/prod";
  const auto text = wsload::format_report(s);
  for (const char* line :
       {"Load test summary: chat (wss://api.example.com/prod)\n", "  Total requests:       100\n",
        "  Successful requests:  97 (97 %)\n", "  Failed requests:      3\n",
        "  Total time:           2.5 s\n", "  Requests per second:  38.8\n",
        "  Latency (ms):         avg 14.9  median 14.9", "    2 reply_timeout\n",
        "    1 closed_by_peer (close code 1011)\n", "    PASS  p99<25ms  p99 latency ",
        "    FAIL  success_rate>=99%  success rate 97 % is below the 99 % minimum",
        "Result: FAIL (1 of 2 thresholds failed)\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << text;
  }
}

TEST(Summary, ReportShowsMillisecondsWithSensiblePrecision) {
  EXPECT_EQ(wsload::detail::format_ms(0.000412), "0.412");
  EXPECT_EQ(wsload::detail::format_ms(0.012345), "12.35");
  EXPECT_EQ(wsload::detail::format_ms(0.91234), "912.3");
  EXPECT_EQ(wsload::detail::format_ms(15.23), "15230");
}

TEST(Summary, ReportSaysWhenNothingSucceeded) {
  wsload::Summary s;
  s.total_requests = 4;
  s.failed_requests = 4;
  EXPECT_NE(wsload::format_report(s).find("no samples"), std::string::npos);
}

}  // namespace

namespace {

TEST(Summary, ReportWarnsWhenTlsVerificationWasOff) {
  wsload::Summary s;
  s.config = {{"tls", {{"insecure", true}}}};
  EXPECT_NE(wsload::format_report(s).find("WARNING: TLS verification was off"), std::string::npos);
  s.config = {{"tls", {{"insecure", false}}}};
  EXPECT_EQ(wsload::format_report(s).find("WARNING"), std::string::npos);
}

}  // namespace

namespace {

TEST(Summary, ASaturatedGeneratorIsFlaggedInTheConsole) {
  auto s = sample();
  s.generator_busy = 0.5;
  s.loop_lag_p99 = 0.001;
  EXPECT_FALSE(s.generator_saturated());
  EXPECT_EQ(format_report(s).find("bottleneck"), std::string::npos);
  s.generator_busy = 0.95;
  EXPECT_TRUE(s.generator_saturated()) << "no idle CPU";
  EXPECT_NE(format_report(s).find("WARNING: the load generator was the bottleneck (engine "
                                  "threads 95 % busy"),
            std::string::npos)
      << format_report(s);
  s.generator_busy = 0.6;
  s.loop_lag_p99 = 0.050;
  EXPECT_TRUE(s.generator_saturated()) << "event loops 50 ms late while busy";
  EXPECT_TRUE(to_json(s)["generator"]["saturated"].get<bool>());
}

TEST(Summary, EventLoopsLateOnAnIdleGeneratorBlameTheMachineNotTheGenerator) {
  auto s = sample();
  s.generator_busy = 0.0;
  s.loop_lag_p99 = 0.050;
  EXPECT_FALSE(s.generator_saturated());
  EXPECT_TRUE(s.host_busy());
  const auto report = format_report(s);
  EXPECT_EQ(report.find("bottleneck"), std::string::npos) << report;
  EXPECT_NE(report.find("WARNING: the machine was busy"), std::string::npos) << report;
}

TEST(Summary, TooLittleTrafficSaysNothingOfTheGenerator) {
  auto s = sample();
  s.successful_requests = 0;
  s.failed_requests = s.total_requests;
  s.latency = wsload::Histogram();
  s.generator_busy = 1.0;  // TLS handshakes that all failed, in 50 ms
  s.loop_lag_p99 = 0.050;
  EXPECT_FALSE(s.generator_saturated());
  EXPECT_FALSE(s.host_busy());
}

TEST(Summary, AnOpenLoopThatSentUnder95PercentOfItsScheduleDoesNotPass) {
  auto s = sample();
  wsload::ScheduleReport r;
  r.due = 100;
  r.sent = 95;
  r.not_sent = 5;
  s.schedule = r;
  s.judge({});
  EXPECT_TRUE(s.passed()) << "95 % sent is enough";
  s.schedule->sent = 94;
  s.schedule->not_sent = 6;
  s.judge({});
  ASSERT_FALSE(s.passed());
  EXPECT_EQ(s.verdicts.back().expression, "sent>=95%");
  EXPECT_NE(s.verdicts.back().message.find("the load generator fell short: it sent 94 of the 100 "
                                           "requests due (94 %)"),
            std::string::npos)
      << s.verdicts.back().message;
  EXPECT_NE(s.verdicts.back().message.find("no verdict on the service"), std::string::npos);
  // With session arrivals the schedule counts sessions, and the console says so.
  s.schedule->max_sessions = 10;
  s.judge({});
  EXPECT_NE(s.verdicts.back().message.find("94 of the 100 sessions due"), std::string::npos)
      << s.verdicts.back().message;
  const auto console = wsload::format_report(s);
  EXPECT_NE(console.find("sessions/s started"), std::string::npos) << console;
  EXPECT_NE(console.find("sessions/s; latency counts from when each session was due"),
            std::string::npos)
      << console;
}

TEST(Summary, AnOpenLoopsThroughputIsOverItsSendingWindow) {
  auto s = sample();  // 97 successful in 2.5 s
  s.rate_window = Seconds(2);
  EXPECT_DOUBLE_EQ(s.requests_per_second(), 97 / 2.0);
  const auto back = wsload::summary_from_json(to_json(s));
  EXPECT_DOUBLE_EQ(back.requests_per_second(), 97 / 2.0);
  EXPECT_DOUBLE_EQ(to_json(s)["requests_per_second"].get<double>(), 97 / 2.0);
}

TEST(Summary, SessionArrivalsSayWhatTheCapHeldBack) {
  auto s = sample();
  wsload::ScheduleReport r;
  r.due = r.sent = 100;
  r.max_sessions = 10;
  r.peak_sessions = 10;
  r.sessions_waited = 37;
  s.schedule = r;
  const auto j = to_json(s);
  EXPECT_EQ(j["schedule"]["max_sessions"], 10);
  EXPECT_EQ(j["schedule"]["sessions_waited"], 37);
  EXPECT_EQ(to_json(wsload::summary_from_json(j)), j);
  const auto text = wsload::format_report(s);
  EXPECT_NE(text.find("WARNING: 37 sessions waited for a free slot (at most 10 in flight, "
                      "--max-sessions): the figures measure the cap, not the service"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("up to 10 in flight of 10 allowed; 37 waited"), std::string::npos) << text;
  s.schedule->sessions_waited = 0;
  EXPECT_EQ(wsload::format_report(s).find("waited for a free slot"), std::string::npos);
  s.schedule->max_sessions = 0;  // a prompt open loop: no session keys
  EXPECT_FALSE(to_json(s)["schedule"].contains("max_sessions"));
}

TEST(Summary, NewCountersSurviveTheJsonRoundTrip) {
  auto s = sample();
  s.unconsumed_before_request = 3;
  s.unconsumed_at_close = 2;
  s.timeout_reconnects = 4;
  s.close_timeouts = 1;
  s.not_sent = 7;
  const auto j = to_json(s);
  EXPECT_EQ(j["replies"]["unconsumed"]["total"], 5);
  EXPECT_EQ(to_json(wsload::summary_from_json(j)), j);
}

TEST(Summary, ASaturatedGeneratorsLatencyFailureSaysSo) {
  auto s = sample();  // p99 about 19.7 ms, 97 % success
  const auto p99 = parse_threshold("p99<15ms");
  const auto rps = parse_threshold("rps>=1000");
  const auto success = parse_threshold("success_rate>=99%");
  const auto note = std::string("the load generator was the bottleneck");
  EXPECT_EQ(s.verdict(p99).message.find(note), std::string::npos) << "not saturated";
  s.generator_busy = 0.97;
  EXPECT_NE(s.verdict(p99).message.find(note + ": 97 % busy"), std::string::npos)
      << s.verdict(p99).message;
  EXPECT_NE(s.verdict(rps).message.find(note), std::string::npos);
  EXPECT_EQ(s.verdict(success).message.find(note), std::string::npos)
      << "failed requests are the service's";
  EXPECT_EQ(s.verdict(parse_threshold("p99<1s")).message.find(note), std::string::npos)
      << "a pass needs no excuse";
}

}  // namespace

namespace {

// A summary as the engine makes one: every figure agrees with the others.
Summary consistent() {
  auto s = sample();  // 100 requests, 97 succeeded, 3 failed
  for (int i = 1; i <= 97; ++i) {
    s.ttfb.record(5'000 + i * 10);
    s.ttft.record(6'000 + i * 10);
    s.tpot.record(400 + i);
    s.inter_frame.record(300 + i, 4);
    s.time_series.record(i % 3, 10'000 + i * 100);
  }
  s.time_series.fail(2, 2);
  s.schedule = ScheduleReport{.target_rate = 50, .achieved_rate = 48, .due = 100, .sent = 100};
  for (int i = 1; i <= 97; ++i) s.latency_uncorrected.record(9'000 + i * 100);
  s.shard = Shard{1, 2};
  return s;
}

std::string encoded(const std::vector<std::pair<std::int64_t, std::int64_t>>& samples) {
  Histogram h;
  for (const auto& [value, count] : samples) h.record(value, count);
  return h.encode();
}

TEST(Summary, TokenTimingsSurviveTheJsonRoundTrip) {
  const auto s = consistent();
  const auto back = summary_from_json(to_json(s));
  for (const Histogram* h : {&s.ttft, &s.inter_frame, &s.tpot}) ASSERT_FALSE(h->empty());
  EXPECT_EQ(back.ttft.count(), s.ttft.count());
  EXPECT_EQ(back.ttft.sum(), s.ttft.sum());
  EXPECT_EQ(back.inter_frame.count(), 97 * 4);
  EXPECT_EQ(back.tpot.max(), s.tpot.max());
  EXPECT_EQ(to_json(s)["ttft"]["percentiles"]["50"], s.ttft.value_at_percentile(50) / 1e6);
  EXPECT_EQ(back.figure(parse_threshold("tpot_max<1s")), s.tpot.max() / 1e6);
}

TEST(Summary, ReportGivesGoodputOnlyWhenThereWereSlos) {
  auto s = consistent();
  EXPECT_EQ(format_report(s).find("Goodput:"), std::string::npos);
  s.config["slo"] = "ttft<500ms,latency<5s";
  s.good_requests = s.successful_requests / 2;
  const auto report = format_report(s);
  const auto line = report.substr(report.find("Goodput:"));
  EXPECT_NE(line.find(std::to_string(s.good_requests) + " of " + std::to_string(s.total_requests) +
                      " requests met every SLO (ttft<500ms,latency<5s)"),
            std::string::npos)
      << report;
  s.config["slo"] = 7;  // a hand-edited file: no SLO it can name
  EXPECT_EQ(format_report(s).find("Goodput:"), std::string::npos);
}

TEST(Summary, EveryFigureReadIsCheckedAndNamed) {
  const auto good = to_json(consistent());
  ASSERT_NO_THROW(summary_from_json(good, "shard-1.json"));
  using nlohmann::json;
  // The issue's own cases (-5, 2^64 - 1, 1e30, ...) go through the merge, report and
  // compare processes in cli_test.cpp; these are the reader's other edges.
  const std::vector<std::pair<std::string, std::function<void(json&)>>> cases = {
      {"total_requests: 1.5 is not a whole number from 0 to 9007199254740992",
       [](json& j) { j["total_requests"] = 1.5; }},
      {"total_requests: 9007199254740993 is not a whole number",
       [](json& j) { j["total_requests"] = (std::uint64_t{1} << 53) + 1; }},
      {"connections.opened: \"3\" is not a whole number",
       [](json& j) { j["connections"]["opened"] = "3"; }},
      {"errors.details[1].requests: 0.5 is not a whole number",
       [](json& j) { j["errors"]["details"][1]["requests"] = 0.5; }},
      {"time_series.intervals[2].failed: -2 is not a whole number",
       [](json& j) { j["time_series"]["intervals"][2]["failed"] = -2; }},
      {"shard.index: -1 is not a whole number", [](json& j) { j["shard"]["index"] = -1; }},
      {"total_time: -1 is not a number from 0 up", [](json& j) { j["total_time"] = -1; }},
      {"total_requests: 100 is not successful_requests 97 + failed_requests 4",
       [](json& j) { j["failed_requests"] = 4; }},
      {"errors.details: their requests sum to 5, but failed_requests is 3",
       [](json& j) { j["errors"]["details"][0]["requests"] = 4; }},
      {"latency.histogram: holds 97 samples, but successful_requests is 1000",
       [](json& j) {
         j["successful_requests"] = 1000;
         j["total_requests"] = 1003;
       }},
      {"latency.histogram: holds 1000000 samples, but successful_requests is 97",
       [](json& j) {
         auto& h = j["latency"]["histogram"];
         h["data"] = encoded({{10'100, 999'999}, {19'700, 1}});
         h["sum"] = 10'100.0 * 999'999 + 19'700;
       }},
      {"latency.histogram.min: 5 is not in the histogram's lowest bucket",
       [](json& j) { j["latency"]["histogram"]["min"] = 5; }},
      {"latency.histogram.max: 90000 is not in the histogram's highest bucket",
       [](json& j) { j["latency"]["histogram"]["max"] = 90'000; }},
      {"latency.histogram.sum: 0.0 is not between 97 samples",
       [](json& j) { j["latency"]["histogram"]["sum"] = 0; }},
      {"ttfb.histogram: holds 98 samples, more than successful_requests 97",
       [](json& j) {
         j["ttfb"]["histogram"]["data"] = encoded({{5'010, 97}, {5'970, 1}});
         j["ttfb"]["histogram"]["sum"] = 5'010.0 * 97 + 5'970;
       }},
      {"ttft.histogram: holds 98 samples, more than successful_requests 97",
       [](json& j) {
         j["ttft"]["histogram"]["data"] = encoded({{6'010, 97}, {6'970, 1}});
         j["ttft"]["histogram"]["sum"] = 6'010.0 * 97 + 6'970;
       }},
      {"tpot.histogram.min: -1 is not a whole number",
       [](json& j) { j["tpot"]["histogram"]["min"] = -1; }},
      {"inter_frame.histogram.max: 90000 is not in the histogram's highest bucket",
       [](json& j) { j["inter_frame"]["histogram"]["max"] = 90'000; }},
      {"time_series.intervals: their succeeded sum to 98, but successful_requests is 97",
       [](json& j) {
         auto& i = j["time_series"]["intervals"][0];
         i["succeeded"] = i["succeeded"].get<int>() + 1;
       }},
      {"time_series.intervals: their failed sum to 4, more than failed_requests 3",
       [](json& j) { j["time_series"]["intervals"][2]["failed"] = 4; }},
      {"time_series.intervals[1].histogram: holds 33 samples, more than its succeeded 32",
       [](json& j) { j["time_series"]["intervals"][1]["succeeded"] = 32; }},
      {"schedule.sent: 101 is more than schedule.due 100",
       [](json& j) { j["schedule"]["sent"] = 101; }},
      {"malformed summary: lacks the field 'failed_requests'",
       [](json& j) { j.erase("failed_requests"); }},
  };
  for (const auto& [says, edit] : cases) {
    auto j = good;
    edit(j);
    try {
      summary_from_json(j, "shard-1.json");
      ADD_FAILURE() << "accepted: " << says;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), "shard-1.json") << says;
      EXPECT_NE(std::string(e.what()).find("wsload: shard-1.json: " + says), std::string::npos)
          << e.what();
      EXPECT_EQ(std::string(e.what()).find("json.exception"), std::string::npos) << e.what();
    }
  }
}

TEST(Summary, WholeNumbersWrittenAsFloatsAndSummariesWithoutATimeSeriesAreRead) {
  auto j = to_json(consistent());
  j["total_requests"] = 100.0;
  EXPECT_EQ(summary_from_json(j).total_requests, 100u);
  j = to_json(sample());  // no time series, no first-frame times: nothing to add up
  EXPECT_NO_THROW(summary_from_json(j));
}

TEST(Summary, ADecodedHistogramCountsNoMoreThanAFileCanSay) {
  Histogram h;
  h.record(1'000, std::int64_t{1} << 53);
  h.record(2'000, 1);
  EXPECT_THROW(Histogram::decode(h.encode()), ConfigError);
}

}  // namespace
