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

#include <wsload/results/runs.hpp>
#include <wsload/results/summary.hpp>
#include <wsload/results/summary_json.hpp>

namespace wsload {

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
inline void check_shards(const std::vector<RunRecord>& parts) {
  if (parts.empty()) throw ConfigError("merge", "", "no summaries to merge");
  const auto& first = parts.front();
  const auto config = shared_config(first.summary.config);
  std::map<std::size_t, const RunRecord*> seen;
  for (const auto& part : parts) {
    const auto& s = part.summary;
    if (!s.shard) {
      throw ConfigError(part.where(), "",
                        "is not a shard's summary: run each shard with --shard K/N (or "
                        "WSLOAD_SHARD_INDEX and WSLOAD_SHARD_COUNT)");
    }
    if (s.shard->count != first.summary.shard->count) {
      throw ConfigError(part.where(), s.shard->text(),
                        "is a shard of " + std::to_string(s.shard->count) + ", but " +
                            first.where() + " is one of " +
                            std::to_string(first.summary.shard->count));
    }
    if (s.name != first.summary.name) {
      throw ConfigError(
          part.where(), s.name,
          "is another load than " + first.where() + " ('" + first.summary.name + "')");
    }
    const auto mine = shared_config(s.config);
    if (mine != config) {
      throw ConfigError(part.where(), "",
                        "has another configuration than " + first.where() + ": " +
                            first_difference(config, mine));
    }
    const auto [it, fresh] = seen.emplace(s.shard->index, &part);
    if (!fresh) {
      throw ConfigError(part.where(), s.shard->text(),
                        "is the same shard as " + it->second->where() +
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
inline Summary merge_shards(const std::vector<RunRecord>& parts) {
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
  const auto thresholds = detail::configured_thresholds(m.config, parts.front().where());
  m.time_series.keep_windows(thresholds);
  std::map<std::pair<ErrorKind, std::string>, std::size_t> error_at;
  for (const auto& part : parts) {
    const auto& s = part.summary;
    const double shift = timed ? s.measured_from - begin : 0;
    if (shift + static_cast<double>(s.time_series.seconds().size()) >
        static_cast<double>(TimeSeries::longest)) {
      throw ConfigError(part.where(), detail::format_number(s.measured_from, 3),
                        "time_series.start is " + detail::format_number(shift, 0) +
                            " s after the earliest shard's: the shards of one load run "
                            "together, and a merged series spans a week at most");
    }
    m += s;  // every count
    m.latency.merge(s.latency);
    m.ttfb.merge(s.ttfb);
    m.ttft.merge(s.ttft);
    m.inter_frame.merge(s.inter_frame);
    m.tpot.merge(s.tpot);
    m.tokens_per_reply.merge(s.tokens_per_reply);
    m.output_rate.merge(s.output_rate);
    m.latency_uncorrected.merge(s.latency_uncorrected);
    merge_by_name(m.steps, s.steps);  // histograms exactly, as the run's own
    merge_by_name(m.checks, s.checks);
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
      // Each shard has its own cap; their peaks add up to a bound of the whole's.
      r.max_sessions += s.schedule->max_sessions;
      r.peak_sessions += s.schedule->peak_sessions;
      r.sessions_waited += s.schedule->sessions_waited;
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

/// Merges the GoogleTest reports of every shard (each file's name and its runs, as
/// read_runs gives them), case by case: each test case's summaries go through
/// merge_shards. A case in some files but not all is refused (ConfigError naming the file
/// that lacks it). A merged case failed when a shard's case failed (on an assertion, bad
/// input) or the merge's thresholds do.
inline std::vector<RunRecord> merge_gtest_reports(
    const std::vector<std::pair<std::string, std::vector<RunRecord>>>& reports) {
  if (reports.empty()) throw ConfigError("merge", "", "no reports to merge");
  // Cases in the order of the first report, each with its shards' runs by report.
  std::vector<std::vector<std::pair<std::size_t, const RunRecord*>>> cases;
  for (std::size_t r = 0; r < reports.size(); ++r) {
    for (const auto& run : reports[r].second) {
      if (!run.is_case()) {
        throw ConfigError(reports[r].first, "", "is not a wsload GoogleTest report");
      }
      const auto same = std::find_if(cases.begin(), cases.end(), [&](const auto& shards) {
        return shards.front().second->suite == run.suite && shards.front().second->test == run.test;
      });
      if (same == cases.end()) {
        cases.push_back({{r, &run}});
      } else {
        same->emplace_back(r, &run);
      }
    }
  }
  std::vector<RunRecord> merged;
  for (const auto& shards : cases) {
    const auto& first = *shards.front().second;
    for (std::size_t r = 0; r < reports.size() && shards.size() != reports.size(); ++r) {
      const bool has = std::any_of(shards.begin(), shards.end(),
                                   [r](const auto& shard) { return shard.first == r; });
      if (!has) {
        throw ConfigError(reports[r].first, first.label(),
                          "lacks this test case, which other shards ran; were they run "
                          "with the same --gtest_filter?");
      }
    }
    std::vector<RunRecord> parts;
    std::vector<CaseFailure> failures;
    bool failed = false;
    for (const auto& [r, shard] : shards) {
      parts.push_back(*shard);
      // A case still "running" in a finished shard's file crashed there: the whole did
      // not pass, whatever the other shards' verdicts say.
      if (shard->status == "running") {
        failures.push_back({reports[r].first, reports[r].first + ": the case did not finish"});
      }
      for (const auto& f : shard->failures) failures.push_back(f);
      failed = failed || shard->status == "failed" || shard->status == "running";
    }
    RunRecord whole{.summary = merge_shards(parts),
                    .suite = first.suite,
                    .test = first.test,
                    .endpoint = first.endpoint,
                    .status = {},
                    .failures = std::move(failures)};
    whole.status = failed || !whole.summary.passed() ? "failed" : "passed";
    merged.push_back(std::move(whole));
  }
  return merged;
}

/// merge_gtest_reports of GoogleTest reports as JSON documents (each with the name of its
/// file, which errors name); returns the merged report's document.
inline nlohmann::json merge_gtest_reports(
    const std::vector<std::pair<std::string, nlohmann::json>>& reports) {
  std::vector<std::pair<std::string, std::vector<RunRecord>>> read;
  for (const auto& [source, document] : reports) {
    if (!is_gtest_report(document)) {
      throw ConfigError(source, "", "is not a wsload GoogleTest report");
    }
    read.emplace_back(source, runs_from_json(document, source));
  }
  return runs_to_json(merge_gtest_reports(read));
}

/// Merges the files of every shard of one load, each file's name with its runs as
/// read_runs gives them: run summaries into one (merge_shards), or GoogleTest reports case
/// by case (merge_gtest_reports), as the first file is. Throws ConfigError naming the
/// file of another kind, or as those do.
inline std::vector<RunRecord> merge_runs(
    const std::vector<std::pair<std::string, std::vector<RunRecord>>>& files) {
  if (files.empty()) throw ConfigError("merge", "", "no summaries to merge");
  const auto one_summary = [](const std::vector<RunRecord>& runs) {
    return runs.size() == 1 && !runs.front().is_case();
  };
  if (!one_summary(files.front().second)) return merge_gtest_reports(files);
  std::vector<RunRecord> parts;
  for (const auto& [source, runs] : files) {
    if (!one_summary(runs)) {
      throw ConfigError(source, gtest_report_schema,
                        "unsupported schema; expected " + std::string(summary_schema));
    }
    parts.push_back(runs.front());
  }
  return {RunRecord{.summary = merge_shards(parts)}};
}

}  // namespace wsload
