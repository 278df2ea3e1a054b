// Where a load configuration comes from besides code: prompts files, header text, and
// the WSLOAD_* environment variables that retarget a test binary.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <wsload/config.hpp>
#include <wsload/detail/base64.hpp>
#include <wsload/detail/format.hpp>
#include <wsload/errors.hpp>
#include <wsload/shard.hpp>

namespace wsload {

namespace detail {

/// RFC 3629 well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
inline bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    // ASCII eight bytes at a time: every frame of a text reply is checked.
    std::uint64_t eight;
    while (i + 8 <= s.size() &&
           (std::memcpy(&eight, s.data() + i, 8), (eight & 0x8080808080808080u) == 0)) {
      i += 8;
    }
    if (i == s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    int extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(extra) >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr std::uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};
    if (cp < smallest[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return true;
}

inline bool is_token_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace detail

/// How each line of a prompts file (and each `--prompt`) spells its message: as the text
/// itself, or as the bytes of a binary message in base64 or hex (sent as binary frames).
enum class PromptEncoding { text, base64, hex };

/// "text", "base64" or "hex". Throws ConfigError (field "prompts encoding").
inline PromptEncoding parse_prompt_encoding(std::string_view name) {
  if (name == "text") return PromptEncoding::text;
  if (name == "base64") return PromptEncoding::base64;
  if (name == "hex") return PromptEncoding::hex;
  throw ConfigError("prompts encoding", std::string(name), "must be text, base64 or hex");
}

/// The message `text` spells in `encoding` (blanks at either end ignored for base64 and
/// hex); nullopt when it is not valid base64 (RFC 4648, standard alphabet, padded) or
/// hex (two digits per byte, blanks allowed between bytes).
inline std::optional<std::string> decode_prompt(std::string_view text, PromptEncoding encoding) {
  if (encoding == PromptEncoding::text) return std::string(text);
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return std::nullopt;
  text = text.substr(first, text.find_last_not_of(" \t") - first + 1);
  return encoding == PromptEncoding::base64 ? detail::base64_decode(text)
                                            : detail::hex_decode(text);
}

/// Why decode_prompt refused a line, for messages.
inline std::string not_encoded_as(PromptEncoding encoding) {
  return encoding == PromptEncoding::base64
             ? "is not base64 (RFC 4648: A-Z a-z 0-9 + /, padded with '=' to a multiple of 4)"
             : "is not hex (two digits 0-9 a-f per byte, blanks allowed between bytes)";
}

/// Reads prompts from a file: one per line, blank lines skipped, a trailing '\r' dropped, a
/// UTF-8 byte order mark at the start of the file dropped (Windows editors write one), the
/// text otherwise kept byte for byte. With `encoding` base64 or hex, each line is the
/// bytes of a binary message, decoded here. Throws ConfigError (field "prompts file") when
/// the file is missing, unreadable, a directory, binary (NUL bytes), not UTF-8, has a line
/// that is not in `encoding` (naming the line), or has no prompt at all.
inline std::vector<std::string> read_prompts(const std::filesystem::path& file,
                                             PromptEncoding encoding = PromptEncoding::text) {
  const std::string field = "prompts file";
  const std::string shown = file.string();
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) throw ConfigError(field, shown, "does not exist");
  if (std::filesystem::is_directory(file, ec)) {
    throw ConfigError(field, shown, "is a directory, not a file");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(field, shown, "cannot be opened for reading");
  std::vector<std::string> prompts;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find('\0') != std::string::npos) {
      throw ConfigError(field, shown,
                        "line " + std::to_string(number) + " has a NUL byte; is it a binary file?");
    }
    if (!detail::valid_utf8(line)) {
      throw ConfigError(field, shown,
                        "line " + std::to_string(number) +
                            " is not valid UTF-8 (WebSocket text frames must be, RFC 6455 5.6)");
    }
    if (line.find_first_not_of(" \t\f\v") == std::string::npos) continue;
    if (encoding != PromptEncoding::text) {
      auto bytes = decode_prompt(line, encoding);
      if (!bytes) {
        throw ConfigError(field, shown,
                          "line " + std::to_string(number) + " " + not_encoded_as(encoding));
      }
      line = std::move(*bytes);
    }
    prompts.push_back(std::move(line));
  }
  if (in.bad()) throw ConfigError(field, shown, "could not be read");
  if (prompts.empty()) throw ConfigError(field, shown, "has no prompts (every line is blank)");
  return prompts;
}

/// Parses "Name: value" (as given on a command line). Throws ConfigError (field "header").
inline Header parse_header(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    throw ConfigError("header", std::string(text.substr(0, colon)), "expected 'Name: value'");
  }
  Header h{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
  const auto first = h.value.find_first_not_of(" \t");
  h.value.erase(0, first == std::string::npos ? h.value.size() : first);
  while (!h.value.empty() && (h.value.back() == ' ' || h.value.back() == '\t')) h.value.pop_back();
  return h;
}

/// Lets one test binary target dev, staging or prod: each WSLOAD_* variable that is set
/// overrides the field the code wrote. Variables: WSLOAD_URL, WSLOAD_ORIGIN,
/// WSLOAD_PROMPTS (a file), WSLOAD_CONNECTIONS, WSLOAD_MAX_LATENCY (seconds, on the
/// average), WSLOAD_MIN_RPS, WSLOAD_MIN_SUCCESS_RATE (percent); for a shard of a bigger
/// load, WSLOAD_SHARD_COUNT with WSLOAD_SHARD_INDEX or JOB_COMPLETION_INDEX, and
/// WSLOAD_START_AT (see shard_from_environment, parse_start_at).
/// Throws ConfigError naming the variable when its value is invalid.
inline void apply_environment(
    LoadConfig& config, const std::function<const char*(const char*)>& getenv = [](const char* n) {
      return std::getenv(n);
    }) {
  auto number = [&](const char* name, double low, double high) -> std::optional<double> {
    const char* text = getenv(name);
    if (!text) return std::nullopt;
    char* end = nullptr;
    const double value = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(value >= low && value <= high)) {
      throw ConfigError(name, text,
                        "must be a number from " + detail::format_number(low, 3) + " to " +
                            detail::format_number(high, 3));
    }
    return value;
  };
  if (const char* v = getenv("WSLOAD_URL")) config.url = v;
  if (const char* v = getenv("WSLOAD_ORIGIN")) config.origin = v;
  if (const char* v = getenv("WSLOAD_PROMPTS")) config.prompts = read_prompts(v);
  if (const char* v = getenv("WSLOAD_CONNECTIONS")) {
    const auto n = number("WSLOAD_CONNECTIONS", 1, 1'000'000);
    if (*n != static_cast<double>(static_cast<std::size_t>(*n))) {
      throw ConfigError("WSLOAD_CONNECTIONS", v, "must be a whole number");
    }
    config.connections = static_cast<std::size_t>(*n);
  }
  if (auto v = number("WSLOAD_MAX_LATENCY", 0, 3600)) config.max_average_latency = Seconds(*v);
  if (auto v = number("WSLOAD_MIN_RPS", 0, 1e9)) config.min_rps = *v;
  if (auto v = number("WSLOAD_MIN_SUCCESS_RATE", 0, 100)) config.min_success_rate = *v;
  if (auto shard = shard_from_environment(getenv)) config.shard = shard;
  if (const char* v = getenv("WSLOAD_START_AT")) config.start_at = parse_start_at(v);
}

}  // namespace wsload
