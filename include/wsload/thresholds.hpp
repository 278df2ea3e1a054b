// Thresholds: pass/fail rules such as "p99<800ms", and the verdicts they produce.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <wsload/detail/format.hpp>
#include <wsload/errors.hpp>

namespace wsload {

/// Durations in seconds, as the summary JSON gives them.
using Seconds = std::chrono::duration<double>;

/// The time a latency figure measures (see the README's "Streamed replies").
enum class Timing {
  completion,   ///< send to the reply's completion
  first_frame,  ///< "ttfb_": send to the reply's first frame
  first_token,  ///< "ttft_": send to its first token (the first-token rule's frame)
  inter_frame,  ///< "itl_": each gap between successive token frames of a reply
  per_token,    ///< "tpot_": (latency - ttft) / (tokens - 1) of each reply
  output_rate,  ///< "output_rate_": output tokens per second of each reply (tokens/s)
};

/// The figure of a run a threshold constrains.
enum class Figure {
  latency_mean,        ///< avg, mean
  latency_min,         ///< min
  latency_max,         ///< max
  latency_percentile,  ///< p50 / median, p90, p95, p99, p99.9, or any pN
  rps,                 ///< successful requests per second
  success_rate,        ///< percent of requests that succeeded
  errors,              ///< failed requests
  requests,            ///< all requests
  goodput,             ///< requests per second that met every --slo limit
  checks,              ///< percent of check evaluations that passed ("checks[has answer]")
};

enum class Comparison { less, less_equal, greater, greater_equal, equal, not_equal };

/// A parsed threshold. `limit` is in the figure's canonical unit: seconds for latencies,
/// requests per second for rps, percent for success_rate, a count for errors and requests.
struct Threshold {
  std::string expression;  ///< normalised text, e.g. "p99<800ms"
  Figure figure = Figure::latency_mean;
  double percentile = 0;  ///< for latency_percentile
  /// Which time a latency figure is of: to completion, or a streaming figure named by its
  /// prefix ("ttfb_p95", "ttft_p95", "itl_p99", "tpot_p50").
  Timing timing = Timing::completion;
  Comparison comparison = Comparison::less;
  double limit = 0;
  /// Seconds; when set, the threshold holds for every window of this length of the run's
  /// time series, not only for the run as a whole ("p99<500ms over 10s").
  double window = 0;
  /// The step (for Figure::checks, the check) the threshold judges, as written between
  /// its brackets ("p95[login]<200ms"): any text, matched exactly; empty for the whole run
  /// (and, for checks, every check together).
  std::string selector{};
};

/// The outcome of one threshold on one run.
struct Verdict {
  std::string expression;
  bool passed = false;
  std::optional<double> actual;  ///< empty when the figure has no samples
  double limit = 0;
  std::string message;  ///< a sentence a person can act on
  /// The GoogleTest assertion that judged it, as written ("EXPECT_P99_BELOW(summary, 1us)");
  /// empty for a threshold of the run's configuration.
  std::string assertion{};
  std::string source{};  ///< where that assertion is: "file:line"
};

namespace detail {

inline bool is_latency(Figure f) noexcept {
  return f == Figure::latency_mean || f == Figure::latency_min || f == Figure::latency_max ||
         f == Figure::latency_percentile;
}

inline std::string percentile_label(double p) {
  std::string digits = format_number(p, 4);
  return "p" + digits;
}

/// A timing's threshold prefix ("ttft_") and its name in messages; empty for completion.
inline std::pair<std::string_view, std::string_view> timing_words(Timing t) noexcept {
  switch (t) {
    case Timing::completion:
      break;
    case Timing::first_frame:
      return {"ttfb_", "time to first frame"};
    case Timing::first_token:
      return {"ttft_", "time to first token"};
    case Timing::inter_frame:
      return {"itl_", "inter-token latency"};
    case Timing::per_token:
      return {"tpot_", "time per output token"};
    case Timing::output_rate:
      return {"output_rate_", "per-user output rate"};
  }
  return {};
}

inline constexpr Timing streaming_timings[] = {Timing::first_frame, Timing::first_token,
                                               Timing::inter_frame, Timing::per_token,
                                               Timing::output_rate};

inline std::string figure_name(const Threshold& t) {
  if (t.timing != Timing::completion) {
    Threshold plain = t;
    plain.timing = Timing::completion;
    auto name = figure_name(plain);
    return std::string(timing_words(t.timing).second) + " (" +
           name.substr(0, name.find(" latency")) + ")";
  }
  switch (t.figure) {
    case Figure::latency_mean:
      return "average latency";
    case Figure::latency_min:
      return "minimum latency";
    case Figure::latency_max:
      return "maximum latency";
    case Figure::latency_percentile:
      return percentile_label(t.percentile) + " latency";
    case Figure::rps:
      return "throughput";
    case Figure::success_rate:
      return "success rate";
    case Figure::errors:
      return "failed requests";
    case Figure::requests:
      return "requests";
    case Figure::goodput:
      return "goodput";
    case Figure::checks:
      return "checks passed";
  }
  return "figure";
}

inline std::string format_figure(Figure f, double value, Timing timing = Timing::completion) {
  if (timing == Timing::output_rate) return format_number(value, 1) + " tokens/s";
  if (is_latency(f)) return format_seconds(value);
  switch (f) {
    case Figure::rps:
    case Figure::goodput:
      return format_number(value, 1) + " req/s";
    case Figure::success_rate:
    case Figure::checks:
      return format_number(value, 2) + " %";
    default:
      return format_number(value, 0);
  }
}

inline std::string_view comparison_text(Comparison c) noexcept {
  switch (c) {
    case Comparison::less:
      return "<";
    case Comparison::less_equal:
      return "<=";
    case Comparison::greater:
      return ">";
    case Comparison::greater_equal:
      return ">=";
    case Comparison::equal:
      return "==";
    case Comparison::not_equal:
      return "!=";
  }
  return "?";
}

/// A threshold's text split at its selector: "p95[login]<200ms" is "p95<200ms" and
/// "login". The selector runs from the first '[' to the last ']' (a limit holds none), so
/// a name may hold brackets, quotes and spaces. `problem` says what is wrong, if anything.
struct SelectorSplit {
  std::string rest{};
  std::string selector{};
  std::string problem{};
};

inline SelectorSplit split_selector(std::string_view text) {
  const auto open = text.find('[');
  const auto close = text.rfind(']');
  if (open == std::string_view::npos && close == std::string_view::npos) return {std::string(text)};
  const std::string form = "; a step or check is selected as figure[name], e.g. p95[login]<200ms";
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return {.problem = "unbalanced brackets" + form};
  }
  const auto before = text.substr(0, open);
  const auto after = text.substr(close + 1);
  const auto op = after.find_first_not_of(" \t");
  if (before.find_first_not_of(" \t") == std::string_view::npos) {
    return {.problem = "no figure before '['" + form};
  }
  // The brackets follow the figure: a '[' after a comparison is no selector, and what
  // follows it is no limit.
  if (before.find_first_of("<>=!") != std::string_view::npos) {
    return {.problem = "the brackets must follow the figure" + form};
  }
  if (op == std::string_view::npos || std::string_view("<>=!").find(after[op]) == after.npos) {
    return {.problem = "the comparison must follow ']'" + form};
  }
  if (close == open + 1) return {.problem = "the brackets name no step or check" + form};
  return {std::string(before) + std::string(after),
          std::string(text.substr(open + 1, close - open - 1))};
}

}  // namespace detail

/// Parses "<figure> <op> <number>[unit]", e.g. "p99<800ms", "avg<=0.5s", "rps>=100",
/// "success_rate>95%", "errors==0", "ttfb_p95<300ms", "p99<500ms over 10s". Figures: avg|mean, min,
/// max, median, pN (p50, p90, p99.9, ...), rps, success_rate, errors, requests; a latency figure
/// prefixed "ttfb_", "ttft_", "itl_" or "tpot_" is of that streaming time (Timing) instead of to
/// completion. Latencies need a unit
/// (us, ms, s); success_rate takes an optional '%', rps an optional "/s". A suffix "over N s" (or
/// "over N m") judges every N-second window of the run. A step is selected in brackets:
/// "p95[login]<200ms", "ttfb_p99[login]<1s", "success_rate[subscribe]>=99%",
/// "errors[login]==0", "count[login]>=100"; "checks[has answer]>=99%" is the percent of a
/// check's evaluations that passed ("checks>=99%": of every check). Throws ConfigError
/// (field "threshold") naming the expression and what is wrong.
inline Threshold parse_threshold(std::string_view text) {
  const std::string original(text);
  auto fail = [&](const std::string& reason) -> Threshold {
    throw ConfigError("threshold", original, reason);
  };
  auto split = detail::split_selector(text);
  if (!split.problem.empty()) return fail(split.problem);
  std::string s;
  for (char c : split.rest) {
    if (c != ' ' && c != '\t') s += c;
  }
  const auto op_at = s.find_first_of("<>=!");
  if (op_at == std::string::npos || op_at == 0) {
    return fail("expected <figure><op><value>, e.g. p99<800ms or rps>=100");
  }
  Threshold t;
  std::string window_text;
  if (const auto over = s.rfind("over"); over != std::string::npos && over > op_at) {
    window_text = s.substr(over + 4);
    s.erase(over);
    char* end = nullptr;
    const double amount = std::strtod(window_text.c_str(), &end);
    const std::string unit = end;
    const double scale = unit == "s" ? 1 : unit == "m" ? 60 : 0;
    t.window = amount * scale;
    if (end == window_text.c_str() || scale == 0 || !(t.window >= 1) || t.window > 86'400 ||
        t.window != std::floor(t.window)) {
      return fail("a window is whole seconds or minutes, 1 s to 24 h, e.g. 'over 10s'");
    }
  }
  const std::string written = s.substr(0, op_at);
  std::string name = written;
  for (const Timing timing : detail::streaming_timings) {
    const auto prefix = detail::timing_words(timing).first;
    if (written.starts_with(prefix)) {
      t.timing = timing;
      name = written.substr(prefix.size());
    }
  }
  std::size_t value_at = op_at + 1;
  const bool has_eq = value_at < s.size() && s[value_at] == '=';
  switch (s[op_at]) {
    case '<':
      t.comparison = has_eq ? Comparison::less_equal : Comparison::less;
      break;
    case '>':
      t.comparison = has_eq ? Comparison::greater_equal : Comparison::greater;
      break;
    case '=':
      if (!has_eq) return fail("use == to compare for equality");
      t.comparison = Comparison::equal;
      break;
    case '!':
      if (!has_eq) return fail("use != to compare for inequality");
      t.comparison = Comparison::not_equal;
      break;
  }
  if (has_eq) ++value_at;

  if (name == "avg" || name == "mean" || name == "average") {
    t.figure = Figure::latency_mean;
  } else if (name == "min") {
    t.figure = Figure::latency_min;
  } else if (name == "max") {
    t.figure = Figure::latency_max;
  } else if (name == "median") {
    t.figure = Figure::latency_percentile;
    t.percentile = 50;
  } else if (name.size() > 1 && name[0] == 'p' &&
             name.find_first_not_of("0123456789.", 1) == std::string::npos) {
    t.figure = Figure::latency_percentile;
    // "p999" means 99.9 by convention; "p99.9" says so directly.
    std::string digits = name.substr(1);
    if (digits.find('.') == std::string::npos && digits.size() > 2 && digits.starts_with("99")) {
      // Appending, not insert(): g++ 12 -O3 warns falsely (-Wrestrict) there.
      std::string fixed(digits, 0, 2);
      fixed.push_back('.');
      fixed.append(digits, 2);
      digits = std::move(fixed);
    }
    char* end = nullptr;
    t.percentile = std::strtod(digits.c_str(), &end);
    if (*end != '\0' || !(t.percentile > 0) || t.percentile > 100) {
      return fail("percentile must be between 0 and 100, e.g. p95 or p99.9");
    }
  } else if (name == "rps") {
    t.figure = Figure::rps;
  } else if (name == "goodput") {
    t.figure = Figure::goodput;
  } else if (name == "success_rate") {
    t.figure = Figure::success_rate;
  } else if (name == "errors" || name == "failed_requests") {
    t.figure = Figure::errors;
  } else if (name == "requests" || name == "total_requests" || name == "count") {
    t.figure = Figure::requests;
  } else if (name == "checks") {
    t.figure = Figure::checks;
  } else {
    return fail("unknown figure '" + name +
                "'; use avg, min, max, median, p50..p99.9 (ttfb_, ttft_, itl_ or tpot_ before "
                "any of these for a streaming figure), rps, success_rate, errors, requests, "
                "goodput or checks");
  }
  t.selector = std::move(split.selector);
  if (!t.selector.empty() &&
      (t.figure == Figure::rps || t.figure == Figure::goodput ||
       (t.timing != Timing::completion && t.timing != Timing::first_frame))) {
    return fail("a step takes avg, min, max, pN (ttfb_ too), success_rate, errors or count");
  }
  if ((!t.selector.empty() || t.figure == Figure::checks) && t.window > 0) {
    return fail("windows hold the whole run's time series; a step or check applies to the run");
  }

  if (t.figure == Figure::goodput && t.window > 0) {
    return fail("goodput applies to the whole run; windows hold latency, rps and counts");
  }
  if (t.timing != Timing::completion) {
    const std::string prefix(detail::timing_words(t.timing).first);
    if (!detail::is_latency(t.figure)) {
      return fail(prefix + " takes a latency figure: " + prefix + "avg, " + prefix + "p95, " +
                  prefix + "max, ...");
    }
    if (t.window > 0) {
      return fail("windows hold the latency to completion; " + prefix +
                  " figures apply to the whole run");
    }
  }
  const std::string value_text = s.substr(value_at);
  if (value_text.empty()) return fail("the limit is missing");
  char* end = nullptr;
  const double number = std::strtod(value_text.c_str(), &end);
  if (end == value_text.c_str() || !std::isfinite(number) || number < 0) {
    return fail("the limit must be a non-negative number");
  }
  const std::string unit = end;
  if (t.timing == Timing::output_rate) {
    if (!unit.empty() && unit != "/s" && unit != "tokens/s") {
      return fail("output_rate is in tokens per second, e.g. output_rate_p50>=20");
    }
    t.limit = number;
  } else if (detail::is_latency(t.figure)) {
    if (unit == "s") {
      t.limit = number;
    } else if (unit == "ms") {
      t.limit = number / 1e3;
    } else if (unit == "us" || unit == "\xC2\xB5s") {
      t.limit = number / 1e6;
    } else {
      return fail(unit.empty() ? "a latency limit needs a unit: us, ms or s"
                               : "unknown latency unit '" + unit + "'; use us, ms or s");
    }
  } else if (t.figure == Figure::success_rate || t.figure == Figure::checks) {
    if (!unit.empty() && unit != "%") return fail(written + " is in percent, e.g. 95%");
    if (number > 100) return fail(written + " cannot exceed 100%");
    t.limit = number;
  } else if (t.figure == Figure::rps || t.figure == Figure::goodput) {
    if (!unit.empty() && unit != "/s") return fail("rps and goodput take no unit other than /s");
    t.limit = number;
  } else {
    if (!unit.empty()) return fail("a count takes no unit");
    if (number != std::floor(number)) return fail("a count must be a whole number");
    t.limit = number;
  }
  t.expression = written + (t.selector.empty() ? "" : "[" + t.selector + "]") +
                 std::string(detail::comparison_text(t.comparison)) + value_text;
  if (t.window > 0) t.expression += " over " + window_text;
  return t;
}

/// Threshold "avg<=X" from the original tool's MAX_LATENCY (seconds, on the average).
inline Threshold max_average_latency(double seconds) {
  return parse_threshold("avg<=" + detail::format_number(seconds, 6) + "s");
}
/// Threshold "rps>=X" from the original tool's MIN_RPS.
inline Threshold min_rps(double rps) {
  return parse_threshold("rps>=" + detail::format_number(rps, 6));
}
/// Threshold "success_rate>=X%" from the original tool's MIN_SUCCESS_RATE (percent).
inline Threshold min_success_rate(double percent) {
  return parse_threshold("success_rate>=" + detail::format_number(percent, 6) + "%");
}

/// Judges `actual` (in the threshold's canonical unit; empty when the figure has no
/// samples) and words the verdict. A figure without samples fails: a run in which
/// nothing succeeded has no latency that could meet a limit.
inline Verdict evaluate(const Threshold& t, std::optional<double> actual) {
  Verdict v;
  v.expression = t.expression;
  v.limit = t.limit;
  v.actual = actual;
  const std::string name = detail::figure_name(t);
  const std::string limit = detail::format_figure(t.figure, t.limit, t.timing);
  if (!actual) {
    v.passed = false;
    v.message =
        name + " has no samples (no request succeeded), so '" + t.expression + "' cannot be met";
    return v;
  }
  const double a = *actual;
  switch (t.comparison) {
    case Comparison::less:
      v.passed = a < t.limit;
      break;
    case Comparison::less_equal:
      v.passed = a <= t.limit;
      break;
    case Comparison::greater:
      v.passed = a > t.limit;
      break;
    case Comparison::greater_equal:
      v.passed = a >= t.limit;
      break;
    case Comparison::equal:
      v.passed = a == t.limit;
      break;
    case Comparison::not_equal:
      v.passed = a != t.limit;
      break;
  }
  const std::string shown = name + " " + detail::format_figure(t.figure, a, t.timing);
  switch (t.comparison) {
    case Comparison::less:
    case Comparison::less_equal:
      v.message = shown +
                  (v.passed       ? " is within the "
                   : a == t.limit ? " reaches the "
                                  : " is above the ") +
                  limit + " limit";
      break;
    case Comparison::greater:
    case Comparison::greater_equal:
      v.message = shown +
                  (v.passed       ? " meets the "
                   : a == t.limit ? " only reaches the "
                                  : " is below the ") +
                  limit + " minimum";
      break;
    case Comparison::equal:
      v.message = v.passed ? shown + " as required" : shown + ", expected " + limit;
      break;
    case Comparison::not_equal:
      v.message = v.passed ? shown + " as required" : shown + ", expected anything else";
      break;
  }
  return v;
}

}  // namespace wsload
