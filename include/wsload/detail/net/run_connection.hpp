// One load connection from start to end: connect-rate pacing, open, the sequential or
// pipelined loop, and the reconnect policy when it drops.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <utility>

#include <wsload/config.hpp>
#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/classify.hpp>
#include <wsload/detail/net/connection.hpp>
#include <wsload/detail/net/pacing.hpp>
#include <wsload/detail/net/pipelined.hpp>
#include <wsload/detail/net/sequential.hpp>
#include <wsload/detail/net/state.hpp>
#include <wsload/errors.hpp>

namespace wsload::detail {

/// The wait before a reconnect after `failures` drops or failed attempts in a row:
/// doubling from the policy's backoff to its maximum, half of it random so that
/// connections dropped together do not all return together.
inline Clock::duration reconnect_delay(const ReconnectPolicy& policy, std::size_t failures,
                                       std::mt19937_64& random) {
  double ms = static_cast<double>(policy.backoff.count()) *
              std::ldexp(1.0, static_cast<int>(std::min<std::size_t>(failures, 30)));
  ms = std::min(ms, static_cast<double>(policy.max_backoff.count()));
  ms = ms / 2 + std::uniform_real_distribution<double>(0, ms / 2)(random);
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(ms));
}

/// Runs one connection to completion. Every request it does not complete is counted as
/// failed under the kind of the failure that ended it, so totals always add up to
/// prompts x iterations. With a reconnect policy, a connection that drops fails only the
/// requests it had in flight and carries on with the rest on a new connection.
template <class Stream>
asio::awaitable<void> run_connection(RunContext& run, ThreadState& state, std::uint64_t index) {
  const LoadConfig& config = run.config;
  Cursor cursor;
  ConnectionSlot slot;
  slot.cursor = &cursor;
  LiveGuard guard(state, slot);
  ConnectionFinish finish{state};
  if (run.schedule) {
    const auto total = run.schedule->total();
    cursor.end = index < total ? (total - index - 1) / config.connections + 1 : 0;
    if (cursor.end == 0) co_return;  // a schedule shorter than the connections
  } else {
    cursor.end =
        config.duration.count() > 0 ? Cursor::unbounded : config.prompts.size() * config.iterations;
  }
  // Ends the connection's share. The requests in flight fail under the reason's kind;
  // those not yet sent fail too when the service is the reason (a connection refused or
  // dropped), but not when the run is ending: an interrupt, or an open loop's deadline,
  // is no failure of the service, and they are only noted as not sent.
  auto give_up = [&](Failure why) {
    const bool run_ends = why.first == ErrorKind::interrupted ||
                          (why.first == ErrorKind::run_deadline && run.schedule);
    if (!run_ends) {
      if (run.schedule) state.unsent_failed += cursor.end - cursor.next;
      state.count_failed(why.first, std::move(why.second), cursor.remaining());
      return;
    }
    if (why.first == ErrorKind::run_deadline && cursor.end > cursor.next) state.deadline_cut = true;
    state.count_failed(why.first, std::move(why.second), cursor.next - cursor.counted);
    if (run.schedule) {
      settle_unsent(run, state, cursor, index, Clock::now());
    } else if (cursor.end != Cursor::unbounded) {
      state.not_sent += cursor.end - cursor.next;
    }
  };

  if (!co_await pace_connect(run, state, slot, index)) {
    give_up(classify({}, slot, {}));
    co_return;
  }
  if (state.abort_all != Abort::none && slot.abort == Abort::none) slot.abort = state.abort_all;
  if (slot.abort != Abort::none) {
    give_up(classify({}, slot, {}));
    co_return;
  }

  const auto executor = co_await asio::this_coro::executor;
  bool opened_before = false;
  std::size_t reconnects = 0;
  std::size_t failures_in_a_row = 0;
  bool reopening_after_timeout = false;
  for (;;) {
    Failure why;
    {
      struct OpenGauge {
        std::uint64_t& open_now;
        bool counted = false;
        ~OpenGauge() {
          if (counted) --open_now;
        }
      } open{state.open_now};
      std::optional<Stream> ws;
      emplace_stream(ws, executor, run);
      slot.socket = &beast::get_lowest_layer(*ws);
      if (auto failure = co_await open_connection(run, slot, *ws)) {
        why = std::move(*failure);
        ++(opened_before ? state.reconnects_failed : state.connections_failed);
        ++failures_in_a_row;
      } else {
        ++(reopening_after_timeout ? state.timeout_reconnects
           : opened_before         ? state.reconnects
                                   : state.connections_opened);
        reopening_after_timeout = false;
        if (slot.compressed) ++state.compressed_upgrades;
        state.last_open = Clock::now();
        open.counted = true;
        ++state.open_now;
        opened_before = true;
        const auto succeeded_before = state.successful_requests;
        websocket::close_reason peer_close;
        boost::system::error_code ec;
        if (run.correlation) {
          ec = co_await run_pipelined(run, state, slot, *ws, index, cursor);
          peer_close = ws->reason();
        } else {
          ec = co_await run_sequential(run, state, slot, *ws, index, cursor, peer_close);
        }
        if (!ec) co_return;
        why = classify(ec, slot, peer_close);
        // A connection that served requests before it dropped starts the backoff afresh.
        failures_in_a_row =
            state.successful_requests > succeeded_before ? 1 : failures_in_a_row + 1;
      }
      boost::system::error_code ignored;
      slot.socket->close(ignored);
      slot.socket = nullptr;
    }
    const bool run_ending = slot.abort == Abort::run_deadline || slot.abort == Abort::interrupted ||
                            state.abort_all != Abort::none;
    if (opened_before && !run_ending && slot.abort == Abort::timeout &&
        why.first == ErrorKind::reply_timeout) {
      // Only the requests in flight timed out. The rest go on a fresh connection, where a
      // late reply cannot be taken for theirs (correlated replies time out one by one and
      // keep their connection: see Pipeline::expire).
      state.count_failed(why.first, std::move(why.second), cursor.next - cursor.counted);
      cursor.counted = cursor.next;
      if (cursor.counted == cursor.end) co_return;
      reopening_after_timeout = true;
      slot.abort = Abort::none;
      slot.expire = nullptr;
      continue;
    }
    if (!opened_before || run_ending || reconnects >= config.reconnect.max_attempts) {
      give_up(std::move(why));
      co_return;
    }
    // The requests in flight are lost with the connection; the rest go on a new one.
    state.count_failed(why.first, std::move(why.second), cursor.next - cursor.counted);
    cursor.counted = cursor.next;
    if (cursor.counted == cursor.end) co_return;
    ++reconnects;
    slot.abort = Abort::none;  // a timeout ended the old connection, not this one
    slot.expire = nullptr;
    if (!co_await pause_until(
            state, slot,
            Clock::now() +
                reconnect_delay(config.reconnect, failures_in_a_row - 1, state.random))) {
      give_up(classify({}, slot, {}));
      co_return;
    }
  }
}

}  // namespace wsload::detail
