// Per-second figures of a run, so that a regression that shows only after a minute, or
// only while a stage ramps up, is visible and can be held to a threshold.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include <wsload/histogram.hpp>
#include <wsload/thresholds.hpp>

namespace wsload {

namespace detail {

/// A latency figure of `h` (microseconds) in seconds; empty when it has no samples.
inline std::optional<double> latency_figure(const Histogram& h, const Threshold& t) {
  if (h.empty()) return std::nullopt;
  switch (t.figure) {
    case Figure::latency_min:
      return static_cast<double>(h.min()) / 1e6;
    case Figure::latency_max:
      return static_cast<double>(h.max()) / 1e6;
    case Figure::latency_percentile:
      return static_cast<double>(h.value_at_percentile(t.percentile)) / 1e6;
    default:
      return h.mean() / 1e6;
  }
}

}  // namespace detail

/// The requests that ended within one second of a run (or several, merged).
struct Interval {
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  double seconds = 1;  ///< how long it spans
  /// Microseconds, two significant digits: 1 % is plenty within a second, and a long
  /// run keeps one of these a second.
  Histogram latency{1, Histogram::default_highest, 2};

  std::uint64_t requests() const noexcept { return succeeded + failed; }

  void merge(const Interval& other) {
    succeeded += other.succeeded;
    failed += other.failed;
    latency.merge(other.latency);
  }

  /// The value of a threshold's figure over this interval; empty without samples.
  std::optional<double> figure(const Threshold& t) const {
    if (requests() == 0) return std::nullopt;
    if (detail::is_latency(t.figure)) return detail::latency_figure(latency, t);
    const double n = static_cast<double>(requests());
    switch (t.figure) {
      case Figure::rps:
        return static_cast<double>(succeeded) / seconds;
      case Figure::success_rate:
        return 100.0 * static_cast<double>(succeeded) / n;
      case Figure::errors:
        return static_cast<double>(failed);
      case Figure::requests:
        return n;
      default:
        return std::nullopt;
    }
  }
};

/// One Interval per second since the measurement began.
class TimeSeries {
 public:
  /// A request that ended `second` seconds in (whole seconds since the start).
  void record(std::size_t second, std::int64_t latency_us) {
    auto& i = at(second);
    ++i.succeeded;
    i.latency.record(latency_us);
  }
  void fail(std::size_t second, std::uint64_t requests) {
    if (requests > 0) at(second).failed += requests;
  }
  /// Adds `other`, whose first second is second `offset` of this series.
  void merge(const TimeSeries& other, std::size_t offset = 0) {
    if (other.empty()) return;
    if (offset + other.seconds_.size() > seconds_.size()) {
      seconds_.resize(offset + other.seconds_.size());
    }
    for (std::size_t s = 0; s < other.seconds_.size(); ++s) {
      seconds_[offset + s].merge(other.seconds_[s]);
    }
  }
  const std::vector<Interval>& seconds() const noexcept { return seconds_; }
  std::vector<Interval>& seconds() noexcept { return seconds_; }
  bool empty() const noexcept { return seconds_.empty(); }

  /// Seconds [first, first + length) merged; the last window may be shorter.
  Interval window(std::size_t first, std::size_t length) const {
    Interval w;
    w.seconds = 0;
    for (std::size_t s = first; s < first + length && s < seconds_.size(); ++s) {
      w.merge(seconds_[s]);
      w.seconds += 1;
    }
    return w;
  }

 private:
  Interval& at(std::size_t second) {
    // Bounded by the run's own deadline; a week of seconds at most.
    constexpr std::size_t longest = 7 * 24 * 3600;
    second = std::min(second, longest);
    if (second >= seconds_.size()) seconds_.resize(second + 1);
    return seconds_[second];
  }

  std::vector<Interval> seconds_;
};

/// Judges a threshold on every `window`-second window of `series`: it passes when every
/// window with requests passes. The verdict shows the worst window and where it was.
inline Verdict evaluate_windows(const Threshold& t, const TimeSeries& series) {
  const auto length = static_cast<std::size_t>(t.window);
  const bool upper = t.comparison == Comparison::less || t.comparison == Comparison::less_equal;
  std::optional<Verdict> worst;
  std::size_t worst_at = 0;
  std::size_t windows = 0;
  std::size_t failed = 0;
  for (std::size_t first = 0; first < series.seconds().size(); first += length) {
    const auto value = series.window(first, length).figure(t);
    if (!value) continue;
    ++windows;
    auto verdict = evaluate(t, value);
    if (!verdict.passed) ++failed;
    const bool worse = !worst || (worst->passed && !verdict.passed) ||
                       (worst->passed == verdict.passed &&
                        (upper ? *value > *worst->actual : *value < *worst->actual));
    if (worse) {
      worst = std::move(verdict);
      worst_at = first;
    }
  }
  if (!worst) {
    Verdict none = evaluate(t, std::nullopt);
    none.message = detail::figure_name(t) + " has no window with requests, so '" + t.expression +
                   "' cannot be met";
    return none;
  }
  const auto end = std::min(worst_at + length, series.seconds().size());
  worst->message += " in the window " + std::to_string(worst_at) + "-" + std::to_string(end) +
                    " s (" + std::to_string(failed) + " of " + std::to_string(windows) +
                    " windows failed)";
  return *worst;
}

}  // namespace wsload
