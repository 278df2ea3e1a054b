// The per-message path besides the network: filling a template, judging a reply frame
// against completion and error rules. Each runs once or more per request.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include <wsload/message.hpp>

namespace {

const std::string prompt =
    "Summarise \"Hamlet\" in two sentences,\nthen translate it: dzie\xC5\x84 dobry.";

void TemplateRender(benchmark::State& state) {
  const auto message = wsload::MessageTemplate::parse(
      R"({"action":"sendmessage","id":{{sequence}},"prompt":{{prompt}}})");
  std::string out;
  std::uint64_t sequence = 0;
  for (auto _ : state) {
    out.clear();
    message.render(out, {prompt, 7, sequence++, {}});
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(TemplateRender);

// A streamed chunk, judged as the engine judges every frame of a reply: one scan of its
// bytes for the end rule's pointer and API Gateway's "message", then both rules.
const std::string chunk =
    R"({"type":"chunk","index":12,"text":"and so the prince, being \"mad\", went on"})";

void FrameJudgement(benchmark::State& state) {
  const auto completion = wsload::Completion::parse(R"(/type=="end")");
  const auto errors = wsload::ErrorRules::parse({"api-gateway"});
  std::vector<wsload::detail::JsonPath> paths{completion.until->path()};
  errors.add_paths(paths);
  wsload::detail::FrameScan scanned(paths);
  for (auto _ : state) {
    scanned.scan(chunk);
    benchmark::DoNotOptimize(completion.until->matches(chunk, scanned));
    benchmark::DoNotOptimize(errors.match(chunk, scanned));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(FrameJudgement);

// The same from a DOM, as frames were judged before the scan (and as tests cross-check it).
void FrameJudgementDom(benchmark::State& state) {
  const auto completion = wsload::Completion::parse(R"(/type=="end")");
  const auto errors = wsload::ErrorRules::parse({"api-gateway"});
  nlohmann::json parsed;
  for (auto _ : state) {
    wsload::detail::parse_frame(chunk, parsed);
    benchmark::DoNotOptimize(completion.until->matches(chunk, &parsed));
    benchmark::DoNotOptimize(errors.match(chunk, &parsed));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(FrameJudgementDom);

// A regex end rule on a 1 KB streamed frame that does not end the reply (the common case:
// every chunk but the last is searched to its end).
void search_streamed_chunk(benchmark::State& state, const char* rule) {
  const auto completion = wsload::Completion::parse(rule);
  const std::string frame =
      R"({"type":"chunk","index":3,"text":")" + std::string(1000, 'w') + R"(","id":41})";
  for (auto _ : state) {
    benchmark::DoNotOptimize(completion.until->matches(frame, nullptr));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * frame.size()));
}

void RegexRule(benchmark::State& state) {
  search_streamed_chunk(state, R"(regex:"type"\s*:\s*"end")");
}
BENCHMARK(RegexRule);

// A pattern that starts with a class, so no search can skip ahead to a literal: every
// byte of the frame goes through the matcher.
void RegexRuleClassFirst(benchmark::State& state) {
  search_streamed_chunk(state, R"(regex:\w+"\s*:\s*true\})");
}
BENCHMARK(RegexRuleClassFirst);

}  // namespace
