// A small SVG kit for the HTML report: line plots with linear or log axes, their ticks
// and legends, as inline SVG that needs no script or stylesheet from anywhere. Written
// here because no packaged C++ library draws plain SVG plots without a runtime of its own.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <wsload/detail/format.hpp>

namespace wsload::detail {

/// The start of a self-contained page, up to its <style>: doctype, charset, viewport and
/// `title` (escaped).
inline std::string page_start(const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         escape_markup(title) + "</title>\n";
}

inline constexpr const char* palette[] = {"#1f77b4", "#d62728", "#2ca02c",
                                          "#9467bd", "#ff7f0e", "#17becf"};

inline const char* color_of(std::size_t run) {
  return palette[run % std::size(palette)];
}

struct PlotSeries {
  std::string label;
  std::string color;
  std::vector<std::pair<double, double>> points;
  std::string dash;  ///< SVG stroke-dasharray; empty: solid
};

struct PlotAxis {
  std::string label;
  double min = 0;
  double max = 1;
  bool log = false;  ///< the values are already log10; ticks say what they mean
  std::vector<std::pair<double, std::string>> ticks;
};

/// 1, 2, 5, 10, 20, ... between `low` and `high` (both > 0), for a log10 axis.
inline std::vector<std::pair<double, std::string>> log_ticks(double low, double high) {
  std::vector<std::pair<double, std::string>> ticks;
  for (int e = static_cast<int>(std::floor(std::log10(low))); e <= std::ceil(std::log10(high));
       ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      if (m > 1 && std::log10(high / low) > 2.5) continue;  // many decades: powers of ten
      const double v = m * std::pow(10.0, e);
      if (v >= low * 0.999 && v <= high * 1.001) {
        ticks.emplace_back(std::log10(v), format_number(v, v < 1 ? 3 : 0));
      }
    }
  }
  return ticks;
}

/// About six round ticks from `low` to `high`.
inline std::vector<std::pair<double, std::string>> linear_ticks(double low, double high) {
  std::vector<std::pair<double, std::string>> ticks;
  const double span = high - low;
  if (!(span > 0)) return {{low, format_number(low, 2)}};
  const double raw = span / 6;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (raw <= m * magnitude) {
      step = m * magnitude;
      break;
    }
  }
  for (double v = std::ceil(low / step) * step; v <= high + step * 1e-9; v += step) {
    ticks.emplace_back(v, format_number(v, step < 1 ? 3 : 0));
  }
  return ticks;
}

/// A line plot in SVG. Each series is a polyline whose data-points attribute counts its
/// points, which the page's script and the tests read.
inline std::string svg_plot(const std::string& id, const PlotAxis& x, const PlotAxis& y,
                            const std::vector<PlotSeries>& series) {
  constexpr double width = 640, height = 300, left = 64, right = 16, top = 12, bottom = 44;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  const auto sx = [&](double v) {
    return left + (x.max > x.min ? (v - x.min) / (x.max - x.min) : 0.5) * plot_w;
  };
  const auto sy = [&](double v) {
    return top + plot_h - (y.max > y.min ? (v - y.min) / (y.max - y.min) : 0.5) * plot_h;
  };
  std::string svg = "<svg class=\"plot\" id=\"" + id + "\" viewBox=\"0 0 " +
                    format_number(width, 0) + " " + format_number(height, 0) +
                    "\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\">";
  svg += "<rect class=\"frame\" x=\"" + format_number(left) + "\" y=\"" + format_number(top) +
         "\" width=\"" + format_number(plot_w) + "\" height=\"" + format_number(plot_h) + "\"/>";
  for (const auto& [v, text] : x.ticks) {
    if (v < x.min - 1e-9 || v > x.max + 1e-9) continue;
    svg += "<line class=\"grid\" x1=\"" + format_number(sx(v)) + "\" x2=\"" + format_number(sx(v)) +
           "\" y1=\"" + format_number(top) + "\" y2=\"" + format_number(top + plot_h) +
           "\"/><text class=\"tick\" x=\"" + format_number(sx(v)) + "\" y=\"" +
           format_number(top + plot_h + 16) + "\" text-anchor=\"middle\">" + escape_markup(text) +
           "</text>";
  }
  for (const auto& [v, text] : y.ticks) {
    if (v < y.min - 1e-9 || v > y.max + 1e-9) continue;
    svg += "<line class=\"grid\" x1=\"" + format_number(left) + "\" x2=\"" +
           format_number(left + plot_w) + "\" y1=\"" + format_number(sy(v)) + "\" y2=\"" +
           format_number(sy(v)) + "\"/><text class=\"tick\" x=\"" + format_number(left - 6) +
           "\" y=\"" + format_number(sy(v) + 4) + "\" text-anchor=\"end\">" + escape_markup(text) +
           "</text>";
  }
  svg += "<text class=\"axis\" x=\"" + format_number(left + plot_w / 2) + "\" y=\"" +
         format_number(height - 6) + "\" text-anchor=\"middle\">" + escape_markup(x.label) +
         "</text>";
  svg += "<text class=\"axis\" transform=\"translate(14," + format_number(top + plot_h / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + escape_markup(y.label) + "</text>";
  for (const auto& s : series) {
    std::string points;
    for (const auto& [px, py] : s.points) {
      if (!std::isfinite(px) || !std::isfinite(py)) continue;
      points += format_number(sx(std::clamp(px, x.min, x.max))) + "," +
                format_number(sy(std::clamp(py, y.min, y.max))) + " ";
    }
    svg += "<polyline class=\"series\" data-points=\"" + std::to_string(s.points.size()) +
           "\" fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"2\"" +
           (s.dash.empty() ? "" : " stroke-dasharray=\"" + s.dash + "\"") + " points=\"" + points +
           "\"><title>" + escape_markup(s.label) + "</title></polyline>";
  }
  svg += "</svg>";
  return svg;
}

inline std::string legend(const std::vector<PlotSeries>& series) {
  std::string html = "<div class=\"legend\">";
  for (const auto& s : series) {
    html +=
        "<span><svg width=\"28\" height=\"10\"><line x1=\"0\" y1=\"5\" x2=\"28\" y2=\"5\" "
        "stroke=\"" +
        s.color + "\" stroke-width=\"2\"" +
        (s.dash.empty() ? "" : " stroke-dasharray=\"" + s.dash + "\"") + "/></svg>" +
        escape_markup(s.label) + "</span>";
  }
  return html + "</div>";
}

inline double latest_point(const std::vector<PlotSeries>& series, bool y) {
  double m = 0;
  for (const auto& s : series) {
    for (const auto& p : s.points) m = std::max(m, y ? p.second : p.first);
  }
  return m;
}

}  // namespace wsload::detail
