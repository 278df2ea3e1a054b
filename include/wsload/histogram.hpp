// Latency histogram with HdrHistogram's bucket layout and its compressed V2 encoding.
// Kept by hand: HdrHistogram_c has no Debian package (only Java and Go implementations do).
//
// Layout (as HdrHistogram defines it): values are integers; with S significant digits the
// first bucket holds 2^ceil(log2(2*10^S)) sub-buckets of width 1 << unit_magnitude, and
// each further bucket covers twice the range with half-sub-buckets twice as wide. Any
// value is therefore stored with a relative error below 10^-S. Counts live in one flat
// array, so recording is O(1) and merging two histograms of one layout is an addition.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <zlib.h>

#include <wsload/errors.hpp>

namespace wsload {

/// The largest count read from a file: 2^53, the largest integer every JSON reader (a
/// double) keeps exactly. Sums of thousands of such counts still fit in 64 bits.
inline constexpr std::uint64_t max_exact_count = std::uint64_t{1} << 53;

/// Integer-valued histogram compatible with HdrHistogram (same layout and encoding).
/// wsload records latencies in microseconds with the default layout: 1 us to 1 h,
/// 3 significant digits (at most 0.1 % relative error on any percentile).
/// Not thread-safe: the engine keeps one per thread and merges them at the end.
class Histogram {
 public:
  static constexpr std::int64_t default_lowest = 1;
  static constexpr std::int64_t default_highest = 3'600'000'000;  // 1 h in us
  static constexpr int default_significant_digits = 3;

  /// Throws ConfigError when lowest < 1, highest < 2 * lowest or digits outside 0..5.
  explicit Histogram(std::int64_t lowest = default_lowest, std::int64_t highest = default_highest,
                     int significant_digits = default_significant_digits);

  /// Records `count` occurrences of `value`. Values above highest() are clamped to it and
  /// negative values to 0 (a latency cannot be negative; a clock step must not crash).
  void record(std::int64_t value, std::int64_t count = 1) noexcept {
    value = std::clamp<std::int64_t>(value, 0, highest_);
    counts_[index_of(value)] += count;
    total_ += count;
    sum_ += static_cast<double>(value) * static_cast<double>(count);
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }

  /// Adds every count of `other`. Lossless when both have the same layout; otherwise each
  /// bucket of `other` is recorded at its median value (within this layout's precision).
  void merge(const Histogram& other);

  void reset() noexcept;

  std::int64_t count() const noexcept { return total_; }
  bool empty() const noexcept { return total_ == 0; }
  /// Exact minimum and maximum recorded (0 when empty). After decode(), the bucket bounds.
  std::int64_t min() const noexcept { return total_ ? min_ : 0; }
  std::int64_t max() const noexcept { return total_ ? max_ : 0; }
  /// Exact mean of recorded values (0 when empty). After decode(), from bucket midpoints.
  double mean() const noexcept { return total_ ? sum_ / static_cast<double>(total_) : 0.0; }
  double sum() const noexcept { return sum_; }
  /// Standard deviation from bucket midpoints around the mean, as HdrHistogram computes it.
  double stddev() const;

  /// The value at `percentile` (0..100): the highest value equivalent to the bucket holding
  /// that rank, as HdrHistogram reports it, clamped to the exact [min, max]. 0 when empty.
  std::int64_t value_at_percentile(double percentile) const noexcept;

  std::int64_t lowest() const noexcept { return lowest_; }
  std::int64_t highest() const noexcept { return highest_; }
  int significant_digits() const noexcept { return digits_; }
  /// Smallest and largest value that share `value`'s bucket.
  std::int64_t lowest_equivalent(std::int64_t value) const noexcept;
  std::int64_t highest_equivalent(std::int64_t value) const noexcept;

  /// Overrides the exact statistics after a decode (the encoding carries only counts).
  void restore_exact(std::int64_t min, std::int64_t max, double sum) noexcept {
    if (total_ == 0) return;
    min_ = min;
    max_ = max;
    sum_ = sum;
  }

  /// HdrHistogram's compressed V2 encoding, base64 ("HISTF..."), readable by HdrHistogram
  /// libraries in Java, C, Go, Python, JavaScript...
  std::string encode() const;

  /// The counts alone, as the V2 encoding's payload (ZigZag LEB128 varints, a run of zeros
  /// as its negative length) without header, compression or base64: about a byte per
  /// occupied bucket, for holding many histograms of one known layout. "" when empty.
  std::string packed_counts() const;
  /// Adds counts from packed_counts() of a histogram of this layout; min, max and sum
  /// follow from their buckets, as after decode(). Returns "" or what is wrong with
  /// `packed` (the counts read until then stay added).
  std::string_view add_packed_counts(std::string_view packed) noexcept;

  /// Decodes a compressed V2 base64 string. Throws ConfigError (field `field`) when the
  /// text is not base64, not V2, truncated or corrupt, or counts more than max_exact_count.
  static Histogram decode(std::string_view base64, const std::string& field = "histogram");

  bool same_layout(const Histogram& other) const noexcept {
    return lowest_ == other.lowest_ && highest_ == other.highest_ && digits_ == other.digits_;
  }
  /// Counts per index, for tests and exporters.
  const std::vector<std::int64_t>& counts() const noexcept { return counts_; }
  /// The smallest value stored at counts()[index].
  std::int64_t value_at_index(std::size_t index) const noexcept;

 private:
  std::size_t index_of(std::int64_t value) const noexcept {
    const int bucket =
        leading_zero_base_ - std::countl_zero(static_cast<std::uint64_t>(value | sub_bucket_mask_));
    const auto sub_bucket = value >> (bucket + unit_magnitude_);
    return static_cast<std::size_t>(
        ((static_cast<std::int64_t>(bucket) + 1) << sub_bucket_half_count_magnitude_) +
        (sub_bucket - sub_bucket_half_count_));
  }

  std::int64_t lowest_;
  std::int64_t highest_;
  int digits_;
  int unit_magnitude_ = 0;
  int sub_bucket_half_count_magnitude_ = 0;
  std::int64_t sub_bucket_count_ = 0;
  std::int64_t sub_bucket_half_count_ = 0;
  std::int64_t sub_bucket_mask_ = 0;
  int leading_zero_base_ = 0;
  std::vector<std::int64_t> counts_;
  std::int64_t total_ = 0;
  double sum_ = 0;
  std::int64_t min_ = std::numeric_limits<std::int64_t>::max();
  std::int64_t max_ = 0;
};

}  // namespace wsload

#include <wsload/impl/histogram.ipp>
