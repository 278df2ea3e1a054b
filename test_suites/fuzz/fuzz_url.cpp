// URL parsing: never crashes; what it accepts prints back to a URL that parses the same.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <wsload/url.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  wsload::Url url;
  try {
    url = wsload::parse_url(text);
  } catch (const wsload::ConfigError&) {
    return 0;
  }
  const auto again = wsload::parse_url(url.to_string());
  if (again.host != url.host || again.port != url.port || again.target() != url.target() ||
      again.secure != url.secure) {
    std::abort();
  }
  (void)url.redacted();
  return 0;
}
