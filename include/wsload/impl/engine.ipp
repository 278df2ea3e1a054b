// Definitions for engine.hpp: the part that compiles Boost.Beast.
#pragma once

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <wsload/client.hpp>
#include <wsload/engine.hpp>

namespace wsload {

namespace detail {

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

}  // namespace detail

struct Engine::Impl {
  struct Worker {
    explicit Worker(detail::Clock::time_point measure_from) : state(measure_from) {}
    // Declared first so it outlives coroutine frames destroyed with the io_context.
    detail::ThreadState state;
    detail::asio::io_context ioc{1};
    std::size_t connections = 0;
    std::size_t first_index = 0;  ///< its connections: first_index + k * threads
    std::size_t stride = 1;
    double cpu_user = 0;
    double cpu_system = 0;
  };

  explicit Impl(LoadConfig c)
      : config(std::move(c)), url(validate(config)), thresholds(thresholds_of(config)) {
    // Each connection is a socket; the rest is the resolver, TLS files and stdio.
    ensure_open_files(config.own_connections() + 64);
    if (config.aws.enabled) {
      credentials = aws::credentials_from_environment();
      if (!config.aws.region.empty()) credentials->region = config.aws.region;
    }
  }

  detail::asio::awaitable<void> watchdog(Worker& worker) {
    using namespace detail;
    // Timeout precision is this period; per-message timers would cost a syscall each.
    constexpr auto period = std::chrono::milliseconds(10);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto& state = worker.state;
    std::uint64_t ticks = 0;
    while (state.remaining > 0) {
      timer.expires_after(period);
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (++ticks % 5 == 0) state.publish();
      const auto now = Clock::now();
      state.loop_lag.record(
          std::chrono::duration_cast<std::chrono::microseconds>(now - timer.expiry()).count());
      Abort everyone = Abort::none;
      if (stop_requested.load(std::memory_order_relaxed)) {
        everyone = Abort::interrupted;
      } else if (now >= run_deadline) {
        everyone = Abort::run_deadline;
      }
      if (everyone != Abort::none && state.abort_all == Abort::none) state.abort_all = everyone;
      // Closing a socket completes its pending operation at once; the slot unlinks itself
      // later, from its own coroutine, so iterating here is safe.
      for (ConnectionSlot* slot : state.live) {
        if (state.abort_all != Abort::none) {
          slot->close(state.abort_all);
        } else if (now >= slot->deadline) {
          if (slot->expire) {
            slot->expire(now);
          } else {
            slot->close(Abort::timeout);
          }
        }
      }
    }
    state.publish();
  }

  void run_worker(Worker& worker, detail::RunContext& run) {
    using namespace detail;
    worker.state.remaining = worker.connections;
    for (std::size_t i = 0; i < worker.connections; ++i) {
      const std::uint64_t index = worker.first_index + i * worker.stride;
      if (url.secure) {
        asio::co_spawn(worker.ioc,
                       run_connection<websocket::stream<TlsSocket>>(run, worker.state, index),
                       asio::detached);
      } else {
        asio::co_spawn(worker.ioc,
                       run_connection<websocket::stream<tcp::socket>>(run, worker.state, index),
                       asio::detached);
      }
    }
    asio::co_spawn(worker.ioc, watchdog(worker), asio::detached);
    worker.ioc.run();
#ifdef RUSAGE_THREAD
    rusage usage{};
    if (getrusage(RUSAGE_THREAD, &usage) == 0) {
      worker.cpu_user = static_cast<double>(usage.ru_utime.tv_sec) + usage.ru_utime.tv_usec / 1e6;
      worker.cpu_system = static_cast<double>(usage.ru_stime.tv_sec) + usage.ru_stime.tv_usec / 1e6;
    }
#endif
    {
      std::lock_guard lock(mutex);
      ++finished;
    }
    finished_cv.notify_all();
  }

  Summary run(const ProgressCallback& on_progress, std::chrono::milliseconds interval) {
    using namespace detail;
    Summary summary;
    summary.name = config.name;
    summary.config = to_json(config);
    summary.shard = config.shard;
    summary.connections_configured = config.own_connections();
    const std::uint64_t expected = config.expected_requests();
    summary.total_requests = expected;
    const std::size_t threads = effective_threads(config);
    summary.threads = threads;

    std::optional<ssl::context> tls;
    if (url.secure) {
      tls.emplace(ssl::context::tls_client);
      load_trust(*tls, config.tls);
      // OpenSSL keeps record buffers per connection, idle or not (18 KiB resident,
      // measured). With thousands of connections memory is the limit, so they are held
      // only while in use; at 1,000 connections that cost no measurable CPU.
      if (config.own_connections() >= 1000) {
        SSL_CTX_set_mode(tls->native_handle(), SSL_MODE_RELEASE_BUFFERS);
      }
    }

    if (config.start_at) wait_until(*config.start_at);
    summary.started_at = iso8601(std::chrono::system_clock::now());
    const auto start = Clock::now();
    summary.measured_from = std::chrono::duration<double>(
                                std::chrono::system_clock::now().time_since_epoch() + config.warmup)
                                .count();
    run_deadline = start + config.timeouts.run;
    const auto sending = sending_time(config);
    if (sending.count() > 0) {
      // Sending stops on time; what is in flight then has its reply timeout to finish.
      run_deadline = std::min(
          run_deadline, start + to_clock(sending) + config.timeouts.reply + config.timeouts.close);
    }
    auto [endpoints, resolve_error] =
        resolve(url, std::min(config.timeouts.connect, config.timeouts.run));
    if (!resolve_error.empty()) {
      // A run bounded by time counts the one request each connection could not send.
      const auto lost = expected > 0 ? expected : config.own_connections();
      summary.total_requests = summary.failed_requests = lost;
      summary.connections_failed = config.own_connections();
      summary.errors.push_back({ErrorKind::dns, url.host + ": " + resolve_error, lost});
      summary.total_time = Clock::now() - start;
      if (!config.shard) summary.judge(thresholds);
      return summary;
    }
    RunContext run{config,
                   url,
                   std::move(endpoints),
                   tls ? &*tls : nullptr,
                   run_deadline,
                   start,
                   MessageTemplate::parse(config.message_template, "message template"),
                   Completion::parse(config.completion),
                   ErrorRules::parse(config.error_rules),
                   std::nullopt,
                   credentials,
                   false,
                   schedule_of(config),
                   config.duration.count() > 0 && !config.open_loop() ? start + config.duration
                                                                      : Clock::time_point::max()};
    if (!config.correlation.empty()) {
      run.correlation.emplace(config.correlation);
      run.id_without_prompt = id_independent_of_prompt(run.message, *run.correlation);
    }
    std::size_t largest = 0;
    for (const auto& prompt : config.prompts) {
      largest = std::max(largest, run.message.max_size(prompt));
    }
    run.write_buffer_bytes = std::max<std::size_t>(
        std::min(config.fragment_size, std::max<std::size_t>(largest, 512)), 8);
    run.parse_frames = run.error_rules.needs_json() ||
                       (run.completion.until && run.completion.until->needs_json());

    workers.clear();
    finished = 0;
    const Shard shard = config.shard.value_or(Shard{});
    for (std::size_t i = 0; i < threads; ++i) {
      workers.push_back(std::make_unique<Worker>(start + config.warmup));
      workers.back()->state.series.keep_windows(thresholds);
      workers.back()->first_index = shard.connection(i);
      workers.back()->stride = threads * shard.count;
    }
    for (std::size_t c = 0; c < config.own_connections(); ++c) ++workers[c % threads]->connections;
    std::vector<std::thread> pool;
    for (auto& worker : workers)
      pool.emplace_back([this, &worker, &run] { run_worker(*worker, run); });

    // Past the deadline every connection is closed within a watchdog period; this is the
    // last resort if a thread still does not finish.
    const auto hard_stop = run_deadline + config.timeouts.close + std::chrono::seconds(2);
    std::uint64_t last_done = 0;
    auto last_time = start;
    {
      std::unique_lock lock(mutex);
      while (finished < threads) {
        finished_cv.wait_for(lock, interval, [&] { return finished == threads; });
        const auto now = Clock::now();
        if (now > hard_stop) {
          for (auto& worker : workers) worker->ioc.stop();
        }
        if (on_progress && finished < threads) {
          lock.unlock();
          Progress p;
          p.expected = expected;
          p.planned = sending;
          for (auto& worker : workers) {
            const auto ok = worker->state.published_succeeded.load(std::memory_order_relaxed);
            const auto bad = worker->state.published_failed.load(std::memory_order_relaxed);
            p.done += ok + bad;
            p.failed += bad;
          }
          p.elapsed = now - start;
          const Seconds window = now - last_time;
          p.rate =
              window.count() > 0 ? static_cast<double>(p.done - last_done) / window.count() : 0;
          last_done = p.done;
          last_time = now;
          on_progress(p);
          lock.lock();
        }
      }
    }
    for (auto& t : pool) t.join();

    std::map<std::pair<ErrorKind, std::string>, std::uint64_t> errors;
    std::uint64_t failed = 0;
    std::uint64_t sent = 0;
    std::uint64_t late_sends = 0;
    Clock::duration max_send_lag{};
    Clock::time_point last_send = start;
    Clock::time_point finished_at = start;
    Clock::time_point last_open = start;
    Histogram loop_lag{1, 60'000'000, 2};
    summary.time_series.keep_windows(thresholds);
    for (auto& worker : workers) {
      auto& s = worker->state;
      summary.latency.merge(s.latency);
      summary.ttfb.merge(s.ttfb);
      summary.latency_uncorrected.merge(s.latency_uncorrected);
      summary.time_series.merge(s.series);
      summary.warmup_requests += s.warmup;
      sent += s.sent;
      late_sends += s.late_sends;
      max_send_lag = std::max(max_send_lag, s.max_send_lag);
      last_send = std::max(last_send, s.last_send);
      last_open = std::max(last_open, s.last_open);
      loop_lag.merge(s.loop_lag);
      summary.frames_received += s.frames;
      summary.bytes_received += s.bytes;
      summary.unmatched_replies += s.unmatched;
      summary.late_replies += s.late;
      summary.successful_requests += s.succeeded;
      failed += s.failed;
      summary.connections_opened += s.opened;
      summary.connections_failed += s.connections_failed;
      summary.reconnects += s.reconnects;
      summary.reconnects_failed += s.reconnects_failed;
      summary.keepalives += s.keepalives;
      for (auto& [key, n] : s.errors) errors[key] += n;
      summary.cpu_user += Seconds(worker->cpu_user);
      summary.cpu_system += Seconds(worker->cpu_system);
      finished_at = std::max(finished_at, s.remaining == 0 ? s.finished_at : Clock::now());
      if (s.abort_all == Abort::run_deadline) summary.deadline_exceeded = true;
    }
    // Only a forced stop leaves requests unaccounted: they ran out of time.
    const auto accounted = summary.successful_requests + failed + summary.warmup_requests;
    if (expected > 0 && accounted < expected) {
      const auto kind = stop_requested ? ErrorKind::interrupted : ErrorKind::run_deadline;
      errors[{kind, ""}] += expected - accounted;
      failed += expected - accounted;
      summary.deadline_exceeded = summary.deadline_exceeded || kind == ErrorKind::run_deadline;
    }
    summary.total_requests = summary.successful_requests + failed;
    summary.failed_requests = failed;
    if (run.schedule) {
      ScheduleReport r;
      r.due = expected;  // this shard's part of the schedule
      const double planned = run.schedule->duration().count();
      r.target_rate = planned > 0 ? static_cast<double>(r.due) / planned : 0;
      r.sent = sent;
      const double span = std::max(planned, Seconds(last_send - start).count());
      r.achieved_rate = span > 0 ? static_cast<double>(sent) / span : 0;
      r.late_sends = late_sends;
      r.max_send_lag = Seconds(max_send_lag).count();
      summary.schedule = r;
    }
    for (auto& [key, n] : errors) summary.errors.push_back({key.first, key.second, n});
    summary.interrupted = stop_requested.load();
    // The warm-up is not part of the measured time either.
    summary.total_time = finished_at - std::min(finished_at, start + config.warmup);
    summary.connect_time = Seconds(last_open - start).count();
    const double engine_time = Seconds(finished_at - start).count() * static_cast<double>(threads);
    summary.generator_busy =
        engine_time > 0 ? (summary.cpu_user + summary.cpu_system).count() / engine_time : 0;
    if (!loop_lag.empty()) {
      summary.loop_lag_p99 = static_cast<double>(loop_lag.value_at_percentile(99)) / 1e6;
      summary.loop_lag_max = static_cast<double>(loop_lag.max()) / 1e6;
    }
    if (!config.shard) summary.judge(thresholds);
    workers.clear();
    return summary;
  }

  /// A common start time of shards; Engine::stop() ends the wait.
  void wait_until(std::chrono::system_clock::time_point at) {
    std::unique_lock lock(mutex);
    finished_cv.wait_until(lock, at, [this] { return stop_requested.load(); });
  }

  LoadConfig config;
  Url url;
  std::vector<Threshold> thresholds;
  std::optional<aws::Credentials> credentials;
  std::vector<std::unique_ptr<Worker>> workers;
  std::mutex mutex;
  std::condition_variable finished_cv;
  std::size_t finished = 0;
  std::atomic<bool> stop_requested{false};
  detail::Clock::time_point run_deadline{};
};

WSLOAD_DECL Engine::Engine(LoadConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}
WSLOAD_DECL Engine::~Engine() = default;

WSLOAD_DECL Summary Engine::run(const ProgressCallback& on_progress,
                                std::chrono::milliseconds interval) {
  return impl_->run(on_progress, interval);
}

WSLOAD_DECL void Engine::stop() noexcept {
  impl_->stop_requested.store(true, std::memory_order_relaxed);
  // Through the mutex, so a run waiting for its start time cannot miss the wake-up.
  { std::lock_guard lock(impl_->mutex); }
  impl_->finished_cv.notify_all();
}

WSLOAD_DECL const LoadConfig& Engine::config() const noexcept {
  return impl_->config;
}

}  // namespace wsload
