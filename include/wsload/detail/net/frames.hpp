// Frame judging and correlation: what a frame means for its request (error rules,
// completion rule, timing), the message a request sends, and the ids that pair replies
// with requests.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <wsload/detail/net/state.hpp>
#include <wsload/message.hpp>

namespace wsload::detail {

/// One request's reply as it arrives.
struct ReplyProgress {
  Clock::time_point sent_at;
  Clock::time_point due;  ///< when it should have been sent: sent_at in a closed loop
  Clock::time_point first_at{};
  std::uint64_t frames = 0;
  std::uint64_t bytes = 0;
};

enum class FrameVerdict { more, done, failed };

/// Counts `reply`, complete at `now`, as a successful request (a warm-up one before the
/// measurement starts): its latency from when it was due, its ttfb, frames and bytes.
inline void count_succeeded(const RunContext& run, ThreadState& state, const ReplyProgress& reply,
                            Clock::time_point now) {
  state.traffic_end = std::max(state.traffic_end, now);
  if (now < state.measure_from) {
    ++state.warmup_requests;
    return;
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
  bool done = true;
  switch (run.completion.kind) {
    case Completion::Kind::first_frame:
      break;
    case Completion::Kind::frames:
      done = reply.frames >= run.completion.frames;
      break;
    case Completion::Kind::until:
      done = run.completion.until->matches(frame, scanned);
      break;
  }
  if (!done) return FrameVerdict::more;
  count_succeeded(run, state, reply, now);
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

/// The JSON text of the id at `path` in the frame `scanned` last (as nlohmann's dump()
/// writes it, whatever the spacing); empty when there is none.
inline std::string id_in(const FrameScan& scanned, const JsonPath& path) {
  return scanned.at(path).dump();
}

/// The same in `body`, scanned by `scan` (which asks for `path`); empty when it is not JSON.
inline std::string id_at(std::string_view body, const JsonPath& path, FrameScan& scan) {
  return scan.scan(body) ? id_in(scan, path) : std::string();
}

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
