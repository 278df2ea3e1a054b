// What a run, an engine thread and a connection hold: the run's shared settings
// (RunContext), a thread's statistics and live connections (ThreadState), the part of a
// connection its thread's watchdog sees (ConnectionSlot) and where it stands (Cursor).
//
// A connection's steps read top to bottom in run_connection() (run_connection.hpp).
// Failures are error_codes, never exceptions, and each maps to an ErrorKind
// (classify.hpp). Timeouts are deadlines stored on the slot and enforced by the thread's
// watchdog (impl/engine.ipp), which closes the socket of a connection past its deadline:
// no timer is armed per message.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/aws_sigv4.hpp>
#include <wsload/config.hpp>
#include <wsload/detail/net/asio.hpp>
#include <wsload/errors.hpp>
#include <wsload/histogram.hpp>
#include <wsload/message.hpp>
#include <wsload/slo.hpp>
#include <wsload/tokens.hpp>
#include <wsload/metrics.hpp>
#include <wsload/redact.hpp>
#include <wsload/results/counters.hpp>
#include <wsload/results/steps.hpp>
#include <wsload/schedule.hpp>
#include <wsload/timeseries.hpp>
#include <wsload/url.hpp>

namespace wsload::detail {

using Clock = std::chrono::steady_clock;

/// Why the watchdog closed a connection.
enum class Abort { none, timeout, run_deadline, interrupted };

/// What one connection is waiting for; a timeout is classified by it.
enum class Phase { wait, connect, tls, upgrade, send, reply, close };

struct Cursor;

/// The part of a connection the watchdog sees.
struct ConnectionSlot {
  Clock::time_point deadline = Clock::time_point::max();
  Phase phase = Phase::connect;
  Abort abort = Abort::none;
  tcp::socket* socket = nullptr;
  asio::steady_timer* timer = nullptr;  ///< a wait to cut short (connect-rate pacing)
  /// With requests pipelined, a deadline fails the requests past it rather than the
  /// connection: the watchdog calls this instead of closing.
  std::function<void(Clock::time_point)> expire;
  const Cursor* cursor = nullptr;  ///< its requests, for the live figures
  /// Beast failed or closed the connection and waits for the server to close TCP
  /// (teardown.hpp): the read's error, not a deadline, says what ended it.
  bool tearing_down = false;
  bool compressed = false;  ///< its latest upgrade agreed on permessage-deflate

  /// That wait, bounded by the close timeout whatever the connection was waiting for (the
  /// watchdog closes a tearing-down connection at its deadline, pipelined or not).
  void tear_down(Clock::time_point now, std::chrono::milliseconds close_timeout) noexcept {
    tearing_down = true;
    deadline = std::min(deadline, now + close_timeout);
  }

  void arm(Phase p, Clock::time_point now, std::chrono::milliseconds timeout) noexcept {
    phase = p;
    deadline = now + timeout;
  }
  /// Waiting for nothing of its own; a teardown under way keeps its bound.
  void idle() noexcept {
    phase = Phase::wait;
    if (!tearing_down) deadline = Clock::time_point::max();
  }
  void close(Abort why) noexcept {
    if (abort == Abort::none) abort = why;
    if (timer) timer->cancel();
    if (socket) {
      boost::system::error_code ignored;
      socket->close(ignored);
    }
  }
};

/// Everything the connections of one run share, read-only once the run starts.
struct RunContext {
  const LoadConfig& config;
  Url url;
  std::vector<tcp::endpoint> endpoints;  ///< resolved once for the whole run
  ssl::context* tls = nullptr;           ///< for wss
  Clock::time_point run_deadline;
  Clock::time_point start;
  MessageTemplate message;
  Completion completion;
  /// Which frame is a reply's first token (TTFT); the first frame unless configured.
  Completion first_token;
  TokenCount tokens;  ///< what counts as a reply's output tokens
  Slo slo;            ///< per-request limits for goodput
  ErrorRules error_rules;
  std::optional<nlohmann::json::json_pointer> correlation;
  std::optional<aws::Credentials> aws;  ///< sign each connect when set
  bool parse_frames = false;            ///< some rule reads a frame's JSON
  std::optional<Schedule> schedule;     ///< open loop: when each request is due
  /// Closed loop with a duration: no request starts after this.
  Clock::time_point send_until = Clock::time_point::max();
  /// Beast masks outgoing frames through a buffer of this size per connection, and
  /// fragments at it: the largest message, up to the fragment size, so that thousands of
  /// connections sending small prompts do not each hold 32 KiB.
  std::size_t write_buffer_bytes = 32 << 10;
  /// The correlation id in a request does not depend on its prompt (the template puts
  /// it elsewhere), so it is read from the template filled with an empty prompt: a
  /// megabyte prompt is not parsed to find an id.
  bool id_without_prompt = false;
  /// The pointers judging a frame reads (rules, "message", correlation id), one scan each.
  std::vector<JsonPath> frame_paths = {};
  std::optional<JsonPath> correlation_path = {};
};

inline Clock::duration to_clock(Seconds s) {
  return std::chrono::duration_cast<Clock::duration>(s);
}

/// Statistics and live connections of one engine thread: its Counters and what the
/// engine folds besides. Only that thread touches it, except the published_* counters,
/// which it stores in batches for the progress reader.
struct ThreadState : Counters {
  explicit ThreadState(Clock::time_point measure_from = {}) : measure_from(measure_from) {}

  Clock::time_point measure_from;  ///< requests ending earlier are the warm-up's
  Histogram latency;               // microseconds, from when each request was due
  Histogram ttfb;                  // microseconds
  Histogram ttft;                  // microseconds, and the next two: see Summary
  Histogram inter_frame;
  Histogram tpot;
  Histogram tokens_per_reply;  // tokens, and the next: millitokens/s (see Summary)
  Histogram output_rate;
  Histogram latency_uncorrected;  // microseconds from the send (open loop)
  TimeSeries series;
  std::uint64_t sent = 0;  ///< open loop: sends, how many late, the longest lag
  std::uint64_t late_sends = 0;
  Clock::duration max_send_lag{};
  Clock::time_point last_send{};
  std::mt19937_64 random{std::random_device{}()};
  Clock::time_point last_open{};  ///< when the latest connection opened
  /// How late the watchdog's timer fires, microseconds: a loop that cannot keep its
  /// timers cannot keep its measurements either.
  Histogram loop_lag{1, 60'000'000, 2};
  std::uint64_t schedule_not_sent = 0;  ///< open loop: came due, never sent in time
  std::uint64_t unsent_failed = 0;      ///< open loop: failed with their connection, unsent
  bool deadline_cut = false;            ///< the run's deadline ended requests before their end
  /// When the latest request was counted: the run's traffic ends there, whatever closing
  /// handshakes take after it.
  Clock::time_point traffic_end{};
  std::uint64_t written = 0;   ///< requests written to a connection
  std::uint64_t open_now = 0;  ///< connections open now
  std::map<std::pair<ErrorKind, std::string>, std::uint64_t> errors;
  StepTable steps;    ///< scripted sessions' named steps
  CheckTable checks;  ///< and their checks
  std::list<ConnectionSlot*> live;
  std::size_t remaining = 0;        ///< connections not yet finished
  Clock::time_point finished_at{};  ///< when the last one finished
  Abort abort_all = Abort::none;

  alignas(64) std::atomic<std::uint64_t> published_succeeded{0};
  std::atomic<std::uint64_t> published_failed{0};
  /// For the metrics endpoint: a copy the watchdog refreshes a few times a second, read
  /// by scrapes under the mutex. Never touched on the per-message path.
  std::mutex live_mutex;
  LiveFigures live_figures;

  void publish_live();

  void publish() noexcept {
    published_succeeded.store(successful_requests, std::memory_order_relaxed);
    published_failed.store(failed_requests, std::memory_order_relaxed);
  }

  std::size_t second_of(Clock::time_point t) const noexcept {
    return static_cast<std::size_t>((t - measure_from) / std::chrono::seconds(1));
  }

  void count_failed(ErrorKind kind, std::string detail, std::uint64_t requests) {
    if (requests == 0) return;
    const auto now = Clock::now();
    traffic_end = std::max(traffic_end, now);
    if (kind == ErrorKind::run_deadline) deadline_cut = true;
    if (now < measure_from) {
      warmup_requests += requests;
      return;
    }
    series.fail(second_of(now), requests);
    failed_requests += requests;
    // Details are few (status codes, close codes, error messages); cap them anyway.
    constexpr std::size_t max_details = 64;
    if (errors.size() >= max_details && !errors.count({kind, detail})) detail = "(other)";
    errors[{kind, std::move(detail)}] += requests;
  }
};

/// What the engine folds from its threads besides their Counters and histograms: the
/// open loop's sends, when traffic and threads ended, the event loops' lag, the errors
/// with their details redacted (a close reason or an error reply may quote what was sent).
struct ThreadTotals {
  explicit ThreadTotals(Clock::time_point start)
      : last_send(start), finished_at(start), traffic_end(start), last_open(start) {}

  std::map<std::pair<ErrorKind, std::string>, std::uint64_t> errors;
  std::uint64_t sent = 0;
  std::uint64_t late_sends = 0;
  Clock::duration max_send_lag{};
  Clock::time_point last_send;
  Clock::time_point finished_at;
  Clock::time_point traffic_end;
  bool counted_any = false;  ///< some thread counted a request
  std::uint64_t schedule_not_sent = 0;
  std::uint64_t unsent_failed = 0;
  Clock::time_point last_open;
  Histogram loop_lag{1, 60'000'000, 2};
  bool deadline_cut = false;

  ThreadTotals& operator+=(const ThreadState& s) {
    sent += s.sent;
    late_sends += s.late_sends;
    max_send_lag = std::max(max_send_lag, s.max_send_lag);
    last_send = std::max(last_send, s.last_send);
    last_open = std::max(last_open, s.last_open);
    loop_lag.merge(s.loop_lag);
    schedule_not_sent += s.schedule_not_sent;
    unsent_failed += s.unsent_failed;
    if (s.traffic_end != Clock::time_point{}) {
      counted_any = true;
      traffic_end = std::max(traffic_end, s.traffic_end);
    }
    for (const auto& [key, n] : s.errors) errors[{key.first, redact(key.second)}] += n;
    finished_at = std::max(finished_at, s.remaining == 0 ? s.finished_at : Clock::now());
    deadline_cut = deadline_cut || s.deadline_cut;
    return *this;
  }
};

/// Registers a connection with its thread's watchdog for as long as it lives.
class LiveGuard {
 public:
  LiveGuard(ThreadState& state, ConnectionSlot& slot)
      : state_(state), it_(state.live.insert(state.live.end(), &slot)) {}
  ~LiveGuard() { state_.live.erase(it_); }
  LiveGuard(const LiveGuard&) = delete;
  LiveGuard& operator=(const LiveGuard&) = delete;

 private:
  ThreadState& state_;
  std::list<ConnectionSlot*>::iterator it_;
};

/// Counts a connection's coroutine out of its thread's when it ends, whichever way.
struct ConnectionFinish {
  ThreadState& state;
  ~ConnectionFinish() {
    if (--state.remaining == 0) state.finished_at = Clock::now();
  }
};

/// Where a connection stands in its requests (connections x prompts x iterations, in
/// order): the next to send, and how many are counted, as succeeded or failed. Those in
/// between are in flight.
struct Cursor {
  static constexpr std::uint64_t unbounded = ~std::uint64_t{0};
  std::uint64_t next = 0;
  std::uint64_t counted = 0;
  std::uint64_t end = 0;  ///< its share of the run; unbounded until a duration ends it

  /// The requests still to count if the connection ended now. In a run bounded by
  /// time: those in flight, or else the one it could not send.
  std::uint64_t remaining() const noexcept {
    return end == unbounded ? std::max<std::uint64_t>(next - counted, 1) : end - counted;
  }
};

inline void ThreadState::publish_live() {
  std::uint64_t in_flight = 0;
  for (const ConnectionSlot* slot : live) {
    if (slot->cursor) in_flight += slot->cursor->next - slot->cursor->counted;
  }
  std::lock_guard lock(live_mutex);
  auto& f = live_figures;
  f.succeeded = successful_requests;
  f.failed.clear();
  for (const auto& [key, n] : errors) f.failed[key.first] += n;
  f.sent = written;
  f.connections_open = open_now;
  f.in_flight = in_flight;
  f.latency = latency;  // same layout: the copy reuses its storage
  f.ttfb = ttfb;
}

}  // namespace wsload::detail
