// Comparing two runs: Google Benchmark JSON files or wsload summary files, case by case.
//
// A change counts only when it is larger than the tolerance (percent, in the direction
// that is worse for the metric: latency up, throughput down) and, when both sides have
// repetitions, larger than the run-to-run noise: the ranges of the repetitions must not
// overlap (every new sample worse than every baseline sample). With three repetitions a
// side that is as strong as a Mann-Whitney U test can be (p = 0.1), without its
// assumptions. A single sample per side is judged on the tolerance alone.
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
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/errors.hpp>
#include <wsload/summary.hpp>

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

/// Samples of every metric of every case in one file: one sample per repetition.
using RunSamples = std::map<std::string, std::map<std::string, std::vector<double>>>;

namespace detail {

inline double to_ms(double value, const std::string& unit) {
  if (unit == "ns") return value / 1e6;
  if (unit == "us") return value / 1e3;
  if (unit == "s") return value * 1e3;
  return value;  // "ms"
}

inline void add_summary_samples(RunSamples& runs, const std::string& name, const Summary& s) {
  auto& m = runs[name];
  auto add = [&m](const char* metric, std::optional<double> v) {
    if (v) m[metric].push_back(*v);
  };
  auto ms = [&s](double p) -> std::optional<double> {
    const auto v = s.latency_at(p);
    return v ? std::optional<double>(*v * 1e3) : std::nullopt;
  };
  const auto mean = s.latency_mean();
  add("avg", mean ? std::optional<double>(*mean * 1e3) : std::nullopt);
  add("p50", ms(50));
  add("p90", ms(90));
  add("p95", ms(95));
  add("p99", ms(99));
  add("p999", ms(99.9));
  add("rps", s.requests_per_second());
  add("success_rate", s.success_rate());
  add("errors", static_cast<double>(s.failed_requests));
  add("time", s.total_time.count() * 1e3);
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
          if (metric.counter == "real_time") {
            m[metric.name].push_back(
                detail::to_ms(b.at("real_time").get<double>(), b.value("time_unit", "ns")));
          } else if (b.contains(metric.counter) && b[metric.counter].is_number()) {
            m[metric.name].push_back(b[metric.counter].get<double>());
          }
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

/// The comparison of one metric of one case.
struct MetricChange {
  std::string case_name;
  std::string metric;
  double baseline = 0;  ///< mean of the samples
  double current = 0;
  double change_percent = 0;  ///< signed: (new - baseline) / baseline; ±inf from 0
  std::size_t baseline_samples = 0;
  std::size_t current_samples = 0;
  /// "same" (within tolerance), "noise" (beyond it, but the ranges overlap),
  /// "regression", "improvement".
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
};

namespace detail {

inline double mean(const std::vector<double>& v) {
  double sum = 0;
  for (double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

}  // namespace detail

/// Compares `current` with `baseline` for `metrics` (names from comparable_metrics()).
/// Throws ConfigError for an unknown metric or when the files share no case.
inline RunComparison compare_runs(const RunSamples& baseline, const RunSamples& current,
                                  const std::vector<std::string>& metrics,
                                  double max_regression_percent) {
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
      const auto b = base_it->second.find(metric->name);
      const auto c = metrics_of_case.find(metric->name);
      if (b == base_it->second.end() || c == metrics_of_case.end() || b->second.empty() ||
          c->second.empty()) {
        continue;
      }
      MetricChange change;
      change.case_name = name;
      change.metric = metric->name;
      change.baseline = detail::mean(b->second);
      change.current = detail::mean(c->second);
      change.baseline_samples = b->second.size();
      change.current_samples = c->second.size();
      const double delta = change.current - change.baseline;
      if (change.baseline != 0) {
        change.change_percent = delta / std::abs(change.baseline) * 100;
      } else {
        change.change_percent =
            delta == 0 ? 0 : std::copysign(std::numeric_limits<double>::infinity(), delta);
      }
      const double worse =
          metric->higher_is_better ? -change.change_percent : change.change_percent;
      const auto [b_min, b_max] = std::minmax_element(b->second.begin(), b->second.end());
      const auto [c_min, c_max] = std::minmax_element(c->second.begin(), c->second.end());
      const bool repeated = b->second.size() > 1 && c->second.size() > 1;
      const bool higher_apart = *c_min > *b_max;
      const bool lower_apart = *c_max < *b_min;
      if (std::abs(worse) <= max_regression_percent) {
        change.verdict = "same";
      } else if (repeated && !(higher_apart || lower_apart)) {
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
    changes.push_back({{"case", m.case_name},
                       {"metric", m.metric},
                       {"baseline", m.baseline},
                       {"new", m.current},
                       {"change_percent", number(m.change_percent)},
                       {"baseline_samples", m.baseline_samples},
                       {"new_samples", m.current_samples},
                       {"verdict", m.verdict}});
  }
  return {{"max_regression_percent", c.max_regression_percent},
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
