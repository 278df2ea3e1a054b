// The record of a capacity sweep: one run per offered rate, each with its whole Summary,
// the knee (the highest rate whose thresholds held), its JSON ("wsload.sweep/1") and
// its file. Running a sweep is wsload/sweep.hpp; drawing one, render/sweep.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/detail/format.hpp>
#include <wsload/errors.hpp>
#include <wsload/results/output.hpp>
#include <wsload/results/runs.hpp>
#include <wsload/results/summary.hpp>
#include <wsload/results/summary_json.hpp>

namespace wsload {

/// The layout of a sweep's JSON file.
inline constexpr std::string_view sweep_schema = "wsload.sweep/1";

/// How a sweep picks its rates.
enum class SweepMode {
  geometric,  ///< from a low rate up by a factor to a high one
  search,     ///< bisection between two bounds to a precision
};

inline std::string_view to_string(SweepMode mode) {
  return mode == SweepMode::geometric ? "geometric" : "search";
}

/// One rate of a sweep: what was asked and the whole run at it.
struct SweepStep {
  double offered_rate = 0;      ///< requests per second the schedule asked for
  Summary summary = Summary();  // not `{}`: each Histogram's constructor is explicit

  /// Requests per second the generator sent (the schedule's own count); successful
  /// requests per second for a run without a schedule.
  double achieved_rate() const noexcept {
    return summary.schedule ? summary.schedule->achieved_rate : summary.requests_per_second();
  }
  /// Every threshold held at this rate (the generator's own shortfall verdict included).
  bool passed() const noexcept { return summary.passed(); }
  /// The generator, not the service, was short at this rate: it sent under 95 % of what
  /// came due, or its own threads were the bottleneck. Its verdict is no verdict on the
  /// service.
  bool generator_limited() const noexcept {
    return (summary.schedule && summary.schedule->fell_short()) || summary.generator_saturated();
  }
};

/// Where a sweep's service stopped meeting its thresholds.
struct Knee {
  /// The highest rate that passed below the lowest rate that failed (rates that passed
  /// above a failure are noise, not capacity); empty when the lowest rate tried failed.
  std::optional<double> rate;
  std::optional<double> first_failing_rate;  ///< the lowest rate that failed; empty: none
  /// That failing rate is the generator's shortfall, not the service's: the knee is a
  /// lower bound of the service's.
  bool generator_limited = false;
  std::string note{};  ///< one sentence on how far the knee can be trusted
};

/// The knee of `steps`, in any order (a search runs its rates out of order). A step
/// that was interrupted measured nothing whole and is left out.
inline Knee knee_of(const std::vector<SweepStep>& steps) {
  using detail::format_number;
  Knee knee;
  const SweepStep* failing = nullptr;
  for (const auto& s : steps) {
    if (s.summary.interrupted) continue;
    if (!s.passed() && (!failing || s.offered_rate < failing->offered_rate)) failing = &s;
  }
  for (const auto& s : steps) {
    if (s.summary.interrupted || !s.passed()) continue;
    if (failing && s.offered_rate >= failing->offered_rate) continue;
    if (!knee.rate || s.offered_rate > *knee.rate) knee.rate = s.offered_rate;
  }
  if (!failing && !knee.rate) {
    knee.note = "no rate ran to its end";
    return knee;
  }
  if (!failing) {
    knee.note = "every rate tried held: the knee is at or above " + format_number(*knee.rate, 2) +
                " requests/s";
    return knee;
  }
  knee.first_failing_rate = failing->offered_rate;
  knee.generator_limited = failing->generator_limited();
  const std::string at = format_number(failing->offered_rate, 2) + " requests/s";
  if (knee.generator_limited) {
    knee.note = "at " + at +
                " the load generator fell short (too few connections for the service's "
                "latency, or too little CPU): that rate is no verdict on the service, whose "
                "knee may be higher";
  } else if (knee.rate) {
    knee.note = "the thresholds failed at " + at;
  } else {
    knee.note = "the thresholds failed even at the lowest rate, " + at;
  }
  return knee;
}

/// A whole sweep: its rates in the order they ran, and the knee they show.
struct SweepResult {
  SweepMode mode = SweepMode::geometric;
  std::vector<SweepStep> steps{};
  bool interrupted = false;  ///< stopped (Ctrl-C) before every rate ran

  Knee knee() const { return knee_of(steps); }
  /// The steps from the lowest offered rate to the highest.
  std::vector<const SweepStep*> by_rate() const {
    std::vector<const SweepStep*> sorted;
    for (const auto& s : steps) sorted.push_back(&s);
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
      return a->offered_rate < b->offered_rate;
    });
    return sorted;
  }
};

/// A sweep's JSON: schema, mode, the knee and its note, and per rate the offered and
/// achieved rates, the verdict and the rate's whole summary (summary_json.hpp).
inline nlohmann::json to_json(const SweepResult& r) {
  const Knee knee = r.knee();
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : r.steps) {
    steps.push_back({{"offered_rate", s.offered_rate},
                     {"achieved_rate", s.achieved_rate()},
                     {"passed", s.passed()},
                     {"generator_limited", s.generator_limited()},
                     {"summary", to_json(s.summary)}});
  }
  const auto or_null = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  return {{"schema", sweep_schema},
          {"mode", to_string(r.mode)},
          {"knee", or_null(knee.rate)},
          {"first_failing_rate", or_null(knee.first_failing_rate)},
          {"knee_limited_by_generator", knee.generator_limited},
          {"knee_note", knee.note},
          {"interrupted", r.interrupted},
          {"steps", std::move(steps)}};
}

/// Reads a sweep written by to_json; the knee is worked out again from the steps. Throws
/// ConfigError (field `field`, e.g. the file) naming the key that is missing or wrong,
/// and the step, for a summary summary_from_json refuses.
inline SweepResult sweep_from_json(const nlohmann::json& j, const std::string& field = "sweep") {
  if (!detail::has_schema(j, sweep_schema)) {
    throw ConfigError(field, "", "not a wsload sweep (schema " + std::string(sweep_schema) + ")");
  }
  SweepResult r;
  try {
    const auto mode = j.at("mode").get<std::string>();
    if (mode != "geometric" && mode != "search") {
      throw ConfigError(field, mode, "mode: expected geometric or search");
    }
    r.mode = mode == "geometric" ? SweepMode::geometric : SweepMode::search;
    r.interrupted = j.at("interrupted").get<bool>();
    const auto& steps = j.at("steps");
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const std::string where = field + " steps[" + std::to_string(i) + "]";
      SweepStep s;
      s.offered_rate = steps.at(i).at("offered_rate").get<double>();
      if (!(s.offered_rate > 0) || !std::isfinite(s.offered_rate)) {
        throw ConfigError(where, detail::format_number(s.offered_rate, 3),
                          "offered_rate: expected a positive number");
      }
      s.summary = summary_from_json(steps.at(i).at("summary"), where);
      r.steps.push_back(std::move(s));
    }
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(field, "", detail::json_problem(e));
  }
  return r;
}

/// Reads a sweep file. Throws ConfigError naming the file (see sweep_from_json).
inline SweepResult read_sweep(const std::filesystem::path& path) {
  return sweep_from_json(read_json_file(path), path.string());
}

/// Writes the sweep's JSON (indented) to the output `path` (write_file_atomically: `-`,
/// devices and FIFOs too; `field` names it in errors).
inline void write_sweep(const std::filesystem::path& path, const SweepResult& r,
                        const std::string& field = "sweep file") {
  write_file_atomically(path, to_json(r).dump(2) + "\n", field);
}

}  // namespace wsload
