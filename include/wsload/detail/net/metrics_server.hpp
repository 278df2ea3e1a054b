// The HTTP endpoint a Prometheus server scrapes while a load runs: GET /metrics answers
// the text exposition that `render` makes; anything else is 404. One thread of its own,
// so the engine's threads never wait for a scraper; every read and write is bounded.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include <wsload/config.hpp>
#include <wsload/detail/net/asio.hpp>

namespace wsload::detail {

class MetricsServer {
 public:
  /// Listens on `address`. Throws ConfigError naming `field` when it cannot (in use,
  /// not an address of this machine, no permission).
  MetricsServer(const MetricsAddress& address, std::function<std::string()> render,
                const std::string& field = "metrics listen")
      : render_(std::move(render)), acceptor_(ioc_) {
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(address.host, ec);
    tcp::endpoint endpoint(ip, address.port);
    if (!ec) acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw ConfigError(field, address.host + ":" + std::to_string(address.port),
                        "cannot be listened on: " + ec.message());
    }
    asio::co_spawn(ioc_, accept(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~MetricsServer() {
    ioc_.stop();
    thread_.join();
  }
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::awaitable<void> accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) continue;  // a connection that failed before it was accepted
      asio::co_spawn(ioc_, serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    auto use = asio::redirect_error(asio::use_awaitable, ec);
    for (;;) {
      // A scraper that stalls or goes quiet holds nothing for long.
      stream.expires_after(std::chrono::seconds(10));
      http::request_parser<http::empty_body> parser;
      parser.header_limit(16 << 10);
      co_await http::async_read(stream, buffer, parser, use);
      if (ec) break;
      const auto& request = parser.get();
      http::response<http::string_body> response;
      response.version(request.version());
      response.keep_alive(request.keep_alive());
      response.set(http::field::server, "wsload");
      const std::string_view target(request.target().data(), request.target().size());
      const bool metrics = target == "/metrics" || target.substr(0, 9) == "/metrics?";
      if (request.method() != http::verb::get && request.method() != http::verb::head) {
        response.result(http::status::method_not_allowed);
        response.body() = "GET /metrics\n";
      } else if (!metrics) {
        response.result(http::status::not_found);
        response.body() = "wsload serves GET /metrics\n";
      } else {
        response.result(http::status::ok);
        response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        if (request.method() == http::verb::get) response.body() = render_();
      }
      response.prepare_payload();
      co_await http::async_write(stream, response, use);
      if (ec || !response.keep_alive()) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  }

  std::function<std::string()> render_;
  asio::io_context ioc_{1};
  tcp::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace wsload::detail
