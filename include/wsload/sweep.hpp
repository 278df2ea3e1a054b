// A capacity sweep: the same load run at one offered rate after another (geometric steps,
// or a bisection between two bounds) until the thresholds stop holding. The engine is
// injected (a function that runs one load at a rate), so this header needs no Boost:
// the CLI and tests pass a lambda calling run_load. The record it makes is
// results/sweep.hpp.
#pragma once

#include <chrono>
#include <cmath>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <wsload/detail/format.hpp>
#include <wsload/errors.hpp>
#include <wsload/results/summary.hpp>
#include <wsload/results/sweep.hpp>

namespace wsload {

/// Which rates a sweep runs, and for how long each.
struct SweepOptions {
  SweepMode mode = SweepMode::geometric;
  /// Geometric: rate_from, rate_from x factor, ... up to rate_to (run last when the
  /// factor steps over it). Requests per second.
  double rate_from = 0;
  double rate_to = 0;
  double factor = 2;
  /// Search: low, then high, then the geometric midpoint of the bounds that passed and
  /// failed, until high / low <= 1 + precision.
  double search_low = 0;
  double search_high = 0;
  double precision = 0.05;  ///< relative: 0.05 stops when the bounds are within 5 %
  std::chrono::milliseconds step_duration{10'000};  ///< how long each rate is sent
  /// Geometric: stop after the first rate that fails (the rates above it would only
  /// overload the service further). Off: run every rate.
  bool stop_after_failure = true;
};

/// Most rates one sweep may run: a plan longer than this is a typo in its factor.
inline constexpr std::size_t max_sweep_steps = 100;

/// The geometric plan: from, from x factor, ..., and `to` itself when the last step fell
/// short of it. Expects validated options (validate(SweepOptions)).
inline std::vector<double> geometric_rates(double from, double to, double factor) {
  std::vector<double> rates;
  for (double r = from; r <= to * (1 + 1e-9) && rates.size() < max_sweep_steps; r *= factor) {
    rates.push_back(r);
  }
  if (rates.back() < to * (1 - 1e-9) && rates.size() < max_sweep_steps) rates.push_back(to);
  return rates;
}

/// Rates a search between `low` and `high` runs at most: the two bounds, then one per
/// halving of log(high / low) until within `precision`.
inline std::size_t search_steps(double low, double high, double precision) {
  const double halvings = std::ceil(std::log2(std::log(high / low) / std::log1p(precision)));
  return 2 + static_cast<std::size_t>(std::max(0.0, halvings));
}

/// Refuses options no sweep can run, naming the field as the command line spells it.
/// Throws ConfigError.
inline void validate(const SweepOptions& o) {
  using detail::format_number;
  const auto positive = [](double v, const char* field) {
    if (!(v > 0) || !std::isfinite(v)) {
      throw ConfigError(field, format_number(v, 3), "expected requests per second above 0");
    }
  };
  if (o.mode == SweepMode::geometric) {
    positive(o.rate_from, "--rate-from");
    positive(o.rate_to, "--rate-to");
    if (o.rate_to < o.rate_from) {
      throw ConfigError("--rate-to", format_number(o.rate_to, 3),
                        "is below --rate-from " + format_number(o.rate_from, 3));
    }
    if (!(o.factor > 1) || !std::isfinite(o.factor)) {
      throw ConfigError("--factor", format_number(o.factor, 3), "expected a number above 1");
    }
    if (std::log(o.rate_to / o.rate_from) / std::log(o.factor) + 1 > max_sweep_steps) {
      throw ConfigError("--factor", format_number(o.factor, 3),
                        "takes more than " + std::to_string(max_sweep_steps) +
                            " steps from --rate-from to --rate-to; use a larger factor");
    }
  } else {
    positive(o.search_low, "--search");
    positive(o.search_high, "--search");
    if (!(o.search_high > o.search_low)) {
      throw ConfigError("--search",
                        format_number(o.search_low, 3) + ":" + format_number(o.search_high, 3),
                        "expected LOW:HIGH with LOW below HIGH");
    }
    if (!(o.precision > 0 && o.precision <= 1)) {
      throw ConfigError("--precision", format_number(o.precision, 3),
                        "expected a fraction in (0 - 1], e.g. 0.05 for 5 %");
    }
    if (search_steps(o.search_low, o.search_high, o.precision) > max_sweep_steps) {
      throw ConfigError("--precision", format_number(o.precision, 3), "needs too many steps");
    }
  }
  if (o.step_duration.count() < 1) {
    throw ConfigError("--step-duration", format_number(Seconds(o.step_duration).count(), 3),
                      "expected at least 0.001 s");
  }
}

/// The next rate of a sweep given the steps run so far; empty when it is done. The
/// order of `done` is the order the rates ran.
inline std::optional<double> next_rate(const SweepOptions& o, const std::vector<SweepStep>& done) {
  if (o.mode == SweepMode::geometric) {
    const auto rates = geometric_rates(o.rate_from, o.rate_to, o.factor);
    if (done.size() >= rates.size()) return std::nullopt;
    if (o.stop_after_failure && !done.empty() && !done.back().passed()) return std::nullopt;
    return rates[done.size()];
  }
  if (done.empty()) return o.search_low;
  if (!done.front().passed()) return std::nullopt;  // even the low bound failed
  if (done.size() == 1) return o.search_high;
  // The highest rate that passed and the lowest that failed bracket the knee.
  const Knee knee = knee_of(done);
  if (!knee.first_failing_rate) return std::nullopt;  // the high bound held
  const double low = *knee.rate, high = *knee.first_failing_rate;
  if (high / low <= 1 + o.precision) return std::nullopt;
  return std::sqrt(low * high);
}

/// Runs one load at `rate` requests per second for `duration` and returns its judged
/// summary (run_load with config.rate and config.duration set).
using SweepRunner = std::function<Summary(double rate, std::chrono::milliseconds duration)>;

/// Called after each rate, e.g. to print its row; returns false to stop the sweep there
/// (a Ctrl-C between two rates).
using SweepCallback = std::function<bool(const SweepStep&)>;

/// Runs the sweep `options` plan, one `run_step` per rate. Stops early when a run was
/// interrupted or `on_step` says so (and the result says it was interrupted). Throws ConfigError
/// for invalid options before any rate runs; whatever `run_step` throws passes through.
inline SweepResult run_sweep(const SweepOptions& options, const SweepRunner& run_step,
                             const SweepCallback& on_step = {}) {
  validate(options);
  SweepResult result;
  result.mode = options.mode;
  while (const auto rate = next_rate(options, result.steps)) {
    SweepStep step;
    step.offered_rate = *rate;
    step.summary = run_step(*rate, options.step_duration);
    result.steps.push_back(std::move(step));
    if (result.steps.back().summary.interrupted) {
      result.interrupted = true;
      break;
    }
    if (on_step && !on_step(result.steps.back())) {
      result.interrupted = next_rate(options, result.steps).has_value();
      break;
    }
  }
  return result;
}

}  // namespace wsload
