// The samples compare weighs: every metric of every case in a file, one sample per
// repetition, each with the confidence bounds its data give when the file carries what
// the figure was measured from (a wsload summary's histogram, time series and counts).
// Read from Google Benchmark JSON (its own reader, here) or from wsload results
// (read_runs).
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/errors.hpp>
#include <wsload/histogram.hpp>
#include <wsload/results/runs.hpp>
#include <wsload/results/summary.hpp>
#include <wsload/timeseries.hpp>

namespace wsload {

/// A metric that can be compared, and which way is better.
struct Metric {
  std::string name;     ///< as on the command line: p99, rps, ...
  std::string counter;  ///< its Google Benchmark counter (or "real_time")
  bool higher_is_better = false;
  std::string unit;  ///< for display: "ms", "req/s", "%", ""
};

/// A percentile of a streamed reply's timing that compare weighs and a load benchmark
/// reports: "ttft_p95" (counter "ttft_p95_ms"), likewise itl_ and tpot_ at 50, 95, 99.
struct StreamingPercentile {
  Timing timing;
  double percentile;
  std::string metric;
  std::string counter;
};

inline const std::vector<StreamingPercentile>& streaming_percentiles() {
  static const std::vector<StreamingPercentile> all = [] {
    std::vector<StreamingPercentile> v;
    for (const Timing t : {Timing::first_token, Timing::inter_frame, Timing::per_token}) {
      for (const double p : {50.0, 95.0, 99.0}) {
        const std::string name =
            std::string(detail::timing_words(t).first) + detail::percentile_label(p);
        v.push_back({t, p, name, name + "_ms"});
      }
    }
    return v;
  }();
  return all;
}

inline const std::vector<Metric>& comparable_metrics() {
  static const std::vector<Metric> metrics = [] {
    std::vector<Metric> v = {
        {"avg", "avg_ms", false, "ms"},  {"p50", "p50_ms", false, "ms"},
        {"p90", "p90_ms", false, "ms"},  {"p95", "p95_ms", false, "ms"},
        {"p99", "p99_ms", false, "ms"},  {"p999", "p999_ms", false, "ms"},
        {"rps", "rps", true, "req/s"},   {"success_rate", "success_rate", true, "%"},
        {"errors", "errors", false, ""}, {"time", "real_time", false, "ms"},
    };
    for (const auto& s : streaming_percentiles()) v.push_back({s.metric, s.counter, false, "ms"});
    v.push_back({"output_rate_p50", "output_rate_p50", true, "tokens/s"});
    v.push_back({"goodput", "goodput", true, "req/s"});
    return v;
  }();
  return metrics;
}

/// The metrics' names, comma-separated, for help texts and errors.
inline std::string comparable_metric_names(std::string_view separator = ",") {
  std::string names;
  for (const auto& m : comparable_metrics()) {
    names += (names.empty() ? "" : std::string(separator)) + m.name;
  }
  return names;
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

/// The key of a step's metric among a case's: "steps.login.p95". A step's name may hold
/// dots; a metric's never does, so the last one ends the name.
inline std::string step_metric_key(const std::string& step, const std::string& metric) {
  return "steps." + step + "." + metric;
}

/// A step's samples under step_metric_key: its latency's avg and percentiles, success rate
/// and failures, each with the confidence bounds its histogram and counts give. (A step
/// has no time series, so its bounds are those of the run as a whole.)
inline void add_step_samples(std::map<std::string, std::vector<Sample>>& m, const std::string& name,
                             const StepFigures& step) {
  const auto ms = [](double us) { return us / 1e3; };
  const auto& h = step.latency;
  if (!h.empty()) {
    const double margin = confidence_z * h.stddev() / std::sqrt(static_cast<double>(h.count()));
    m[step_metric_key(name, "avg")].push_back(
        {ms(h.mean()), ms(h.mean() - margin), ms(h.mean() + margin)});
    for (const auto& [metric, p] :
         {std::pair("p50", 50.0), std::pair("p90", 90.0), std::pair("p95", 95.0),
          std::pair("p99", 99.0), std::pair("p999", 99.9)}) {
      const auto [low, high] = percentile_bounds(h, p);
      m[step_metric_key(name, metric)].push_back(
          {ms(static_cast<double>(h.value_at_percentile(p))), ms(low), ms(high)});
    }
  }
  if (step.count == 0) return;
  const auto [rate_low, rate_high] =
      proportion_bounds(static_cast<double>(step.successes()), static_cast<double>(step.count));
  m[step_metric_key(name, "success_rate")].push_back({step.success_rate(), rate_low, rate_high});
  const auto [errors_low, errors_high] = count_bounds(static_cast<double>(step.failures));
  m[step_metric_key(name, "errors")].push_back(
      {static_cast<double>(step.failures), errors_low, errors_high});
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
  // Streamed replies' percentiles, bounded by their histograms and the loops' lag (a
  // late loop can delay a frame as it delays a completion).
  for (const auto& sp : streaming_percentiles()) {
    const Histogram& h = s.timed(sp.timing);
    if (h.empty()) continue;
    const auto value = static_cast<double>(h.value_at_percentile(sp.percentile));
    auto [low, high] = percentile_bounds(h, sp.percentile);
    low -= (sp.percentile < 99 ? s.loop_lag_p99 : s.loop_lag_max) * 1e6;
    m[sp.metric].push_back({ms(value), ms(low), ms(high)});
  }
  if (!s.output_rate.empty()) {  // millitokens per second
    const auto [low, high] = percentile_bounds(s.output_rate, 50);
    m["output_rate_p50"].push_back(
        {static_cast<double>(s.output_rate.value_at_percentile(50)) / 1e3, low / 1e3, high / 1e3});
  }
  const double seconds = s.total_time.count();
  if (s.has_slo() && s.total_requests > 0) {
    const double window = s.rate_window.count() > 0 ? s.rate_window.count() : seconds;
    if (window > 0) {
      const auto [low, high] = count_bounds(static_cast<double>(s.good_requests));
      m["goodput"].push_back({s.goodput(), low / window, high / window});
    }
  }
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
  for (const auto& [step_name, step] : s.steps) add_step_samples(m, step_name, step);
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
    } else if (is_runs_document(j)) {
      for (const auto& run : runs_from_json(j, file.string())) {
        // Cases pair up by "Suite.Test"; a lone summary by its name, whatever its file's.
        const bool named = run.is_case() || !run.summary.name.empty();
        detail::add_summary_samples(runs, named ? run.label() : "summary", run.summary);
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

}  // namespace wsload
