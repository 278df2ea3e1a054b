// The per-step and per-check tables of runs whose sessions named steps or ran checks: a
// console block under the main figures and an HTML section. Nothing when there are none.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include <wsload/detail/format.hpp>
#include <wsload/results/runs.hpp>
#include <wsload/results/summary.hpp>

namespace wsload {

namespace detail {

/// Characters (code points) of UTF-8 text: how wide a name shows in a terminal, near enough.
inline std::size_t text_width(std::string_view text) noexcept {
  std::size_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

/// A step's latency at `percentile` in milliseconds, or "-" when no attempt succeeded.
inline std::string step_ms(const Histogram& h, double percentile) {
  return h.empty() ? std::string("-") : format_ms(seconds_of(h.value_at_percentile(percentile)));
}

inline std::string step_mean_ms(const Histogram& h) {
  return h.empty() ? std::string("-") : format_ms(h.mean() / 1e6);
}

}  // namespace detail

/// The console block of a run's steps and checks: per step its count, failures (by kind),
/// success rate and latency avg / p50 / p95 / p99 and ttfb p95 in ms; per check its passes
/// of its evaluations. "" when the run had neither.
inline std::string format_steps(const Summary& s) {
  using detail::format_count;
  using detail::text_width;
  std::size_t width = 4;
  for (const auto& [name, step] : s.steps) width = std::max(width, text_width(name));
  for (const auto& [name, check] : s.checks) width = std::max(width, text_width(name));
  const auto cell = [](const std::string& text, std::size_t n) {
    return std::string(n > text.size() ? n - text.size() : 0, ' ') + text;
  };
  const auto name_cell = [width](const std::string& name) {
    return "    " + name + std::string(width - text_width(name), ' ');
  };
  std::string out;
  if (!s.steps.empty()) {
    out += "  Steps (ms):\n" + name_cell("step") + cell("count", 10) + cell("failed", 8) +
           cell("success", 10) + cell("avg", 9) + cell("p50", 9) + cell("p95", 9) + cell("p99", 9) +
           cell("ttfb p95", 10) + "\n";
    for (const auto& [name, step] : s.steps) {
      out += name_cell(name) + cell(format_count(step.count), 10) +
             cell(format_count(step.failures), 8) +
             cell(detail::format_number(step.success_rate(), 2) + " %", 10) +
             cell(detail::step_mean_ms(step.latency), 9) +
             cell(detail::step_ms(step.latency, 50), 9) +
             cell(detail::step_ms(step.latency, 95), 9) +
             cell(detail::step_ms(step.latency, 99), 9) + cell(detail::step_ms(step.ttfb, 95), 10) +
             (step.failures ? "  (" + detail::step_failures_text(step) + ")" : "") + "\n";
    }
  }
  if (!s.checks.empty()) {
    out += "  Checks:\n";
    for (const auto& [name, check] : s.checks) {
      const auto share = check.share();
      out += name_cell(name) + "  " + format_count(check.passes) + " of " +
             format_count(check.passes + check.failures) + " passed" +
             (share ? " (" + detail::format_number(*share, 2) + " %)" : "") + "\n";
    }
  }
  return out;
}

/// The HTML section of the runs' steps and checks, a row per run and step; "" when no
/// run had any.
inline std::string steps_html(const std::vector<RunRecord>& runs) {
  using detail::escape_markup;
  using detail::format_count;
  std::string steps;
  std::string checks;
  for (const auto& run : runs) {
    const auto label = escape_markup(run.label());
    for (const auto& [name, step] : run.summary.steps) {
      steps += "<tr><td>" + label + "</td><td>" + escape_markup(name) + "</td><td>" +
               format_count(step.count) + "</td><td>" + format_count(step.failures) + "</td><td>" +
               detail::format_number(step.success_rate(), 2) + " %</td><td>" +
               detail::step_mean_ms(step.latency) + "</td><td>" +
               detail::step_ms(step.latency, 50) + "</td><td>" + detail::step_ms(step.latency, 95) +
               "</td><td>" + detail::step_ms(step.latency, 99) + "</td><td>" +
               detail::step_ms(step.ttfb, 95) + "</td><td>" +
               escape_markup(detail::step_failures_text(step)) + "</td></tr>";
    }
    for (const auto& [name, check] : run.summary.checks) {
      const auto share = check.share();
      checks += "<tr><td>" + label + "</td><td>" + escape_markup(name) + "</td><td>" +
                format_count(check.passes) + "</td><td>" + format_count(check.failures) +
                "</td><td>" + (share ? detail::format_number(*share, 2) + " %" : "&ndash;") +
                "</td></tr>";
    }
  }
  if (steps.empty() && checks.empty()) return "";
  std::string html = "<section id=\"steps\"><h2>Steps and checks</h2>";
  if (!steps.empty()) {
    html +=
        "<table class=\"figures\"><tr><th>run</th><th>step</th><th>count</th><th>failed</th>"
        "<th>success</th><th>avg ms</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th>"
        "<th>ttfb p95 ms</th><th>failures by kind</th></tr>" +
        steps + "</table>";
  }
  if (!checks.empty()) {
    html +=
        "<h3>Checks</h3><table class=\"figures\"><tr><th>run</th><th>check</th><th>passed</th>"
        "<th>failed</th><th>share passed</th></tr>" +
        checks + "</table>";
  }
  return html + "</section>\n";
}

}  // namespace wsload
