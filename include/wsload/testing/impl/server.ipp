// Definitions for testing/server.hpp.
#pragma once

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include <wsload/detail/net/asio.hpp>
#include <wsload/testing/certificate.hpp>
#include <wsload/testing/server.hpp>

namespace wsload::testing {

struct Server::Impl {
  explicit Impl(ServerOptions options) : options_(std::move(options)) {
    using namespace detail;
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(options_.address, ec);
    if (ec || !address.is_loopback()) {
      throw std::invalid_argument("wsload::testing::Server binds loopback only, not '" +
                                  options_.address + "'");
    }
    if (options_.tls) {
      certificate_ = make_self_signed_certificate();
      tls_.use_certificate_chain(asio::buffer(certificate_.cert_pem));
      tls_.use_private_key(asio::buffer(certificate_.key_pem), ssl::context::pem);
    }
    const tcp::endpoint endpoint(address, options_.port);
    acceptor_.emplace(*ioc_);
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error("wsload::testing::Server cannot listen on " + options_.address +
                               ":" + std::to_string(options_.port) + ": " + ec.message());
    }
    port_ = acceptor_->local_endpoint().port();
    asio::co_spawn(*ioc_, accept_loop(), asio::detached);
    for (unsigned i = 0; i < std::max(1u, options_.threads); ++i) {
      threads_.emplace_back([this] { ioc_->run(); });
    }
  }

  std::string url(const std::string& path) const {
    const bool v6 = options_.address.find(':') != std::string::npos;
    return std::string(options_.tls ? "wss" : "ws") + "://" +
           (v6 ? "[" + options_.address + "]" : options_.address) + ":" + std::to_string(port_) +
           path;
  }

  void stop() {
    std::call_once(stopped_, [this] {
      ioc_->stop();
      for (auto& t : threads_) t.join();
      // The sessions' frames, and with them their sockets, go with the io_context: the
      // port refuses connections and every client sees its connection end, now.
      acceptor_.reset();
      ioc_.reset();
    });
  }

  detail::asio::awaitable<void> accept_loop() {
    using namespace detail;
    for (;;) {
      boost::system::error_code ec;
      auto socket = co_await acceptor_->async_accept(asio::make_strand(*ioc_),
                                                     asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) continue;  // e.g. EMFILE: keep serving the connections that exist
      const auto index = connections_.fetch_add(1, std::memory_order_relaxed);
      const bool faulty =
          options_.fault != Fault::none && index % std::max(1u, options_.fault_every) == 0;
      auto executor = socket.get_executor();
      asio::co_spawn(executor, session(std::move(socket), faulty), asio::detached);
    }
  }

  detail::asio::awaitable<void> session(detail::tcp::socket socket, bool faulty) {
    using namespace detail;
    socket.set_option(tcp::no_delay(true));
    if (faulty && options_.fault == Fault::slow_read) {
      // A small window, so the client feels the back-pressure instead of the kernel.
      boost::system::error_code ignored;
      socket.set_option(asio::socket_base::receive_buffer_size(static_cast<int>(
                            std::min<std::size_t>(options_.slow_read_bytes, 1 << 20))),
                        ignored);
    }
    beast::tcp_stream stream(std::move(socket));
    if (!options_.tls) {
      co_await serve(std::move(stream), faulty);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(stream), tls_);
    boost::system::error_code ec;
    beast::get_lowest_layer(tls_stream).expires_after(std::chrono::seconds(10));
    co_await tls_stream.async_handshake(ssl::stream_base::server,
                                        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    co_await serve(std::move(tls_stream), faulty);
  }

  template <class Stream>
  detail::asio::awaitable<void> serve(Stream stream, bool faulty) {
    using namespace detail;
    boost::system::error_code ec;
    auto use = asio::redirect_error(asio::use_awaitable, ec);
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    co_await http::async_read(stream, buffer, request, use);
    if (ec) co_return;
    {
      ObservedHandshake seen;
      seen.target = std::string(request.target());
      for (const auto& field : request) {
        std::string name(field.name_string());
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        seen.headers[name] = std::string(field.value());
      }
      std::lock_guard lock(mutex_);
      handshakes_.push_back(std::move(seen));
    }
    if (options_.sigv4) {
      const auto why = aws::verify_presigned(
          *options_.sigv4, std::string(request[http::field::host]), std::string(request.target()),
          std::chrono::system_clock::now(), options_.sigv4_service);
      if (!why.empty()) {
        rejected_signatures_.fetch_add(1, std::memory_order_relaxed);
        http::response<http::string_body> response{http::status::forbidden, request.version()};
        response.body() = R"({"message":"Forbidden"})";
        response.prepare_payload();
        co_await http::async_write(stream, response, use);
        co_return;
      }
    }
    const Fault fault = faulty ? options_.fault : Fault::none;
    if (fault == Fault::ignore_upgrade) {
      // Hold the connection without a word until the client gives up (or a minute).
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(60));
      co_await http::async_read(stream, buffer, request, use);
      co_return;
    }
    if (fault == Fault::reject_upgrade) {
      http::response<http::string_body> response{static_cast<http::status>(options_.reject_status),
                                                 request.version()};
      response.body() = "wsload test server: upgrade rejected on purpose\n";
      response.prepare_payload();
      co_await http::async_write(stream, response, use);
      co_return;
    }
    if (!websocket::is_upgrade(request)) {
      http::response<http::string_body> response{http::status::bad_request, request.version()};
      response.body() = "wsload test server: WebSocket upgrade expected\n";
      response.prepare_payload();
      co_await http::async_write(stream, response, use);
      co_return;
    }

    websocket::stream<Stream> ws(std::move(stream));
    beast::get_lowest_layer(ws).expires_never();
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    const std::string protocols(request[http::field::sec_websocket_protocol]);
    ws.set_option(websocket::stream_base::decorator([protocols](websocket::response_type& res) {
      res.set(http::field::server, "wsload-test-server");
      // RFC 6455 4.2.2: the server selects one of the client's subprotocols.
      if (!protocols.empty())
        res.set(http::field::sec_websocket_protocol, protocols.substr(0, protocols.find(',')));
    }));
    if (options_.compression) {
      websocket::permessage_deflate deflate;
      deflate.server_enable = true;
      ws.set_option(deflate);
    }
    co_await ws.async_accept(request, use);
    if (ec) co_return;
    if (options_.mode == ReplyMode::api_gateway) {
      co_await serve_api_gateway(ws);
      co_return;
    }

    asio::steady_timer delay(ws.get_executor());
    for (std::size_t replied = 0;; ++replied) {
      buffer.consume(buffer.size());
      if (fault == Fault::deaf_after && replied >= options_.fault_after) {
        // Below the WebSocket layer, so nothing is answered, not even a close; the
        // client's closing its socket (or the server's stop) ends the read.
        char ignored[4096];
        while (!ec) {
          co_await beast::get_lowest_layer(ws).async_read_some(asio::buffer(ignored), use);
        }
        co_return;
      }
      if (fault == Fault::slow_read && replied >= options_.fault_after) {
        do {
          co_await ws.async_read_some(buffer, std::max<std::size_t>(options_.slow_read_bytes, 1),
                                      use);
          if (ec) co_return;
          delay.expires_after(options_.slow_read_pause);
          co_await delay.async_wait(use);
          if (ec) co_return;
        } while (!ws.is_message_done());
      } else {
        co_await ws.async_read(buffer, use);
      }
      if (ec) co_return;
      messages_.fetch_add(1, std::memory_order_relaxed);
      if (options_.mode == ReplyMode::silent) continue;
      if (options_.service_time.count() > 0) {
        delay.expires_at(next_service_end());
        co_await delay.async_wait(use);
        if (ec) co_return;
      }
      if (options_.reply_delay.count() > 0) {
        delay.expires_after(options_.reply_delay);
        co_await delay.async_wait(use);
        if (ec) co_return;
      }
      if (options_.pause_for.count() > 0) {
        const auto from = started_ + options_.pause_from;
        const auto now = std::chrono::steady_clock::now();
        if (now >= from && now < from + options_.pause_for) {
          delay.expires_at(from + options_.pause_for);
          co_await delay.async_wait(use);
          if (ec) co_return;
        }
      }
      if (replied >= options_.fault_after) {
        if (fault == Fault::close_after) {
          co_await ws.async_close(
              websocket::close_reason(static_cast<std::uint16_t>(options_.close_code)), use);
          co_return;
        }
        if (fault == Fault::reset_after) {
          auto& socket = beast::get_lowest_layer(ws).socket();
          socket.set_option(asio::socket_base::linger(true, 0), ec);
          socket.close(ec);
          co_return;
        }
        if (fault == Fault::malformed_after) {
          // FIN + opcode 0x3, which RFC 6455 5.2 reserves: the peer must fail the connection.
          static constexpr unsigned char reserved_opcode[] = {0x83, 0x00};
          co_await asio::async_write(ws.next_layer(), asio::buffer(reserved_opcode), use);
          co_await ws.async_read(buffer, use);  // until the client gives up
          co_return;
        }
      }
      if (fault == Fault::ping_flood) {
        for (int i = 0; i < 50 && !ec; ++i) co_await ws.async_ping({}, use);
        if (ec) co_return;
      }
      ws.text(ws.got_text());
      if (fault == Fault::oversized_reply) {
        const std::string big(options_.oversized_bytes, 'x');
        co_await ws.async_write(asio::buffer(big), use);
      } else {
        co_await ws.async_write(buffer.data(), use);
      }
      if (ec) co_return;
    }
  }

  // --- ReplyMode::api_gateway -------------------------------------------------------
  // The reader turns each message into frames due at given times; a writer sends them in
  // time order (so a quick route overtakes a slow one) and closes idle or old
  // connections with 1001, as API Gateway does.

  using Clock = std::chrono::steady_clock;
  struct Outgoing {
    std::uint64_t request = 0;  ///< arrival order on the connection
    std::string frame;
  };
  struct Outbox {
    explicit Outbox(const detail::asio::any_io_executor& executor)
        : wake(executor), writer_done(executor) {}
    std::multimap<Clock::time_point, Outgoing> frames;
    detail::asio::steady_timer wake;
    detail::asio::steady_timer writer_done;
    bool reading = true;
    bool writing = true;
    Clock::time_point last_message;
    Clock::time_point opened;
  };

  std::vector<std::string> route_frames(const std::string& body, std::uint64_t request,
                                        const std::string& connection_id,
                                        std::vector<std::chrono::milliseconds>& delays) {
    using nlohmann::json;
    json parsed = json::parse(body, nullptr, false);
    std::string route_name = "$default";
    json id;
    if (!parsed.is_discarded()) {
      try {
        const json::json_pointer key(options_.route_key);
        if (parsed.contains(key) && parsed.at(key).is_string()) route_name = parsed.at(key);
        if (!options_.id_pointer.empty()) {
          const json::json_pointer id_at(options_.id_pointer);
          if (parsed.contains(id_at)) id = parsed.at(id_at);
        }
      } catch (const json::exception&) {
      }
    }
    auto route = options_.routes.find(route_name);
    if (route == options_.routes.end()) route = options_.routes.find("$default");
    const std::string request_id = "req-" + std::to_string(request);
    auto error = [&](const std::string& message) {
      return json{{"message", message}, {"connectionId", connection_id}, {"requestId", request_id}}
          .dump();
    };
    auto with_id = [&](json frame) {
      if (!id.is_null()) frame["id"] = id;
      return frame.dump();
    };
    std::vector<std::string> frames;
    if (route == options_.routes.end()) {
      frames.push_back(error("Forbidden"));
      delays.push_back({});
      return frames;
    }
    const Route& r = route->second;
    if (r.stray_frame) {
      frames.push_back(json{{"id", "stray"}, {"type", "notice"}}.dump());
      delays.push_back({});
    }
    switch (r.kind) {
      case Route::Kind::echo:
        frames.push_back(body);
        delays.push_back(r.delay);
        break;
      case Route::Kind::error:
        frames.push_back(error(r.error_message));
        delays.push_back(r.delay);
        break;
      case Route::Kind::stream:
        for (std::size_t i = 0; i < r.chunks; ++i) {
          frames.push_back(with_id(
              {{"type", "chunk"}, {"index", i}, {"text", "token" + std::to_string(i) + " "}}));
          delays.push_back(r.delay + r.chunk_delay * static_cast<int>(i + 1));
        }
        frames.push_back(with_id({{"type", "end"}, {"done", true}}));
        delays.push_back(r.delay + r.chunk_delay * static_cast<int>(r.chunks));
        break;
      case Route::Kind::tokens: {
        frames.push_back(with_id({{"type", "ack"}}));
        delays.push_back({});
        for (std::size_t i = 0; i < r.chunks; ++i) {
          frames.push_back(
              with_id({{"type", "token"}, {"index", i}, {"text", "tok" + std::to_string(i)}}));
          delays.push_back(r.delay + r.chunk_delay * static_cast<int>(i));
        }
        frames.push_back(with_id({{"type", "end"}, {"usage", {{"output_tokens", r.chunks}}}}));
        delays.push_back(delays.back());
        break;
      }
      case Route::Kind::silent:
        break;
    }
    return frames;
  }

  template <class WebSocket>
  detail::asio::awaitable<void> write_outbox(WebSocket& ws, Outbox& box) {
    using namespace detail;
    boost::system::error_code ec;
    std::uint64_t latest_request = 0;
    bool any = false;
    while (box.reading) {
      auto due = Clock::time_point::max();
      if (!box.frames.empty()) due = box.frames.begin()->first;
      auto close_at = Clock::time_point::max();
      if (options_.idle_timeout.count() > 0) close_at = box.last_message + options_.idle_timeout;
      if (options_.max_connection_duration.count() > 0) {
        close_at = std::min(close_at, box.opened + options_.max_connection_duration);
      }
      const auto now = Clock::now();
      if (close_at <= now) {
        co_await ws.async_close(
            websocket::close_reason(websocket::close_code::going_away, "Going away"),
            asio::redirect_error(asio::use_awaitable, ec));
        break;
      }
      if (due <= now) {
        auto node = box.frames.extract(box.frames.begin());
        if (any && node.mapped().request < latest_request) {
          reordered_.fetch_add(1, std::memory_order_relaxed);
        }
        latest_request = std::max(latest_request, node.mapped().request);
        any = true;
        co_await ws.async_write(asio::buffer(node.mapped().frame),
                                asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        continue;
      }
      box.wake.expires_at(std::min(due, close_at));
      co_await box.wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    box.writing = false;
    box.writer_done.cancel();
  }

  template <class WebSocket>
  detail::asio::awaitable<void> serve_api_gateway(WebSocket& ws) {
    using namespace detail;
    boost::system::error_code ec;
    Outbox box(ws.get_executor());
    box.opened = box.last_message = Clock::now();
    const std::string connection_id = "conn-" + std::to_string(connections_.load()) + "=";
    asio::co_spawn(ws.get_executor(), write_outbox(ws, box), asio::detached);
    beast::flat_buffer buffer;
    for (std::uint64_t request = 0;; ++request) {
      buffer.consume(buffer.size());
      co_await ws.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      messages_.fetch_add(1, std::memory_order_relaxed);
      const auto now = Clock::now();
      box.last_message = now;
      {
        std::lock_guard lock(mutex_);
        if (received_.size() < 10'000) received_.push_back(beast::buffers_to_string(buffer.data()));
      }
      std::vector<std::chrono::milliseconds> delays;
      auto frames =
          route_frames(beast::buffers_to_string(buffer.data()), request, connection_id, delays);
      for (std::size_t i = 0; i < frames.size(); ++i) {
        box.frames.emplace(now + delays[i], Outgoing{request, std::move(frames[i])});
      }
      box.wake.cancel();
    }
    box.reading = false;
    box.wake.cancel();
    while (box.writing) {
      box.writer_done.expires_at(Clock::time_point::max());
      co_await box.writer_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  /// ServerOptions::service_time: when the message arriving now is served, behind every
  /// one that arrived before it (a single server's queue, kept as the time it frees up).
  std::chrono::steady_clock::time_point next_service_end() {
    const std::lock_guard lock(mutex_);
    service_free_at_ =
        std::max(service_free_at_, std::chrono::steady_clock::now()) + options_.service_time;
    return service_free_at_;
  }

  ServerOptions options_;
  Certificate certificate_;
  // The TLS context outlives the io_context: sessions destroyed with it hold SSL objects.
  detail::ssl::context tls_{detail::ssl::context::tls_server};
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> messages_{0};
  std::atomic<std::uint64_t> reordered_{0};
  std::atomic<std::uint64_t> rejected_signatures_{0};
  mutable std::mutex mutex_;
  std::vector<ObservedHandshake> handshakes_;
  std::vector<std::string> received_;
  std::once_flag stopped_;
  std::uint16_t port_ = 0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point service_free_at_{};  ///< guarded by mutex_
  std::unique_ptr<detail::asio::io_context> ioc_ = std::make_unique<detail::asio::io_context>();
  std::optional<detail::tcp::acceptor> acceptor_;
  std::vector<std::thread> threads_;
};

WSLOAD_DECL Server::Server(ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
WSLOAD_DECL Server::~Server() {
  stop();
}
WSLOAD_DECL std::uint16_t Server::port() const noexcept {
  return impl_->port_;
}
WSLOAD_DECL std::string Server::url(const std::string& path) const {
  return impl_->url(path);
}
WSLOAD_DECL const std::string& Server::ca_pem() const noexcept {
  return impl_->certificate_.cert_pem;
}
WSLOAD_DECL std::uint64_t Server::connections() const noexcept {
  return impl_->connections_.load();
}
WSLOAD_DECL std::uint64_t Server::messages() const noexcept {
  return impl_->messages_.load();
}
WSLOAD_DECL std::vector<ObservedHandshake> Server::handshakes() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->handshakes_;
}
WSLOAD_DECL std::vector<std::string> Server::received() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->received_;
}
WSLOAD_DECL std::uint64_t Server::reordered() const noexcept {
  return impl_->reordered_.load();
}
WSLOAD_DECL std::uint64_t Server::rejected_signatures() const noexcept {
  return impl_->rejected_signatures_.load();
}
WSLOAD_DECL void Server::stop() {
  impl_->stop();
}

WSLOAD_DECL std::uint16_t unused_loopback_port() {
  using namespace detail;
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();  // closed again on return
}

}  // namespace wsload::testing
