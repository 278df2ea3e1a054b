// Embedded WebSocket test server (ws and wss) for wsload's tests, examples and demo.
//
// A real Beast server over real loopback sockets: it binds 127.0.0.1 (or ::1) only, on
// an ephemeral port unless told otherwise, and serves until stopped or destroyed. Like
// engine.hpp, this header names no Boost type (definitions in impl/server.ipp).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <wsload/detail/linkage.hpp>

namespace wsload::testing {

/// How the server answers each message.
enum class ReplyMode {
  echo,    ///< send the message back (after reply_delay)
  silent,  ///< read and never answer: for reply-timeout tests
};

/// Misbehaviour on purpose, for reliability tests.
enum class Fault {
  none,
  ignore_upgrade,   ///< read the upgrade request, never answer it
  reject_upgrade,   ///< answer the upgrade with `reject_status`
  close_after,      ///< after `fault_after` replies, close with 1011 instead of replying
  reset_after,      ///< after `fault_after` replies, reset the TCP connection (SO_LINGER 0)
  malformed_after,  ///< after `fault_after` replies, send a frame with a reserved opcode
  oversized_reply,  ///< reply with `oversized_bytes` bytes instead of the echo
  ping_flood,       ///< send 50 pings before each reply
};

struct ServerOptions {
  bool tls = false;  ///< wss with a certificate made at start
  ReplyMode mode = ReplyMode::echo;
  std::chrono::milliseconds reply_delay{0};  ///< wait before each reply
  std::string address = "127.0.0.1";         ///< loopback only: 127.0.0.1 or ::1
  std::uint16_t port = 0;                    ///< 0: an ephemeral port
  unsigned threads = 1;
  Fault fault = Fault::none;
  std::size_t fault_after = 0;            ///< replies sent normally before the fault
  unsigned fault_every = 1;               ///< faulty: connections 0, N, 2N, ... in accept order
  unsigned reject_status = 500;           ///< for Fault::reject_upgrade
  std::size_t oversized_bytes = 1 << 20;  ///< for Fault::oversized_reply
};

/// The upgrade request of one connection, as the server saw it.
struct ObservedHandshake {
  std::string target;
  std::map<std::string, std::string> headers;  ///< names lower-cased

  std::string header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

/// Starts listening in the constructor, stops in the destructor (or stop()).
/// Throws std::invalid_argument for a non-loopback address and std::runtime_error when
/// it cannot bind. Accessors are thread-safe.
class Server {
 public:
  WSLOAD_DECL explicit Server(ServerOptions options = {});
  WSLOAD_DECL ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  WSLOAD_DECL std::uint16_t port() const noexcept;
  /// "ws://127.0.0.1:PORT/path" (wss when TLS; [::1] for IPv6).
  WSLOAD_DECL std::string url(const std::string& path = "/") const;
  /// The certificate a client must trust for wss (empty without TLS).
  WSLOAD_DECL const std::string& ca_pem() const noexcept;

  WSLOAD_DECL std::uint64_t connections() const noexcept;
  WSLOAD_DECL std::uint64_t messages() const noexcept;
  WSLOAD_DECL std::vector<ObservedHandshake> handshakes() const;

  /// Closes the listener and every connection, and joins the server threads. Idempotent.
  WSLOAD_DECL void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A loopback TCP port that nothing listens on at the time of the call: for tests of
/// refused connections.
WSLOAD_DECL std::uint16_t unused_loopback_port();

}  // namespace wsload::testing

#ifndef WSLOAD_SEPARATE_COMPILATION
#include <wsload/testing/impl/server.ipp>
#endif
