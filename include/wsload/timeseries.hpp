// Per-second figures of a run, so that a regression that shows only after a minute, or
// only while a stage ramps up, is visible and can be held to a threshold (its JSON:
// results/time_series_json.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include <wsload/errors.hpp>
#include <wsload/histogram.hpp>
#include <wsload/thresholds.hpp>

namespace wsload {

namespace detail {

/// A latency figure of `h` (microseconds) in seconds (values over `per_unit`: 1e3 for
/// millitokens/s); empty when it has no samples.
inline std::optional<double> latency_figure(const Histogram& h, const Threshold& t,
                                            double per_unit = 1e6) {
  if (h.empty()) return std::nullopt;
  switch (t.figure) {
    case Figure::latency_min:
      return static_cast<double>(h.min()) / per_unit;
    case Figure::latency_max:
      return static_cast<double>(h.max()) / per_unit;
    case Figure::latency_percentile:
      return static_cast<double>(h.value_at_percentile(t.percentile)) / per_unit;
    default:
      return h.mean() / per_unit;
  }
}

}  // namespace detail

/// The requests that ended within one second of a run.
struct SecondCounts {
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;

  std::uint64_t requests() const noexcept { return succeeded + failed; }
};

/// The requests that ended within one interval of a run (a second or more), with their
/// latency.
struct Interval {
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  double seconds = 1;  ///< how long it spans
  /// Microseconds, two significant digits: 1 % is plenty within an interval, and a long
  /// run keeps many of these.
  static constexpr int latency_digits = 2;
  Histogram latency{1, Histogram::default_highest, latency_digits};

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

/// A run's figures over time, in memory flat in its length: the counts of every second
/// (16 bytes each), and latency per interval of resolution() seconds, at most
/// max_intervals of them. A longer series merges adjacent intervals (1 s, 2 s, 4 s...),
/// but never past what keep_windows() asks, so a latency window is always whole intervals.
/// The engine records into one series per thread and merges them at the end.
class TimeSeries {
 public:
  /// Latency intervals kept before adjacent ones merge: an hour of seconds.
  static constexpr std::size_t max_intervals = 3600;
  /// Seconds a series spans at most, a week: a later request counts in its last second.
  static constexpr std::size_t longest = 7 * 24 * 3600;

  /// A request that ended `second` seconds in (whole seconds since the start).
  void record(std::size_t second, std::int64_t latency_us) {
    second = std::min(second, longest - 1);
    extend(second + 1);
    ++seconds_[second].succeeded;
    const auto index = second / resolution_;
    if (index == sealed_.size()) {
      open_.record(latency_us);  // the interval being recorded: the common case
    } else {
      change_latency(index, [&](Histogram& h) { h.record(latency_us); });
    }
  }
  void fail(std::size_t second, std::uint64_t requests) {
    if (requests == 0) return;
    second = std::min(second, longest - 1);
    extend(second + 1);
    seconds_[second].failed += requests;
  }

  /// Keeps latency intervals fine enough that every window of these thresholds (those of
  /// a latency figure with `over`) is a whole number of them. Call it before recording:
  /// intervals already merged cannot be split again.
  void keep_windows(const std::vector<Threshold>& thresholds) {
    for (const auto& t : thresholds) {
      if (t.window >= 1 && detail::is_latency(t.figure)) {
        window_gcd_ = std::gcd(window_gcd_, static_cast<std::size_t>(t.window));
      }
    }
    if (next_resolution_ != 0 && next_resolution_ != coarser()) drop_next_level();
  }

  /// Adds `other`, whose first second is second `offset` of this series. Counts land on
  /// their seconds; a latency interval of `other` in the interval of this series where it
  /// begins (exact when `offset` is a multiple of resolution()).
  void merge(const TimeSeries& other, std::size_t offset = 0) {
    if (other.empty()) return;
    const auto common = std::lcm(resolution_, other.resolution_);
    if (common != resolution_) coarsen_to(common);
    add_counts(offset, other.seconds_);
    for (std::size_t k = 0; k < other.intervals(); ++k) {
      Histogram latency = interval_layout();
      other.add_latency_of(k, latency);
      if (latency.empty()) continue;
      const auto first = std::min(offset + k * other.resolution_, longest - 1);
      change_latency(first / resolution_, [&](Histogram& h) { h.merge(latency); });
    }
  }

  /// Adds the requests of seconds [first, first + counts.size()) and their latency (in the
  /// interval where they begin), as read back from a summary.
  void add(std::size_t first, const std::vector<SecondCounts>& counts, const Histogram& latency) {
    if (counts.empty()) return;
    add_counts(first, counts);
    if (!latency.empty()) {
      change_latency(std::min(first, longest - 1) / resolution_,
                     [&](Histogram& h) { h.merge(latency); });
    }
  }

  /// Merges intervals into ones of `seconds` (a multiple of resolution()), as a series
  /// read back at that resolution was recorded.
  void coarsen_to(std::size_t seconds) {
    if (seconds <= resolution_ || seconds % resolution_ != 0) return;
    if (seconds == next_resolution_) {
      step_up();
      return;
    }
    seal_open();
    sealed_ = merged_groups(seconds / resolution_, sealed_.size());
    resolution_ = seconds;
    drop_next_level();
    reopen_last();
  }

  /// The counts of every second since the start, exactly.
  const std::vector<SecondCounts>& seconds() const noexcept { return seconds_; }
  bool empty() const noexcept { return seconds_.empty(); }
  /// Seconds per latency interval.
  std::size_t resolution() const noexcept { return resolution_; }
  /// Latency intervals: the seconds in resolution() steps, the last maybe shorter.
  std::size_t intervals() const noexcept {
    return (seconds_.size() + resolution_ - 1) / resolution_;
  }
  /// Latency interval `index`, seconds [index * resolution(), ...) with their counts.
  Interval interval(std::size_t index) const { return window(index * resolution_, resolution_); }

  /// Seconds [first, first + length) merged; the last window may be shorter. Its counts
  /// are exact; its latency, unless `with_latency` is false, that of every interval it
  /// overlaps.
  Interval window(std::size_t first, std::size_t length, bool with_latency = true) const {
    Interval w;
    w.seconds = 0;
    const auto end = std::min(first + length, seconds_.size());
    for (std::size_t s = first; s < end; ++s) {
      w.succeeded += seconds_[s].succeeded;
      w.failed += seconds_[s].failed;
      w.seconds += 1;
    }
    if (with_latency && first < end) {
      for (std::size_t k = first / resolution_; k <= (end - 1) / resolution_; ++k) {
        add_latency_of(k, w.latency);
      }
    }
    return w;
  }

 private:
  /// A closed interval's latency: the counts packed (a byte or two per occupied bucket),
  /// with the exact figures packing loses.
  struct PackedLatency {
    std::string counts;  ///< Histogram::packed_counts() of the interval layout
    std::int64_t min = 0;
    std::int64_t max = 0;
    double sum = 0;
  };

  static Histogram interval_layout() {
    return Histogram(1, Histogram::default_highest, Interval::latency_digits);
  }
  static PackedLatency pack(const Histogram& h) {
    return {h.packed_counts(), h.min(), h.max(), h.sum()};
  }
  static Histogram unpack(const PackedLatency& p) {
    Histogram h = interval_layout();
    if (!p.counts.empty()) {
      h.add_packed_counts(p.counts);
      h.restore_exact(p.min, p.max, p.sum);
    }
    return h;
  }

  void add_latency_of(std::size_t index, Histogram& into) const {
    if (index < sealed_.size()) {
      if (!sealed_[index].counts.empty()) into.merge(unpack(sealed_[index]));
    } else if (index == sealed_.size()) {
      into.merge(open_);
    }
  }

  /// Applies `change` to interval `index`'s latency: the open one, a later one (closing
  /// those before it), or an earlier one (unpacked and packed again; rare: a request that
  /// ended just before its thread went on to the next interval), and to the next level's.
  template <class Change>
  void change_latency(std::size_t index, Change&& change) {
    if (index >= sealed_.size()) {
      while (sealed_.size() < index) seal_open();
      change(open_);
      return;
    }
    const auto repack = [&](PackedLatency& packed) {
      Histogram h = unpack(packed);
      change(h);
      packed = pack(h);
    };
    repack(sealed_[index]);
    if (index < folded_) repack(next_[index / (next_resolution_ / resolution_)]);
  }

  void seal_open() {
    sealed_.push_back(pack(open_));
    if (!open_.empty()) open_.reset();
    // From half the bound on, each closed interval folds two groups into the next level,
    // which is then whole when the bound is reached: coarsening never stalls a thread.
    if (sealed_.size() >= max_intervals / 2) fold(2);
  }

  /// Merges up to `groups` more groups of closed intervals into the next level.
  void fold(std::size_t groups) {
    if (next_resolution_ == 0) next_resolution_ = coarser();
    if (next_resolution_ == resolution_) return;  // no coarser level to keep
    const auto group = next_resolution_ / resolution_;
    for (; groups > 0 && folded_ + group <= sealed_.size(); --groups, folded_ += group) {
      next_.push_back(merged(folded_, folded_ + group));
    }
  }

  /// Intervals [first, end) of sealed_ as one, merged packed as they are.
  PackedLatency merged(std::size_t first, std::size_t end) const {
    PackedLatency sum = sealed_[first];
    for (std::size_t k = first + 1; k < end; ++k) {
      const auto& next = sealed_[k];
      if (next.counts.empty()) continue;
      if (sum.counts.empty()) {
        sum = next;
        continue;
      }
      sum.counts = detail::merge_packed_counts(sum.counts, next.counts);
      sum.min = std::min(sum.min, next.min);
      sum.max = std::max(sum.max, next.max);
      sum.sum += next.sum;
    }
    return sum;
  }

  /// sealed_[0, end) in groups of `group` intervals.
  std::vector<PackedLatency> merged_groups(std::size_t group, std::size_t end) const {
    std::vector<PackedLatency> groups;
    groups.reserve((end + group - 1) / group);
    for (std::size_t first = 0; first < end; first += group) {
      groups.push_back(merged(first, std::min(first + group, end)));
    }
    return groups;
  }

  /// Makes the next level the series': what is left to fold is a group at most, which
  /// becomes the open interval with what it held.
  void step_up() {
    fold(sealed_.size());
    const auto group = next_resolution_ / resolution_;
    Histogram tail = interval_layout();
    for (std::size_t k = folded_; k < sealed_.size(); ++k) {
      if (!sealed_[k].counts.empty()) tail.merge(unpack(sealed_[k]));
    }
    tail.merge(open_);
    sealed_ = std::move(next_);
    open_ = std::move(tail);
    resolution_ *= group;
    drop_next_level();
  }

  void drop_next_level() {
    next_.clear();
    folded_ = 0;
    next_resolution_ = 0;
  }

  /// The last closed interval is the one still being recorded (after a coarsening).
  void reopen_last() {
    if (sealed_.empty()) return;
    open_ = unpack(sealed_.back());
    sealed_.pop_back();
  }

  /// Adds `counts` to seconds [first, ...); those past the longest span to its last second.
  void add_counts(std::size_t first, const std::vector<SecondCounts>& counts) {
    extend(std::min(first + counts.size(), longest));
    for (std::size_t s = 0; s < counts.size(); ++s) {
      auto& mine = seconds_[std::min(first + s, longest - 1)];
      mine.succeeded += counts[s].succeeded;
      mine.failed += counts[s].failed;
    }
  }

  /// Grows the series to `size` seconds, merging intervals when it outgrows max_intervals.
  void extend(std::size_t size) {
    if (size <= seconds_.size()) return;
    seconds_.resize(size);
    while (intervals() > max_intervals) {
      const auto next = coarser();
      if (next == resolution_) break;
      coarsen_to(next);
    }
  }

  /// The next resolution: twice this one, or with windows to keep, the next that divides
  /// them all (this one when there is none).
  std::size_t coarser() const noexcept {
    if (window_gcd_ == 0 || window_gcd_ % resolution_ != 0) return resolution_ * 2;
    for (auto next = resolution_ * 2; next <= window_gcd_; next += resolution_) {
      if (window_gcd_ % next == 0) return next;
    }
    return resolution_;
  }

  std::vector<SecondCounts> seconds_;
  std::vector<PackedLatency> sealed_;   ///< latency intervals [0, sealed_.size())
  Histogram open_ = interval_layout();  ///< interval sealed_.size(), being recorded
  std::size_t resolution_ = 1;
  std::size_t window_gcd_ = 0;  ///< of the latency windows to keep whole; 0: none
  /// The next level: sealed_[0, folded_) merged into intervals of next_resolution_ (0:
  /// not chosen yet; resolution_: none), built as intervals close.
  std::vector<PackedLatency> next_;
  std::size_t next_resolution_ = 0;
  std::size_t folded_ = 0;
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
  const bool latency = detail::is_latency(t.figure);
  for (std::size_t first = 0; first < series.seconds().size(); first += length) {
    const auto value = series.window(first, length, latency).figure(t);
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
  if (latency && length % series.resolution() != 0) {
    // A series merged from coarser ones, or read back so: say what was judged.
    worst->message += "; latency is kept per " + std::to_string(series.resolution()) +
                      " s here, so each window was judged on the intervals it overlaps";
  }
  return *worst;
}

}  // namespace wsload
