// Summary files (which `wsload compare` reads from anywhere): never crash; an accepted
// summary serialises to JSON that reads back the same. The NaN-tolerant JSON reader of
// compare.hpp takes the same input.
#include <cstdint>
#include <sstream>
#include <string>

#include <wsload/compare.hpp>
#include <wsload/results/summary_json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::istringstream in(text);
  (void)wsload::detail::parse_json_allowing_nan(in);
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return 0;
  wsload::Summary s;
  try {
    s = wsload::summary_from_json(j);
  } catch (const wsload::ConfigError&) {
    return 0;
  }
  const auto first = to_json(s);
  if (to_json(wsload::summary_from_json(first)) != first) std::abort();
  return 0;
}
