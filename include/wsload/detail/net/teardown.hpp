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

#include <cstdint>
#include <functional>
#include <utility>

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
    return tcp::socket::async_read_some(buffers, std::forward<Token>(token));
  }
  std::uint64_t reads = 0;
};

template <class Handler>
void async_teardown(beast::role_type role, PlainSocket& socket, Handler&& handler) {
  async_forgiving_teardown(role, socket, socket, std::forward<Handler>(handler));
}

}  // namespace wsload::detail
