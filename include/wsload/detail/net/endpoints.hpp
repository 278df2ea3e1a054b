// Where a run's connections go: the host resolved once under a timeout, and the trust
// that wss:// peers are verified against.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <wsload/config.hpp>
#include <wsload/detail/net/asio.hpp>
#include <wsload/url.hpp>

namespace wsload::detail {

/// Resolves on a detached thread so that a hung resolver cannot outlive the timeout
/// (getaddrinfo cannot be cancelled).
inline std::pair<std::vector<tcp::endpoint>, std::string> resolve(
    const Url& url, std::chrono::milliseconds timeout) {
  struct Shared {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
    std::vector<tcp::endpoint> endpoints;
    std::string error;
  };
  auto shared = std::make_shared<Shared>();
  std::thread([shared, host = url.host, port = std::to_string(url.port)] {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    boost::system::error_code ec;
    auto results = resolver.resolve(host, port, ec);
    std::lock_guard lock(shared->mutex);
    if (ec) shared->error = ec.message();
    for (const auto& r : results) shared->endpoints.push_back(r.endpoint());
    shared->done = true;
    shared->cv.notify_all();
  }).detach();
  std::unique_lock lock(shared->mutex);
  if (!shared->cv.wait_for(lock, timeout, [&] { return shared->done; })) {
    return {{}, "timed out"};
  }
  if (shared->endpoints.empty() && shared->error.empty()) shared->error = "no addresses";
  return {shared->endpoints, shared->error};
}

inline void load_trust(ssl::context& tls, const TlsOptions& options) {
  boost::system::error_code ec;
  tls.set_default_verify_paths(ec);  // a machine without a trust store still takes a CA file
  if (!options.ca_file.empty()) {
    tls.load_verify_file(options.ca_file, ec);
    if (ec)
      throw ConfigError("ca file", options.ca_file,
                        "is not a PEM certificate file: " + ec.message());
  }
  if (!options.ca_pem.empty()) {
    tls.add_certificate_authority(asio::buffer(options.ca_pem), ec);
    if (ec) throw ConfigError("ca_pem", "", "is not a PEM certificate: " + ec.message());
  }
  tls.set_verify_mode(options.insecure ? ssl::verify_none : ssl::verify_peer);
}

}  // namespace wsload::detail
