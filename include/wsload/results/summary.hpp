// Summary of a run: counts, latency, errors, verdicts; its JSON form, written atomically.
//
// JSON: the original tool's flat keys (seconds and percent) stay at the top level;
// richer sections follow. "schema" names the layout version: readers refuse others.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/errors.hpp>
#include <wsload/histogram.hpp>
#include <wsload/results/output.hpp>
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
/// latencies still count from when each request was due. Sending stops at the end of the
/// schedule: a request due but not sent by then is `not_sent`, a shortfall of the
/// generator, not a failure of the service (it is in no request count).
struct ScheduleReport {
  double target_rate = 0;    ///< requests per second over the schedule
  double achieved_rate = 0;  ///< requests sent per second of sending
  /// Requests that came due: the whole schedule, or its part before an interrupt. Each
  /// was sent, failed unsent with its connection (counted as failed), or is `not_sent`.
  std::uint64_t due = 0;
  std::uint64_t sent = 0;
  std::uint64_t late_sends = 0;  ///< sent more than 10 ms after they were due
  double max_send_lag = 0;       ///< seconds
  std::uint64_t not_sent = 0;    ///< came due, but the generator could not send them in time
  /// More than 1 % of sends late, or requests the generator did not send: the latencies
  /// measure the generator as much as the service.
  bool behind() const noexcept {
    return not_sent > 0 || late_sends * 100 > std::max<std::uint64_t>(sent, 1);
  }
  /// The generator sent under 95 % of what came due: the load asked for was not delivered,
  /// so no verdict on the service holds.
  bool fell_short() const noexcept { return not_sent * 20 > due; }
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
  /// Frames that arrived while no request waited for them (uncorrelated replies): already
  /// there before a request was sent, or left over when the connection closed. A reply
  /// in more frames than the completion rule consumes leaves them; they are not timed.
  std::uint64_t unconsumed_before_request = 0;
  std::uint64_t unconsumed_at_close = 0;
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
  /// Connections reopened because a request timed out: with uncorrelated replies a late
  /// reply would be taken for the next request's, so the rest go on a fresh connection.
  std::uint64_t timeout_reconnects = 0;
  std::uint64_t close_timeouts = 0;  ///< closing handshakes cut short (not traffic time)
  /// Requests planned but never sent because the run was interrupted (closed loop; an
  /// open loop's are in `schedule`). They are in no request count.
  std::uint64_t not_sent = 0;
  /// Open loop: the sending window (the schedule after the warm-up), over which
  /// throughput is judged; 0 for a closed loop, whose throughput is over `total_time`.
  Seconds rate_window{0};
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
  /// Successful requests per second of total time (of the sending window in an open
  /// loop, so the drain of the last replies does not dilute a rate that was kept):
  /// failures are not throughput.
  double requests_per_second() const noexcept {
    const double window = rate_window.count() > 0 ? rate_window.count() : total_time.count();
    return window > 0 ? static_cast<double>(successful_requests) / window : 0.0;
  }
  /// Frames no completion rule consumed: before a request, at close, or uncorrelated.
  std::uint64_t unconsumed_frames() const noexcept {
    return unconsumed_before_request + unconsumed_at_close + unmatched_replies;
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
  /// loops ran more than 20 ms (two watchdog periods) behind at the 99th percentile while
  /// busy. Its latencies then include time requests spent queued in wsload, not only in
  /// the service. Judged only on enough traffic: a run whose connections all failed spent
  /// its time in handshakes, which says nothing of the generator's capacity.
  bool generator_saturated() const noexcept {
    if (successful_requests < min_traffic_to_judge_the_generator) return false;
    return generator_busy >= 0.9 || (loop_lag_p99 > 0.020 && generator_busy >= 0.5);
  }
  /// Event loops ran behind while the generator was mostly idle: other processes held
  /// the CPU, and latencies may include their delays.
  bool host_busy() const noexcept {
    return successful_requests >= min_traffic_to_judge_the_generator && loop_lag_p99 > 0.020 &&
           generator_busy < 0.5;
  }
  static constexpr std::uint64_t min_traffic_to_judge_the_generator = 20;

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

  /// Judges every threshold and stores the verdicts, then the generator's own: an open
  /// loop that sent under 95 % of what came due does not pass. Returns passed().
  bool judge(const std::vector<Threshold>& thresholds) {
    verdicts.clear();
    for (const auto& t : thresholds) verdicts.push_back(verdict(t));
    if (schedule && schedule->fell_short()) verdicts.push_back(shortfall_verdict());
    return passed();
  }

  /// The verdict on a schedule the generator did not keep.
  Verdict shortfall_verdict() const {
    const auto& r = *schedule;
    const double sent_share =
        r.due ? 100.0 * static_cast<double>(r.due - r.not_sent) / static_cast<double>(r.due) : 0;
    return {"sent>=95%", false, sent_share, 95,
            "the load generator fell short: it sent " + std::to_string(r.due - r.not_sent) +
                " of the " + std::to_string(r.due) + " requests due (" +
                detail::format_number(sent_share, 1) +
                " %), so the load asked for was not delivered; this is no verdict on the "
                "service. Add connections (each sends one request at a time), --threads, "
                "CPUs or shards"};
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
                     {"not_sent", r.not_sent},
                     {"behind", r.behind()},
                     {"fell_short", r.fell_short()}};
  }
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
  if (s.interrupted) {
    const auto unsent = s.not_sent + (s.schedule ? s.schedule->not_sent : 0);
    out += "  INTERRUPTED: the figures cover the part that ran" +
           (unsent ? " (" + std::to_string(unsent) + " requests not sent)" : std::string()) + "\n";
  }
  if (s.connections_opened == 0 && s.connections_failed > 0) {
    out += "  WARNING: no connection opened (" + std::to_string(s.connections_failed) +
           " failed; see Errors): the figures say nothing of the service's latency\n";
  }
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
  if (s.host_busy()) {
    out += "  WARNING: the machine was busy: wsload's event loops ran up to " +
           detail::format_seconds(s.loop_lag_p99) + " behind at p99 while its threads were " +
           detail::format_number(s.generator_busy * 100, 0) +
           " % busy; latencies may include delays of other processes\n";
  }
  if (s.schedule && s.schedule->behind()) {
    const auto& r = *s.schedule;
    out += "  WARNING: the generator fell behind its schedule: " +
           detail::format_number(r.achieved_rate, 1) + " of " +
           detail::format_number(r.target_rate, 1) + " req/s sent, " +
           std::to_string(r.late_sends) + " sends late (up to " +
           detail::format_seconds(r.max_send_lag) + "), " + std::to_string(r.not_sent) +
           " due but never sent. Latencies count from when requests were due; add "
           "connections (or CPU) to send on time\n";
  }
  if (s.unconsumed_frames() > 0) {
    out += "  WARNING: " + std::to_string(s.unconsumed_frames()) +
           " frames arrived that no request's completion rule consumed (" +
           std::to_string(s.unconsumed_before_request) + " already waiting before a request, " +
           std::to_string(s.unconsumed_at_close) + " left over at close, " +
           std::to_string(s.unmatched_replies) +
           " uncorrelated): the service likely streams a reply in several frames, or answers "
           "twice, so latencies may time the wrong frame. Say when a reply is complete with "
           "--complete (frames=N, '/type==\"end\"' or regex:...)\n";
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
  row("Connections:",
      std::to_string(s.connections_opened) + " opened, " + std::to_string(s.connections_failed) +
          " failed, of " + std::to_string(s.connections_configured) +
          (s.reconnects + s.reconnects_failed == 0
               ? std::string()
               : "; reopened " + std::to_string(s.reconnects) + " times (" +
                     std::to_string(s.reconnects_failed) + " attempts failed)") +
          (s.timeout_reconnects == 0
               ? std::string()
               : "; " + std::to_string(s.timeout_reconnects) + " reopened after a reply timeout") +
          (s.close_timeouts == 0 ? std::string()
                                 : "; " + std::to_string(s.close_timeouts) +
                                       " closes timed out (not counted as traffic)"));
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

// ---- Checking what a summary file says -------------------------------------------------
// A summary may come from anywhere (a shard on another host, an edited file): every figure
// summary_from_json reads is checked, so a merge, a report or a comparison never computes
// with a count that wrapped, was truncated, or does not add up.

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

/// Checks that the figures of a summary read from `file` agree as the engine and
/// merge_shards make them: total = successful + failed; the errors' requests sum to
/// failed; one latency sample per success (at most one time to first frame, and one
/// uncorrected latency); an open loop sends no more than was due; and a time series, when
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
    auto histogram = [&](const char* key) {
      const auto& h = j.at(key).at("histogram");
      auto decoded =
          Histogram::decode(h.at("data").get<std::string>(), field + ": " + key + ".histogram");
      const auto min = h.at("min").get<std::int64_t>();
      const auto max = h.at("max").get<std::int64_t>();
      const auto sum = h.at("sum").get<double>();
      detail::check_exact_statistics(decoded, min, max, sum, std::string(key) + ".histogram",
                                     field);
      decoded.restore_exact(min, max, sum);
      return decoded;
    };
    s.latency = histogram("latency");
    if (j.contains("ttfb")) s.ttfb = histogram("ttfb");
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
      s.schedule = report;
    }
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

/// Writes the summary JSON (indented) atomically.
inline void write_summary(const Summary& summary, const std::filesystem::path& path) {
  write_file_atomically(path, to_json(summary).dump(2) + "\n");
}

/// The JSON document in the file `path`: a summary, a GoogleTest report. Throws
/// ConfigError naming the file when it is a directory, cannot be opened or is not JSON.
inline nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError(path.string(), "", "is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path.string(), "", "cannot be opened");
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) throw ConfigError(path.string(), "", "is not valid JSON");
  return j;
}

/// The summary of one test case's entry in a GoogleTest report, read by summary_from_json;
/// its errors name the file and the case: "loads.wsload.json (Echo.Fast): ...".
inline Summary summary_of_entry(const nlohmann::json& entry, const std::string& file) {
  if (!entry.is_object()) return summary_from_json(entry, file);
  const auto text = [&entry](const char* key) {
    const auto it = entry.find(key);
    return it != entry.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  return summary_from_json(entry, file + " (" + text("suite") + "." + text("test") + ")");
}

/// Reads a summary file. Throws ConfigError naming the file when it is missing, not JSON,
/// or not a wsload summary whose figures add up.
inline Summary read_summary(const std::filesystem::path& path) {
  return summary_from_json(read_json_file(path), path.string());
}

}  // namespace wsload
