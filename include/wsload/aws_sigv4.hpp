// AWS Signature Version 4 for IAM-authorised API Gateway WebSocket APIs.
// Kept by hand: the AWS SDK for C++, the usual signer, has no Debian package.
//
// Such an API wants its connect request presigned: the signature travels in the query
// string (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
// X-Amz-SignedHeaders, X-Amz-Security-Token, X-Amz-Signature), service "execute-api".
// The canonical request, string to sign and signing key follow the published algorithm;
// the AWS SigV4 test suite checks them (test_suites/unit/sigv4_test.cpp).
// Depends on OpenSSL's libcrypto (SHA-256, HMAC) and nothing of Beast.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <wsload/errors.hpp>
#include <wsload/url.hpp>

namespace wsload::aws {

/// Credentials and region, usually from the standard environment variables.
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  ///< for temporary credentials; empty otherwise
  std::string region;
};

/// Reads AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional) and
/// AWS_REGION (or AWS_DEFAULT_REGION). Throws ConfigError naming the missing variable;
/// values are never echoed.
inline Credentials credentials_from_environment(
    const std::function<const char*(const char*)>& getenv = [](const char* n) {
      return std::getenv(n);
    }) {
  auto get = [&](const char* name) {
    const char* v = getenv(name);
    return v ? std::string(v) : std::string();
  };
  Credentials c{get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"), get("AWS_SESSION_TOKEN"),
                get("AWS_REGION")};
  if (c.region.empty()) c.region = get("AWS_DEFAULT_REGION");
  const std::string why = "is not set; SigV4 signing needs it";
  if (c.access_key_id.empty()) throw ConfigError("AWS_ACCESS_KEY_ID", "", why);
  if (c.secret_access_key.empty()) throw ConfigError("AWS_SECRET_ACCESS_KEY", "", why);
  if (c.region.empty()) throw ConfigError("AWS_REGION", "", why);
  return c;
}

/// An HTTP request as the signer sees it. `path` and `query` as written in the request
/// line (percent-encoded or not: both are canonicalised).
struct Request {
  std::string method = "GET";
  std::string path = "/";
  std::string query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

namespace detail {

inline std::string hex(const unsigned char* data, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0xf];
  }
  return out;
}

inline std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr);
  return hex(digest, n);
}

inline std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &n);
  return std::string(reinterpret_cast<const char*>(digest), n);
}

/// RFC 3986 percent-encoding, as SigV4 wants it: everything but unreserved characters.
inline std::string uri_encode(std::string_view text) {
  return wsload::detail::percent_encode(text);
}

inline std::string percent_decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && value(text[i + 1]) >= 0 &&
        value(text[i + 2]) >= 0) {
      out += static_cast<char>(value(text[i + 1]) * 16 + value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

/// The path with dot segments and empty segments removed, each segment encoded (a second
/// time if already encoded, as every service but S3 expects).
inline std::string canonical_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto slash = path.find('/', start);
    const auto segment =
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  std::string out;
  for (auto segment : segments) out.append("/").append(uri_encode(segment));
  const bool trailing_slash = !segments.empty() && path.size() > 1 && path.back() == '/';
  if (out.empty() || trailing_slash) out += '/';
  return out;
}

/// Parameters decoded, re-encoded strictly, sorted by name then value.
inline std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      params.emplace_back(uri_encode(percent_decode(pair.substr(0, eq))),
                          eq == std::string_view::npos
                              ? std::string()
                              : uri_encode(percent_decode(pair.substr(eq + 1))));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

inline std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  return out;
}

/// Trimmed, with runs of spaces collapsed to one.
inline std::string header_value(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

/// "20150830T123600Z" for a point in time.
inline std::string amz_date(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[20];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &tm);
  return text;
}

}  // namespace detail

/// The canonical request; `signed_headers` receives "host;x-amz-date;...". Every header of
/// the request is signed.
inline std::string canonical_request(const Request& request, std::string* signed_headers = nullptr,
                                     std::string_view payload_hash = {}) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& [name, value] : request.headers) {
    const auto key = detail::lower(name);
    auto it =
        std::find_if(headers.begin(), headers.end(), [&](const auto& h) { return h.first == key; });
    if (it == headers.end()) {
      headers.emplace_back(key, detail::header_value(value));
    } else {
      it->second += "," + detail::header_value(value);  // repeated headers, in order
    }
  }
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string names;
  std::string out = request.method + "\n" + detail::canonical_path(request.path) + "\n" +
                    detail::canonical_query(request.query) + "\n";
  for (const auto& [name, value] : headers) {
    out += name + ":" + value + "\n";
    names += (names.empty() ? "" : ";") + name;
  }
  out += "\n" + names + "\n";
  out += payload_hash.empty() ? detail::sha256_hex(request.body) : std::string(payload_hash);
  if (signed_headers) *signed_headers = names;
  return out;
}

/// "20150830/us-east-1/service/aws4_request".
inline std::string credential_scope(std::string_view amz_date, std::string_view region,
                                    std::string_view service) {
  return std::string(amz_date.substr(0, 8)) + "/" + std::string(region) + "/" +
         std::string(service) + "/aws4_request";
}

inline std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                                  std::string_view canonical) {
  return "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" + std::string(scope) + "\n" +
         detail::sha256_hex(canonical);
}

/// The hex signature of `to_sign` with the key derived for this date, region and service.
inline std::string signature(std::string_view secret_access_key, std::string_view amz_date,
                             std::string_view region, std::string_view service,
                             std::string_view to_sign) {
  std::string key =
      detail::hmac_sha256("AWS4" + std::string(secret_access_key), amz_date.substr(0, 8));
  key = detail::hmac_sha256(key, region);
  key = detail::hmac_sha256(key, service);
  key = detail::hmac_sha256(key, "aws4_request");
  const auto mac = detail::hmac_sha256(key, to_sign);
  return detail::hex(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

/// The query string (without '?') that presigns a WebSocket connect to `host_header`
/// `path`?`query` at time `when`: `query` plus the X-Amz-* parameters, signature last.
inline std::string presign_query(const Credentials& credentials, std::string_view host_header,
                                 std::string_view path, std::string_view query,
                                 std::chrono::system_clock::time_point when,
                                 std::string_view service = "execute-api",
                                 std::chrono::seconds expires = std::chrono::seconds(300)) {
  const std::string date = detail::amz_date(when);
  const std::string scope = credential_scope(date, credentials.region, service);
  std::string signed_query(query);
  auto add = [&](std::string_view name, std::string_view value) {
    if (!signed_query.empty()) signed_query += '&';
    signed_query += std::string(name) + "=" + detail::uri_encode(value);
  };
  add("X-Amz-Algorithm", "AWS4-HMAC-SHA256");
  add("X-Amz-Credential", credentials.access_key_id + "/" + scope);
  add("X-Amz-Date", date);
  add("X-Amz-Expires", std::to_string(expires.count()));
  if (!credentials.session_token.empty()) add("X-Amz-Security-Token", credentials.session_token);
  add("X-Amz-SignedHeaders", "host");
  Request request;
  request.path = std::string(path);
  request.query = signed_query;
  request.headers = {{"host", std::string(host_header)}};
  const auto to_sign = string_to_sign(date, scope, canonical_request(request));
  add("X-Amz-Signature",
      signature(credentials.secret_access_key, date, credentials.region, service, to_sign));
  return signed_query;
}

/// Checks a presigned connect (for the embedded test server). Returns an empty string
/// when the signature is valid for `credentials` and not expired at `now`, else why not.
inline std::string verify_presigned(const Credentials& credentials, std::string_view host_header,
                                    std::string_view target,
                                    std::chrono::system_clock::time_point now,
                                    std::string_view service = "execute-api") {
  const auto q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  std::string rest;
  std::string given_signature;
  std::string date;
  std::string credential;
  long expires = -1;
  for (std::string_view remaining = query; !remaining.empty();) {
    const auto amp = remaining.find('&');
    const auto pair = remaining.substr(0, amp);
    const auto eq = pair.find('=');
    const auto name = pair.substr(0, eq);
    const auto value =
        eq == std::string_view::npos ? std::string() : detail::percent_decode(pair.substr(eq + 1));
    if (name == "X-Amz-Signature") {
      given_signature = value;
    } else {
      if (name == "X-Amz-Date") date = value;
      if (name == "X-Amz-Credential") credential = value;
      if (name == "X-Amz-Expires") expires = std::atol(value.c_str());
      if (!rest.empty()) rest += '&';
      rest += pair;
    }
    if (amp == std::string_view::npos) break;
    remaining.remove_prefix(amp + 1);
  }
  if (given_signature.empty()) return "no X-Amz-Signature";
  if (date.size() != 16) return "no valid X-Amz-Date";
  const std::string scope = credential_scope(date, credentials.region, service);
  if (credential != credentials.access_key_id + "/" + scope) return "unexpected X-Amz-Credential";
  std::tm tm{};
  if (!strptime(date.c_str(), "%Y%m%dT%H%M%SZ", &tm)) return "no valid X-Amz-Date";
  const auto signed_at = std::chrono::system_clock::from_time_t(timegm(&tm));
  if (now < signed_at - std::chrono::minutes(5)) return "X-Amz-Date is in the future";
  if (expires < 0 || now > signed_at + std::chrono::seconds(expires)) return "expired";
  Request request;
  request.path = std::string(path);
  request.query = rest;
  request.headers = {{"host", std::string(host_header)}};
  const auto expected = signature(credentials.secret_access_key, date, credentials.region, service,
                                  string_to_sign(date, scope, canonical_request(request)));
  if (expected.size() != given_signature.size() ||
      CRYPTO_memcmp(expected.data(), given_signature.data(), expected.size()) != 0) {
    return "signature does not match";
  }
  return {};
}

}  // namespace wsload::aws
