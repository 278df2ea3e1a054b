// The cost of the statistics on the per-message path and at the end of a run.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include <wsload/histogram.hpp>

namespace {

std::vector<std::int64_t> latencies(std::size_t n) {
  std::mt19937_64 random(42);
  std::lognormal_distribution<double> microseconds(8.0, 1.0);  // median about 3 ms
  std::vector<std::int64_t> values(n);
  for (auto& v : values) v = static_cast<std::int64_t>(microseconds(random)) + 1;
  return values;
}

void HistogramRecord(benchmark::State& state) {
  const auto values = latencies(4096);
  wsload::Histogram histogram;
  std::size_t i = 0;
  for (auto _ : state) {
    histogram.record(values[i++ & 4095]);
  }
  benchmark::DoNotOptimize(histogram.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(HistogramRecord);

void HistogramPercentiles(benchmark::State& state) {
  wsload::Histogram histogram;
  for (auto v : latencies(100'000)) histogram.record(v);
  for (auto _ : state) {
    for (double p : {50.0, 90.0, 95.0, 99.0, 99.9}) {
      benchmark::DoNotOptimize(histogram.value_at_percentile(p));
    }
  }
}
BENCHMARK(HistogramPercentiles);

void HistogramEncode(benchmark::State& state) {
  wsload::Histogram histogram;
  for (auto v : latencies(100'000)) histogram.record(v);
  for (auto _ : state) {
    benchmark::DoNotOptimize(histogram.encode());
  }
}
BENCHMARK(HistogramEncode)->Unit(benchmark::kMicrosecond);

void HistogramMerge(benchmark::State& state) {
  wsload::Histogram a;
  wsload::Histogram b;
  for (auto v : latencies(100'000)) b.record(v);
  for (auto _ : state) {
    a.merge(b);
  }
  benchmark::DoNotOptimize(a.count());
}
BENCHMARK(HistogramMerge)->Unit(benchmark::kMicrosecond);

}  // namespace
