// A plain HTTP/1.1 GET over loopback on a POSIX socket, for tests that read an endpoint
// (wsload's metrics, a Prometheus server's API). Every wait is bounded by `timeout`.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace wsload::test {

struct HttpReply {
  int status = 0;
  std::string headers;
  std::string body;
};

/// GET `target` from 127.0.0.1:`port`; empty when it cannot connect or does not answer
/// in time. The connection is closed after one request, so the body is what was read.
inline std::optional<HttpReply> http_get(
    std::uint16_t port, const std::string& target,
    std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return std::nullopt;
  const std::string request = "GET " + target +
                              " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                              "\r\nConnection: close\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return std::nullopt;
  }
  std::string response;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
    char chunk[16384];
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    response.append(chunk, static_cast<std::size_t>(n));
  }
  const auto end = response.find("\r\n\r\n");
  if (response.compare(0, 9, "HTTP/1.1 ") != 0 || end == std::string::npos) return std::nullopt;
  HttpReply reply;
  reply.status = std::stoi(response.substr(9, 3));
  reply.headers = response.substr(0, end);
  reply.body = response.substr(end + 4);
  if (reply.headers.find("Transfer-Encoding: chunked") != std::string::npos) {
    std::string body;
    std::size_t at = 0;
    for (;;) {
      const auto line = reply.body.find("\r\n", at);
      if (line == std::string::npos) return std::nullopt;
      const auto size = std::stoul(reply.body.substr(at, line - at), nullptr, 16);
      if (size == 0) break;
      body += reply.body.substr(line + 2, size);
      at = line + 2 + size + 2;
    }
    reply.body = std::move(body);
  }
  return reply;
}

}  // namespace wsload::test
