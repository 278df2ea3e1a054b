// Checking what a summary file says. A summary may come from anywhere (a shard on another
// host, an edited file): every figure summary_from_json reads is checked, so a merge, a
// report or a comparison never computes with a count that wrapped, was truncated, or does
// not add up.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include <wsload/errors.hpp>
#include <wsload/histogram.hpp>
#include <wsload/results/summary.hpp>

namespace wsload::detail {

/// What a nlohmann::json exception says is wrong with a document, in words for the user:
/// without its id ("[json.exception.out_of_range.403]") and naming the missing field.
inline std::string json_problem(const nlohmann::json::exception& e) {
  std::string text = e.what();
  if (const auto id_end = text.find("] "); text.starts_with("[json.") && id_end != text.npos) {
    text.erase(0, id_end + 2);
  }
  constexpr std::string_view key = "key ", not_found = " not found";
  if (e.id == 403 && text.starts_with(key) && text.ends_with(not_found)) {
    return "lacks the field " +
           text.substr(key.size(), text.size() - key.size() - not_found.size());
  }
  if (e.id >= 300 && e.id < 400) return "has a field of another type than expected (" + text + ")";
  return text;
}

/// What a figure in a summary file must be.
enum class FigureRule {
  count,   ///< a whole number from 0 to max_exact_count
  amount,  ///< a finite number, 0 or more (seconds, rates, sums)
};

/// The figures summary_from_json reads, by path ("*": every element of a list). Each is
/// checked where it is present; the reader says which required key is missing.
inline constexpr std::pair<std::string_view, FigureRule> summary_figures[] = {
    {"total_requests", FigureRule::count},
    {"successful_requests", FigureRule::count},
    {"failed_requests", FigureRule::count},
    {"warmup_requests", FigureRule::count},
    {"total_time", FigureRule::amount},
    {"rate_window", FigureRule::amount},
    {"not_sent", FigureRule::count},
    {"latency.histogram.min", FigureRule::count},
    {"latency.histogram.max", FigureRule::count},
    {"latency.histogram.sum", FigureRule::amount},
    {"ttfb.histogram.min", FigureRule::count},
    {"ttfb.histogram.max", FigureRule::count},
    {"ttfb.histogram.sum", FigureRule::amount},
    {"ttft.histogram.min", FigureRule::count},
    {"ttft.histogram.max", FigureRule::count},
    {"ttft.histogram.sum", FigureRule::amount},
    {"inter_frame.histogram.min", FigureRule::count},
    {"inter_frame.histogram.max", FigureRule::count},
    {"inter_frame.histogram.sum", FigureRule::amount},
    {"tpot.histogram.min", FigureRule::count},
    {"tpot.histogram.max", FigureRule::count},
    {"tpot.histogram.sum", FigureRule::amount},
    {"output.tokens", FigureRule::count},
    {"goodput.requests", FigureRule::count},
    {"output.tokens_per_reply.histogram.min", FigureRule::count},
    {"output.tokens_per_reply.histogram.max", FigureRule::count},
    {"output.tokens_per_reply.histogram.sum", FigureRule::amount},
    {"output.rate_per_reply.histogram.min", FigureRule::count},
    {"output.rate_per_reply.histogram.max", FigureRule::count},
    {"output.rate_per_reply.histogram.sum", FigureRule::amount},
    {"latency_uncorrected.histogram.min", FigureRule::count},
    {"latency_uncorrected.histogram.max", FigureRule::count},
    {"latency_uncorrected.histogram.sum", FigureRule::amount},
    {"schedule.target_rate", FigureRule::amount},
    {"schedule.achieved_rate", FigureRule::amount},
    {"schedule.due", FigureRule::count},
    {"schedule.sent", FigureRule::count},
    {"schedule.late_sends", FigureRule::count},
    {"schedule.max_send_lag", FigureRule::amount},
    {"schedule.not_sent", FigureRule::count},
    {"shard.index", FigureRule::count},
    {"shard.count", FigureRule::count},
    {"time_series.intervals.*.succeeded", FigureRule::count},
    {"time_series.intervals.*.failed", FigureRule::count},
    {"replies.frames", FigureRule::count},
    {"replies.bytes", FigureRule::count},
    {"replies.unmatched", FigureRule::count},
    {"replies.late", FigureRule::count},
    {"replies.unconsumed.before_request", FigureRule::count},
    {"replies.unconsumed.at_close", FigureRule::count},
    {"errors.details.*.requests", FigureRule::count},
    {"connections.configured", FigureRule::count},
    {"connections.opened", FigureRule::count},
    {"connections.failed", FigureRule::count},
    {"connections.reconnects", FigureRule::count},
    {"connections.reconnects_failed", FigureRule::count},
    {"connections.keepalives", FigureRule::count},
    {"connections.timeout_reconnects", FigureRule::count},
    {"connections.close_timeouts", FigureRule::count},
    {"connections.compressed", FigureRule::count},
    {"generator.threads", FigureRule::count},
    {"generator.cpu_user_seconds", FigureRule::amount},
    {"generator.cpu_system_seconds", FigureRule::amount},
    {"generator.busy", FigureRule::amount},
    {"generator.loop_lag_p99", FigureRule::amount},
    {"generator.loop_lag_max", FigureRule::amount},
    {"generator.connect_time", FigureRule::amount},
};

/// Checks the figure at `path` (from `shown`, its name so far) below `node`.
inline void check_figure_at(const nlohmann::json& node, std::string_view path,
                            const std::string& shown, FigureRule rule, const std::string& file) {
  if (path.empty()) {
    const double value = node.is_number() ? node.get<double>() : -1;
    // 20.0 is twenty; 1.5 and 1e30 are no count (and get<std::uint64_t> would truncate
    // or wrap them).
    const bool count =
        node.is_number_unsigned() ? node.get<std::uint64_t>() <= max_exact_count
        : node.is_number_integer()
            ? node.get<std::int64_t>() >= 0 && node.get<std::uint64_t>() <= max_exact_count
            : node.is_number_float() && value >= 0 && std::floor(value) == value &&
                  value <= static_cast<double>(max_exact_count);
    const bool in_range = value >= 0 && std::isfinite(value);
    if (rule == FigureRule::count && !count) {
      throw ConfigError(file, "",
                        shown + ": " + node.dump() + " is not a whole number from 0 to " +
                            std::to_string(max_exact_count));
    }
    if (rule == FigureRule::amount && !in_range) {
      throw ConfigError(file, "", shown + ": " + node.dump() + " is not a number from 0 up");
    }
    return;
  }
  const auto dot = path.find('.');
  const auto key = path.substr(0, dot);
  const auto rest = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  if (key == "*") {
    if (!node.is_array()) throw ConfigError(file, "", shown + ": is not a list");
    for (std::size_t i = 0; i < node.size(); ++i) {
      check_figure_at(node[i], rest, shown + "[" + std::to_string(i) + "]", rule, file);
    }
    return;
  }
  if (!node.is_object()) throw ConfigError(file, "", shown + ": is not an object");
  const auto it = node.find(key);
  if (it == node.end()) return;
  check_figure_at(*it, rest, shown.empty() ? std::string(key) : shown + "." + std::string(key),
                  rule, file);
}

/// A decoded histogram's exact statistics from the file (at `key`) must lie in its buckets:
/// min in the lowest, max in the highest, the sum between count x min and count x max.
inline void check_exact_statistics(const Histogram& h, std::int64_t min, std::int64_t max,
                                   double sum, const std::string& key, const std::string& file) {
  if (h.empty()) return;
  const auto bucket = [&h](std::int64_t v) {
    // Appending, not "[" + string: g++ 12 warns falsely (-Wrestrict) there.
    std::string text("[");
    return text.append(std::to_string(h.lowest_equivalent(v)))
        .append(", ")
        .append(std::to_string(h.highest_equivalent(v)))
        .append("]");
  };
  if (min > max || h.lowest_equivalent(min) != h.lowest_equivalent(h.min())) {
    throw ConfigError(file, "",
                      key + ".min: " + std::to_string(min) +
                          " is not in the histogram's lowest "
                          "bucket " +
                          bucket(h.min()));
  }
  if (h.lowest_equivalent(max) != h.lowest_equivalent(h.max())) {
    throw ConfigError(file, "",
                      key + ".max: " + std::to_string(max) +
                          " is not in the histogram's highest "
                          "bucket " +
                          bucket(h.max()));
  }
  const double n = static_cast<double>(h.count());
  const double low = n * static_cast<double>(min);
  const double high = n * static_cast<double>(max);
  // The sum of the recorded values, in doubles: exact but for rounding.
  if (sum < low * (1 - 1e-9) || sum > high * (1 + 1e-9)) {
    // JSON's own form of a number: 1e+300, not three hundred digits.
    const auto shown = [](double v) { return nlohmann::json(v).dump(); };
    throw ConfigError(file, "",
                      key + ".sum: " + shown(sum) + " is not between " + std::to_string(h.count()) +
                          " samples x min and x max [" + shown(low) + ", " + shown(high) + "]");
  }
}

/// How errors name a step or check: steps["log in"], its name as a JSON string (quotes and
/// control characters escaped, so any name reads unambiguously).
inline std::string named_entry(const char* table, const std::string& name) {
  return std::string(table) + "[" + nlohmann::json(name).dump() + "]";
}

/// Checks that each step's figures agree as StepFigures records them: failures no more
/// than its count, its failures by kind summing to them, one latency sample per success
/// (at most one ttfb). Throws ConfigError naming the step (its name as a JSON string).
inline void check_steps_agree(const Summary& s, const std::string& file) {
  const auto n = [](std::uint64_t v) { return std::to_string(v); };
  for (const auto& entry : s.steps) {
    // Not a structured binding: clang 14 cannot capture one in a lambda.
    const std::string& name = entry.first;
    const StepFigures& step = entry.second;
    const auto fail = [&](const std::string& what) {
      throw ConfigError(file, "", named_entry("steps", name) + "." + what);
    };
    if (step.failures > step.count) {
      fail("failures: " + n(step.failures) + " is more than its count " + n(step.count));
    }
    std::uint64_t by_kind = 0;
    for (const auto& [kind, count] : step.failures_by_kind) {
      by_kind = std::min<std::uint64_t>(by_kind + count, max_exact_count + 1);
    }
    if (by_kind != step.failures) {
      fail("failures_by_kind: they sum to " + n(by_kind) + ", but failures is " + n(step.failures));
    }
    const auto successes = step.count - step.failures;
    if (static_cast<std::uint64_t>(step.latency.count()) != successes) {
      fail("latency.histogram: holds " + n(static_cast<std::uint64_t>(step.latency.count())) +
           " samples, but the step succeeded " + n(successes) + " times (one per success)");
    }
    if (static_cast<std::uint64_t>(step.ttfb.count()) > successes) {
      fail("ttfb.histogram: holds " + n(static_cast<std::uint64_t>(step.ttfb.count())) +
           " samples, more than the step's " + n(successes) + " successes");
    }
  }
}

/// Checks that the figures of a summary read from `file` agree as the engine and
/// merge_shards make them: total = successful + failed; the errors' requests sum to
/// failed; one latency sample per success (at most one time to first frame, and one
/// uncorrected latency); each step's (check_steps_agree); an open loop sends no more than
/// was due; and a time series, when
/// there is one, holds every success and no more failures than failed (requests a forced
/// stop left unsent fail at the end, in no second). Throws ConfigError naming the field.
inline void check_figures_agree(const Summary& s, const std::string& file) {
  const auto fail = [&file](const std::string& what) { throw ConfigError(file, "", what); };
  const auto n = [](std::uint64_t v) { return std::to_string(v); };
  // Each addend is at most max_exact_count: capped there, no sum can wrap.
  const auto add = [](std::uint64_t a, std::uint64_t b) {
    return std::min<std::uint64_t>(a + b, max_exact_count + 1);
  };
  if (s.total_requests != s.successful_requests + s.failed_requests) {
    fail("total_requests: " + n(s.total_requests) + " is not successful_requests " +
         n(s.successful_requests) + " + failed_requests " + n(s.failed_requests));
  }
  std::uint64_t by_error = 0;
  for (const auto& e : s.errors) by_error = add(by_error, e.requests);
  if (by_error != s.failed_requests) {
    fail("errors.details: their requests sum to " + n(by_error) + ", but failed_requests is " +
         n(s.failed_requests));
  }
  const auto samples = [&](const Histogram& h, const char* key, bool exact) {
    const auto count = static_cast<std::uint64_t>(h.count());
    if (exact ? count != s.successful_requests : count > s.successful_requests) {
      fail(std::string(key) + ".histogram: holds " + n(count) + " samples, " +
           (exact ? "but successful_requests is " : "more than successful_requests ") +
           n(s.successful_requests) + (exact ? " (one sample per success)" : ""));
    }
  };
  samples(s.latency, "latency", true);
  samples(s.ttfb, "ttfb", false);
  samples(s.ttft, "ttft", false);
  samples(s.tpot, "tpot", false);
  samples(s.tokens_per_reply, "output.tokens_per_reply", false);
  samples(s.output_rate, "output.rate_per_reply", false);
  samples(s.latency_uncorrected, "latency_uncorrected", false);
  if (s.schedule &&
      s.schedule->not_sent > s.schedule->due - std::min(s.schedule->due, s.schedule->sent)) {
    fail("schedule.not_sent: " + n(s.schedule->not_sent) + " is more than schedule.due " +
         n(s.schedule->due) + " less schedule.sent " + n(s.schedule->sent));
  }
  if (s.schedule && s.schedule->sent > s.schedule->due) {
    fail("schedule.sent: " + n(s.schedule->sent) + " is more than schedule.due " +
         n(s.schedule->due));
  }
  if (s.schedule && s.schedule->late_sends > s.schedule->sent) {
    fail("schedule.late_sends: " + n(s.schedule->late_sends) + " is more than schedule.sent " +
         n(s.schedule->sent));
  }
  check_steps_agree(s, file);
  if (s.time_series.empty()) return;  // written by hand or by a library user: nothing to add up
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  for (std::size_t i = 0; i < s.time_series.intervals(); ++i) {
    const auto interval = s.time_series.interval(i);
    succeeded = add(succeeded, interval.succeeded);
    failed = add(failed, interval.failed);
    const auto count = static_cast<std::uint64_t>(interval.latency.count());
    if (count > interval.succeeded) {
      fail("time_series.intervals[" + std::to_string(i) + "].histogram: holds " + n(count) +
           " samples, more than its succeeded " + n(interval.succeeded));
    }
  }
  if (succeeded != s.successful_requests) {
    fail("time_series.intervals: their succeeded sum to " + n(succeeded) +
         ", but successful_requests is " + n(s.successful_requests));
  }
  if (failed > s.failed_requests) {
    fail("time_series.intervals: their failed sum to " + n(failed) +
         ", more than failed_requests " + n(s.failed_requests));
  }
}

}  // namespace wsload::detail
