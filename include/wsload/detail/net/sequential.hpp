// The sequential loop: send a request, wait for its reply, then the next.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <wsload/config.hpp>
#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/connection.hpp>
#include <wsload/detail/net/frames.hpp>
#include <wsload/detail/net/pacing.hpp>
#include <wsload/detail/net/state.hpp>
#include <wsload/message.hpp>

namespace wsload::detail {

/// Sends each request and waits for its reply before the next. Returns the error that
/// ended the connection before every request was counted, if any.
template <class Stream>
asio::awaitable<boost::system::error_code> run_sequential(RunContext& run, ThreadState& state,
                                                          ConnectionSlot& slot, Stream& ws,
                                                          std::uint64_t index, Cursor& cursor) {
  const LoadConfig& config = run.config;
  boost::system::error_code ec;
  auto use = asio::redirect_error(asio::use_awaitable, ec);
  beast::flat_buffer buffer;
  // Without a JSON rule no frame is scanned (an error rule's "message" is not read).
  FrameScan scanned(run.parse_frames ? std::span<const JsonPath>(run.frame_paths)
                                     : std::span<const JsonPath>());
  std::string message;
  std::vector<std::int64_t> gaps;  // each reply's, kept so a streamed reply allocates once
  auto last_sent = Clock::now();
  KeepaliveSender keepalive;
  if (run.schedule && !config.keepalive.empty()) {
    keepalive = [&]() -> asio::awaitable<bool> {
      slot.arm(Phase::send, Clock::now(), config.timeouts.reply);
      co_await ws.async_write(asio::buffer(config.keepalive), use);
      ++state.keepalives;
      last_sent = Clock::now();
      co_return !ec;
    };
  }
  while (cursor.next < cursor.end) {
    Clock::time_point due;
    if (!co_await wait_until_due(run, state, slot, cursor, index, due, keepalive, last_sent)) {
      if (ec) co_return ec;  // a keepalive could not be sent
      if (slot.abort != Abort::none) co_return asio::error::operation_aborted;
      break;
    }
    const auto& prompt = config.prompts[cursor.next % config.prompts.size()];
    const auto body = render_message(run, state, message, prompt, index, cursor.next++);
    ReplyProgress reply{Clock::now(), {}};
    reply.gaps = std::move(gaps);
    reply.gaps.clear();
    reply.due = run.schedule ? due : reply.sent_at;
    if (run.schedule) note_send(state, due, reply.sent_at);
    slot.arm(Phase::send, reply.sent_at, config.timeouts.reply);
    last_sent = reply.sent_at;
    co_await ws.async_write(asio::buffer(body), use);
    ++state.written;
    if (!ec) slot.phase = Phase::reply;
    const auto reads_at_send = ws.next_layer().reads;
    FrameVerdict verdict = FrameVerdict::more;
    while (!ec && verdict == FrameVerdict::more) {
      buffer.consume(buffer.size());
      co_await ws.async_read(buffer, use);
      if (ec) break;
      if (reply.frames == 0 && ws.next_layer().reads == reads_at_send) {
        // Decoded from bytes read before the request was sent: an earlier reply's frame
        // that its completion rule left, never this request's answer.
        ++state.unconsumed_before_request;
        continue;
      }
      const std::string_view frame(static_cast<const char*>(buffer.data().data()), buffer.size());
      scan_frame(scanned, frame, ws.got_binary());
      verdict = judge_frame(run, state, reply, frame, scanned, Clock::now());
    }
    if (ec) co_return ec;
    gaps = std::move(reply.gaps);
    ++cursor.counted;
  }
  // Every request is counted by now; a slow or failed close costs nothing but time.
  co_await close_counting_leftovers(state, slot, ws, config.timeouts.close);
  co_return boost::system::error_code{};
}

}  // namespace wsload::detail
