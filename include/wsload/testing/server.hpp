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
#include <optional>
#include <string>
#include <vector>

#include <wsload/aws_sigv4.hpp>
#include <wsload/detail/linkage.hpp>

namespace wsload::testing {

/// How the server answers each message.
enum class ReplyMode {
  echo,         ///< send the message back (after reply_delay)
  silent,       ///< read and never answer: for reply-timeout tests
  api_gateway,  ///< route JSON bodies like API Gateway (see ServerOptions::routes)
};

/// What a route does with a message, in ReplyMode::api_gateway.
struct Route {
  enum class Kind {
    echo,    ///< the message back, unchanged, after `delay`
    stream,  ///< `chunks` frames {"type":"chunk","index":i,"text":...}, one per
             ///< `chunk_delay`, then {"type":"end","done":true}
    /// An LLM's streamed answer: {"type":"ack"} at once, then `chunks` frames
    /// {"type":"token","index":i,"text":"tok"+i}, the first after `delay` and the rest
    /// `chunk_delay` apart, then {"type":"end","usage":{"output_tokens":chunks}}.
    tokens,
    error,   ///< {"message": error_message, "connectionId": ..., "requestId": ...}
    silent,  ///< no answer
  };
  Kind kind = Kind::echo;
  std::chrono::milliseconds delay{0};  ///< before the first frame (echo, error)
  std::size_t chunks = 3;
  std::chrono::milliseconds chunk_delay{0};
  std::string error_message = "Internal server error";
  bool stray_frame = false;  ///< also send a frame with an id no request has
};

/// Misbehaviour on purpose, for reliability tests.
enum class Fault {
  none,
  ignore_upgrade,   ///< read the upgrade request, never answer it
  reject_upgrade,   ///< answer the upgrade with `reject_status`
  close_after,      ///< after `fault_after` replies, close with `close_code` instead of replying
  reset_after,      ///< after `fault_after` replies, reset the TCP connection (SO_LINGER 0)
  malformed_after,  ///< after `fault_after` replies, send a frame with a reserved opcode
  oversized_reply,  ///< reply with `oversized_bytes` bytes instead of the echo
  ping_flood,       ///< send 50 pings before each reply
  slow_read,        ///< after `fault_after` replies, read `slow_read_bytes` per `slow_read_pause`
  deaf_after,       ///< after `fault_after` replies, read bytes and ignore them: a close
                    ///< frame is never answered
};

struct ServerOptions {
  bool tls = false;  ///< wss with a certificate made at start
  ReplyMode mode = ReplyMode::echo;
  std::chrono::milliseconds reply_delay{0};  ///< wait before each reply
  std::string address = "127.0.0.1";         ///< loopback only: 127.0.0.1 or ::1
  std::uint16_t port = 0;                    ///< 0: an ephemeral port
  unsigned threads = 1;
  /// Accept permessage-deflate when a client offers it (RFC 7692); off: decline it.
  bool compression = false;
  Fault fault = Fault::none;
  std::size_t fault_after = 0;             ///< replies sent normally before the fault
  unsigned fault_every = 1;                ///< faulty: connections 0, N, 2N, ... in accept order
  unsigned reject_status = 500;            ///< for Fault::reject_upgrade
  unsigned close_code = 1011;              ///< for Fault::close_after
  std::size_t oversized_bytes = 1 << 20;   ///< for Fault::oversized_reply
  std::size_t slow_read_bytes = 16 << 10;  ///< for Fault::slow_read (also its receive buffer)
  std::chrono::milliseconds slow_read_pause{20};
  /// Every reply due between `pause_from` and `pause_from + pause_for` after the server
  /// started waits for the end of that time: the whole service freezes (echo mode).
  std::chrono::milliseconds pause_from{0};
  std::chrono::milliseconds pause_for{0};
  /// A service of known capacity (echo mode): messages are served one at a time across
  /// all connections, in arrival order, each taking this long, so the server answers
  /// 1 / service_time messages per second and a faster arrival rate queues. 0: off.
  std::chrono::milliseconds service_time{0};

  // ReplyMode::api_gateway: the route is the value at `route_key` in the JSON body (like
  // $request.body.action); a body without it, or not JSON, takes "$default". With no such
  // route either, the answer is API Gateway's {"message": "Forbidden", ...}. Frames the
  // server makes carry the request's value at `id_pointer` under "id", when it has one.
  std::string route_key = "/action";
  std::map<std::string, Route> routes = {{"$default", Route{}}};
  std::string id_pointer;
  /// Close with 1001 (going away) after this long without a message, or this long after
  /// the upgrade, like API Gateway's 10 minutes and 2 hours. 0: never.
  std::chrono::milliseconds idle_timeout{0};
  std::chrono::milliseconds max_connection_duration{0};
  /// Require a SigV4-presigned connect for these credentials (403 otherwise).
  std::optional<aws::Credentials> sigv4;
  std::string sigv4_service = "execute-api";
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
  /// The first 10000 messages received in api_gateway mode, in arrival order.
  WSLOAD_DECL std::vector<std::string> received() const;
  /// Replies sent after the reply to a later request (api_gateway mode).
  WSLOAD_DECL std::uint64_t reordered() const noexcept;
  /// Connects refused for a missing or wrong signature, with the last reason.
  WSLOAD_DECL std::uint64_t rejected_signatures() const noexcept;

  /// Closes the listener and every connection, and joins the server threads: a client
  /// sees the service go away. Idempotent.
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
