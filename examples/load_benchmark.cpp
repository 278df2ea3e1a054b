// A load benchmark for the chat endpoint, next to a team's micro-benchmarks. Without
// WSLOAD_URL it runs against a stand-in, the embedded test server.
//
//   chat_load_benchmark --benchmark_repetitions=5 --benchmark_out_format=json
//                       --benchmark_out=new.json
//   wsload compare base.json new.json   (see compare_builds.sh)
#include <memory>

#include <wsload/benchmark.hpp>
#include <wsload/testing/server.hpp>

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

  wsload::LoadConfig config;
  config.prompts = wsload::read_prompts(WSLOAD_EXAMPLE_PROMPTS);
  config.connections = 20;
  config.iterations = 5;
  config.thresholds = {"success_rate>=95%"};  // a violation marks the case as errored
  wsload::apply_environment(config);
  std::unique_ptr<wsload::testing::Server> stand_in;
  if (config.url.empty()) {
    wsload::testing::ServerOptions options;
    options.reply_delay = std::chrono::milliseconds(5);
    stand_in = std::make_unique<wsload::testing::Server>(options);
    config.url = stand_in->url("/prod");
  }
  wsload::RegisterLoadBenchmark("ChatEndpoint", config);

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
