// Session arrivals, an open model of users (LoadConfig::session_rate): new sessions start
// on the run's schedule whatever the service does, each on a connection of its own that
// closes when the session ends, at most max_sessions at once.
//
// Each engine thread runs one arrival loop over its share of the schedule (sessions
// first, first + stride, ...) with its share of the cap. The loop waits for a session's
// due time, then for a free slot, then starts it: sessions due while one waits queue
// behind it and start in the order they were due. A session's latency counts from when
// it was due and its first step is charged how late it started, so the wait for a slot
// and the connect are inside both (no coordinated omission). Sessions still waiting when the
// schedule's time is over or the run ends are counted as not sent. Every wait is cut short by the
// watchdog, as a connection's are: the loop's through its own slot, each session's through its own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/connection.hpp>
#include <wsload/detail/net/pacing.hpp>
#include <wsload/detail/net/session_connection.hpp>
#include <wsload/detail/net/session_driver.hpp>
#include <wsload/detail/net/state.hpp>

namespace wsload::detail {

/// The sessions in flight across the run's threads, the most there were, and how many
/// waited for a slot. Touched once per session, never per message.
struct SessionGauge {
  std::atomic<std::uint64_t> in_flight{0};
  std::atomic<std::uint64_t> peak{0};
  std::atomic<std::uint64_t> waited{0};

  void enter() noexcept {
    const auto now = in_flight.fetch_add(1, std::memory_order_relaxed) + 1;
    auto seen = peak.load(std::memory_order_relaxed);
    while (seen < now && !peak.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
    }
  }
  void leave() noexcept { in_flight.fetch_sub(1, std::memory_order_relaxed); }
};

/// What a thread's arrival loop and its sessions share.
struct ArrivalLane {
  ArrivalLane(const asio::any_io_executor& executor, std::size_t cap, SessionGauge& gauge)
      : cap(cap), gauge(gauge), freed(executor, Clock::time_point::max()) {}
  std::size_t cap;           ///< this thread's share of max_sessions
  std::size_t running = 0;   ///< its sessions in flight
  SessionGauge& gauge;       ///< the whole run's
  asio::steady_timer freed;  ///< cancelled whenever a session ends
};

/// One arrived session on a connection of its own: opened, run (timed from `due`),
/// counted as one request, closed.
template <class Stream>
asio::awaitable<void> run_arrived_session(RunContext& run, ThreadState& state,
                                          std::shared_ptr<ArrivalLane> lane, std::uint64_t index,
                                          Clock::time_point due) {
  struct Leave {
    ArrivalLane& lane;
    ~Leave() {
      --lane.running;
      lane.gauge.leave();
      lane.freed.cancel();
    }
  } leave{*lane};
  Cursor cursor{.next = 1, .counted = 0, .end = 1};
  ConnectionSlot slot;
  slot.cursor = &cursor;
  LiveGuard guard(state, slot);
  const auto executor = co_await asio::this_coro::executor;
  std::optional<Stream> ws;
  if (auto failure = co_await open_session_connection(run, state, slot, ws, executor)) {
    ++state.connections_failed;
    count_session_failure(run, state, SessionEnd{std::move(failure)});
    cursor.counted = 1;
    co_return;
  }
  ++state.connections_opened;
  SessionLink<Stream> link(*ws, run, state, slot, executor);
  asio::co_spawn(executor, read_session_frames(link), asio::detached);
  auto end = co_await run_one_session(run, state, slot, link, index, 0, due);
  const bool run_ending = slot.abort == Abort::run_deadline || slot.abort == Abort::interrupted ||
                          state.abort_all != Abort::none;
  count_session_failure(run, state, end);
  cursor.counted = 1;
  co_await close_session_connection(run, state, slot, link, end && run_ending);
}

/// Waits on the lane's `freed` timer until `at` or a session ends, cut short when the run
/// ends. False when it has.
inline asio::awaitable<bool> wait_on_lane(ThreadState& state, ConnectionSlot& slot,
                                          ArrivalLane& lane, Clock::time_point at) {
  if (state.abort_all == Abort::none && slot.abort == Abort::none) {
    lane.freed.expires_at(at);
    slot.timer = &lane.freed;
    boost::system::error_code ec;
    co_await lane.freed.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    slot.timer = nullptr;
  }
  if (state.abort_all != Abort::none && slot.abort == Abort::none) slot.abort = state.abort_all;
  co_return slot.abort == Abort::none;
}

/// A thread's arrival loop (see the top of this file): sessions `first`, `first + stride`,
/// ... of the run's schedule, at most `cap` of them at once. Ends when its last session has.
template <class Stream>
asio::awaitable<void> run_session_arrivals(RunContext& run, ThreadState& state, SessionGauge& gauge,
                                           std::uint64_t first, std::uint64_t stride,
                                           std::size_t cap) {
  ConnectionFinish finish{state};
  ConnectionSlot slot;  // the loop's own waits, which the watchdog cuts short
  slot.phase = Phase::wait;
  LiveGuard guard(state, slot);
  const auto executor = co_await asio::this_coro::executor;
  auto lane = std::make_shared<ArrivalLane>(executor, cap, gauge);
  const Schedule& schedule = *run.schedule;
  const auto due_of = [&](std::uint64_t k) { return run.start + to_clock(schedule.at(k)); };
  Clock::time_point waited_until{};  ///< when the loop last had a slot again
  bool time_over = false;            ///< the schedule's time, not the run's end, stopped it
  bool capped = false;               ///< it stopped while sessions waited for the cap
  std::uint64_t k = first;
  for (; k < schedule.total(); k += stride) {
    if (state.abort_all != Abort::none && slot.abort == Abort::none) slot.abort = state.abort_all;
    if (slot.abort != Abort::none) break;
    const auto due = due_of(k);
    if (due > Clock::now() && !co_await pause_until(state, slot, due)) break;
    // It waited for the cap when it came due while the loop waited for an earlier one.
    bool waited = due < waited_until;
    while (lane->running >= lane->cap && Clock::now() < run.send_until) {
      waited = true;
      if (!co_await wait_on_lane(state, slot, *lane, run.send_until)) break;
    }
    if (waited) waited_until = Clock::now();
    time_over = Clock::now() >= run.send_until;
    if (slot.abort != Abort::none || time_over) {
      capped = waited;
      break;
    }
    if (waited) gauge.waited.fetch_add(1, std::memory_order_relaxed);
    ++lane->running;
    gauge.enter();
    note_send(state, due, Clock::now());
    asio::co_spawn(executor, run_arrived_session<Stream>(run, state, lane, k, due), asio::detached);
  }
  // The rest of the schedule: what came due was never started, and waited for the cap if
  // the one the loop stopped at did (when the run is cut short, a session due within the
  // lateness a start is allowed was caught on its way, as settle_unsent has it); the
  // others never came due.
  const auto now = Clock::now();
  for (; k < schedule.total(); k += stride) {
    if (!time_over && due_of(k) + late_send > now) break;
    ++state.schedule_not_sent;
    if (capped) gauge.waited.fetch_add(1, std::memory_order_relaxed);
  }
  // Its sessions end by their own deadlines, or when the watchdog closes them.
  while (lane->running > 0) {
    lane->freed.expires_at(Clock::time_point::max());
    boost::system::error_code ignored;
    co_await lane->freed.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

/// Starts a thread's arrival loop on `ioc` (over TLS when `secure`).
inline void spawn_session_arrivals(asio::io_context& ioc, bool secure, RunContext& run,
                                   ThreadState& state, SessionGauge& gauge, std::uint64_t first,
                                   std::uint64_t stride, std::size_t cap) {
  if (secure) {
    asio::co_spawn(
        ioc,
        run_session_arrivals<websocket::stream<TlsSocket>>(run, state, gauge, first, stride, cap),
        asio::detached);
  } else {
    asio::co_spawn(
        ioc,
        run_session_arrivals<websocket::stream<PlainSocket>>(run, state, gauge, first, stride, cap),
        asio::detached);
  }
}

}  // namespace wsload::detail
