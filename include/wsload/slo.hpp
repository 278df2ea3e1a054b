// Per-request service-level objectives (--slo 'ttft<500ms,tpot<50ms,latency<5s'): a
// request that meets every one counts toward goodput.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <wsload/errors.hpp>
#include <wsload/thresholds.hpp>

namespace wsload {

/// Limits one request's figures must stay under, in microseconds; none set: no goodput.
struct Slo {
  std::optional<std::int64_t> ttft, tpot, latency;

  bool any() const noexcept { return ttft || tpot || latency; }

  /// Whether a reply of these figures (microseconds; tpot empty for a reply of one token)
  /// meets every limit. A ttft limit is missed by a reply without a first token.
  bool met(std::int64_t latency_us, std::optional<std::int64_t> ttft_us,
           std::optional<std::int64_t> tpot_us) const noexcept {
    if (latency && latency_us >= *latency) return false;
    if (ttft && (!ttft_us || *ttft_us >= *ttft)) return false;
    if (tpot && tpot_us && *tpot_us >= *tpot) return false;
    return true;
  }

  /// Comma-separated "ttft<500ms", "tpot<50ms", "latency<5s" (each at most once; units us,
  /// ms, s). Throws ConfigError (field "slo") naming the part.
  static Slo parse(std::string_view text) {
    Slo slo;
    while (!text.empty()) {
      const auto comma = text.find(',');
      const std::string part(text.substr(0, comma));
      text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
      const auto lt = part.find('<');
      const std::string name = part.substr(0, lt);
      std::optional<std::int64_t>* limit = name == "ttft"      ? &slo.ttft
                                           : name == "tpot"    ? &slo.tpot
                                           : name == "latency" ? &slo.latency
                                                               : nullptr;
      if (!limit || lt == std::string::npos || part[lt + 1] == '=' || *limit) {
        throw ConfigError("slo", part,
                          "expected ttft<LIMIT, tpot<LIMIT or latency<LIMIT, each once, "
                          "comma-separated, e.g. 'ttft<500ms,tpot<50ms,latency<5s'");
      }
      // The limit's number and unit, read as a latency threshold's.
      const Threshold t = parse_threshold("max<" + part.substr(lt + 1));
      *limit = static_cast<std::int64_t>(t.limit * 1e6 + 0.5);
    }
    return slo;
  }
};

}  // namespace wsload
