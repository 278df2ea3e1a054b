// Redaction: the one rule deciding what is a secret wherever text is printed or saved
// (console, summaries, reports, XML, error messages).
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace wsload {

/// What every secret is replaced with wherever it could be printed or saved.
inline constexpr std::string_view redacted_text = "<redacted>";

/// True when a header, query parameter or JSON field of this name carries a secret:
/// Authorization, Cookie, x-api-key, X-Amz-Signature, access_token, pwd, code, jwt, ...
/// Matching is by case-insensitive substring, so it errs towards redacting.
inline bool is_secret_name(std::string_view name) {
  static constexpr std::array<std::string_view, 13> markers = {
      "auth", "cookie",     "token",   "key",  "secret", "sig",   "pass",
      "pwd",  "credential", "session", "code", "jwt",    "bearer"};
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::any_of(markers.begin(), markers.end(), [&](std::string_view marker) {
    return lower.find(marker) != std::string::npos;
  });
}

namespace detail {

inline bool is_base64url_char(char c) noexcept {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

/// Characters of a bearer token (RFC 6750 b64token).
inline bool is_token68_char(char c) noexcept {
  return is_base64url_char(c) || c == '.' || c == '~' || c == '+' || c == '/' || c == '=';
}

/// Characters of a parameter name in name=value text.
inline bool is_parameter_name_char(char c) noexcept {
  return is_base64url_char(c) || c == '.' || c == '[' || c == ']' || c == '%';
}

inline bool starts_with_nocase(std::string_view text, std::string_view prefix) noexcept {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

/// The length of the JWT (RFC 7519: three base64url segments joined by dots, the header
/// a JSON object, so "eyJ...") that `text` starts with; 0 when it starts with none.
inline std::size_t jwt_length(std::string_view text) noexcept {
  if (!text.starts_with("eyJ")) return 0;
  std::size_t i = 0;
  for (int segment = 0; segment < 3; ++segment) {
    const std::size_t begin = i;
    while (i < text.size() && is_base64url_char(text[i])) ++i;
    if (segment < 2) {
      if (i == begin || i >= text.size() || text[i] != '.') return 0;
      ++i;
    }
  }
  return i;
}

/// Replaces text[from, to) with redacted_text; returns where the scan goes on.
inline std::size_t replace_with_redacted(std::string& text, std::size_t from, std::size_t to) {
  text.replace(from, to - from, redacted_text);
  return from + redacted_text.size();
}

/// JWTs anywhere, whatever names them.
inline void redact_jwts(std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i > 0 && is_base64url_char(text[i - 1])) continue;
    if (const auto n = jwt_length(std::string_view(text).substr(i)); n > 0) {
      i = replace_with_redacted(text, i, i + n) - 1;
    }
  }
}

/// The user information of URLs: scheme://user:password@host becomes scheme://<redacted>@host.
inline void redact_userinfo(std::string& text) {
  for (auto at = text.find("://"); at != std::string::npos; at = text.find("://", at + 1)) {
    const std::size_t from = at + 3;
    // Not stopping at '?' or '#': "user:pa#ss@" is a password whatever RFC 3986 says.
    const auto end = text.find_first_of("/@ \t\r\n\"'<>", from);
    if (end != std::string::npos && text[end] == '@' && end > from &&
        std::string_view(text).substr(from, end - from) != redacted_text) {
      replace_with_redacted(text, from, end);
    }
  }
}

/// Bearer tokens: "Bearer TOKEN" and the Kubernetes subprotocol
/// base64url.bearer.authorization.k8s.io.TOKEN.
inline void redact_bearer_tokens(std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i > 0 && is_base64url_char(text[i - 1])) continue;
    const std::string_view rest = std::string_view(text).substr(i);
    std::size_t skip = 0;
    if (starts_with_nocase(rest, "bearer.authorization.k8s.io.")) {
      skip = std::string_view("bearer.authorization.k8s.io.").size();
    } else if (starts_with_nocase(rest, "bearer ")) {
      skip = std::string_view("bearer ").size();
    } else {
      continue;
    }
    const std::size_t from = i + skip;
    std::size_t to = from;
    while (to < text.size() && is_token68_char(text[to])) ++to;
    if (to > from) i = replace_with_redacted(text, from, to) - 1;
  }
}

/// Whether `text` holds a run of 16 or more letters, digits and '_' mixing letters and
/// digits: a key or token, not a protocol name (graphql-transport-ws, v10.stomp).
inline bool looks_like_credential(std::string_view text) noexcept {
  std::size_t run = 0;
  bool letter = false;
  bool digit = false;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '_') {
      run = 0;
      letter = digit = false;
      continue;
    }
    ++run;
    letter = letter || std::isalpha(u);
    digit = digit || std::isdigit(u);
    if (run >= 16 && letter && digit) return true;
  }
  return false;
}

/// Where the quoted string opening at `open` closes (its escapes skipped); npos if never.
inline std::size_t closing_quote(std::string_view text, std::size_t open) noexcept {
  for (std::size_t i = open + 1; i < text.size(); i += text[i] == '\\' ? 2 : 1) {
    if (text[i] == text[open]) return i;
  }
  return std::string_view::npos;
}

/// Replaces the value starting at `from`, unless it is an object ({...}, or a
/// {{placeholder}}: its fields are judged by their own names); quotes stay. `stops`
/// ends a bare value. Returns where the scan goes on.
inline std::size_t redact_value(std::string& text, std::size_t from, std::string_view stops) {
  if (from >= text.size() || text[from] == '{') return from;
  std::size_t to = 0;
  if (text[from] == '"' || text[from] == '\'') {
    to = std::min(closing_quote(text, from), text.size());
    ++from;
  } else {
    to = std::min(text.find_first_of(stops, from), text.size());
  }
  if (to <= from || std::string_view(text).substr(from, to - from) == redacted_text) return to;
  return replace_with_redacted(text, from, to);
}

/// The value after a secret name in name=value text: query strings, cookies, form bodies.
inline void redact_parameters(std::string& text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '=' || (i + 1 < text.size() && text[i + 1] == '=')) continue;
    std::size_t name = i;
    while (name > 0 && is_parameter_name_char(text[name - 1])) --name;
    if (name < i && is_secret_name(std::string_view(text).substr(name, i - name))) {
      i = redact_value(text, i + 1, " \t\r\n&\"'<>");  // a query value runs to '&'
    }
  }
}

/// The value of a JSON field with a secret name: "token": "value".
inline void redact_json_fields(std::string& text) {
  for (std::size_t i = text.find('"'); i != std::string::npos; i = text.find('"', i + 1)) {
    const auto close = closing_quote(text, i);
    if (close == std::string::npos) return;
    const auto colon = text.find_first_not_of(" \t", close + 1);
    const auto name = std::string_view(text).substr(i + 1, close - i - 1);
    i = close;  // a string is skipped whole, so that its quotes are not taken for others
    if (colon == std::string::npos || text[colon] != ':' || !is_secret_name(name)) continue;
    const auto value = text.find_first_not_of(" \t", colon + 1);
    if (value == std::string::npos) return;
    // An object's fields are judged by their own names: scan on inside it.
    if (text[value] != '{') i = redact_value(text, value, " \t\r\n,}]");  // bare: to , } ]
  }
}

}  // namespace detail

/// `text` with every secret it shows replaced by redacted_text: JWTs anywhere; values
/// after a secret name (name=value, "name": "value"); bearer tokens ("Bearer TOKEN",
/// base64url.bearer.authorization.k8s.io.TOKEN); user information in URLs
/// (scheme://user:password@). For any text a user gave or a server sent that may be
/// printed or saved, URLs included: "wss://h/p?X-Amz-Signature=abc&stage=dev" becomes
/// "wss://h/p?X-Amz-Signature=<redacted>&stage=dev". Idempotent.
inline std::string redact(std::string_view text) {
  std::string out(text);
  detail::redact_userinfo(out);
  detail::redact_jwts(out);
  detail::redact_bearer_tokens(out);
  detail::redact_parameters(out);
  detail::redact_json_fields(out);
  return out;
}

/// A header's value as it may be shown: all of it for a secret name, else redact(value).
inline std::string redact_header(std::string_view name, std::string_view value) {
  return is_secret_name(name) ? std::string(redacted_text) : redact(value);
}

/// Subprotocols (Sec-WebSocket-Protocol) as they may be shown. Browsers cannot set headers
/// on a WebSocket, so tokens travel as subprotocols: ["access_token", TOKEN],
/// base64url.bearer.authorization.k8s.io.TOKEN, a bare key. Each is replaced whole when it
/// has a secret name, follows a bare one (its value), shows a secret to redact() (a JWT) or looks
/// like a key (16 or more letters and digits, mixing both); names such as graphql-ws stay.
inline std::vector<std::string> redact_subprotocols(const std::vector<std::string>& offered) {
  std::vector<std::string> shown;
  bool after_secret_name = false;
  for (const auto& p : offered) {
    const bool holds_secret = detail::looks_like_credential(p) || redact(p) != p;
    const bool secret_name = is_secret_name(p);
    shown.push_back(secret_name || holds_secret || after_secret_name ? std::string(redacted_text)
                                                                     : p);
    after_secret_name = secret_name && !holds_secret;  // a bare name: its value comes next
  }
  return shown;
}

}  // namespace wsload
