// Base64 (RFC 4648, standard alphabet, padded) for the histogram encoding and binary
// prompts, by OpenSSL's EVP coder; hex for binary prompts.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/evp.h>

namespace wsload::detail {

/// The base64 text of `bytes`, padded, on one line.
inline std::string base64_encode(std::string_view bytes) {
  // EVP_EncodeBlock counts in int: whole groups of 3 bytes at a time.
  constexpr std::size_t chunk = std::size_t{3} << 24;
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');  // + its closing NUL
  std::size_t written = 0;
  for (std::size_t at = 0; at < bytes.size(); at += chunk) {
    const std::size_t size = std::min(chunk, bytes.size() - at);
    written += static_cast<std::size_t>(EVP_EncodeBlock(
        reinterpret_cast<unsigned char*>(out.data() + written),
        reinterpret_cast<const unsigned char*>(bytes.data() + at), static_cast<int>(size)));
  }
  out.resize(written);
  return out;
}

/// The bytes of padded standard base64 `text`; nullopt for anything else.
inline std::optional<std::string> base64_decode(std::string_view text) {
  // EVP_DecodeBlock alone is lenient: it skips blanks and line ends at either end and
  // reads '=' anywhere as zero bits. Only the alphabet, then one or two '=', pass here.
  if (text.size() % 4 != 0) return std::nullopt;
  const std::size_t padding = text.ends_with("==") ? 2 : text.ends_with('=') ? 1 : 0;
  const auto in_alphabet = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
  };
  if (!std::all_of(text.begin(), text.end() - static_cast<std::ptrdiff_t>(padding), in_alphabet)) {
    return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  constexpr std::size_t chunk = std::size_t{4} << 24;
  std::size_t written = 0;
  for (std::size_t at = 0; at < text.size(); at += chunk) {
    const std::size_t size = std::min(chunk, text.size() - at);
    const int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data() + written),
                                        reinterpret_cast<const unsigned char*>(text.data() + at),
                                        static_cast<int>(size));
    if (decoded < 0) return std::nullopt;
    written += static_cast<std::size_t>(decoded);
  }
  out.resize(written - padding);  // EVP_DecodeBlock counts the padding as bytes
  return out;
}

/// The bytes of hex `text` (digits in either case, two per byte, blanks allowed between
/// bytes: "0a 1B ff"); nullopt for anything else.
inline std::optional<std::string> hex_decode(std::string_view text) {
  const auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t at = 0; at < text.size();) {
    if (text[at] == ' ' || text[at] == '\t') {
      ++at;
      continue;
    }
    if (at + 1 >= text.size()) return std::nullopt;
    const int high = digit(text[at]);
    const int low = digit(text[at + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high << 4 | low);
    at += 2;
  }
  return out;
}

}  // namespace wsload::detail
