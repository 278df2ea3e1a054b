// A load-benchmark program as users write one, run as a process by
// benchmark_integration_test.cpp against a server it names in WSLOAD_URL.
#include <cstdlib>

#include <wsload/benchmark.hpp>

namespace {

wsload::LoadConfig echo_config() {
  wsload::LoadConfig config;
  config.prompts = {"alpha", "beta"};
  config.connections = 4;
  config.iterations = 5;
  wsload::apply_environment(config);  // WSLOAD_URL, read before main
  return config;
}

// The one-line form.
WSLOAD_BENCHMARK(Echo, echo_config());

wsload::LoadConfig impossible_config() {
  auto config = echo_config();
  config.thresholds = {"p99<1us"};
  return config;
}

WSLOAD_BENCHMARK(ImpossibleP99, impossible_config());

// Against a server streaming tokens: the streaming figures become counters too.
wsload::LoadConfig streamed_config() {
  auto config = echo_config();
  config.completion = R"(/type=="end")";
  config.first_token = R"(/type=="token")";
  config.slo = "ttft<60s";
  return config;
}

WSLOAD_BENCHMARK(Streamed, streamed_config());

// The helper inside a hand-written benchmark function.
void HandWritten(benchmark::State& state) {
  const auto summary = wsload::RunLoadBenchmark(state, echo_config());
  state.counters["successful"] = static_cast<double>(summary.successful_requests);
}
BENCHMARK(HandWritten)->UseManualTime()->Iterations(2)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
