// A TLS client stream for the load connections: OpenSSL reads and writes the TCP socket
// Kept by hand: no packaged stream lets OpenSSL own the socket (asio's ssl::stream: see below).
// itself, and asio only waits for the socket to be ready.
//
// Why not asio's ssl::stream: it keeps per connection a BIO pair and two record-sized
// buffers (about 68 KiB, most of it resident even while idle), and copies every byte
// through them. Here an idle connection holds only OpenSSL's session state (and its
// record buffers, unless the engine set SSL_MODE_RELEASE_BUFFERS for a large run), and
// bytes move straight between the socket and the caller's buffers: about 40 KiB resident
// per idle connection instead of 72 (10,000 connections, measured).
//
// One thread runs all operations of a stream (the engine's worker owns its connections),
// so OpenSSL is never entered twice at once. Closing the TCP socket (the watchdog does)
// completes any pending operation with operation_aborted; OpenSSL is never called on a
// closed socket, whose descriptor may already belong to another connection.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/teardown.hpp>

namespace wsload::detail {

/// The socket's side of OpenSSL: a BIO that sends and receives on the descriptor
/// without SIGPIPE, and remembers what the kernel said.
struct SocketBioState {
  tcp::socket* socket = nullptr;
  int last_errno = 0;
  bool eof = false;
};

inline int socket_bio_write(BIO* bio, const char* data, std::size_t size, std::size_t* written) {
  auto* state = static_cast<SocketBioState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::send(state->socket->native_handle(), data, size, MSG_NOSIGNAL);
    if (n >= 0) {
      *written = static_cast<std::size_t>(n);
      return 1;
    }
    if (errno == EINTR) continue;
    state->last_errno = errno;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return 0;
  }
}

inline int socket_bio_read(BIO* bio, char* data, std::size_t size, std::size_t* read) {
  auto* state = static_cast<SocketBioState*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::recv(state->socket->native_handle(), data, size, 0);
    if (n > 0) {
      *read = static_cast<std::size_t>(n);
      return 1;
    }
    if (n == 0) {
      state->eof = true;
      state->last_errno = 0;
      return 0;
    }
    if (errno == EINTR) continue;
    state->last_errno = errno;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
    return 0;
  }
}

inline long socket_bio_ctrl(BIO* bio, int command, long, void*) {
  switch (command) {
    case BIO_CTRL_FLUSH:
      return 1;  // nothing is buffered here
    case BIO_CTRL_EOF:
      return static_cast<SocketBioState*>(BIO_get_data(bio))->eof ? 1 : 0;
    default:
      return 0;
  }
}

inline BIO_METHOD* socket_bio_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "wsload socket");
    if (m == nullptr) return m;
    BIO_meth_set_write_ex(m, socket_bio_write);
    BIO_meth_set_read_ex(m, socket_bio_read);
    BIO_meth_set_ctrl(m, socket_bio_ctrl);
    BIO_meth_set_create(m, [](BIO* bio) {
      BIO_set_init(bio, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

class TlsSocket : public TeardownNotice {
 public:
  using next_layer_type = tcp::socket;
  using executor_type = tcp::socket::executor_type;

  TlsSocket(const executor_type& executor, ssl::context& context)
      : socket_(executor), ssl_(SSL_new(context.native_handle())) {
    BIO* bio = socket_bio_method() ? BIO_new(socket_bio_method()) : nullptr;
    if (ssl_ == nullptr || bio == nullptr) {
      BIO_free(bio);
      SSL_free(ssl_);
      throw boost::system::system_error(static_cast<int>(ERR_get_error()),
                                        asio::error::get_ssl_category(), "TLS session");
    }
    bio_state_.socket = &socket_;
    BIO_set_data(bio, &bio_state_);
    SSL_set_bio(ssl_, bio, bio);
    SSL_set_connect_state(ssl_);
    // One recv takes every record that has arrived, not a header and then a body.
    SSL_set_read_ahead(ssl_, 1);
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;
  ~TlsSocket() { SSL_free(ssl_); }

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  /// Reads asked of this stream (see PlainSocket in teardown.hpp).
  std::uint64_t reads = 0;

  tcp::socket& next_layer() noexcept { return socket_; }
  const tcp::socket& next_layer() const noexcept { return socket_; }
  SSL* native_handle() noexcept { return ssl_; }

  template <class Token>
  auto async_handshake(Token&& token) {
    // OpenSSL reads and writes the descriptor itself: it must never block the thread.
    boost::system::error_code ignored;
    socket_.non_blocking(true, ignored);
    return start<void(boost::system::error_code)>(
        [this](std::size_t&) { return step(SSL_connect(ssl_), 0); }, std::forward<Token>(token));
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    ++reads;
    return start<void(boost::system::error_code, std::size_t)>(
        [this, buffers](std::size_t& n) {
          for (auto it = asio::buffer_sequence_begin(buffers);
               it != asio::buffer_sequence_end(buffers); ++it) {
            const asio::mutable_buffer b = *it;
            if (b.size() == 0) continue;
            const int r = SSL_read(ssl_, b.data(),
                                   static_cast<int>(std::min<std::size_t>(b.size(), INT_MAX)));
            n = r > 0 ? static_cast<std::size_t>(r) : 0;
            return step(r, 1);
          }
          return Step{};
        },
        std::forward<Token>(token));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return start<void(boost::system::error_code, std::size_t)>(
        [this, buffers](std::size_t& n) {
          // A WebSocket frame comes as a header and a payload: gathered, they make one TLS
          // record and one send, not two.
          std::array<unsigned char, 16 << 10> gathered;
          asio::const_buffer data;
          for (auto it = asio::buffer_sequence_begin(buffers);
               it != asio::buffer_sequence_end(buffers); ++it) {
            const asio::const_buffer b = *it;
            if (b.size() == 0) continue;
            if (data.size() == 0 && b.size() >= gathered.size()) {
              data = b;
              break;
            }
            const std::size_t room = gathered.size() - data.size();
            if (room == 0) break;
            const std::size_t take = std::min(room, b.size());
            std::memcpy(gathered.data() + data.size(), b.data(), take);
            data = asio::const_buffer(gathered.data(), data.size() + take);
          }
          if (data.size() == 0) return Step{};
          const int r = SSL_write(ssl_, data.data(),
                                  static_cast<int>(std::min<std::size_t>(data.size(), INT_MAX)));
          n = r > 0 ? static_cast<std::size_t>(r) : 0;
          return step(r, 1);
        },
        std::forward<Token>(token));
  }

  /// Sends close_notify if the socket takes it at once; never waits for the peer's.
  void notify_close() noexcept {
    if (!socket_.is_open()) return;
    ERR_clear_error();
    SSL_shutdown(ssl_);
    ERR_clear_error();
  }

 private:
  enum class Want { nothing, read, write };
  struct Step {
    Want want = Want::nothing;
    boost::system::error_code ec;
  };

  /// What an OpenSSL call that returned `result` (success when >= `success_from`) asks for.
  Step step(int result, int success_from) {
    if (result >= success_from) return {};
    switch (SSL_get_error(ssl_, result)) {
      case SSL_ERROR_WANT_READ:
        return {Want::read, {}};
      case SSL_ERROR_WANT_WRITE:
        return {Want::write, {}};
      case SSL_ERROR_ZERO_RETURN:
        return {Want::nothing, asio::error::eof};  // close_notify: the peer is done
      case SSL_ERROR_SYSCALL:
        if (const unsigned long e = ERR_get_error(); e != 0) return {Want::nothing, ssl_error(e)};
        if (bio_state_.last_errno != 0) {
          return {Want::nothing, {bio_state_.last_errno, boost::system::system_category()}};
        }
        return {Want::nothing, ssl::error::stream_truncated};
      default:
        return {Want::nothing, ssl_error(ERR_get_error())};
    }
  }

  static boost::system::error_code ssl_error(unsigned long e) {
#ifdef SSL_R_UNEXPECTED_EOF_WHILE_READING
    if (ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
      return ssl::error::stream_truncated;  // the TCP connection ended without close_notify
    }
#endif
    return {static_cast<int>(e), asio::error::get_ssl_category()};
  }

  /// Tries `attempt` now and again each time the socket is ready for what it wants. A
  /// result that comes at once is deferred: no handler runs inside its initiating call.
  template <class Attempt, class Signature>
  struct Operation {
    enum class Stage { start, waiting, deferred };
    TlsSocket& stream;
    Attempt attempt;
    Stage stage = Stage::start;
    boost::system::error_code result{};
    std::size_t transferred = 0;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t = 0) {
      if (stage == Stage::deferred) return finish(self, result, transferred);
      if (stage == Stage::waiting && ec) return finish(self, ec, 0);
      const bool immediate = stage == Stage::start;
      tcp::socket& socket = stream.socket_;
      Step s{Want::nothing, asio::error::operation_aborted};
      if (socket.is_open()) {
        ERR_clear_error();
        stream.bio_state_.last_errno = 0;
        s = attempt(transferred);
      }
      if (s.want != Want::nothing) {
        stage = Stage::waiting;
        return socket.async_wait(
            s.want == Want::read ? tcp::socket::wait_read : tcp::socket::wait_write,
            std::move(self));
      }
      if (immediate) {
        // Deferred the way asio defers its own: a receive of no bytes completes at once
        // through the socket's queue, with no system call and no executor allocation.
        stage = Stage::deferred;
        result = s.ec;
        return socket.async_receive(asio::mutable_buffer(), std::move(self));
      }
      finish(self, s.ec, transferred);
    }

    template <class Self>
    void finish(Self& self, boost::system::error_code ec, std::size_t n) {
      if constexpr (std::is_same_v<Signature, void(boost::system::error_code)>) {
        self.complete(ec);
      } else {
        self.complete(ec, n);
      }
    }
  };

  template <class Signature, class Attempt, class Token>
  auto start(Attempt&& attempt, Token&& token) {
    return asio::async_compose<Token, Signature>(
        Operation<std::decay_t<Attempt>, Signature>{*this, std::forward<Attempt>(attempt)}, token,
        socket_);
  }

  tcp::socket socket_;
  SSL* ssl_;
  SocketBioState bio_state_;
};

// Beast's closing handshake ends the stream through these (found by argument-dependent
// lookup): close_notify, then the TCP teardown (shut down sending, read to the end),
// bounded as teardown.hpp says.
inline void teardown(beast::role_type role, TlsSocket& stream, boost::system::error_code& ec) {
  stream.notify_close();
  stream.notify_teardown();
  beast::websocket::teardown(role, stream.next_layer(), ec);
  ec = {};
}

template <class Handler>
void async_teardown(beast::role_type role, TlsSocket& stream, Handler&& handler) {
  stream.notify_close();
  async_forgiving_teardown(role, stream.next_layer(), stream, std::forward<Handler>(handler));
}

}  // namespace wsload::detail
