// Merging the summaries of a sharded load into the summary of the whole, as if one
// process had run it: counts summed, histograms merged bucket by bucket (so percentiles
// are those of one histogram holding every sample), time series lined up by wall clock,
// thresholds judged again on the merged figures.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/results/summary.hpp>

namespace wsload {

/// The layout of the GoogleTest reporter's file: one summary per test case.
inline constexpr std::string_view gtest_report_schema = "wsload.gtest-report/1";

/// A summary and where it came from (its file), which errors name.
struct NamedSummary {
  std::string source;
  Summary summary;
};

namespace detail {

/// What the shards of one load share: their configuration but for what makes each a shard
/// (and the engine threads, which follow each shard's share of the connections).
inline nlohmann::json shared_config(nlohmann::json config) {
  if (config.is_object()) {
    config.erase("shard");
    config.erase("threads");
  }
  return config;
}

/// The first key (a JSON pointer) where `a` and `b` differ, with both values.
inline std::string first_difference(const nlohmann::json& a, const nlohmann::json& b,
                                    const std::string& at = "") {
  if (a.is_object() && b.is_object()) {
    for (const auto& [key, value] : a.items()) {
      if (!b.contains(key)) return at + "/" + key + " (" + value.dump() + " vs none)";
      if (value != b.at(key)) return first_difference(value, b.at(key), at + "/" + key);
    }
    for (const auto& [key, value] : b.items()) {
      if (!a.contains(key)) return at + "/" + key + " (none vs " + value.dump() + ")";
    }
  }
  return (at.empty() ? "/" : at) + " (" + a.dump() + " vs " + b.dump() + ")";
}

/// Checks that `parts` are every shard of one load, once each. Throws ConfigError naming
/// the offending file.
inline void check_shards(const std::vector<NamedSummary>& parts) {
  if (parts.empty()) throw ConfigError("merge", "", "no summaries to merge");
  const auto& first = parts.front();
  const auto config = shared_config(first.summary.config);
  std::map<std::size_t, const NamedSummary*> seen;
  for (const auto& part : parts) {
    const auto& s = part.summary;
    if (!s.shard) {
      throw ConfigError(part.source, "",
                        "is not a shard's summary: run each shard with --shard K/N (or "
                        "WSLOAD_SHARD_INDEX and WSLOAD_SHARD_COUNT)");
    }
    if (s.shard->count != first.summary.shard->count) {
      throw ConfigError(part.source, s.shard->text(),
                        "is a shard of " + std::to_string(s.shard->count) + ", but " +
                            first.source + " is one of " +
                            std::to_string(first.summary.shard->count));
    }
    if (s.name != first.summary.name) {
      throw ConfigError(part.source, s.name,
                        "is another load than " + first.source + " ('" + first.summary.name + "')");
    }
    const auto mine = shared_config(s.config);
    if (mine != config) {
      throw ConfigError(
          part.source, "",
          "has another configuration than " + first.source + ": " + first_difference(config, mine));
    }
    const auto [it, fresh] = seen.emplace(s.shard->index, &part);
    if (!fresh) {
      throw ConfigError(part.source, s.shard->text(),
                        "is the same shard as " + it->second->source +
                            "; each shard's summary may be merged once");
    }
  }
  const auto count = first.summary.shard->count;
  if (seen.size() < count) {
    std::string missing;
    std::size_t shown = 0;
    for (std::size_t i = 0; i < count && shown < 10; ++i) {
      if (seen.count(i)) continue;
      missing += (missing.empty() ? "" : ", ") + std::to_string(i);
      ++shown;
    }
    if (count - seen.size() > shown) missing += ", ...";
    throw ConfigError("merge", "",
                      std::to_string(count - seen.size()) + " of " + std::to_string(count) +
                          " shards are missing (index " + missing +
                          "); the merge of a part would not be the load");
  }
}

/// The thresholds a summary's configuration names.
inline std::vector<Threshold> configured_thresholds(const nlohmann::json& config,
                                                    const std::string& source) {
  std::vector<Threshold> thresholds;
  const auto it = config.find("thresholds");
  if (it == config.end()) return thresholds;
  if (!it->is_array()) {
    throw ConfigError(source, "", "config.thresholds is not a list of expressions");
  }
  for (const auto& e : *it) {
    if (!e.is_string()) throw ConfigError(source, "", "config.thresholds holds a non-string");
    thresholds.push_back(parse_threshold(e.get<std::string>()));
  }
  return thresholds;
}

}  // namespace detail

/// Merges the summaries of every shard of one load (each exactly once) into the summary
/// of the whole, judged on its configured thresholds. Throws ConfigError naming the file
/// when the parts are not that: not shards, another configuration, a shard twice or one
/// missing.
inline Summary merge_shards(const std::vector<NamedSummary>& parts) {
  detail::check_shards(parts);
  Summary m;
  const auto& first = parts.front().summary;
  m.name = first.name;
  m.config = detail::shared_config(first.config);
  m.config["shards"] = first.shard->count;

  // Shards that began within half a second of each other share their seconds.
  const bool timed = std::all_of(parts.begin(), parts.end(),
                                 [](const auto& p) { return p.summary.measured_from > 0; });
  double begin = 0;
  double end = 0;
  if (timed) {
    begin = first.measured_from;
    for (const auto& p : parts) begin = std::min(begin, p.summary.measured_from);
  }
  const auto thresholds = detail::configured_thresholds(m.config, parts.front().source);
  m.time_series.keep_windows(thresholds);
  std::map<std::pair<ErrorKind, std::string>, std::size_t> error_at;
  for (const auto& part : parts) {
    const auto& s = part.summary;
    const double shift = timed ? s.measured_from - begin : 0;
    if (shift + static_cast<double>(s.time_series.seconds().size()) >
        static_cast<double>(TimeSeries::longest)) {
      throw ConfigError(part.source, detail::format_number(s.measured_from, 3),
                        "time_series.start is " + detail::format_number(shift, 0) +
                            " s after the earliest shard's: the shards of one load run "
                            "together, and a merged series spans a week at most");
    }
    m.total_requests += s.total_requests;
    m.successful_requests += s.successful_requests;
    m.failed_requests += s.failed_requests;
    m.latency.merge(s.latency);
    m.ttfb.merge(s.ttfb);
    m.latency_uncorrected.merge(s.latency_uncorrected);
    m.frames_received += s.frames_received;
    m.bytes_received += s.bytes_received;
    m.unmatched_replies += s.unmatched_replies;
    m.late_replies += s.late_replies;
    m.warmup_requests += s.warmup_requests;
    m.connections_configured += s.connections_configured;
    m.connections_opened += s.connections_opened;
    m.connections_failed += s.connections_failed;
    m.reconnects += s.reconnects;
    m.reconnects_failed += s.reconnects_failed;
    m.keepalives += s.keepalives;
    m.timeout_reconnects += s.timeout_reconnects;
    m.close_timeouts += s.close_timeouts;
    m.unconsumed_before_request += s.unconsumed_before_request;
    m.unconsumed_at_close += s.unconsumed_at_close;
    m.not_sent += s.not_sent;
    // Shards send over the same window side by side.
    m.rate_window = std::max(m.rate_window, s.rate_window);
    m.interrupted = m.interrupted || s.interrupted;
    m.deadline_exceeded = m.deadline_exceeded || s.deadline_exceeded;
    m.threads += s.threads;
    m.cpu_user += s.cpu_user;
    m.cpu_system += s.cpu_system;
    // The busiest shard's generator speaks for the merge: its figures are in it.
    m.generator_busy = std::max(m.generator_busy, s.generator_busy);
    m.loop_lag_p99 = std::max(m.loop_lag_p99, s.loop_lag_p99);
    m.loop_lag_max = std::max(m.loop_lag_max, s.loop_lag_max);
    m.connect_time = std::max(m.connect_time, s.connect_time);
    if (!s.started_at.empty() && (m.started_at.empty() || s.started_at < m.started_at)) {
      m.started_at = s.started_at;
    }
    for (const auto& e : s.errors) {
      const auto [it, fresh] = error_at.emplace(std::pair(e.kind, e.detail), m.errors.size());
      if (fresh) {
        m.errors.push_back(e);
      } else {
        m.errors[it->second].requests += e.requests;
      }
    }
    if (s.schedule) {
      if (!m.schedule) m.schedule = ScheduleReport{};
      auto& r = *m.schedule;
      // Shards send side by side, so their rates add up.
      r.target_rate += s.schedule->target_rate;
      r.achieved_rate += s.schedule->achieved_rate;
      r.due += s.schedule->due;
      r.sent += s.schedule->sent;
      r.late_sends += s.schedule->late_sends;
      r.not_sent += s.schedule->not_sent;
      r.max_send_lag = std::max(r.max_send_lag, s.schedule->max_send_lag);
    }
    m.time_series.merge(s.time_series, static_cast<std::size_t>(std::llround(shift)));
    end = std::max(end, shift + s.total_time.count());
  }
  m.measured_from = begin;
  // The whole load took from the first shard's start to the last one's end.
  m.total_time = Seconds(end);
  m.judge(thresholds);
  return m;
}

/// Merges GoogleTest reporter files (schema wsload.gtest-report/1) of every shard, case by
/// case: each test case's summaries go through merge_shards. A case in some files but not
/// all is refused (ConfigError naming the file that lacks it).
inline nlohmann::json merge_gtest_reports(
    const std::vector<std::pair<std::string, nlohmann::json>>& reports) {
  using nlohmann::json;
  if (reports.empty()) throw ConfigError("merge", "", "no reports to merge");
  // Cases in the order of the first report.
  std::vector<std::pair<std::string, std::string>> order;
  std::map<std::pair<std::string, std::string>, std::vector<std::pair<std::string, json>>> cases;
  for (const auto& [source, report] : reports) {
    if (!report.is_object() || report.value("schema", "") != gtest_report_schema ||
        !report.contains("entries") || !report["entries"].is_array()) {
      throw ConfigError(source, "", "is not a wsload GoogleTest report");
    }
    for (const auto& entry : report["entries"]) {
      if (!entry.is_object()) throw ConfigError(source, "", "has an entry that is not an object");
      const std::pair key(entry.value("suite", ""), entry.value("test", ""));
      auto& runs = cases[key];
      if (runs.empty()) order.push_back(key);
      runs.emplace_back(source, entry);
    }
  }
  json entries = json::array();
  for (const auto& key : order) {
    const auto& runs = cases[key];
    const std::string name = key.first + "." + key.second;
    if (runs.size() != reports.size()) {
      for (const auto& [source, report] : reports) {
        const bool has = std::any_of(runs.begin(), runs.end(),
                                     [&](const auto& run) { return run.first == source; });
        if (!has) {
          throw ConfigError(source, name,
                            "lacks this test case, which other shards ran; were they run "
                            "with the same --gtest_filter?");
        }
      }
    }
    std::vector<NamedSummary> parts;
    bool failed = false;
    for (const auto& [source, entry] : runs) {
      parts.push_back({source + " (" + name + ")", summary_of_entry(entry, source)});
      failed = failed || entry.value("status", "") == "failed";
    }
    const auto merged = merge_shards(parts);
    json out = to_json(merged);
    out["suite"] = key.first;
    out["test"] = key.second;
    out["endpoint"] = runs.front().second.value("endpoint", "");
    // A shard's case that failed for another reason (an assertion, bad input) fails it.
    out["status"] = failed || !merged.passed() ? "failed" : "passed";
    out["passed"] = out["status"] == "passed";
    entries.push_back(std::move(out));
  }
  return {{"schema", gtest_report_schema}, {"entries", entries}};
}

}  // namespace wsload
