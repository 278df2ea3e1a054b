// Comparing two runs: Google Benchmark JSON files or wsload summary files, case by case.
//
// A change counts only when it is larger than the tolerance (percent, in the direction
// that is worse for the metric: latency up, throughput down) and larger than the noise:
// the bands of the two sides must not overlap. A side's band spans its samples (one per
// repetition) and, when the input carries what a figure was measured from (a wsload
// summary's histogram, time series and counts), each sample's confidence bounds: so with
// repetitions every new sample must be worse than every baseline sample (with three a
// side, as strong as a Mann-Whitney U test can be, p = 0.1, without its assumptions), and
// a single run is judged against what its own data say it could have measured. Single
// runs with neither (Google Benchmark JSON without repetitions) are not noise-aware: the
// comparison says so, and a change counts only beyond unaware_factor x the tolerance.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/errors.hpp>
#include <wsload/results/summary.hpp>

namespace wsload {

/// A metric that can be compared, and which way is better.
struct Metric {
  std::string name;     ///< as on the command line: p99, rps, ...
  std::string counter;  ///< its Google Benchmark counter (or "real_time")
  bool higher_is_better = false;
  std::string unit;  ///< for display: "ms", "req/s", "%", ""
};

inline const std::vector<Metric>& comparable_metrics() {
  static const std::vector<Metric> metrics = {
      {"avg", "avg_ms", false, "ms"},  {"p50", "p50_ms", false, "ms"},
      {"p90", "p90_ms", false, "ms"},  {"p95", "p95_ms", false, "ms"},
      {"p99", "p99_ms", false, "ms"},  {"p999", "p999_ms", false, "ms"},
      {"rps", "rps", true, "req/s"},   {"success_rate", "success_rate", true, "%"},
      {"errors", "errors", false, ""}, {"time", "real_time", false, "ms"},
  };
  return metrics;
}

inline const std::vector<std::string>& default_compared_metrics() {
  static const std::vector<std::string> names = {"p50", "p95",          "p99",
                                                 "rps", "success_rate", "errors"};
  return names;
}

/// One measurement of a metric: its value and, when the input carries what it was
/// measured from, the bounds within which the same run could as well have measured it.
struct Sample {
  double value = 0;
  std::optional<double> low{};
  std::optional<double> high{};

  Sample(double v) : value(v) {}  // NOLINT(google-explicit-constructor): a plain sample
  Sample(double v, double lower, double upper) : value(v), low(lower), high(upper) {}

  bool bounded() const noexcept { return low && high; }
};

/// Samples of every metric of every case in one file: one sample per repetition.
using RunSamples = std::map<std::string, std::map<std::string, std::vector<Sample>>>;

/// Without repetitions or confidence bounds, a change counts only beyond this many times
/// the tolerance: two single runs of one build on a shared machine differ by 20 % and
/// more at the median of a 0.1 ms service (measured: scripts/compare-noise.sh).
inline constexpr double unaware_factor = 3;

namespace detail {

/// z for two-sided 99 % confidence bounds.
inline constexpr double confidence_z = 2.576;

/// Bounds of the `percentile` of what `h` sampled (microseconds): the order statistics
/// at the ranks n·q ± z·sqrt(n·q·(1 - q)), the normal approximation of the binomial
/// count of samples below the quantile, widened to the edges of their buckets.
inline std::pair<double, double> percentile_bounds(const Histogram& h, double percentile) {
  const double n = static_cast<double>(h.count());
  const double q = percentile / 100;
  const double spread = confidence_z * std::sqrt(n * q * (1 - q));
  const double low_rank = std::max(1.0, std::floor(n * q - spread));
  const double high_rank = std::min(n, std::ceil(n * q + spread));
  const auto low = h.lowest_equivalent(h.value_at_percentile(100 * low_rank / n));
  const auto high = h.value_at_percentile(100 * high_rank / n);
  return {static_cast<double>(std::max(low, h.min())), static_cast<double>(high)};
}

/// Bounds of a count from a Poisson process that gave `k` (Wilson-style score bounds).
inline std::pair<double, double> count_bounds(double k) {
  const double z2 = confidence_z * confidence_z;
  const double root = confidence_z * std::sqrt(k + z2 / 4);
  return {std::max(0.0, k + z2 / 2 - root), k + z2 / 2 + root};
}

/// Wilson score bounds of a proportion, `k` of `n`, in percent.
inline std::pair<double, double> proportion_bounds(double k, double n) {
  const double z2 = confidence_z * confidence_z;
  const double centre = (k + z2 / 2) / (n + z2);
  const double half = confidence_z * std::sqrt(k * (n - k) / n + z2 / 4) / (n + z2);
  return {100 * std::max(0.0, centre - half), 100 * std::min(1.0, centre + half)};
}

/// A sample of `value` whose bounds are `bounds` widened to the range the figure took
/// over the whole seconds of the run `s` (the last one, cut short by the end, is left
/// out): each second is a repetition of the run in small, which shows how much the
/// service and the machine drifted while it ran. `of_second` gives a second's figure, or
/// nothing when it has too few samples for it; under two such seconds the bounds stay.
template <class OfSecond>
Sample bounded_by_seconds(double value, std::pair<double, double> bounds, const Summary& s,
                          const OfSecond& of_second) {
  double low = std::min(bounds.first, value);
  double high = std::max(bounds.second, value);
  // The series' intervals that end within the run (a second each, or more in a long run).
  const auto whole_seconds = static_cast<std::size_t>(std::max(0.0, s.total_time.count()));
  const auto resolution = std::max<std::size_t>(s.time_series.resolution(), 1);
  const auto whole = std::min(s.time_series.intervals(), whole_seconds / resolution);
  std::vector<double> seconds;
  for (std::size_t i = 0; i < whole; ++i) {
    if (const auto v = of_second(s.time_series.interval(i))) seconds.push_back(*v);
  }
  if (seconds.size() >= 2) {
    const auto [least, most] = std::minmax_element(seconds.begin(), seconds.end());
    low = std::min(low, *least);
    high = std::max(high, *most);
  }
  return {value, low, high};
}

inline double to_ms(double value, const std::string& unit) {
  if (unit == "ns") return value / 1e6;
  if (unit == "us") return value / 1e3;
  if (unit == "s") return value * 1e3;
  return value;  // "ms"
}

/// At most how late, on average, the run's event loops handled what came due (seconds):
/// 99 % of their lag's p99 plus 1 % of its maximum.
inline double mean_loop_lag(const Summary& s) {
  return 0.99 * s.loop_lag_p99 + 0.01 * s.loop_lag_max;
}

/// The samples of one run's summary, each latency, throughput and count bounded by what
/// its histogram, time series and counts say it could as well have measured.
///
/// A latency's lower bound also takes off the delay the generator itself may have added:
/// how late an open loop sent each request (its latency counts from when it was due), and
/// how late the event loops ran: a reply that waited for a late loop was timed late. At
/// most 1 % of the replies waited longer than the loops' lag at p99, so the service's
/// percentile a point below p is at least the measured p-th less that lag; from p99 up,
/// the bound takes the largest lag (a stall of the machine holds up a percent at once).
inline void add_summary_samples(RunSamples& runs, const std::string& name, const Summary& s) {
  auto& m = runs[name];
  const auto ms = [](double us) { return us / 1e3; };
  const bool open_loop = s.schedule && !s.latency_uncorrected.empty();
  if (!s.latency.empty()) {
    const double n = static_cast<double>(s.latency.count());
    const double mean = s.latency.mean();
    const double margin = confidence_z * s.latency.stddev() / std::sqrt(n);
    const double mean_lag = mean_loop_lag(s) * 1e6 +
                            (open_loop ? std::max(0.0, mean - s.latency_uncorrected.mean()) : 0);
    m["avg"].push_back(bounded_by_seconds(ms(mean),
                                          {ms(mean - margin - mean_lag), ms(mean + margin)}, s,
                                          [&](const Interval& i) -> std::optional<double> {
                                            if (i.latency.count() < 10) return std::nullopt;
                                            return ms(i.latency.mean());
                                          }));
    for (const auto& [metric, p] :
         {std::pair("p50", 50.0), std::pair("p90", 90.0), std::pair("p95", 95.0),
          std::pair("p99", 99.0), std::pair("p999", 99.9)}) {
      const auto value = static_cast<double>(s.latency.value_at_percentile(p));
      auto [low, high] = percentile_bounds(s.latency, p);
      low -= (p < 99 ? s.loop_lag_p99 : s.loop_lag_max) * 1e6;
      if (open_loop) {
        low -= std::max(0.0,
                        value - static_cast<double>(s.latency_uncorrected.value_at_percentile(p)));
      }
      // A second speaks for a percentile when it holds one sample beyond it, or more
      // (and ten at least): its figures are noisier than the run's, so their range errs
      // wide.
      const double enough = std::max(10.0, 1 / (1 - p / 100));
      m[metric].push_back(bounded_by_seconds(
          ms(value), {ms(low), ms(high)}, s,
          // p by value: clang 14 cannot capture a structured binding.
          [&, percentile = p](const Interval& i) -> std::optional<double> {
            if (static_cast<double>(i.latency.count()) < enough) return std::nullopt;
            return ms(static_cast<double>(i.latency.value_at_percentile(percentile)));
          }));
    }
  }
  const double seconds = s.total_time.count();
  if (s.total_requests == 0 || !(seconds > 0)) {  // nothing ran: nothing to bound
    m["rps"].push_back(s.requests_per_second());
    m["success_rate"].push_back(s.success_rate());
    m["errors"].push_back(static_cast<double>(s.failed_requests));
  } else {
    const auto [low, high] = count_bounds(static_cast<double>(s.successful_requests));
    // A closed loop sends the next request when the last reply was read: what the loops'
    // lag cost each request is throughput the service might have had.
    double upper = high / seconds;
    if (!s.schedule) {
      const double lost = static_cast<double>(s.successful_requests) * mean_loop_lag(s) /
                          static_cast<double>(std::max<std::uint64_t>(s.connections_opened, 1));
      upper = lost < seconds ? std::max(upper, high / (seconds - lost))
                             : std::numeric_limits<double>::infinity();
    }
    m["rps"].push_back(bounded_by_seconds(s.requests_per_second(), {low / seconds, upper}, s,
                                          [](const Interval& i) -> std::optional<double> {
                                            return static_cast<double>(i.succeeded) / i.seconds;
                                          }));
    const auto [rate_low, rate_high] = proportion_bounds(static_cast<double>(s.successful_requests),
                                                         static_cast<double>(s.total_requests));
    m["success_rate"].push_back({s.success_rate(), rate_low, rate_high});
    const auto [errors_low, errors_high] = count_bounds(static_cast<double>(s.failed_requests));
    m["errors"].push_back({static_cast<double>(s.failed_requests), errors_low, errors_high});
  }
  m["time"].push_back(seconds * 1e3);
}

/// Parses JSON that may hold bare NaN or inf numbers, as Google Benchmark writes for
/// some aggregates; they become null. Returns a discarded value when it is not JSON.
inline nlohmann::json parse_json_allowing_nan(std::istream& in) {
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_discarded()) return j;
  // Outside strings only: a value position is after ':' , '[' or ','.
  std::string fixed;
  fixed.reserve(text.size());
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      fixed += c;
      if (c == '\\' && i + 1 < text.size()) {
        fixed += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (const char* word : {"-nan", "nan", "NaN", "-inf", "inf", "Infinity", "-Infinity"}) {
      const std::string_view w(word);
      if (text.compare(i, w.size(), w) == 0) {
        const auto before = fixed.find_last_not_of(" \t\r\n");
        if (before != std::string::npos &&
            (fixed[before] == ':' || fixed[before] == ',' || fixed[before] == '[')) {
          fixed += "null";
          i += w.size() - 1;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) fixed += c;
  }
  return nlohmann::json::parse(fixed, nullptr, false);
}

}  // namespace detail

/// Reads the samples of a file: Google Benchmark JSON (iterations only; aggregates are
/// recomputed here), a wsload summary, or a wsload GoogleTest report. Throws ConfigError
/// (field `field`) naming the file when it is missing, not JSON, or none of these.
inline RunSamples read_run_samples(const std::filesystem::path& file,
                                   const std::string& field = "file") {
  std::ifstream in(file);
  if (!in) throw ConfigError(field, file.string(), "cannot be read");
  const auto j = detail::parse_json_allowing_nan(in);
  if (j.is_discarded()) throw ConfigError(field, file.string(), "is not JSON");
  RunSamples runs;
  try {
    if (j.is_object() && j.contains("benchmarks") && j["benchmarks"].is_array()) {
      for (const auto& b : j["benchmarks"]) {
        if (b.value("run_type", "iteration") != "iteration") continue;
        if (b.value("error_occurred", false)) continue;  // errored runs have no figures
        const std::string name = b.value("run_name", b.at("name").get<std::string>());
        auto& m = runs[name];
        for (const auto& metric : comparable_metrics()) {
          const auto value = b.find(metric.counter);
          if (value == b.end()) continue;
          // NaN became null when read: a figure that is not a number is an error, not a gap.
          if (!value->is_number()) {
            throw ConfigError(field, file.string(),
                              "benchmark '" + name + "': " + metric.counter + " is " +
                                  (value->is_null() ? std::string("null or NaN")
                                                    : "not a number: " + value->dump()));
          }
          const double v = value->get<double>();
          m[metric.name].push_back(
              metric.counter == "real_time" ? detail::to_ms(v, b.value("time_unit", "ns")) : v);
        }
      }
    } else if (j.is_object() && j.value("schema", "") == summary_schema) {
      const auto s = summary_from_json(j, file.string());
      detail::add_summary_samples(runs, s.name.empty() ? "summary" : s.name, s);
    } else if (j.is_object() && j.contains("entries") && j["entries"].is_array()) {
      for (const auto& e : j["entries"]) {
        const auto s = summary_of_entry(e, file.string());
        detail::add_summary_samples(runs, e.value("suite", "") + "." + e.value("test", ""), s);
      }
    } else {
      throw ConfigError(field, file.string(),
                        "is neither Google Benchmark JSON nor a wsload summary or report");
    }
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(field, file.string(), "is malformed: " + detail::json_problem(e));
  }
  return runs;
}

/// How a change was told from noise.
enum class NoiseBasis {
  repetitions,  ///< several samples a side: their ranges (with their bounds, if any)
  bounds,       ///< one run a side, each with the confidence bounds its data give
  none,         ///< single samples without bounds: not noise-aware
};

inline std::string_view to_string(NoiseBasis b) noexcept {
  switch (b) {
    case NoiseBasis::repetitions:
      return "repetitions";
    case NoiseBasis::bounds:
      return "confidence bounds";
    case NoiseBasis::none:
      return "none";
  }
  return "none";
}

/// The comparison of one metric of one case.
struct MetricChange {
  std::string case_name;
  std::string metric;
  double baseline = 0;  ///< mean of the samples
  double current = 0;
  double change_percent = 0;  ///< signed: (new - baseline) / baseline; ±inf from 0
  std::size_t baseline_samples = 0;
  std::size_t current_samples = 0;
  /// The band of each side: its samples' range, widened by their bounds.
  std::pair<double, double> baseline_band{};
  std::pair<double, double> current_band{};
  NoiseBasis basis = NoiseBasis::none;
  /// "same" (within tolerance), "noise" (beyond it, but the bands overlap or, without a
  /// basis, within unaware_factor x the tolerance), "regression", "improvement".
  std::string verdict;
};

struct RunComparison {
  double max_regression_percent = 10;
  std::vector<MetricChange> changes;
  std::vector<std::string> only_in_baseline;
  std::vector<std::string> only_in_current;

  std::size_t regressions() const {
    return static_cast<std::size_t>(std::count_if(
        changes.begin(), changes.end(), [](const auto& c) { return c.verdict == "regression"; }));
  }
  /// Every change was judged against the noise (none has NoiseBasis::none).
  bool noise_aware() const {
    return std::none_of(changes.begin(), changes.end(),
                        [](const auto& c) { return c.basis == NoiseBasis::none; });
  }
};

namespace detail {

inline double mean(const std::vector<Sample>& v) {
  double sum = 0;
  for (const auto& x : v) sum += x.value;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

/// From the lowest bound (or sample) to the highest.
inline std::pair<double, double> band(const std::vector<Sample>& v) {
  std::pair<double, double> b{v.front().value, v.front().value};
  for (const auto& x : v) {
    b.first = std::min({b.first, x.value, x.low.value_or(x.value)});
    b.second = std::max({b.second, x.value, x.high.value_or(x.value)});
  }
  return b;
}

inline bool all_bounded(const std::vector<Sample>& v) {
  return std::all_of(v.begin(), v.end(), [](const Sample& x) { return x.bounded(); });
}

/// The samples of `metric` in `run`: throws ConfigError naming the side, the case and the
/// metric when one is not a finite number.
inline const std::vector<Sample>* samples_of(const std::map<std::string, std::vector<Sample>>& run,
                                             const std::string& metric, const std::string& side,
                                             const std::string& file, const std::string& name) {
  const auto it = run.find(metric);
  if (it == run.end() || it->second.empty()) return nullptr;
  for (const auto& x : it->second) {
    if (!std::isfinite(x.value)) {
      throw ConfigError(side, file, "case '" + name + "': " + metric + " is not a finite number");
    }
  }
  return &it->second;
}

}  // namespace detail

/// Compares `current` with `baseline` for `metrics` (names from comparable_metrics()).
/// Throws ConfigError for an unknown metric, when the files share no case, or when a
/// metric of a shared case has a value on one side only (null, NaN, a string, or in a
/// summary no request succeeded): a comparison never drops a figure silently.
/// `baseline_file` and `current_file` name the inputs in errors.
inline RunComparison compare_runs(const RunSamples& baseline, const RunSamples& current,
                                  const std::vector<std::string>& metrics,
                                  double max_regression_percent,
                                  const std::string& baseline_file = "",
                                  const std::string& current_file = "") {
  std::vector<const Metric*> chosen;
  for (const auto& name : metrics) {
    const auto& all = comparable_metrics();
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const Metric& m) { return m.name == name; });
    if (it == all.end()) {
      throw ConfigError("metrics", name,
                        "is not a metric; use avg, p50, p90, p95, p99, p999, rps, success_rate, "
                        "errors or time");
    }
    chosen.push_back(&*it);
  }
  RunComparison result;
  result.max_regression_percent = max_regression_percent;
  for (const auto& [name, _] : baseline) {
    if (!current.count(name)) result.only_in_baseline.push_back(name);
  }
  for (const auto& [name, metrics_of_case] : current) {
    const auto base_it = baseline.find(name);
    if (base_it == baseline.end()) {
      result.only_in_current.push_back(name);
      continue;
    }
    for (const Metric* metric : chosen) {
      const auto* b =
          detail::samples_of(base_it->second, metric->name, "baseline", baseline_file, name);
      const auto* c = detail::samples_of(metrics_of_case, metric->name, "new", current_file, name);
      if (!b && !c) continue;  // neither file measures it (a benchmark without the counter)
      if (!b || !c) {
        throw ConfigError(
            b ? "new" : "baseline", b ? current_file : baseline_file,
            "case '" + name + "' has no value of " + metric->name + " (null, NaN or missing; " +
                "in a summary: no request succeeded) while the " + (b ? "baseline" : "new run") +
                " has one, so they cannot be compared");
      }
      MetricChange change;
      change.case_name = name;
      change.metric = metric->name;
      change.baseline = detail::mean(*b);
      change.current = detail::mean(*c);
      change.baseline_samples = b->size();
      change.current_samples = c->size();
      change.baseline_band = detail::band(*b);
      change.current_band = detail::band(*c);
      const double delta = change.current - change.baseline;
      if (change.baseline != 0) {
        change.change_percent = delta / std::abs(change.baseline) * 100;
      } else {
        change.change_percent =
            delta == 0 ? 0 : std::copysign(std::numeric_limits<double>::infinity(), delta);
      }
      const double worse =
          metric->higher_is_better ? -change.change_percent : change.change_percent;
      change.basis = b->size() > 1 && c->size() > 1                       ? NoiseBasis::repetitions
                     : detail::all_bounded(*b) && detail::all_bounded(*c) ? NoiseBasis::bounds
                                                                          : NoiseBasis::none;
      // Single runs: even the nearer edges of the bands are beyond the tolerance, since
      // a run's bounds do not see how the next run (or the machine) will differ.
      const double margin =
          change.basis == NoiseBasis::bounds ? 1 + max_regression_percent / 100 : 1;
      const auto& [b_low, b_high] = change.baseline_band;
      const auto& [c_low, c_high] = change.current_band;
      const bool apart = (c_low > b_high && c_low - b_high > (margin - 1) * std::abs(b_high)) ||
                         (c_high < b_low && b_low - c_high > (margin - 1) * std::abs(b_low));
      if (std::abs(worse) <= max_regression_percent) {
        change.verdict = "same";
      } else if (change.basis == NoiseBasis::none
                     ? std::abs(worse) <= unaware_factor * max_regression_percent
                     : !apart) {
        change.verdict = "noise";
      } else {
        change.verdict = worse > 0 ? "regression" : "improvement";
      }
      result.changes.push_back(change);
    }
  }
  if (result.changes.empty()) {
    throw ConfigError("compare", "", "the two files have no case (and metric) in common");
  }
  return result;
}

inline nlohmann::json to_json(const RunComparison& c) {
  auto number = [](double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(v > 0 ? "inf" : "-inf");
  };
  nlohmann::json changes = nlohmann::json::array();
  for (const auto& m : c.changes) {
    changes.push_back(
        {{"case", m.case_name},
         {"metric", m.metric},
         {"baseline", m.baseline},
         {"new", m.current},
         {"change_percent", number(m.change_percent)},
         {"baseline_samples", m.baseline_samples},
         {"new_samples", m.current_samples},
         {"baseline_band", {number(m.baseline_band.first), number(m.baseline_band.second)}},
         {"new_band", {number(m.current_band.first), number(m.current_band.second)}},
         {"noise_basis", to_string(m.basis)},
         {"verdict", m.verdict}});
  }
  return {{"max_regression_percent", c.max_regression_percent},
          {"noise_aware", c.noise_aware()},
          {"unaware_factor", unaware_factor},
          {"regressions", c.regressions()},
          {"changes", changes},
          {"only_in_baseline", c.only_in_baseline},
          {"only_in_new", c.only_in_current}};
}

/// The comparison as a table, a row per case and metric.
inline std::string format_comparison(const RunComparison& c) {
  std::size_t width = 4;
  for (const auto& m : c.changes) width = std::max(width, m.case_name.size());
  auto pad = [](std::string s, std::size_t n, bool right = false) {
    if (s.size() < n)
      s = right ? std::string(n - s.size(), ' ') + s : s + std::string(n - s.size(), ' ');
    return s;
  };
  std::string out = pad("case", width) + "  " + pad("metric", 12) + "  " +
                    pad("baseline", 12, true) + "  " + pad("new", 12, true) + "  " +
                    pad("change", 9, true) + "  verdict\n";
  for (const auto& m : c.changes) {
    std::string change = !std::isfinite(m.change_percent)
                             ? (m.change_percent > 0 ? "+inf" : "-inf")
                             : (m.change_percent >= 0 ? "+" : "") +
                                   detail::format_number(m.change_percent, 1) + " %";
    out += pad(m.case_name, width) + "  " + pad(m.metric, 12) + "  " +
           pad(detail::format_number(m.baseline, 3), 12, true) + "  " +
           pad(detail::format_number(m.current, 3), 12, true) + "  " + pad(change, 9, true) + "  " +
           m.verdict + "\n";
  }
  const auto uses = [&c](NoiseBasis b) {
    return std::any_of(c.changes.begin(), c.changes.end(),
                       [b](const auto& m) { return m.basis == b && m.verdict != "same"; });
  };
  if (uses(NoiseBasis::bounds)) {
    out +=
        "Noise: one run a side; a change counts when it is beyond the 99 % confidence bounds "
        "of each run's histogram and beyond the range over its seconds (--json shows the "
        "bands)\n";
  }
  if (uses(NoiseBasis::repetitions)) {
    out += "Noise: a change counts when the ranges of the repetitions do not overlap\n";
  }
  if (!c.noise_aware()) {
    out += "NOT noise-aware: single runs without histograms; a change counts only beyond " +
           detail::format_number(unaware_factor, 0) + " x the tolerance (" +
           detail::format_number(unaware_factor * c.max_regression_percent, 2) +
           " %). Run repetitions (--benchmark_repetitions=3) for a verdict against the noise\n";
  }
  for (const auto& name : c.only_in_baseline) out += "only in the baseline: " + name + "\n";
  for (const auto& name : c.only_in_current) out += "only in the new run: " + name + "\n";
  const auto n = c.regressions();
  out += n ? "Result: " + std::to_string(n) + " regression" + (n > 1 ? "s" : "") + " beyond " +
                 detail::format_number(c.max_regression_percent, 2) + " %\n"
           : "Result: no regression beyond " + detail::format_number(c.max_regression_percent, 2) +
                 " %\n";
  return out;
}

}  // namespace wsload
