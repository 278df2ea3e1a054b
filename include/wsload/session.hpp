// Scripted sessions: a conversation over one connection, written as a C++20 coroutine.
//
//   wsload::SessionTask chat(wsload::Session& s) {
//     co_await s.send(R"({"type":"connection_init"})");
//     co_await s.receive_until(wsload::rule("/type==connection_ack"));
//     auto reply = co_await s.request("subscribe", s.fill(R"({"id":{{id}}})"),
//                                     wsload::rule("/type==complete"));
//     s.check("has answer", !reply.frames.empty());
//     co_await s.think(100ms);
//   }
//
// SessionTask and its awaiters are wsload's own and name no Boost type: an awaiter stores
// the operation it asks for in the Session and suspends; the engine's connection (see
// detail/net/session_driver.hpp) performs it with Asio, stores the result and resumes the
// coroutine, until it ends. Nothing here is thread-safe: a session runs on its connection's
// engine thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/errors.hpp>
#include <wsload/message.hpp>

namespace wsload {

class Session;

/// A frame rule for a session, written as --complete takes them (see FrameRule):
/// "/type==connection_ack", "/id", "regex:done". Throws ConfigError for a malformed one.
inline FrameRule rule(std::string_view text) {
  return FrameRule::parse(text, "session rule");
}

/// The frames a receive or request took, in arrival order, the last one the frame that
/// matched its rule. Frames a handler answered are not among them.
struct Reply {
  std::vector<std::string> frames;
  std::vector<bool> binary;  ///< per frame: a binary message rather than text
  const std::string& last() const {
    static const std::string none;
    return frames.empty() ? none : frames.back();
  }
};

/// How a check that fails counts: only in its figures, or also as a failure of the last
/// step (the session then ends, counted as failed).
enum class CheckMode { record, fail_step };

/// The coroutine type of a session (and of the helpers it co_awaits). Move-only; owns
/// its frame.
class SessionTask {
 public:
  struct promise_type {
    std::exception_ptr error;
    std::coroutine_handle<> continuation;  ///< who co_awaits it: the parent session

    SessionTask get_return_object() noexcept {
      return SessionTask(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    auto final_suspend() noexcept {
      struct Resume {
        bool await_ready() noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> self) noexcept {
          const auto parent = self.promise().continuation;
          return parent ? parent : std::noop_coroutine();
        }
        void await_resume() noexcept {}
      };
      return Resume{};
    }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { error = std::current_exception(); }
  };

  SessionTask() = default;
  SessionTask(SessionTask&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  SessionTask& operator=(SessionTask other) noexcept {
    std::swap(handle_, other.handle_);
    return *this;
  }
  ~SessionTask() {
    if (handle_) handle_.destroy();
  }

  /// co_await of a helper session: runs it to its end, rethrowing what it threw.
  bool await_ready() const noexcept { return !handle_ || handle_.done(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> parent) noexcept {
    handle_.promise().continuation = parent;
    return handle_;
  }
  void await_resume() const {
    if (handle_ && handle_.promise().error) std::rethrow_exception(handle_.promise().error);
  }

  /// For the driver: the coroutine's handle (null for a default-constructed task).
  std::coroutine_handle<promise_type> handle() const noexcept { return handle_; }

 private:
  explicit SessionTask(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
  std::coroutine_handle<promise_type> handle_;
};

/// A session as LoadConfig::session takes it: called once per session run.
using SessionFunction = std::function<SessionTask(Session&)>;

/// Thrown inside a session by a check in CheckMode::fail_step (or by the user) to end it
/// as failed; the driver counts it under ErrorKind::session_failed with this text.
class SessionFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

/// What a session reports to its engine thread: its named steps and checks. `ended` is
/// when the step's reply ended (or it failed), which the warm-up judges.
class SessionSink {
 public:
  virtual ~SessionSink() = default;
  virtual void step_succeeded(std::string_view step, std::chrono::microseconds latency,
                              std::chrono::microseconds ttfb,
                              std::chrono::steady_clock::time_point ended) = 0;
  virtual void step_failed(std::string_view step, std::string_view kind,
                           std::chrono::steady_clock::time_point ended) = 0;
  virtual void check(std::string_view name, bool passed) = 0;
};

/// The operation a suspended session waits for, performed by the driver.
struct SessionOperation {
  /// yield: none, but let the thread's event loop run (a session that runs long without
  /// waiting, such as a scenario's loop over no prompts).
  enum class Kind { none, send, receive, request, think, yield, prompts };
  Kind kind = Kind::none;
  std::string payload;  ///< send, request
  bool binary = false;
  std::optional<FrameRule> until;  ///< receive, request
  std::string step;                ///< request: its name
  std::chrono::nanoseconds pause{0};
};

/// A handler that answers frames matching `when` while the session waits.
struct SessionHandler {
  FrameRule when;
  std::function<std::optional<std::string>(std::string_view frame)> answer;
};

struct SessionAccess;

}  // namespace detail

/// One run of a scripted session on its connection. Made by the engine, passed to the
/// session function; valid until the session's coroutine ends.
class Session {
  template <class Result>
  struct Await {
    Session& session;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> waiting) noexcept { session.waiting_ = waiting; }
    Result await_resume() {
      if constexpr (!std::is_void_v<Result>) return std::move(session.reply_);
    }
  };

 public:
  /// The most handlers (distinct rules) a session may register; see on().
  static constexpr std::size_t max_handlers = 64;

  Session(detail::SessionSink& sink, std::mt19937_64& random, std::uint64_t connection,
          std::uint64_t iteration, const std::vector<std::string>& prompts,
          bool first_on_connection = true)
      : sink_(sink),
        random_(random),
        connection_(connection),
        iteration_(iteration),
        prompts_(prompts),
        first_on_connection_(first_on_connection) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  /// Sends a text message (or a binary one); fails the session as "send" when it cannot.
  Await<void> send(std::string text) {
    ask({.kind = Kind::send, .payload = std::move(text)});
    return {*this};
  }
  Await<void> send_binary(std::string bytes) {
    ask({.kind = Kind::send, .payload = std::move(bytes), .binary = true});
    return {*this};
  }
  /// Takes frames until one matches `until` (frames that arrived since the last receive
  /// count), bounded by the reply timeout: a timeout or a close ends the session as failed.
  Await<Reply> receive_until(FrameRule until) {
    ask({.kind = Kind::receive, .until = std::move(until)});
    return {*this};
  }
  /// A named, timed step: sends `payload`, then takes frames arriving after it until one
  /// matches `until`. Its latency (to that frame) and ttfb (to the first) go to the step's
  /// figures; a failure is counted by kind ("timeout", "closed", "send", "error_frame")
  /// and ends the session.
  Await<Reply> request(std::string step, std::string payload, FrameRule until) {
    ask({.kind = Kind::request,
         .payload = std::move(payload),
         .until = std::move(until),
         .step = std::move(step)});
    return {*this};
  }
  /// The prompt loop as a step: sends each of the run's prompts in order, filled into the
  /// run's message template (--template: {{prompt}}, {{connection}}, {{sequence}}, {{uuid}};
  /// no session variables), each reply judged by the run's rules (--complete, the error
  /// and token rules) and counted as one request of the summary with everything the prompt
  /// loop records: latency, ttfb, TTFT, inter-frame gaps, tokens, the SLO verdict. A reply
  /// that is an error frame fails its prompt alone. A connection that ends fails the prompt
  /// in flight (in a run bounded by a count, those after it too) and the session; an
  /// interrupt leaves the rest not sent. A session that sends prompts is counted by them,
  /// not as a request itself (see LoadConfig::prompt_passes for those that fail first).
  Await<void> send_prompts() {
    ask({.kind = Kind::prompts});
    return {*this};
  }
  /// Waits `pause` (handlers keep answering); cut short when the run ends.
  Await<void> think(std::chrono::nanoseconds pause) {
    ask({.kind = Kind::think, .pause = pause});
    return {*this};
  }
  /// Waits a uniformly random time from `at_least` to `at_most`.
  Await<void> think(std::chrono::nanoseconds at_least, std::chrono::nanoseconds at_most) {
    const auto low = std::min(at_least, at_most).count();
    const auto high = std::max(at_least, at_most).count();
    return think(
        std::chrono::nanoseconds(std::uniform_int_distribution<std::int64_t>(low, high)(random_)));
  }

  /// Stores the value at `pointer` (a JSON pointer) of the reply's last frame that has
  /// one as variable `name`, for templates ({{name}}). False when no frame has it.
  /// Throws ConfigError for a malformed pointer.
  bool capture(const std::string& name, const Reply& reply, const std::string& pointer) {
    nlohmann::json::json_pointer at;
    try {
      at = nlohmann::json::json_pointer(pointer);
    } catch (const nlohmann::json::exception&) {
      throw ConfigError("capture " + name, pointer, "is not a JSON pointer (e.g. /payload/id)");
    }
    for (auto frame = reply.frames.rbegin(); frame != reply.frames.rend(); ++frame) {
      nlohmann::json parsed;
      if (detail::parse_frame(*frame, parsed) && parsed.contains(at)) {
        variables_[name] = parsed.at(at);
        return true;
      }
    }
    return false;
  }
  /// Sets variable `name`.
  void set(const std::string& name, nlohmann::json value) { variables_[name] = std::move(value); }
  const Variables& variables() const noexcept { return variables_; }

  /// `text` with its placeholders filled: the session's variables, {{connection}},
  /// {{sequence}} (this run's index on the connection), {{uuid}}, and {{prompt}} (the
  /// variable "prompt" when set). Throws ConfigError for a malformed template or a
  /// variable not set.
  std::string fill(std::string_view text) {
    return fill(MessageTemplate::parse(text, "template", true));
  }
  /// The same with a template parsed once (parsed with variables allowed), for a step run
  /// many times: parsing a JSON template is most of a step's CPU.
  std::string fill(const MessageTemplate& message) {
    const auto it = variables_.find("prompt");
    const std::string_view prompt = it != variables_.end() && it->second.is_string()
                                        ? std::string_view(it->second.get_ref<const std::string&>())
                                        : std::string_view();
    const std::string uuid = message.uses_uuid() ? detail::make_uuid(random_) : std::string();
    return message.render({prompt, connection_, iteration_, uuid, &variables_});
  }

  /// Counts check `name` as passed or failed; returns `passed`. In CheckMode::fail_step a
  /// failure also fails the last step (kind "check") and ends the session.
  bool check(std::string_view name, bool passed, CheckMode mode = CheckMode::record) {
    sink_.check(name, passed);
    if (!passed && mode == CheckMode::fail_step) {
      if (last_step_) sink_.step_failed(last_step_->name, "check", last_step_->ended);
      last_step_.reset();
      throw SessionFailure("check '" + std::string(name) + "' failed");
    }
    return passed;
  }

  /// Answers every frame matching `when` with `answer` while the session waits (e.g. a
  /// server's {"type":"ping"} with {"type":"pong"}); such frames reach no receive. A
  /// handler replaces the one for the same rule (text); more than max_handlers rules
  /// throw SessionFailure, which fails the session.
  void on(FrameRule when, std::string answer) {
    on(std::move(when), [answer = std::move(answer)](std::string_view) {
      return std::optional<std::string>(answer);
    });
  }
  /// The same with the answer made from the frame (none: the frame is only dropped).
  void on(FrameRule when, std::function<std::optional<std::string>(std::string_view)> answer) {
    for (auto& handler : handlers_) {
      if (handler.when.text() == when.text()) {
        handler.answer = std::move(answer);
        return;
      }
    }
    if (handlers_.size() == max_handlers) {
      throw SessionFailure("a session registers at most " + std::to_string(max_handlers) +
                           " handlers (one per rule); '" + when.text() + "' is one more");
    }
    handlers_.push_back({std::move(when), std::move(answer)});
  }

  /// Whether this session is the first on its socket: a protocol's handshake
  /// (connection_init, a login) belongs to the socket, not to each session on it.
  bool first_on_connection() const noexcept { return first_on_connection_; }
  std::uint64_t connection() const noexcept { return connection_; }  ///< from 0
  std::uint64_t iteration() const noexcept { return iteration_; }    ///< on its connection
  const std::vector<std::string>& prompts() const noexcept { return prompts_; }

 private:
  using Kind = detail::SessionOperation::Kind;
  friend struct detail::SessionAccess;

  struct PendingStep {
    std::string name;
    std::chrono::microseconds latency;
    std::chrono::microseconds ttfb;
    std::chrono::steady_clock::time_point ended;  ///< when its reply ended
  };

  void ask(detail::SessionOperation operation) {
    settle_step();
    pending_ = std::move(operation);
  }

  /// The last step succeeded: no check failed it before the next operation or the end.
  void settle_step() {
    if (last_step_) {
      sink_.step_succeeded(last_step_->name, last_step_->latency, last_step_->ttfb,
                           last_step_->ended);
    }
    last_step_.reset();
  }

  /// Lets the event loop run; the last step stays open to the checks after it.
  Await<void> yield_to_loop() {
    pending_ = {.kind = Kind::yield};
    return {*this};
  }

  detail::SessionSink& sink_;
  std::mt19937_64& random_;
  std::uint64_t connection_;
  std::uint64_t iteration_;
  const std::vector<std::string>& prompts_;
  bool first_on_connection_;
  Variables variables_;
  std::vector<detail::SessionHandler> handlers_;
  detail::SessionOperation pending_;
  Reply reply_;
  std::coroutine_handle<> waiting_;  ///< the coroutine suspended on pending_
  std::optional<PendingStep> last_step_;
};

/// The built-in prompt session: the prompts sent and judged as without a session
/// (Session::send_prompts). A session of one's own that logs in first, or captures a
/// conversation id, ends with the same co_await.
inline SessionTask prompt_session(Session& s) {
  co_await s.send_prompts();
}

namespace detail {

/// The driver's side of a Session (detail/net/session_driver.hpp).
struct SessionAccess {
  static SessionOperation& pending(Session& s) noexcept { return s.pending_; }
  static std::coroutine_handle<> waiting(Session& s) noexcept { return s.waiting_; }
  static void clear_waiting(Session& s) noexcept { s.waiting_ = {}; }
  static Reply& reply(Session& s) noexcept { return s.reply_; }
  static const std::vector<SessionHandler>& handlers(const Session& s) noexcept {
    return s.handlers_;
  }
  static void step_done(Session& s, std::string name, std::chrono::microseconds latency,
                        std::chrono::microseconds ttfb,
                        std::chrono::steady_clock::time_point ended) {
    s.last_step_ = Session::PendingStep{std::move(name), latency, ttfb, ended};
  }
  /// For built-in sessions (a scenario's): an operation that only lets the loop run.
  static auto yield(Session& s) { return s.yield_to_loop(); }
  static void settle(Session& s) { s.settle_step(); }
  static Variables& variables(Session& s) noexcept { return s.variables_; }
  static void drop_step(Session& s) noexcept { s.last_step_.reset(); }
};

}  // namespace detail

}  // namespace wsload
