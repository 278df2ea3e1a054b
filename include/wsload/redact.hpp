// Redaction: the one policy deciding which header and query values are secrets.
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>

namespace wsload {

/// What every secret is replaced with wherever it could be printed or saved.
inline constexpr std::string_view redacted_text = "<redacted>";

/// True when a header or query parameter of this name carries a secret: Authorization,
/// Cookie, x-api-key, X-Amz-Signature, X-Amz-Security-Token, access_token, ...
/// Matching is by case-insensitive substring, so it errs towards redacting.
inline bool is_secret_name(std::string_view name) {
  static constexpr std::array<std::string_view, 11> markers = {
      "auth", "cookie",   "token", "key",        "secret", "signature",
      "sig",  "password", "passwd", "credential", "session"};
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::any_of(markers.begin(), markers.end(), [&](std::string_view marker) {
    return lower.find(marker) != std::string::npos;
  });
}

/// The query string (without '?') with the value of every secret parameter replaced.
/// "X-Amz-Signature=abc&stage=dev" becomes "X-Amz-Signature=<redacted>&stage=dev".
inline std::string redact_query(std::string_view query) {
  std::string out;
  out.reserve(query.size());
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    const auto name = pair.substr(0, eq);
    if (!out.empty()) out += '&';
    if (eq != std::string_view::npos && is_secret_name(name)) {
      out.append(name).append("=").append(redacted_text);
    } else {
      out.append(pair);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace wsload
