// Text of numbers, durations and times for people: the one home of the formatting every
// message, console table and report shares, so a figure reads the same wherever it shows.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

namespace wsload::detail {

/// `value` with at most `decimals` decimals, trailing zeros dropped: 2.50 -> "2.5". What
/// that cannot show readably takes the form 1e+300: from 10^15 up, and below 10^-6 where
/// it would read 0 (an absurd input must be echoed as given, not as 300 digits or "0").
inline std::string format_number(double value, int decimals = 2) {
  char text[64];
  const double magnitude = std::fabs(value);
  if (std::isfinite(value) && (magnitude >= 1e15 || (magnitude > 0 && magnitude < 1e-6 &&
                                                     magnitude < 0.5 * std::pow(10, -decimals)))) {
    std::snprintf(text, sizeof text, "%.3g", value);
    return text;
  }
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  std::string s = text;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

/// A count with thousands separated as people read them: 1204 -> "1,204".
inline std::string format_count(std::uint64_t n) {
  std::string digits = std::to_string(n);
  for (auto at = digits.size(); at > 3; at -= 3) digits.insert(at - 3, 1, ',');
  return digits;
}

/// 0.0009123 -> "912.3 us", 0.9123 -> "912.3 ms", 12.5 -> "12.5 s".
inline std::string format_seconds(double seconds) {
  if (seconds < 1e-3) return format_number(seconds * 1e6, 1) + " us";
  if (seconds < 10) return format_number(seconds * 1e3, 1) + " ms";
  return format_number(seconds, 2) + " s";
}

/// Milliseconds (of `seconds`) with precision that suits the size: 0.412, 12.35, 912.3, 15230.
inline std::string format_ms(double seconds) {
  const double ms = seconds * 1e3;
  return format_number(ms, ms < 1 ? 3 : ms < 100 ? 2 : ms < 10'000 ? 1 : 0);
}

/// Milliseconds of a histogram value in microseconds.
inline double ms_of(std::int64_t us) {
  return static_cast<double>(us) / 1e3;
}

/// Seconds of a histogram value in microseconds (what format_ms takes).
inline double seconds_of(std::int64_t us) {
  return static_cast<double>(us) / 1e6;
}

/// UTC ISO 8601, with milliseconds when there are any: 2026-11-25T12:00:00.250Z.
inline std::string iso8601(std::chrono::system_clock::time_point at) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(at);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(at - seconds).count();
  const std::time_t t = std::chrono::system_clock::to_time_t(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[40];
  const auto n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  if (ms != 0) std::snprintf(text + n, sizeof text - n, ".%03d", static_cast<int>(ms));
  return std::string(text) + "Z";
}

/// Text for HTML and XML: markup characters escaped, and control characters other than
/// tab and newline dropped (XML 1.0 cannot carry them).
inline std::string escape_markup(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t') out += c;
    }
  }
  return out;
}

}  // namespace wsload::detail
