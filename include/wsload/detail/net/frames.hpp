// Frame judging and correlation: what a frame means for its request (error rules,
// completion rule, timing), the message a request sends, and the ids that pair replies
// with requests.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/detail/net/state.hpp>
#include <wsload/errors.hpp>
#include <wsload/message.hpp>

namespace wsload::detail {

/// One request's reply as it arrives.
struct ReplyProgress {
  Clock::time_point sent_at;
  Clock::time_point due;  ///< when it should have been sent: sent_at in a closed loop
  Clock::time_point first_at{};
  Clock::time_point first_token_at{};  ///< when the first token came; epoch until then
  Clock::time_point last_token_at{};
  std::uint64_t frames = 0;
  std::uint64_t bytes = 0;
  std::uint64_t tokens = 0;  ///< token frames: from the first token on (see count_token)
  std::uint64_t chars = 0;   ///< --tokens chars:POINTER: the characters so far
  /// Microseconds between its token frames so far: they reach the inter-frame histogram
  /// only if the reply is counted (a failed reply's gaps are in no figure, as its latency).
  std::vector<std::int64_t> gaps = {};
};

/// Whether `frame` (the reply's `reply.frames`th) meets `rule`.
inline bool meets(const Completion& rule, const ReplyProgress& reply, std::string_view frame,
                  const FrameScan& scanned) {
  switch (rule.kind) {
    case Completion::Kind::first_frame:
      return true;
    case Completion::Kind::frames:
      return reply.frames >= rule.frames;
    case Completion::Kind::until:
      return rule.until->matches(frame, scanned);
  }
  return true;
}

/// Counts a token frame of `reply` arriving at `now`, from its first token on, and its
/// gap from the previous token frame. The first-token rule is judged only until it matches.
inline void count_token(const RunContext& run, ReplyProgress& reply, std::string_view frame,
                        const FrameScan& scanned, Clock::time_point now) {
  if (reply.tokens == 0) {
    if (!meets(run.first_token, reply, frame, scanned)) return;
    reply.first_token_at = now;
  } else {
    using std::chrono::duration_cast;
    using std::chrono::microseconds;
    reply.gaps.push_back(duration_cast<microseconds>(now - reply.last_token_at).count());
  }
  reply.last_token_at = now;
  ++reply.tokens;
}

enum class FrameVerdict { more, done, failed };

/// Counts `reply`, complete at `now`, as a successful request (a warm-up one before the
/// measurement starts): its latency from when it was due, its ttfb, frames and bytes.
/// Returns whether it was measured (false: the warm-up's).
inline bool count_succeeded(const RunContext& run, ThreadState& state, const ReplyProgress& reply,
                            Clock::time_point now) {
  state.traffic_end = std::max(state.traffic_end, now);
  if (now < state.measure_from) {
    ++state.warmup_requests;
    return false;
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
  return true;
}

/// Applies the error rules and the completion rule to one frame of `reply`.
inline FrameVerdict judge_frame(const RunContext& run, ThreadState& state, ReplyProgress& reply,
                                std::string_view frame, const FrameScan& scanned,
                                Clock::time_point now) {
  if (reply.frames++ == 0) reply.first_at = now;
  reply.bytes += frame.size();
  if (auto error = run.error_rules.match(frame, scanned)) {
    state.count_failed(error->first, std::move(error->second), 1);
    return FrameVerdict::failed;
  }
  if (run.tokens.kind == TokenCount::Kind::chars)
    reply.chars += run.tokens.of(scanned.at(*run.tokens.path));
  const bool done = meets(run.completion, reply, frame, scanned);
  // The frame an end rule matches is the reply's end marker, no token (unless it is the
  // first): an {"type":"end"} after N tokens leaves N tokens and N - 1 gaps.
  if (!done || reply.tokens == 0 || run.completion.kind != Completion::Kind::until) {
    count_token(run, reply, frame, scanned, now);
  }
  if (!done) return FrameVerdict::more;
  if (!count_succeeded(run, state, reply, now)) return FrameVerdict::done;  // the warm-up's
  using std::chrono::duration_cast;
  using std::chrono::microseconds;
  const auto latency = duration_cast<microseconds>(now - reply.due).count();
  for (const auto gap : reply.gaps) state.inter_frame.record(gap);
  const std::uint64_t output = run.tokens.kind == TokenCount::Kind::frames ? reply.tokens
                               : run.tokens.kind == TokenCount::Kind::chars
                                   ? reply.chars
                                   : run.tokens.of(scanned.at(*run.tokens.path));
  state.output_tokens += output;
  state.tokens_per_reply.record(static_cast<std::int64_t>(output));
  // Millitokens per second of the reply's whole latency (a rate of 0.001 tokens/s up).
  state.output_rate.record(static_cast<std::int64_t>(
      static_cast<double>(output) * 1e9 / static_cast<double>(std::max<std::int64_t>(latency, 1))));
  std::optional<std::int64_t> ttft, tpot;
  if (reply.tokens > 0) {
    ttft = duration_cast<microseconds>(reply.first_token_at - reply.due).count();
    state.ttft.record(*ttft);
    if (output > 1) {
      tpot = (latency - *ttft) / static_cast<std::int64_t>(output - 1);
      state.tpot.record(*tpot);
    }
  }
  if (run.slo.any() && run.slo.met(latency, ttft, tpot)) ++state.good_requests;
  return FrameVerdict::done;
}

/// Scans a received frame for the rules' JSON pointers. A binary frame is bytes, never
/// JSON (RFC 6455 5.6): nothing is found in it, so only byte rules (first, frames=N,
/// regex:) can judge it.
inline bool scan_frame(FrameScan& scanned, std::string_view frame, bool binary) {
  return scanned.scan(binary ? std::string_view() : frame);
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

/// The JSON text of the id at `path` in the frame `scanned` last (as nlohmann's dump()
/// writes it, whatever the spacing); empty when there is none.
inline std::string id_in(const FrameScan& scanned, const JsonPath& path) {
  return scanned.at(path).dump();
}

/// The same in `body`, scanned by `scan` (which asks for `path`); empty when it is not JSON.
inline std::string id_at(std::string_view body, const JsonPath& path, FrameScan& scan) {
  return scan.scan(body) ? id_in(scan, path) : std::string();
}

/// The correlation id that request `sequence` of connection `index` carries, its message
/// `body` (rendered with `uuid`): read from the template alone when no prompt can change it
/// (RunContext::id_without_prompt). `source` and `scan` (which asks for the id's pointer)
/// are the caller's, kept from request to request.
inline std::string request_id(const RunContext& run, std::string_view body, std::uint64_t index,
                              std::uint64_t sequence, const std::string& uuid, std::string& source,
                              FrameScan& scan) {
  if (!run.id_without_prompt) return id_at(body, *run.correlation_path, scan);
  source.clear();
  run.message.render(source, {{}, index, sequence, uuid});
  return id_at(source, *run.correlation_path, scan);
}

/// Why a request whose id is already in flight fails: the template must give each its own
/// id, e.g. {{sequence}}.
inline std::string repeated_id(const RunContext& run) {
  return "correlation id at " + run.config.correlation + " repeats while in flight";
}

/// Requests in flight on one connection, by correlation id (the pipelined loop's, and a
/// session's correlated prompts): each reply frame judged for the request its id names,
/// each request timed out on its own. A frame for a request that timed out is counted
/// late, one with an unknown id unmatched; neither is timed.
struct InFlight {
  struct Pending {
    ReplyProgress progress;
    Clock::time_point deadline;
  };
  std::unordered_map<std::string, Pending> pending;  ///< by the id's JSON text
  std::unordered_set<std::string> expired;           ///< ids whose requests timed out

  /// Judges a received frame, scanned by `scanned` (which asks for the id's pointer), for
  /// its request. True when that request ended (succeeded or failed).
  bool take(const RunContext& run, ThreadState& state, std::string_view frame, bool binary,
            FrameScan& scanned, Clock::time_point at) {
    const std::string id =
        scan_frame(scanned, frame, binary) ? id_in(scanned, *run.correlation_path) : "";
    const auto it = pending.find(id);
    if (it == pending.end()) {
      ++(expired.count(id) ? state.late_replies : state.unmatched_replies);
      return false;
    }
    if (judge_frame(run, state, it->second.progress, frame, scanned, at) == FrameVerdict::more) {
      return false;
    }
    pending.erase(it);
    return true;
  }

  /// Fails the requests past their deadline at `now` as reply timeouts; returns how many,
  /// and sets `next` to the earliest deadline left (max when none is).
  std::uint64_t expire(Clock::time_point now, ThreadState& state, Clock::time_point& next) {
    std::uint64_t failed = 0;
    next = Clock::time_point::max();
    for (auto it = pending.begin(); it != pending.end();) {
      if (it->second.deadline > now) {
        next = std::min(next, it->second.deadline);
        ++it;
        continue;
      }
      state.count_failed(ErrorKind::reply_timeout, "", 1);
      ++failed;
      expired.insert(it->first);
      it = pending.erase(it);
    }
    return failed;
  }
};

/// Whether the id at `pointer` is the same whatever the prompt (see
/// RunContext::id_without_prompt).
inline bool id_independent_of_prompt(const MessageTemplate& message,
                                     const nlohmann::json::json_pointer& pointer) {
  // Only in a JSON template is a prompt always one string value, never structure.
  if (!message.is_json()) return false;
  const JsonPath path(pointer);
  FrameScan scan({&path, 1});
  const std::string uuid = "00000000-0000-4000-8000-000000000000";
  return id_at(message.render({"a", 0, 0, uuid}), path, scan) ==
         id_at(message.render({"b", 0, 0, uuid}), path, scan);
}

}  // namespace wsload::detail
