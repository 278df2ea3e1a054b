// A scripted session's connection: opened for its sessions, and closed with its reader
// drained. Both session loops use it: a connection's sessions one after another
// (session_driver.hpp) and sessions arriving each on a connection of its own
// (session_arrivals.hpp).
#pragma once

#include <chrono>
#include <optional>

#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/classify.hpp>
#include <wsload/detail/net/connection.hpp>
#include <wsload/detail/net/session_link.hpp>
#include <wsload/detail/net/state.hpp>

namespace wsload::detail {

/// The closing handshake of a session connection: its reader drains the frames the close
/// meets (counted as consumed by no request), bounded by `timeout`.
template <class Stream>
asio::awaitable<void> close_session_link(SessionLink<Stream>& link, ConnectionSlot& slot,
                                         ThreadState& state, std::chrono::milliseconds timeout) {
  boost::system::error_code ec;
  auto use = asio::redirect_error(asio::use_awaitable, ec);
  state.unconsumed_before_request += link.inbox.size();  // left by the last session
  link.inbox.clear();
  if (!link.reading) co_return;  // the connection is gone already
  slot.arm(Phase::close, Clock::now(), timeout);
  co_await send_close(link, ec);
  while (link.reading) {
    link.wake.expires_at(Clock::time_point::max());
    co_await link.wake.async_wait(use);
  }
  state.unconsumed_at_close += link.inbox.size();
  link.inbox.clear();
  if (slot.abort != Abort::none) ++state.close_timeouts;
}

/// Opens a session connection into `ws`: the failure when it could not (its socket
/// closed), else open, counted in `open_now` until close_session_connection.
template <class Stream>
asio::awaitable<std::optional<Failure>> open_session_connection(
    RunContext& run, ThreadState& state, ConnectionSlot& slot, std::optional<Stream>& ws,
    const asio::any_io_executor& executor) {
  emplace_stream(ws, executor, run);
  slot.socket = &beast::get_lowest_layer(*ws);
  if (auto failure = co_await open_connection(run, slot, *ws)) {
    boost::system::error_code ignored;
    slot.socket->close(ignored);
    slot.socket = nullptr;
    co_return failure;
  }
  slot.phase = Phase::wait;  // the open's deadline is no session's
  slot.deadline = Clock::time_point::max();
  state.last_open = Clock::now();
  ++state.open_now;
  co_return std::nullopt;
}

/// Ends a session connection: its closing handshake unless the run `abandoned` it, then
/// the socket closed and its reader ended.
template <class Stream>
asio::awaitable<void> close_session_connection(RunContext& run, ThreadState& state,
                                               ConnectionSlot& slot, SessionLink<Stream>& link,
                                               bool abandoned) {
  if (!abandoned) co_await close_session_link(link, slot, state, run.config.timeouts.close);
  boost::system::error_code ignored;
  slot.socket->close(ignored);
  while (link.reading) {  // the close above ends the read at once
    link.wake.expires_at(Clock::time_point::max());
    co_await link.wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  slot.socket = nullptr;
  --state.open_now;
}

}  // namespace wsload::detail
