// The progress line of a run on stderr: a bar on a terminal, plain lines in a CI log.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>

#include <wsload/engine.hpp>
#include <wsload/results/summary.hpp>
#include <wsload/thresholds.hpp>

namespace wsload::cli::detail {

/// Progress on stderr: one self-updating line with a bar on a terminal; a plain line
/// every `every` elsewhere (CI logs keep every line, so no control characters there).
class ProgressPrinter {
 public:
  ProgressPrinter(std::FILE* stream, bool terminal, Seconds every)
      : stream_(stream), terminal_(terminal), every_(every) {}

  void operator()(const Progress& p) {
    // A run bounded by time has no count to reach: its fraction is of its time.
    const double fraction = p.expected
                                ? static_cast<double>(p.done) / static_cast<double>(p.expected)
                            : p.planned.count() ? std::min(1.0, p.elapsed / p.planned)
                                                : 0;
    const std::string count =
        std::to_string(p.done) + (p.expected ? "/" + std::to_string(p.expected) : "");
    // Live latency of the last interval, and where an open loop's schedule stands.
    std::string live;
    if (p.latency_p50) {
      live += "  p50 " + wsload::detail::format_ms(*p.latency_p50) + " ms  p99 " +
              wsload::detail::format_ms(*p.latency_p99) + " ms";
    }
    if (p.target_rate > 0 || p.stages > 0) {
      live += "  target " + wsload::detail::format_number(p.target_rate, 0) + " req/s";
      if (p.stages > 0) {
        live += " (stage " + std::to_string(p.stage) + "/" + std::to_string(p.stages) + ")";
      }
    }
    if (terminal_) {
      constexpr int width = 24;
      const int filled = static_cast<int>(fraction * width);
      std::string bar(static_cast<std::size_t>(filled), '#');
      bar.resize(width, '-');
      // \x1b[K clears what a longer previous line left behind.
      std::fprintf(stream_, "\r[%s] %s  %.0f req/s%s  %llu errors  %.1f s\x1b[K", bar.c_str(),
                   count.c_str(), p.rate, live.c_str(), static_cast<unsigned long long>(p.failed),
                   p.elapsed.count());
      drawn_ = true;
    } else if (p.elapsed - last_ >= every_) {
      last_ = p.elapsed;
      std::fprintf(stream_, "progress: %s requests (%.1f %%), %.0f req/s%s, %llu errors, %.1f s\n",
                   count.c_str(), fraction * 100, p.rate, live.c_str(),
                   static_cast<unsigned long long>(p.failed), p.elapsed.count());
    }
    std::fflush(stream_);
  }

  /// Clears the terminal line so the summary starts on a clean one.
  void finish() {
    if (drawn_) std::fprintf(stream_, "\r\x1b[K");
    std::fflush(stream_);
  }

 private:
  std::FILE* stream_;
  bool terminal_;
  Seconds every_;
  Seconds last_{0};
  bool drawn_ = false;
};

}  // namespace wsload::cli::detail
