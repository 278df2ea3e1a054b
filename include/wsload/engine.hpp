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
#include <functional>
#include <memory>
#include <optional>
#include <string>

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
