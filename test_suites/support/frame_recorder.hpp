// A bare WebSocket server on a POSIX socket, for what a Beast server hides: the frames a
// client sends, and answers no RFC 6455 server would give. It answers one connection's
// upgrade (or a given number, one after another), records every frame (opcode, FIN, payload size)
// and echoes each complete message as a single frame, unless told to misbehave. Loopback only;
// every read is bounded by a timeout.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wsload/detail/base64.hpp>

namespace wsload::test {

struct ObservedFrame {
  int opcode = 0;  ///< 1 text, 0 continuation, 8 close, 10 pong
  bool fin = false;
  std::size_t size = 0;
  std::string payload;  ///< unmasked
};

/// How a FrameRecorder misbehaves; the default is a well-behaved echo server.
struct Misbehaviour {
  /// Header lines added to the 101 response, each ending in \r\n.
  std::string upgrade_headers;
  /// Bytes sent as they are instead of the first echo; then nothing more is sent, not even
  /// an answer to a close frame, and the connection stays open until the server ends.
  std::string first_reply;
  /// The text frames sent for each complete message instead of its echo (none: silence).
  std::function<std::vector<std::string>(const std::string& message)> answer;
  /// Bytes sent as they are for each complete message instead of its echo: frames of any
  /// kind, well formed or not (see frame()).
  std::function<std::string(const std::string& message)> answer_bytes;
  /// Bytes sent in the same write as the 101 response, right after it.
  std::string after_upgrade;
  /// The server socket's receive buffer in bytes (SO_RCVBUF; 0: the system's, which
  /// grows): a small one keeps a large request from fitting in one send.
  int receive_buffer = 0;
  /// Connections served, one after another (the frames of all are recorded).
  int connections = 1;
};

/// An unmasked frame as a server sends it: `first_byte` is FIN, RSV and the opcode
/// (0x81 for a whole text message).
inline std::string frame(unsigned char first_byte, const std::string& payload) {
  std::string out(1, static_cast<char>(first_byte));
  if (payload.size() < 126) {
    out += static_cast<char>(payload.size());
  } else if (payload.size() < 65536) {
    out += static_cast<char>(126);
    out += static_cast<char>(payload.size() >> 8);
    out += static_cast<char>(payload.size() & 0xff);
  } else {
    out += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) {
      out += static_cast<char>((payload.size() >> shift) & 0xff);
    }
  }
  return out + payload;
}

class FrameRecorder {
 public:
  explicit FrameRecorder(Misbehaviour misbehaviour = {}) : misbehaviour_(std::move(misbehaviour)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    // Set before listen(), so that the accepted socket has it from its handshake on.
    if (misbehaviour_.receive_buffer > 0) {
      ::setsockopt(listener_, SOL_SOCKET, SO_RCVBUF, &misbehaviour_.receive_buffer,
                   sizeof misbehaviour_.receive_buffer);
    }
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 4) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("FrameRecorder: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FrameRecorder() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }
  FrameRecorder(const FrameRecorder&) = delete;
  FrameRecorder& operator=(const FrameRecorder&) = delete;

  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/"; }
  std::vector<ObservedFrame> frames() const {
    std::lock_guard lock(mutex_);
    return frames_;
  }

 private:
  // Waits up to 10 s for data, or until told to stop.
  bool readable(int fd) const {
    for (int waited = 0; waited < 10'000 && !stop_; waited += 50) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }
  bool read_exactly(int fd, void* data, std::size_t size) const {
    auto* bytes = static_cast<unsigned char*>(data);
    while (size > 0) {
      if (!readable(fd)) return false;
      const auto n = ::recv(fd, bytes, size, 0);
      if (n <= 0) return false;
      bytes += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }
  static void write_all(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const auto n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<std::size_t>(n);
    }
  }
  static std::string frame(int opcode, const std::string& payload) {
    return wsload::test::frame(static_cast<unsigned char>(0x80 | opcode), payload);
  }

  // Reads and drops whatever comes, answering nothing, until the peer closes or the
  // server ends.
  void hold_open(int fd) const {
    char sink[4096];
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0 && ::recv(fd, sink, sizeof sink, 0) <= 0) return;
    }
  }

  void serve() {
    for (int served = 0; served < misbehaviour_.connections && !stop_; ++served) serve_one();
  }

  void serve_one() {
    int fd = -1;
    while (fd < 0 && !stop_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    }
    if (fd < 0) return;
    std::string request;
    char c = 0;
    while (request.find("\r\n\r\n") == std::string::npos && read_exactly(fd, &c, 1)) request += c;
    const auto at = request.find("Sec-WebSocket-Key: ");
    if (at == std::string::npos) {
      ::close(fd);
      return;
    }
    const auto key = request.substr(at + 19, request.find("\r\n", at) - at - 19);
    const std::string proof = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(proof.data()), proof.size(), digest);
    write_all(fd,
              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Accept: " +
                  wsload::detail::base64_encode(
                      std::string_view(reinterpret_cast<const char*>(digest), sizeof digest)) +
                  "\r\n" + misbehaviour_.upgrade_headers + "\r\n" + misbehaviour_.after_upgrade);
    std::string message;
    for (;;) {
      unsigned char head[2];
      if (!read_exactly(fd, head, 2)) break;
      std::uint64_t size = head[1] & 0x7f;
      if (size >= 126) {
        unsigned char extended[8];
        const std::size_t n = size == 126 ? 2 : 8;
        if (!read_exactly(fd, extended, n)) break;
        size = 0;
        for (std::size_t i = 0; i < n; ++i) size = size << 8 | extended[i];
      }
      unsigned char mask[4] = {};
      if ((head[1] & 0x80) && !read_exactly(fd, mask, 4)) break;
      std::string payload(size, '\0');
      if (!read_exactly(fd, payload.data(), payload.size())) break;
      for (std::size_t i = 0; i < payload.size(); ++i) payload[i] ^= static_cast<char>(mask[i % 4]);
      const ObservedFrame observed{head[0] & 0x0f, (head[0] & 0x80) != 0, payload.size(), payload};
      {
        std::lock_guard lock(mutex_);
        frames_.push_back(observed);
      }
      if (observed.opcode == 8) {
        write_all(fd, frame(8, payload.substr(0, 2)));
        break;
      }
      if (observed.opcode == 9 || observed.opcode == 10) continue;
      message += payload;
      if (observed.fin && misbehaviour_.answer_bytes) {
        write_all(fd, misbehaviour_.answer_bytes(message));
        message.clear();
      } else if (observed.fin && !misbehaviour_.first_reply.empty()) {
        write_all(fd, misbehaviour_.first_reply);
        hold_open(fd);
        break;
      } else if (observed.fin && misbehaviour_.answer) {
        std::string frames;
        for (const auto& reply : misbehaviour_.answer(message)) frames += frame(1, reply);
        write_all(fd, frames);  // in one write: the client reads them together
        message.clear();
      } else if (observed.fin) {
        write_all(fd, frame(1, message));
        message.clear();
      }
    }
    ::close(fd);
  }

  Misbehaviour misbehaviour_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<ObservedFrame> frames_;
};

}  // namespace wsload::test
