// Message templates, completion and error rules: never crash; a template that parses
// renders any UTF-8 prompt into valid JSON (when it is JSON) that carries the prompt
// unchanged, and rules judge any frame.
// Input: template text, a NUL, a prompt, a NUL, a rule, a NUL, a frame.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include <wsload/config_sources.hpp>
#include <wsload/message.hpp>

namespace {

std::vector<std::string_view> split(std::string_view text) {
  std::vector<std::string_view> parts;
  while (parts.size() < 3) {
    const auto nul = text.find('\0');
    if (nul == std::string_view::npos) break;
    parts.push_back(text.substr(0, nul));
    text.remove_prefix(nul + 1);
  }
  parts.push_back(text);
  while (parts.size() < 4) parts.emplace_back();
  return parts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = split(std::string_view(reinterpret_cast<const char*>(data), size));
  const auto [text, prompt, rule, frame] = std::tie(parts[0], parts[1], parts[2], parts[3]);
  try {
    const auto t = wsload::MessageTemplate::parse(text);
    if (wsload::detail::valid_utf8(prompt)) {
      const auto body = t.render({prompt, 1, 2, "00000000-0000-4000-8000-000000000000"});
      if (body.size() > t.max_size(prompt)) std::abort();
      if (t.is_json()) {
        const auto parsed = nlohmann::json::parse(body, nullptr, false);
        if (parsed.is_discarded()) std::abort();
      }
    }
  } catch (const wsload::ConfigError&) {
  }
  nlohmann::json parsed;
  const bool is_json = wsload::detail::parse_frame(frame, parsed);
  try {
    const auto completion = wsload::Completion::parse(rule);
    if (completion.until) (void)completion.until->matches(frame, is_json ? &parsed : nullptr);
  } catch (const wsload::ConfigError&) {
  }
  try {
    const auto errors = wsload::ErrorRules::parse({"api-gateway", std::string(rule)});
    (void)errors.match(frame, is_json ? &parsed : nullptr);
  } catch (const wsload::ConfigError&) {
  }
  return 0;
}
