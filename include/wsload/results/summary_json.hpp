// The JSON form of a summary: to_json, and summary_from_json, which refuses what does not
// add up. The original tool's flat keys (seconds and percent) stay at the top level;
// richer sections follow. "schema" names the layout version: readers refuse others.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include <wsload/detail/format.hpp>
#include <wsload/errors.hpp>
#include <wsload/histogram.hpp>
#include <wsload/results/detail/histogram_json.hpp>
#include <wsload/results/detail/summary_checks.hpp>
#include <wsload/results/steps_json.hpp>
#include <wsload/results/summary.hpp>
#include <wsload/shard.hpp>
#include <wsload/results/time_series_json.hpp>
#include <wsload/timeseries.hpp>

namespace wsload {

inline constexpr std::string_view summary_schema = "wsload.summary/1";

/// A verdict as the summary's `thresholds` list holds it; `assertion` and `source` only
/// for a GoogleTest assertion's.
inline nlohmann::json to_json(const Verdict& v) {
  nlohmann::json j = {{"expression", v.expression},
                      {"passed", v.passed},
                      {"actual", v.actual ? nlohmann::json(*v.actual) : nlohmann::json(nullptr)},
                      {"limit", v.limit},
                      {"message", v.message}};
  if (!v.assertion.empty()) {
    j["assertion"] = v.assertion;
    j["source"] = v.source;
  }
  return j;
}

inline nlohmann::json to_json(const Summary& s) {
  using nlohmann::json;
  auto seconds_or_null = [](std::optional<double> v) { return v ? json(*v) : json(nullptr); };
  json j;
  j["schema"] = summary_schema;
  if (!s.name.empty()) j["name"] = s.name;
  // The original tool's keys, seconds and percent.
  j["total_requests"] = s.total_requests;
  j["successful_requests"] = s.successful_requests;
  j["failed_requests"] = s.failed_requests;
  j["success_rate"] = s.success_rate();
  j["total_time"] = s.total_time.count();
  j["requests_per_second"] = s.requests_per_second();
  if (s.rate_window.count() > 0) j["rate_window"] = s.rate_window.count();
  if (s.not_sent) j["not_sent"] = s.not_sent;
  j["average_latency"] = seconds_or_null(s.latency_mean());
  j["median_latency"] = seconds_or_null(s.latency_at(50));
  j["min_latency"] = seconds_or_null(
      s.latency.empty() ? std::nullopt : std::optional<double>(s.latency.min() / 1e6));
  j["max_latency"] = seconds_or_null(
      s.latency.empty() ? std::nullopt : std::optional<double>(s.latency.max() / 1e6));
  j["p95_latency"] = seconds_or_null(s.latency_at(95));
  j["p99_latency"] = seconds_or_null(s.latency_at(99));

  j["passed"] = s.passed();
  j["interrupted"] = s.interrupted;
  j["deadline_exceeded"] = s.deadline_exceeded;
  if (!s.started_at.empty()) j["started_at"] = s.started_at;
  if (s.shard) j["shard"] = {{"index", s.shard->index}, {"count", s.shard->count}};

  const auto section = [](const Histogram& h, const char* unit = "seconds", double per_unit = 1e6,
                          const char* recorded = "microseconds") {
    return detail::histogram_json(h, unit, per_unit, recorded);
  };
  j["latency"] = section(s.latency);
  j["ttfb"] = section(s.ttfb);
  j["ttft"] = section(s.ttft);
  j["inter_frame"] = section(s.inter_frame);
  j["tpot"] = section(s.tpot);
  j["goodput"] = {{"requests", s.good_requests},
                  {"rate", s.goodput()},
                  {"share", s.total_requests ? 100.0 * static_cast<double>(s.good_requests) /
                                                   static_cast<double>(s.total_requests)
                                             : 0.0}};
  j["output"] = {{"tokens", s.output_tokens},
                 {"throughput", s.output_throughput()},
                 {"tokens_per_reply", section(s.tokens_per_reply, "tokens", 1, "tokens")},
                 {"rate_per_reply", section(s.output_rate, "tokens/s", 1e3, "millitokens/s")}};
  if (s.schedule) {
    const auto& r = *s.schedule;
    j["latency_uncorrected"] = section(s.latency_uncorrected);
    j["schedule"] = {{"target_rate", r.target_rate},
                     {"achieved_rate", r.achieved_rate},
                     {"due", r.due},
                     {"sent", r.sent},
                     {"late_sends", r.late_sends},
                     {"max_send_lag", r.max_send_lag},
                     {"not_sent", r.not_sent},
                     {"behind", r.behind()},
                     {"fell_short", r.fell_short()}};
    if (r.max_sessions > 0) {
      j["schedule"]["max_sessions"] = r.max_sessions;
      j["schedule"]["peak_sessions"] = r.peak_sessions;
      j["schedule"]["sessions_waited"] = r.sessions_waited;
    }
  }
  if (!s.steps.empty()) j["steps"] = steps_json(s.steps);
  if (!s.checks.empty()) j["checks"] = checks_json(s.checks);
  if (s.warmup_requests) j["warmup_requests"] = s.warmup_requests;
  j["time_series"] = time_series_json(s.time_series);
  if (s.measured_from > 0) j["time_series"]["start"] = s.measured_from;
  const auto per_reply = [&s](std::uint64_t n) {
    return s.successful_requests
               ? json(static_cast<double>(n) / static_cast<double>(s.successful_requests))
               : json(nullptr);
  };
  j["replies"] = {{"frames", s.frames_received},
                  {"bytes", s.bytes_received},
                  {"frames_per_reply", per_reply(s.frames_received)},
                  {"bytes_per_reply", per_reply(s.bytes_received)},
                  {"unmatched", s.unmatched_replies},
                  {"late", s.late_replies},
                  {"unconsumed",
                   {{"before_request", s.unconsumed_before_request},
                    {"at_close", s.unconsumed_at_close},
                    {"total", s.unconsumed_frames()}}}};

  json by_kind = json::object();
  json details = json::array();
  for (const auto& e : s.errors) {
    const std::string kind(to_string(e.kind));
    by_kind[kind] = by_kind.value(kind, std::uint64_t{0}) + e.requests;
    details.push_back({{"kind", kind}, {"detail", e.detail}, {"requests", e.requests}});
  }
  j["errors"] = {{"by_kind", by_kind}, {"details", details}};
  j["connections"] = {{"configured", s.connections_configured},
                      {"opened", s.connections_opened},
                      {"failed", s.connections_failed},
                      {"reconnects", s.reconnects},
                      {"reconnects_failed", s.reconnects_failed},
                      {"keepalives", s.keepalives},
                      {"timeout_reconnects", s.timeout_reconnects},
                      {"close_timeouts", s.close_timeouts}};
  if (s.compressed_upgrades > 0 || s.config.contains("compression")) {
    j["connections"]["compressed"] = s.compressed_upgrades;  // only where it was offered
  }
  json verdicts = json::array();
  for (const auto& v : s.verdicts) verdicts.push_back(to_json(v));
  j["thresholds"] = verdicts;
  j["generator"] = {{"threads", s.threads},
                    {"cpu_user_seconds", s.cpu_user.count()},
                    {"cpu_system_seconds", s.cpu_system.count()},
                    {"busy", s.generator_busy},
                    {"loop_lag_p99", s.loop_lag_p99},
                    {"loop_lag_max", s.loop_lag_max},
                    {"connect_time", s.connect_time},
                    {"saturated", s.generator_saturated()},
                    {"host_busy", s.host_busy()}};
  j["config"] = s.config;
  return j;
}

namespace detail {

inline std::optional<ErrorKind> error_kind_from(std::string_view name) {
  for (auto kind : all_error_kinds) {
    if (to_string(kind) == name) return kind;
  }
  return std::nullopt;
}

}  // namespace detail

/// Reads a summary written by to_json. Throws ConfigError (field `field`, e.g. the file
/// name) when the schema differs, a key is missing or of the wrong type, a count is no
/// whole number from 0 to max_exact_count, or the figures do not add up
/// (detail::check_figures_agree); the message names the key.
inline Summary summary_from_json(const nlohmann::json& j, const std::string& field = "summary") {
  try {
    if (!j.is_object()) throw ConfigError(field, "", "is not a JSON object");
    const auto schema = j.value("schema", std::string());
    if (schema != summary_schema) {
      throw ConfigError(field, schema,
                        "unsupported schema; expected " + std::string(summary_schema));
    }
    for (const auto& [path, rule] : detail::summary_figures) {
      detail::check_figure_at(j, path, "", rule, field);
    }
    Summary s;
    s.name = j.value("name", std::string());
    s.total_requests = j.at("total_requests").get<std::uint64_t>();
    s.successful_requests = j.at("successful_requests").get<std::uint64_t>();
    s.failed_requests = j.at("failed_requests").get<std::uint64_t>();
    s.total_time = Seconds(j.at("total_time").get<double>());
    s.rate_window = Seconds(j.value("rate_window", 0.0));
    s.not_sent = j.value("not_sent", std::uint64_t{0});
    s.interrupted = j.value("interrupted", false);
    s.deadline_exceeded = j.value("deadline_exceeded", false);
    s.started_at = j.value("started_at", std::string());
    auto histogram_at = [&](const nlohmann::json& node, const std::string& key) {
      return detail::histogram_from_json(node, key, field);
    };
    auto histogram = [&](const char* key) { return histogram_at(j.at(key), key); };
    s.latency = histogram("latency");
    if (j.contains("ttfb")) s.ttfb = histogram("ttfb");
    if (j.contains("ttft")) s.ttft = histogram("ttft");
    if (j.contains("inter_frame")) s.inter_frame = histogram("inter_frame");
    if (j.contains("tpot")) s.tpot = histogram("tpot");
    if (j.contains("goodput"))
      s.good_requests = j.at("goodput").at("requests").get<std::uint64_t>();
    if (j.contains("output")) {
      const auto& o = j.at("output");
      s.output_tokens = o.at("tokens").get<std::uint64_t>();
      s.tokens_per_reply = histogram_at(o.at("tokens_per_reply"), "output.tokens_per_reply");
      s.output_rate = histogram_at(o.at("rate_per_reply"), "output.rate_per_reply");
    }
    if (j.contains("schedule")) {
      s.latency_uncorrected = histogram("latency_uncorrected");
      const auto& r = j.at("schedule");
      ScheduleReport report;
      report.target_rate = r.at("target_rate").get<double>();
      report.achieved_rate = r.at("achieved_rate").get<double>();
      report.due = r.at("due").get<std::uint64_t>();
      report.sent = r.at("sent").get<std::uint64_t>();
      report.late_sends = r.at("late_sends").get<std::uint64_t>();
      report.max_send_lag = r.at("max_send_lag").get<double>();
      report.not_sent = r.value("not_sent", std::uint64_t{0});
      report.max_sessions = r.value("max_sessions", std::uint64_t{0});
      report.peak_sessions = r.value("peak_sessions", std::uint64_t{0});
      report.sessions_waited = r.value("sessions_waited", std::uint64_t{0});
      s.schedule = report;
    }
    if (j.contains("steps")) s.steps = steps_from_json(j.at("steps"), field);
    if (j.contains("checks")) s.checks = checks_from_json(j.at("checks"), field);
    s.warmup_requests = j.value("warmup_requests", std::uint64_t{0});
    if (j.contains("shard")) {
      const auto& shard = j.at("shard");
      for (const char* key : {"index", "count"}) {
        if (!shard.at(key).is_number_unsigned()) {  // -1 would read as 2^64 - 1
          throw ConfigError(field, shard.at(key).dump(),
                            std::string("shard.") + key + " is not a whole number from 0");
        }
      }
      const auto index = shard.at("index").get<std::size_t>();
      const auto count = shard.at("count").get<std::size_t>();
      s.shard = detail::checked_shard(index, count, field, Shard{index, count}.text());
    }
    if (j.contains("time_series")) {
      s.measured_from = time_series_start(j.at("time_series"), field);
      s.time_series = time_series_from_json(j.at("time_series"), field);
    }
    if (j.contains("replies")) {
      const auto& r = j.at("replies");
      s.frames_received = r.at("frames").get<std::uint64_t>();
      s.bytes_received = r.at("bytes").get<std::uint64_t>();
      s.unmatched_replies = r.at("unmatched").get<std::uint64_t>();
      s.late_replies = r.at("late").get<std::uint64_t>();
      if (r.contains("unconsumed")) {
        s.unconsumed_before_request = r.at("unconsumed").at("before_request").get<std::uint64_t>();
        s.unconsumed_at_close = r.at("unconsumed").at("at_close").get<std::uint64_t>();
      }
    }
    for (const auto& e : j.at("errors").at("details")) {
      const auto kind_name = e.at("kind").get<std::string>();
      const auto kind = detail::error_kind_from(kind_name);
      if (!kind) throw ConfigError(field, kind_name, "unknown error kind");
      s.errors.push_back(
          {*kind, e.at("detail").get<std::string>(), e.at("requests").get<std::uint64_t>()});
    }
    const auto& c = j.at("connections");
    s.connections_configured = c.at("configured").get<std::uint64_t>();
    s.connections_opened = c.at("opened").get<std::uint64_t>();
    s.connections_failed = c.at("failed").get<std::uint64_t>();
    s.reconnects = c.value("reconnects", std::uint64_t{0});
    s.reconnects_failed = c.value("reconnects_failed", std::uint64_t{0});
    s.keepalives = c.value("keepalives", std::uint64_t{0});
    s.timeout_reconnects = c.value("timeout_reconnects", std::uint64_t{0});
    s.close_timeouts = c.value("close_timeouts", std::uint64_t{0});
    s.compressed_upgrades = c.value("compressed", std::uint64_t{0});
    for (const auto& v : j.at("thresholds")) {
      Verdict verdict;
      verdict.expression = v.at("expression").get<std::string>();
      verdict.passed = v.at("passed").get<bool>();
      if (!v.at("actual").is_null()) verdict.actual = v.at("actual").get<double>();
      verdict.limit = v.at("limit").get<double>();
      verdict.message = v.at("message").get<std::string>();
      verdict.assertion = v.value("assertion", std::string());
      verdict.source = v.value("source", std::string());
      s.verdicts.push_back(std::move(verdict));
    }
    const auto& g = j.at("generator");
    s.threads = g.at("threads").get<std::size_t>();
    s.cpu_user = Seconds(g.at("cpu_user_seconds").get<double>());
    s.cpu_system = Seconds(g.at("cpu_system_seconds").get<double>());
    s.generator_busy = g.value("busy", 0.0);
    s.loop_lag_p99 = g.value("loop_lag_p99", 0.0);
    s.loop_lag_max = g.value("loop_lag_max", 0.0);
    s.connect_time = g.value("connect_time", 0.0);
    s.config = j.value("config", nlohmann::json::object());
    detail::check_figures_agree(s, field);
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(field, "", "malformed summary: " + detail::json_problem(e));
  }
}

}  // namespace wsload
