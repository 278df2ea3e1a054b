// The sequential loop: send a request, wait for its reply, then the next.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <wsload/config.hpp>
#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/connection.hpp>
#include <wsload/detail/net/direct_frames.hpp>
#include <wsload/detail/net/frames.hpp>
#include <wsload/detail/net/pacing.hpp>
#include <wsload/detail/net/state.hpp>
#include <wsload/message.hpp>

namespace wsload::detail {

/// The sequential loop's messages through Beast's stream (TLS, compression).
template <class Stream>
class BeastMessages {
 public:
  explicit BeastMessages(Stream& ws) : ws_(ws) {}

  asio::awaitable<std::string_view> read(boost::system::error_code& ec) {
    buffer_.consume(buffer_.size());
    co_await ws_.async_read(buffer_, asio::redirect_error(asio::use_awaitable, ec));
    co_return std::string_view(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  }
  bool got_binary() const { return ws_.got_binary(); }
  std::uint64_t reads() const { return ws_.next_layer().reads; }
  auto write(std::string_view body, boost::system::error_code& ec) {
    return ws_.async_write(asio::buffer(body), asio::redirect_error(asio::use_awaitable, ec));
  }
  asio::awaitable<void> close(ThreadState& state, ConnectionSlot& slot,
                              std::chrono::milliseconds timeout) {
    co_await close_counting_leftovers(state, slot, ws_, timeout);
  }
  const websocket::close_reason& reason() const { return ws_.reason(); }

 private:
  Stream& ws_;
  beast::flat_buffer buffer_;
};

/// Sends each request and waits for its reply before the next, through `messages`
/// (BeastMessages or DirectFrames). Returns the error that ended the connection before
/// every request was counted, if any.
template <class Messages>
asio::awaitable<boost::system::error_code> sequential_loop(RunContext& run, ThreadState& state,
                                                           ConnectionSlot& slot, Messages& messages,
                                                           std::uint64_t index, Cursor& cursor) {
  const LoadConfig& config = run.config;
  boost::system::error_code ec;
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
      co_await messages.write(config.keepalive, ec);
      ++state.keepalives;
      last_sent = Clock::now();
      co_return !ec;
    };
  }
  while (cursor.next < cursor.end) {
    Clock::time_point due;
    const bool is_due = run.schedule ? co_await wait_until_due(run, state, slot, cursor, index, due,
                                                               keepalive, last_sent)
                                     : due_at_once(run, cursor, due);
    if (!is_due) {
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
    if constexpr (requires { messages.write_now(body, ec); }) {
      if (!messages.write_now(body, ec)) co_await messages.flush(ec);
    } else {
      co_await messages.write(body, ec);
    }
    ++state.written;
    if (!ec) slot.phase = Phase::reply;
    const auto reads_at_send = messages.reads();
    FrameVerdict verdict = FrameVerdict::more;
    while (!ec && verdict == FrameVerdict::more) {
      std::string_view frame;
      if constexpr (requires { messages.parse(frame, ec); }) {
        // Inline rather than a coroutine of its own: a coroutine frame per message costs
        // a malloc and a free (asio recycles only one frame per thread).
        using Parsed = typename Messages::Parsed;
        for (auto parsed = messages.parse(frame, ec); parsed != Parsed::message;
             parsed = messages.parse(frame, ec)) {
          if (parsed == Parsed::failed) break;
          if (parsed == Parsed::reply) {
            boost::system::error_code write_error;
            co_await messages.flush(write_error);
          } else {
            const auto n = co_await messages.fill(ec);
            if (ec) break;
            messages.filled(n);
          }
        }
      } else {
        frame = co_await messages.read(ec);
      }
      if (ec) break;
      if (reply.frames == 0 && messages.reads() == reads_at_send) {
        // Decoded from bytes read before the request was sent: an earlier reply's frame
        // that its completion rule left, never this request's answer.
        ++state.unconsumed_before_request;
        continue;
      }
      scan_frame(scanned, frame, messages.got_binary());
      verdict = judge_frame(run, state, reply, frame, scanned, Clock::now());
    }
    if (ec) co_return ec;
    gaps = std::move(reply.gaps);
    ++cursor.counted;
  }
  // Every request is counted by now; a slow or failed close costs nothing but time.
  co_await messages.close(state, slot, config.timeouts.close);
  co_return boost::system::error_code{};
}

/// The sequential loop on `ws`: its frames read and written directly on a plain connection
/// whose upgrade left them in the socket (direct_frames.hpp), through Beast otherwise.
/// `peer_close` gets the server's close frame, if it sent one.
template <class Stream>
asio::awaitable<boost::system::error_code> run_sequential(RunContext& run, ThreadState& state,
                                                          ConnectionSlot& slot, Stream& ws,
                                                          std::uint64_t index, Cursor& cursor,
                                                          websocket::close_reason& peer_close) {
  if constexpr (std::is_same_v<Stream, websocket::stream<PlainSocket>>) {
    if (ws.next_layer().stopped_at_header() && !slot.compressed) {
      DirectFrames<PlainSocket> frames(ws.next_layer(), run, state.random);
      frames.take_arrived();
      const auto ec = co_await sequential_loop(run, state, slot, frames, index, cursor);
      peer_close = frames.reason();
      co_return ec;
    }
  }
  BeastMessages<Stream> messages(ws);
  const auto ec = co_await sequential_loop(run, state, slot, messages, index, cursor);
  peer_close = messages.reason();
  co_return ec;
}

}  // namespace wsload::detail
