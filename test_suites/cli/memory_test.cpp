// Memory of `wsload merge` and `report` against what their input says rather than what it
// holds: shards far apart in time, a series of 200,000 seconds, a start of 1e300. Each
// child runs with its address space limited, so a regression fails here instead of taking
// the machine's memory, and its peak resident size is measured (getrusage of the child).
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <wsload/results/runs.hpp>

#include "../support/process.hpp"
#include "../support/scratch.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double start = 1.8e9;  // Unix time, 2027

class CliMemory : public wsload::test::ScratchTest {
 protected:
  /// `wsload ARGS` in at most 2 GiB of address space.
  static wsload::test::ProcessResult run_limited(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"/bin/sh", "-c", "ulimit -v 2097152 && exec \"$@\"", "sh",
                                     WSLOAD_CLI};
    argv.insert(argv.end(), args.begin(), args.end());
    return wsload::test::run_process(argv, wsload::test::clean_wsload_env());
  }

  /// A small shard's summary, every figure consistent: `requests` in its first second.
  static json shard(std::size_t index, double measured_from, std::uint64_t requests = 10) {
    wsload::Summary s;
    s.name = "soak";
    s.config = {{"url", "ws://127.0.0.1:9/"}, {"thresholds", {"errors==0"}}};
    s.shard = wsload::Shard{index, 2};
    s.measured_from = measured_from;
    for (std::uint64_t i = 0; i < requests; ++i) {
      const auto us = static_cast<std::int64_t>(1000 + i % 100);
      s.latency.record(us);
      s.ttfb.record(us / 2);
      s.time_series.record(0, us);
    }
    s.total_requests = s.successful_requests = requests;
    s.total_time = wsload::Seconds(1);
    s.connections_configured = s.connections_opened = 1;
    s.threads = 1;
    return to_json(s);
  }

  fs::path write_json(const std::string& name, const json& j) const {
    return write(name, j.dump());
  }
};

TEST_F(CliMemory, ShardsADayApartMergeInLittleMemory) {
  const auto first = write_json("first.json", shard(0, start));
  const auto later = write_json("later.json", shard(1, start + 86'400));
  const auto out = dir_ / "merged.json";
  const auto r = run_limited({"merge", first, later, "--out", out, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_LT(r.peak_rss_kib, 100 * 1024) << "KiB (4.6 GB before)";
  EXPECT_LT(fs::file_size(out), 4u << 20) << "bytes (20 MB before)";
  const auto merged = wsload::read_summary(out);
  ASSERT_EQ(merged.time_series.seconds().size(), 86'401u);
  EXPECT_EQ(merged.time_series.seconds().front().succeeded, 10u);
  EXPECT_EQ(merged.time_series.seconds().back().succeeded, 10u);
}

TEST_F(CliMemory, AnAbsurdSeriesStartIsRefusedNamingTheFileAndTheField) {
  const auto first = write_json("first.json", shard(0, start));
  for (const double later : {1e6, 1e300}) {
    auto late = shard(1, start);
    late["time_series"]["start"] = start + later;
    const auto file = write_json("late.json", late);
    const auto r = run_limited({"merge", first, file, "--out", ""});
    EXPECT_EQ(r.exit_code, 2) << later << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(file.string() + ": time_series.start"), std::string::npos)
        << later << ": " << r.err;
  }
  const auto report = run_limited({"report", dir_ / "late.json", "--out", dir_ / "r.html"});
  EXPECT_EQ(report.exit_code, 2) << report.out << report.err;
  EXPECT_NE(report.err.find("late.json: time_series.start"), std::string::npos) << report.err;
}

TEST_F(CliMemory, AVeryLongSeriesIsReportedAndMergedInBoundedMemory) {
  // 200,000 one-second intervals (55 hours), a 36 MB file whose figures add up.
  constexpr std::uint64_t seconds = 200'000;
  auto j = shard(0, start, seconds);
  const auto one = shard(0, start, 1)["time_series"]["intervals"][0];
  j["time_series"]["intervals"] = json::array();
  for (std::uint64_t s = 0; s < seconds; ++s) j["time_series"]["intervals"].push_back(one);
  j["total_time"] = static_cast<double>(seconds);
  const auto file = write_json("long.json", j);

  const auto report = run_limited({"report", file, "--out", dir_ / "report.html"});
  ASSERT_EQ(report.exit_code, 0) << report.out << report.err;
  EXPECT_LT(report.peak_rss_kib, 300 * 1024) << "KiB (5.4 GB before)";

  const auto other = write_json("other.json", shard(1, start));
  const auto out = dir_ / "merged.json";
  const auto merge = run_limited({"merge", file, other, "--out", out, "--quiet"});
  ASSERT_EQ(merge.exit_code, 0) << merge.out << merge.err;
  EXPECT_LT(merge.peak_rss_kib, 300 * 1024) << "KiB (16 GB before)";
  const auto merged = wsload::read_summary(out);
  ASSERT_EQ(merged.time_series.seconds().size(), seconds);
  std::uint64_t requests = 0;
  for (const auto& second : merged.time_series.seconds()) requests += second.requests();
  EXPECT_EQ(requests, seconds + 10);
}

}  // namespace
