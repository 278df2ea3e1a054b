// The time series of a run as the summary JSON holds it, and read back with every figure
// checked.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/errors.hpp>
#include <wsload/histogram.hpp>
#include <wsload/timeseries.hpp>

namespace wsload {

/// The series as a summary's `time_series` (but its `start`): intervals of `interval`
/// seconds with their counts, rate, p50 / p95 / p99 and HdrHistogram; when they are longer
/// than a second, `per_second` holds the counts of each second, which windows need.
inline nlohmann::json time_series_json(const TimeSeries& series) {
  using nlohmann::json;
  json intervals = json::array();
  for (std::size_t k = 0; k < series.intervals(); ++k) {
    const auto i = series.interval(k);
    const auto at = [&i](double p) {
      // Bucket-level values: the same before and after the histogram's JSON round trip.
      return i.latency.empty() ? json(nullptr)
                               : json(static_cast<double>(i.latency.highest_equivalent(
                                          i.latency.value_at_percentile(p))) /
                                      1e6);
    };
    intervals.push_back({{"seconds", static_cast<std::uint64_t>(i.seconds)},
                         {"requests", i.requests()},
                         {"succeeded", i.succeeded},
                         {"failed", i.failed},
                         {"rps", static_cast<double>(i.succeeded) / i.seconds},
                         {"p50", at(50)},
                         {"p95", at(95)},
                         {"p99", at(99)},
                         {"histogram", i.latency.encode()}});
  }
  json j = {{"interval", series.resolution()}, {"unit", "seconds"}, {"intervals", intervals}};
  if (series.resolution() > 1) {
    json succeeded = json::array();
    json failed = json::array();
    for (const auto& second : series.seconds()) {
      succeeded.push_back(second.succeeded);
      failed.push_back(second.failed);
    }
    j["per_second"] = {{"succeeded", succeeded}, {"failed", failed}};
  }
  return j;
}

/// `time_series.start`: Unix time in seconds (0: unknown), 1970 to 2286.
inline double time_series_start(const nlohmann::json& series, const std::string& field) {
  const auto& start = series.value("start", nlohmann::json(0));
  const double at = start.is_number() ? start.get<double>() : -1;
  if (!(at >= 0 && at <= 1e10)) {
    throw ConfigError(field, start.dump(),
                      "time_series.start must be a Unix time in seconds (0 to 1e10)");
  }
  return at;
}

/// Reads a summary's `time_series` into a series that keeps no more than a run would,
/// whatever the file says: a span over TimeSeries::longest is refused, and a long series
/// merges its intervals as they are read. Throws ConfigError naming `field` (the file)
/// and the key.
inline TimeSeries time_series_from_json(const nlohmann::json& j, const std::string& field) {
  const auto whole = [&](const nlohmann::json& v, const std::string& name, std::uint64_t most) {
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() < 1 || v.get<std::uint64_t>() > most) {
      throw ConfigError(field, v.dump(),
                        name + " must be a whole number of seconds, 1 to " + std::to_string(most));
    }
    return static_cast<std::size_t>(v.get<std::uint64_t>());
  };
  const auto resolution =
      whole(j.value("interval", nlohmann::json(1)), "time_series.interval", TimeSeries::longest);
  const auto& intervals = j.at("intervals");
  const nlohmann::json* succeeded = nullptr;
  const nlohmann::json* failed = nullptr;
  if (j.contains("per_second")) {
    succeeded = &j.at("per_second").at("succeeded");
    failed = &j.at("per_second").at("failed");
    if (!succeeded->is_array() || !failed->is_array() || succeeded->size() != failed->size()) {
      throw ConfigError(field, "",
                        "time_series.per_second must hold two lists of one length, succeeded "
                        "and failed");
    }
  } else if (resolution > 1) {
    throw ConfigError(field, "",
                      "time_series.per_second is missing; intervals of " +
                          std::to_string(resolution) + " s need the counts of each second");
  }
  // Any JSON spelling of a whole number from 0 to 2^53 (5, 5.0), as other counts are read.
  const auto count = [&](const nlohmann::json& v, const std::string& name) {
    const bool whole =
        v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0) ||
        (v.is_number_float() && v.get<double>() >= 0 && v.get<double>() <= 9007199254740992.0 &&
         v.get<double>() == std::floor(v.get<double>()));
    if (!whole) {
      throw ConfigError(field, v.dump(), name + " must be a count (a whole number, 0 or more)");
    }
    return v.is_number_float() ? static_cast<std::uint64_t>(v.get<double>())
                               : v.get<std::uint64_t>();
  };
  TimeSeries series;
  series.coarsen_to(resolution);
  std::size_t first = 0;
  std::vector<SecondCounts> counts;
  for (std::size_t k = 0; k < intervals.size(); ++k) {
    const auto& i = intervals.at(k);
    const std::string at = "time_series.intervals[" + std::to_string(k) + "]";
    const auto length =
        i.contains("seconds") ? whole(i.at("seconds"), at + ".seconds", resolution) : resolution;
    if (length < resolution && k + 1 < intervals.size()) {
      throw ConfigError(field, std::to_string(length),
                        at + ".seconds: only the last interval may be shorter than " +
                            std::to_string(resolution) + " s");
    }
    if (first + length > TimeSeries::longest) {
      throw ConfigError(field, "",
                        at + " ends past " + std::to_string(TimeSeries::longest) +
                            " s, the longest series a run keeps (a week)");
    }
    const SecondCounts total{count(i.at("succeeded"), at + ".succeeded"),
                             count(i.at("failed"), at + ".failed")};
    counts.assign(length, SecondCounts{});
    if (succeeded) {
      if (first + length > succeeded->size()) {
        throw ConfigError(field, "", "time_series.per_second has fewer seconds than the intervals");
      }
      SecondCounts sum;
      for (std::size_t s = 0; s < length; ++s) {
        counts[s] = {count(succeeded->at(first + s), "time_series.per_second.succeeded"),
                     count(failed->at(first + s), "time_series.per_second.failed")};
        sum.succeeded += counts[s].succeeded;
        sum.failed += counts[s].failed;
      }
      if (sum.succeeded != total.succeeded || sum.failed != total.failed) {
        throw ConfigError(field, "",
                          "time_series.per_second does not add up to " + at + "'s counts");
      }
    } else {
      counts.front() = total;
    }
    series.add(
        first, counts,
        Histogram::decode(i.at("histogram").get<std::string>(), field + ": " + at + ".histogram"));
    first += length;
  }
  if (succeeded && succeeded->size() != first) {
    throw ConfigError(field, "",
                      "time_series.per_second has more seconds than the intervals (" +
                          std::to_string(first) + ")");
  }
  return series;
}

}  // namespace wsload
