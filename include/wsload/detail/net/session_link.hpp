// A session connection's reader (session_driver.hpp): what it and the connection's
// session share, the frames it takes while the session waits, the session's handlers that
// answer some of them, and the yields that keep a session from starving its thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/frames.hpp>
#include <wsload/detail/net/state.hpp>
#include <wsload/session.hpp>

namespace wsload::detail {

/// A frame as the reader took it.
struct ArrivedFrame {
  std::string data;
  bool binary = false;
  Clock::time_point at;
  std::uint64_t reads = 0;  ///< the socket's reads when it was decoded
};

/// What a connection's reader and its session share. Lives until the reader has ended.
template <class Stream>
struct SessionLink {
  SessionLink(Stream& ws, const asio::any_io_executor& executor)
      : ws(ws), wake(executor, Clock::time_point::max()) {}
  Stream& ws;
  std::deque<ArrivedFrame> inbox;   ///< frames no handler took, for the next receive
  std::deque<std::string> answers;  ///< handlers' answers, sent by the session's side
  Session* session = nullptr;       ///< whose handlers answer; none between sessions
  bool reading = true;              ///< the reader has not ended
  std::uint64_t reads_at_read = 0;  ///< the socket's reads when the reader's read began
  std::uint64_t sessions = 0;       ///< sessions begun on this socket
  /// Sessions and operations since the loop last ran others: an operation may complete
  /// without waiting (a think of 0, a receive of a frame already in), so a session could
  /// otherwise starve the thread's watchdog, deadline and interrupt.
  std::uint32_t unyielded = 0;
  /// The variables the last session left: a connection's later sessions start with what
  /// its first captured (a login's token), as a scenario's `connect` list needs.
  Variables variables;
  /// The handlers' JSON pointers, found in each frame by one scan (no DOM per frame),
  /// made for the session's first `handlers_scanned` handlers (a handler replaced keeps
  /// its rule, so only a new one changes them).
  std::vector<JsonPath> handler_paths;
  std::optional<FrameScan> handler_scan;
  std::size_t handlers_scanned = 0;
  boost::system::error_code read_error;
  std::string handler_error;  ///< a handler threw: the session fails
  asio::steady_timer wake;    ///< cancelled whenever any of the above changes
};

/// Whether a handler of the link's session takes `frame` (queueing its answer).
template <class Stream>
bool answered_by_handler(SessionLink<Stream>& link, const ArrivedFrame& frame) {
  if (!link.session) return false;
  const auto& handlers = SessionAccess::handlers(*link.session);
  if (handlers.empty()) return false;
  if (!link.handler_scan || link.handlers_scanned != handlers.size()) {
    link.handler_scan.reset();
    link.handler_paths.clear();
    for (const auto& handler : handlers) {
      if (handler.when.needs_json()) link.handler_paths.push_back(handler.when.path());
    }
    link.handler_scan.emplace(link.handler_paths);
    link.handlers_scanned = handlers.size();
  }
  scan_frame(*link.handler_scan, frame.data, frame.binary);
  for (const auto& handler : handlers) {
    if (!handler.when.matches(frame.data, *link.handler_scan)) continue;
    try {
      if (auto answer = handler.answer(frame.data)) link.answers.push_back(std::move(*answer));
    } catch (const std::exception& e) {
      link.handler_error = std::string("a handler threw: ") + e.what();
    } catch (...) {
      link.handler_error = "a handler threw";
    }
    return true;
  }
  return false;
}

/// Reads every frame of the connection until it ends.
template <class Stream>
asio::awaitable<void> read_session_frames(SessionLink<Stream>& link) {
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (;;) {
    buffer.consume(buffer.size());
    link.reads_at_read = link.ws.next_layer().reads;
    co_await link.ws.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    ArrivedFrame frame{beast::buffers_to_string(buffer.data()), !link.ws.got_text(), Clock::now(),
                       link.ws.next_layer().reads};
    if (!answered_by_handler(link, frame)) link.inbox.push_back(std::move(frame));
    link.wake.cancel();
  }
  link.read_error = ec;
  link.reading = false;
  link.wake.cancel();
}

/// Whether it is time to let the thread's event loop run (see SessionLink::unyielded):
/// checked inline, as a coroutine called for nothing still allocates its frame.
template <class Stream>
bool yield_due(SessionLink<Stream>& link) noexcept {
  constexpr std::uint32_t per_yield = 64;
  if (++link.unyielded < per_yield) return false;
  link.unyielded = 0;
  return true;
}

/// Lets the thread's event loop run.
template <class Stream>
asio::awaitable<void> yield_to_loop(SessionLink<Stream>& link) {
  co_await asio::post(link.wake.get_executor(), asio::use_awaitable);
}

}  // namespace wsload::detail
