// Google Benchmark integration: a load run as a benchmark case.
//
//   WSLOAD_BENCHMARK(ChatEndpoint, chat_config());   // one line, at namespace scope
//
// One iteration is one load run. The reported time is manual time: the wall time of the
// run (connect, all requests, close), so `real_time` falls when the service gets faster
// at the whole job. The latency figures are user counters in milliseconds. Thresholds of
// the configuration that a run violates mark the case as errored with the verdict.
#pragma once

#include <string>
#include <utility>

#include <benchmark/benchmark.h>

#include <wsload/config_sources.hpp>
#include <wsload/engine.hpp>
#include <wsload/run_samples.hpp>

namespace wsload {

/// Counter names, for code that reads the benchmark JSON (wsload compare does).
namespace counters {
inline constexpr const char* rps = "rps";
inline constexpr const char* success_rate = "success_rate";
inline constexpr const char* avg_ms = "avg_ms";
inline constexpr const char* p50_ms = "p50_ms";
inline constexpr const char* p90_ms = "p90_ms";
inline constexpr const char* p95_ms = "p95_ms";
inline constexpr const char* p99_ms = "p99_ms";
inline constexpr const char* p999_ms = "p999_ms";
inline constexpr const char* errors = "errors";
inline constexpr const char* messages = "messages";
inline constexpr const char* output_rate_p50 = "output_rate_p50";  ///< tokens/s, per reply
inline constexpr const char* goodput = "goodput";  ///< req/s meeting every --slo limit
// ttft_p50_ms ... tpot_p99_ms: streaming_percentiles() names them.
}  // namespace counters

/// The body of a load benchmark, for a hand-written BENCHMARK function: runs `config`
/// once per iteration, sets the iteration time to the run's wall time (register with
/// UseManualTime()), and the counters to the figures of all iterations together. Returns
/// the merged summary. Configuration errors and violated thresholds end the case with
/// SkipWithError and the reason.
inline Summary RunLoadBenchmark(benchmark::State& state, const LoadConfig& config) {
  Summary all;
  std::string violated;
  try {
    const Engine check(config);  // validates before the timed loop
    (void)check;
  } catch (const ConfigError& e) {
    state.SkipWithError(e.what());
    for (auto _ : state) {
    }
    return all;
  }
  for (auto _ : state) {
    const Summary run = Engine(config).run();
    state.SetIterationTime(run.total_time.count());
    static_cast<Counters&>(all) += run;
    for (Histogram Summary::*h : {&Summary::latency, &Summary::ttft, &Summary::inter_frame,
                                  &Summary::tpot, &Summary::output_rate}) {
      (all.*h).merge(run.*h);
    }
    all.total_time += run.total_time;
    all.rate_window += run.rate_window;
    for (const auto& v : run.verdicts) {
      if (!v.passed && violated.empty()) violated = v.expression + ": " + v.message;
    }
    if (all.name.empty()) all.config = run.config;
  }
  all.name = config.name;
  auto ms = [&all](double p) { return all.latency_at(p).value_or(0) * 1e3; };
  state.counters[counters::rps] = all.requests_per_second();
  state.counters[counters::success_rate] = all.success_rate();
  state.counters[counters::avg_ms] = all.latency_mean().value_or(0) * 1e3;
  state.counters[counters::p50_ms] = ms(50);
  state.counters[counters::p90_ms] = ms(90);
  state.counters[counters::p95_ms] = ms(95);
  state.counters[counters::p99_ms] = ms(99);
  state.counters[counters::p999_ms] = ms(99.9);
  state.counters[counters::errors] = static_cast<double>(all.failed_requests);
  state.counters[counters::messages] = static_cast<double>(all.total_requests);
  // Streamed replies' figures, under the names compare reads (streaming_percentiles).
  for (const auto& s : streaming_percentiles()) {
    const Histogram& h = all.timed(s.timing);
    if (!h.empty())
      state.counters[s.counter] = static_cast<double>(h.value_at_percentile(s.percentile)) / 1e3;
  }
  if (!all.output_rate.empty()) {
    state.counters[counters::output_rate_p50] =
        static_cast<double>(all.output_rate.value_at_percentile(50)) / 1e3;
  }
  if (all.has_slo()) state.counters[counters::goodput] = all.goodput();
  if (!violated.empty()) state.SkipWithError(("threshold violated: " + violated).c_str());
  return all;
}

/// Registers a load benchmark named `name`: manual time in milliseconds, one iteration
/// (one load run) unless changed on the returned benchmark, e.g. ->Repetitions(5).
inline benchmark::internal::Benchmark* RegisterLoadBenchmark(const std::string& name,
                                                             LoadConfig config) {
  return benchmark::RegisterBenchmark(name.c_str(),
                                      [config = std::move(config)](benchmark::State& state) {
                                        RunLoadBenchmark(state, config);
                                      })
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
}

}  // namespace wsload

#define WSLOAD_DETAIL_CONCAT2(a, b) a##b
#define WSLOAD_DETAIL_CONCAT(a, b) WSLOAD_DETAIL_CONCAT2(a, b)

/// Registers a load benchmark at namespace scope: WSLOAD_BENCHMARK(Name, config).
/// `config` is evaluated before main(); read files or the environment there, not sockets.
#define WSLOAD_BENCHMARK(name, config)                                            \
  [[maybe_unused]] static ::benchmark::internal::Benchmark* WSLOAD_DETAIL_CONCAT( \
      wsload_benchmark_, __LINE__) = ::wsload::RegisterLoadBenchmark(#name, config)
