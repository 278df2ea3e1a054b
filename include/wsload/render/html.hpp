// The HTML report people look at: one self-contained file (inline CSS, SVG plots drawn
// here, a few lines of script; nothing fetched when it is opened) of one or more runs,
// overlaid in every plot.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <wsload/detail/format.hpp>
#include <wsload/render/detail/svg.hpp>
#include <wsload/render/steps.hpp>
#include <wsload/results/runs.hpp>

namespace wsload {

namespace detail {

/// The latency at quantiles spread evenly on log10(1 / (1 - q)), as HdrHistogram plots it.
inline std::vector<std::pair<double, double>> spectrum(const Histogram& h, double x_max) {
  std::vector<std::pair<double, double>> points;
  if (h.empty()) return points;
  for (double x = 0; x <= x_max + 1e-9; x += 0.05) {
    const double q = 1 - std::pow(10.0, -x);
    points.emplace_back(x, ms_of(h.value_at_percentile(q * 100)));
  }
  return points;
}

/// The share of requests (percent) per latency bin, bins evenly spaced on log10(ms).
inline std::vector<std::pair<double, double>> distribution(const Histogram& h, double low_log,
                                                           double high_log, int bins) {
  std::vector<std::pair<double, double>> points;
  if (h.empty()) return points;
  std::vector<double> share(static_cast<std::size_t>(bins), 0.0);
  const double width = (high_log - low_log) / bins;
  const auto& counts = h.counts();
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    const double ms = std::max(ms_of(h.value_at_index(i)), 1e-3);
    auto bin = static_cast<long>(std::floor((std::log10(ms) - low_log) / width));
    bin = std::clamp<long>(bin, 0, bins - 1);
    share[static_cast<std::size_t>(bin)] +=
        100.0 * static_cast<double>(counts[i]) / static_cast<double>(h.count());
  }
  // A step line: each bin's share held across its width.
  for (int b = 0; b < bins; ++b) {
    points.emplace_back(low_log + b * width, share[static_cast<std::size_t>(b)]);
    points.emplace_back(low_log + (b + 1) * width, share[static_cast<std::size_t>(b)]);
  }
  return points;
}

inline std::string figure_cell(std::optional<double> seconds) {
  return seconds ? format_ms(*seconds) : std::string("&ndash;");
}

inline std::string headline_table(const std::vector<RunRecord>& runs) {
  std::string html =
      "<table class=\"figures\"><tr><th>run</th><th>requests</th><th>failed</th>"
      "<th>success</th><th>req/s</th><th>avg ms</th><th>p50 ms</th><th>p95 ms</th>"
      "<th>p99 ms</th><th>max ms</th><th>thresholds</th></tr>";
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const auto& s = runs[r].summary;
    std::size_t failed = 0;
    for (const auto& v : s.verdicts) failed += v.passed ? 0 : 1;
    const std::string verdict =
        runs[r].status == "running" ? "<span class=\"fail\">did not finish</span>"
        : failed ? "<span class=\"fail\">FAIL " + std::to_string(failed) + " of " +
                       std::to_string(s.verdicts.size()) + "</span>"
        : runs[r].failed_besides_verdicts() ? "<span class=\"fail\">FAIL (the case)</span>"
        : s.verdicts.empty()
            ? "<span class=\"none\">none judged</span>"
            : "<span class=\"pass\">PASS " + std::to_string(s.verdicts.size()) + "</span>";
    html += "<tr><td><span class=\"swatch\" style=\"background:" + std::string(color_of(r)) +
            "\"></span>" + escape_markup(runs[r].label()) + "</td><td>" +
            std::to_string(s.total_requests) + "</td><td>" + std::to_string(s.failed_requests) +
            "</td><td>" + format_number(s.success_rate()) + " %</td><td>" +
            format_number(s.requests_per_second(), 1) + "</td><td>" +
            figure_cell(s.latency_mean()) + "</td><td>" + figure_cell(s.latency_at(50)) +
            "</td><td>" + figure_cell(s.latency_at(95)) + "</td><td>" +
            figure_cell(s.latency_at(99)) + "</td><td>" +
            figure_cell(s.latency.empty() ? std::nullopt
                                          : std::optional<double>(seconds_of(s.latency.max()))) +
            "</td><td>" + verdict + "</td></tr>";
  }
  return html + "</table>";
}

inline std::string run_notes(const Summary& s) {
  std::vector<std::string> notes;
  if (s.config.contains("url") && s.config["url"].is_string()) {
    notes.push_back(escape_markup(s.config["url"].get<std::string>()));
  }
  if (!s.started_at.empty()) notes.push_back("started " + escape_markup(s.started_at));
  notes.push_back(std::to_string(s.connections_configured) + " connections, " +
                  format_number(s.total_time.count()) + " s");
  if (s.config.contains("shards"))
    notes.push_back("merged from " + s.config["shards"].dump() + " shards");
  if (s.shard) {
    notes.push_back("shard " + s.shard->text());
  }
  if (s.schedule) {
    notes.push_back("open loop, " + format_number(s.schedule->achieved_rate, 1) + " of " +
                    format_number(s.schedule->target_rate, 1) + " req/s");
  }
  std::string html = "<p class=\"notes\">";
  for (std::size_t i = 0; i < notes.size(); ++i) html += (i ? " &middot; " : "") + notes[i];
  html += "</p>";
  const auto warn = [&html](const std::string& text) {
    html += "<p class=\"warning\">" + escape_markup(text) + "</p>";
  };
  if (s.interrupted) warn("Interrupted: the figures cover the part that ran.");
  if (s.deadline_exceeded) warn("The run's deadline ended it before it finished.");
  if (s.schedule && s.schedule->behind()) {
    warn(
        "The generator fell behind its schedule: its latencies measure it as much as the "
        "service.");
  }
  if (s.schedule && s.schedule->sessions_waited > 0) {
    warn(std::to_string(s.schedule->sessions_waited) +
         " sessions waited for a free slot (at most " + std::to_string(s.schedule->max_sessions) +
         " in flight): the figures measure the cap, not the service.");
  }
  if (s.generator_saturated()) {
    warn("The load generator was the bottleneck (engine threads " +
         format_number(s.generator_busy * 100, 0) +
         " % busy): its latencies include time queued in wsload itself.");
  }
  if (s.config.contains("tls") && s.config["tls"].value("insecure", false)) {
    warn("TLS verification was off: the server was not authenticated.");
  }
  return html;
}

/// A GoogleTest case's failures besides its verdicts, and a case that never finished.
inline std::string case_outcome_html(const RunRecord& run) {
  std::string html;
  if (run.status == "running") {
    html +=
        "<p class=\"warning\">The test case did not finish (it crashed or was killed): "
        "the figures are those its load recorded.</p>";
  }
  if (run.failures.empty()) {
    if (run.status == "failed" && run.summary.passed()) {
      html += "<p class=\"fail\">The test case failed; see its GoogleTest output.</p>";
    }
    return html;
  }
  html += "<ul class=\"verdicts\">";
  for (const auto& f : run.failures) {
    html += "<li class=\"fail\"><b>FAIL</b> <code>" + escape_markup(f.source) + "</code> " +
            escape_markup(f.message) + "</li>";
  }
  return html + "</ul>";
}

inline std::string verdicts_html(const std::vector<RunRecord>& runs) {
  std::string html;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const auto& s = runs[r].summary;
    html += "<h3><span class=\"swatch\" style=\"background:" + std::string(color_of(r)) +
            "\"></span>" + escape_markup(runs[r].label()) + "</h3>" + run_notes(s);
    html += case_outcome_html(runs[r]);
    if (s.verdicts.empty()) {
      html += s.shard ? "<p>A shard judges no threshold; the merge of the shards does.</p>"
                      : "<p>No thresholds were set.</p>";
      continue;
    }
    html += "<ul class=\"verdicts\">";
    for (const auto& v : s.verdicts) {
      html +=
          std::string("<li class=\"") + (v.passed ? "pass" : "fail") + "\"><b>" +
          (v.passed ? "PASS" : "FAIL") + "</b> <code>" + escape_markup(v.expression) + "</code> " +
          escape_markup(v.message) +
          (v.assertion.empty() ? ""
                               : " <span class=\"notes\">by <code>" + escape_markup(v.assertion) +
                                     "</code> at " + escape_markup(v.source) + "</span>") +
          "</li>";
    }
    html += "</ul>";
    if (!s.errors.empty()) {
      html += "<p>Errors: ";
      for (std::size_t i = 0; i < s.errors.size(); ++i) {
        const auto& e = s.errors[i];
        html += (i ? ", " : "") + std::to_string(e.requests) + " " +
                escape_markup(to_string(e.kind)) +
                (e.detail.empty() ? "" : " (" + escape_markup(e.detail) + ")");
      }
      html += "</p>";
    }
  }
  return html;
}

/// The x axis of a percentile spectrum, HdrHistogram's scale up to `x_max` nines.
inline PlotAxis percentile_axis(double x_max) {
  PlotAxis x{"percentile", 0, x_max, true, {}};
  const char* labels[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"};
  for (int i = 0; i <= 5; ++i) x.ticks.emplace_back(i, labels[i]);
  return x;
}

/// "p50 / p95 / p99" of `h` in milliseconds, for a table cell; "-" when it is empty.
inline std::string p50_p95_p99(const Histogram& h) {
  if (h.empty()) return "-";
  return format_ms(seconds_of(h.value_at_percentile(50))) + " / " +
         format_ms(seconds_of(h.value_at_percentile(95))) + " / " +
         format_ms(seconds_of(h.value_at_percentile(99)));
}

inline std::string spectrum_section(const std::vector<RunRecord>& runs, bool first_frame) {
  std::vector<PlotSeries> series;
  double x_max = 1;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const auto& s = runs[r].summary;
    if (s.latency.empty() || (first_frame && !s.streamed())) continue;
    // Beyond 1 / count there is no sample to plot.
    const double reach =
        std::min(5.0, std::log10(std::max<double>(static_cast<double>(s.latency.count()), 10.0)));
    x_max = std::max(x_max, reach);
    series.push_back({runs[r].label() + (first_frame ? " completion" : ""), color_of(r),
                      spectrum(s.latency, reach), ""});
    if (first_frame) {
      series.push_back(
          {runs[r].label() + " first frame", color_of(r), spectrum(s.ttfb, reach), "6 4"});
    }
  }
  if (series.empty()) return "";
  const PlotAxis x = percentile_axis(x_max);
  const double top = std::max(latest_point(series, true) * 1.05, 0.01);
  PlotAxis y{"latency (ms)", 0, top, false, linear_ticks(0, top)};
  return svg_plot(first_frame ? "ttfb-spectrum" : "spectrum", x, y, series) + legend(series);
}

inline std::string distribution_section(const std::vector<RunRecord>& runs) {
  double low = std::numeric_limits<double>::max(), high = 0;
  for (const auto& run : runs) {
    const auto& h = run.summary.latency;
    if (h.empty()) continue;
    low = std::min(low, std::max(ms_of(h.min()), 1e-3));
    high = std::max(high, std::max(ms_of(h.max()), 1e-3));
  }
  if (high == 0) return "<p>No request succeeded: nothing to plot.</p>";
  // At least a third of a decade wide, so that a tight distribution still shows a shape.
  double low_log = std::log10(low), high_log = std::log10(high);
  const double pad = std::max(0.0, (1.0 / 3 - (high_log - low_log)) / 2);
  low_log -= pad + 0.01;
  high_log += pad + 0.01;
  const int bins = std::clamp(static_cast<int>(std::lround((high_log - low_log) * 40)), 20, 160);
  std::vector<PlotSeries> series;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    series.push_back({runs[r].label(), color_of(r),
                      distribution(runs[r].summary.latency, low_log, high_log, bins), ""});
  }
  // Shares on a log scale, so that the tail's few requests show beside the bulk.
  double least = 100;
  for (const auto& s : series) {
    for (const auto& p : s.points) {
      if (p.second > 0) least = std::min(least, p.second);
    }
  }
  const double bottom = std::floor(std::log10(std::max(least, 1e-4)));
  for (auto& s : series) {
    for (auto& p : s.points) p.second = p.second > 0 ? std::log10(p.second) : bottom;
  }
  const double low_ms = std::pow(10.0, low_log), high_ms = std::pow(10.0, high_log);
  auto ticks = log_ticks(low_ms, high_ms);
  if (ticks.size() < 3) {  // less than a decade: round values, placed on the log scale
    ticks.clear();
    for (const auto& [v, text] : linear_ticks(low_ms, high_ms)) {
      if (v > 0) ticks.emplace_back(std::log10(v), text);
    }
  }
  PlotAxis x{"latency (ms, log scale)", low_log, high_log, true, std::move(ticks)};
  PlotAxis y{"requests (%, log scale)", bottom, 2, true, log_ticks(std::pow(10.0, bottom), 100)};
  return svg_plot("histogram", x, y, series) + legend(series);
}

inline std::string time_sections(const std::vector<RunRecord>& runs) {
  std::vector<PlotSeries> rate, latency;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const auto& series = runs[r].summary.time_series;
    const auto label = runs[r].label();
    PlotSeries ok{label + " req/s", color_of(r), {}, ""};
    PlotSeries errors{label + " errors/s", color_of(r), {}, "2 3"};
    PlotSeries p50{label + " p50", color_of(r), {}, ""};
    PlotSeries p95{label + " p95", color_of(r), {}, "6 4"};
    PlotSeries p99{label + " p99", color_of(r), {}, "2 3"};
    // One point per interval (a second, or more in a long run), read one at a time.
    for (std::size_t t = 0; t < series.intervals(); ++t) {
      const auto i = series.interval(t);
      const double from = static_cast<double>(t * series.resolution());
      const double at = from + i.seconds / 2;
      // The run ends inside its last second: a rate over the part it covered, unless that
      // is too short to be one beside whole seconds.
      const double covered =
          t + 1 < series.intervals()
              ? i.seconds
              : std::clamp(runs[r].summary.total_time.count() - from, 0.01, i.seconds);
      if (covered >= 0.5 || t == 0) {
        ok.points.emplace_back(at, static_cast<double>(i.succeeded) / covered);
        errors.points.emplace_back(at, static_cast<double>(i.failed) / covered);
      }
      if (!i.latency.empty()) {
        p50.points.emplace_back(at, ms_of(i.latency.value_at_percentile(50)));
        p95.points.emplace_back(at, ms_of(i.latency.value_at_percentile(95)));
        p99.points.emplace_back(at, ms_of(i.latency.value_at_percentile(99)));
      }
    }
    rate.push_back(std::move(ok));
    rate.push_back(std::move(errors));
    latency.push_back(std::move(p50));
    latency.push_back(std::move(p95));
    latency.push_back(std::move(p99));
  }
  const double end = std::max(latest_point(rate, false) + 0.5, 1.0);
  PlotAxis x{"seconds since the measurement began", 0, end, false, linear_ticks(0, end)};
  const double rate_top = std::max(latest_point(rate, true) * 1.1, 1.0);
  const double latency_top = std::max(latest_point(latency, true) * 1.1, 0.01);
  return "<h3>Requests and errors per second</h3>" +
         svg_plot("rate", x, {"per second", 0, rate_top, false, linear_ticks(0, rate_top)}, rate) +
         legend(rate) + "<h3>Latency per second</h3>" +
         svg_plot("latency-over-time", x,
                  {"latency (ms)", 0, latency_top, false, linear_ticks(0, latency_top)}, latency) +
         legend(latency);
}

inline std::string first_frame_section(const std::vector<RunRecord>& runs) {
  std::string html =
      "<table class=\"figures\"><tr><th>run</th><th>frames per reply</th>"
      "<th>first frame p50 / p95 / p99 ms</th><th>completion p50 / p95 / p99 ms</th></tr>";
  bool any = false;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const auto& s = runs[r].summary;
    if (!s.streamed()) continue;
    any = true;
    const auto at = p50_p95_p99;
    html +=
        "<tr><td>" + escape_markup(runs[r].label()) + "</td><td>" +
        format_number(static_cast<double>(s.frames_received) /
                          static_cast<double>(std::max<std::uint64_t>(s.successful_requests, 1)),
                      1) +
        "</td><td>" + at(s.ttfb) + "</td><td>" + at(s.latency) + "</td></tr>";
  }
  if (!any) {
    return "<p class=\"none\">No streamed replies: every reply was a single frame, so the "
           "time to the first frame is the time to completion.</p>";
  }
  return html + "</table>" + spectrum_section(runs, true);
}

/// The percentile spectrum of one streaming timing (`id`: the plot's element id), one
/// series per run that has samples of it.
inline std::string timing_spectrum(const std::vector<RunRecord>& runs, Timing timing,
                                   const std::string& id) {
  std::vector<PlotSeries> series;
  double x_max = 1;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const auto& h = runs[r].summary.timed(timing);
    if (h.empty()) continue;
    const double reach =
        std::min(5.0, std::log10(std::max<double>(static_cast<double>(h.count()), 10.0)));
    x_max = std::max(x_max, reach);
    series.push_back({runs[r].label(), color_of(r), spectrum(h, reach), ""});
  }
  if (series.empty()) return "";
  const PlotAxis x = percentile_axis(x_max);
  const double top = std::max(latest_point(series, true) * 1.05, 0.01);
  PlotAxis y{"milliseconds", 0, top, false, linear_ticks(0, top)};
  return "<h3>" + std::string(timing_words(timing).second) + " by percentile</h3>" +
         svg_plot(id, x, y, series) + legend(series);
}

/// "12.5 req/s (98 %)": a run's goodput and the share of its requests that met every
/// --slo limit; "-" without limits.
inline std::string goodput_cell(const Summary& s) {
  if (!s.has_slo()) return "-";
  return format_number(s.goodput(), 1) + " req/s (" +
         format_number(s.total_requests ? 100.0 * static_cast<double>(s.good_requests) /
                                              static_cast<double>(s.total_requests)
                                        : 0.0) +
         " %)";
}

/// Time to first token, inter-token latency, time per output token, output throughput
/// and goodput: a table, and the spectra of ITL and TPOT. Empty when no run streamed or
/// had SLOs.
inline std::string tokens_section(const std::vector<RunRecord>& runs) {
  std::string html =
      "<table class=\"figures\"><tr><th>run</th><th>TTFT p50 / p95 / p99 ms</th>"
      "<th>ITL p50 / p95 / p99 ms</th><th>TPOT p50 / p95 / p99 ms</th>"
      "<th>output tokens/s</th><th>goodput</th></tr>";
  bool any = false;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    const auto& s = runs[r].summary;
    if (s.inter_frame.empty() && !s.has_slo()) continue;
    any = true;
    const auto at = p50_p95_p99;
    html += "<tr><td>" + escape_markup(runs[r].label()) + "</td><td>" + at(s.ttft) + "</td><td>" +
            at(s.inter_frame) + "</td><td>" + at(s.tpot) + "</td><td>" +
            (s.output_tokens ? format_number(s.output_throughput(), 1) : std::string("-")) +
            "</td><td>" + goodput_cell(s) + "</td></tr>";
  }
  if (!any) return "";
  return html + "</table>" + timing_spectrum(runs, Timing::inter_frame, "itl-spectrum") +
         timing_spectrum(runs, Timing::per_token, "tpot-spectrum");
}

}  // namespace detail

/// The whole report: headline figures, the steps and checks (when any), verdicts, the latency
/// percentile spectrum and histogram, requests, errors and latency over time, first frame against
/// completion. Runs are overlaid in every plot, one colour each.
inline std::string html_report(const std::vector<RunRecord>& runs,
                               const std::string& title = "wsload report") {
  using detail::escape_markup;
  std::string html = detail::page_start(title) + R"(<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
table.figures{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
table.figures th,table.figures td{border-bottom:1px solid #eee;padding:4px 8px;text-align:right}
table.figures th:first-child,table.figures td:first-child{text-align:left}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
.pass{color:#1a7f37}.fail{color:#cf222e}.none{color:#666}
ul.verdicts{list-style:none;padding-left:0}ul.verdicts li{margin:2px 0}
code{background:#f4f4f4;padding:1px 4px;border-radius:3px}
.notes{color:#555;margin:2px 0}.warning{background:#fff4e5;border-left:3px solid #f0a020;padding:4px 8px}
svg.plot{width:100%;height:auto;max-width:760px;display:block}
svg.plot .frame{fill:none;stroke:#bbb}svg.plot .grid{stroke:#eee}
svg.plot .tick,svg.plot .axis{font-size:11px;fill:#555}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px;margin:4px 0 12px}
.legend span{display:inline-flex;align-items:center;gap:4px}
footer{margin-top:40px;color:#888;font-size:12px}
</style></head><body>
<h1>)" + escape_markup(title) +
                     "</h1>\n<p class=\"notes\">" + std::to_string(runs.size()) +
                     (runs.size() == 1 ? " run" : " runs") +
                     "; latencies from send to reply completion (open loops: from when each "
                     "request was due).</p>\n";
  html += "<section id=\"figures\"><h2>Headline figures</h2>" + detail::headline_table(runs) +
          "</section>\n";
  html += steps_html(runs);
  html += "<section id=\"thresholds\"><h2>Thresholds</h2>" + detail::verdicts_html(runs) +
          "</section>\n";
  const auto spectrum = detail::spectrum_section(runs, false);
  html +=
      "<section id=\"spectrum\"><h2>Latency by percentile</h2><p class=\"notes\">Each step "
      "right is ten times rarer: the tail is where users wait.</p>" +
      (spectrum.empty() ? std::string("<p>No request succeeded: nothing to plot.</p>") : spectrum) +
      "</section>\n";
  html += "<section id=\"histogram\"><h2>Latency distribution</h2>" +
          detail::distribution_section(runs) + "</section>\n";
  html +=
      "<section id=\"over-time\"><h2>Over time</h2>" + detail::time_sections(runs) + "</section>\n";
  html += "<section id=\"first-frame\"><h2>First frame and completion</h2>" +
          detail::first_frame_section(runs) + "</section>\n";
  if (const auto tokens = detail::tokens_section(runs); !tokens.empty()) {
    html += "<section id=\"tokens\"><h2>Tokens</h2>" + tokens + "</section>\n";
  }
  html += R"(<footer id="status">Made by wsload.</footer>
<script>
// Marks the page as drawn, with the points each plot holds: a headless browser (and a
// reader wondering about an empty plot) can check every plot got its data.
(function () {
  var plots = document.querySelectorAll("svg.plot");
  var drawn = [];
  plots.forEach(function (plot) {
    var points = 0;
    plot.querySelectorAll("polyline.series").forEach(function (line) {
      points += Number(line.getAttribute("data-points"));
    });
    plot.setAttribute("data-drawn-points", String(points));
    drawn.push(plot.id + ":" + points);
  });
  document.body.setAttribute("data-plots", drawn.join(" "));
})();
</script>
</body></html>
)";
  return html;
}

}  // namespace wsload
