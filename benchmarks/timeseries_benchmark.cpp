// Memory of a run's time series against the run's length, with simulated seconds (an
// hour or a day of them takes a second to simulate): one engine thread's series recorded
// at 200 requests a second (latencies around 2 ms, spread over two decades), merged into
// the summary as the engine merges its threads, then written as the summary's JSON.
//
// Target (reported, never asserted): flat in the run's length, 16 bytes a second for the
// exact counts plus a bounded latency part; one dense histogram a second, as before,
// would take the `dense_kib` column. Run each length in a process of its own
// (scripts/run-benchmarks.sh does) so that the resident growth is its own.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include <wsload/results/summary_json.hpp>

#include "process_memory.hpp"

namespace {

using wsload::bench::heap_in_use;
using wsload::bench::resident_bytes;

void TimeSeriesMemory(benchmark::State& state) {
  const auto seconds = static_cast<std::size_t>(state.range(0));
  constexpr int per_second = 200;
  std::mt19937_64 random(42);
  std::lognormal_distribution<double> latency_us(std::log(2000.0), 0.8);
  double series_bytes = 0;
  double peak_bytes = 0;
  double resident_growth = 0;
  double json_bytes = 0;
  std::size_t resolution = 0;
  for (auto _ : state) {
    const double resident_before = resident_bytes();
    const double before = heap_in_use();
    double peak = before;
    wsload::TimeSeries thread;
    for (std::size_t second = 0; second < seconds; ++second) {
      for (int i = 0; i < per_second; ++i) {
        thread.record(second, static_cast<std::int64_t>(latency_us(random)));
      }
      if (second % 60 == 0) peak = std::max(peak, heap_in_use());
    }
    series_bytes = heap_in_use() - before;
    wsload::Summary summary;
    summary.time_series.merge(thread);
    peak = std::max(peak, heap_in_use());
    const auto json = to_json(summary);
    peak = std::max(peak, heap_in_use());
    json_bytes = static_cast<double>(json.dump(2).size());
    peak_bytes = std::max(peak, heap_in_use()) - before;
    resident_growth = std::max(0.0, resident_bytes() - resident_before);
    resolution = summary.time_series.resolution();
    benchmark::DoNotOptimize(json_bytes);
  }
  const wsload::Interval dense;
  state.counters["series_kib"] = series_bytes / 1024;
  state.counters["peak_heap_kib"] = peak_bytes / 1024;
  state.counters["resident_growth_kib"] = resident_growth / 1024;
  state.counters["json_kib"] = json_bytes / 1024;
  state.counters["interval_s"] = static_cast<double>(resolution);
  state.counters["dense_kib"] =
      static_cast<double>(seconds * dense.latency.counts().size() * sizeof(std::int64_t)) / 1024;
}
BENCHMARK(TimeSeriesMemory)
    ->ArgName("seconds")
    ->Arg(10)
    ->Arg(60)
    ->Arg(3600)
    ->Arg(86'400)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
