// The typed record of what a run measured: counts, latency, errors, schedule, verdicts.
// Its JSON form is in results/summary_json.hpp, its files in results/runs.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/detail/format.hpp>
#include <wsload/errors.hpp>
#include <wsload/histogram.hpp>
#include <wsload/results/counters.hpp>
#include <wsload/results/steps.hpp>
#include <wsload/shard.hpp>
#include <wsload/thresholds.hpp>
#include <wsload/timeseries.hpp>

namespace wsload {

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
  /// Session arrivals: a request is a session and a send its start. The cap on sessions
  /// in flight (0: no session arrivals), the most that were at once, and how many sessions
  /// waited for a free slot: then the figures measure the cap, not the service.
  std::uint64_t max_sessions = 0;
  std::uint64_t peak_sessions = 0;
  std::uint64_t sessions_waited = 0;
  /// More than 1 % of sends late, or requests the generator did not send: the latencies
  /// measure the generator as much as the service.
  bool behind() const noexcept {
    return not_sent > 0 || late_sends * 100 > std::max<std::uint64_t>(sent, 1);
  }
  /// The generator sent under 95 % of what came due: the load asked for was not delivered,
  /// so no verdict on the service holds.
  bool fell_short() const noexcept { return not_sent * 20 > due; }
  /// What the schedule's counts count: "sessions" with session arrivals, else "requests".
  const char* what() const noexcept { return max_sessions > 0 ? "sessions" : "requests"; }
};

/// What a run measured: its counts (Counters), latency histograms, time series, errors
/// and verdicts. Latencies are recorded in microseconds in `latency`; the accessors and
/// the JSON give seconds. Successful requests only are timed.
struct Summary : Counters {
  std::string name;
  Seconds total_time{0};
  Histogram latency;  ///< microseconds, send to completion of the reply
  Histogram ttfb;     ///< microseconds, send to the reply's first frame
  Histogram ttft;     ///< microseconds, send to the reply's first token (first-token rule)
  /// Microseconds, every gap between successive token frames of a reply, from its first
  /// token on: a reply of n tokens adds n - 1 gaps.
  Histogram inter_frame;
  Histogram tpot;  ///< microseconds per token, (latency - ttft) / (tokens - 1), replies of 2+
  Histogram tokens_per_reply;  ///< output tokens of each reply (--tokens)
  /// Millitokens per second of each reply: its output tokens over its latency.
  Histogram output_rate;
  /// Open loop: `latency` counts from when each request was due; this, from when it was
  /// sent (what a closed-loop tester would have reported).
  Histogram latency_uncorrected;
  std::optional<ScheduleReport> schedule;  ///< open loop only
  TimeSeries time_series;                  ///< per second since the measurement began
  std::vector<ErrorCount> errors;
  StepTable steps;    ///< by step name; empty when the session named no step
  CheckTable checks;  ///< by check name; empty when the session ran no check
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
  /// Replies came in more frames than one each, timed to their first frame too: what
  /// their completion hides shows there.
  bool streamed() const noexcept { return !ttfb.empty() && frames_received > successful_requests; }
  /// The histogram of one timing.
  const Histogram& timed(Timing timing) const noexcept {
    switch (timing) {
      case Timing::completion:
        break;
      case Timing::first_frame:
        return ttfb;
      case Timing::first_token:
        return ttft;
      case Timing::inter_frame:
        return inter_frame;
      case Timing::per_token:
        return tpot;
      case Timing::output_rate:
        return output_rate;
    }
    return latency;
  }
  /// The run had per-request limits (--slo), so its goodput means something.
  bool has_slo() const {
    return config.is_object() && config.contains("slo") && config["slo"].is_string();
  }
  /// Successful requests that met every --slo limit, per second of the run (its window as
  /// requests_per_second).
  double goodput() const noexcept {
    const double window = rate_window.count() > 0 ? rate_window.count() : total_time.count();
    return window > 0 ? static_cast<double>(good_requests) / window : 0.0;
  }
  /// Output tokens per second over the run (over its sending window in an open loop, as
  /// requests_per_second).
  double output_throughput() const noexcept {
    const double window = rate_window.count() > 0 ? rate_window.count() : total_time.count();
    return window > 0 ? static_cast<double>(output_tokens) / window : 0.0;
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
    if (detail::selects_step_or_check(t)) return detail::selected_figure(t, steps, checks);
    if (detail::is_latency(t.figure)) {
      return detail::latency_figure(timed(t.timing), t,
                                    t.timing == Timing::output_rate ? 1e3 : 1e6);
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
      case Figure::goodput:
        return total_requests ? std::optional<double>(goodput()) : std::nullopt;
      default:
        return std::nullopt;
    }
  }

  /// The verdict of one threshold on this run (on each of its windows, when it has one).
  Verdict verdict(const Threshold& t) const {
    Verdict v = detail::selects_step_or_check(t)
                    ? detail::selected_verdict(t, steps, checks, config.contains("warmup"))
                : t.window > 0 ? evaluate_windows(t, time_series)
                               : evaluate(t, figure(t));
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
                " of the " + std::to_string(r.due) + " " + r.what() + " due (" +
                detail::format_number(sent_share, 1) +
                " %), so the load asked for was not delivered; this is no verdict on the "
                "service. " +
                (r.max_sessions > 0
                     ? "Raise --max-sessions (the sessions in flight at once), --threads, "
                       "CPUs or shards"
                     : "Add connections (each sends one request at a time), --threads, "
                       "CPUs or shards")};
  }
};

}  // namespace wsload
