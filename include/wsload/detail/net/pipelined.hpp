// The pipelined loop: up to `in_flight` requests outstanding on a connection, replies
// matched to them by the correlation id, each request timed out on its own.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include <wsload/config.hpp>
#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/frames.hpp>
#include <wsload/detail/net/pacing.hpp>
#include <wsload/detail/net/state.hpp>
#include <wsload/errors.hpp>
#include <wsload/message.hpp>

namespace wsload::detail {

/// What the writer and the reader of a pipelined connection share. Lives in the
/// writer's frame, which waits for the reader before it ends.
struct Pipeline {
  Pipeline(const asio::any_io_executor& executor, std::uint64_t& counted)
      : room(executor), reader_done(executor), counted(counted) {}

  InFlight in_flight;
  asio::steady_timer room;         ///< the writer waits here for a free slot
  asio::steady_timer reader_done;  ///< and here for the reader to end
  bool reading = true;
  boost::system::error_code read_error;
  std::uint64_t& counted;
  /// A write still blocked at this time means the peer has stopped reading.
  Clock::time_point write_deadline = Clock::time_point::max();

  /// Fails the requests past their deadline at `now`, moves the connection's deadline
  /// to the next one, and wakes the writer.
  void expire(Clock::time_point now, ThreadState& state, ConnectionSlot& slot) {
    if (now >= write_deadline) {
      // Nothing can be sent after a write that cannot finish: the connection is lost.
      slot.phase = Phase::send;
      slot.close(Abort::timeout);
      return;
    }
    Clock::time_point next;
    counted += in_flight.expire(now, state, next);
    slot.deadline = std::min(write_deadline, next);
    room.cancel();
  }
};

template <class Stream>
asio::awaitable<void> read_pipelined(RunContext& run, ThreadState& state, ConnectionSlot& slot,
                                     Stream& ws, Pipeline& p) {
  beast::flat_buffer buffer;
  FrameScan scanned(run.frame_paths);
  for (;;) {
    co_await ws.async_read(buffer, asio::redirect_error(asio::use_awaitable, p.read_error));
    if (p.read_error) break;
    const std::string_view frame(static_cast<const char*>(buffer.data().data()), buffer.size());
    if (p.in_flight.take(run, state, frame, ws.got_binary(), scanned, Clock::now())) {
      ++p.counted;
      p.expire(Clock::time_point::min(), state, slot);  // the next deadline; wake the writer
    }
    buffer.consume(buffer.size());
  }
  p.reading = false;
  p.room.cancel();
  p.reader_done.cancel();
}

/// Sends requests without waiting for replies, up to `in_flight` outstanding, and
/// matches reply frames to requests by the correlation id. A request past its reply
/// timeout fails alone; a frame for it that comes later is counted as late, a frame
/// with an unknown id as unmatched, and neither is timed. Returns the error that ended
/// the connection before every request was counted, if any.
template <class Stream>
asio::awaitable<boost::system::error_code> run_pipelined(RunContext& run, ThreadState& state,
                                                         ConnectionSlot& slot, Stream& ws,
                                                         std::uint64_t index, Cursor& cursor) {
  const LoadConfig& config = run.config;
  Pipeline p(co_await asio::this_coro::executor, cursor.counted);
  slot.phase = Phase::reply;
  slot.deadline = Clock::time_point::max();
  slot.expire = [&p, &state, &slot](Clock::time_point now) { p.expire(now, state, slot); };
  asio::co_spawn(ws.get_executor(), read_pipelined(run, state, slot, ws, p), asio::detached);

  boost::system::error_code ec;
  auto use = asio::redirect_error(asio::use_awaitable, ec);
  auto wait = [&](asio::steady_timer& t) {
    t.expires_at(Clock::time_point::max());
    return t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  };
  std::string message;
  std::string id_source;
  FrameScan sent({&*run.correlation_path, 1});
  auto last_sent = Clock::now();
  KeepaliveSender keepalive;
  if (run.schedule && !config.keepalive.empty()) {
    keepalive = [&]() -> asio::awaitable<bool> {
      p.write_deadline = Clock::now() + config.timeouts.reply;
      slot.deadline = std::min(slot.deadline, p.write_deadline);
      co_await ws.async_write(asio::buffer(config.keepalive), use);
      p.write_deadline = Clock::time_point::max();
      ++state.keepalives;
      last_sent = Clock::now();
      co_return !ec;
    };
  }
  while (cursor.next < cursor.end && p.reading && !ec) {
    while (p.reading && p.in_flight.pending.size() >= config.in_flight) {
      co_await wait(p.room);
      ec = {};
    }
    if (!p.reading) break;
    Clock::time_point due;
    const bool is_due = run.schedule ? co_await wait_until_due(run, state, slot, cursor, index, due,
                                                               keepalive, last_sent)
                                     : due_at_once(run, cursor, due);
    if (!is_due) {
      if (!ec && slot.abort != Abort::none) ec = asio::error::operation_aborted;
      break;
    }
    if (!p.reading) break;
    const auto& prompt = config.prompts[cursor.next % config.prompts.size()];
    std::string uuid;
    const auto sequence = cursor.next++;
    const auto body = render_message(run, state, message, prompt, index, sequence, &uuid);
    const std::string id = request_id(run, body, index, sequence, uuid, id_source, sent);
    if (p.in_flight.pending.count(id)) {
      state.count_failed(ErrorKind::protocol, repeated_id(run), 1);
      ++cursor.counted;
      continue;
    }
    const auto now = Clock::now();
    if (run.schedule) note_send(state, due, now);
    p.in_flight.pending[id] = {{now, run.schedule ? due : now}, now + config.timeouts.reply};
    slot.phase = Phase::reply;
    p.write_deadline = now + config.timeouts.reply;
    slot.deadline = std::min(slot.deadline, p.write_deadline);
    co_await ws.async_write(asio::buffer(body), use);
    ++state.written;
    p.write_deadline = Clock::time_point::max();
    last_sent = now;
  }
  const auto write_error = ec;
  while (p.reading && !write_error && !p.in_flight.pending.empty()) {
    co_await wait(p.room);
  }
  slot.expire = nullptr;
  if (p.reading && write_error) {
    // Nothing more can be sent, and the failure is the send's: no closing handshake,
    // whose phase would take the blame; closing the socket ends the reader's read.
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws).close(ignored);
    while (p.reading) co_await wait(p.reader_done);
  } else if (p.reading) {
    // Everything is answered: a close ends the reader's read.
    slot.arm(Phase::close, Clock::now(), config.timeouts.close);
    co_await ws.async_close(websocket::close_code::normal, use);
    while (p.reading) co_await wait(p.reader_done);
    if (slot.abort != Abort::none) ++state.close_timeouts;
  }
  if (cursor.counted == cursor.end) co_return boost::system::error_code{};
  co_return write_error ? write_error : p.read_error;
}

}  // namespace wsload::detail
