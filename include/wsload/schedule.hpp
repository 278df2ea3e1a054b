// Open-loop schedules: when each request of a run is due, whatever the replies do.
//
// Arrivals follow a rate that is constant or ramps linearly through stages; request n is
// due when the cumulative arrivals reach n. Connection c of C sends requests c, c + C,
// c + 2C, ...: the rate spreads evenly over the connections and prompts over requests.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <wsload/errors.hpp>
#include <wsload/thresholds.hpp>

namespace wsload {

/// One step of a ramp: over `duration` the arrival rate moves linearly from where the
/// previous stage left it (or the starting rate) to `target` requests per second.
struct Stage {
  std::chrono::milliseconds duration{0};
  double target = 0;
};

/// Parses "30s:100,1m:200" (duration:target, comma-separated; durations in ms, s or m).
/// Throws ConfigError (field "stages") naming what is wrong.
inline std::vector<Stage> parse_stages(const std::string& text) {
  std::vector<Stage> stages;
  std::size_t at = 0;
  while (at <= text.size()) {
    const auto comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    const auto colon = item.find(':');
    if (colon == std::string::npos) {
      throw ConfigError("stages", text, "expected DURATION:TARGET[,...], e.g. 30s:100,1m:100");
    }
    const std::string duration = item.substr(0, colon);
    char* end = nullptr;
    const double amount = std::strtod(duration.c_str(), &end);
    const std::string unit = end;
    const double scale = unit == "ms" ? 1e-3 : unit == "s" ? 1 : unit == "m" ? 60 : -1;
    if (end == duration.c_str() || scale < 0 || !(amount * scale >= 1e-3) ||
        amount * scale > 86'400) {
      throw ConfigError("stages", item, "a stage lasts 1 ms to 24 h, with a unit (ms, s, m)");
    }
    const std::string target = item.substr(colon + 1);
    const double rate = std::strtod(target.c_str(), &end);
    if (end == target.c_str() || *end != '\0' || !(rate >= 0) || rate > 1e7) {
      throw ConfigError("stages", item, "the target is a rate from 0 to 10000000 requests/s");
    }
    stages.push_back({std::chrono::milliseconds(std::llround(amount * scale * 1e3)), rate});
    at = comma + 1;
  }
  return stages;
}

/// When each request of an open-loop run is due, as an offset from the run's start.
class Schedule {
 public:
  /// Arrivals starting at `start_rate` and ramped through `stages`.
  Schedule(double start_rate, const std::vector<Stage>& stages) {
    double rate = start_rate;
    for (const auto& stage : stages) {
      add(Seconds(stage.duration), rate, stage.target);
      rate = stage.target;
    }
    finish();
  }
  /// `rate` per second for `duration`, or, with no duration, until `count` requests are due.
  Schedule(double rate, Seconds duration, std::uint64_t count) {
    add(duration.count() > 0 ? duration : Seconds(static_cast<double>(count) / rate), rate, rate);
    finish();
    if (duration.count() <= 0) total_ = count;
  }

  /// Requests due over the whole schedule.
  std::uint64_t total() const noexcept { return total_; }
  Seconds duration() const noexcept { return Seconds(end_); }

  /// When request `n` (0-based, below total()) is due.
  Seconds at(std::uint64_t n) const noexcept {
    const double m = static_cast<double>(n);
    auto it = std::upper_bound(segments_.begin(), segments_.end(), m,
                               [](double v, const Segment& s) { return v < s.arrivals_before; });
    const Segment& s = *std::prev(it == segments_.begin() ? std::next(it) : it);
    const double due = m - s.arrivals_before;
    // Arrivals within the segment: r0 t + (r1 - r0) t^2 / 2D = due, solved in the form
    // that stays exact when the rate does not change and when it starts at zero.
    const double slope = (s.r1 - s.r0) / s.length;
    const double root = std::sqrt(std::max(0.0, s.r0 * s.r0 + 2 * slope * due));
    const double t = s.r0 + root > 0 ? 2 * due / (s.r0 + root) : 0;
    return Seconds(s.start + std::min(t, s.length));
  }

  /// The intended rate at offset `t`.
  double rate_at(Seconds t) const noexcept {
    for (const auto& s : segments_) {
      if (t.count() < s.start + s.length) {
        return s.r0 + (s.r1 - s.r0) * std::max(0.0, t.count() - s.start) / s.length;
      }
    }
    return segments_.empty() ? 0 : segments_.back().r1;
  }

 private:
  struct Segment {
    double start;
    double length;
    double r0;
    double r1;
    double arrivals_before;
  };

  void add(Seconds length, double r0, double r1) {
    if (!(length.count() > 0)) return;
    segments_.push_back({end_, length.count(), r0, r1, arrivals_});
    end_ += length.count();
    arrivals_ += (r0 + r1) / 2 * length.count();
  }
  void finish() {
    // A hair of tolerance: 200/s for 5 s is 1000 requests, not 999 by rounding.
    total_ = static_cast<std::uint64_t>(std::floor(arrivals_ + 1e-9));
    if (segments_.empty()) segments_.push_back({0, 1, 0, 0, 0});
  }

  std::vector<Segment> segments_;
  double end_ = 0;
  double arrivals_ = 0;
  std::uint64_t total_ = 0;
};

}  // namespace wsload
