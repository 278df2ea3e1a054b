// The engine against the embedded server (its own thread, same process): round trips per
// second and the client's CPU time per round trip, for ws and wss.
//
// Targets on a 2-core machine (measured, not asserted): at most 15 us of client CPU per ws
// round trip and 25 us per wss round trip. The client CPU comes from the engine threads'
// own rusage, so the server's share is not counted.
#include <benchmark/benchmark.h>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

namespace {

using namespace std::chrono_literals;

void RoundTrips(benchmark::State& state, bool tls) {
  const auto connections = static_cast<std::size_t>(state.range(0));
  const auto messages = static_cast<std::size_t>(state.range(1));
  wsload::testing::ServerOptions options;
  options.tls = tls;
  wsload::testing::Server server(options);

  wsload::LoadConfig config;
  config.url = server.url("/bench");
  config.prompts = {"a small message of about forty bytes, ok"};
  config.iterations = messages;
  config.connections = connections;
  config.threads = 1;  // the server has the other core
  config.tls.ca_pem = server.ca_pem();
  config.timeouts.run = 300s;

  double round_trips = 0;
  double client_cpu = 0;
  double failed = 0;
  double p50 = 0;
  for (auto _ : state) {
    const auto summary = wsload::run_load(config);
    round_trips += static_cast<double>(summary.successful_requests);
    failed += static_cast<double>(summary.failed_requests);
    client_cpu += (summary.cpu_user + summary.cpu_system).count();
    p50 += summary.latency_at(50).value_or(0);
  }
  if (failed > 0) state.SkipWithError("some round trips failed: the figures would be wrong");
  const double iterations = static_cast<double>(state.iterations());
  state.counters["round_trips"] = benchmark::Counter(round_trips, benchmark::Counter::kIsRate);
  state.counters["client_cpu_us_per_round_trip"] =
      round_trips > 0 ? client_cpu * 1e6 / round_trips : 0;
  state.counters["p50_latency_us"] = p50 * 1e6 / iterations;
}

// 50 connections x 2,000 small messages each.
BENCHMARK_CAPTURE(RoundTrips, ws, false)
    ->Args({50, 2000})
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(RoundTrips, wss, true)
    ->Args({50, 2000})
    ->Iterations(3)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
