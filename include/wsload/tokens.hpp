// What counts as a reply's output tokens (--tokens): its token frames, a count the final
// frame carries, or the characters of a text field over its frames.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <wsload/detail/json_scan.hpp>
#include <wsload/errors.hpp>

namespace wsload {

/// How a reply's output tokens are counted.
struct TokenCount {
  enum class Kind {
    frames,  ///< its token frames, from the first token on (the default)
    count,   ///< the number at `path` in the frame that completes it (/usage/output_tokens)
    chars,   ///< the characters (UTF-8 code points) of the string at `path`, over its frames
  };
  Kind kind = Kind::frames;
  std::optional<detail::JsonPath> path;

  /// "frames", "/pointer" or "chars:/pointer". Throws ConfigError (field "tokens").
  static TokenCount parse(std::string_view text) {
    TokenCount t;
    if (text.empty() || text == "frames") return t;
    std::string_view pointer = text;
    t.kind = Kind::count;
    if (text.starts_with("chars:")) {
      t.kind = Kind::chars;
      pointer.remove_prefix(6);
    }
    if (!pointer.starts_with("/")) {
      throw ConfigError("tokens", std::string(text),
                        "expected frames, a JSON pointer to a count (/usage/output_tokens) or "
                        "chars:POINTER (chars:/text)");
    }
    try {
      t.path.emplace(nlohmann::json::json_pointer(std::string(pointer)));
    } catch (const nlohmann::json::exception&) {
      throw ConfigError("tokens", std::string(text),
                        "has an invalid JSON pointer '" + std::string(pointer) + "'");
    }
    return t;
  }

  /// The tokens `value` (the value at `path` in a frame) counts: a whole number from 0 for
  /// a count, a string's characters for chars; 0 for anything else.
  std::uint64_t of(const detail::JsonSpan& value) const {
    if (!value.found()) return 0;
    if (kind == Kind::chars) {
      if (!value.is_string()) return 0;
      const std::string text = value.escaped
                                   ? value.string_value()
                                   : std::string(value.text.substr(1, value.text.size() - 2));
      std::uint64_t n = 0;
      for (const unsigned char c : text) n += (c & 0xC0) != 0x80;  // not a continuation byte
      return n;
    }
    const char first = value.text[0];
    if (first < '0' || first > '9' || value.text.find_first_of(".eE") != std::string_view::npos ||
        value.text.size() > 15) {
      return 0;
    }
    return std::stoull(std::string(value.text));
  }
};

}  // namespace wsload
