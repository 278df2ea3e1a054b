// Summary of a run: counts, latency, errors, verdicts; its JSON form, written atomically.
//
// JSON: the original tool's flat keys (seconds and percent) stay at the top level;
// richer sections follow. "schema" names the layout version: readers refuse others.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <wsload/errors.hpp>
#include <wsload/histogram.hpp>
#include <wsload/shard.hpp>
#include <wsload/thresholds.hpp>
#include <wsload/timeseries.hpp>

namespace wsload {

inline constexpr std::string_view summary_schema = "wsload.summary/1";

/// Failed requests of one kind and detail ("HTTP 403", "close code 1011").
struct ErrorCount {
  ErrorKind kind = ErrorKind::connection_lost;
  std::string detail;
  std::uint64_t requests = 0;
};

/// How an open-loop run kept to its schedule. A generator that falls behind (too few
/// connections for the service's latency, too little CPU) sends less than asked; its
/// latencies still count from when each request was due.
struct ScheduleReport {
  double target_rate = 0;    ///< requests per second over the schedule
  double achieved_rate = 0;  ///< requests sent per second of sending
  std::uint64_t due = 0;     ///< requests the schedule held
  std::uint64_t sent = 0;
  std::uint64_t late_sends = 0;  ///< sent more than 10 ms after they were due
  double max_send_lag = 0;       ///< seconds
  /// More than 1 % of sends late, or requests never sent: the latencies measure the
  /// generator as much as the service.
  bool behind() const noexcept {
    return sent < due || late_sends * 100 > std::max<std::uint64_t>(sent, 1);
  }
};

/// What a run measured. Latencies are recorded in microseconds in `latency`; the
/// accessors and the JSON give seconds. Successful requests only are timed.
struct Summary {
  std::string name;
  std::uint64_t total_requests = 0;
  std::uint64_t successful_requests = 0;
  std::uint64_t failed_requests = 0;
  Seconds total_time{0};
  Histogram latency;                    ///< microseconds, send to completion of the reply
  Histogram ttfb;                       ///< microseconds, send to the reply's first frame
  std::uint64_t frames_received = 0;    ///< frames of successful replies
  std::uint64_t bytes_received = 0;     ///< payload bytes of successful replies
  std::uint64_t unmatched_replies = 0;  ///< correlated frames whose id matched no request
  std::uint64_t late_replies = 0;       ///< frames for requests that had already timed out
  /// Open loop: `latency` counts from when each request was due; this, from when it was
  /// sent (what a closed-loop tester would have reported).
  Histogram latency_uncorrected;
  std::optional<ScheduleReport> schedule;  ///< open loop only
  std::uint64_t warmup_requests = 0;       ///< ended during the warm-up: not in the figures
  TimeSeries time_series;                  ///< per second since the measurement began
  std::vector<ErrorCount> errors;
  std::uint64_t connections_configured = 0;
  std::uint64_t connections_opened = 0;
  std::uint64_t connections_failed = 0;
  std::uint64_t reconnects = 0;         ///< dropped connections opened again (ReconnectPolicy)
  std::uint64_t reconnects_failed = 0;  ///< attempts to reopen one that failed
  std::uint64_t keepalives = 0;         ///< keepalive messages sent on idle connections
  std::vector<Verdict> verdicts;
  nlohmann::json config = nlohmann::json::object();  ///< redacted snapshot
  bool interrupted = false;                          ///< stopped before it finished
  bool deadline_exceeded = false;                    ///< the run's overall timeout ended it
  std::size_t threads = 0;
  Seconds cpu_user{0};    ///< engine threads' user CPU time
  Seconds cpu_system{0};  ///< engine threads' system CPU time
  /// The engine threads' CPU time over their run time (0 to 1, per thread).
  double generator_busy = 0;
  double loop_lag_p99 = 0;  ///< seconds the engine's event loops ran behind their timers
  double loop_lag_max = 0;
  double connect_time = 0;  ///< seconds from the start until the last connection opened
  std::string started_at;   ///< UTC, ISO 8601
  /// Unix time in seconds when the measurement (and the time series) began: merges line
  /// shards up by it. 0 when unknown.
  double measured_from = 0;
  /// The part of a sharded load this run was; its thresholds are judged on the merge.
  std::optional<Shard> shard;

  /// Percent of requests that succeeded; 0 when there were none.
  double success_rate() const noexcept {
    return total_requests ? 100.0 * static_cast<double>(successful_requests) /
                                static_cast<double>(total_requests)
                          : 0.0;
  }
  /// Successful requests per second of total time: failures are not throughput.
  double requests_per_second() const noexcept {
    return total_time.count() > 0 ? static_cast<double>(successful_requests) / total_time.count()
                                  : 0.0;
  }
  /// Latency at a percentile in seconds; empty when nothing succeeded.
  std::optional<double> latency_at(double percentile) const {
    if (latency.empty()) return std::nullopt;
    return static_cast<double>(latency.value_at_percentile(percentile)) / 1e6;
  }
  std::optional<double> latency_mean() const {
    if (latency.empty()) return std::nullopt;
    return latency.mean() / 1e6;
  }
  /// Failed requests of `kind`, all details together.
  std::uint64_t errors_of(ErrorKind kind) const noexcept {
    std::uint64_t n = 0;
    for (const auto& e : errors) n += e.kind == kind ? e.requests : 0;
    return n;
  }
  /// The generator itself was the bottleneck: its threads had no idle time, or its event
  /// loops ran more than 20 ms (two watchdog periods) behind at the 99th percentile. Its
  /// latencies then include time requests spent queued in wsload, not only in the service.
  bool generator_saturated() const noexcept {
    return generator_busy >= 0.9 || loop_lag_p99 > 0.020;
  }

  /// True when every threshold passed (and vacuously when there are none).
  bool passed() const noexcept {
    for (const auto& v : verdicts) {
      if (!v.passed) return false;
    }
    return true;
  }

  /// The value a threshold's figure has in this summary, in its canonical unit; empty
  /// when it has no samples.
  std::optional<double> figure(const Threshold& t) const {
    if (detail::is_latency(t.figure)) {
      return detail::latency_figure(t.first_frame ? ttfb : latency, t);
    }
    switch (t.figure) {
      case Figure::rps:
        return total_requests ? std::optional<double>(requests_per_second()) : std::nullopt;
      case Figure::success_rate:
        return total_requests ? std::optional<double>(success_rate()) : std::nullopt;
      case Figure::errors:
        return total_requests ? std::optional<double>(static_cast<double>(failed_requests))
                              : std::nullopt;
      case Figure::requests:
        return static_cast<double>(total_requests);
      default:
        return std::nullopt;
    }
  }

  /// The verdict of one threshold on this run (on each of its windows, when it has one).
  Verdict verdict(const Threshold& t) const {
    Verdict v = t.window > 0 ? evaluate_windows(t, time_series) : evaluate(t, figure(t));
    // A saturated generator's figures are partly its own: the failure must not read as
    // the service's alone.
    if (!v.passed && generator_saturated() &&
        (detail::is_latency(t.figure) || t.figure == Figure::rps)) {
      v.message += " (but the load generator was the bottleneck: " +
                   detail::format_number(generator_busy * 100, 0) +
                   " % busy; add --threads, CPUs or shards and run again)";
    }
    return v;
  }

  /// Judges every threshold and stores the verdicts. Returns passed().
  bool judge(const std::vector<Threshold>& thresholds) {
    verdicts.clear();
    for (const auto& t : thresholds) verdicts.push_back(verdict(t));
    return passed();
  }
};

/// Percentiles reported in every summary, besides min / mean / max.
inline constexpr double reported_percentiles[] = {50, 90, 95, 99, 99.9};

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

  auto section = [](const Histogram& h) {
    const bool none = h.empty();
    json percentiles = json::object();
    for (double p : reported_percentiles) {
      percentiles[detail::format_number(p, 3)] =
          none ? json(nullptr) : json(static_cast<double>(h.value_at_percentile(p)) / 1e6);
    }
    return json{{"unit", "seconds"},
                {"count", h.count()},
                {"mean", none ? json(nullptr) : json(h.mean() / 1e6)},
                {"stddev", none ? json(nullptr) : json(h.stddev() / 1e6)},
                {"percentiles", percentiles},
                {"histogram",
                 {{"encoding", "HdrHistogram compressed V2, base64"},
                  {"unit", "microseconds"},
                  {"min", h.min()},
                  {"max", h.max()},
                  {"sum", h.sum()},
                  {"data", h.encode()}}}};
  };
  j["latency"] = section(s.latency);
  j["ttfb"] = section(s.ttfb);
  if (s.schedule) {
    const auto& r = *s.schedule;
    j["latency_uncorrected"] = section(s.latency_uncorrected);
    j["schedule"] = {{"target_rate", r.target_rate},
                     {"achieved_rate", r.achieved_rate},
                     {"due", r.due},
                     {"sent", r.sent},
                     {"late_sends", r.late_sends},
                     {"max_send_lag", r.max_send_lag},
                     {"behind", r.behind()}};
  }
  if (s.warmup_requests) j["warmup_requests"] = s.warmup_requests;
  json intervals = json::array();
  for (const auto& i : s.time_series.seconds()) {
    const auto at = [&i](double p) {
      // Bucket-level values: the same before and after the histogram's JSON round trip.
      return i.latency.empty() ? json(nullptr)
                               : json(static_cast<double>(i.latency.highest_equivalent(
                                          i.latency.value_at_percentile(p))) /
                                      1e6);
    };
    intervals.push_back({{"requests", i.requests()},
                         {"succeeded", i.succeeded},
                         {"failed", i.failed},
                         {"rps", static_cast<double>(i.succeeded) / i.seconds},
                         {"p50", at(50)},
                         {"p95", at(95)},
                         {"p99", at(99)},
                         {"histogram", i.latency.encode()}});
  }
  j["time_series"] = {{"interval", 1}, {"unit", "seconds"}, {"intervals", intervals}};
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
                  {"late", s.late_replies}};

  json by_kind = json::object();
  json details = json::array();
  for (const auto& e : s.errors) {
    const std::string kind(to_string(e.kind));
    by_kind[kind] = by_kind.value(kind, std::uint64_t{0}) + e.requests;
    details.push_back({{"kind", kind}, {"detail", e.detail}, {"requests", e.requests}});
  }
  j["errors"] = {{"by_kind", by_kind}, {"details", details}};
  j["connections"] = {{"configured", s.connections_configured},   {"opened", s.connections_opened},
                      {"failed", s.connections_failed},           {"reconnects", s.reconnects},
                      {"reconnects_failed", s.reconnects_failed}, {"keepalives", s.keepalives}};
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
                    {"saturated", s.generator_saturated()}};
  j["config"] = s.config;
  return j;
}

namespace detail {

/// Milliseconds with precision that suits the size: 0.412, 12.35, 912.3, 15230.
inline std::string format_ms(double seconds) {
  const double ms = seconds * 1e3;
  return format_number(ms, ms < 1 ? 3 : ms < 100 ? 2 : ms < 10'000 ? 1 : 0);
}

}  // namespace detail

/// The summary as text for a terminal or a CI log: the original tool's figures (counts,
/// total time, requests/s, latency average / median / min / max / p95 / p99) plus p90 and
/// p99.9 in milliseconds, errors by kind, each verdict with its sentence, and a result line.
inline std::string format_report(const Summary& s) {
  using detail::format_ms;
  using detail::format_number;
  std::string out = "Load test summary";
  if (!s.name.empty()) out += ": " + s.name;
  if (s.config.contains("url") && s.config["url"].is_string()) {
    out += " (" + s.config["url"].get<std::string>() + ")";
  }
  out += "\n";
  if (s.shard) {
    out += "  Shard " + s.shard->text() +
           ": the figures are this shard's part; wsload merge joins the shards and judges "
           "the thresholds\n";
  }
  if (s.config.contains("shards")) {
    out += "  Merged from " + s.config["shards"].dump() + " shards\n";
  }
  if (s.interrupted) out += "  INTERRUPTED: the figures cover the part that ran\n";
  if (s.config.contains("tls") && s.config["tls"].value("insecure", false)) {
    out += "  WARNING: TLS verification was off (insecure): the server was not authenticated\n";
  }
  if (s.deadline_exceeded) out += "  The run's deadline ended it before it finished\n";
  if (s.generator_saturated()) {
    out += "  WARNING: the load generator was the bottleneck (engine threads " +
           detail::format_number(s.generator_busy * 100, 0) + " % busy, event loops up to " +
           detail::format_seconds(s.loop_lag_p99) +
           " behind at p99): latencies include time spent queued in wsload, not only in "
           "the service; add --threads, CPUs or shards\n";
  }
  if (s.schedule && s.schedule->behind()) {
    const auto& r = *s.schedule;
    out += "  WARNING: the generator fell behind its schedule: " +
           detail::format_number(r.achieved_rate, 1) + " of " +
           detail::format_number(r.target_rate, 1) + " req/s sent, " +
           std::to_string(r.late_sends) + " sends late (up to " +
           detail::format_seconds(r.max_send_lag) + "), " + std::to_string(r.due - r.sent) +
           " never sent. Latencies count from when requests were due; add connections "
           "(or CPU) to send on time\n";
  }
  auto row = [&out](std::string_view label, const std::string& value) {
    out.append("  ").append(label).append(22 - label.size(), ' ').append(value).append("\n");
  };
  row("Total requests:", std::to_string(s.total_requests));
  row("Successful requests:",
      std::to_string(s.successful_requests) + " (" + format_number(s.success_rate(), 2) + " %)");
  row("Failed requests:", std::to_string(s.failed_requests));
  row("Total time:", format_number(s.total_time.count(), 2) + " s");
  row("Requests per second:", format_number(s.requests_per_second(), 2));
  row("Connections:", std::to_string(s.connections_opened) + " opened, " +
                          std::to_string(s.connections_failed) + " failed, of " +
                          std::to_string(s.connections_configured) +
                          (s.reconnects + s.reconnects_failed == 0
                               ? std::string()
                               : "; reopened " + std::to_string(s.reconnects) + " times (" +
                                     std::to_string(s.reconnects_failed) + " attempts failed)"));
  if (s.latency.empty()) {
    row("Latency (ms):", "no samples (no request succeeded)");
  } else {
    const auto at = [&s](double p) { return format_ms(*s.latency_at(p)); };
    row("Latency (ms):", "avg " + format_ms(*s.latency_mean()) + "  median " + at(50) + "  min " +
                             format_ms(static_cast<double>(s.latency.min()) / 1e6) + "  max " +
                             format_ms(static_cast<double>(s.latency.max()) / 1e6));
    row("", "p90 " + at(90) + "  p95 " + at(95) + "  p99 " + at(99) + "  p99.9 " + at(99.9));
  }
  if (s.schedule) {
    const auto& u = s.latency_uncorrected;
    const auto at = [&u](double p) {
      return format_ms(static_cast<double>(u.value_at_percentile(p)) / 1e6);
    };
    row("Open loop:", format_number(s.schedule->achieved_rate, 1) + " of " +
                          format_number(s.schedule->target_rate, 1) +
                          " req/s; latency counts from when each request was due");
    if (!u.empty()) {
      row("From send (ms):",
          "median " + at(50) + "  p95 " + at(95) + "  p99 " + at(99) + "  (uncorrected)");
    }
  }
  if (s.warmup_requests) {
    row("Warm-up:", std::to_string(s.warmup_requests) + " requests left out of the figures");
  }
  // Streamed replies: the first frame and the frame counts tell what completion hides.
  if (!s.ttfb.empty() && s.frames_received > s.successful_requests) {
    const auto at = [&s](double p) {
      return format_ms(static_cast<double>(s.ttfb.value_at_percentile(p)) / 1e6);
    };
    row("First frame (ms):", "avg " + format_ms(s.ttfb.mean() / 1e6) + "  median " + at(50) +
                                 "  p95 " + at(95) + "  p99 " + at(99));
    row("Frames per reply:",
        format_number(static_cast<double>(s.frames_received) /
                          static_cast<double>(std::max<std::uint64_t>(s.successful_requests, 1)),
                      1) +
            " (" + std::to_string(s.bytes_received) + " bytes in all)");
  }
  if (s.unmatched_replies || s.late_replies) {
    row("Uncorrelated frames:", std::to_string(s.unmatched_replies) + " unmatched, " +
                                    std::to_string(s.late_replies) + " late");
  }
  if (!s.errors.empty()) {
    out += "  Errors:\n";
    for (const auto& e : s.errors) {
      out += "    " + std::to_string(e.requests) + " " + std::string(to_string(e.kind)) +
             (e.detail.empty() ? "" : " (" + e.detail + ")") + "\n";
    }
  }
  std::size_t failed = 0;
  if (!s.verdicts.empty()) {
    out += "  Thresholds:\n";
    for (const auto& v : s.verdicts) {
      failed += v.passed ? 0 : 1;
      out += std::string(v.passed ? "    PASS  " : "    FAIL  ") + v.expression + "  " + v.message +
             "\n";
    }
  }
  if (s.shard && s.verdicts.empty()) {
    return out + "Result: shard done (thresholds are judged on the merge)\n";
  }
  out += failed ? "Result: FAIL (" + std::to_string(failed) + " of " +
                      std::to_string(s.verdicts.size()) + " thresholds failed)\n"
                : "Result: PASS (" + std::to_string(s.verdicts.size()) + " thresholds met)\n";
  return out;
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
/// name) when the schema differs or a key is missing or of the wrong type.
inline Summary summary_from_json(const nlohmann::json& j, const std::string& field = "summary") {
  try {
    if (!j.is_object()) throw ConfigError(field, "", "is not a JSON object");
    const auto schema = j.value("schema", std::string());
    if (schema != summary_schema) {
      throw ConfigError(field, schema,
                        "unsupported schema; expected " + std::string(summary_schema));
    }
    Summary s;
    s.name = j.value("name", std::string());
    s.total_requests = j.at("total_requests").get<std::uint64_t>();
    s.successful_requests = j.at("successful_requests").get<std::uint64_t>();
    s.failed_requests = j.at("failed_requests").get<std::uint64_t>();
    s.total_time = Seconds(j.at("total_time").get<double>());
    s.interrupted = j.value("interrupted", false);
    s.deadline_exceeded = j.value("deadline_exceeded", false);
    s.started_at = j.value("started_at", std::string());
    auto histogram = [&](const char* key) {
      const auto& h = j.at(key).at("histogram");
      auto decoded =
          Histogram::decode(h.at("data").get<std::string>(), field + ": " + key + ".histogram");
      decoded.restore_exact(h.at("min").get<std::int64_t>(), h.at("max").get<std::int64_t>(),
                            h.at("sum").get<double>());
      return decoded;
    };
    s.latency = histogram("latency");
    if (j.contains("ttfb")) s.ttfb = histogram("ttfb");
    if (j.contains("schedule")) {
      s.latency_uncorrected = histogram("latency_uncorrected");
      const auto& r = j.at("schedule");
      s.schedule = ScheduleReport{
          r.at("target_rate").get<double>(),       r.at("achieved_rate").get<double>(),
          r.at("due").get<std::uint64_t>(),        r.at("sent").get<std::uint64_t>(),
          r.at("late_sends").get<std::uint64_t>(), r.at("max_send_lag").get<double>()};
    }
    s.warmup_requests = j.value("warmup_requests", std::uint64_t{0});
    if (j.contains("shard")) {
      const auto& shard = j.at("shard");
      const auto index = shard.at("index").get<std::size_t>();
      const auto count = shard.at("count").get<std::size_t>();
      s.shard = detail::checked_shard(index, count, field, Shard{index, count}.text());
    }
    if (j.contains("time_series")) {
      s.measured_from = j.at("time_series").value("start", 0.0);
      for (const auto& i : j.at("time_series").at("intervals")) {
        Interval interval;
        interval.succeeded = i.at("succeeded").get<std::uint64_t>();
        interval.failed = i.at("failed").get<std::uint64_t>();
        interval.latency = Histogram::decode(i.at("histogram").get<std::string>(),
                                             field + ": time_series.intervals.histogram");
        s.time_series.seconds().push_back(std::move(interval));
      }
    }
    if (j.contains("replies")) {
      const auto& r = j.at("replies");
      s.frames_received = r.at("frames").get<std::uint64_t>();
      s.bytes_received = r.at("bytes").get<std::uint64_t>();
      s.unmatched_replies = r.at("unmatched").get<std::uint64_t>();
      s.late_replies = r.at("late").get<std::uint64_t>();
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
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(field, "", std::string("malformed summary: ") + e.what());
  }
}

/// Writes `text` to `path` atomically: a temporary file in the same directory, then a
/// rename, so a reader never sees half a file and a failed write leaves the old one.
/// Throws ConfigError (naming `field`) when the directory is not writable.
inline void write_file_atomically(const std::filesystem::path& path, std::string_view text,
                                  const std::string& field = "summary file") {
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::random_device rd;
  // Appending, not operator+ on temporaries: g++ 12 -O3 warns falsely (-Wrestrict) there.
  std::string name(".");
  name.append(path.filename().string())
      .append(".tmp.")
      .append(std::to_string(::getpid()))
      .append(".")
      .append(std::to_string(rd()));
  const auto tmp = dir / name;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw ConfigError(field, path.string(),
                        "cannot be written (directory missing or not writable)");
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw ConfigError(field, path.string(), "write failed (disk full?)");
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw ConfigError(field, path.string(), "cannot be replaced: " + ec.message());
  }
}

/// Writes the summary JSON (indented) atomically.
inline void write_summary(const Summary& summary, const std::filesystem::path& path) {
  write_file_atomically(path, to_json(summary).dump(2) + "\n");
}

/// Reads a summary file. Throws ConfigError naming the file when it is missing, not JSON,
/// or not a wsload summary.
inline Summary read_summary(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError("summary file", path.string(), "cannot be opened");
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) throw ConfigError("summary file", path.string(), "is not valid JSON");
  return summary_from_json(j, path.string());
}

}  // namespace wsload
