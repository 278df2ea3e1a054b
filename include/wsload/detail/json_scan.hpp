// Judging a frame's JSON without building it. A streamed reply is hundreds of frames and
// each meets the completion rule, the error rules and the correlation id: one pass over the
// bytes checks that the frame is JSON exactly as nlohmann::json::parse accepts it (so a
// truncated or malformed frame judges as before: not JSON) and notes where the values at a
// few JSON pointers lie. Comparisons then read those spans; only a number, an object or an
// array compared for equality is parsed, alone. No allocation per frame in steady state,
// no recursion (nesting costs one byte per level).
#pragma once

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

namespace wsload::detail {

/// A JSON pointer as its reference tokens (~1 and ~0 unescaped), with each token's
/// array index where it is one as nlohmann::json_pointer reads it.
class JsonPath {
 public:
  JsonPath() = default;
  explicit JsonPath(const nlohmann::json::json_pointer& pointer) {
    const std::string text = pointer.to_string();
    for (std::size_t at = 0; at < text.size();) {
      const auto next = std::min(text.find('/', at + 1), text.size());
      std::string token;
      for (std::size_t i = at + 1; i < next; ++i) {
        if (text[i] == '~' && i + 1 < next) {
          token += text[++i] == '1' ? '/' : '~';
        } else {
          token += text[i];
        }
      }
      tokens_.push_back(std::move(token));
      at = next;
    }
    for (const auto& token : tokens_) indexes_.push_back(array_index(token));
  }

  std::size_t size() const noexcept { return tokens_.size(); }
  const std::string& token(std::size_t i) const noexcept { return tokens_[i]; }
  /// The token as an array index; npos when it cannot be one (then no element matches).
  std::size_t index(std::size_t i) const noexcept { return indexes_[i]; }
  bool operator==(const JsonPath& other) const noexcept { return tokens_ == other.tokens_; }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

 private:
  static std::size_t array_index(const std::string& token) {
    if (token.empty() || (token.size() > 1 && token[0] == '0')) return npos;
    std::size_t value = 0;
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
    return ec == std::errc() && end == token.data() + token.size() ? value : npos;
  }

  std::vector<std::string> tokens_;
  std::vector<std::size_t> indexes_;
};

/// The bytes of `quoted` (a valid JSON string with its quotes) unescaped, appended to `out`.
inline void append_unescaped(std::string& out, std::string_view quoted) {
  const auto hex4 = [&](std::size_t at) {
    unsigned value = 0;
    std::from_chars(quoted.data() + at, quoted.data() + at + 4, value, 16);
    return value;
  };
  for (std::size_t i = 1; i + 1 < quoted.size(); ++i) {
    if (quoted[i] != '\\') {
      out += quoted[i];
      continue;
    }
    const char c = quoted[++i];
    if (c != 'u') {
      static constexpr std::string_view from = "bfnrt", to = "\b\f\n\r\t";
      const auto k = from.find(c);
      out += k == std::string_view::npos ? c : to[k];
      continue;
    }
    unsigned code = hex4(i + 1);
    i += 4;
    if (code >= 0xD800 && code <= 0xDBFF) {  // a valid string pairs it with a low surrogate
      code = 0x10000 + ((code - 0xD800) << 10) + (hex4(i + 3) - 0xDC00);
      i += 6;
    }
    if (code < 0x80) {
      out += static_cast<char>(code);
    } else if (code < 0x800) {
      out += static_cast<char>(0xC0 | (code >> 6));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += static_cast<char>(0xE0 | (code >> 12));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (code >> 18));
      out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (code & 0x3F));
    }
  }
}

/// A value found in a frame, as its JSON text there; empty text when there is none.
struct JsonSpan {
  std::string_view text;
  bool escaped = false;  ///< a string with backslash escapes

  bool found() const noexcept { return !text.empty(); }
  bool is_string() const noexcept { return found() && text[0] == '"'; }

  /// A string's value: the text between the quotes when it has no escapes.
  std::string string_value() const {
    if (!escaped) return std::string(text.substr(1, text.size() - 2));
    std::string out;
    append_unescaped(out, text);
    return out;
  }

  /// JSON value equality, as nlohmann::json's operator== (1 == 1.0, key order ignored).
  bool equals(const nlohmann::json& value) const {
    if (!found()) return false;
    if (value.is_string()) {
      const auto& wanted = value.get_ref<const std::string&>();
      if (!is_string()) return false;
      return escaped ? string_value() == wanted : text.substr(1, text.size() - 2) == wanted;
    }
    if (value.is_boolean()) return text == (value.get<bool>() ? "true" : "false");
    if (value.is_null()) return text == "null";
    // A number or a structure: parsed alone (small, and rare in a stream).
    return nlohmann::json::parse(text, nullptr, false) == value;
  }

  /// The value as nlohmann::json::dump() writes it (the correlation id's key).
  std::string dump() const {
    if (!found()) return {};
    const char first = text[0];
    const bool plain_string = first == '"' && !escaped;
    const bool literal = first == 't' || first == 'f' || first == 'n';
    const bool small_integer = (first == '-' || (first >= '0' && first <= '9')) &&
                               text.size() <= 18 &&
                               text.find_first_of(".eE") == std::string_view::npos;
    if (small_integer && text == "-0") return "0";
    if (plain_string || literal || small_integer) return std::string(text);
    const auto parsed = nlohmann::json::parse(text, nullptr, false);
    return parsed.is_discarded() ? std::string(text) : parsed.dump();
  }
};

/// Scans frames for the values at a set of JSON pointers. One per connection: it keeps its
/// buffers between frames.
class JsonScanner {
 public:
  /// Whether `frame` is a JSON object or array that nlohmann::json::parse accepts (the
  /// frame parse_frame takes for JSON); when it is, `found[i]` is the value at `paths[i]`.
  bool scan(std::string_view frame, std::span<const JsonPath> paths, std::span<JsonSpan> found);

 private:
  static constexpr std::size_t npos = JsonPath::npos;
  static bool blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  std::size_t skip_blank(std::size_t at) const noexcept {
    while (at < text_.size() && blank(text_[at])) ++at;
    return at;
  }
  std::size_t scan_string(std::size_t at, bool& escaped) const noexcept;
  std::size_t scan_number(std::size_t at) const noexcept;
  /// A new member (key, a quoted JSON string) or element (key empty) of the innermost container.
  void enter(std::string_view key, bool key_escaped);
  /// Reads `"key":` at `at` and enters that member, `at` then at its value; false when
  /// there is no member there.
  bool enter_member(std::size_t& at);
  /// The value starting at `at` ends before `end` (npos: a container, ended by its close).
  void value(std::size_t at, std::size_t end, bool escaped);
  void close(std::size_t end);

  std::string_view text_;
  std::span<const JsonPath> paths_;
  std::span<JsonSpan> found_;
  std::string open_;                 ///< '{' or '[' per open container
  std::vector<std::size_t> counts_;  ///< elements so far of each open array, to the deepest path
  std::vector<std::size_t> on_;      ///< per path: how many of its tokens the current place matches
  std::vector<std::size_t> start_;   ///< per path: where its container value starts (npos: none)
  std::string key_;                  ///< an escaped key, unescaped
};

inline std::size_t JsonScanner::scan_string(std::size_t at, bool& escaped) const noexcept {
  const auto n = text_.size();
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text_[i]); };
  const auto in = [&](std::size_t i, unsigned lo, unsigned hi) {
    return i < n && byte(i) >= lo && byte(i) <= hi;
  };
  const auto hex4 = [&](std::size_t i, unsigned& value) {
    if (i + 4 > n) return false;
    const auto [end, ec] = std::from_chars(text_.data() + i, text_.data() + i + 4, value, 16);
    return ec == std::errc() && end == text_.data() + i + 4;
  };
  for (++at;;) {
    while (at < n && byte(at) >= 0x20 && byte(at) < 0x80 && text_[at] != '"' && text_[at] != '\\') {
      ++at;
    }
    if (at >= n || byte(at) < 0x20) return npos;
    const unsigned c = byte(at);
    if (c == '"') return at + 1;
    if (c == '\\') {
      escaped = true;
      if (at + 1 >= n) return npos;
      const char e = text_[at + 1];
      if (e != 'u') {
        if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) return npos;
        at += 2;
        continue;
      }
      unsigned code = 0;
      if (!hex4(at + 2, code) || (code >= 0xDC00 && code <= 0xDFFF)) return npos;
      at += 6;
      if (code >= 0xD800 && code <= 0xDBFF) {
        unsigned low = 0;
        if (at + 1 >= n || text_[at] != '\\' || text_[at + 1] != 'u' || !hex4(at + 2, low) ||
            low < 0xDC00 || low > 0xDFFF) {
          return npos;
        }
        at += 6;
      }
      continue;
    }
    // UTF-8, well-formed as Unicode's table 3-7 (and nlohmann's lexer) has it.
    std::size_t more = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      more = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      more = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      more = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return npos;
    }
    if (!in(at + 1, lo, hi)) return npos;
    for (std::size_t k = 2; k <= more; ++k) {
      if (!in(at + k, 0x80, 0xBF)) return npos;
    }
    at += more + 1;
  }
}

inline std::size_t JsonScanner::scan_number(std::size_t at) const noexcept {
  const auto n = text_.size();
  const auto digit = [&](std::size_t i) { return i < n && text_[i] >= '0' && text_[i] <= '9'; };
  const auto begin = at;
  if (text_[at] == '-') ++at;
  if (!digit(at)) return npos;
  if (text_[at] == '0') {
    ++at;
  } else {
    while (digit(at)) ++at;
  }
  if (at < n && text_[at] == '.') {
    if (!digit(++at)) return npos;
    while (digit(at)) ++at;
  }
  bool exponent = false;
  if (at < n && (text_[at] == 'e' || text_[at] == 'E')) {
    exponent = true;
    if (++at < n && (text_[at] == '+' || text_[at] == '-')) ++at;
    if (!digit(at)) return npos;
    while (digit(at)) ++at;
  }
  if (exponent || at - begin > 300) {
    // nlohmann refuses a number beyond a double's range (but takes one that underflows).
    double value = 0;
    const auto [end, ec] = std::from_chars(text_.data() + begin, text_.data() + at, value);
    if (ec == std::errc::result_out_of_range) {
      const auto number = text_.substr(begin, at - begin);
      const auto mantissa = number.substr(0, number.find_first_of("eE"));
      const auto first = mantissa.find_first_of("123456789");
      const auto point = std::min(mantissa.find('.'), mantissa.size());
      // Where the first significant digit stands, as a power of ten, before the exponent.
      long long magnitude = static_cast<long long>(point) - static_cast<long long>(first);
      if (first > point) ++magnitude;
      const auto e = number.find_first_of("eE");
      if (e != std::string_view::npos) {
        const auto sign = number[e + 1] == '-' ? -1 : 1;
        long long power = 0;
        for (char d : number.substr(e + 1)) {
          if (d >= '0' && d <= '9') power = std::min(power * 10 + (d - '0'), 1LL << 40);
        }
        magnitude += sign * power;
      }
      if (magnitude > 0) return npos;
    }
  }
  return at;
}

inline void JsonScanner::enter(std::string_view key, bool key_escaped) {
  const std::size_t depth = open_.size() - 1;  // the tokens above the new member
  const bool element = open_.back() == '[';
  const std::size_t index = element && depth < counts_.size() ? counts_[depth]++ : 0;
  bool unescaped = false;
  for (std::size_t p = 0; p < paths_.size(); ++p) {
    auto& on = on_[p];
    if (on > depth) on = depth;
    if (on != depth || depth >= paths_[p].size()) continue;
    bool match;
    if (element) {
      match = paths_[p].index(depth) == index;
    } else if (!key_escaped) {
      match = key.substr(1, key.size() - 2) == paths_[p].token(depth);
    } else {
      if (!unescaped) {
        key_.clear();
        append_unescaped(key_, key);
        unescaped = true;
      }
      match = key_ == paths_[p].token(depth);
    }
    if (!match) continue;
    on = depth + 1;
    found_[p] = {};  // a repeated key: its last value is the one (as nlohmann keeps it)
    start_[p] = npos;
  }
}

inline void JsonScanner::value(std::size_t at, std::size_t end, bool escaped) {
  for (std::size_t p = 0; p < paths_.size(); ++p) {
    if (on_[p] != open_.size() || paths_[p].size() != open_.size()) continue;
    if (end == npos) {
      start_[p] = at;
    } else {
      found_[p] = {text_.substr(at, end - at), escaped};
    }
  }
}

inline void JsonScanner::close(std::size_t end) {
  open_.pop_back();
  for (std::size_t p = 0; p < paths_.size(); ++p) {
    if (start_[p] != npos && on_[p] == open_.size() && paths_[p].size() == open_.size()) {
      found_[p] = {text_.substr(start_[p], end - start_[p]), false};
      start_[p] = npos;
    }
  }
}

inline bool JsonScanner::enter_member(std::size_t& at) {
  if (at >= text_.size() || text_[at] != '"') return false;
  bool escaped = false;
  const auto key_end = scan_string(at, escaped);
  if (key_end == npos) return false;
  const auto colon = skip_blank(key_end);
  if (colon >= text_.size() || text_[colon] != ':') return false;
  enter(text_.substr(at, key_end - at), escaped);
  at = skip_blank(colon + 1);
  return true;
}

inline bool JsonScanner::scan(std::string_view frame, std::span<const JsonPath> paths,
                              std::span<JsonSpan> found) {
  text_ = frame;
  paths_ = paths;
  found_ = found;
  std::size_t deepest = 0;
  for (const auto& path : paths) deepest = std::max(deepest, path.size());
  counts_.assign(deepest, 0);
  on_.assign(paths.size(), 0);
  start_.assign(paths.size(), npos);
  for (auto& f : found) f = {};
  open_.clear();
  const auto n = frame.size();
  auto at = skip_blank(0);
  if (at >= n || (frame[at] != '{' && frame[at] != '[')) return false;
  bool ok = false;
  for (;;) {  // at: the start of a value
    if (at >= n) break;
    const char c = frame[at];
    const auto begin = at;
    if (c == '{' || c == '[') {
      value(begin, npos, false);
      open_ += c;
      if (open_.size() <= deepest) counts_[open_.size() - 1] = 0;
      at = skip_blank(at + 1);
      if (at < n && frame[at] == (c == '{' ? '}' : ']')) {
        close(++at);
      } else if (c == '[') {
        enter({}, false);
        continue;
      } else {
        if (!enter_member(at)) break;
        continue;
      }
    } else {
      bool escaped = false;
      if (c == '"') {
        at = scan_string(at, escaped);
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        at = scan_number(at);
      } else {
        std::string_view word = c == 't' ? "true" : c == 'f' ? "false" : "null";
        at = frame.substr(at, word.size()) == word ? at + word.size() : npos;
      }
      if (at == npos) break;
      value(begin, at, escaped);
    }
    // After a value: the next member or element, or the close of containers.
    bool next = false;
    while (!open_.empty()) {
      at = skip_blank(at);
      if (at >= n) break;
      const char open = open_.back();
      if (frame[at] == (open == '{' ? '}' : ']')) {
        close(++at);
        continue;
      }
      if (frame[at] != ',') break;
      at = skip_blank(at + 1);
      if (open == '[') {
        enter({}, false);
        next = true;
        break;
      }
      next = enter_member(at);
      break;
    }
    if (next) continue;
    if (open_.empty()) {
      at = skip_blank(at);
      ok = at == n || frame[at] == '\0';  // nlohmann reads a NUL as the end of input
    }
    break;
  }
  if (open_.capacity() > 4096) std::string().swap(open_);  // a deep frame's stack goes
  if (!ok) {
    for (auto& f : found) f = {};
  }
  return ok;
}

/// One frame's values at the JSON pointers a run's rules read (the completion rule, the
/// error rules and their "message", the correlation id), found by one scan. One per
/// connection; `paths` outlives it.
class FrameScan {
 public:
  explicit FrameScan(std::span<const JsonPath> paths) : paths_(paths), found_(paths.size()) {
    for (const auto& path : paths) {
      // The longest key of the path that cannot be an array index: a frame without its
      // bytes (and without escapes, which could spell it) cannot hold the path.
      std::string_view needle;
      for (std::size_t i = 0; i < path.size(); ++i) {
        const auto& token = path.token(i);
        if (path.index(i) == JsonPath::npos && token.size() > needle.size()) needle = token;
      }
      needles_.push_back(needle);
    }
  }

  /// Scans `frame`: whether it is JSON (an object or an array nlohmann would parse). Also
  /// false, without a scan, when no path can be in it: then every rule's answer is the
  /// same as for a frame that is not JSON.
  bool scan(std::string_view frame) {
    json_ = false;
    for (auto& f : found_) f = {};
    if (!could_hold_a_path(frame)) return false;
    json_ = scanner_.scan(frame, paths_, found_);
    return json_;
  }

  bool is_json() const noexcept { return json_; }

  /// The value at `path` in the frame scanned last; empty when absent or not asked for.
  const JsonSpan& at(const JsonPath& path) const noexcept {
    static const JsonSpan none;
    for (std::size_t i = 0; i < paths_.size(); ++i) {
      if (paths_[i] == path) return found_[i];
    }
    return none;
  }

 private:
  bool could_hold_a_path(std::string_view frame) const noexcept {
    if (needles_.empty()) return false;  // no path asked for: nothing to find
    if (frame.find('\\') != std::string_view::npos) return true;
    for (const auto needle : needles_) {
      if (needle.empty() || frame.find(needle) != std::string_view::npos) return true;
    }
    return false;
  }

  std::span<const JsonPath> paths_;
  std::vector<std::string_view> needles_;
  std::vector<JsonSpan> found_;
  JsonScanner scanner_;
  bool json_ = false;
};

}  // namespace wsload::detail
