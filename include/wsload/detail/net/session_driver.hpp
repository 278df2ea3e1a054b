// Scripted sessions on a load connection (session.hpp): the trampoline that performs with
// Asio what a Session's coroutine asks for (its reader is in session_link.hpp) and the loop
// that runs a connection's sessions.
//
// Each connection runs its sessions one after another (sessions arriving at a rate, each on
// a connection of its own: session_arrivals.hpp): `iterations` of them, or until the
// duration ends. A session that loses its connection (a close, a reply timeout, which
// closes it) fails; the next starts on a new connection. Every wait is bounded by the
// thread's watchdog, as for the prompt loops: a receive by the reply timeout, the close by
// the close timeout, everything by the run's deadline.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <wsload/config.hpp>
#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/classify.hpp>
#include <wsload/detail/net/connection.hpp>
#include <wsload/detail/net/frames.hpp>
#include <wsload/detail/net/pacing.hpp>
#include <wsload/detail/net/session_connection.hpp>
#include <wsload/detail/net/session_link.hpp>
#include <wsload/detail/net/state.hpp>
#include <wsload/errors.hpp>
#include <wsload/results/steps.hpp>
#include <wsload/session.hpp>

namespace wsload::detail {

/// Records a thread's sessions' steps and checks into its ThreadState (none that ended in
/// the warm-up).
class ThreadSessionSink final : public SessionSink {
 public:
  explicit ThreadSessionSink(ThreadState& state) : state_(state) {}

  void step_succeeded(std::string_view step, std::chrono::microseconds latency,
                      std::chrono::microseconds ttfb, Clock::time_point ended) override {
    if (measuring(ended)) figures(step).record_success(latency.count(), ttfb.count());
  }
  void step_failed(std::string_view step, std::string_view kind, Clock::time_point ended) override {
    if (measuring(ended)) figures(step).record_failure(kind);
  }
  void check(std::string_view name, bool passed) override {
    if (!measuring(Clock::now())) return;
    auto it = state_.checks.find(name);
    if (it == state_.checks.end()) it = state_.checks.try_emplace(std::string(name)).first;
    ++(passed ? it->second.passes : it->second.failures);
  }

 private:
  bool measuring(Clock::time_point at) const { return at >= state_.measure_from; }
  StepFigures& figures(std::string_view step) {
    auto it = state_.steps.find(step);
    if (it == state_.steps.end()) it = state_.steps.try_emplace(std::string(step)).first;
    return it->second;
  }
  ThreadState& state_;
};

/// How a session operation failed: the request's kind, and the step failure's name.
struct SessionFailed {
  Failure why;
  std::string_view step_kind;  ///< "timeout", "closed", "send", "error_frame", "check"
};

/// The step kind of a connection failure.
inline std::string_view step_kind_of(ErrorKind kind, Phase phase) {
  if (kind == ErrorKind::reply_timeout) return phase == Phase::send ? "send" : "timeout";
  return "closed";
}

/// Whether a failure of kind `kind` comes from the run ending rather than the service: an
/// interrupt, or an open loop's deadline (a closed loop's deadline fails what is left, as
/// the prompt loop's does).
inline bool ends_with_the_run(const RunContext& run, const ThreadState& state, ErrorKind kind) {
  return kind == ErrorKind::interrupted || state.abort_all == Abort::interrupted ||
         (kind == ErrorKind::run_deadline && run.schedule);
}

/// Counts the `left` requests that a session's end under `why` leaves, those in flight
/// (`in_flight` of them) first: all failed under its kind, unless the run is ending (then
/// those in flight, the rest not sent). A run bounded by time counts none it did not send.
inline void count_left(const RunContext& run, ThreadState& state, const Failure& why,
                       std::uint64_t left, std::uint64_t in_flight = 1) {
  const bool run_ends = ends_with_the_run(run, state, why.first);
  const bool bounded_by_time = run.send_until != Clock::time_point::max();
  const auto failed = run_ends || bounded_by_time ? std::min(in_flight, left) : left;
  state.count_failed(why.first, why.second, failed);
  if (run_ends && !bounded_by_time) state.not_sent += left - failed;
}

/// Performs one session operation on `link`; the failure that ends the session, if any.
template <class Stream>
class SessionOperations {
 public:
  SessionOperations(RunContext& run, ThreadState& state, ConnectionSlot& slot,
                    SessionLink<Stream>& link)
      : run_(run), state_(state), slot_(slot), link_(link) {}

  asio::awaitable<std::optional<SessionFailed>> perform(Session& session, SessionOperation& op) {
    using Kind = SessionOperation::Kind;
    SessionAccess::reply(session) = Reply{};
    if (yield_due(link_)) co_await yield_to_loop(link_);
    switch (op.kind) {
      case Kind::yield:
        link_.unyielded = 0;
        co_await yield_to_loop(link_);
        co_return std::nullopt;
      case Kind::send:
        if (answers_waiting()) {
          if (auto failed = co_await send_answers()) co_return failed;
        }
        {
          std::optional<SessionFailed> failed;
          if (!written_at_once(op.payload, op.binary, failed)) {
            failed = co_await write_one(op.payload, op.binary);
          }
          co_return failed;
        }
      case Kind::think:
        co_return co_await wait(
            Clock::now() + std::chrono::duration_cast<Clock::duration>(op.pause), false);
      case Kind::receive:
        co_return co_await receive(session, *op.until, std::nullopt);
      case Kind::request: {
        const auto start = Clock::now() - std::exchange(first_step_late_, Clock::duration{});
        // The reader is always reading: a socket read it has pending brings bytes that
        // arrive after the send, so only frames decoded without a read since then are
        // an earlier step's.
        const auto reads = link_.reads();
        const auto reads_at_send = reads > link_.reads_at_read ? reads - 1 : reads;
        if (answers_waiting()) {
          if (auto failed = co_await send_answers()) co_return failed;
        }
        std::optional<SessionFailed> failed;
        if (!written_at_once(op.payload, op.binary, failed)) {
          failed = co_await write_one(op.payload, op.binary);
        }
        if (failed) co_return failed;
        failed = co_await receive(session, *op.until, reads_at_send);
        if (!failed) {
          using std::chrono::duration_cast;
          using std::chrono::microseconds;
          SessionAccess::step_done(session, op.step, duration_cast<microseconds>(last_at_ - start),
                                   duration_cast<microseconds>(first_at_ - start), last_at_);
        }
        co_return failed;
      }
      case Kind::prompts:
        co_return co_await send_prompts(session);
      case Kind::none:
        break;
    }
    co_return SessionFailed{{ErrorKind::session_failed, "the session awaited no operation"},
                            "check"};
  }

  /// An arrived session's first step is charged how late the session started (its wait for
  /// a slot and its connect), as if it had started when due.
  void charge_first_step(Clock::duration late) noexcept { first_step_late_ = late; }
  Clock::time_point first_frame_at() const noexcept { return session_first_at_; }
  std::uint64_t frames() const noexcept { return frames_; }
  std::uint64_t bytes() const noexcept { return bytes_; }
  /// Whether the session sent prompts (send_prompts): they, not it, are its requests.
  bool sent_prompts() const noexcept { return sent_prompts_; }
  /// The prompts of the send_prompts() passes begun so far.
  std::uint64_t prompts_begun() const noexcept {
    return passes_begun_ * run_.config.prompts.size();
  }
  /// Whether the failure that ended the session is counted already (by its prompts').
  bool failure_counted() const noexcept { return failure_counted_; }

 private:
  /// Session::send_prompts(): the sequential prompt loop's requests, on the session's
  /// link. Judged by judge_frame at each frame's arrival, as the prompt loop judges them.
  asio::awaitable<std::optional<SessionFailed>> send_prompts(const Session& session) {
    const LoadConfig& config = run_.config;
    if (!prompt_scan_) {
      prompt_scan_.emplace(run_.parse_frames ? std::span<const JsonPath>(run_.frame_paths)
                                             : std::span<const JsonPath>());
    }
    const std::uint64_t total = config.prompts.size();
    sent_prompts_ = total > 0;  // from here its prompts count it, whether sent or not
    if (total == 0) {
      co_return SessionFailed{
          {ErrorKind::session_failed, "send_prompts: the run has no prompts (LoadConfig::prompts)"},
          "check"};
    }
    const std::uint64_t sequence_base = session.iteration() * config.session_requests();
    ++passes_begun_;
    if (run_.correlation) co_return co_await send_correlated_prompts(session, sequence_base);
    for (std::uint64_t i = 0; i < total; ++i) {
      // A run's time ends the prompts as it ends the prompt loop's: none sent after it.
      if (Clock::now() >= run_.send_until) break;
      if (i > 0 && yield_due(link_)) co_await yield_to_loop(link_);
      if (answers_waiting()) {
        if (auto failed = co_await send_answers()) co_return prompts_failed(*failed, total - i);
      }
      const auto body = render_message(run_, state_, prompt_message_, config.prompts[i],
                                       session.connection(), sequence_base + prompts_sent_++);
      ReplyProgress reply{Clock::now(), {}};
      reply.gaps = std::move(prompt_gaps_);
      reply.gaps.clear();
      reply.due = reply.sent_at - std::exchange(first_step_late_, Clock::duration{});
      const auto reads = link_.reads();
      const auto reads_at_send = reads > link_.reads_at_read ? reads - 1 : reads;
      std::optional<SessionFailed> failed;
      if (!written_at_once(body, false, failed)) failed = co_await write_one(body, false);
      if (failed) co_return prompts_failed(*failed, total - i);
      slot_.arm(Phase::reply, reply.sent_at, config.timeouts.reply);
      FrameVerdict verdict = FrameVerdict::more;
      while (verdict == FrameVerdict::more) {
        // wait()'s loop inline: a coroutine called per reply costs its frame's malloc.
        for (;;) {
          if (answers_waiting()) {
            if (auto failed = co_await send_answers()) co_return prompts_failed(*failed, total - i);
          }
          if (!link_.inbox.empty()) break;
          if (!link_.reading) co_return prompts_failed(connection_failure(), total - i);
          boost::system::error_code ignored;
          link_.wake.expires_at(Clock::time_point::max());
          co_await link_.wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        }
        while (!link_.inbox.empty() && verdict == FrameVerdict::more) {
          ArrivedFrame frame = std::move(link_.inbox.front());
          link_.inbox.pop_front();
          if (reply.frames == 0 && frame.reads <= reads_at_send) {
            ++state_.unconsumed_before_request;  // an earlier step's
            continue;
          }
          scan_frame(*prompt_scan_, frame.data, frame.binary);
          verdict = judge_frame(run_, state_, reply, frame.data, *prompt_scan_, frame.at);
        }
      }
      prompt_gaps_ = std::move(reply.gaps);
      slot_.idle();
    }
    co_return std::nullopt;
  }

  /// send_prompts() with a correlation id (LoadConfig::correlation), as the pipelined loop:
  /// up to in_flight prompts outstanding, matched and timed out as InFlight does. It ends
  /// once each is answered or timed out; a frame left for one after that is the next step's.
  asio::awaitable<std::optional<SessionFailed>> send_correlated_prompts(
      const Session& session, std::uint64_t sequence_base) {
    const LoadConfig& config = run_.config;
    if (!correlated_scan_) {
      correlated_scan_.emplace(run_.frame_paths);
      id_scan_.emplace(std::span<const JsonPath>(&*run_.correlation_path, 1));
    }
    InFlight& replies = correlated_replies_;  // kept: a later pass reuses its buckets
    replies.pending.clear();
    replies.expired.clear();
    auto& pending = replies.pending;
    const std::uint64_t total = config.prompts.size();
    std::uint64_t next = 0;
    // The earliest deadline in flight, or earlier: a reply that ends its request leaves it.
    auto earliest = Clock::time_point::max();
    auto take_arrived = [&] {
      while (!link_.inbox.empty()) {
        ArrivedFrame frame = std::move(link_.inbox.front());
        link_.inbox.pop_front();
        replies.take(run_, state_, frame.data, frame.binary, *correlated_scan_, frame.at);
      }
    };
    // Counts what a failure leaves; when every prompt is counted already, the failure is
    // the session's, after its prompts (run_one_session counts it).
    auto failed_with = [&](SessionFailed failed) {
      take_arrived();  // replies that came before the failure count as they came
      const std::uint64_t left = pending.size() + (total - next);
      if (left == 0) return failed;
      return prompts_failed(failed, left, std::max<std::uint64_t>(pending.size(), 1));
    };
    for (;;) {
      // A run's time ends the prompts as it ends the prompt loop's: none sent after it.
      while (next < total && pending.size() < config.in_flight && Clock::now() < run_.send_until) {
        if (next > 0 && yield_due(link_)) co_await yield_to_loop(link_);
        if (answers_waiting()) {
          if (auto failed = co_await send_answers()) co_return failed_with(*failed);
        }
        std::string uuid;
        const auto sequence = sequence_base + prompts_sent_++;
        const auto body = render_message(run_, state_, prompt_message_, config.prompts[next],
                                         session.connection(), sequence, &uuid);
        auto id =
            request_id(run_, body, session.connection(), sequence, uuid, id_source_, *id_scan_);
        ++next;
        if (pending.count(id)) {
          state_.count_failed(ErrorKind::protocol, repeated_id(run_), 1);
          continue;
        }
        const auto now = Clock::now();
        const auto late = std::exchange(first_step_late_, Clock::duration{});
        pending[std::move(id)] = {{now, now - late}, now + config.timeouts.reply};
        earliest = std::min(earliest, now + config.timeouts.reply);
        std::optional<SessionFailed> failed;
        if (!written_at_once(body, false, failed)) failed = co_await write_one(body, false);
        if (failed) co_return failed_with(*failed);
      }
      if (pending.empty()) {
        slot_.idle();
        co_return std::nullopt;
      }
      // Waiting for replies, bounded by the earliest deadline below rather than the
      // watchdog's (which would close the connection); an end now is the replies' to classify.
      slot_.idle();
      slot_.phase = Phase::reply;
      // wait()'s loop inline, as send_prompts' (no coroutine frame per wake).
      for (;;) {
        if (answers_waiting()) {
          if (auto failed = co_await send_answers()) co_return failed_with(*failed);
        }
        if (!link_.inbox.empty()) break;
        if (!link_.reading) {
          // Those past their deadline timed out before the connection ended; when that
          // leaves none, the prompts are done and the end is the next step's.
          replies.expire(Clock::now(), state_, earliest);
          if (pending.empty() && next == total) {
            slot_.idle();
            co_return std::nullopt;
          }
          co_return failed_with(connection_failure());
        }
        if (Clock::now() >= earliest) break;
        boost::system::error_code ignored;
        link_.wake.expires_at(earliest);
        co_await link_.wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
      }
      take_arrived();
      if (Clock::now() >= earliest) replies.expire(Clock::now(), state_, earliest);
    }
  }

  /// Counts the prompts a failure of send_prompts() leaves (`left` of this pass,
  /// `in_flight` of them sent; see count_left) and those of the session's later passes, as
  /// the prompt loop counts a connection's.
  SessionFailed prompts_failed(SessionFailed failed, std::uint64_t left,
                               std::uint64_t in_flight = 1) {
    const std::uint64_t begun = prompts_begun();
    const std::uint64_t per_session = run_.config.session_requests();
    const std::uint64_t later = per_session > begun ? per_session - begun : 0;
    count_left(run_, state_, failed.why, left + later, in_flight);
    failure_counted_ = true;
    return failed;
  }

  /// The failure the reader's end means.
  SessionFailed connection_failure() const {
    auto why = classify(link_.read_error, slot_, link_.reason());
    return {why, step_kind_of(why.first, slot_.phase)};
  }

  /// Whether send_answers() has anything to do: asked first, as a coroutine called for
  /// nothing still allocates its frame (so is wait() for frames already in).
  bool answers_waiting() const noexcept {
    return !link_.answers.empty() || !link_.handler_error.empty();
  }

  /// The failure the connection's end means, once its reader has ended: a close or a
  /// failure it met is followed by a teardown, bounded by the close timeout.
  asio::awaitable<std::optional<SessionFailed>> connection_ended() {
    boost::system::error_code ignored;
    while (link_.reading) {
      link_.wake.expires_at(Clock::time_point::max());
      co_await link_.wake.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    co_return connection_failure();
  }

  /// Sends a message when the socket takes it at once (see send_message_now), with no
  /// coroutine frame: `failed` says how it went. False when write_one() must send it, or
  /// the rest of it.
  bool written_at_once(std::string_view payload, bool binary,
                       std::optional<SessionFailed>& failed) {
    if (!link_.open()) return false;
    slot_.arm(Phase::send, Clock::now(), run_.config.timeouts.reply);
    boost::system::error_code ec;
    if (!send_message_now(link_, payload, binary, ec)) return false;
    failed = write_ended(ec);
    return true;
  }

  /// The end of a message's send: its failure, if it failed (classified while the slot
  /// still says it was sending).
  std::optional<SessionFailed> write_ended(const boost::system::error_code& ec) {
    std::optional<SessionFailed> failed;
    if (ec) {
      failed = SessionFailed{classify(ec, slot_, link_.reason()), "send"};
    } else {
      ++state_.written;
    }
    slot_.idle();
    return failed;
  }

  asio::awaitable<std::optional<SessionFailed>> write_one(std::string_view payload, bool binary) {
    slot_.arm(Phase::send, Clock::now(), run_.config.timeouts.reply);
    if (!link_.open()) co_return co_await connection_ended();  // a send that cannot start
    boost::system::error_code ec;
    co_await send_message(link_, payload, binary, ec);
    // A send the connection's end cut short fails as that end does.
    if (ec && !link_.open()) co_return co_await connection_ended();
    co_return write_ended(ec);
  }

  /// Sends what handlers answered so far. A reply being waited for keeps its deadline
  /// (an answer's send arms its own, then idles the slot).
  asio::awaitable<std::optional<SessionFailed>> send_answers() {
    const auto phase = slot_.phase;
    const auto deadline = slot_.deadline;
    while (!link_.answers.empty()) {
      const std::string answer = std::move(link_.answers.front());
      link_.answers.pop_front();
      if (auto failed = co_await write_one(answer, false)) co_return failed;
    }
    slot_.phase = phase;
    slot_.deadline = std::min(slot_.deadline, deadline);
    if (!link_.handler_error.empty()) {
      co_return SessionFailed{{ErrorKind::session_failed, link_.handler_error}, "check"};
    }
    co_return std::nullopt;
  }

  /// Waits until `until`, or with `for_frames` until a frame waits in the inbox, answering
  /// for the handlers meanwhile. Fails when the connection ends first.
  asio::awaitable<std::optional<SessionFailed>> wait(Clock::time_point until, bool for_frames) {
    boost::system::error_code ec;
    for (;;) {
      if (answers_waiting()) {
        if (auto failed = co_await send_answers()) co_return failed;
      }
      if (for_frames && !link_.inbox.empty()) co_return std::nullopt;
      if (!link_.reading) co_return connection_failure();
      if (Clock::now() >= until) co_return std::nullopt;
      link_.wake.expires_at(until);
      co_await link_.wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  /// Takes frames until one matches `until`. With `reads_at_send`, frames decoded from
  /// bytes read before the request was sent (an earlier step's) are dropped, counted as
  /// consumed by no request, as the sequential loop does.
  asio::awaitable<std::optional<SessionFailed>> receive(
      Session& session, const FrameRule& until, std::optional<std::uint64_t> reads_at_send) {
    auto& reply = SessionAccess::reply(session);
    FrameScan& scan = scan_for(until);
    bool first = true;
    slot_.arm(Phase::reply, Clock::now(), run_.config.timeouts.reply);
    for (;;) {
      if (link_.inbox.empty() || answers_waiting()) {
        if (auto failed = co_await wait(Clock::time_point::max(), true)) co_return failed;
      }
      while (!link_.inbox.empty()) {
        ArrivedFrame frame = std::move(link_.inbox.front());
        link_.inbox.pop_front();
        if (first && reads_at_send && frame.reads <= *reads_at_send) {
          ++state_.unconsumed_before_request;
          continue;
        }
        if (first) first_at_ = frame.at;
        first = false;
        if (frames_++ == 0) session_first_at_ = frame.at;
        bytes_ += frame.data.size();
        scan_frame(scan, frame.data, frame.binary);
        if (auto error = run_.error_rules.match(frame.data, scan)) {
          co_return SessionFailed{std::move(*error), "error_frame"};
        }
        const bool done = until.matches(frame.data, scan);
        reply.frames.push_back(std::move(frame.data));
        reply.binary.push_back(frame.binary);
        if (done) {
          last_at_ = frame.at;
          slot_.idle();
          co_return std::nullopt;
        }
      }
    }
  }

  /// A scan for the error rules' pointers and `until`'s, judging frames as the prompt loops
  /// do (no DOM per frame); kept while the rule is the same (a loop's).
  FrameScan& scan_for(const FrameRule& until) {
    if (!scan_ || scanned_for_ != until.text()) {
      scan_.reset();
      scan_paths_.clear();
      run_.error_rules.add_paths(scan_paths_);
      if (until.needs_json()) scan_paths_.push_back(until.path());
      scan_.emplace(scan_paths_);
      scanned_for_ = until.text();
    }
    return *scan_;
  }

  RunContext& run_;
  ThreadState& state_;
  ConnectionSlot& slot_;
  SessionLink<Stream>& link_;
  std::vector<JsonPath> scan_paths_;
  std::optional<FrameScan> scan_;
  std::string scanned_for_;       ///< the rule scan_ was made for
  Clock::time_point first_at_{};  ///< of the current receive
  Clock::time_point last_at_{};
  Clock::time_point session_first_at_{};
  Clock::duration first_step_late_{};
  std::uint64_t frames_ = 0;
  std::uint64_t bytes_ = 0;
  std::optional<FrameScan> prompt_scan_;  ///< send_prompts(): the run's pointers
  std::string prompt_message_;
  std::vector<std::int64_t> prompt_gaps_;     ///< kept: a session's streamed replies allocate once
  std::optional<FrameScan> correlated_scan_;  ///< send_correlated_prompts(): the run's pointers
  std::optional<FrameScan> id_scan_;          ///< and a sent message's id
  std::string id_source_;
  InFlight correlated_replies_;
  std::uint64_t prompts_sent_ = 0;  ///< this session's, for {{sequence}}
  std::uint64_t passes_begun_ = 0;  ///< send_prompts() calls
  bool sent_prompts_ = false;
  bool failure_counted_ = false;
};

/// What a session's exception says, for the summary's error detail.
inline std::string describe_session_exception(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const SessionFailure& e) {
    return e.what();
  } catch (const std::exception& e) {
    return shorten(std::string("the session threw: ") + e.what(), 200);
  } catch (...) {
    return "the session threw a non-standard exception";
  }
}

/// How a session ended: the failure that ended it, if any, and whether that failure is
/// counted already (a session that sent prompts is counted by them).
struct SessionEnd {
  std::optional<Failure> failure;
  bool counted = false;
  /// The prompts of the send_prompts() passes it began: they count it, those of the passes
  /// it did not begin are left.
  std::uint64_t prompts_begun = 0;
  explicit operator bool() const noexcept { return failure.has_value(); }
};

/// Counts a failed session that its prompts did not count. When sessions count as their
/// prompts (LoadConfig::session_requests), as those of the passes it did not begin, or one
/// request more when it began them all; otherwise as one request (see count_left).
inline void count_session_failure(const RunContext& run, ThreadState& state,
                                  const SessionEnd& end) {
  if (!end || end.counted) return;
  const std::uint64_t per_session = run.config.session_requests();
  const std::uint64_t left = per_session > end.prompts_begun ? per_session - end.prompts_begun : 1;
  count_left(run, state, *end.failure, left);
}

/// Runs one session on the link's connection to its end: its success counted as one
/// request from its start (an arrived session's from when it was `due`, its first step
/// charged the difference) unless it sent prompts, or the failure that ended it.
template <class Stream>
asio::awaitable<SessionEnd> run_one_session(RunContext& run, ThreadState& state,
                                            ConnectionSlot& slot, SessionLink<Stream>& link,
                                            std::uint64_t index, std::uint64_t iteration,
                                            std::optional<Clock::time_point> due = std::nullopt) {
  if (yield_due(link)) co_await yield_to_loop(link);  // sessions that perform nothing
  ThreadSessionSink sink(state);
  Session session(sink, state.random, index, iteration, run.config.prompts, link.sessions++ == 0);
  // Frames left by the last session belong to none of this one's steps.
  state.unconsumed_before_request += link.inbox.size();
  link.inbox.clear();
  SessionAccess::variables(session) = link.variables;
  link.session = &session;
  link.handler_scan.reset();  // made for the last session's handlers
  struct Detach {
    SessionLink<Stream>& link;
    Session& session;
    ~Detach() {
      link.variables = std::move(SessionAccess::variables(session));
      link.session = nullptr;
    }
  } detach{link, session};

  const auto started = Clock::now();
  SessionTask task;
  try {
    task = run.config.session(session);
  } catch (...) {
    co_return SessionEnd{
        Failure{ErrorKind::session_failed, describe_session_exception(std::current_exception())}};
  }
  if (!task.handle()) {
    co_return SessionEnd{
        Failure{ErrorKind::session_failed, "the session function returned no coroutine"}};
  }
  SessionOperations<Stream> operations(run, state, slot, link);
  if (due) operations.charge_first_step(started - *due);
  std::coroutine_handle<> next = task.handle();
  for (;;) {
    SessionAccess::clear_waiting(session);
    next.resume();
    if (task.handle().done()) break;
    next = SessionAccess::waiting(session);
    if (!next) {
      co_return SessionEnd{
          Failure{ErrorKind::session_failed,
                  "the session awaited something that is not a Session operation"}};
    }
    auto& op = SessionAccess::pending(session);
    if (auto failed = co_await operations.perform(session, op)) {
      if (op.kind == SessionOperation::Kind::request) {
        sink.step_failed(op.step, failed->step_kind, Clock::now());
      }
      co_return SessionEnd{std::move(failed->why), operations.failure_counted(),
                           operations.prompts_begun()};
    }
  }
  if (const auto error = task.handle().promise().error) {
    // A step whose reply came before the exception counts as it ended (a fail_step
    // check has already failed it).
    SessionAccess::settle(session);
    co_return SessionEnd{Failure{ErrorKind::session_failed, describe_session_exception(error)},
                         false, operations.prompts_begun()};
  }
  SessionAccess::settle(session);
  if (operations.sent_prompts()) co_return SessionEnd{};
  const auto now = Clock::now();
  ReplyProgress whole{.sent_at = started,
                      .due = due.value_or(started),
                      .first_at = operations.frames() ? operations.first_frame_at() : now,
                      .frames = operations.frames(),
                      .bytes = operations.bytes()};
  count_succeeded(run, state, whole, now);
  co_return SessionEnd{};
}

/// Runs one connection's sessions (see the top of this file). Every session it does not
/// complete is counted, as failed under the kind of what ended it or, when the run ends,
/// as not sent.
template <class Stream>
asio::awaitable<void> run_session_connection(RunContext& run, ThreadState& state,
                                             std::uint64_t index) {
  const LoadConfig& config = run.config;
  Cursor cursor;
  ConnectionSlot slot;
  slot.cursor = &cursor;
  LiveGuard guard(state, slot);
  ConnectionFinish finish{state};
  cursor.end = config.duration.count() > 0 ? Cursor::unbounded : config.iterations;
  auto run_ending = [&] {
    return slot.abort == Abort::run_deadline || slot.abort == Abort::interrupted ||
           state.abort_all != Abort::none;
  };
  // As run_connection's: the service's failures, and the run's deadline, fail every
  // session left; an interrupt fails the one in flight and leaves the rest not sent. Each
  // counts as its requests.
  const std::uint64_t per_session = config.session_requests();
  auto interrupted = [&] {
    return slot.abort == Abort::interrupted || state.abort_all == Abort::interrupted;
  };
  auto give_up = [&](Failure why) {
    if (!interrupted() && why.first != ErrorKind::interrupted) {
      state.count_failed(why.first, std::move(why.second), cursor.remaining() * per_session);
      return;
    }
    state.count_failed(why.first, std::move(why.second),
                       (cursor.next - cursor.counted) * per_session);
    if (cursor.end != Cursor::unbounded) state.not_sent += (cursor.end - cursor.next) * per_session;
  };
  if (!co_await pace_connect(run, state, slot, index)) {
    give_up(classify({}, slot, {}));
    co_return;
  }
  const auto executor = co_await asio::this_coro::executor;
  bool opened_before = false;
  bool after_timeout = false;
  while (cursor.next < cursor.end && Clock::now() < run.send_until) {
    if (state.abort_all != Abort::none && slot.abort == Abort::none) slot.abort = state.abort_all;
    if (slot.abort != Abort::none) {
      give_up(classify({}, slot, {}));
      co_return;
    }
    std::optional<Stream> ws;
    if (auto failure = co_await open_session_connection(run, state, slot, ws, executor)) {
      ++(opened_before ? state.reconnects_failed : state.connections_failed);
      give_up(std::move(*failure));
      co_return;
    }
    ++(after_timeout   ? state.timeout_reconnects
       : opened_before ? state.reconnects
                       : state.connections_opened);
    opened_before = true;
    SessionLink<Stream> link(*ws, run, state, slot, executor);
    asio::co_spawn(executor, read_session_frames(link), asio::detached);
    std::optional<Failure> ended;  ///< what ended the run for this connection
    while (link.open() && cursor.next < cursor.end && Clock::now() < run.send_until) {
      ++cursor.next;
      auto end = co_await run_one_session(run, state, slot, link, index, cursor.next - 1);
      if (end && run_ending()) {
        count_session_failure(run, state, end);
        ++cursor.counted;
        if (cursor.end == Cursor::unbounded) cursor.end = cursor.next;  // a duration's share
        ended = std::move(end.failure);
        break;
      }
      if (end) {
        count_session_failure(run, state, end);
        // A session that failed mid-step (an error frame) may leave its reply deadline
        // armed: the next session on this socket starts with none.
        slot.idle();
      }
      ++cursor.counted;
    }
    after_timeout = slot.abort == Abort::timeout;
    co_await close_session_connection(run, state, slot, link, ended.has_value());
    if (ended) {
      give_up(std::move(*ended));
      co_return;
    }
    if (!run_ending()) slot.abort = Abort::none;  // a timeout ended that connection only
  }
  if (cursor.end == Cursor::unbounded) cursor.end = cursor.next;
}

}  // namespace wsload::detail
