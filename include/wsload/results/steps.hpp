#pragma once
#include <wsload/histogram.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
namespace wsload {
/// One named step's figures: each attempt counted, latency/ttfb in microseconds.
struct StepFigures {
  std::uint64_t count = 0;     ///< attempts that ended (success or failure)
  std::uint64_t failures = 0;  ///< of them, failed
  std::map<std::string, std::uint64_t, std::less<>> failures_by_kind;  ///< "timeout", "closed", "check", "error_frame", "send"
  Histogram latency;  ///< microseconds, step start to its completing frame
  Histogram ttfb;     ///< microseconds, step start to the first frame after it
  void record_success(std::int64_t latency_us, std::int64_t ttfb_us) { ++count; latency.record(latency_us); ttfb.record(ttfb_us); }
  void record_failure(std::string_view kind) { ++count; ++failures; ++failures_by_kind[std::string(kind)]; }
  StepFigures& operator+=(const StepFigures& other);
};
struct CheckFigures { std::uint64_t passes = 0; std::uint64_t failures = 0; CheckFigures& operator+=(const CheckFigures& other); };
using StepTable = std::map<std::string, StepFigures, std::less<>>;
using CheckTable = std::map<std::string, CheckFigures, std::less<>>;
}  // namespace wsload
