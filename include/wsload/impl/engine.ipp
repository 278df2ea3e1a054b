// Definitions for engine.hpp: the part that compiles Boost.Beast.
#pragma once

#include <atomic>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

// The network detail headers, each after those it builds on.
#include <wsload/config_validation.hpp>
#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/state.hpp>
#include <wsload/detail/net/classify.hpp>
#include <wsload/detail/net/frames.hpp>
#include <wsload/detail/net/connection.hpp>
#include <wsload/detail/net/endpoints.hpp>
#include <wsload/detail/net/pacing.hpp>
#include <wsload/detail/net/sequential.hpp>
#include <wsload/detail/net/pipelined.hpp>
#include <wsload/detail/net/run_connection.hpp>
#include <wsload/detail/net/session_connection.hpp>
#include <wsload/detail/net/session_driver.hpp>
#include <wsload/detail/net/session_arrivals.hpp>
#include <wsload/detail/net/metrics_server.hpp>
#include <wsload/detail/net/tls_socket.hpp>
#include <wsload/detail/open_files.hpp>
#include <wsload/engine.hpp>

namespace wsload {

namespace detail {

/// The `percentile` of the values recorded in `now` since `before` (an earlier copy of
/// the same histogram), in seconds; empty when none were.
inline std::optional<double> interval_percentile(const Histogram& now, const Histogram& before,
                                                 double percentile) {
  const auto& a = now.counts();
  const auto& b = before.counts();
  if (now.count() <= before.count() || a.size() != b.size()) return std::nullopt;
  const auto total = now.count() - before.count();
  const auto rank = std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil(percentile / 100 * static_cast<double>(total))));
  std::int64_t seen = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    seen += a[i] - b[i];
    if (seen >= rank)
      return static_cast<double>(now.highest_equivalent(now.value_at_index(i))) / 1e6;
  }
  return std::nullopt;
}

/// Adds one thread's step and check figures into the summary's.
inline void fold_steps(Summary& summary, const StepTable& steps, const CheckTable& checks) {
  merge_by_name(summary.steps, steps);
  merge_by_name(summary.checks, checks);
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
    std::size_t session_cap = 0;  ///< session arrivals: its share of max_sessions
    double cpu_user = 0;
    double cpu_system = 0;
  };

  explicit Impl(LoadConfig c)
      : config(std::move(c)), url(validate(config)), thresholds(thresholds_of(config)) {
    detail::ensure_open_files(detail::open_files_needed(config),
                              config.session_arrivals() ? "max_sessions" : "connections");
    if (config.aws.enabled) {
      credentials = aws::credentials_from_environment();
      if (!config.aws.region.empty()) credentials->region = config.aws.region;
    }
    if (!config.metrics.listen.empty()) {
      // Up before the run, so a scraper sees it start; bound to fail before any traffic.
      metrics_server = std::make_unique<detail::MetricsServer>(
          parse_metrics_listen(config.metrics.listen), [this] { return scrape(); });
    }
  }

  /// The threads' latest copies of their live figures, added up. Call with metrics_mutex
  /// held: it guards the workers.
  LiveFigures threads_live_figures() {
    LiveFigures total;
    for (auto& worker : workers) {
      std::lock_guard figures(worker->state.live_mutex);
      total += worker->state.live_figures;
    }
    return total;
  }

  /// The live figures in Prometheus' text format: the threads' latest copies while the
  /// run goes, the final figures after it.
  std::string scrape() {
    using namespace detail;
    LiveFigures total;
    {
      std::lock_guard lock(metrics_mutex);
      if (metrics_running) {
        total = threads_live_figures();
        total.running = true;
        if (metrics_schedule) {
          total.target_rate = metrics_schedule->rate_at(Clock::now() - metrics_start);
        }
      } else {
        total += final_figures;
      }
    }
    std::map<std::string, std::string> labels{
        {"run", config.name.empty() ? "wsload" : config.name}};
    if (config.shard) labels["shard"] = config.shard->text();
    return prometheus_text(total, labels);
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
      if (publish_figures && ticks % 25 == 0) state.publish_live();
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
          if (slot->expire && !slot->tearing_down) {
            slot->expire(now);
          } else {
            slot->close(Abort::timeout);
          }
        }
      }
    }
    state.publish();
    if (publish_figures) state.publish_live();
  }

  void run_worker(Worker& worker, detail::RunContext& run) {
    using namespace detail;
    worker.state.remaining = config.session_arrivals() ? 1 : worker.connections;
    if (config.session_arrivals()) {
      spawn_session_arrivals(worker.ioc, url.secure, run, worker.state, session_gauge,
                             worker.first_index, worker.stride, worker.session_cap);
    }
    for (std::size_t i = 0; i < worker.connections; ++i) {
      const std::uint64_t index = worker.first_index + i * worker.stride;
      if (config.session) {
        if (url.secure) {
          asio::co_spawn(
              worker.ioc,
              run_session_connection<websocket::stream<TlsSocket>>(run, worker.state, index),
              asio::detached);
        } else {
          asio::co_spawn(
              worker.ioc,
              run_session_connection<websocket::stream<PlainSocket>>(run, worker.state, index),
              asio::detached);
        }
      } else if (url.secure) {
        asio::co_spawn(worker.ioc,
                       run_connection<websocket::stream<TlsSocket>>(run, worker.state, index),
                       asio::detached);
      } else {
        asio::co_spawn(worker.ioc,
                       run_connection<websocket::stream<PlainSocket>>(run, worker.state, index),
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

  /// The latency percentiles the progress line shows: of the interval since they last
  /// changed, kept for a second when no reply came.
  struct ShownLatency {
    LiveFigures figures;  ///< the threads' figures when they were taken
    std::optional<double> p50;
    std::optional<double> p99;
    detail::Clock::time_point at;
  };

  /// What the progress callback gets at `now`, but the rate (the caller's to track).
  Progress progress_at(detail::Clock::time_point now, detail::Clock::time_point start,
                       std::uint64_t expected, Seconds sending, const detail::RunContext& run,
                       ShownLatency& shown) {
    using namespace detail;
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
    {
      // The latencies of the last interval: this copy of the threads' figures less
      // the one before.
      LiveFigures figures;
      {
        std::lock_guard metrics_lock(metrics_mutex);
        figures = threads_live_figures();
      }
      if (figures.latency.count() != shown.figures.latency.count()) {
        shown.p50 = interval_percentile(figures.latency, shown.figures.latency, 50);
        shown.p99 = interval_percentile(figures.latency, shown.figures.latency, 99);
        shown.figures = std::move(figures);
        shown.at = now;
      } else if (now - shown.at > std::chrono::seconds(1)) {
        shown.p50.reset();  // no reply for a second: no latency to show
        shown.p99.reset();
      }
      p.latency_p50 = shown.p50;
      p.latency_p99 = shown.p99;
    }
    if (run.schedule) {
      p.target_rate = run.schedule->rate_at(now - start);
      Seconds stage_end{0};
      for (std::size_t i = 0; i < config.stages.size(); ++i) {
        stage_end += config.stages[i].duration;
        if (now - start < stage_end || i + 1 == config.stages.size()) {
          p.stage = i + 1;
          break;
        }
      }
      p.stages = config.stages.size();
    }
    return p;
  }

  Summary run(const ProgressCallback& on_progress, std::chrono::milliseconds interval) {
    using namespace detail;
    Summary summary;
    summary.name = redact(config.name);
    summary.config = to_json(config);
    summary.shard = config.shard;
    const std::uint64_t expected = config.expected_requests();
    // Arrived sessions each open a connection of their own.
    summary.connections_configured =
        config.session_arrivals() ? expected : config.own_connections();
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
      if (config.concurrent_connections() >= 1000) {
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
    RunContext run{
        .config = config,
        .url = url,
        .endpoints = std::move(endpoints),
        .tls = tls ? &*tls : nullptr,
        .run_deadline = run_deadline,
        .start = start,
        .message = MessageTemplate::parse(config.message_template, "message template"),
        .completion = Completion::parse(config.completion),
        .first_token = Completion::parse(config.first_token, "first token"),
        .tokens = TokenCount::parse(config.tokens),
        .slo = Slo::parse(config.slo),
        .error_rules = ErrorRules::parse(config.error_rules),
        .correlation = std::nullopt,  // set below, with id_without_prompt
        .aws = credentials,
        .parse_frames = false,  // set below, once the rules are parsed
        .schedule = schedule_of(config),
        .send_until = sending.count() > 0 ? start + to_clock(sending) : Clock::time_point::max(),
    };
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
                       (run.completion.until && run.completion.until->needs_json()) ||
                       (run.first_token.until && run.first_token.until->needs_json());
    if (run.tokens.path) {
      run.parse_frames = true;
      run.frame_paths.push_back(*run.tokens.path);
    }
    for (const Completion* rule : {&run.completion, &run.first_token}) {
      if (rule->until && rule->until->needs_json()) run.frame_paths.push_back(rule->until->path());
    }
    run.error_rules.add_paths(run.frame_paths);
    if (run.correlation) {
      run.correlation_path.emplace(*run.correlation);
      run.frame_paths.push_back(*run.correlation_path);
    }

    finished = 0;
    const Shard shard = config.shard.value_or(Shard{});
    {
      std::lock_guard lock(metrics_mutex);  // a scrape reads the workers
      workers.clear();
      for (std::size_t i = 0; i < threads; ++i) {
        workers.push_back(std::make_unique<Worker>(start + config.warmup));
        workers.back()->state.series.keep_windows(thresholds);
        workers.back()->first_index = shard.connection(i);
        workers.back()->stride = threads * shard.count;
        // The cap split evenly; effective_threads runs no more threads than it holds.
        workers.back()->session_cap =
            config.max_sessions / threads + (i < config.max_sessions % threads);
      }
      final_figures = LiveFigures();
      publish_figures = metrics_server || on_progress;
      metrics_running = true;
      metrics_start = start;
      metrics_schedule = run.schedule;
    }
    if (!config.session_arrivals()) {
      for (std::size_t c = 0; c < config.own_connections(); ++c)
        ++workers[c % threads]->connections;
    }
    session_gauge.in_flight = 0;
    session_gauge.peak = 0;
    session_gauge.waited = 0;
    std::vector<std::thread> pool;
    for (auto& worker : workers)
      pool.emplace_back([this, &worker, &run] { run_worker(*worker, run); });

    // Past the deadline every connection is closed within a watchdog period; this is the
    // last resort if a thread still does not finish.
    const auto hard_stop = run_deadline + config.timeouts.close + std::chrono::seconds(2);
    std::uint64_t last_done = 0;
    auto last_time = start;
    ShownLatency shown;
    shown.at = start;
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
          Progress p = progress_at(now, start, expected, sending, run, shown);
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

    ThreadTotals totals(start);
    summary.time_series.keep_windows(thresholds);
    for (auto& worker : workers) {
      auto& s = worker->state;
      summary.latency.merge(s.latency);
      summary.ttfb.merge(s.ttfb);
      summary.ttft.merge(s.ttft);
      summary.inter_frame.merge(s.inter_frame);
      summary.tpot.merge(s.tpot);
      summary.tokens_per_reply.merge(s.tokens_per_reply);
      summary.output_rate.merge(s.output_rate);
      summary.latency_uncorrected.merge(s.latency_uncorrected);
      summary.time_series.merge(s.series);
      summary += s;  // every count
      fold_steps(summary, s.steps, s.checks);
      totals += s;
      summary.cpu_user += Seconds(worker->cpu_user);
      summary.cpu_system += Seconds(worker->cpu_system);
    }
    if (totals.deadline_cut) summary.deadline_exceeded = true;
    // Only a forced stop leaves requests of a closed loop unaccounted: they ran out of
    // time, or were never sent because of the interrupt. (An open loop's are not sent.)
    const auto accounted = summary.successful_requests + summary.failed_requests +
                           summary.warmup_requests + summary.not_sent;
    if (!run.schedule && expected > 0 && accounted < expected) {
      if (stop_requested) {
        summary.not_sent += expected - accounted;
      } else {
        totals.errors[{ErrorKind::run_deadline, ""}] += expected - accounted;
        summary.failed_requests += expected - accounted;
        summary.deadline_exceeded = true;
      }
    }
    summary.total_requests = summary.successful_requests + summary.failed_requests;
    if (run.schedule) {
      ScheduleReport r;
      r.sent = totals.sent;
      r.not_sent = totals.schedule_not_sent;
      // This shard's part of the schedule, up to an interrupt: sent, failed unsent with a
      // connection, or not sent.
      r.due = std::min<std::uint64_t>(
          expected, totals.sent + totals.unsent_failed + totals.schedule_not_sent);
      const double planned = run.schedule->duration().count();
      r.target_rate = planned > 0 ? static_cast<double>(expected) / planned : 0;
      // An interrupted run sent over the time it ran, not over the whole schedule.
      const double span = stop_requested
                              ? Seconds(totals.last_send - start).count()
                              : std::max(planned, Seconds(totals.last_send - start).count());
      r.achieved_rate = span > 0 ? static_cast<double>(totals.sent) / span : 0;
      r.late_sends = totals.late_sends;
      r.max_send_lag = Seconds(totals.max_send_lag).count();
      if (config.session_arrivals()) {
        r.max_sessions = config.max_sessions;
        r.peak_sessions = session_gauge.peak;
        r.sessions_waited = session_gauge.waited;
      }
      summary.schedule = r;
    }
    for (auto& [key, n] : totals.errors) summary.errors.push_back({key.first, key.second, n});
    summary.interrupted = stop_requested.load();
    // The run's time is its traffic's, from the end of the warm-up to the last request
    // counted: closing handshakes after it are not traffic.
    const auto end = totals.counted_any ? totals.traffic_end : totals.finished_at;
    summary.total_time = end - std::min(end, start + config.warmup);
    if (run.schedule) {
      summary.rate_window =
          Seconds(std::max(run.schedule->duration() - Seconds(config.warmup), Seconds(0)));
    }
    summary.connect_time = Seconds(totals.last_open - start).count();
    // Busy over the traffic: idle closing handshakes after it would dilute a saturation.
    const double engine_time = Seconds(end - start).count() * static_cast<double>(threads);
    summary.generator_busy =
        engine_time > 0 ? (summary.cpu_user + summary.cpu_system).count() / engine_time : 0;
    if (!totals.loop_lag.empty()) {
      summary.loop_lag_p99 = static_cast<double>(totals.loop_lag.value_at_percentile(99)) / 1e6;
      summary.loop_lag_max = static_cast<double>(totals.loop_lag.max()) / 1e6;
    }
    if (!config.shard) summary.judge(thresholds);
    {
      std::lock_guard lock(metrics_mutex);
      final_figures = threads_live_figures();
      metrics_running = false;
      workers.clear();
    }
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
  detail::SessionGauge session_gauge;  ///< session arrivals, across the threads
  std::mutex metrics_mutex;            ///< the workers while a scrape reads them, and the below
  bool publish_figures = false;        ///< the watchdogs copy their figures for a reader
  bool metrics_running = false;
  detail::Clock::time_point metrics_start{};
  std::optional<Schedule> metrics_schedule;
  LiveFigures final_figures;
  // Last: it stops (and its thread ends) before the figures it reads are destroyed.
  std::unique_ptr<detail::MetricsServer> metrics_server;
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

WSLOAD_DECL void Engine::linger() {
  if (!impl_->metrics_server) return;
  std::unique_lock lock(impl_->mutex);
  impl_->finished_cv.wait_for(lock, impl_->config.metrics.linger,
                              [this] { return impl_->stop_requested.load(); });
}

WSLOAD_DECL std::uint16_t Engine::metrics_port() const {
  return impl_->metrics_server ? impl_->metrics_server->port() : 0;
}

WSLOAD_DECL const LoadConfig& Engine::config() const noexcept {
  return impl_->config;
}

}  // namespace wsload
