// The prompt loop's frames on a plain, uncompressed connection, read and written on the
// TCP socket itself once Beast has done the upgrade. In a profile of the default closed
// loop, Beast's per-message machinery (composed operations, the executors and shared
// state each one carries) cost more user CPU than the rest of the loop together; this
// codec does what a client must (RFC 6455 5): mask what it sends, fragment as Beast
// would, reassemble, answer pings, echo a close, and refuse what a server may not send,
// with Beast's error codes and close codes so that failures classify as before.
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/socket.h>

#include <wsload/config_sources.hpp>
#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/state.hpp>

namespace wsload::detail {

/// A client's outgoing frames, masked (RFC 6455 5.3), and the sending of them on `Socket`.
template <class Socket>
class FrameEncoder {
 public:
  FrameEncoder(Socket& socket, std::size_t fragment, std::mt19937_64& random)
      : socket_(socket), fragment_(std::max<std::size_t>(fragment, 1)), random_(random) {}

  /// The frames of one message in place of what was there, in frames of at most the
  /// fragment size (API Gateway takes frames of at most 32 KB).
  void encode(std::string_view payload, bool binary) {
    out_.clear();
    out_sent_ = 0;
    unsigned opcode = binary ? 2 : 1;
    do {
      const auto part = payload.substr(0, fragment_);
      payload.remove_prefix(part.size());
      append_frame(opcode, part, payload.empty());
      opcode = 0;
    } while (!payload.empty());
  }

  /// One control frame in place of what was there.
  void encode_control(unsigned opcode, std::string_view payload) {
    out_.clear();
    out_sent_ = 0;
    append_frame(opcode, payload, true);
  }

  /// Sends what is left without waiting: an asynchronous write that completes at once
  /// still costs a pass through the event loop. True when all is sent or the send failed
  /// (`ec`); false when flush() must send the rest.
  bool send_now(boost::system::error_code& ec) {
    ec.clear();
    const auto left = out_.size() - out_sent_;
    const auto n =
        ::send(socket_.native_handle(), out_.data() + out_sent_, left, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0 && static_cast<std::size_t>(n) == left) {
      out_sent_ = out_.size();
      return true;
    }
    if (n >= 0) {
      out_sent_ += static_cast<std::size_t>(n);
      return false;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
    ec.assign(errno, boost::system::system_category());
    return true;
  }

  /// Sends what is left (an awaitable).
  auto flush(boost::system::error_code& ec) {
    const auto from = std::exchange(out_sent_, out_.size());
    return asio::async_write(socket_, asio::buffer(out_.data() + from, out_.size() - from),
                             asio::redirect_error(asio::use_awaitable, ec));
  }

 private:
  void append_frame(unsigned opcode, std::string_view payload, bool fin) {
    unsigned char header[14];
    std::size_t at = 0;
    header[at++] = static_cast<unsigned char>((fin ? 0x80 : 0) | opcode);
    const std::uint64_t length = payload.size();
    if (length < 126) {
      header[at++] = static_cast<unsigned char>(0x80 | length);
    } else if (length < 65536) {
      header[at++] = 0x80 | 126;
      header[at++] = static_cast<unsigned char>(length >> 8);
      header[at++] = static_cast<unsigned char>(length);
    } else {
      header[at++] = 0x80 | 127;
      for (int shift = 56; shift >= 0; shift -= 8) {
        header[at++] = static_cast<unsigned char>(length >> shift);
      }
    }
    const auto key = static_cast<std::uint32_t>(random_());
    std::memcpy(header + at, &key, 4);
    unsigned char mask[4];
    std::memcpy(mask, &key, 4);
    at += 4;
    out_.append(reinterpret_cast<const char*>(header), at);
    const std::size_t start = out_.size();
    out_.append(payload);
    char* data = out_.data() + start;
    std::size_t i = 0;
    std::uint64_t mask8;
    for (int k = 0; k < 8; ++k) reinterpret_cast<unsigned char*>(&mask8)[k] = mask[k % 4];
    for (; i + 8 <= payload.size(); i += 8) {
      std::uint64_t word;
      std::memcpy(&word, data + i, 8);
      word ^= mask8;
      std::memcpy(data + i, &word, 8);
    }
    for (; i < payload.size(); ++i) data[i] = static_cast<char>(data[i] ^ mask[i % 4]);
  }

  Socket& socket_;
  std::size_t fragment_;
  std::mt19937_64& random_;
  std::string out_;
  std::size_t out_sent_ = 0;  ///< of out_
};

/// A WebSocket client's frames over `Socket` after the upgrade (see the top of this file).
/// Its own writes and reads take turns: the sequential loop never does both at once, and a
/// session's reader (session_link.hpp) writes a session's messages beside it in turns.
template <class Socket>
class DirectFrames {
 public:
  DirectFrames(Socket& socket, const RunContext& run, std::mt19937_64& random)
      : socket_(socket),
        max_message_(run.config.max_message_size),
        binary_out_(run.config.binary),
        out_(socket, run.write_buffer_bytes, random) {}

  /// What parse() found in the buffer.
  enum class Parsed {
    message,     ///< a whole message, valid until the next parse or write
    need_bytes,  ///< fill() first
    reply,       ///< flush() the answer to a control frame (or the close a failure sends)
    failed,      ///< the connection is over: `ec` says why
  };

  /// The next message in the buffer, a ping answered, a close echoed on the way (see
  /// Parsed). Once failed, stays failed.
  Parsed parse(std::string_view& message, boost::system::error_code& ec) {
    const auto parsed = failure_ ? Parsed::failed : parse_frames(message);
    if (parsed == Parsed::failed) ec = failure_;
    return parsed;
  }

  /// Takes into the buffer what has already arrived, without waiting: frames a server sent
  /// with its 101, which Beast would have read with it, are then known to precede the
  /// first request.
  void take_arrived() {
    make_room(end_ - begin_ + minimum_free);
    const auto n =
        ::recv(socket_.native_handle(), in_.data() + end_, in_.size() - end_, MSG_DONTWAIT);
    if (n > 0) end_ += static_cast<std::size_t>(n);
  }

  /// Reads more of the stream into the buffer (an awaitable of the bytes read).
  auto fill(boost::system::error_code& ec) {
    if (begin_ == end_) begin_ = end_ = 0;
    // Toward the frame's declared length by doubling, never at once: the buffer grows with
    // the bytes that came, not with what a header claims.
    make_room(std::max(std::min(needed_, 2 * in_.size()), end_ - begin_ + minimum_free));
    needed_ = 0;
    return socket_.async_read_some(asio::buffer(in_.data() + end_, in_.size() - end_),
                                   asio::redirect_error(asio::use_awaitable, ec));
  }
  /// Records what fill() read.
  void filled(std::size_t bytes) noexcept { end_ += bytes; }

  /// Sends what parse() prepared as a reply, or what write_now() left (an awaitable).
  auto flush(boost::system::error_code& ec) { return out_.flush(ec); }

  /// flush() without waiting when the socket takes it all (see FrameEncoder::send_now).
  bool flush_now(boost::system::error_code& ec) { return out_.send_now(ec); }

  /// The next whole message, its pings answered (see parse).
  asio::awaitable<std::string_view> read(boost::system::error_code& ec) {
    std::string_view message;
    for (;;) {
      switch (parse(message, ec)) {
        case Parsed::message:
          co_return message;
        case Parsed::failed:
          co_return std::string_view();
        case Parsed::reply: {
          boost::system::error_code write_error;
          co_await flush(write_error);
          if (write_error && !failure_) {
            ec = write_error;
            co_return std::string_view();
          }
          break;
        }
        case Parsed::need_bytes: {
          const auto n = co_await fill(ec);
          if (ec) co_return std::string_view();
          filled(n);
          break;
        }
      }
    }
  }

  /// Whether the connection is over (parse() fails from now on).
  bool failed() const noexcept { return bool(failure_); }

  /// Whether the last message read was binary.
  bool got_binary() const noexcept { return binary_in_; }

  /// Sends `payload` as one message, text or binary as the run says, in frames of at most
  /// the run's fragment size (API Gateway takes frames of at most 32 KB); an awaitable.
  auto write(std::string_view payload, boost::system::error_code& ec) {
    out_.encode(payload, binary_out_);
    return flush(ec);
  }

  /// write() without waiting when the socket takes the whole message at once, as it does
  /// a request of usual size: an asynchronous write that completes at once still costs a
  /// pass through the event loop, the largest user CPU of a round trip after the read's.
  /// True when the message is sent or the send failed (`ec`); false when flush() must
  /// send the rest.
  bool write_now(std::string_view payload, boost::system::error_code& ec) {
    out_.encode(payload, binary_out_);
    return out_.send_now(ec);
  }

  /// Takes the close as sent by a writer of the caller's own: false when one was sent
  /// already (a close echoed, a failure's), and none must follow.
  bool begin_close() noexcept { return !std::exchange(closed_, true); }

  /// The closing handshake, bounded by `timeout`: a close sent, then reads until the
  /// server's close (its data messages counted as consumed by no request) and the end of
  /// the stream, as a client tears down (RFC 6455 7.1.1). A close cut short is counted,
  /// and is no failure of any request.
  asio::awaitable<void> close(ThreadState& state, ConnectionSlot& slot,
                              std::chrono::milliseconds timeout) {
    slot.arm(Phase::close, Clock::now(), timeout);
    boost::system::error_code ec;
    if (!closed_) {
      closed_ = true;
      out_.encode_control(8, std::string_view("\x03\xe8", 2));  // 1000, normal
      co_await flush(ec);
      while (!ec) {
        co_await read(ec);
        if (!ec) ++state.unconsumed_at_close;
      }
    }
    if (!ec || ec == websocket::error::closed) co_await drain_to_end();
    if (slot.abort != Abort::none) ++state.close_timeouts;
  }

  /// The client's end of the TCP connection after the closing handshake: its sending side
  /// shut, then reads until the server closes its own (RFC 6455 7.1.1).
  asio::awaitable<void> drain_to_end() {
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    char sink[512];
    while (!ec) {
      co_await socket_.async_read_some(asio::buffer(sink),
                                       asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  /// The socket's reads so far (a frame decoded with none since a send was in the buffer
  /// before it).
  std::uint64_t reads() const noexcept { return socket_.reads; }

  /// The server's close frame, when it sent one.
  const websocket::close_reason& reason() const noexcept { return reason_; }

 private:
  /// The frames in the buffer, up to the next message or what stops the reading.
  Parsed parse_frames(std::string_view& message) {
    for (;;) {
      const std::size_t have = end_ - begin_;
      if (have < 2) return Parsed::need_bytes;
      const auto* p = reinterpret_cast<const unsigned char*>(in_.data() + begin_);
      const bool fin = (p[0] & 0x80) != 0;
      const unsigned opcode = p[0] & 0x0f;
      const unsigned short_length = p[1] & 0x7f;
      const std::size_t header = 2 + (short_length == 126 ? 2 : short_length == 127 ? 8 : 0);
      if ((p[0] & 0x70) != 0) return fail(websocket::error::bad_reserved_bits);
      if ((p[1] & 0x80) != 0) return fail(websocket::error::bad_masked_frame);
      if (have < header) return Parsed::need_bytes;
      std::uint64_t length = short_length;
      if (short_length == 126) {
        length = (std::uint64_t{p[2]} << 8) | p[3];
        if (length < 126) return fail(websocket::error::bad_size);
      } else if (short_length == 127) {
        length = 0;
        for (int i = 2; i < 10; ++i) length = (length << 8) | p[i];
        if (length < 65536 || (length >> 63) != 0) return fail(websocket::error::bad_size);
      }
      if (opcode >= 8) {
        if (opcode > 10) return fail(websocket::error::bad_opcode);
        if (!fin) return fail(websocket::error::bad_control_fragment);
        if (length > 125) return fail(websocket::error::bad_control_size);
      } else if (opcode > 2) {
        return fail(websocket::error::bad_opcode);
      } else if (opcode == 0 && !fragmented_) {
        return fail(websocket::error::bad_continuation);
      } else if (opcode != 0 && fragmented_) {
        return fail(websocket::error::bad_data_frame);
      }
      if (opcode < 8 && max_message_ > 0 && length > max_message_ - message_.size()) {
        return fail(websocket::error::message_too_big);
      }
      if (have < header + length) {
        needed_ = header + length;
        return Parsed::need_bytes;
      }
      const std::string_view payload(in_.data() + begin_ + header, length);
      begin_ += header + length;
      if (opcode == 9) {  // a ping: answered with its payload
        out_.encode_control(10, payload);
        return Parsed::reply;
      }
      if (opcode == 10) continue;  // a pong
      if (opcode == 8) return peer_closed(payload);
      if (opcode != 0) binary_in_ = opcode == 2;
      if (fin && !fragmented_) {  // the usual case: a whole message, read in place
        if (!binary_in_ && !valid_utf8(payload)) return fail(websocket::error::bad_frame_payload);
        message = payload;
        return Parsed::message;
      }
      if (opcode != 0) message_.clear();
      message_.append(payload);
      fragmented_ = !fin;
      if (fin) {
        if (!binary_in_ && !valid_utf8(message_)) return fail(websocket::error::bad_frame_payload);
        message = message_;
        return Parsed::message;
      }
    }
  }

  // As Beast's own read buffer, small: thousands of idle connections each hold one. It
  // grows to the largest frame that comes.
  static constexpr std::size_t initial_buffer = 1536;
  static constexpr std::size_t minimum_free = 512;  ///< room for each read

  void make_room(std::size_t needed) {
    if (begin_ > 0) {
      std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (in_.size() < needed) in_.resize(std::max(needed, in_.size() * 2));
  }

  /// The server closed: its reason kept, the close echoed (its code, or 1000 for none),
  /// then the read fails with websocket::error::closed.
  Parsed peer_closed(std::string_view payload) {
    if (payload.size() == 1) return fail(websocket::error::bad_close_size);
    if (payload.size() >= 2) {
      const auto* p = reinterpret_cast<const unsigned char*>(payload.data());
      const auto code = static_cast<std::uint16_t>((p[0] << 8) | p[1]);
      const bool valid = (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1013) ||
                         (code >= 3000 && code <= 4999);
      if (!valid) return fail(websocket::error::bad_close_code);
      if (!valid_utf8(payload.substr(2))) return fail(websocket::error::bad_close_payload);
      reason_.code = code;
      reason_.reason = std::string(payload.substr(2));
    }
    failure_ = websocket::error::closed;
    if (closed_) return Parsed::failed;
    closed_ = true;
    out_.encode_control(
        8, payload.size() >= 2 ? payload.substr(0, 2) : std::string_view("\x03\xe8", 2));
    return Parsed::reply;
  }

  /// Fails the connection as Beast does: a close with the code the error calls for (to
  /// flush), then the error.
  Parsed fail(websocket::error why) {
    failure_ = why;
    if (closed_) return Parsed::failed;
    closed_ = true;
    const std::uint16_t code = why == websocket::error::message_too_big     ? 1009
                               : why == websocket::error::bad_frame_payload ? 1007
                                                                            : 1002;
    const char payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
    out_.encode_control(8, std::string_view(payload, 2));
    return Parsed::reply;
  }

  Socket& socket_;
  std::size_t max_message_;
  bool binary_out_;
  std::vector<char> in_ = std::vector<char>(initial_buffer);
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::size_t needed_ = 0;  ///< bytes the frame being read needs in the buffer
  std::string message_;     ///< a fragmented message, reassembled
  bool fragmented_ = false;
  boost::system::error_code failure_;  ///< what ended the connection
  FrameEncoder<Socket> out_;           ///< messages, control replies, the close
  bool binary_in_ = false;
  bool closed_ = false;  ///< a close frame was sent
  websocket::close_reason reason_;
};

}  // namespace wsload::detail
