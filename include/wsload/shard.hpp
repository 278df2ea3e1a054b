// Shards: one load split over independent processes under a scheduler the user already
// has (a Kubernetes Indexed Job, a CI matrix, ssh), joined again by `wsload merge`.
//
// Shard K of N runs the connections K, K + N, K + 2N, ... of the configured load, with
// their global numbers: each sends what that connection would have sent in one process
// ({{connection}} and the open-loop schedule included), so the shards' union is the load.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <wsload/errors.hpp>

namespace wsload {

struct Shard {
  std::size_t index = 0;
  std::size_t count = 1;

  /// How many of `connections` this shard opens.
  std::size_t connections_of(std::size_t connections) const noexcept {
    return index < connections ? (connections - index - 1) / count + 1 : 0;
  }
  /// The global number of this shard's `k`-th connection.
  std::size_t connection(std::size_t k) const noexcept { return index + k * count; }
  /// "K/N", as --shard takes it.
  std::string text() const { return std::to_string(index) + "/" + std::to_string(count); }
  bool operator==(const Shard&) const = default;
};

namespace detail {

inline std::optional<std::size_t> parse_count(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  std::size_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  return n;
}

inline Shard checked_shard(std::size_t index, std::size_t count, const std::string& field,
                           const std::string& shown) {
  if (count < 1 || count > 100'000) {
    throw ConfigError(field, shown, "the shard count must be from 1 to 100000");
  }
  if (index >= count) {
    throw ConfigError(field, shown,
                      "the shard index counts from 0, so it must be below the shard count");
  }
  return {index, count};
}

}  // namespace detail

/// Parses "K/N" (shard K of N, K from 0). Throws ConfigError (field "shard").
inline Shard parse_shard(std::string_view text) {
  const auto slash = text.find('/');
  const auto index = detail::parse_count(text.substr(0, slash));
  const auto count =
      slash == std::string_view::npos ? std::nullopt : detail::parse_count(text.substr(slash + 1));
  if (!index || !count) {
    throw ConfigError("shard", std::string(text), "expected INDEX/COUNT, e.g. 0/4 (from 0)");
  }
  return detail::checked_shard(*index, *count, "shard", std::string(text));
}

/// The shard named by the environment: WSLOAD_SHARD_INDEX (or, in a Kubernetes Indexed
/// Job, JOB_COMPLETION_INDEX) and WSLOAD_SHARD_COUNT. Empty when WSLOAD_SHARD_COUNT is not
/// set. Throws ConfigError naming the variable when a value is invalid or missing.
inline std::optional<Shard> shard_from_environment(
    const std::function<const char*(const char*)>& getenv = [](const char* n) {
      return std::getenv(n);
    }) {
  const char* count_text = getenv("WSLOAD_SHARD_COUNT");
  const char* index_name = "WSLOAD_SHARD_INDEX";
  const char* index_text = getenv(index_name);
  if (!count_text) {
    if (index_text) {
      throw ConfigError(index_name, index_text,
                        "is set but WSLOAD_SHARD_COUNT is not; set both (the count is the "
                        "number of shards)");
    }
    return std::nullopt;
  }
  if (!index_text) {
    index_name = "JOB_COMPLETION_INDEX";
    index_text = getenv(index_name);
  }
  if (!index_text) {
    throw ConfigError("WSLOAD_SHARD_COUNT", count_text,
                      "is set but neither WSLOAD_SHARD_INDEX nor JOB_COMPLETION_INDEX is");
  }
  const auto count = detail::parse_count(count_text);
  if (!count) throw ConfigError("WSLOAD_SHARD_COUNT", count_text, "must be a whole number");
  const auto index = detail::parse_count(index_text);
  if (!index) throw ConfigError(index_name, index_text, "must be a whole number from 0");
  if (*index >= *count) {
    throw ConfigError(
        index_name, index_text,
        "must be below WSLOAD_SHARD_COUNT (" + std::string(count_text) + "): shards count from 0");
  }
  return detail::checked_shard(*index, *count, "WSLOAD_SHARD_COUNT", count_text);
}

/// Parses a common start time for shards: UTC ISO 8601 ("2026-11-25T12:00:00Z", optional
/// fraction of a second) or Unix seconds ("1764072000"). Throws ConfigError (field
/// "start_at").
inline std::chrono::system_clock::time_point parse_start_at(std::string_view text) {
  const std::string shown(text);
  if (!text.empty() && text.size() <= 12 &&
      text.find_first_not_of("0123456789") == std::string_view::npos) {
    std::int64_t seconds = 0;
    for (char c : text) seconds = seconds * 10 + (c - '0');
    return std::chrono::system_clock::time_point(std::chrono::seconds(seconds));
  }
  std::tm tm{};
  int consumed = 0;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
      tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
    throw ConfigError("start_at", shown,
                      "expected a UTC time like 2026-11-25T12:00:00Z, or Unix seconds");
  }
  std::string_view rest = text.substr(19);
  double fraction = 0;
  if (!rest.empty() && rest.front() == '.') {
    rest.remove_prefix(1);
    double scale = 0.1;
    std::size_t digits = 0;
    while (!rest.empty() && rest.front() >= '0' && rest.front() <= '9') {
      fraction += (rest.front() - '0') * scale;
      scale /= 10;
      rest.remove_prefix(1);
      ++digits;
    }
    if (digits == 0) rest = "?";
  }
  if (rest != "Z") {
    throw ConfigError("start_at", shown, "must be UTC, ending in Z (e.g. 2026-11-25T12:00:00Z)");
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::time_t t = timegm(&tm);
  return std::chrono::system_clock::time_point(std::chrono::seconds(t)) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             std::chrono::duration<double>(fraction));
}

}  // namespace wsload
