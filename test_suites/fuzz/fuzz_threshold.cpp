// Threshold expressions: never crash; an accepted expression's normalised text parses to
// the same threshold, and judging it always yields a sentence.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <wsload/thresholds.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  wsload::Threshold t;
  try {
    t = wsload::parse_threshold(text);
  } catch (const wsload::ConfigError&) {
    return 0;
  }
  const auto again = wsload::parse_threshold(t.expression);
  if (again.figure != t.figure || again.comparison != t.comparison || again.limit != t.limit ||
      again.percentile != t.percentile) {
    std::abort();
  }
  for (const auto actual : {std::optional<double>(), std::optional<double>(0.0),
                            std::optional<double>(t.limit), std::optional<double>(1e300)}) {
    if (wsload::evaluate(t, actual).message.empty()) std::abort();
  }
  return 0;
}
