// The prompt loop's and sessions' own frame reader and writer (detail/net/direct_frames.hpp,
// session_link.hpp) against a bare server that sends what Beast hides: frames sent with the
// upgrade, fragments, pings, closes, and frames no server may send. Each case runs twice,
// through wsload's own frames and through Beast's (compression offered, which the server
// declines, takes the Beast path), and both must see the same: the figures, the failures
// and their details.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <fstream>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include <wsload/wsload.hpp>

#include "../support/frame_recorder.hpp"

namespace {

using namespace std::chrono_literals;
using wsload::ErrorKind;
using wsload::rule;
using wsload::Session;
using wsload::SessionTask;
using wsload::test::frame;

struct Runs {
  wsload::Summary direct;
  wsload::Summary beast;
  std::vector<wsload::test::ObservedFrame> direct_frames;  ///< what the server received
};

Runs run_both_ways(const wsload::test::Misbehaviour& misbehaviour,
                   std::vector<std::string> prompts = {"hello", "again", "third"},
                   std::size_t max_message_size = 0, std::size_t max_send_size = 0,
                   const wsload::SessionFunction& session = {}, std::uint64_t sessions = 1) {
  Runs runs;
  for (const bool through_beast : {false, true}) {
    const wsload::test::FrameRecorder server(misbehaviour);
    wsload::LoadConfig config;
    config.url = server.url();
    config.prompts = prompts;
    config.connections = 1;
    config.timeouts.reply = 10s;
    config.timeouts.close = 2s;
    config.timeouts.run = 60s;
    config.compression = through_beast;
    if (session) {
      config.session = session;
      config.iterations = sessions;
    }
    if (max_message_size > 0) config.max_message_size = max_message_size;
    if (max_send_size > 0) config.max_send_size = max_send_size;
    auto summary = wsload::run_load(config);
    if (through_beast) {
      runs.beast = std::move(summary);
    } else {
      runs.direct = std::move(summary);
      runs.direct_frames = server.frames();
    }
  }
  return runs;
}

std::string errors_of(const wsload::Summary& s) {
  std::string all;
  for (const auto& e : s.errors) {
    all += std::string(wsload::to_string(e.kind)) + " x" + std::to_string(e.requests) + ": " +
           e.detail + "\n";
  }
  return all;
}

void expect_same(const Runs& runs) {
  EXPECT_EQ(runs.direct.successful_requests, runs.beast.successful_requests);
  EXPECT_EQ(runs.direct.failed_requests, runs.beast.failed_requests);
  EXPECT_EQ(runs.direct.bytes_received, runs.beast.bytes_received);
  EXPECT_EQ(runs.direct.unconsumed_frames(), runs.beast.unconsumed_frames());
  EXPECT_EQ(errors_of(runs.direct), errors_of(runs.beast));
}

/// The pongs the server received (with `payload` only, when given).
std::size_t pongs_of(const std::vector<wsload::test::ObservedFrame>& frames,
                     const char* payload = nullptr) {
  return static_cast<std::size_t>(std::count_if(frames.begin(), frames.end(), [&](const auto& f) {
    return f.opcode == 10 && (!payload || f.payload == payload);
  }));
}

/// Each reply in three fragments with a ping between the first two.
wsload::test::Misbehaviour fragments_around_a_ping() {
  wsload::test::Misbehaviour fragments;
  fragments.answer_bytes = [](const std::string& message) {
    return frame(0x01, message.substr(0, 2)) + frame(0x89, "are you there?") +
           frame(0x00, message.substr(2, 1)) + frame(0x80, message.substr(3));
  };
  return fragments;
}

/// A message larger than one read and than the reader's first buffer, in 16-bit and 64-bit
/// length forms: 300 bytes for "hello", 200,000 for anything else.
wsload::test::Misbehaviour replies_of_300_and_200000_bytes() {
  wsload::test::Misbehaviour long_replies;
  long_replies.answer_bytes = [](const std::string& message) {
    return frame(0x81, std::string(message == "hello" ? 300 : 200'000, 'x'));
  };
  return long_replies;
}

// A frame that came in the same segment as the 101 is no reply to the first request:
// Beast would have kept it in its own buffer, where the loop's reader could never see it.
TEST(Frames, AFrameSentWithTheUpgradeAnswersNoRequest) {
  wsload::test::Misbehaviour greeting;
  greeting.after_upgrade = frame(0x81, "welcome");
  const auto runs = run_both_ways(greeting);
  EXPECT_EQ(runs.direct.successful_requests, 3u) << wsload::format_report(runs.direct);
  EXPECT_EQ(runs.direct.unconsumed_frames(), 1u) << wsload::format_report(runs.direct);
  EXPECT_EQ(runs.direct.bytes_received, 5u + 5u + 5u);
  expect_same(runs);
}

// A reply in three fragments with a ping between them: the ping is answered with its own
// payload, and the reply is the three fragments' bytes as one message.
TEST(Frames, AFragmentedReplyWithAPingInsideIsOneMessageAndThePingIsAnswered) {
  const auto fragments = fragments_around_a_ping();
  const auto runs = run_both_ways(fragments);
  EXPECT_EQ(runs.direct.successful_requests, 3u) << wsload::format_report(runs.direct);
  EXPECT_EQ(runs.direct.bytes_received, 15u);
  EXPECT_EQ(pongs_of(runs.direct_frames, "are you there?"), 3u);
  EXPECT_EQ(pongs_of(runs.direct_frames), 3u) << "a pong answered nothing";
  expect_same(runs);
}

// A message larger than one read and than the reader's first buffer, in 16-bit and 64-bit
// length forms.
TEST(Frames, LongRepliesAreReadWhole) {
  const auto long_replies = replies_of_300_and_200000_bytes();
  const auto runs = run_both_ways(long_replies, {"hello", "other"});
  EXPECT_EQ(runs.direct.successful_requests, 2u) << wsload::format_report(runs.direct);
  EXPECT_EQ(runs.direct.bytes_received, 200'300u);
  expect_same(runs);
}

/// The most a TCP socket's send buffer grows to here (tcp_wmem's maximum), 4 MiB unknown.
std::size_t largest_send_buffer() {
  std::ifstream limits("/proc/sys/net/ipv4/tcp_wmem");
  std::size_t least = 0, initial = 0, most = 0;
  return limits >> least >> initial >> most ? most : std::size_t{4} << 20;
}

// A request larger than the socket takes without waiting (twice the largest send buffer,
// to a server whose receive buffer is small): what the first send leaves is sent after
// it, in order, and the server receives the message whole.
TEST(Frames, ARequestLargerThanTheSocketTakesAtOnceArrivesWhole) {
  const std::string large(std::max(std::size_t{8} << 20, 2 * largest_send_buffer()), 'r');
  wsload::test::Misbehaviour short_answers;
  short_answers.receive_buffer = 64 << 10;
  short_answers.answer_bytes = [](const std::string&) { return frame(0x81, "ok"); };
  const auto runs = run_both_ways(short_answers, {large, "next"}, 0, 2 * large.size());
  EXPECT_EQ(runs.direct.successful_requests, 2u) << wsload::format_report(runs.direct);
  std::string received;
  for (const auto& f : runs.direct_frames) {
    if (f.opcode <= 1) received += f.payload;
  }
  EXPECT_EQ(received.size(), large.size() + 4);
  EXPECT_TRUE(received == large + "next") << "the request's bytes arrived out of order";
  expect_same(runs);
}

TEST(Frames, ACloseFrameEndsTheConnectionWithItsCodeAndReason) {
  wsload::test::Misbehaviour closing;
  closing.answer_bytes = [](const std::string&) { return frame(0x88, "\x03\xe9going"); };
  const auto runs = run_both_ways(closing);
  EXPECT_EQ(runs.direct.errors_of(ErrorKind::going_away), 3u) << errors_of(runs.direct);
  EXPECT_NE(errors_of(runs.direct).find("close code 1001: going"), std::string::npos)
      << errors_of(runs.direct);
  ASSERT_FALSE(runs.direct_frames.empty());
  EXPECT_EQ(runs.direct_frames.back().opcode, 8) << "the close was not echoed";
  EXPECT_EQ(runs.direct_frames.back().payload, "\x03\xe9");
  expect_same(runs);
}

TEST(Frames, AReplyOverTheSizeLimitIsMessageTooBig) {
  wsload::test::Misbehaviour big;
  big.answer_bytes = [](const std::string&) { return frame(0x81, std::string(100, 'x')); };
  const auto runs = run_both_ways(big, {"hello"}, 64);
  EXPECT_EQ(runs.direct.errors_of(ErrorKind::message_too_big), 1u) << errors_of(runs.direct);
  expect_same(runs);
}

// What no server may send (RFC 6455 5.1-5.6): each fails the connection as a protocol
// violation, with Beast's words for it.
TEST(Frames, WhatNoServerMaySendIsAProtocolViolation) {
  const std::pair<const char*, std::string> cases[] = {
      {"a masked frame", std::string("\x81\x85\x01\x02\x03\x04", 6) + "abcde"},
      {"reserved bits", frame(0xc1, "hello")},
      {"an unknown opcode", frame(0x83, "hello")},
      {"a fragmented ping", frame(0x09, "ping")},
      {"a continuation that continues nothing", frame(0x80, "hello")},
      {"a new message inside a fragmented one", frame(0x01, "he") + frame(0x81, "llo")},
      {"text that is no UTF-8", frame(0x81, "\xff\xfe")},
      {"a close code no endpoint may send", frame(0x88, "\x03\xed")},
      {"a 16-bit length for a short frame", std::string("\x81\x7e\x00\x05", 4) + "hello"},
  };
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    wsload::test::Misbehaviour hostile;
    hostile.answer_bytes = [bytes = bytes](const std::string&) { return bytes; };
    const auto runs = run_both_ways(hostile, {"hello"});
    EXPECT_EQ(runs.direct.errors_of(ErrorKind::protocol), 1u) << errors_of(runs.direct);
    expect_same(runs);
  }
}

// A session asking each of `prompts` in turn, a step each, any frame its answer.
wsload::SessionFunction asking(std::vector<std::string> prompts) {
  return [prompts = std::move(prompts)](Session& s) -> SessionTask {
    for (const auto& prompt : prompts) co_await s.request("ask", prompt, rule("regex:^"));
  };
}

Runs run_session_both_ways(const wsload::test::Misbehaviour& misbehaviour,
                           std::vector<std::string> prompts = {"hello", "again", "third"},
                           std::size_t max_message_size = 0, std::size_t max_send_size = 0) {
  return run_both_ways(misbehaviour, prompts, max_message_size, max_send_size, asking(prompts));
}

void expect_same_steps(const Runs& runs) {
  expect_same(runs);
  ASSERT_EQ(runs.direct.steps.count("ask"), 1u);
  ASSERT_EQ(runs.beast.steps.count("ask"), 1u);
  EXPECT_EQ(runs.direct.steps.at("ask").count, runs.beast.steps.at("ask").count);
  EXPECT_EQ(runs.direct.steps.at("ask").failures_by_kind,
            runs.beast.steps.at("ask").failures_by_kind);
}

TEST(SessionFrames, AFrameSentWithTheUpgradeAnswersNoStep) {
  wsload::test::Misbehaviour greeting;
  greeting.after_upgrade = frame(0x81, "welcome");
  const auto runs = run_session_both_ways(greeting);
  EXPECT_EQ(runs.direct.successful_requests, 1u) << wsload::format_report(runs.direct);
  EXPECT_EQ(runs.direct.steps.at("ask").count, 3u);
  EXPECT_EQ(runs.direct.unconsumed_frames(), 1u) << wsload::format_report(runs.direct);
  EXPECT_EQ(runs.direct.bytes_received, 15u) << "the session's frames, not the greeting";
  expect_same_steps(runs);
}

TEST(SessionFrames, AFragmentedReplyWithAPingInsideIsOneFrameOfTheStepAndThePingIsAnswered) {
  const auto fragments = fragments_around_a_ping();
  std::vector<std::string> replies;
  const auto runs = run_both_ways(fragments, {}, 0, 0, [&](Session& s) -> SessionTask {
    for (const std::string prompt : {"hello", "again", "third"}) {
      auto reply = co_await s.request("ask", prompt, rule("regex:^"));
      replies.insert(replies.end(), reply.frames.begin(), reply.frames.end());
    }
  });
  EXPECT_EQ(runs.direct.successful_requests, 1u) << wsload::format_report(runs.direct);
  // Each reply whole, through wsload's frames and then Beast's.
  EXPECT_EQ(replies,
            (std::vector<std::string>{"hello", "again", "third", "hello", "again", "third"}));
  EXPECT_EQ(pongs_of(runs.direct_frames, "are you there?"), 3u);
  EXPECT_EQ(pongs_of(runs.direct_frames), 3u) << "a pong answered nothing";
  expect_same_steps(runs);
}

TEST(SessionFrames, LongRepliesAreReadWhole) {
  const auto long_replies = replies_of_300_and_200000_bytes();
  const auto runs = run_session_both_ways(long_replies, {"hello", "other"});
  EXPECT_EQ(runs.direct.successful_requests, 1u) << wsload::format_report(runs.direct);
  EXPECT_EQ(runs.direct.bytes_received, 200'300u);
  expect_same_steps(runs);
}

// A message larger than the socket takes at once, sent while the server pings: the
// session's message and the reader's pong take turns on the socket, each whole.
TEST(SessionFrames, APongWaitsForALargeMessageBeingSentAndBothArriveWhole) {
  const std::string large(std::max(std::size_t{8} << 20, 2 * largest_send_buffer()), 'r');
  wsload::test::Misbehaviour pinging;
  pinging.receive_buffer = 64 << 10;
  pinging.answer_bytes = [](const std::string& message) {
    return message == "ping me" ? frame(0x89, "still there?") : frame(0x81, "ok");
  };
  const auto runs = run_both_ways(pinging, {}, 0, 2 * large.size(), [&](Session& s) -> SessionTask {
    co_await s.send("ping me");
    co_await s.request("ask", large, rule("regex:ok"));
  });
  EXPECT_EQ(runs.direct.successful_requests, 1u) << wsload::format_report(runs.direct);
  std::string received;
  for (const auto& f : runs.direct_frames) {
    if (f.opcode <= 1) received += f.payload;
  }
  EXPECT_EQ(pongs_of(runs.direct_frames, "still there?"), 1u);
  EXPECT_EQ(received.size(), large.size() + 7);
  EXPECT_TRUE(received == "ping me" + large) << "the message's bytes arrived out of order";
  expect_same_steps(runs);
}

TEST(SessionFrames, TheSessionsCloseIsSentAndTheServersAwaited) {
  const auto runs = run_session_both_ways({});
  EXPECT_EQ(runs.direct.successful_requests, 1u) << wsload::format_report(runs.direct);
  EXPECT_EQ(runs.direct.close_timeouts, 0u);
  ASSERT_FALSE(runs.direct_frames.empty());
  EXPECT_EQ(runs.direct_frames.back().opcode, 8) << "no close was sent";
  EXPECT_EQ(runs.direct_frames.back().payload, "\x03\xe8");
  expect_same_steps(runs);
}

TEST(SessionFrames, ACloseFrameFailsTheStepWithItsCodeAndReason) {
  wsload::test::Misbehaviour closing;
  closing.answer_bytes = [](const std::string&) { return frame(0x88, "\x03\xe9going"); };
  const auto runs = run_session_both_ways(closing);
  EXPECT_EQ(runs.direct.errors_of(ErrorKind::going_away), 1u) << errors_of(runs.direct);
  EXPECT_NE(errors_of(runs.direct).find("close code 1001: going"), std::string::npos)
      << errors_of(runs.direct);
  EXPECT_EQ(runs.direct.steps.at("ask").failures_by_kind.at("closed"), 1u);
  ASSERT_FALSE(runs.direct_frames.empty());
  EXPECT_EQ(runs.direct_frames.back().opcode, 8) << "the close was not echoed";
  EXPECT_EQ(runs.direct_frames.back().payload, "\x03\xe9");
  expect_same_steps(runs);
}

// A reply and a close in one burst: the step after it fails as closed, and the next
// session starts on a new connection rather than on the one being torn down (where its
// sends would fail as a broken pipe).
TEST(SessionFrames, ACloseAfterAReplyEndsThatSessionOnlyAndTheNextReconnects) {
  wsload::test::Misbehaviour closing;
  closing.connections = 5;
  closing.answer_bytes = [](const std::string& message) {
    return frame(0x81, message) + frame(0x88, "\x03\xe9going");
  };
  const auto runs = run_both_ways(
      closing, {}, 0, 0,
      [](Session& s) -> SessionTask {
        co_await s.request("ask", "first", rule("regex:first"));
        co_await s.request("then", "second", rule("regex:second"));
      },
      5);
  for (const auto* summary : {&runs.direct, &runs.beast}) {
    EXPECT_EQ(summary->errors_of(ErrorKind::going_away), 5u) << errors_of(*summary);
    EXPECT_EQ(summary->steps.at("ask").failures, 0u) << errors_of(*summary);
    EXPECT_EQ(summary->steps.at("ask").count, 5u);
    EXPECT_EQ(summary->steps.at("then").failures_by_kind.at("closed"), 5u);
    EXPECT_EQ(summary->reconnects, 4u);
  }
  EXPECT_EQ(errors_of(runs.direct).find("Broken pipe"), std::string::npos)
      << errors_of(runs.direct);
  expect_same_steps(runs);
}

TEST(SessionFrames, WhatNoServerMaySendIsAProtocolViolation) {
  const std::pair<const char*, std::string> cases[] = {
      {"a masked frame", std::string("\x81\x85\x01\x02\x03\x04", 6) + "abcde"},
      {"an unknown opcode", frame(0x83, "hello")},
      {"a continuation that continues nothing", frame(0x80, "hello")},
      {"text that is no UTF-8", frame(0x81, "\xff\xfe")},
  };
  for (const auto& [what, bytes] : cases) {
    SCOPED_TRACE(what);
    wsload::test::Misbehaviour hostile;
    hostile.answer_bytes = [bytes = bytes](const std::string&) { return bytes; };
    const auto runs = run_session_both_ways(hostile, {"hello"});
    EXPECT_EQ(runs.direct.errors_of(ErrorKind::protocol), 1u) << errors_of(runs.direct);
    expect_same_steps(runs);
  }
}

TEST(SessionFrames, AMessageOverTheSizeLimitIsMessageTooBig) {
  wsload::test::Misbehaviour big;
  big.answer_bytes = [](const std::string&) { return frame(0x81, std::string(100, 'x')); };
  const auto runs = run_session_both_ways(big, {"hello"}, 64);
  EXPECT_EQ(runs.direct.errors_of(ErrorKind::message_too_big), 1u) << errors_of(runs.direct);
  expect_same_steps(runs);
}

}  // namespace
