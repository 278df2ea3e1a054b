// One load connection: connect, TLS, upgrade, then send each prompt and time its reply.
//
// The steps read top to bottom in run_connection(). Failures are error_codes, never
// exceptions, and each maps to an ErrorKind. Timeouts are deadlines stored on the
// connection and enforced by the thread's watchdog (see engine.hpp), which closes the
// socket of a connection past its deadline: no timer is armed per message.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <wsload/config.hpp>
#include <wsload/detail/asio.hpp>
#include <wsload/errors.hpp>
#include <wsload/histogram.hpp>
#include <wsload/url.hpp>

namespace wsload::detail {

using Clock = std::chrono::steady_clock;

/// Why the watchdog closed a connection.
enum class Abort { none, timeout, run_deadline, interrupted };

/// What one connection is waiting for; a timeout is classified by it.
enum class Phase { connect, tls, upgrade, reply, close };

/// The part of a connection the watchdog sees.
struct ConnectionSlot {
  Clock::time_point deadline = Clock::time_point::max();
  Phase phase = Phase::connect;
  Abort abort = Abort::none;
  tcp::socket* socket = nullptr;

  void arm(Phase p, Clock::time_point now, std::chrono::milliseconds timeout) noexcept {
    phase = p;
    deadline = now + timeout;
  }
  void close(Abort why) noexcept {
    if (abort == Abort::none) abort = why;
    if (socket) {
      boost::system::error_code ignored;
      socket->close(ignored);
    }
  }
};

/// Everything the connections of one run share, read-only once the run starts.
struct RunContext {
  const LoadConfig& config;
  Url url;
  std::vector<tcp::endpoint> endpoints;  ///< resolved once for the whole run
  ssl::context* tls = nullptr;           ///< for wss
  Clock::time_point run_deadline;
};

/// Statistics and live connections of one engine thread. Only that thread touches it,
/// except the published_* counters, which it stores in batches for the progress reader.
struct ThreadState {
  Histogram latency;  // microseconds
  std::uint64_t succeeded = 0;
  std::uint64_t failed = 0;
  std::uint64_t opened = 0;
  std::uint64_t connections_failed = 0;
  std::map<std::pair<ErrorKind, std::string>, std::uint64_t> errors;
  std::list<ConnectionSlot*> live;
  std::size_t remaining = 0;        ///< connections not yet finished
  Clock::time_point finished_at{};  ///< when the last one finished
  Abort abort_all = Abort::none;

  alignas(64) std::atomic<std::uint64_t> published_succeeded{0};
  std::atomic<std::uint64_t> published_failed{0};

  void publish() noexcept {
    published_succeeded.store(succeeded, std::memory_order_relaxed);
    published_failed.store(failed, std::memory_order_relaxed);
  }

  void count_failed(ErrorKind kind, std::string detail, std::uint64_t requests) {
    if (requests == 0) return;
    failed += requests;
    // Details are few (status codes, close codes, error messages); cap them anyway.
    constexpr std::size_t max_details = 64;
    if (errors.size() >= max_details && !errors.count({kind, detail})) detail = "(other)";
    errors[{kind, std::move(detail)}] += requests;
  }
};

/// Registers a connection with its thread's watchdog for as long as it lives.
class LiveGuard {
 public:
  LiveGuard(ThreadState& state, ConnectionSlot& slot)
      : state_(state), it_(state.live.insert(state.live.end(), &slot)) {}
  ~LiveGuard() { state_.live.erase(it_); }
  LiveGuard(const LiveGuard&) = delete;
  LiveGuard& operator=(const LiveGuard&) = delete;

 private:
  ThreadState& state_;
  std::list<ConnectionSlot*>::iterator it_;
};

inline std::pair<ErrorKind, std::string> classify(const boost::system::error_code& ec,
                                                  const ConnectionSlot& slot,
                                                  const websocket::close_reason& close) {
  switch (slot.abort) {
    case Abort::run_deadline:
      return {ErrorKind::run_deadline, ""};
    case Abort::interrupted:
      return {ErrorKind::interrupted, ""};
    case Abort::timeout:
      switch (slot.phase) {
        case Phase::connect:
          return {ErrorKind::connect, "timed out"};
        case Phase::tls:
          return {ErrorKind::tls, "timed out"};
        case Phase::upgrade:
          return {ErrorKind::handshake, "timed out"};
        case Phase::reply:
          return {ErrorKind::reply_timeout, ""};
        case Phase::close:
          return {ErrorKind::connection_lost, "close timed out"};
      }
      break;
    case Abort::none:
      break;
  }
  switch (slot.phase) {
    case Phase::connect:
      return {ErrorKind::connect, ec.message()};
    case Phase::tls:
      return {ErrorKind::tls, ec.message()};
    case Phase::upgrade:
      return {ErrorKind::handshake, ec.message()};
    default:
      break;
  }
  if (ec == websocket::error::closed) {
    return {ErrorKind::closed_by_peer, "close code " + std::to_string(close.code)};
  }
  if (ec == websocket::error::message_too_big) return {ErrorKind::message_too_big, ""};
  if (ec == websocket::condition::protocol_violation) return {ErrorKind::protocol, ec.message()};
  return {ErrorKind::connection_lost, ec.message()};
}

/// Sets SNI and the identity to verify (host name or IP address, RFC 6125).
inline bool prepare_tls(SSL* ssl, const Url& url, bool insecure) {
  const bool ip =
      url.ipv6_literal || url.host.find_first_not_of("0123456789.") == std::string::npos;
  // RFC 6066 3: SNI carries host names only, never IP literals.
  if (!ip && SSL_set_tlsext_host_name(ssl, url.host.c_str()) != 1) return false;
  if (insecure) return true;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  return ip ? X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str()) == 1
            : X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0) == 1;
}

inline std::string tls_failure_detail(SSL* ssl, const boost::system::error_code& ec) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
  }
  return ec.message();
}

template <class Stream>
Stream make_stream(asio::any_io_executor executor, RunContext& run);

template <>
inline websocket::stream<tcp::socket> make_stream(asio::any_io_executor executor, RunContext&) {
  return websocket::stream<tcp::socket>(executor);
}

template <>
inline websocket::stream<ssl::stream<tcp::socket>> make_stream(asio::any_io_executor executor,
                                                               RunContext& run) {
  return websocket::stream<ssl::stream<tcp::socket>>(executor, *run.tls);
}

/// Runs one connection to completion. Every request it does not complete is counted as
/// failed under the kind of the failure that ended it, so totals always add up to
/// prompts x iterations.
template <class Stream>
asio::awaitable<void> run_connection(RunContext& run, ThreadState& state) {
  const LoadConfig& config = run.config;
  const std::uint64_t expected = config.prompts.size() * config.iterations;
  std::uint64_t completed = 0;
  ConnectionSlot slot;
  LiveGuard guard(state, slot);
  struct Finish {
    ThreadState& state;
    ~Finish() {
      if (--state.remaining == 0) state.finished_at = Clock::now();
    }
  } finish{state};

  auto ws = make_stream<Stream>(co_await asio::this_coro::executor, run);
  tcp::socket& socket = beast::get_lowest_layer(ws);
  slot.socket = &socket;
  boost::system::error_code ec;
  auto use = asio::redirect_error(asio::use_awaitable, ec);
  auto give_up = [&](std::pair<ErrorKind, std::string> why) {
    state.count_failed(why.first, std::move(why.second), expected - completed);
  };
  if (state.abort_all != Abort::none) {
    slot.abort = state.abort_all;
    give_up(classify(ec, slot, {}));
    co_return;
  }

  slot.arm(Phase::connect, Clock::now(), config.timeouts.connect);
  co_await asio::async_connect(socket, run.endpoints, use);
  if (ec) {
    ++state.connections_failed;
    give_up(classify(ec, slot, {}));
    co_return;
  }
  socket.set_option(tcp::no_delay(true), ec);

  if constexpr (!std::is_same_v<Stream, websocket::stream<tcp::socket>>) {
    slot.arm(Phase::tls, Clock::now(), config.timeouts.handshake);
    SSL* ssl = ws.next_layer().native_handle();
    if (!prepare_tls(ssl, run.url, config.tls.insecure)) {
      ++state.connections_failed;
      give_up({ErrorKind::tls, "cannot set the server name to verify"});
      co_return;
    }
    co_await ws.next_layer().async_handshake(ssl::stream_base::client, use);
    if (ec) {
      ++state.connections_failed;
      auto why = classify(ec, slot, {});
      if (slot.abort == Abort::none) why.second = tls_failure_detail(ssl, ec);
      give_up(std::move(why));
      co_return;
    }
  }

  slot.arm(Phase::upgrade, Clock::now(), config.timeouts.handshake);
  ws.set_option(websocket::stream_base::decorator([&config](websocket::request_type& req) {
    req.set(http::field::user_agent, "wsload/0.1");
    if (!config.origin.empty()) req.set(http::field::origin, config.origin);
    for (const auto& h : config.headers) req.set(h.name, h.value);
    if (!config.subprotocols.empty()) {
      std::string joined;
      for (const auto& p : config.subprotocols) joined += (joined.empty() ? "" : ", ") + p;
      req.set(http::field::sec_websocket_protocol, joined);
    }
  }));
  websocket::response_type response;
  co_await ws.async_handshake(response, run.url.host_header(), run.url.target(), use);
  if (ec) {
    ++state.connections_failed;
    if (ec == websocket::error::upgrade_declined && slot.abort == Abort::none) {
      give_up({ErrorKind::handshake_rejected, "HTTP " + std::to_string(response.result_int())});
    } else {
      give_up(classify(ec, slot, {}));
    }
    co_return;
  }
  ++state.opened;
  ws.read_message_max(config.max_message_size);
  ws.text(true);

  beast::flat_buffer reply;
  for (std::size_t round = 0; round < config.iterations; ++round) {
    for (const auto& prompt : config.prompts) {
      const auto sent_at = Clock::now();
      slot.arm(Phase::reply, sent_at, config.timeouts.reply);
      co_await ws.async_write(asio::buffer(prompt), use);
      if (!ec) co_await ws.async_read(reply, use);
      if (ec) {
        give_up(classify(ec, slot, ws.reason()));
        co_return;
      }
      const auto elapsed = Clock::now() - sent_at;
      state.latency.record(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
      ++state.succeeded;
      ++completed;
      reply.consume(reply.size());
    }
  }

  // Every request is counted by now; a slow or failed close costs nothing but time.
  slot.arm(Phase::close, Clock::now(), config.timeouts.close);
  co_await ws.async_close(websocket::close_code::normal, use);
}

}  // namespace wsload::detail
