// The engine against `wsload serve` in another process, so that this process's CPU time
// and memory are the client's alone: client CPU per round trip (user and system), round
// trips per second, memory per connection and connections opened per second, for ws and
// wss, at 50, 1,000 and 10,000 connections, with 1 and 2 engine threads; and ws with
// permessage-deflate negotiated, for what compression costs; and a scripted session's client
// CPU per step (SessionSteps).
//
// Targets (measured and reported, never asserted): ws at most 13 us of client CPU per
// round trip at 50 connections, wss at most 20 us; 10,000 idle connections in at most
// 20 KiB each (wss 64 KiB), opened at 2,000+ per second; against a 20 ms server, p50
// within 0.3 ms of 20 ms at 1,000 connections. scripts/run-benchmarks.sh runs them all.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <wsload/wsload.hpp>

#include "process_memory.hpp"

extern char** environ;

// Counted in allocation_counter.cpp, apart, so no call site sees the replacement.
std::uint64_t allocations_so_far() noexcept;

namespace {

using namespace std::chrono_literals;

/// `wsload serve` as a child process, on a port of its choosing; stopped with SIGTERM.
class ServerProcess {
 public:
  ServerProcess(bool tls, unsigned delay_ms, unsigned threads = 1, bool compression = false) {
    ca_file_ = std::filesystem::temp_directory_path() /
               ("wsload-bench-ca-" + std::to_string(::getpid()) + ".pem");
    std::vector<std::string> args = {WSLOAD_CLI, "serve",     "--port",
                                     "0",        "--threads", std::to_string(threads)};
    if (tls) args.insert(args.end(), {"--tls", "--ca-out", ca_file_.string()});
    if (delay_ms > 0) args.insert(args.end(), {"--delay-ms", std::to_string(delay_ms)});
    if (compression) args.push_back("--compression");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    const int error = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    out_ = out[0];
    if (error != 0) throw std::runtime_error("cannot start " + args[0]);
    // The last line it prints before serving; every wait bounded.
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (text.find("Ctrl-C to stop") == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("serve: no URL");
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buffer[512];
      const auto n = ::read(out_, buffer, sizeof buffer);
      if (n <= 0) throw std::runtime_error("serve ended: " + text);
      text.append(buffer, static_cast<std::size_t>(n));
    }
    const auto at = text.find("listening on ") + 13;
    url_ = text.substr(at, text.find('\n', at) - at);
    if (tls) {
      std::ifstream in(ca_file_);
      std::stringstream pem;
      pem << in.rdbuf();
      ca_pem_ = pem.str();
    }
  }
  ~ServerProcess() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    ::close(out_);
    std::error_code ignored;
    std::filesystem::remove(ca_file_, ignored);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& url() const { return url_; }
  const std::string& ca_pem() const { return ca_pem_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::filesystem::path ca_file_;
  std::string url_;
  std::string ca_pem_;
};

using wsload::bench::heap_in_use;
using wsload::bench::resident_bytes;

struct Measured {
  wsload::Summary summary;
  double peak_heap_growth = 0;  ///< bytes over the heap in use before the run
  double peak_rss_growth = 0;   ///< bytes over the resident size before the run
  double peak_rss = 0;          ///< bytes
  double allocations = 0;       ///< operator new calls during the run
};

/// Runs `config`, sampling the resident size and the heap in use while it runs.
Measured measure(const wsload::LoadConfig& config) {
  Measured m;
  const double before = heap_in_use();
  const double resident_before = resident_bytes();
  double peak = before;
  double resident_peak = resident_before;
  wsload::Engine engine(config);
  const auto allocated_before = allocations_so_far();
  m.summary = engine.run(
      [&](const wsload::Progress&) {
        peak = std::max(peak, heap_in_use());
        resident_peak = std::max(resident_peak, resident_bytes());
      },
      50ms);
  m.allocations = static_cast<double>(allocations_so_far() - allocated_before);
  m.peak_heap_growth = std::max(0.0, peak - before);
  m.peak_rss_growth = std::max(0.0, resident_peak - resident_before);
  m.peak_rss = resident_peak;
  return m;
}

wsload::LoadConfig load(const ServerProcess& server, std::size_t connections, std::size_t messages,
                        std::size_t threads) {
  wsload::LoadConfig config;
  config.url = server.url();
  config.prompts = {"a small message of about forty bytes, ok"};
  config.iterations = messages;
  config.connections = connections;
  config.threads = threads;
  config.tls.ca_pem = server.ca_pem();
  config.timeouts.run = 300s;
  config.timeouts.connect = 60s;  // 10,000 connects queue behind each other
  config.timeouts.handshake = 60s;
  return config;
}

void report(benchmark::State& state, const Measured& m, double connections) {
  const auto& s = m.summary;
  if (s.failed_requests > 0) {
    state.SkipWithError(("some requests failed: " + std::to_string(s.failed_requests) + " " +
                         (s.errors.empty() ? "" : std::string(wsload::to_string(s.errors[0].kind))))
                            .c_str());
  }
  const double round_trips = static_cast<double>(s.successful_requests);
  state.counters["round_trips_per_s"] = s.requests_per_second();
  state.counters["cpu_us_per_rt"] = (s.cpu_user + s.cpu_system).count() * 1e6 / round_trips;
  state.counters["user_us_per_rt"] = s.cpu_user.count() * 1e6 / round_trips;
  state.counters["sys_us_per_rt"] = s.cpu_system.count() * 1e6 / round_trips;
  state.counters["p50_ms"] = s.latency_at(50).value_or(0) * 1e3;
  state.counters["kib_per_connection"] = m.peak_rss_growth / 1024 / connections;
  state.counters["heap_kib_per_connection"] = m.peak_heap_growth / 1024 / connections;
  state.counters["peak_resident_mib"] = m.peak_rss / (1 << 20);
  state.counters["connects_per_s"] = s.connect_time > 0 ? connections / s.connect_time : 0;
  state.counters["generator_busy"] = s.generator_busy;
  state.counters["allocations_per_rt"] = m.allocations / round_trips;
}

/// Closed-loop round trips against an echo server as fast as it answers; with
/// `compression`, both ends deflate every message (RFC 7692).
void RoundTrips(benchmark::State& state, bool tls, bool compression) {
  const auto connections = static_cast<std::size_t>(state.range(0));
  const ServerProcess server(tls, 0, 1, compression);
  auto config = load(server, connections, static_cast<std::size_t>(state.range(1)),
                     static_cast<std::size_t>(state.range(2)));
  config.compression = compression;
  Measured m;
  for (auto _ : state) m = measure(config);
  report(state, m, static_cast<double>(connections));
  if (compression && m.summary.compressed_upgrades < connections) {
    state.SkipWithError("permessage-deflate was not negotiated on every connection");
  }
}

/// Each load runs once: one run is seconds of traffic, and its figures are its own.
void once(benchmark::internal::Benchmark* b) {
  b->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);
}

void round_trip_cases(benchmark::internal::Benchmark* b) {
  b->ArgNames({"connections", "messages", "threads"});
  for (const auto& args : std::vector<std::vector<std::int64_t>>{
           {50, 2000, 1}, {50, 2000, 2}, {1000, 100, 1}, {1000, 100, 2}, {10000, 10, 1}}) {
    b->Args(args);
  }
  once(b);
}
BENCHMARK_CAPTURE(RoundTrips, ws, false, false)->Apply(round_trip_cases);
BENCHMARK_CAPTURE(RoundTrips, wss, true, false)->Apply(round_trip_cases);
BENCHMARK_CAPTURE(RoundTrips, ws_deflate, false, true)
    ->ArgNames({"connections", "messages", "threads"})
    ->Args({50, 2000, 1})
    ->Args({1000, 100, 1})
    ->Apply(once);
BENCHMARK_CAPTURE(RoundTrips, wss_deflate, true, true)
    ->ArgNames({"connections", "messages", "threads"})
    ->Args({50, 2000, 1})
    ->Apply(once);

/// Connections held open and idle: each sends one request that the server answers only
/// after every connection is open, so the resident size at the peak is theirs.
void IdleConnections(benchmark::State& state, bool tls) {
  const auto connections = static_cast<std::size_t>(state.range(0));
  const ServerProcess server(tls, 12'000);
  const auto config = load(server, connections, 1, 1);
  Measured m;
  for (auto _ : state) m = measure(config);
  report(state, m, static_cast<double>(connections));
}
BENCHMARK_CAPTURE(IdleConnections, ws, false)->ArgNames({"connections"})->Arg(10000)->Apply(once);
BENCHMARK_CAPTURE(IdleConnections, wss, true)->ArgNames({"connections"})->Arg(10000)->Apply(once);

/// What the client adds to a known latency: a server that answers after 20 ms, sent
/// 10,000 requests a second on a schedule (closed-loop connections started together
/// would reply in bursts, and measure the server's queue).
void LatencyOverhead(benchmark::State& state) {
  const auto connections = static_cast<std::size_t>(state.range(0));
  const ServerProcess server(false, 20);
  auto config = load(server, connections, 1, 1);
  config.rate = 10'000;
  config.duration = 3s;
  Measured m;
  for (auto _ : state) m = measure(config);
  report(state, m, static_cast<double>(connections));
  state.counters["p50_overhead_ms"] = m.summary.latency_at(50).value_or(0) * 1e3 - 20;
}
BENCHMARK(LatencyOverhead)->ArgNames({"connections"})->Arg(1000)->Apply(once);

/// A scripted session's steps against an echo server: each session sends `steps` requests,
/// each ended by a JSON pointer rule, with an error rule and a handler (for pings, which
/// never come) judging every frame too. Client CPU per step: the session driver's own cost.
void SessionSteps(benchmark::State& state) {
  const auto connections = static_cast<std::size_t>(state.range(0));
  const auto steps = static_cast<std::size_t>(state.range(1));
  const ServerProcess server(false, 0);
  auto config = load(server, connections, 20, 1);
  config.error_rules = {R"(/type=="error")"};
  config.session = [steps](wsload::Session& s) -> wsload::SessionTask {
    s.on(wsload::rule("/type==ping"), R"({"type":"pong"})");
    for (std::size_t i = 0; i < steps; ++i) {
      co_await s.request("ask", R"({"type":"ask","payload":{"text":"a small message","n":1}})",
                         wsload::rule("/type==ask"));
    }
  };
  Measured m;
  for (auto _ : state) m = measure(config);
  report(state, m, static_cast<double>(connections));
  const double done = static_cast<double>(m.summary.successful_requests * steps);
  state.counters["cpu_us_per_step"] =
      (m.summary.cpu_user + m.summary.cpu_system).count() * 1e6 / std::max(done, 1.0);
}
BENCHMARK(SessionSteps)->ArgNames({"connections", "steps"})->Args({50, 100})->Apply(once);

}  // namespace
