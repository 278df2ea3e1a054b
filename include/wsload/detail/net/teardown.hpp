// How a load connection's TCP connection ends after a closing handshake, and the plain
// (ws://) socket that takes part in it. Kept by hand: it is Beast's own teardown, through the
// customisation point Beast offers, wrapped so that the engine can bound it (below).
//
// Beast ends every closing handshake, its own after a failure (a frame over the size
// limit, a protocol violation) included, by reading until the server closes TCP (RFC 6455
// 7.1.1). A server that never does held the connection until the reply timeout, and the
// engine's closing the socket then replaced the failure with a timeout. Here the socket
// tells the connection's slot when that wait starts, so the engine bounds it by the close
// timeout, and the wait's end, however it comes, is reported as a success: the error the
// handshake was for is what the read reports.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>

#include <sys/socket.h>

#include <wsload/detail/net/asio.hpp>

namespace wsload::detail {

/// A socket's call to whoever bounds its teardown (the connection's slot).
struct TeardownNotice {
  std::function<void()> on_teardown;  ///< called when the wait for the server's close starts

  void notify_teardown() const {
    if (on_teardown) on_teardown();
  }
};

/// Completes a teardown with success whatever it met (see the top of this header).
template <class Handler>
struct ForgivingTeardown {
  Handler handler;
  void operator()(boost::system::error_code) { std::move(handler)(boost::system::error_code{}); }
};

/// Beast's TCP teardown of `socket`, after telling `notice`, completing with success.
template <class Handler>
void async_forgiving_teardown(beast::role_type role, tcp::socket& socket,
                              const TeardownNotice& notice, Handler&& handler) {
  notice.notify_teardown();
  const auto executor = asio::get_associated_executor(handler, socket.get_executor());
  beast::websocket::async_teardown(
      role, socket,
      asio::bind_executor(
          executor, ForgivingTeardown<std::decay_t<Handler>>{std::forward<Handler>(handler)}));
}

/// The TCP socket of a ws:// load connection: a tcp::socket whose teardown (found by
/// argument-dependent lookup, before Beast's for tcp::socket) is bounded as above, and
/// which counts the reads the WebSocket stream asks of it: a frame decoded with no read
/// since a request was sent was in the stream's buffer before it, so it answers no
/// request of ours (see run_sequential; TlsSocket counts the same).
class PlainSocket : public tcp::socket, public TeardownNotice {
 public:
  using tcp::socket::socket;

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    ++reads;
    // Beast reads with handlers, which return nothing: only those reads can be stopped.
    using Result = decltype(tcp::socket::async_read_some(buffers, std::forward<Token>(token)));
    if constexpr (std::is_void_v<Result>) {
      if (header_ == HeaderStop::pending) {
        read_within_header(*asio::buffer_sequence_begin(buffers), std::forward<Token>(token));
        return;
      }
    }
    return tcp::socket::async_read_some(buffers, std::forward<Token>(token));
  }

  /// Until the upgrade's response header has been read, reads stop at its end, so that
  /// frames the server sends right after it stay in the socket for a reader of wsload's
  /// own (direct_frames.hpp) instead of in Beast's buffer, where no reader but Beast's
  /// can take them.
  void stop_reads_at_header() noexcept {
    header_ = HeaderStop::pending;
    header_matched_ = 0;
  }
  /// Whether reads were stopped at the header's end, and the upgrade read no further.
  bool stopped_at_header() const noexcept { return header_ == HeaderStop::done; }

  std::uint64_t reads = 0;

 private:
  /// Peeks at what has arrived and reads no further than the header's blank line.
  template <class Handler>
  void read_within_header(asio::mutable_buffer buffer, Handler&& handler) {
    const auto peeked =
        ::recv(native_handle(), buffer.data(), buffer.size(), MSG_PEEK | MSG_DONTWAIT);
    if (peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      async_wait(wait_read, [this, buffer, handler = std::forward<Handler>(handler)](
                                const boost::system::error_code& ec) mutable {
        if (ec) {
          std::move(handler)(ec, std::size_t{0});
          return;
        }
        read_within_header(buffer, std::move(handler));
      });
      return;
    }
    // Only what was peeked: more may have come since, past the header's end.
    std::size_t take = peeked > 0 ? static_cast<std::size_t>(peeked) : buffer.size();
    const auto* bytes = static_cast<const char*>(buffer.data());
    for (std::size_t i = 0; peeked > 0 && i < static_cast<std::size_t>(peeked); ++i) {
      static constexpr char blank_line[] = "\r\n\r\n";
      header_matched_ = bytes[i] == blank_line[header_matched_] ? header_matched_ + 1
                        : bytes[i] == '\r'                      ? 1
                                                                : 0;
      if (header_matched_ == 4) {
        take = i + 1;
        header_ = HeaderStop::done;
        break;
      }
    }
    // An error or the end of the stream: the read itself reports it.
    tcp::socket::async_read_some(asio::buffer(buffer.data(), take), std::forward<Handler>(handler));
  }

  enum class HeaderStop { off, pending, done };
  HeaderStop header_ = HeaderStop::off;
  std::size_t header_matched_ = 0;  ///< of the blank line that ends the header
};

template <class Handler>
void async_teardown(beast::role_type role, PlainSocket& socket, Handler&& handler) {
  async_forgiving_teardown(role, socket, socket, std::forward<Handler>(handler));
}

}  // namespace wsload::detail
