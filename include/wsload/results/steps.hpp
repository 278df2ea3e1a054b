// Figures per named step and per named check of a scripted session, and the thresholds
// that select one ("p95[login]<200ms", "checks[has answer]>=99%").
#pragma once
#include <wsload/histogram.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <wsload/detail/format.hpp>
#include <wsload/thresholds.hpp>
#include <wsload/timeseries.hpp>

namespace wsload {
/// One named step's figures: each attempt counted, latency/ttfb in microseconds.
struct StepFigures {
  std::uint64_t count = 0;     ///< attempts that ended (success or failure)
  std::uint64_t failures = 0;  ///< of them, failed
  std::map<std::string, std::uint64_t, std::less<>>
      failures_by_kind;  ///< "timeout", "closed", "check", "error_frame", "send"
  Histogram latency;     ///< microseconds, step start to its completing frame
  Histogram ttfb;        ///< microseconds, step start to the first frame after it
  void record_success(std::int64_t latency_us, std::int64_t ttfb_us) {
    ++count;
    latency.record(latency_us);
    ttfb.record(ttfb_us);
  }
  void record_failure(std::string_view kind) {
    ++count;
    ++failures;
    ++failures_by_kind[std::string(kind)];
  }
  StepFigures& operator+=(const StepFigures& other);

  /// Attempts that succeeded (each timed in `latency` and `ttfb`).
  std::uint64_t successes() const noexcept { return count - failures; }
  /// Percent of the attempts that succeeded; 0 when there were none.
  double success_rate() const noexcept {
    return count ? 100.0 * static_cast<double>(successes()) / static_cast<double>(count) : 0.0;
  }
};
/// One named check's figures: each evaluation passed or failed.
struct CheckFigures {
  std::uint64_t passes = 0;
  std::uint64_t failures = 0;
  CheckFigures& operator+=(const CheckFigures& other);
  /// Percent of the evaluations that passed; empty when there were none.
  std::optional<double> share() const noexcept {
    const auto n = passes + failures;
    if (n == 0) return std::nullopt;
    return 100.0 * static_cast<double>(passes) / static_cast<double>(n);
  }
};
/// Steps by name, ordered; any UTF-8 text is a name.
using StepTable = std::map<std::string, StepFigures, std::less<>>;
/// Checks by name, ordered; any UTF-8 text is a name.
using CheckTable = std::map<std::string, CheckFigures, std::less<>>;

inline StepFigures& StepFigures::operator+=(const StepFigures& other) {
  count += other.count;
  failures += other.failures;
  for (const auto& [kind, n] : other.failures_by_kind) failures_by_kind[kind] += n;
  latency.merge(other.latency);
  ttfb.merge(other.ttfb);
  return *this;
}

inline CheckFigures& CheckFigures::operator+=(const CheckFigures& other) {
  passes += other.passes;
  failures += other.failures;
  return *this;
}

/// Adds every step (or check) of `from` to the one of its name in `into`: the threads of
/// one run, or the shards of one load. Histograms of one layout merge exactly.
template <class Figures>
void merge_by_name(std::map<std::string, Figures, std::less<>>& into,
                   const std::map<std::string, Figures, std::less<>>& from) {
  for (const auto& [name, figures] : from) into[name] += figures;
}

namespace detail {

/// The threshold selects a step or judges checks rather than the whole run.
inline bool selects_step_or_check(const Threshold& t) noexcept {
  return !t.selector.empty() || t.figure == Figure::checks;
}

/// "succeeded" or "failed 3 (2 timeout, 1 check)": how a step's attempts ended.
inline std::string step_failures_text(const StepFigures& step) {
  std::string text;
  for (const auto& [kind, n] : step.failures_by_kind) {
    text += (text.empty() ? "" : ", ") + format_count(n) + " " + kind;
  }
  return text;
}

/// The value a selecting threshold's figure has, in its canonical unit; empty when the
/// step never ran, had no success to time, or no check was evaluated.
inline std::optional<double> selected_figure(const Threshold& t, const StepTable& steps,
                                             const CheckTable& checks) {
  if (t.figure == Figure::checks) {
    CheckFigures all;
    if (t.selector.empty()) {
      for (const auto& [name, c] : checks) all += c;
    } else if (const auto it = checks.find(t.selector); it != checks.end()) {
      all = it->second;
    }
    return all.share();
  }
  const auto it = steps.find(t.selector);
  if (it == steps.end() || it->second.count == 0) return std::nullopt;
  const auto& step = it->second;
  if (is_latency(t.figure))
    return latency_figure(t.timing == Timing::first_frame ? step.ttfb : step.latency, t);
  switch (t.figure) {
    case Figure::success_rate:
      return step.success_rate();
    case Figure::errors:
      return static_cast<double>(step.failures);
    default:  // Figure::requests
      return static_cast<double>(step.count);
  }
}

/// The verdict of a threshold that selects a step or judges checks, worded as
/// "p95[login] 312 ms > 200 ms (1,204 steps)". A step that never ran, or a check never
/// evaluated, fails it: the limit cannot be met by what did not happen. After a warm-up
/// (`warmup`), whose steps and checks are in no figure, it says so.
inline Verdict selected_verdict(const Threshold& t, const StepTable& steps,
                                const CheckTable& checks, bool warmup = false) {
  const auto actual = selected_figure(t, steps, checks);
  Verdict v = evaluate(t, actual);
  const std::string quoted = "'" + t.selector + "'";
  const std::string cannot =
      std::string(warmup ? " after the warm-up" : "") + ", so '" + t.expression + "' cannot be met";
  // What the expression judges: "p95[login]", or "checks" for every check together.
  const auto close = t.expression.rfind(']');
  const auto figure =
      close == std::string::npos ? std::string("checks") : t.expression.substr(0, close + 1);
  const auto relation = [&](double a) {
    const std::string_view sign = a < t.limit ? "<" : a > t.limit ? ">" : "=";
    return figure + " " + format_figure(t.figure, a) + " " + std::string(sign) + " " +
           format_figure(t.figure, t.limit);
  };
  if (t.figure == Figure::checks) {
    CheckFigures all;
    for (const auto& [name, c] : checks) {
      if (t.selector.empty() || name == t.selector) all += c;
    }
    if (!actual) {
      v.message = (t.selector.empty() ? std::string("no check was evaluated")
                                      : "check " + quoted + " was never evaluated") +
                  cannot;
    } else {
      v.message = relation(*actual) + " (" + format_count(all.passes) + " of " +
                  format_count(all.passes + all.failures) + " checks passed)";
    }
    return v;
  }
  const auto it = steps.find(t.selector);
  if (it == steps.end() || it->second.count == 0) {
    v.message = "step " + quoted + " never ran" + cannot;
    return v;
  }
  const auto& step = it->second;
  const std::string steps_text = format_count(step.count) + (step.count == 1 ? " step" : " steps");
  if (!actual) {
    v.message = figure + " has no samples: all " + steps_text + " failed (" +
                step_failures_text(step) + ")" + cannot;
    return v;
  }
  v.message =
      relation(*actual) + " (" + steps_text +
      (step.failures ? ", " + format_count(step.failures) + " failed: " + step_failures_text(step)
                     : std::string()) +
      ")";
  return v;
}

}  // namespace detail
}  // namespace wsload
