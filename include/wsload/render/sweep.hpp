// A capacity sweep drawn: the console table (a row per offered rate) and a self-contained
// HTML page plotting latency percentiles and throughput against offered load.
#pragma once

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <wsload/detail/format.hpp>
#include <wsload/render/detail/svg.hpp>
#include <wsload/results/sweep.hpp>

namespace wsload {

namespace detail {

/// "PASS", or "FAIL" with the expressions that failed; the generator's shortfall says so.
inline std::string sweep_verdict(const SweepStep& s) {
  if (s.summary.interrupted) return "INTERRUPTED";
  if (s.passed()) return "PASS";
  std::string failed;
  for (const auto& v : s.summary.verdicts) {
    if (!v.passed) failed += (failed.empty() ? "" : ", ") + v.expression;
  }
  return "FAIL " + failed + (s.generator_limited() ? " (generator fell short)" : "");
}

/// The latency at `percentile` in milliseconds as the table shows it; "-" without samples.
inline std::string sweep_latency_cell(const Summary& s, double percentile) {
  const auto v = s.latency_at(percentile);
  return v ? format_ms(*v) : std::string("-");
}

/// The sentence under a sweep: the knee and how far to trust it.
inline std::string knee_sentence(const Knee& knee) {
  return (knee.rate ? "Knee: " + format_number(*knee.rate, 2) + " requests/s"
                    : std::string("Knee: none")) +
         " (" + knee.note + ")";
}

/// A figure of each rate, as the table and the page show it.
struct SweepColumn {
  std::string header;
  std::string (*cell)(const SweepStep&);
};

/// The p95 of a streamed reply's timing in milliseconds; "-" without samples.
template <Timing timing>
std::string sweep_p95_cell(const SweepStep& s) {
  const Histogram& h = s.summary.timed(timing);
  return h.empty() ? std::string("-") : format_ms(seconds_of(h.value_at_percentile(95)));
}

/// The columns of a sweep's table, before its verdict: the streamed replies' figures and
/// goodput only when some rate has them. A figure of the Summary is one more entry here.
inline std::vector<SweepColumn> sweep_columns(const SweepResult& r) {
  std::vector<SweepColumn> columns = {
      {"rate/s", [](const SweepStep& s) { return format_number(s.offered_rate, 2); }},
      {"achieved", [](const SweepStep& s) { return format_number(s.achieved_rate(), 1); }},
      {"p50 ms", [](const SweepStep& s) { return sweep_latency_cell(s.summary, 50); }},
      {"p95 ms", [](const SweepStep& s) { return sweep_latency_cell(s.summary, 95); }},
      {"p99 ms", [](const SweepStep& s) { return sweep_latency_cell(s.summary, 99); }},
      {"success %", [](const SweepStep& s) { return format_number(s.summary.success_rate(), 1); }},
  };
  const auto any = [&r](auto has) { return std::any_of(r.steps.begin(), r.steps.end(), has); };
  if (any([](const SweepStep& s) { return s.summary.streamed(); })) {
    columns.push_back({"ttft p95", sweep_p95_cell<Timing::first_token>});
  }
  if (any([](const SweepStep& s) { return !s.summary.tpot.empty(); })) {
    columns.push_back({"tpot p95", sweep_p95_cell<Timing::per_token>});
  }
  if (any([](const SweepStep& s) { return s.summary.has_slo(); })) {
    columns.push_back({"goodput/s", [](const SweepStep& s) {
                         return s.summary.has_slo() ? format_number(s.summary.goodput(), 1)
                                                    : std::string("-");
                       }});
  }
  return columns;
}

}  // namespace detail

/// The sweep as a table for a terminal or a CI log: per offered rate (lowest first) the
/// achieved rate, latency p50 / p95 / p99 in milliseconds, success rate and verdict, then
/// the knee.
inline std::string format_sweep(const SweepResult& r) {
  std::string out = "Capacity sweep (" + std::string(to_string(r.mode)) + ")\n";
  const auto row = [&out](const std::vector<std::string>& cells, const std::string& verdict) {
    out += " ";
    for (const auto& cell : cells) {
      out += std::string(cell.size() < 10 ? 11 - cell.size() : 1, ' ') + cell;
    }
    out += "  " + verdict + "\n";
  };
  const auto columns = detail::sweep_columns(r);
  std::vector<std::string> headers;
  for (const auto& c : columns) headers.push_back(c.header);
  row(headers, "verdict");
  for (const auto* s : r.by_rate()) {
    std::vector<std::string> cells;
    for (const auto& c : columns) cells.push_back(c.cell(*s));
    row(cells, detail::sweep_verdict(*s));
  }
  if (r.interrupted) out += "  INTERRUPTED: the sweep stopped before every rate ran\n";
  return out + detail::knee_sentence(r.knee()) + "\n";
}

namespace detail {

/// A plot against offered load: log10 of the rate when the rates span a factor of 4 or
/// more, the rate itself otherwise; `knee` drawn as a dashed vertical line.
inline std::string sweep_plot(const std::string& id, const std::vector<const SweepStep*>& steps,
                              const std::string& y_label, std::vector<PlotSeries> series,
                              std::optional<double> knee) {
  const double low = steps.front()->offered_rate, high = steps.back()->offered_rate;
  const bool log = high >= 4 * low;
  const auto x_of = [log](double rate) { return log ? std::log10(rate) : rate; };
  for (auto& s : series) {
    for (auto& p : s.points) p.first = x_of(p.first);
  }
  PlotAxis x{.label = "offered load, requests/s",
             .min = x_of(low),
             .max = x_of(high),
             .log = log,
             .ticks = log ? log_ticks(low, high) : linear_ticks(low, high)};
  if (!(x.max > x.min)) {  // one rate: a little room either side
    x.min -= log ? 0.1 : low * 0.1;
    x.max += log ? 0.1 : low * 0.1;
  }
  const double y_max = std::max(latest_point(series, true) * 1.1, 1e-3);
  const PlotAxis y{
      .label = y_label, .min = 0, .max = y_max, .log = false, .ticks = linear_ticks(0, y_max)};
  if (knee) {
    series.push_back({.label = "knee",
                      .color = "#555",
                      .points = {{x_of(*knee), 0}, {x_of(*knee), y_max}},
                      .dash = "2,3"});
  }
  return svg_plot(id, x, y, series) + legend(series);
}

}  // namespace detail

/// The sweep as one self-contained HTML page: the knee, latency p50 / p95 / p99 against
/// offered load, achieved and good (successful) throughput against it, and the table.
inline std::string sweep_html(const SweepResult& r,
                              const std::string& title = "wsload capacity sweep") {
  using detail::escape_markup;
  using detail::format_number;
  const auto steps = r.by_rate();
  const Knee knee = r.knee();
  std::string html = detail::page_start(title) + R"(<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}th,td{border-bottom:1px solid #eee;padding:4px 8px;text-align:right}
svg.plot{width:100%;height:auto;max-width:760px;display:block}svg.plot .frame{fill:none;stroke:#bbb}
svg.plot .grid{stroke:#eee}svg.plot .tick,svg.plot .axis{font-size:11px;fill:#555}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;margin:4px 0 12px}.pass{color:#1a7f37}.fail{color:#cf222e}
</style></head><body>
<h1>)" + escape_markup(title) +
                     "</h1>\n<p id=\"knee\">" + escape_markup(detail::knee_sentence(knee)) +
                     "</p>\n";
  if (steps.empty()) return html + "<p>No rate ran.</p></body></html>\n";
  std::vector<detail::PlotSeries> latency;
  for (const auto& [percentile, color] :
       {std::pair(50.0, detail::palette[0]), std::pair(95.0, detail::palette[4]),
        std::pair(99.0, detail::palette[1])}) {
    detail::PlotSeries s{
        .label = "p" + format_number(percentile, 0), .color = color, .points = {}, .dash = ""};
    for (const auto* step : steps) {
      if (const auto v = step->summary.latency_at(percentile)) {
        s.points.emplace_back(step->offered_rate, *v * 1e3);
      }
    }
    latency.push_back(std::move(s));
  }
  detail::PlotSeries offered{.label = "offered", .color = "#999", .points = {}, .dash = "4,3"};
  detail::PlotSeries achieved{
      .label = "sent (achieved)", .color = detail::palette[0], .points = {}, .dash = ""};
  detail::PlotSeries successful{
      .label = "successful", .color = detail::palette[2], .points = {}, .dash = ""};
  detail::PlotSeries good{
      .label = "goodput (met every SLO)", .color = detail::palette[3], .points = {}, .dash = ""};
  for (const auto* step : steps) {
    offered.points.emplace_back(step->offered_rate, step->offered_rate);
    achieved.points.emplace_back(step->offered_rate, step->achieved_rate());
    successful.points.emplace_back(step->offered_rate, step->summary.requests_per_second());
    if (step->summary.has_slo())
      good.points.emplace_back(step->offered_rate, step->summary.goodput());
  }
  std::vector<detail::PlotSeries> throughput = {std::move(offered), std::move(achieved),
                                                std::move(successful)};
  if (!good.points.empty()) throughput.push_back(std::move(good));
  html += "<section id=\"latency\"><h2>Latency against offered load</h2>" +
          detail::sweep_plot("sweep-latency", steps, "latency, ms", std::move(latency), knee.rate) +
          "</section>\n";
  html += "<section id=\"throughput\"><h2>Throughput against offered load</h2>" +
          detail::sweep_plot("sweep-throughput", steps, "requests/s", std::move(throughput),
                             knee.rate) +
          "</section>\n";
  const auto columns = detail::sweep_columns(r);
  html += "<section id=\"rates\"><h2>Rates</h2><table><tr>";
  for (const auto& c : columns) html += "<th>" + escape_markup(c.header) + "</th>";
  html += "<th>verdict</th></tr>";
  for (const auto* s : steps) {
    html += "<tr>";
    for (const auto& c : columns) html += "<td>" + escape_markup(c.cell(*s)) + "</td>";
    html += std::string("<td class=\"") + (s->passed() ? "pass" : "fail") + "\">" +
            escape_markup(detail::sweep_verdict(*s)) + "</td></tr>";
  }
  return html + "</table></section>\n<footer>Made by wsload.</footer></body></html>\n";
}

}  // namespace wsload
