// When a connection sends: an open loop's due times, keepalives on an idle connection,
// and waits that the run's end cuts short.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>

#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/state.hpp>

namespace wsload::detail {

/// Sends a connection's keepalive message; false when the write failed.
using KeepaliveSender = std::function<asio::awaitable<bool>()>;

/// A send this long after its due time is late (ScheduleReport::late_sends).
inline constexpr auto late_send = std::chrono::milliseconds(10);

/// Counts an open-loop send against its schedule.
inline void note_send(ThreadState& state, Clock::time_point due, Clock::time_point now) {
  const auto lag = now - due;
  ++state.sent;
  state.last_send = now;
  if (lag > late_send) ++state.late_sends;
  state.max_send_lag = std::max(state.max_send_lag, lag);
}

/// Waits until `at` (connect-rate pacing, reconnect backoff, a request's due time), cut
/// short when the run ends. False when it has. Requests in flight keep their deadlines.
inline asio::awaitable<bool> pause_until(ThreadState& state, ConnectionSlot& slot,
                                         Clock::time_point at) {
  asio::steady_timer timer(co_await asio::this_coro::executor, at);
  if (!slot.expire) {
    slot.phase = Phase::wait;
    slot.deadline = Clock::time_point::max();
  }
  slot.timer = &timer;
  boost::system::error_code ec;
  if (state.abort_all == Abort::none) {
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  slot.timer = nullptr;
  if (state.abort_all != Abort::none && slot.abort == Abort::none) slot.abort = state.abort_all;
  co_return slot.abort == Abort::none;
}

/// Connect-rate pacing: waits until connection `index` may open, paced from the run's
/// start so that a slow connect does not delay the ones after it. False when the run ended.
inline asio::awaitable<bool> pace_connect(RunContext& run, ThreadState& state, ConnectionSlot& slot,
                                          std::uint64_t index) {
  if (run.config.connect_rate <= 0 || index == 0) co_return true;
  const auto at =
      run.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                      static_cast<double>(index) / run.config.connect_rate));
  co_return co_await pause_until(state, slot, at);
}

/// Closed loop: request `cursor.next` is due now, unless the run's duration is over, which
/// ends the connection's share (false). No coroutine: it runs for every request.
inline bool due_at_once(const RunContext& run, Cursor& cursor, Clock::time_point& due) {
  due = Clock::now();
  if (due < run.send_until) return true;
  cursor.end = cursor.next;  // what was sent is the share
  return false;
}

/// Waits for request `cursor.next` to be due (open loop), sending `keepalive` whenever the
/// connection has sent nothing for the keepalive interval, or ends the connection's share
/// when the run's duration is over (closed loop). Returns when it is due; false when the
/// connection has nothing more to send, the run is ending, or a keepalive failed.
inline asio::awaitable<bool> wait_until_due(RunContext& run, ThreadState& state,
                                            ConnectionSlot& slot, Cursor& cursor,
                                            std::uint64_t index, Clock::time_point& due,
                                            const KeepaliveSender& keepalive,
                                            const Clock::time_point& last_sent) {
  if (!run.schedule) co_return due_at_once(run, cursor, due);
  due = run.start + to_clock(run.schedule->at(cursor.next * run.config.connections + index));
  while (keepalive && due > last_sent + run.config.keepalive_interval) {
    const auto at = last_sent + run.config.keepalive_interval;
    if (at > Clock::now() && !co_await pause_until(state, slot, at)) co_return false;
    if (!co_await keepalive()) co_return false;
  }
  if (due > Clock::now() && !co_await pause_until(state, slot, due)) co_return false;
  if (Clock::now() >= run.send_until) {
    // Sending stops with the schedule: what is overdue then was never sent, a shortfall
    // of the generator that no request count includes.
    state.schedule_not_sent += cursor.end - cursor.next;
    cursor.end = cursor.next;
    co_return false;
  }
  co_return true;
}

/// Open loop: of the requests from `cursor.next` on, counts those overdue at `now` as not
/// sent (the run is ending); the rest never came due. A request due within the lateness a
/// send is allowed (10 ms, as note_send counts it) was not yet late: an interrupt caught it
/// on its way.
inline void settle_unsent(const RunContext& run, ThreadState& state, const Cursor& cursor,
                          std::uint64_t index, Clock::time_point now) {
  for (auto k = cursor.next; k < cursor.end; ++k) {
    const auto due = run.start + to_clock(run.schedule->at(k * run.config.connections + index));
    if (due + late_send > now) break;
    ++state.schedule_not_sent;
  }
}

}  // namespace wsload::detail
