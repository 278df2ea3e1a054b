// One load connection: connect, TLS, upgrade, then send each prompt and time its reply.
//
// The steps read top to bottom in run_connection(). Failures are error_codes, never
// exceptions, and each maps to an ErrorKind. Timeouts are deadlines stored on the
// connection and enforced by the thread's watchdog (see engine.hpp), which closes the
// socket of a connection past its deadline: no timer is armed per message.
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <wsload/aws_sigv4.hpp>
#include <wsload/config.hpp>
#include <wsload/detail/asio.hpp>
#include <wsload/detail/tls_socket.hpp>
#include <wsload/errors.hpp>
#include <wsload/histogram.hpp>
#include <wsload/message.hpp>
#include <wsload/metrics.hpp>
#include <wsload/results/counters.hpp>
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
  /// (detail/teardown.hpp): the read's error, not a deadline, says what ended it.
  bool tearing_down = false;

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
  Histogram latency_uncorrected;   // microseconds from the send (open loop)
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

inline std::pair<ErrorKind, std::string> classify(const boost::system::error_code& ec,
                                                  const ConnectionSlot& slot,
                                                  const websocket::close_reason& close) {
  switch (slot.tearing_down && ec ? Abort::none : slot.abort) {
    case Abort::run_deadline:
      return {ErrorKind::run_deadline, ""};
    case Abort::interrupted:
      return {ErrorKind::interrupted, ""};
    case Abort::timeout:
      switch (slot.phase) {
        case Phase::wait:
        case Phase::connect:
          return {ErrorKind::connect, "timed out"};
        case Phase::tls:
          return {ErrorKind::tls, "timed out"};
        case Phase::upgrade:
          return {ErrorKind::handshake, "timed out"};
        case Phase::send:
          return {ErrorKind::reply_timeout, "while sending: the server is not reading"};
        case Phase::reply:
          return {ErrorKind::reply_timeout, ""};
        case Phase::close:
          return {ErrorKind::connection_lost, "close timed out"};
      }
      break;
    case Abort::none:
      break;
  }
  switch (slot.phase) {
    case Phase::wait:
    case Phase::connect:
      return {ErrorKind::connect, ec.message()};
    case Phase::tls:
      return {ErrorKind::tls, ec.message()};
    case Phase::upgrade:
      return {ErrorKind::handshake, ec.message()};
    default:
      break;
  }
  if (ec == websocket::error::closed) {
    const std::string detail =
        "close code " + std::to_string(close.code) +
        (close.reason.empty() ? "" : ": " + std::string(close.reason.c_str()));
    switch (close.code) {
      case websocket::close_code::going_away:
        return {ErrorKind::going_away, detail};
      case websocket::close_code::too_big:
        return {ErrorKind::peer_too_big, detail};
      case websocket::close_code::internal_error:
        return {ErrorKind::server_error, detail};
      default:
        return {ErrorKind::closed_by_peer, detail};
    }
  }
  if (ec == websocket::error::message_too_big) return {ErrorKind::message_too_big, ""};
  if (ec == websocket::condition::protocol_violation) return {ErrorKind::protocol, ec.message()};
  return {ErrorKind::connection_lost, ec.message()};
}

/// Sets SNI and the identity to verify (host name or IP address, RFC 6125).
inline bool prepare_tls(SSL* ssl, const Url& url, bool insecure) {
  const bool ip =
      url.ipv6_literal || url.host.find_first_not_of("0123456789.") == std::string::npos;
  // RFC 6066 3: SNI carries host names only, never IP literals.
  if (!ip && SSL_set_tlsext_host_name(ssl, url.host.c_str()) != 1) return false;
  if (insecure) return true;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  return ip ? X509_VERIFY_PARAM_set1_ip_asc(param, url.host.c_str()) == 1
            : X509_VERIFY_PARAM_set1_host(param, url.host.c_str(), 0) == 1;
}

inline std::string tls_failure_detail(SSL* ssl, const boost::system::error_code& ec) {
  const long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK) {
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
  }
  return ec.message();
}

/// One request's reply as it arrives.
struct ReplyProgress {
  Clock::time_point sent_at;
  Clock::time_point due;  ///< when it should have been sent: sent_at in a closed loop
  Clock::time_point first_at{};
  std::uint64_t frames = 0;
  std::uint64_t bytes = 0;
};

enum class FrameVerdict { more, done, failed };

/// Applies the error rules and the completion rule to one frame of `reply`.
inline FrameVerdict judge_frame(const RunContext& run, ThreadState& state, ReplyProgress& reply,
                                std::string_view frame, const nlohmann::json* parsed,
                                Clock::time_point now) {
  if (reply.frames++ == 0) reply.first_at = now;
  reply.bytes += frame.size();
  if (auto error = run.error_rules.match(frame, parsed)) {
    state.count_failed(error->first, std::move(error->second), 1);
    return FrameVerdict::failed;
  }
  bool done = true;
  switch (run.completion.kind) {
    case Completion::Kind::first_frame:
      break;
    case Completion::Kind::frames:
      done = reply.frames >= run.completion.frames;
      break;
    case Completion::Kind::until:
      done = run.completion.until->matches(frame, parsed);
      break;
  }
  if (!done) return FrameVerdict::more;
  state.traffic_end = std::max(state.traffic_end, now);
  if (now < state.measure_from) {
    ++state.warmup_requests;
    return FrameVerdict::done;
  }
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  const auto latency = duration_cast<microseconds>(now - reply.due).count();
  state.latency.record(latency);
  state.series.record(state.second_of(now), latency);
  state.ttfb.record(duration_cast<microseconds>(reply.first_at - reply.due).count());
  if (run.schedule) {
    state.latency_uncorrected.record(duration_cast<microseconds>(now - reply.sent_at).count());
  }
  state.frames_received += reply.frames;
  state.bytes_received += reply.bytes;
  ++state.successful_requests;
  return FrameVerdict::done;
}

/// Fills the message for request `sequence` of connection `index` into `out`.
inline std::string_view render_message(const RunContext& run, ThreadState& state, std::string& out,
                                       std::string_view prompt, std::uint64_t index,
                                       std::uint64_t sequence, std::string* uuid_used = nullptr) {
  if (run.message.empty()) return prompt;
  out.clear();
  std::string uuid;
  if (run.message.uses_uuid()) uuid = make_uuid(state.random);
  run.message.render(out, {prompt, index, sequence, uuid});
  if (uuid_used) *uuid_used = std::move(uuid);
  return out;
}

/// The JSON text of the value at `pointer` in `parsed`; empty when there is none.
inline std::string id_in(const nlohmann::json& parsed,
                         const nlohmann::json::json_pointer& pointer) {
  return parsed.contains(pointer) ? parsed.at(pointer).dump() : std::string();
}

/// The same in `body`, parsed into `parsed`; empty when it is not JSON.
inline std::string id_at(std::string_view body, const nlohmann::json::json_pointer& pointer,
                         nlohmann::json& parsed) {
  return parse_frame(body, parsed) ? id_in(parsed, pointer) : std::string();
}

/// Whether the id at `pointer` is the same whatever the prompt (see
/// RunContext::id_without_prompt).
inline bool id_independent_of_prompt(const MessageTemplate& message,
                                     const nlohmann::json::json_pointer& pointer) {
  // Only in a JSON template is a prompt always one string value, never structure.
  if (!message.is_json()) return false;
  nlohmann::json parsed;
  const std::string uuid = "00000000-0000-4000-8000-000000000000";
  return id_at(message.render({"a", 0, 0, uuid}), pointer, parsed) ==
         id_at(message.render({"b", 0, 0, uuid}), pointer, parsed);
}

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

/// Sends a connection's keepalive message; false when the write failed.
using KeepaliveSender = std::function<asio::awaitable<bool>()>;

/// Waits for request `cursor.next` to be due (open loop), sending `keepalive` whenever the
/// connection has sent nothing for the keepalive interval, or ends the connection's share
/// when the run's duration is over (closed loop). Returns when it is due; false when the
/// connection has nothing more to send, the run is ending, or a keepalive failed.
inline asio::awaitable<bool> wait_until_due(RunContext& run, ThreadState& state,
                                            ConnectionSlot& slot, Cursor& cursor,
                                            std::uint64_t index, Clock::time_point& due,
                                            const KeepaliveSender& keepalive,
                                            const Clock::time_point& last_sent);

/// A send this long after its due time is late (ScheduleReport::late_sends).
inline constexpr auto late_send = std::chrono::milliseconds(10);

/// Counts an open-loop send against its schedule.
inline void note_send(ThreadState& state, Clock::time_point due, Clock::time_point now) {
  const auto lag = now - due;
  ++state.sent;
  state.last_send = now;
  if (lag > late_send) ++state.late_sends;
  state.max_send_lag = std::max(state.max_send_lag, lag);
}

/// What the writer and the reader of a pipelined connection share. Lives in the
/// writer's frame, which waits for the reader before it ends.
struct Pipeline {
  struct Pending {
    ReplyProgress progress;
    Clock::time_point deadline;
  };
  Pipeline(const asio::any_io_executor& executor, std::uint64_t& counted)
      : room(executor), reader_done(executor), counted(counted) {}

  std::unordered_map<std::string, Pending> pending;  ///< by the id's JSON text
  std::unordered_set<std::string> expired;           ///< ids whose requests timed out
  asio::steady_timer room;                           ///< the writer waits here for a free slot
  asio::steady_timer reader_done;                    ///< and here for the reader to end
  bool reading = true;
  boost::system::error_code read_error;
  std::uint64_t& counted;
  /// A write still blocked at this time means the peer has stopped reading.
  Clock::time_point write_deadline = Clock::time_point::max();

  /// Fails the requests past their deadline at `now`, moves the connection's deadline
  /// to the next one, and wakes the writer.
  void expire(Clock::time_point now, ThreadState& state, ConnectionSlot& slot) {
    if (now >= write_deadline) {
      // Nothing can be sent after a write that cannot finish: the connection is lost.
      slot.phase = Phase::send;
      slot.close(Abort::timeout);
      return;
    }
    slot.deadline = write_deadline;
    for (auto it = pending.begin(); it != pending.end();) {
      if (it->second.deadline <= now) {
        state.count_failed(ErrorKind::reply_timeout, "", 1);
        ++counted;
        expired.insert(it->first);
        it = pending.erase(it);
      } else {
        slot.deadline = std::min(slot.deadline, it->second.deadline);
        ++it;
      }
    }
    room.cancel();
  }
};

template <class Stream>
asio::awaitable<void> read_pipelined(RunContext& run, ThreadState& state, ConnectionSlot& slot,
                                     Stream& ws, Pipeline& p) {
  beast::flat_buffer buffer;
  nlohmann::json parsed;
  for (;;) {
    co_await ws.async_read(buffer, asio::redirect_error(asio::use_awaitable, p.read_error));
    if (p.read_error) break;
    const auto now = Clock::now();
    const std::string_view frame(static_cast<const char*>(buffer.data().data()), buffer.size());
    const bool is_json = parse_frame(frame, parsed);
    const std::string id = is_json ? id_in(parsed, *run.correlation) : std::string();
    const auto it = p.pending.find(id);
    if (it == p.pending.end()) {
      ++(p.expired.count(id) ? state.late_replies : state.unmatched_replies);
    } else if (judge_frame(run, state, it->second.progress, frame, is_json ? &parsed : nullptr,
                           now) != FrameVerdict::more) {
      ++p.counted;
      p.pending.erase(it);
      p.expire(Clock::time_point::min(), state, slot);  // the next deadline; wake the writer
    }
    buffer.consume(buffer.size());
  }
  p.reading = false;
  p.room.cancel();
  p.reader_done.cancel();
}

/// Sends requests without waiting for replies, up to `in_flight` outstanding, and
/// matches reply frames to requests by the correlation id. A request past its reply
/// timeout fails alone; a frame for it that comes later is counted as late, a frame
/// with an unknown id as unmatched, and neither is timed. Returns the error that ended
/// the connection before every request was counted, if any.
template <class Stream>
asio::awaitable<boost::system::error_code> run_pipelined(RunContext& run, ThreadState& state,
                                                         ConnectionSlot& slot, Stream& ws,
                                                         std::uint64_t index, Cursor& cursor) {
  const LoadConfig& config = run.config;
  Pipeline p(co_await asio::this_coro::executor, cursor.counted);
  slot.phase = Phase::reply;
  slot.deadline = Clock::time_point::max();
  slot.expire = [&p, &state, &slot](Clock::time_point now) { p.expire(now, state, slot); };
  asio::co_spawn(ws.get_executor(), read_pipelined(run, state, slot, ws, p), asio::detached);

  boost::system::error_code ec;
  auto use = asio::redirect_error(asio::use_awaitable, ec);
  auto wait = [&](asio::steady_timer& t) {
    t.expires_at(Clock::time_point::max());
    return t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  };
  std::string message;
  std::string id_source;
  nlohmann::json sent;
  auto last_sent = Clock::now();
  KeepaliveSender keepalive;
  if (run.schedule && !config.keepalive.empty()) {
    keepalive = [&]() -> asio::awaitable<bool> {
      p.write_deadline = Clock::now() + config.timeouts.reply;
      slot.deadline = std::min(slot.deadline, p.write_deadline);
      co_await ws.async_write(asio::buffer(config.keepalive), use);
      p.write_deadline = Clock::time_point::max();
      ++state.keepalives;
      last_sent = Clock::now();
      co_return !ec;
    };
  }
  while (cursor.next < cursor.end && p.reading && !ec) {
    while (p.reading && p.pending.size() >= config.in_flight) {
      co_await wait(p.room);
      ec = {};
    }
    if (!p.reading) break;
    Clock::time_point due;
    if (!co_await wait_until_due(run, state, slot, cursor, index, due, keepalive, last_sent)) {
      if (!ec && slot.abort != Abort::none) ec = asio::error::operation_aborted;
      break;
    }
    if (!p.reading) break;
    const auto& prompt = config.prompts[cursor.next % config.prompts.size()];
    std::string uuid;
    const auto sequence = cursor.next++;
    const auto body = render_message(run, state, message, prompt, index, sequence, &uuid);
    std::string id;
    if (run.id_without_prompt) {
      id_source.clear();
      run.message.render(id_source, {{}, index, sequence, uuid});
      id = id_at(id_source, *run.correlation, sent);
    } else {
      id = id_at(body, *run.correlation, sent);
    }
    if (p.pending.count(id)) {
      // The template must give each request in flight its own id, e.g. {{sequence}}.
      state.count_failed(ErrorKind::protocol,
                         "correlation id at " + config.correlation + " repeats while in flight", 1);
      ++cursor.counted;
      continue;
    }
    const auto now = Clock::now();
    if (run.schedule) note_send(state, due, now);
    p.pending[id] = {{now, run.schedule ? due : now}, now + config.timeouts.reply};
    slot.phase = Phase::reply;
    p.write_deadline = now + config.timeouts.reply;
    slot.deadline = std::min(slot.deadline, p.write_deadline);
    co_await ws.async_write(asio::buffer(body), use);
    ++state.written;
    p.write_deadline = Clock::time_point::max();
    last_sent = now;
  }
  const auto write_error = ec;
  while (p.reading && !write_error && !p.pending.empty()) {
    co_await wait(p.room);
  }
  slot.expire = nullptr;
  if (p.reading && write_error) {
    // Nothing more can be sent, and the failure is the send's: no closing handshake,
    // whose phase would take the blame; closing the socket ends the reader's read.
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws).close(ignored);
    while (p.reading) co_await wait(p.reader_done);
  } else if (p.reading) {
    // Everything is answered: a close ends the reader's read.
    slot.arm(Phase::close, Clock::now(), config.timeouts.close);
    co_await ws.async_close(websocket::close_code::normal, use);
    while (p.reading) co_await wait(p.reader_done);
    if (slot.abort != Abort::none) ++state.close_timeouts;
  }
  if (cursor.counted == cursor.end) co_return boost::system::error_code{};
  co_return write_error ? write_error : p.read_error;
}

/// Reads frames until the connection closes, counting each: frames that arrive after the
/// last reply belong to no request.
template <class Stream>
asio::awaitable<void> count_leftovers(ThreadState& state, Stream& ws, bool& reading,
                                      asio::steady_timer& done) {
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (;;) {
    co_await ws.async_read(buffer, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    ++state.unconsumed_at_close;
    buffer.consume(buffer.size());
  }
  reading = false;
  done.cancel();
}

/// The closing handshake of a connection with no reader of its own, bounded by
/// `timeout`. A reader runs beside it, so the frames the close would drain unseen are
/// counted; a close cut short is counted too, and is no failure of any request.
template <class Stream>
asio::awaitable<void> close_counting_leftovers(ThreadState& state, ConnectionSlot& slot, Stream& ws,
                                               std::chrono::milliseconds timeout) {
  slot.arm(Phase::close, Clock::now(), timeout);
  bool reading = true;
  asio::steady_timer done(ws.get_executor(), Clock::time_point::max());
  asio::co_spawn(ws.get_executor(), count_leftovers(state, ws, reading, done), asio::detached);
  boost::system::error_code ec;
  auto use = asio::redirect_error(asio::use_awaitable, ec);
  // Let the reader start its read first, so the close finds it reading and leaves the
  // draining to it.
  co_await asio::post(ws.get_executor(), asio::use_awaitable);
  co_await ws.async_close(websocket::close_code::normal, use);
  while (reading) {
    done.expires_at(Clock::time_point::max());
    co_await done.async_wait(use);
  }
  if (slot.abort != Abort::none) ++state.close_timeouts;
}

/// Sends each request and waits for its reply before the next. Returns the error that
/// ended the connection before every request was counted, if any.
template <class Stream>
asio::awaitable<boost::system::error_code> run_sequential(RunContext& run, ThreadState& state,
                                                          ConnectionSlot& slot, Stream& ws,
                                                          std::uint64_t index, Cursor& cursor) {
  const LoadConfig& config = run.config;
  boost::system::error_code ec;
  auto use = asio::redirect_error(asio::use_awaitable, ec);
  beast::flat_buffer buffer;
  nlohmann::json parsed;
  std::string message;
  auto last_sent = Clock::now();
  KeepaliveSender keepalive;
  if (run.schedule && !config.keepalive.empty()) {
    keepalive = [&]() -> asio::awaitable<bool> {
      slot.arm(Phase::send, Clock::now(), config.timeouts.reply);
      co_await ws.async_write(asio::buffer(config.keepalive), use);
      ++state.keepalives;
      last_sent = Clock::now();
      co_return !ec;
    };
  }
  while (cursor.next < cursor.end) {
    Clock::time_point due;
    if (!co_await wait_until_due(run, state, slot, cursor, index, due, keepalive, last_sent)) {
      if (ec) co_return ec;  // a keepalive could not be sent
      if (slot.abort != Abort::none) co_return asio::error::operation_aborted;
      break;
    }
    const auto& prompt = config.prompts[cursor.next % config.prompts.size()];
    const auto body = render_message(run, state, message, prompt, index, cursor.next++);
    ReplyProgress reply{Clock::now(), {}};
    reply.due = run.schedule ? due : reply.sent_at;
    if (run.schedule) note_send(state, due, reply.sent_at);
    slot.arm(Phase::send, reply.sent_at, config.timeouts.reply);
    last_sent = reply.sent_at;
    co_await ws.async_write(asio::buffer(body), use);
    ++state.written;
    if (!ec) slot.phase = Phase::reply;
    const auto reads_at_send = ws.next_layer().reads;
    FrameVerdict verdict = FrameVerdict::more;
    while (!ec && verdict == FrameVerdict::more) {
      buffer.consume(buffer.size());
      co_await ws.async_read(buffer, use);
      if (ec) break;
      if (reply.frames == 0 && ws.next_layer().reads == reads_at_send) {
        // Decoded from bytes read before the request was sent: an earlier reply's frame
        // that its completion rule left, never this request's answer.
        ++state.unconsumed_before_request;
        continue;
      }
      const std::string_view frame(static_cast<const char*>(buffer.data().data()), buffer.size());
      const bool is_json = run.parse_frames && parse_frame(frame, parsed);
      verdict = judge_frame(run, state, reply, frame, is_json ? &parsed : nullptr, Clock::now());
    }
    if (ec) co_return ec;
    ++cursor.counted;
  }
  // Every request is counted by now; a slow or failed close costs nothing but time.
  co_await close_counting_leftovers(state, slot, ws, config.timeouts.close);
  co_return boost::system::error_code{};
}

inline void emplace_stream(std::optional<websocket::stream<PlainSocket>>& ws,
                           const asio::any_io_executor& executor, RunContext&) {
  ws.emplace(executor);
}

inline void emplace_stream(std::optional<websocket::stream<TlsSocket>>& ws,
                           const asio::any_io_executor& executor, RunContext& run) {
  ws.emplace(executor, *run.tls);
}

using Failure = std::pair<ErrorKind, std::string>;

/// What the server's 101 response chose that the client never offered, which fails the
/// connection: any extension (wsload offers none; RFC 6455 9.1), or a subprotocol not
/// among `offered` (4.1). Empty when it chose nothing it may not.
inline std::optional<std::string> unoffered_choice(const websocket::response_type& response,
                                                   const std::vector<std::string>& offered) {
  const auto chosen = [&](http::field field) {
    const auto it = response.find(field);
    return it == response.end() ? std::string() : std::string(it->value());
  };
  if (const auto extension = chosen(http::field::sec_websocket_extensions); !extension.empty()) {
    return "the server chose the extension '" + shorten(extension) +
           "', which was not offered (RFC 6455 9.1)";
  }
  const auto subprotocol = chosen(http::field::sec_websocket_protocol);
  if (!subprotocol.empty() &&
      std::find(offered.begin(), offered.end(), subprotocol) == offered.end()) {
    return "the server chose the subprotocol '" + shorten(subprotocol) +
           "', which was not offered (RFC 6455 4.1)";
  }
  return std::nullopt;
}

/// Connects, negotiates TLS and upgrades `ws`; the reason when any step fails.
template <class Stream>
asio::awaitable<std::optional<Failure>> open_connection(RunContext& run, ConnectionSlot& slot,
                                                        Stream& ws) {
  const LoadConfig& config = run.config;
  boost::system::error_code ec;
  auto use = asio::redirect_error(asio::use_awaitable, ec);
  tcp::socket& socket = beast::get_lowest_layer(ws);
  slot.tearing_down = false;
  ws.next_layer().on_teardown = [&slot, close = config.timeouts.close] {
    slot.tear_down(Clock::now(), close);
  };

  slot.arm(Phase::connect, Clock::now(), config.timeouts.connect);
  co_await asio::async_connect(socket, run.endpoints, use);
  if (ec) co_return classify(ec, slot, {});
  socket.set_option(tcp::no_delay(true), ec);

  if constexpr (!std::is_same_v<Stream, websocket::stream<PlainSocket>>) {
    slot.arm(Phase::tls, Clock::now(), config.timeouts.handshake);
    SSL* ssl = ws.next_layer().native_handle();
    if (!prepare_tls(ssl, run.url, config.tls.insecure)) {
      co_return Failure{ErrorKind::tls, "cannot set the server name to verify"};
    }
    co_await ws.next_layer().async_handshake(use);
    if (ec) {
      auto why = classify(ec, slot, {});
      if (slot.abort == Abort::none) why.second = tls_failure_detail(ssl, ec);
      co_return why;
    }
  }

  slot.arm(Phase::upgrade, Clock::now(), config.timeouts.handshake);
  ws.set_option(websocket::stream_base::decorator([&config](websocket::request_type& req) {
    req.set(http::field::user_agent, "wsload/0.1");
    if (!config.origin.empty()) req.set(http::field::origin, config.origin);
    for (const auto& h : config.headers) req.set(h.name, h.value);
    if (!config.subprotocols.empty()) {
      std::string joined;
      for (const auto& p : config.subprotocols) joined += (joined.empty() ? "" : ", ") + p;
      req.set(http::field::sec_websocket_protocol, joined);
    }
  }));
  std::string target = run.url.target();
  if (run.aws) {
    // Signed at this connection's own connect time: a long run outlives any one signature.
    target = run.url.path + "?" +
             aws::presign_query(*run.aws, run.url.host_header(), run.url.path, run.url.query,
                                std::chrono::system_clock::now(), config.aws.service,
                                config.aws.expires);
  }
  websocket::response_type response;
  co_await ws.async_handshake(response, run.url.host_header(), target, use);
  if (ec) {
    if (ec == websocket::error::upgrade_declined && slot.abort == Abort::none) {
      co_return Failure{ErrorKind::handshake_rejected,
                        "HTTP " + std::to_string(response.result_int())};
    }
    co_return classify(ec, slot, {});
  }
  if (auto unoffered = unoffered_choice(response, config.subprotocols)) {
    co_return Failure{ErrorKind::handshake, std::move(*unoffered)};
  }
  ws.read_message_max(config.max_message_size);
  ws.text(true);
  // API Gateway takes frames of at most 32 KB.
  ws.auto_fragment(true);
  ws.write_buffer_bytes(run.write_buffer_bytes);
  co_return std::nullopt;
}

/// Waits until `at` (connect-rate pacing, reconnect backoff, a request's due time), cut
/// short when the run ends. False when it has. Requests in flight keep their deadlines.
inline asio::awaitable<bool> pause_until(ThreadState& state, ConnectionSlot& slot,
                                         Clock::time_point at) {
  asio::steady_timer timer(co_await asio::this_coro::executor, at);
  if (!slot.expire) {
    slot.phase = Phase::wait;
    slot.deadline = Clock::time_point::max();
  }
  slot.timer = &timer;
  boost::system::error_code ec;
  if (state.abort_all == Abort::none) {
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  slot.timer = nullptr;
  if (state.abort_all != Abort::none && slot.abort == Abort::none) slot.abort = state.abort_all;
  co_return slot.abort == Abort::none;
}

inline asio::awaitable<bool> wait_until_due(RunContext& run, ThreadState& state,
                                            ConnectionSlot& slot, Cursor& cursor,
                                            std::uint64_t index, Clock::time_point& due,
                                            const KeepaliveSender& keepalive,
                                            const Clock::time_point& last_sent) {
  const auto now = Clock::now();
  if (!run.schedule) {
    due = now;
    if (now < run.send_until) co_return true;
    cursor.end = cursor.next;  // the duration is over: what was sent is the share
    co_return false;
  }
  due = run.start + to_clock(run.schedule->at(cursor.next * run.config.connections + index));
  while (keepalive && due > last_sent + run.config.keepalive_interval) {
    const auto at = last_sent + run.config.keepalive_interval;
    if (at > Clock::now() && !co_await pause_until(state, slot, at)) co_return false;
    if (!co_await keepalive()) co_return false;
  }
  if (due > Clock::now() && !co_await pause_until(state, slot, due)) co_return false;
  if (Clock::now() >= run.send_until) {
    // Sending stops with the schedule: what is overdue then was never sent, a shortfall
    // of the generator that no request count includes.
    state.schedule_not_sent += cursor.end - cursor.next;
    cursor.end = cursor.next;
    co_return false;
  }
  co_return true;
}

/// Open loop: of the requests from `cursor.next` on, counts those overdue at `now` as not
/// sent (the run is ending); the rest never came due. A request due within the lateness a
/// send is allowed (10 ms, as note_send counts it) was not yet late: an interrupt caught it
/// on its way.
inline void settle_unsent(const RunContext& run, ThreadState& state, const Cursor& cursor,
                          std::uint64_t index, Clock::time_point now) {
  for (auto k = cursor.next; k < cursor.end; ++k) {
    const auto due = run.start + to_clock(run.schedule->at(k * run.config.connections + index));
    if (due + late_send > now) break;
    ++state.schedule_not_sent;
  }
}

/// The wait before a reconnect after `failures` drops or failed attempts in a row:
/// doubling from the policy's backoff to its maximum, half of it random so that
/// connections dropped together do not all return together.
inline Clock::duration reconnect_delay(const ReconnectPolicy& policy, std::size_t failures,
                                       std::mt19937_64& random) {
  double ms = static_cast<double>(policy.backoff.count()) *
              std::ldexp(1.0, static_cast<int>(std::min<std::size_t>(failures, 30)));
  ms = std::min(ms, static_cast<double>(policy.max_backoff.count()));
  ms = ms / 2 + std::uniform_real_distribution<double>(0, ms / 2)(random);
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(ms));
}

/// Runs one connection to completion. Every request it does not complete is counted as
/// failed under the kind of the failure that ended it, so totals always add up to
/// prompts x iterations. With a reconnect policy, a connection that drops fails only the
/// requests it had in flight and carries on with the rest on a new connection.
template <class Stream>
asio::awaitable<void> run_connection(RunContext& run, ThreadState& state, std::uint64_t index) {
  const LoadConfig& config = run.config;
  Cursor cursor;
  ConnectionSlot slot;
  slot.cursor = &cursor;
  LiveGuard guard(state, slot);
  struct Finish {
    ThreadState& state;
    ~Finish() {
      if (--state.remaining == 0) state.finished_at = Clock::now();
    }
  } finish{state};
  if (run.schedule) {
    const auto total = run.schedule->total();
    cursor.end = index < total ? (total - index - 1) / config.connections + 1 : 0;
    if (cursor.end == 0) co_return;  // a schedule shorter than the connections
  } else {
    cursor.end =
        config.duration.count() > 0 ? Cursor::unbounded : config.prompts.size() * config.iterations;
  }
  // Ends the connection's share. The requests in flight fail under the reason's kind;
  // those not yet sent fail too when the service is the reason (a connection refused or
  // dropped), but not when the run is ending: an interrupt, or an open loop's deadline,
  // is no failure of the service, and they are only noted as not sent.
  auto give_up = [&](Failure why) {
    const bool run_ends = why.first == ErrorKind::interrupted ||
                          (why.first == ErrorKind::run_deadline && run.schedule);
    if (!run_ends) {
      if (run.schedule) state.unsent_failed += cursor.end - cursor.next;
      state.count_failed(why.first, std::move(why.second), cursor.remaining());
      return;
    }
    if (why.first == ErrorKind::run_deadline && cursor.end > cursor.next) state.deadline_cut = true;
    state.count_failed(why.first, std::move(why.second), cursor.next - cursor.counted);
    if (run.schedule) {
      settle_unsent(run, state, cursor, index, Clock::now());
    } else if (cursor.end != Cursor::unbounded) {
      state.not_sent += cursor.end - cursor.next;
    }
  };

  if (config.connect_rate > 0 && index > 0) {
    // Paced from the run's start, so a slow connect does not delay the ones after it.
    const auto at =
        run.start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                        static_cast<double>(index) / config.connect_rate));
    if (!co_await pause_until(state, slot, at)) {
      give_up(classify({}, slot, {}));
      co_return;
    }
  }
  if (state.abort_all != Abort::none && slot.abort == Abort::none) slot.abort = state.abort_all;
  if (slot.abort != Abort::none) {
    give_up(classify({}, slot, {}));
    co_return;
  }

  const auto executor = co_await asio::this_coro::executor;
  bool opened_before = false;
  std::size_t reconnects = 0;
  std::size_t failures_in_a_row = 0;
  bool reopening_after_timeout = false;
  for (;;) {
    Failure why;
    {
      struct OpenGauge {
        std::uint64_t& open_now;
        bool counted = false;
        ~OpenGauge() {
          if (counted) --open_now;
        }
      } open{state.open_now};
      std::optional<Stream> ws;
      emplace_stream(ws, executor, run);
      slot.socket = &beast::get_lowest_layer(*ws);
      if (auto failure = co_await open_connection(run, slot, *ws)) {
        why = std::move(*failure);
        ++(opened_before ? state.reconnects_failed : state.connections_failed);
        ++failures_in_a_row;
      } else {
        ++(reopening_after_timeout ? state.timeout_reconnects
           : opened_before         ? state.reconnects
                                   : state.connections_opened);
        reopening_after_timeout = false;
        state.last_open = Clock::now();
        open.counted = true;
        ++state.open_now;
        opened_before = true;
        const auto succeeded_before = state.successful_requests;
        const auto ec = run.correlation
                            ? co_await run_pipelined(run, state, slot, *ws, index, cursor)
                            : co_await run_sequential(run, state, slot, *ws, index, cursor);
        if (!ec) co_return;
        why = classify(ec, slot, ws->reason());
        // A connection that served requests before it dropped starts the backoff afresh.
        failures_in_a_row =
            state.successful_requests > succeeded_before ? 1 : failures_in_a_row + 1;
      }
      boost::system::error_code ignored;
      slot.socket->close(ignored);
      slot.socket = nullptr;
    }
    const bool run_ending = slot.abort == Abort::run_deadline || slot.abort == Abort::interrupted ||
                            state.abort_all != Abort::none;
    if (opened_before && !run_ending && slot.abort == Abort::timeout &&
        why.first == ErrorKind::reply_timeout) {
      // Only the requests in flight timed out. The rest go on a fresh connection, where a
      // late reply cannot be taken for theirs (correlated replies time out one by one and
      // keep their connection: see Pipeline::expire).
      state.count_failed(why.first, std::move(why.second), cursor.next - cursor.counted);
      cursor.counted = cursor.next;
      if (cursor.counted == cursor.end) co_return;
      reopening_after_timeout = true;
      slot.abort = Abort::none;
      slot.expire = nullptr;
      continue;
    }
    if (!opened_before || run_ending || reconnects >= config.reconnect.max_attempts) {
      give_up(std::move(why));
      co_return;
    }
    // The requests in flight are lost with the connection; the rest go on a new one.
    state.count_failed(why.first, std::move(why.second), cursor.next - cursor.counted);
    cursor.counted = cursor.next;
    if (cursor.counted == cursor.end) co_return;
    ++reconnects;
    slot.abort = Abort::none;  // a timeout ended the old connection, not this one
    slot.expire = nullptr;
    if (!co_await pause_until(
            state, slot,
            Clock::now() +
                reconnect_delay(config.reconnect, failures_in_a_row - 1, state.random))) {
      give_up(classify({}, slot, {}));
      co_return;
    }
  }
}

}  // namespace wsload::detail
