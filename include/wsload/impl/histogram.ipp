// Definitions for histogram.hpp. Kept by hand: HdrHistogram_c has no Debian package, and its
// compressed V2 format is a 40-byte header, varints and zlib (checked against hdr-histogram-js).
#pragma once

#include <wsload/detail/base64.hpp>

namespace wsload {

namespace detail {

// HdrHistogram's V2 encoding: a 40-byte big-endian header, then the counts as ZigZag
// LEB128 varints where a negative number -n stands for n consecutive zero counts.
inline constexpr std::int32_t hdr_v2_cookie = 0x1c849303 | 0x10;
inline constexpr std::int32_t hdr_v2_compressed_cookie = 0x1c849304 | 0x10;
inline constexpr std::size_t hdr_v2_header_size = 40;

inline void put_be(std::string& out, std::uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

inline std::uint64_t get_be(std::string_view in, std::size_t at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value = (value << 8) | static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)]);
  }
  return value;
}

// HdrHistogram's LEB128 variant: at most 9 bytes, the ninth carrying 8 full bits.
inline void put_zigzag(std::string& out, std::int64_t signed_value) {
  auto value = (static_cast<std::uint64_t>(signed_value) << 1) ^
               static_cast<std::uint64_t>(signed_value >> 63);
  for (int i = 0; i < 8; ++i) {
    if ((value >> 7) == 0) {
      out += static_cast<char>(value);
      return;
    }
    out += static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  out += static_cast<char>(value & 0xff);
}

inline bool get_zigzag(std::string_view in, std::size_t& at, std::int64_t& result) {
  std::uint64_t value = 0;
  for (int i = 0; i < 9; ++i) {
    if (at >= in.size()) return false;
    const auto byte = static_cast<unsigned char>(in[at++]);
    if (i == 8) {
      value |= std::uint64_t{byte} << 56;
      break;
    }
    value |= std::uint64_t{byte & 0x7fu} << (7 * i);
    if ((byte & 0x80) == 0) break;
  }
  result = static_cast<std::int64_t>(value >> 1) ^ -static_cast<std::int64_t>(value & 1);
  return true;
}

/// The sum of two packed_counts() of one layout, bucket by bucket, without unpacking
/// either: time linear in their sizes. Both must be well formed (from packed_counts()).
inline std::string merge_packed_counts(std::string_view a, std::string_view b) {
  // Reads the nonzero buckets of one payload in index order.
  struct Reader {
    std::string_view packed;
    std::size_t at = 0;
    std::size_t next_index = 0;
    std::size_t index = 0;
    std::int64_t count = 0;
    bool next() {
      std::int64_t value = 0;
      while (at < packed.size() && get_zigzag(packed, at, value)) {
        if (value < 0) {
          next_index += static_cast<std::size_t>(-value);
        } else if (value == 0) {
          ++next_index;
        } else {
          index = next_index++;
          count = value;
          return true;
        }
      }
      return false;
    }
  };
  Reader x{a};
  Reader y{b};
  bool in_x = x.next();
  bool in_y = y.next();
  std::string out;
  out.reserve(std::max(a.size(), b.size()) + 16);
  std::size_t written = 0;  // buckets written so far
  while (in_x || in_y) {
    const std::size_t index = !in_y || (in_x && x.index < y.index) ? x.index : y.index;
    std::int64_t count = 0;
    if (in_x && x.index == index) count += x.count, in_x = x.next();
    if (in_y && y.index == index) count += y.count, in_y = y.next();
    const auto zeros = static_cast<std::int64_t>(index - written);
    if (zeros > 0) put_zigzag(out, zeros > 1 ? -zeros : 0);
    put_zigzag(out, count);
    written = index + 1;
  }
  return out;
}

// Bounded, so a hostile "histogram" cannot inflate to gigabytes.
inline bool inflate_bounded(std::string_view in, std::string& out, std::size_t limit) {
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return false;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  char chunk[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    out.append(chunk, sizeof chunk - zs.avail_out);
    if (out.size() > limit || (rc == Z_BUF_ERROR && zs.avail_in == 0)) break;
  }
  inflateEnd(&zs);
  return rc == Z_STREAM_END && out.size() <= limit;
}

/// Why HdrHistogram's layout cannot take these bounds; empty when it can.
inline std::string histogram_layout_problem(std::int64_t lowest, std::int64_t highest,
                                            int significant_digits) {
  if (lowest < 1) return "the lowest value " + std::to_string(lowest) + " is not >= 1";
  if (highest / 2 < lowest) {
    return "the highest value " + std::to_string(highest) + " is not >= 2 x the lowest";
  }
  if (significant_digits < 0 || significant_digits > 5) {
    return std::to_string(significant_digits) + " significant digits are not 0 to 5";
  }
  return {};
}

}  // namespace detail

inline Histogram::Histogram(std::int64_t lowest, std::int64_t highest, int significant_digits)
    : lowest_(lowest), highest_(highest), digits_(significant_digits) {
  if (const auto problem = detail::histogram_layout_problem(lowest, highest, significant_digits);
      !problem.empty()) {
    throw ConfigError("histogram", "", problem);
  }
  std::int64_t largest_single_unit = 2;
  for (int i = 0; i < significant_digits; ++i) largest_single_unit *= 10;
  unit_magnitude_ = 63 - std::countl_zero(static_cast<std::uint64_t>(lowest));
  const int sub_bucket_count_magnitude =
      64 - std::countl_zero(static_cast<std::uint64_t>(largest_single_unit - 1));
  sub_bucket_half_count_magnitude_ = std::max(sub_bucket_count_magnitude, 1) - 1;
  sub_bucket_count_ = std::int64_t{1} << (sub_bucket_half_count_magnitude_ + 1);
  sub_bucket_half_count_ = sub_bucket_count_ / 2;
  sub_bucket_mask_ = (sub_bucket_count_ - 1) << unit_magnitude_;
  leading_zero_base_ = 64 - unit_magnitude_ - sub_bucket_half_count_magnitude_ - 1;

  std::int64_t smallest_untrackable = sub_bucket_count_ << unit_magnitude_;
  std::int64_t buckets = 1;
  while (smallest_untrackable <= highest) {
    if (smallest_untrackable > std::numeric_limits<std::int64_t>::max() / 2) {
      ++buckets;
      break;
    }
    smallest_untrackable <<= 1;
    ++buckets;
  }
  counts_.assign(static_cast<std::size_t>((buckets + 1) * sub_bucket_half_count_), 0);
}

inline std::int64_t Histogram::value_at_index(std::size_t index) const noexcept {
  auto bucket = static_cast<std::int64_t>(index >> sub_bucket_half_count_magnitude_) - 1;
  auto sub_bucket =
      static_cast<std::int64_t>(index & static_cast<std::size_t>(sub_bucket_half_count_ - 1)) +
      sub_bucket_half_count_;
  if (bucket < 0) {
    sub_bucket -= sub_bucket_half_count_;
    bucket = 0;
  }
  return sub_bucket << (bucket + unit_magnitude_);
}

inline std::int64_t Histogram::lowest_equivalent(std::int64_t value) const noexcept {
  return value_at_index(index_of(std::clamp<std::int64_t>(value, 0, highest_)));
}

inline std::int64_t Histogram::highest_equivalent(std::int64_t value) const noexcept {
  value = std::clamp<std::int64_t>(value, 0, highest_);
  const int bucket =
      leading_zero_base_ - std::countl_zero(static_cast<std::uint64_t>(value | sub_bucket_mask_));
  const auto sub_bucket = value >> (bucket + unit_magnitude_);
  const int adjusted = sub_bucket >= sub_bucket_count_ ? bucket + 1 : bucket;
  return lowest_equivalent(value) + (std::int64_t{1} << (unit_magnitude_ + adjusted)) - 1;
}

inline void Histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
  sum_ = 0;
  min_ = std::numeric_limits<std::int64_t>::max();
  max_ = 0;
}

inline void Histogram::merge(const Histogram& other) {
  if (other.total_ == 0) return;
  if (same_layout(other)) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    sum_ += other.sum_;
  } else {
    const double sum_before = sum_;
    for (std::size_t i = 0; i < other.counts_.size(); ++i) {
      if (other.counts_[i] == 0) continue;
      const auto low = other.value_at_index(i);
      record(low + (other.highest_equivalent(low) - low + 1) / 2, other.counts_[i]);
    }
    sum_ = sum_before + other.sum_;
  }
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

inline double Histogram::stddev() const {
  if (total_ == 0) return 0.0;
  const double mu = mean();
  double squares = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    const auto low = value_at_index(i);
    const double mid = static_cast<double>(low + (highest_equivalent(low) - low + 1) / 2);
    squares += (mid - mu) * (mid - mu) * static_cast<double>(counts_[i]);
  }
  return std::sqrt(squares / static_cast<double>(total_));
}

inline std::int64_t Histogram::value_at_percentile(double percentile) const noexcept {
  if (total_ == 0) return 0;
  percentile = std::clamp(percentile, 0.0, 100.0);
  auto rank = static_cast<std::int64_t>(percentile / 100.0 * static_cast<double>(total_) + 0.5);
  rank = std::max<std::int64_t>(rank, 1);
  std::int64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(highest_equivalent(value_at_index(i)), min(), max());
  }
  return max();
}

inline std::string Histogram::packed_counts() const {
  std::string payload;
  const std::size_t limit = total_ ? index_of(max_) + 1 : 0;
  for (std::size_t i = 0; i < limit;) {
    if (counts_[i] != 0) {
      detail::put_zigzag(payload, counts_[i++]);
      continue;
    }
    std::int64_t zeros = 0;
    while (i < limit && counts_[i] == 0) ++zeros, ++i;
    detail::put_zigzag(payload, zeros > 1 ? -zeros : 0);
  }
  return payload;
}

inline std::string_view Histogram::add_packed_counts(std::string_view packed) noexcept {
  std::size_t at = 0;
  std::size_t index = 0;
  while (at < packed.size()) {
    std::int64_t value = 0;
    if (!detail::get_zigzag(packed, at, value)) return "payload truncated";
    if (value < 0) {
      if (-value > static_cast<std::int64_t>(counts_.size() - index)) return "bad zero run";
      index += static_cast<std::size_t>(-value);
      continue;
    }
    if (index >= counts_.size()) return "more counts than the layout holds";
    if (value > static_cast<std::int64_t>(max_exact_count) - total_) {
      return "more than 2^53 samples, more than a summary can count exactly";
    }
    if (value > 0) {
      counts_[index] += value;
      total_ += value;
      const auto low = value_at_index(index);
      const auto high = highest_equivalent(low);
      min_ = std::min(min_, low);
      max_ = std::max(max_, high);
      sum_ += static_cast<double>(low + (high - low + 1) / 2) * static_cast<double>(value);
    }
    ++index;
  }
  return {};
}

inline std::string Histogram::encode() const {
  const std::string payload = packed_counts();
  std::string raw;
  detail::put_be(raw, static_cast<std::uint32_t>(detail::hdr_v2_cookie), 4);
  detail::put_be(raw, payload.size(), 4);
  detail::put_be(raw, 0, 4);  // normalizing index offset
  detail::put_be(raw, static_cast<std::uint64_t>(digits_), 4);
  detail::put_be(raw, static_cast<std::uint64_t>(lowest_), 8);
  detail::put_be(raw, static_cast<std::uint64_t>(highest_), 8);
  detail::put_be(raw, std::bit_cast<std::uint64_t>(1.0), 8);  // integer-to-double ratio
  raw += payload;

  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size,
            reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()),
            Z_DEFAULT_COMPRESSION);
  packed.resize(packed_size);
  std::string framed;
  detail::put_be(framed, static_cast<std::uint32_t>(detail::hdr_v2_compressed_cookie), 4);
  detail::put_be(framed, packed.size(), 4);
  return detail::base64_encode(framed + packed);
}

inline Histogram Histogram::decode(std::string_view base64, const std::string& field) {
  auto fail = [&](const std::string& reason) -> Histogram {
    throw ConfigError(field, std::string(base64.substr(0, 24)),
                      "not an HdrHistogram compressed V2 histogram: " + reason);
  };
  const auto bytes = detail::base64_decode(base64);
  if (!bytes) return fail("invalid base64");
  if (bytes->size() < 8) return fail("too short");
  const auto cookie = static_cast<std::int32_t>(detail::get_be(*bytes, 0, 4));
  if ((cookie & ~0xf0) != (detail::hdr_v2_compressed_cookie & ~0xf0)) {
    return fail("unknown cookie (only the compressed V2 encoding is read)");
  }
  const auto packed_size = detail::get_be(*bytes, 4, 4);
  if (packed_size > bytes->size() - 8) return fail("truncated");
  std::string raw;
  if (!detail::inflate_bounded(std::string_view(*bytes).substr(8, packed_size), raw, 64 << 20)) {
    return fail("corrupt compressed data");
  }
  if (raw.size() < detail::hdr_v2_header_size) return fail("header truncated");
  if ((static_cast<std::int32_t>(detail::get_be(raw, 0, 4)) & ~0xf0) !=
      (detail::hdr_v2_cookie & ~0xf0)) {
    return fail("unknown inner cookie");
  }
  const auto payload_size = detail::get_be(raw, 4, 4);
  if (payload_size > raw.size() - detail::hdr_v2_header_size) return fail("payload truncated");
  // Bytes 8..11 (normalizing index offset) and 32..39 (integer-to-double ratio) do not
  // change the counts of a plain histogram; writers disagree on them (hdr-histogram-js
  // writes 1 and an integer 1), so they are ignored, as non-shifting readers do.
  const auto digits = static_cast<int>(detail::get_be(raw, 12, 4));
  const auto lowest = static_cast<std::int64_t>(detail::get_be(raw, 16, 8));
  const auto highest = static_cast<std::int64_t>(detail::get_be(raw, 24, 8));
  if (const auto problem = detail::histogram_layout_problem(lowest, highest, digits);
      !problem.empty()) {
    return fail(problem);
  }
  Histogram h(lowest, highest, digits);

  const std::string_view payload =
      std::string_view(raw).substr(detail::hdr_v2_header_size, payload_size);
  if (const auto wrong = h.add_packed_counts(payload); !wrong.empty()) {
    return fail(std::string(wrong));
  }
  return h;
}

}  // namespace wsload
