// Message templates, completion and error rules: never crash; a template that parses
// renders any UTF-8 prompt into valid JSON (when it is JSON) that carries the prompt
// unchanged, and rules judge any frame, the same from a scan of its bytes (as the engine
// judges) as from its DOM: completion rule, error rules and the id at the rule's pointer.
// Input: template text, a NUL, a prompt, a NUL, a rule, a NUL, a frame.
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
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
  const nlohmann::json* dom = is_json ? &parsed : nullptr;
  try {
    const auto completion = wsload::Completion::parse(rule);
    const auto errors = wsload::ErrorRules::parse({"api-gateway", std::string(rule)});
    std::vector<wsload::detail::JsonPath> paths;
    if (completion.until && completion.until->needs_json()) {
      paths.push_back(completion.until->path());
    }
    errors.add_paths(paths);
    wsload::detail::FrameScan scanned(paths);
    const bool scanned_json = scanned.scan(frame);
    if (scanned_json && !is_json) std::abort();
    const bool judges_json = completion.until && completion.until->needs_json();
    const auto& path = judges_json ? completion.until->path() : wsload::detail::JsonPath();
    bool from_dom = false;
    std::optional<std::pair<wsload::ErrorKind, std::string>> error_from_dom;
    std::string id_from_dom;
    try {
      if (completion.until) from_dom = completion.until->matches(frame, dom);
      error_from_dom = errors.match(frame, dom);
      if (judges_json && is_json) {
        const nlohmann::json::json_pointer pointer(std::string(rule.substr(0, rule.find("=="))));
        if (parsed.contains(pointer)) id_from_dom = parsed.at(pointer).dump();
      }
    } catch (const nlohmann::json::exception&) {
      return 0;  // an array index past size_t: the DOM throws, the scan finds nothing
    }
    if (completion.until && completion.until->matches(frame, scanned) != from_dom) std::abort();
    if (errors.match(frame, scanned) != error_from_dom) std::abort();
    if (judges_json) {
      wsload::detail::FrameScan ids({&path, 1});
      if ((ids.scan(frame) ? ids.at(path).dump() : "") != id_from_dom) std::abort();
    }
  } catch (const wsload::ConfigError&) {
  }
  return 0;
}
