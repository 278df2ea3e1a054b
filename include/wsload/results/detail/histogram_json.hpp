// A histogram's section of a summary file ("latency", "ttfb", each step's): percentiles in
// seconds for people and tools, and the HdrHistogram itself; read back with its exact
// statistics checked against its buckets.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include <wsload/detail/format.hpp>
#include <wsload/histogram.hpp>
#include <wsload/results/detail/summary_checks.hpp>

namespace wsload {

/// Percentiles reported in every summary, besides min / mean / max.
inline constexpr double reported_percentiles[] = {50, 90, 95, 99, 99.9};

namespace detail {

/// The section of a histogram: unit, count, mean, stddev, percentiles (in `unit`, its
/// values over `per_unit`: microseconds in seconds by default; null when empty) and the
/// histogram (HdrHistogram compressed V2, base64, in `recorded`, with its exact min, max
/// and sum).
inline nlohmann::json histogram_json(const Histogram& h, const char* unit = "seconds",
                                     double per_unit = 1e6, const char* recorded = "microseconds") {
  using nlohmann::json;
  const bool none = h.empty();
  json percentiles = json::object();
  for (double p : reported_percentiles) {
    percentiles[format_number(p, 3)] =
        none ? json(nullptr) : json(static_cast<double>(h.value_at_percentile(p)) / per_unit);
  }
  return json{{"unit", unit},
              {"count", h.count()},
              {"mean", none ? json(nullptr) : json(h.mean() / per_unit)},
              {"stddev", none ? json(nullptr) : json(h.stddev() / per_unit)},
              {"percentiles", percentiles},
              {"histogram",
               {{"encoding", "HdrHistogram compressed V2, base64"},
                {"unit", recorded},
                {"min", h.min()},
                {"max", h.max()},
                {"sum", h.sum()},
                {"data", h.encode()}}}};
}

/// The histogram of a section written by histogram_json, `key` naming it in errors
/// ("latency", "steps[\"login\"].ttfb"). Throws ConfigError (field `field`) when its data
/// do not decode or its exact statistics lie outside its buckets; nlohmann::json's
/// exceptions when a key is missing.
inline Histogram histogram_from_json(const nlohmann::json& section, const std::string& key,
                                     const std::string& field) {
  const auto& h = section.at("histogram");
  auto decoded =
      Histogram::decode(h.at("data").get<std::string>(), field + ": " + key + ".histogram");
  const auto min = h.at("min").get<std::int64_t>();
  const auto max = h.at("max").get<std::int64_t>();
  const auto sum = h.at("sum").get<double>();
  check_exact_statistics(decoded, min, max, sum, key + ".histogram", field);
  decoded.restore_exact(min, max, sum);
  return decoded;
}

}  // namespace detail
}  // namespace wsload
