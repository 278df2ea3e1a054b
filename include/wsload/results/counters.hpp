// The plain counts of a run: what each engine thread counts on its own, what its summary
// holds, and what the merge of shards adds up. One operator+= folds them all, so a new
// counter is added here (and to the summary's JSON), never to each fold.
#pragma once

#include <cstdint>

namespace wsload {

/// Counts a run accumulates; every member is a std::uint64_t (the unit test that checks
/// operator+= relies on it). Summary and the engine's per-thread state derive from it.
struct Counters {
  std::uint64_t total_requests = 0;
  std::uint64_t successful_requests = 0;
  std::uint64_t failed_requests = 0;
  std::uint64_t warmup_requests = 0;  ///< ended during the warm-up: not in the figures
  /// Requests planned but never sent because the run was interrupted (closed loop; an
  /// open loop's are in the summary's `schedule`). They are in no request count.
  std::uint64_t not_sent = 0;
  std::uint64_t frames_received = 0;    ///< frames of successful replies
  std::uint64_t bytes_received = 0;     ///< payload bytes of successful replies
  std::uint64_t good_requests = 0;      ///< successful requests that met every --slo limit
  std::uint64_t output_tokens = 0;      ///< output tokens of successful replies (--tokens)
  std::uint64_t unmatched_replies = 0;  ///< correlated frames whose id matched no request
  std::uint64_t late_replies = 0;       ///< frames for requests that had already timed out
  /// Frames that arrived while no request waited for them (uncorrelated replies): already
  /// there before a request was sent, or left over when the connection closed. A reply
  /// in more frames than the completion rule consumes leaves them; they are not timed.
  std::uint64_t unconsumed_before_request = 0;
  std::uint64_t unconsumed_at_close = 0;
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
  /// Upgrades (first opens and reopens) whose server agreed on the permessage-deflate
  /// the run offered (LoadConfig::compression).
  std::uint64_t compressed_upgrades = 0;

  /// Adds every count of `other`: the threads of one run, or the shards of one load.
  Counters& operator+=(const Counters& other) noexcept {
    total_requests += other.total_requests;
    successful_requests += other.successful_requests;
    failed_requests += other.failed_requests;
    warmup_requests += other.warmup_requests;
    not_sent += other.not_sent;
    frames_received += other.frames_received;
    bytes_received += other.bytes_received;
    output_tokens += other.output_tokens;
    good_requests += other.good_requests;
    unmatched_replies += other.unmatched_replies;
    late_replies += other.late_replies;
    unconsumed_before_request += other.unconsumed_before_request;
    unconsumed_at_close += other.unconsumed_at_close;
    connections_configured += other.connections_configured;
    connections_opened += other.connections_opened;
    connections_failed += other.connections_failed;
    reconnects += other.reconnects;
    reconnects_failed += other.reconnects_failed;
    keepalives += other.keepalives;
    timeout_reconnects += other.timeout_reconnects;
    close_timeouts += other.close_timeouts;
    compressed_upgrades += other.compressed_upgrades;
    return *this;
  }

  /// Frames no completion rule consumed: before a request, at close, or uncorrelated.
  std::uint64_t unconsumed_frames() const noexcept {
    return unconsumed_before_request + unconsumed_at_close + unmatched_replies;
  }
};

}  // namespace wsload
