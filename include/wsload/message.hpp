// What goes on the wire for a prompt, and when its reply is complete.
//
// - MessageTemplate wraps a prompt into a body such as
//   {"action":"sendmessage","prompt":{{prompt}}} for APIs that route on a JSON field.
// - FrameRule matches one reply frame: a JSON pointer equal to a value, a JSON pointer
//   present, or a regular expression on the text.
// - Completion says when a request is done: the first frame, N frames, or the frame that
//   matches a rule (streamed LLM replies end with a marker frame).
// - ErrorRules say which frames are errors (API Gateway answers failures with frames such
//   as {"message": "Internal server error", ...}).
// Core layer: nlohmann/json and the standard library only.
#pragma once

#include <array>
#include <cctype>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/detail/ecmascript_re2.hpp>
#include <wsload/detail/json_scan.hpp>
#include <wsload/errors.hpp>

namespace wsload {

/// A scripted session's variables by name (captured from frames, see session.hpp).
using Variables = std::map<std::string, nlohmann::json, std::less<>>;

/// The values a template's placeholders take for one request.
struct MessageValues {
  std::string_view prompt;
  std::uint64_t connection = 0;  ///< the connection's index in the run, from 0
  std::uint64_t sequence = 0;    ///< the request's index on its connection, from 0
  std::string_view uuid;         ///< a random UUID (version 4) per request
  /// A session's variables, for a template parsed with them allowed: {{name}} takes the
  /// value named. Throws ConfigError when one is missing.
  const Variables* variables = nullptr;
};

/// A body with placeholders: {{prompt}}, {{connection}}, {{sequence}}, {{uuid}}.
///
/// A template whose first non-blank character is '{' or '[' is JSON: a placeholder
/// outside a string becomes a JSON value ({{prompt}} and {{uuid}} a quoted, escaped string;
/// {{connection}} and {{sequence}} a number), one inside a string becomes its escaped text.
/// Any other template is text, and placeholders become their raw values.
/// An empty template sends the prompt as it is. A session's templates may also name its
/// variables ({{id}}): a JSON value outside a string, its text (a string's unquoted) inside
/// one or in a text template.
class MessageTemplate {
 public:
  MessageTemplate() = default;

  /// Compiles and validates `text` (a JSON template must be valid JSON once filled).
  /// Throws ConfigError (field `field`) naming the problem.
  /// With `variables` allowed, any other {{name}} is a session variable's.
  static MessageTemplate parse(std::string_view text, const std::string& field = "template",
                               bool variables = false);

  bool empty() const noexcept { return parts_.empty(); }
  bool is_json() const noexcept { return json_; }
  bool uses_uuid() const noexcept { return uses_uuid_; }
  /// The session variables it names, in order of appearance.
  std::vector<std::string> variable_names() const {
    std::vector<std::string> names;
    for (const auto& part : parts_) {
      if (part.slot == Slot::variable) names.push_back(part.text);
    }
    return names;
  }
  const std::string& text() const noexcept { return text_; }

  /// Appends the filled template to `out`.
  void render(std::string& out, const MessageValues& values) const;
  std::string render(const MessageValues& values) const {
    std::string out;
    render(out, values);
    return out;
  }

  /// The largest body this template makes from `prompt`: counters at their widest.
  std::size_t max_size(std::string_view prompt) const;

 private:
  enum class Slot : std::uint8_t { text, prompt, connection, sequence, uuid, variable };
  struct Part {
    Slot slot = Slot::text;
    bool in_string = false;  ///< inside a JSON string literal
    std::string text;
  };

  void render_variable(std::string& out, const Part& part, const MessageValues& values) const;

  std::string text_;
  std::vector<Part> parts_;
  bool json_ = false;
  bool uses_uuid_ = false;
};

namespace detail {

/// `text` as the body of a JSON string (no quotes), UTF-8 kept.
inline void append_json_escaped(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += hex[(c >> 4) & 0xf];
          out += hex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
}

/// A random version 4 UUID, lower-case hex.
template <class Engine>
std::string make_uuid(Engine& random) {
  std::array<unsigned char, 16> bytes{};
  for (std::size_t i = 0; i < bytes.size(); i += 8) {
    const std::uint64_t r = random();
    for (std::size_t k = 0; k < 8; ++k) bytes[i + k] = static_cast<unsigned char>(r >> (8 * k));
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);  // version 4
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[bytes[i] >> 4];
    out += hex[bytes[i] & 0xf];
  }
  return out;
}

inline std::string shorten(std::string_view text, std::size_t at_most = 80) {
  return text.size() <= at_most ? std::string(text) : std::string(text.substr(0, at_most)) + "...";
}

}  // namespace detail

inline MessageTemplate MessageTemplate::parse(std::string_view text, const std::string& field,
                                              bool variables) {
  MessageTemplate t;
  t.text_ = std::string(text);
  if (text.empty()) return t;
  const auto first = text.find_first_not_of(" \t\r\n");
  t.json_ = first != std::string_view::npos && (text[first] == '{' || text[first] == '[');
  bool in_string = false;
  bool escaped = false;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) t.parts_.push_back({Slot::text, false, std::move(literal)});
    literal.clear();
  };
  for (std::size_t i = 0; i < text.size();) {
    if (text.compare(i, 2, "{{") == 0) {
      const auto close = text.find("}}", i + 2);
      if (close == std::string_view::npos) {
        throw ConfigError(field, detail::shorten(text), "has '{{' without a closing '}}'");
      }
      std::string name(text.substr(i + 2, close - i - 2));
      name.erase(0, name.find_first_not_of(' '));
      name.erase(name.find_last_not_of(' ') + 1);
      Slot slot = Slot::variable;
      if (name == "prompt") {
        slot = Slot::prompt;
      } else if (name == "connection") {
        slot = Slot::connection;
      } else if (name == "sequence") {
        slot = Slot::sequence;
      } else if (name == "uuid") {
        slot = Slot::uuid;
        t.uses_uuid_ = true;
      } else if (!variables || name.empty()) {
        throw ConfigError(field, detail::shorten(text),
                          "unknown placeholder {{" + name +
                              "}}; use {{prompt}}, {{connection}}, {{sequence}} or {{uuid}}");
      }
      flush();
      t.parts_.push_back({slot, t.json_ && in_string, slot == Slot::variable ? name : ""});
      i = close + 2;
      continue;
    }
    const char c = text[i];
    if (t.json_) {
      if (escaped) {
        escaped = false;
      } else if (in_string && c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = !in_string;
      }
    }
    literal += c;
    ++i;
  }
  flush();
  if (t.json_) {
    // Awkward samples on purpose: quotes, a newline, non-ASCII text.
    Variables samples;
    for (const auto& name : t.variable_names()) samples[name] = "sample";
    const std::string sample = t.render({"sample \"prompt\"\n\xC3\xA9\xE2\x82\xAC", 7, 42,
                                         "00000000-0000-4000-8000-000000000000", &samples});
    try {
      const auto parsed = nlohmann::json::parse(sample);
      (void)parsed;
    } catch (const nlohmann::json::exception& e) {
      std::string why = e.what();
      if (const auto at = why.find("]: "); at != std::string::npos) why.erase(0, at + 3);
      throw ConfigError(field, detail::shorten(text),
                        "starts like JSON but is not valid JSON once its placeholders are filled "
                        "(" +
                            why + "); write {{prompt}} without quotes around it");
    }
  }
  return t;
}

inline void MessageTemplate::render(std::string& out, const MessageValues& values) const {
  if (parts_.empty()) {
    out.append(values.prompt);
    return;
  }
  for (const auto& part : parts_) {
    switch (part.slot) {
      case Slot::text:
        out += part.text;
        break;
      case Slot::prompt:
      case Slot::uuid: {
        const auto value = part.slot == Slot::prompt ? values.prompt : values.uuid;
        if (!json_) {
          out.append(value);
        } else if (part.in_string) {
          detail::append_json_escaped(out, value);
        } else {
          out += '"';
          detail::append_json_escaped(out, value);
          out += '"';
        }
        break;
      }
      case Slot::connection:
        out += std::to_string(values.connection);
        break;
      case Slot::sequence:
        out += std::to_string(values.sequence);
        break;
      case Slot::variable:
        render_variable(out, part, values);
        break;
    }
  }
}

inline void MessageTemplate::render_variable(std::string& out, const Part& part,
                                             const MessageValues& values) const {
  const auto it =
      values.variables ? values.variables->find(part.text) : Variables::const_iterator();
  if (!values.variables || it == values.variables->end()) {
    throw ConfigError("template", "{{" + part.text + "}}",
                      "names a variable the session has not captured");
  }
  const auto& value = it->second;
  if (json_ && !part.in_string) {
    out += value.dump();
  } else if (value.is_string()) {
    const auto& text = value.get_ref<const std::string&>();
    if (json_) {
      detail::append_json_escaped(out, text);
    } else {
      out += text;
    }
  } else if (json_) {
    detail::append_json_escaped(out, value.dump());
  } else {
    out += value.dump();
  }
}

inline std::size_t MessageTemplate::max_size(std::string_view prompt) const {
  if (parts_.empty()) return prompt.size();
  std::size_t n = 0;
  for (const auto& part : parts_) {
    switch (part.slot) {
      case Slot::text:
        n += part.text.size();
        break;
      case Slot::prompt: {
        std::string escaped;
        if (json_) {
          detail::append_json_escaped(escaped, prompt);
        }
        n += (json_ ? escaped.size() : prompt.size()) + 2;
        break;
      }
      case Slot::uuid:
        n += 36 + 2;
        break;
      case Slot::connection:
      case Slot::sequence:
        n += 20;
        break;
      case Slot::variable:
        break;  // a session's: not known before it runs
    }
  }
  return n;
}

/// A test on one reply frame. Written as:
///   /type=="end"    the JSON value at the pointer equals the JSON value (bare words are
///                   strings: /type==end)
///   /done           the pointer exists in the frame's JSON
///   regex:PATTERN   the frame's text contains a match (ECMAScript syntax, searched by
///                   RE2 in linear time: no backreferences or lookaround; see
///                   detail/ecmascript_re2.hpp)
class FrameRule {
 public:
  enum class Kind { json_equals, json_present, regex };

  /// Throws ConfigError (field `field`) for a malformed rule.
  static FrameRule parse(std::string_view text, const std::string& field);

  /// What an empty JSON pointer makes: any JSON frame matches (rules come from parse()).
  FrameRule() : parts_(none()) {}
  FrameRule(const FrameRule&) = default;
  FrameRule& operator=(const FrameRule&) = default;
  // Moves copy: a rule moved from is still the rule it was (its parts never change).
  FrameRule(FrameRule&& other) noexcept : parts_(other.parts_) {}
  FrameRule& operator=(FrameRule&& other) noexcept {
    parts_ = other.parts_;
    return *this;
  }

  /// `parsed` is the frame as JSON when it is JSON (null pointer otherwise).
  bool matches(std::string_view frame, const nlohmann::json* parsed) const {
    const Parts& r = *parts_;
    if (r.kind == Kind::regex) return r.regex.search(frame);
    if (!parsed || !parsed->contains(r.pointer)) return false;
    return r.kind == Kind::json_present || parsed->at(r.pointer) == r.value;
  }
  /// The same from a scan of the frame that asked for path().
  bool matches(std::string_view frame, const detail::FrameScan& scanned) const {
    const Parts& r = *parts_;
    if (r.kind == Kind::regex) return matches(frame, nullptr);
    const auto& at = scanned.at(r.path);
    return at.found() && (r.kind == Kind::json_present || at.equals(r.value));
  }
  /// The pointer a JSON rule reads.
  const detail::JsonPath& path() const noexcept { return parts_->path; }
  bool needs_json() const noexcept { return parts_->kind != Kind::regex; }
  Kind kind() const noexcept { return parts_->kind; }
  const std::string& text() const noexcept { return parts_->text; }

 private:
  // Shared, never changed once parsed: a session passes its rules by value at every step,
  // and a copy of the parts was four allocations.
  struct Parts {
    Kind kind = Kind::json_present;
    std::string text;
    nlohmann::json::json_pointer pointer;
    detail::JsonPath path;
    nlohmann::json value;
    detail::Regex regex;
  };
  static const std::shared_ptr<const Parts>& none() {
    static const auto parts = std::make_shared<const Parts>();
    return parts;
  }
  explicit FrameRule(std::shared_ptr<const Parts> parts) : parts_(std::move(parts)) {}
  static FrameRule parsed(Parts parts) {
    return FrameRule(std::make_shared<const Parts>(std::move(parts)));
  }

  std::shared_ptr<const Parts> parts_;
};

inline FrameRule FrameRule::parse(std::string_view text, const std::string& field) {
  Parts r;
  r.text = std::string(text);
  if (text.starts_with("regex:")) {
    r.kind = Kind::regex;
    try {
      r.regex = detail::Regex::compile(text.substr(6));
    } catch (const std::invalid_argument& e) {
      throw ConfigError(field, r.text,
                        std::string("is not a valid regular expression: ") + e.what());
    }
    return parsed(std::move(r));
  }
  if (!text.starts_with("/")) {
    throw ConfigError(field, r.text,
                      "expected a JSON pointer (/type==\"end\", /done) or regex:PATTERN");
  }
  const auto eq = text.find("==");
  const std::string pointer(text.substr(0, eq));
  try {
    r.pointer = nlohmann::json::json_pointer(pointer);
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(field, r.text, "has an invalid JSON pointer '" + pointer + "'");
  }
  r.path = detail::JsonPath(r.pointer);
  if (eq == std::string_view::npos) {
    r.kind = Kind::json_present;
    return parsed(std::move(r));
  }
  r.kind = Kind::json_equals;
  const std::string value(text.substr(eq + 2));
  if (value.empty()) throw ConfigError(field, r.text, "has no value after '=='");
  // A bare word is a string. One that starts with a letter is told apart without a parse:
  // a failed parse builds its error text even when it throws nothing, and sessions make
  // their rules in their loops.
  const bool letter = std::isalpha(static_cast<unsigned char>(value[0])) != 0;
  const bool literal =
      value.starts_with("true") || value.starts_with("false") || value.starts_with("null");
  if (letter && !literal) {
    r.value = value;
    return parsed(std::move(r));
  }
  r.value = nlohmann::json::parse(value, nullptr, false);
  if (r.value.is_discarded()) r.value = value;
  return parsed(std::move(r));
}

/// When a request's reply is complete.
struct Completion {
  enum class Kind { first_frame, frames, until };
  Kind kind = Kind::first_frame;
  std::size_t frames = 1;  ///< for Kind::frames
  std::optional<FrameRule> until;

  /// "first" (the default), "frames=N", or a FrameRule: the frame that matches it ends
  /// the reply (or, as the first-token rule, is its first token). Throws ConfigError
  /// (field `field`).
  static Completion parse(std::string_view text, const std::string& field = "completion") {
    Completion c;
    if (text.empty() || text == "first") return c;
    if (text.starts_with("frames=")) {
      const std::string n(text.substr(7));
      char* end = nullptr;
      const unsigned long long value = std::strtoull(n.c_str(), &end, 10);
      if (n.empty() || *end != '\0' || value < 1 || value > 1'000'000 || n[0] == '-') {
        throw ConfigError(field, std::string(text), "frames=N needs N from 1 to 1000000");
      }
      c.kind = Kind::frames;
      c.frames = static_cast<std::size_t>(value);
      return c;
    }
    c.kind = Kind::until;
    c.until = FrameRule::parse(text, field);
    return c;
  }
};

/// API Gateway's own error messages (its "message" field), each failing a request.
inline constexpr std::string_view api_gateway_error_messages[] = {
    "Forbidden",
    "Internal server error",
    "Endpoint request timed out",
    "Unauthorized",
    "Too Many Requests",
    "Limit Exceeded",
    "Missing Authentication Token",
    "Execution failed due to configuration error",
    "Request too long",
    "Bad Request"};

/// The message of an integration timeout (API Gateway's 29 s limit), its own error kind.
inline constexpr std::string_view integration_timeout_message = "Endpoint request timed out";

/// Which frames are errors. Each rule is "api-gateway" (a JSON object whose "message"
/// is one of api_gateway_error_messages) or a FrameRule.
class ErrorRules {
 public:
  /// Throws ConfigError (field "error rule").
  static ErrorRules parse(const std::vector<std::string>& rules) {
    ErrorRules e;
    for (const auto& text : rules) {
      if (text == "api-gateway") {
        e.api_gateway_ = true;
      } else {
        e.rules_.push_back(FrameRule::parse(text, "error rule"));
      }
    }
    return e;
  }

  bool empty() const noexcept { return !api_gateway_ && rules_.empty(); }
  bool needs_json() const noexcept {
    if (api_gateway_) return true;
    for (const auto& r : rules_) {
      if (r.needs_json()) return true;
    }
    return false;
  }

  /// The pointers match() reads from a scan: "message" and each JSON rule's.
  void add_paths(std::vector<detail::JsonPath>& paths) const {
    if (empty()) return;
    paths.push_back(message_path());
    for (const auto& r : rules_) {
      if (r.needs_json()) paths.push_back(r.path());
    }
  }

  /// The error a frame carries, if any: its kind and detail (the "message" when there
  /// is one, else the rule).
  std::optional<std::pair<ErrorKind, std::string>> match(std::string_view frame,
                                                         const nlohmann::json* parsed) const {
    std::string message;
    if (parsed && parsed->is_object()) {
      const auto it = parsed->find("message");
      if (it != parsed->end() && it->is_string()) message = it->get<std::string>();
    }
    return first_match(std::move(message),
                       [&](const FrameRule& r) { return r.matches(frame, parsed); });
  }
  /// The same from a scan of the frame that asked for add_paths().
  std::optional<std::pair<ErrorKind, std::string>> match(std::string_view frame,
                                                         const detail::FrameScan& scanned) const {
    const auto& at = scanned.at(message_path());
    std::string message = at.is_string() ? at.string_value() : std::string();
    return first_match(std::move(message),
                       [&](const FrameRule& r) { return r.matches(frame, scanned); });
  }

 private:
  static const detail::JsonPath& message_path() {
    static const detail::JsonPath path(nlohmann::json::json_pointer("/message"));
    return path;
  }

  template <class RuleMatches>
  std::optional<std::pair<ErrorKind, std::string>> first_match(
      std::string message, const RuleMatches& rule_matches) const {
    auto result = [&](std::string detail) -> std::pair<ErrorKind, std::string> {
      if (message == integration_timeout_message) return {ErrorKind::integration_timeout, message};
      return {ErrorKind::error_reply, detail};
    };
    if (api_gateway_ && !message.empty()) {
      for (auto known : api_gateway_error_messages) {
        if (message == known) return result(message);
      }
    }
    for (const auto& rule : rules_) {
      if (rule_matches(rule)) {
        return result(message.empty() ? "matched " + rule.text() : detail::shorten(message));
      }
    }
    return std::nullopt;
  }

  bool api_gateway_ = false;
  std::vector<FrameRule> rules_;
};

namespace detail {

/// The frame as JSON when it looks like a JSON object or array and parses; else null.
inline bool parse_frame(std::string_view frame, nlohmann::json& out) {
  const auto first = frame.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || (frame[first] != '{' && frame[first] != '[')) {
    return false;
  }
  out = nlohmann::json::parse(frame.begin(), frame.end(), nullptr, false);
  return !out.is_discarded();
}

}  // namespace detail

}  // namespace wsload
