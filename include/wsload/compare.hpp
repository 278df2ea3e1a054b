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
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/detail/format.hpp>
#include <wsload/errors.hpp>
#include <wsload/run_samples.hpp>

namespace wsload {

/// Without repetitions or confidence bounds, a change counts only beyond this many times
/// the tolerance: two single runs of one build on a shared machine differ by 20 % and
/// more at the median of a 0.1 ms service (measured: scripts/compare-noise.sh).
inline constexpr double unaware_factor = 3;

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

/// The steps of a case's samples: the names in its "steps.NAME.metric" keys.
inline std::set<std::string> steps_in(const std::map<std::string, std::vector<Sample>>& run) {
  std::set<std::string> steps;
  constexpr std::string_view prefix = "steps.";
  for (auto it = run.lower_bound(std::string(prefix)); it != run.end(); ++it) {
    const auto& key = it->first;
    if (!key.starts_with(prefix)) break;
    steps.insert(key.substr(prefix.size(), key.rfind('.') - prefix.size()));
  }
  return steps;
}

/// What is compared of one case: each chosen metric, then each chosen metric of every
/// step both sides ran ("steps.login.p95"), keyed as the samples are. A step only one side
/// ran is listed as only in it ("Case steps.login").
inline std::vector<std::pair<std::string, const Metric*>> compared_keys(
    const std::map<std::string, std::vector<Sample>>& baseline,
    const std::map<std::string, std::vector<Sample>>& current,
    const std::vector<const Metric*>& chosen, const std::string& case_name, RunComparison& result) {
  std::vector<std::pair<std::string, const Metric*>> keys;
  for (const Metric* metric : chosen) keys.emplace_back(metric->name, metric);
  const auto base_steps = steps_in(baseline);
  const auto current_steps = steps_in(current);
  for (const auto& step : base_steps) {
    if (!current_steps.count(step)) result.only_in_baseline.push_back(case_name + " steps." + step);
  }
  for (const auto& step : current_steps) {
    if (!base_steps.count(step)) {
      result.only_in_current.push_back(case_name + " steps." + step);
      continue;
    }
    for (const Metric* metric : chosen)
      keys.emplace_back(step_metric_key(step, metric->name), metric);
  }
  return keys;
}

}  // namespace detail

/// Compares `current` with `baseline` for `metrics` (names from comparable_metrics()), and
/// those of every step both ran ("steps.login.p95").
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
                        "is not a metric; use one of " + comparable_metric_names(", "));
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
    for (const auto& [key, metric] :
         detail::compared_keys(base_it->second, metrics_of_case, chosen, name, result)) {
      const auto* b = detail::samples_of(base_it->second, key, "baseline", baseline_file, name);
      const auto* c = detail::samples_of(metrics_of_case, key, "new", current_file, name);
      if (!b && !c) continue;  // neither file measures it (a benchmark without the counter)
      if (!b || !c) {
        throw ConfigError(
            b ? "new" : "baseline", b ? current_file : baseline_file,
            "case '" + name + "' has no value of " + key + " (null, NaN or missing; " +
                "in a summary: no request succeeded) while the " + (b ? "baseline" : "new run") +
                " has one, so they cannot be compared");
      }
      MetricChange change;
      change.case_name = name;
      change.metric = key;
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
  std::size_t metric_width = 12;
  for (const auto& m : c.changes) {
    width = std::max(width, m.case_name.size());
    metric_width = std::max(metric_width, m.metric.size());
  }
  auto pad = [](std::string s, std::size_t n, bool right = false) {
    if (s.size() < n)
      s = right ? std::string(n - s.size(), ' ') + s : s + std::string(n - s.size(), ' ');
    return s;
  };
  std::string out = pad("case", width) + "  " + pad("metric", metric_width) + "  " +
                    pad("baseline", 12, true) + "  " + pad("new", 12, true) + "  " +
                    pad("change", 9, true) + "  verdict\n";
  for (const auto& m : c.changes) {
    std::string change = !std::isfinite(m.change_percent)
                             ? (m.change_percent > 0 ? "+inf" : "-inf")
                             : (m.change_percent >= 0 ? "+" : "") +
                                   detail::format_number(m.change_percent, 1) + " %";
    out += pad(m.case_name, width) + "  " + pad(m.metric, metric_width) + "  " +
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
