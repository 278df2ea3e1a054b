// A session connection's reader (session_driver.hpp): what it and the connection's
// session share, the frames it takes while the session waits, the session's handlers that
// answer some of them, the writes of both, and the yields that keep a session from
// starving its thread.
//
// On a plain, uncompressed connection both read and write its frames on the socket itself
// (direct_frames.hpp), as the sequential prompt loop does: Beast's per-message machinery
// was most of a session step's user CPU. TLS and permessage-deflate go through Beast.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/direct_frames.hpp>
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

/// A session connection's frames on its socket (see the top of this file).
struct DirectSessionFrames {
  DirectSessionFrames(PlainSocket& socket, const RunContext& run, std::mt19937_64& random)
      : frames(socket, run, random), out(socket, run.write_buffer_bytes, random) {}
  DirectFrames<PlainSocket> frames;  ///< the reader's, with its answers to control frames
  FrameEncoder<PlainSocket> out;     ///< the session's messages and its close
  bool writing = false;              ///< a write is under way: the others wait their turn
  bool waiting = false;              ///< the other side waits for the turn, handed to it next
  bool out_left = false;             ///< the session's message is partly sent, and holds the turn
};

/// What a connection's reader and its session share. Lives until the reader has ended.
template <class Stream>
struct SessionLink {
  SessionLink(Stream& ws, const RunContext& run, ThreadState& state, const ConnectionSlot& slot,
              const asio::any_io_executor& executor)
      : ws(ws),
        // No read is pending until the reader starts (at the session's first wait): frames
        // from the upgrade's reads precede any send.
        reads_at_read(ws.next_layer().reads),
        wake(executor, Clock::time_point::max()),
        write_turn(executor, Clock::time_point::max()) {
    if constexpr (std::is_same_v<Stream, websocket::stream<PlainSocket>>) {
      if (ws.next_layer().stopped_at_header() && !slot.compressed) {
        direct.emplace(ws.next_layer(), run, state.random);
        direct->frames.take_arrived();
      }
    }
  }
  /// The socket's reads so far (see ArrivedFrame::reads).
  std::uint64_t reads() const noexcept { return ws.next_layer().reads; }
  /// Whether the connection still carries the session's messages: its reader has neither
  /// ended nor met the server's close or a failure (whose teardown it awaits, as Beast's
  /// read does holding its writes back).
  bool open() const noexcept { return reading && !(direct && direct->frames.failed()); }
  /// The server's close frame, when it sent one.
  const websocket::close_reason& reason() const noexcept {
    return direct ? direct->frames.reason() : ws.reason();
  }

  Stream& ws;
  std::optional<DirectSessionFrames> direct;  ///< when the frames are read and written directly
  /// The socket's reads when the reader's read began, or when it ended (none pending).
  std::uint64_t reads_at_read;
  std::deque<ArrivedFrame> inbox;   ///< frames no handler took, for the next receive
  std::deque<std::string> answers;  ///< handlers' answers, sent by the session's side
  Session* session = nullptr;       ///< whose handlers answer; none between sessions
  bool reading = true;              ///< the reader has not ended

  std::uint64_t sessions = 0;  ///< sessions begun on this socket
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
  std::string handler_error;      ///< a handler threw: the session fails
  asio::steady_timer wake;        ///< cancelled whenever any of the above changes
  asio::steady_timer write_turn;  ///< cancelled when a direct write ends
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

/// Takes a frame the reader decoded: a handler's, or the session's next receive's.
template <class Stream>
void take_frame(SessionLink<Stream>& link, ArrivedFrame frame) {
  if (!answered_by_handler(link, frame)) link.inbox.push_back(std::move(frame));
  link.wake.cancel();
}

/// Waits until no other direct write is under way, then holds the turn. Only the reader
/// and the session write, so at most one waits; it gets the turn before anyone else can
/// take it (a pong or a close echo is not overtaken by the session's next messages).
template <class Stream>
asio::awaitable<void> take_write_turn(SessionLink<Stream>& link) {
  auto& direct = *link.direct;
  if (!direct.writing) {
    direct.writing = true;
    co_return;
  }
  direct.waiting = true;
  boost::system::error_code ignored;
  while (direct.waiting) {
    link.write_turn.expires_at(Clock::time_point::max());
    co_await link.write_turn.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

/// Ends a turn, handing it to the side waiting, if any.
template <class Stream>
void release_write_turn(SessionLink<Stream>& link) {
  auto& direct = *link.direct;
  if (direct.waiting) {
    direct.waiting = false;  // `writing` stays: the turn is the waiter's
    link.write_turn.cancel();
  } else {
    direct.writing = false;
  }
}

/// Sends a session's message without waiting when the socket takes it at once (see
/// FrameEncoder::send_now): true when it is sent or the send failed (`ec`), false when
/// send_message() must.
template <class Stream>
bool send_message_now(SessionLink<Stream>& link, std::string_view payload, bool binary,
                      boost::system::error_code& ec) {
  if (!link.direct || link.direct->writing) return false;
  link.direct->out.encode(payload, binary);
  if (link.direct->out.send_now(ec)) return true;
  link.direct->writing = link.direct->out_left = true;
  return false;
}

/// Sends a session's message, or what send_message_now() left of it. Fails with
/// websocket::error::closed when the connection ended while it waited its turn.
template <class Stream>
asio::awaitable<void> send_message(SessionLink<Stream>& link, std::string_view payload, bool binary,
                                   boost::system::error_code& ec) {
  auto use = asio::redirect_error(asio::use_awaitable, ec);
  if (!link.direct) {
    link.ws.text(!binary);
    co_await link.ws.async_write(asio::buffer(payload.data(), payload.size()), use);
    co_return;
  }
  auto& direct = *link.direct;
  if (!std::exchange(direct.out_left, false)) {
    co_await take_write_turn(link);
    if (direct.frames.failed()) {
      release_write_turn(link);
      ec = websocket::error::closed;
      co_return;
    }
    direct.out.encode(payload, binary);
  }
  co_await direct.out.flush(ec);
  release_write_turn(link);
}

/// Sends the session's close (1000), unless one was sent already; the reader ends when
/// the server's close and the end of its stream have come.
template <class Stream>
asio::awaitable<void> send_close(SessionLink<Stream>& link, boost::system::error_code& ec) {
  if (!link.direct) {
    co_await link.ws.async_close(websocket::close_code::normal,
                                 asio::redirect_error(asio::use_awaitable, ec));
    co_return;
  }
  // The turn first: the reader, when it meets the server's close or a failure, sends the
  // close itself unless one is sent, then holds the turn for the teardown.
  co_await take_write_turn(link);
  if (!link.direct->frames.begin_close()) {
    release_write_turn(link);
    co_return;
  }
  link.direct->out.encode_control(8, std::string_view("\x03\xe8", 2));
  co_await link.direct->out.flush(ec);
  release_write_turn(link);
}

/// The reader of a direct link: as Beast's, its pings answered, a close echoed and, once
/// the connection has failed or closed, the end of the TCP stream awaited as Beast's
/// teardown does (bounded by the close timeout, see teardown.hpp).
template <class Stream>
asio::awaitable<void> read_direct_session_frames(SessionLink<Stream>& link) {
  using Parsed = DirectFrames<PlainSocket>::Parsed;
  auto& direct = *link.direct;
  boost::system::error_code ec;
  std::string_view message;
  for (;;) {
    const auto parsed = direct.frames.parse(message, ec);
    if (parsed == Parsed::message) {
      take_frame(link, ArrivedFrame{std::string(message), direct.frames.got_binary(), Clock::now(),
                                    link.reads()});
    } else if (parsed == Parsed::failed) {
      link.ws.next_layer().notify_teardown();
      co_await take_write_turn(link);  // a close being sent is sent whole before the shutdown
      co_await direct.frames.drain_to_end();
      release_write_turn(link);
      break;
    } else if (parsed == Parsed::reply) {
      boost::system::error_code write_error;
      if (direct.writing || !direct.frames.flush_now(write_error)) {
        if (direct.writing) {
          co_await take_write_turn(link);
        } else {
          direct.writing = true;  // the rest of what flush_now() began
        }
        co_await direct.frames.flush(write_error);
        release_write_turn(link);
      }
      if (write_error && !direct.frames.failed()) {
        ec = write_error;
        break;
      }
    } else {
      link.reads_at_read = link.reads();
      const auto n = co_await direct.frames.fill(ec);
      if (ec) break;
      direct.frames.filled(n);
      link.reads_at_read = link.reads();  // none pending: the bytes read came before now
    }
  }
  link.read_error = ec;
  link.reading = false;
  link.wake.cancel();
}

/// Reads every frame of the connection until it ends.
template <class Stream>
asio::awaitable<void> read_session_frames(SessionLink<Stream>& link) {
  if (link.direct) {
    co_await read_direct_session_frames(link);
    co_return;
  }
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (;;) {
    buffer.consume(buffer.size());
    link.reads_at_read = link.reads();
    co_await link.ws.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    take_frame(link, ArrivedFrame{beast::buffers_to_string(buffer.data()), !link.ws.got_text(),
                                  Clock::now(), link.reads()});
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
