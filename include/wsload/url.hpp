// WebSocket URLs (RFC 6455 section 3): ws:// and wss://, parsed once, without Beast.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <wsload/errors.hpp>
#include <wsload/redact.hpp>

namespace wsload {

/// A parsed ws:// or wss:// URL. The path and query are kept verbatim.
struct Url {
  bool secure = false;        ///< wss://
  std::string host;           ///< without brackets for IPv6 literals
  std::uint16_t port = 0;     ///< explicit, or 80 / 443 by scheme
  std::string path = "/";     ///< starts with '/'
  std::string query;          ///< without the '?'; empty when absent
  bool ipv6_literal = false;  ///< host was written as [..]

  std::string_view scheme() const noexcept { return secure ? "wss" : "ws"; }
  bool default_port() const noexcept { return port == (secure ? 443 : 80); }

  /// The request target of the upgrade request: path plus '?' and query.
  std::string target() const { return query.empty() ? path : path + "?" + query; }

  /// The Host header value: brackets around IPv6, the port only when not the default.
  std::string host_header() const {
    // Appending, not operator+ on temporaries: g++ 12 -O3 warns falsely (-Wrestrict) there.
    std::string h;
    h.reserve(host.size() + 8);
    if (ipv6_literal) h += '[';
    h += host;
    if (ipv6_literal) h += ']';
    if (!default_port()) h.append(":").append(std::to_string(port));
    return h;
  }

  /// The full URL, secrets included: for connecting, never for printing.
  std::string to_string() const {
    std::string text(scheme());
    text.append("://").append(host_header()).append(target());
    return text;
  }

  /// The full URL with its secrets replaced (see redact): safe for summaries and logs.
  std::string redacted() const { return redact(to_string()); }
};

namespace detail {

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
inline std::string percent_encode(std::string_view text) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 0xf];
    }
  }
  return out;
}

}  // namespace detail

/// Parses a ws:// or wss:// URL.
/// Throws ConfigError (field `field`) for another scheme, a missing host, a bad port,
/// user information (credentials do not belong in a URL that gets logged), a fragment
/// (RFC 6455 forbids them), or spaces and control characters. The value is shown
/// redacted, so a presigned URL's signature never reaches an error message.
inline Url parse_url(std::string_view text, const std::string& field = "url") {
  auto fail = [&](const std::string& reason) -> Url {
    // user:password@ is refused, but not echoed either (ConfigError redacts).
    throw ConfigError(field, text, reason);
  };
  if (text.empty()) return fail("is empty; expected ws://host[:port]/path or wss://...");
  for (unsigned char c : text) {
    if (c <= 0x20 || c == 0x7f) return fail("contains a space or control character");
  }
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) return fail("expected ws://host[:port]/path or wss://...");
  Url url;
  const auto scheme = text.substr(0, sep);
  if (detail::iequals(scheme, "wss")) {
    url.secure = true;
  } else if (!detail::iequals(scheme, "ws")) {
    return fail("scheme must be ws or wss");
  }
  auto rest = text.substr(sep + 3);
  if (rest.find('#') != std::string_view::npos) {
    return fail("WebSocket URLs cannot have a fragment (RFC 6455 section 3)");
  }
  const auto authority_end = rest.find_first_of("/?");
  auto authority = rest.substr(0, authority_end);
  rest.remove_prefix(authority_end == std::string_view::npos ? rest.size() : authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return fail("user information (user:password@) is not supported; use a header");
  }

  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("IPv6 address lacks its closing ']'");
    url.host = std::string(authority.substr(1, close - 1));
    url.ipv6_literal = true;
    if (url.host.empty() ||
        url.host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string::npos) {
      return fail("invalid IPv6 address");
    }
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected text after the IPv6 address");
      port_text = after.substr(1);
      if (port_text.empty()) return fail("port is empty");
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return fail("port is empty");
    }
    if (url.host.find(':') != std::string::npos) {
      return fail("IPv6 addresses must be written in brackets, e.g. ws://[::1]:8080/");
    }
  }
  if (url.host.empty()) return fail("host is missing");

  if (port_text.empty()) {
    url.port = url.secure ? 443 : 80;
  } else {
    unsigned long port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9' || port > 65535) return fail("port must be a number from 1 to 65535");
      port = port * 10 + static_cast<unsigned long>(c - '0');
    }
    if (port == 0 || port > 65535) return fail("port must be a number from 1 to 65535");
    url.port = static_cast<std::uint16_t>(port);
  }

  const auto qmark = rest.find('?');
  url.path = std::string(rest.substr(0, qmark));
  if (url.path.empty()) url.path.push_back('/');  // not = "/": g++ 12 -O3 warns falsely there
  if (qmark != std::string_view::npos) url.query = std::string(rest.substr(qmark + 1));
  return url;
}

}  // namespace wsload
