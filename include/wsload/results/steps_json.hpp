// The JSON form of a summary's `steps` and `checks`: objects keyed by the user's names,
// each step with its counts, failures by kind and the latency and ttfb sections the run's
// own have; read back with every figure checked, errors naming the step.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include <wsload/errors.hpp>
#include <wsload/results/detail/histogram_json.hpp>
#include <wsload/results/detail/summary_checks.hpp>
#include <wsload/results/steps.hpp>

namespace wsload {

namespace detail {

/// The entry `key` of `node` (an object), or ConfigError naming `shown` and the key.
inline const nlohmann::json& required(const nlohmann::json& node, const char* key,
                                      const std::string& shown, const std::string& file) {
  if (!node.is_object()) throw ConfigError(file, "", shown + ": is not an object");
  const auto it = node.find(key);
  if (it == node.end()) throw ConfigError(file, "", shown + ": lacks the field " + key);
  return *it;
}

}  // namespace detail

/// The summary's `steps`: per step its count, failures, success_rate (percent),
/// failures_by_kind, and latency and ttfb sections (percentiles in seconds, HdrHistogram).
inline nlohmann::json steps_json(const StepTable& steps) {
  auto j = nlohmann::json::object();
  for (const auto& [name, step] : steps) {
    j[name] = {{"count", step.count},
               {"failures", step.failures},
               {"success_rate", step.success_rate()},
               {"failures_by_kind", step.failures_by_kind},
               {"latency", detail::histogram_json(step.latency)},
               {"ttfb", detail::histogram_json(step.ttfb)}};
  }
  return j;
}

/// The summary's `checks`: per check its passes, failures and share (percent passed; null
/// when it was never evaluated).
inline nlohmann::json checks_json(const CheckTable& checks) {
  auto j = nlohmann::json::object();
  for (const auto& [name, check] : checks) {
    const auto share = check.share();
    j[name] = {{"passes", check.passes},
               {"failures", check.failures},
               {"share", share ? nlohmann::json(*share) : nlohmann::json(nullptr)}};
  }
  return j;
}

/// Reads `steps` as steps_json writes it. Throws ConfigError (field `file`) naming the
/// step and the key when a count is no whole number from 0 to max_exact_count or a
/// histogram is malformed (check_figures_agree checks that they add up).
inline StepTable steps_from_json(const nlohmann::json& node, const std::string& file) {
  using detail::FigureRule;
  if (!node.is_object()) throw ConfigError(file, "", "steps: is not an object");
  StepTable steps;
  for (const auto& [name, entry] : node.items()) {
    const auto shown = detail::named_entry("steps", name);
    for (const char* key : {"count", "failures"}) {
      detail::check_figure_at(detail::required(entry, key, shown, file), "", shown + "." + key,
                              FigureRule::count, file);
    }
    for (const char* key : {"latency", "ttfb"}) {
      for (const char* figure : {"min", "max"}) {
        detail::check_figure_at(entry, std::string(key) + ".histogram." + figure, shown,
                                FigureRule::count, file);
      }
      detail::check_figure_at(entry, std::string(key) + ".histogram.sum", shown, FigureRule::amount,
                              file);
    }
    StepFigures step;
    step.count = entry.at("count").get<std::uint64_t>();
    step.failures = entry.at("failures").get<std::uint64_t>();
    const auto& kinds = detail::required(entry, "failures_by_kind", shown, file);
    if (!kinds.is_object())
      throw ConfigError(file, "", shown + ".failures_by_kind: is not an object");
    for (const auto& [kind, n] : kinds.items()) {
      detail::check_figure_at(n, "", shown + ".failures_by_kind." + kind, FigureRule::count, file);
      step.failures_by_kind[kind] = n.get<std::uint64_t>();
    }
    step.latency = detail::histogram_from_json(detail::required(entry, "latency", shown, file),
                                               shown + ".latency", file);
    step.ttfb = detail::histogram_from_json(detail::required(entry, "ttfb", shown, file),
                                            shown + ".ttfb", file);
    steps.emplace(name, std::move(step));
  }
  return steps;
}

/// Reads `checks` as checks_json writes it. Throws ConfigError (field `file`) naming the
/// check when a count is no whole number from 0 to max_exact_count.
inline CheckTable checks_from_json(const nlohmann::json& node, const std::string& file) {
  if (!node.is_object()) throw ConfigError(file, "", "checks: is not an object");
  CheckTable checks;
  for (const auto& [name, entry] : node.items()) {
    const auto shown = detail::named_entry("checks", name);
    CheckFigures check;
    for (auto [key, count] :
         {std::pair("passes", &check.passes), std::pair("failures", &check.failures)}) {
      const auto& n = detail::required(entry, key, shown, file);
      detail::check_figure_at(n, "", shown + "." + key, detail::FigureRule::count, file);
      *count = n.get<std::uint64_t>();
    }
    checks.emplace(name, check);
  }
  return checks;
}

}  // namespace wsload
