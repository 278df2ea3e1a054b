// HdrHistogram's compressed encoding (base64, zlib): never crash or allocate without
// bound; an accepted histogram encodes to a text that decodes to the same counts.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <wsload/histogram.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  wsload::Histogram h;
  try {
    h = wsload::Histogram::decode(text);
  } catch (const wsload::ConfigError&) {
    return 0;
  }
  const auto again = wsload::Histogram::decode(h.encode());
  if (again.counts() != h.counts() || again.count() != h.count()) std::abort();
  return 0;
}
