// The load engine: runs a LoadConfig over a small pool of threads and returns a Summary.
//
// Each thread owns an io_context (concurrency hint 1: no locking inside Asio), a share
// of the connections, and its own statistics; they are merged once, at the end. A
// watchdog coroutine per thread enforces every deadline and publishes progress counters
// a few times a second, so the per-message path takes no lock and touches no shared
// atomic.
//
// This header names no Boost type: the definitions live in impl/engine.ipp (see
// detail/linkage.hpp for compiling them once per program).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <sys/resource.h>

#include <wsload/config.hpp>
#include <wsload/detail/linkage.hpp>
#include <wsload/results/summary.hpp>

namespace wsload {

/// A snapshot of a running load, for progress displays.
struct Progress {
  std::uint64_t done = 0;      ///< requests completed, successfully or not
  std::uint64_t expected = 0;  ///< requests the run will make; 0 when bounded by time only
  Seconds planned{0};          ///< how long it sends, when bounded by time
  std::uint64_t failed = 0;
  double rate = 0;  ///< requests per second over the last interval
  Seconds elapsed{0};
  /// Latency percentiles of the requests completed over the last interval (seconds, from
  /// copies the engine's threads refresh four times a second); empty when none completed.
  std::optional<double> latency_p50;
  std::optional<double> latency_p99;
  double target_rate = 0;  ///< open loop: requests per second the schedule asks now
  std::size_t stage = 0;   ///< open loop with stages: which one, from 1; 0 without
  std::size_t stages = 0;
};

using ProgressCallback = std::function<void(const Progress&)>;

/// Raises this process's soft limit of open files towards `files`, as far as the hard
/// limit allows (a socket is a file, and 1024 is a common default). Returns the limit now
/// in force and the hard one; RLIM_INFINITY when there is none.
inline rlimit raise_open_file_limit(std::size_t files) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return {RLIM_INFINITY, RLIM_INFINITY};
  const auto needed = static_cast<rlim_t>(files);
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= needed) return limit;
  const rlim_t raised = limit.rlim_max == RLIM_INFINITY ? needed : std::min(needed, limit.rlim_max);
  rlimit wanted{raised, limit.rlim_max};
  if (setrlimit(RLIMIT_NOFILE, &wanted) == 0) limit.rlim_cur = raised;
  return limit;
}

/// raise_open_file_limit(files), or a ConfigError naming `field` when the hard limit is
/// lower than `files`.
inline void ensure_open_files(std::size_t files, const std::string& field = "connections") {
  const rlimit limit = raise_open_file_limit(files);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < static_cast<rlim_t>(files)) {
    throw ConfigError(field, "",
                      "needs about " + std::to_string(files) +
                          " open files (a socket per connection, a few for event loops, name "
                          "resolution and outputs), but this process may open only " +
                          std::to_string(limit.rlim_cur) + " (ulimit -n; hard limit " +
                          (limit.rlim_max == RLIM_INFINITY ? std::string("unlimited")
                                                           : std::to_string(limit.rlim_max)) +
                          "): raise the limit, or split the load into shards");
  }
}

/// The files (descriptors) a run of `config` keeps open at most: those this process has
/// open already, a socket per connection, an event loop per engine thread and one to
/// resolve the host (epoll, eventfd and timerfd each), and a few that come and go (name
/// resolution, TLS trust stores, the outputs' temporary files).
inline std::size_t open_files_needed(const LoadConfig& config) {
  std::size_t open_now = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator fd("/proc/self/fd", ec), end; !ec && fd != end;
       fd.increment(ec)) {
    ++open_now;
  }
  // The listing counts its own descriptor; without /proc, guess generously.
  open_now = ec || open_now == 0 ? 64 : open_now - 1;
  constexpr std::size_t per_event_loop = 3;
  constexpr std::size_t passing = 8;
  return open_now + config.own_connections() + per_event_loop * (effective_threads(config) + 1) +
         passing;
}

/// Runs one load. Construct, then run() once; stop() may be called from any thread
/// (a signal-watching thread, a progress callback, a test) to end the run early:
/// requests not completed are counted as `interrupted` and the summary says so.
class Engine {
 public:
  /// Validates the configuration, and reads the AWS credentials when it signs. Throws
  /// ConfigError naming the first invalid field or missing variable.
  WSLOAD_DECL explicit Engine(LoadConfig config);
  WSLOAD_DECL ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Runs the load to completion or to its deadline and returns the summary with the
  /// thresholds judged. Network failures are counted in the summary, never thrown.
  /// `on_progress` is called on the calling thread every `interval` while running.
  /// Throws ConfigError for TLS settings that cannot be loaded (e.g. a bad CA file).
  WSLOAD_DECL Summary run(const ProgressCallback& on_progress = {},
                          std::chrono::milliseconds interval = std::chrono::milliseconds(100));

  /// Ends a running load promptly. Thread-safe; not async-signal-safe.
  WSLOAD_DECL void stop() noexcept;

  /// With a metrics endpoint (config.metrics), keeps it up for config.metrics.linger so
  /// the last scrape sees the final figures; stop() ends the wait. Otherwise returns.
  WSLOAD_DECL void linger();

  /// The port the metrics endpoint listens on; 0 without one.
  WSLOAD_DECL std::uint16_t metrics_port() const;

  WSLOAD_DECL const LoadConfig& config() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Runs `config` and returns its summary: `Engine(config).run(on_progress)`.
inline Summary run_load(const LoadConfig& config, const ProgressCallback& on_progress = {}) {
  return Engine(config).run(on_progress);
}

}  // namespace wsload

#ifndef WSLOAD_SEPARATE_COMPILATION
#include <wsload/impl/engine.ipp>
#endif
