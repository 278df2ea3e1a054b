// Opening and closing a load connection: TCP connect, TLS (SNI, the identity to verify),
// the WebSocket upgrade and what the server's 101 may not choose; the closing handshake
// that counts the frames it drains.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <wsload/aws_sigv4.hpp>
#include <wsload/config.hpp>
#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/classify.hpp>
#include <wsload/detail/net/state.hpp>
#include <wsload/detail/net/tls_socket.hpp>
#include <wsload/errors.hpp>
#include <wsload/message.hpp>
#include <wsload/redact.hpp>
#include <wsload/url.hpp>

namespace wsload::detail {

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

inline void emplace_stream(std::optional<websocket::stream<PlainSocket>>& ws,
                           const asio::any_io_executor& executor, RunContext&) {
  ws.emplace(executor);
}

inline void emplace_stream(std::optional<websocket::stream<TlsSocket>>& ws,
                           const asio::any_io_executor& executor, RunContext& run) {
  ws.emplace(executor, *run.tls);
}

/// The subprotocols offered, as the upgrade's Sec-WebSocket-Protocol lists them.
inline std::string joined_subprotocols(const std::vector<std::string>& offered) {
  std::string joined;
  for (const auto& p : offered) joined += (joined.empty() ? "" : ", ") + p;
  return joined;
}

/// Whether the server's 101 response agreed on permessage-deflate (RFC 7692 5): Beast
/// 1.74 keeps what it negotiated to itself, and reads this same header to decide.
inline bool deflate_agreed(const websocket::response_type& response) {
  const auto it = response.find(http::field::sec_websocket_extensions);
  if (it == response.end()) return false;
  for (const auto& extension : http::ext_list(it->value())) {
    if (beast::iequals(extension.first, "permessage-deflate")) return true;
  }
  return false;
}

/// What the server's 101 response chose that fails the connection: an extension not
/// offered (RFC 6455 9.1; wsload offers only permessage-deflate, when `deflate_offered`),
/// a subprotocol not among `offered` (4.1), or none when some were offered (a client that
/// asks for a subprotocol needs one, as browsers do). Empty when the choice is sound.
inline std::optional<std::string> unsound_choice(const websocket::response_type& response,
                                                 const std::vector<std::string>& offered,
                                                 bool deflate_offered) {
  const auto chosen = [&](http::field field) {
    const auto it = response.find(field);
    return it == response.end() ? std::string() : std::string(it->value());
  };
  if (const auto extensions = chosen(http::field::sec_websocket_extensions); !extensions.empty()) {
    bool offered_only = deflate_offered;
    for (const auto& extension : http::ext_list(extensions)) {
      offered_only = offered_only && beast::iequals(extension.first, "permessage-deflate");
    }
    if (!offered_only) {
      return "the server chose the extension '" + shorten(extensions) +
             "', which was not offered (" +
             (deflate_offered ? "only permessage-deflate was; " : "") + "RFC 6455 9.1)";
    }
  }
  const auto subprotocol = chosen(http::field::sec_websocket_protocol);
  // Offered subprotocols may carry tokens: shown redacted, as the one chosen.
  const auto offer = "'" + shorten(joined_subprotocols(redact_subprotocols(offered))) + "'";
  if (subprotocol.empty()) {
    if (offered.empty()) return std::nullopt;
    return "the server chose no subprotocol; offered " + offer + " (one is required)";
  }
  if (std::find(offered.begin(), offered.end(), subprotocol) != offered.end()) return std::nullopt;
  return "the server chose the subprotocol '" + shorten(redact_subprotocols({subprotocol})[0]) +
         "', which was not offered; " +
         (offered.empty() ? std::string("none was") : "offered " + offer) + " (RFC 6455 4.1)";
}

/// Whether a connection of the run may read and write its frames itself after the upgrade
/// (direct_frames.hpp): the sequential prompt loop and sessions, on an uncompressed
/// connection.
inline bool direct_frames_possible(const RunContext& run) {
  return !run.config.compression && !run.correlation;
}

/// Connects, negotiates TLS and upgrades `ws`; the reason when any step fails.
template <class Stream>
asio::awaitable<std::optional<Failure>> open_connection(RunContext& run, ConnectionSlot& slot,
                                                        Stream& ws) {
  const LoadConfig& config = run.config;
  boost::system::error_code ec;
  auto use = asio::redirect_error(asio::use_awaitable, ec);
  tcp::socket& socket = beast::get_lowest_layer(ws);
  slot.tearing_down = false;
  ws.next_layer().on_teardown = [&slot, close = config.timeouts.close] {
    slot.tear_down(Clock::now(), close);
  };

  slot.arm(Phase::connect, Clock::now(), config.timeouts.connect);
  co_await asio::async_connect(socket, run.endpoints, use);
  if (ec) co_return classify(ec, slot, {});
  socket.set_option(tcp::no_delay(true), ec);

  if constexpr (!std::is_same_v<Stream, websocket::stream<PlainSocket>>) {
    slot.arm(Phase::tls, Clock::now(), config.timeouts.handshake);
    SSL* ssl = ws.next_layer().native_handle();
    if (!prepare_tls(ssl, run.url, config.tls.insecure)) {
      co_return Failure{ErrorKind::tls, "cannot set the server name to verify"};
    }
    co_await ws.next_layer().async_handshake(use);
    if (ec) {
      auto why = classify(ec, slot, {});
      if (slot.abort == Abort::none) why.second = tls_failure_detail(ssl, ec);
      co_return why;
    }
  }

  slot.arm(Phase::upgrade, Clock::now(), config.timeouts.handshake);
  ws.set_option(websocket::stream_base::decorator([&config](websocket::request_type& req) {
    req.set(http::field::user_agent, "wsload/0.1");
    if (!config.origin.empty()) req.set(http::field::origin, config.origin);
    for (const auto& h : config.headers) req.set(h.name, h.value);
    if (!config.subprotocols.empty()) {
      req.set(http::field::sec_websocket_protocol, joined_subprotocols(config.subprotocols));
    }
  }));
  if (config.compression) {
    websocket::permessage_deflate deflate;
    deflate.client_enable = true;
    ws.set_option(deflate);
  }
  std::string target = run.url.target();
  if (run.aws) {
    // Signed at this connection's own connect time: a long run outlives any one signature.
    target = run.url.path + "?" +
             aws::presign_query(*run.aws, run.url.host_header(), run.url.path, run.url.query,
                                std::chrono::system_clock::now(), config.aws.service,
                                config.aws.expires);
  }
  if constexpr (std::is_same_v<Stream, websocket::stream<PlainSocket>>) {
    if (direct_frames_possible(run)) ws.next_layer().stop_reads_at_header();
  }
  websocket::response_type response;
  co_await ws.async_handshake(response, run.url.host_header(), target, use);
  if (ec) {
    if (ec == websocket::error::upgrade_declined && slot.abort == Abort::none) {
      co_return Failure{ErrorKind::handshake_rejected,
                        "HTTP " + std::to_string(response.result_int())};
    }
    co_return classify(ec, slot, {});
  }
  if (auto unsound = unsound_choice(response, config.subprotocols, config.compression)) {
    co_return Failure{ErrorKind::handshake, std::move(*unsound)};
  }
  slot.compressed = config.compression && deflate_agreed(response);
  ws.read_message_max(config.max_message_size);
  ws.binary(config.binary);
  // API Gateway takes frames of at most 32 KB.
  ws.auto_fragment(true);
  ws.write_buffer_bytes(run.write_buffer_bytes);
  co_return std::nullopt;
}

/// Reads frames until the connection closes, counting each: frames that arrive after the
/// last reply belong to no request.
template <class Stream>
asio::awaitable<void> count_leftovers(ThreadState& state, Stream& ws, bool& reading,
                                      asio::steady_timer& done) {
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (;;) {
    co_await ws.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    ++state.unconsumed_at_close;
    buffer.consume(buffer.size());
  }
  reading = false;
  done.cancel();
}

/// The closing handshake of a connection with no reader of its own, bounded by
/// `timeout`. A reader runs beside it, so the frames the close would drain unseen are
/// counted; a close cut short is counted too, and is no failure of any request.
template <class Stream>
asio::awaitable<void> close_counting_leftovers(ThreadState& state, ConnectionSlot& slot, Stream& ws,
                                               std::chrono::milliseconds timeout) {
  slot.arm(Phase::close, Clock::now(), timeout);
  bool reading = true;
  asio::steady_timer done(ws.get_executor(), Clock::time_point::max());
  asio::co_spawn(ws.get_executor(), count_leftovers(state, ws, reading, done), asio::detached);
  boost::system::error_code ec;
  auto use = asio::redirect_error(asio::use_awaitable, ec);
  // Let the reader start its read first, so the close finds it reading and leaves the
  // draining to it.
  co_await asio::post(ws.get_executor(), asio::use_awaitable);
  co_await ws.async_close(websocket::close_code::normal, use);
  while (reading) {
    done.expires_at(Clock::time_point::max());
    co_await done.async_wait(use);
  }
  if (slot.abort != Abort::none) ++state.close_timeouts;
}

}  // namespace wsload::detail
