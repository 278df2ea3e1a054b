// The console table of a run: what a terminal or a CI log shows of its summary.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include <wsload/detail/format.hpp>
#include <wsload/render/steps.hpp>
#include <wsload/results/summary.hpp>

namespace wsload {

/// The summary as text for a terminal or a CI log: the original tool's figures (counts,
/// total time, requests/s, latency average / median / min / max / p95 / p99) plus p90 and
/// p99.9 in milliseconds, errors by kind, the steps and checks (format_steps), each verdict with
/// its sentence, and a result line.
inline std::string format_report(const Summary& s) {
  using detail::format_ms;
  using detail::format_number;
  using detail::seconds_of;
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
           detail::format_number(r.target_rate, 1) +
           (r.max_sessions > 0 ? " sessions/s started, " : " req/s sent, ") +
           std::to_string(r.late_sends) + (r.max_sessions > 0 ? " starts" : " sends") +
           " late (up to " + detail::format_seconds(r.max_send_lag) + "), " +
           std::to_string(r.not_sent) + " due but never " +
           (r.max_sessions > 0 ? "started" : "sent") + ". Latencies count from when " + r.what() +
           " were due; " + (r.max_sessions > 0 ? "raise --max-sessions" : "add connections") +
           " (or CPU) to send on time\n";
  }
  if (s.schedule && s.schedule->sessions_waited > 0) {
    const auto& r = *s.schedule;
    out += "  WARNING: " + std::to_string(r.sessions_waited) +
           " sessions waited for a free slot (at most " + std::to_string(r.max_sessions) +
           " in flight, --max-sessions): the figures measure the cap, not the service\n";
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
  if (s.config.contains("compression")) {
    const auto upgrades = s.connections_opened + s.reconnects + s.timeout_reconnects;
    row("Compression:", s.compressed_upgrades == 0
                            ? "permessage-deflate offered, not negotiated: the server declined "
                              "it, and the run went uncompressed"
                            : "permessage-deflate negotiated on " +
                                  std::to_string(s.compressed_upgrades) + " of " +
                                  std::to_string(upgrades) + " upgrades");
  }
  if (s.latency.empty()) {
    row("Latency (ms):", "no samples (no request succeeded)");
  } else {
    const auto at = [&s](double p) { return format_ms(*s.latency_at(p)); };
    row("Latency (ms):", "avg " + format_ms(*s.latency_mean()) + "  median " + at(50) + "  min " +
                             format_ms(seconds_of(s.latency.min())) + "  max " +
                             format_ms(seconds_of(s.latency.max())));
    row("", "p90 " + at(90) + "  p95 " + at(95) + "  p99 " + at(99) + "  p99.9 " + at(99.9));
  }
  if (s.schedule) {
    const auto& u = s.latency_uncorrected;
    const auto at = [&u](double p) { return format_ms(seconds_of(u.value_at_percentile(p))); };
    row("Open loop:", format_number(s.schedule->achieved_rate, 1) + " of " +
                          format_number(s.schedule->target_rate, 1) + " " +
                          (s.schedule->max_sessions > 0
                               ? "sessions/s; latency counts from when each session was due"
                               : "req/s; latency counts from when each request was due"));
    if (s.schedule->max_sessions > 0) {
      row("Sessions:", "up to " + std::to_string(s.schedule->peak_sessions) + " in flight of " +
                           std::to_string(s.schedule->max_sessions) + " allowed; " +
                           std::to_string(s.schedule->sessions_waited) +
                           " waited for a slot; started " + std::to_string(s.schedule->sent) +
                           ", " + std::to_string(s.schedule->late_sends) + " late (up to " +
                           detail::format_seconds(s.schedule->max_send_lag) + ")");
    }
    if (!u.empty()) {
      row("From send (ms):",
          "median " + at(50) + "  p95 " + at(95) + "  p99 " + at(99) + "  (uncorrected)");
    }
  }
  if (s.warmup_requests) {
    row("Warm-up:", std::to_string(s.warmup_requests) + " requests left out of the figures");
  }
  // Streamed replies: the first frame and the frame counts tell what completion hides.
  if (s.streamed()) {
    const auto figures = [&row](const char* label, const Histogram& h) {
      if (h.empty()) return;
      const auto at = [&h](double p) { return format_ms(seconds_of(h.value_at_percentile(p))); };
      row(label, "avg " + format_ms(h.mean() / 1e6) + "  median " + at(50) + "  p95 " + at(95) +
                     "  p99 " + at(99));
    };
    figures("First frame (ms):", s.ttfb);
    figures("First token (ms):", s.ttft);
    figures("Inter-token (ms):", s.inter_frame);
    figures("Per token (ms):", s.tpot);
    if (s.output_tokens) {
      row("Output tokens:", format_number(s.tokens_per_reply.mean(), 1) + " per reply, " +
                                format_number(s.output_throughput(), 1) + " tokens/s; per reply " +
                                format_number(s.output_rate.value_at_percentile(50) / 1e3, 1) +
                                " tokens/s median");
    }
    row("Frames per reply:",
        format_number(static_cast<double>(s.frames_received) /
                          static_cast<double>(std::max<std::uint64_t>(s.successful_requests, 1)),
                      1) +
            " (" + std::to_string(s.bytes_received) + " bytes in all)");
  }
  if (s.has_slo()) {
    row("Goodput:", format_number(s.goodput(), 1) + " req/s: " + std::to_string(s.good_requests) +
                        " of " + std::to_string(s.total_requests) + " requests met every SLO (" +
                        s.config["slo"].get<std::string>() + ")");
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
  out += format_steps(s);
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

}  // namespace wsload
