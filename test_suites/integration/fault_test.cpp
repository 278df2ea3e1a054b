// The engine against a server that misbehaves on purpose: every fault is classified and
// counted, healthy connections are not disturbed, the run ends in time and the summary
// is whole.
#include <gtest/gtest.h>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

namespace {

using namespace std::chrono_literals;
using wsload::ErrorKind;
using wsload::testing::Fault;
using wsload::testing::Server;
using wsload::testing::ServerOptions;

// Four connections, three prompts each; connections 0 and 2 (in accept order) misbehave.
wsload::Summary run_against(
    Fault fault, std::size_t fault_after = 1,
    const std::function<void(ServerOptions&, wsload::LoadConfig&)>& adjust = {}) {
  ServerOptions options;
  options.fault = fault;
  options.fault_after = fault_after;
  options.fault_every = 2;
  wsload::LoadConfig config;
  config.prompts = {"a", "b", "c"};
  config.connections = 4;
  config.threads = 2;
  config.timeouts.handshake = 500ms;
  config.timeouts.reply = 2s;
  config.timeouts.run = 30s;
  if (adjust) adjust(options, config);
  Server server(options);
  config.url = server.url("/faulty");
  return wsload::run_load(config);
}

// What every faulty run must keep: totals add up, nothing ran to the deadline, and the
// summary survives a round trip through its JSON.
void expect_whole(const wsload::Summary& s) {
  EXPECT_EQ(s.total_requests, 12u);
  EXPECT_EQ(s.successful_requests + s.failed_requests, s.total_requests);
  std::uint64_t counted = 0;
  for (const auto& e : s.errors) counted += e.requests;
  EXPECT_EQ(counted, s.failed_requests) << "every failure has a kind";
  EXPECT_FALSE(s.deadline_exceeded);
  EXPECT_LT(s.total_time.count(), 15.0);
  EXPECT_EQ(to_json(wsload::summary_from_json(to_json(s))), to_json(s));
}

std::string detail_of(const wsload::Summary& s, ErrorKind kind) {
  for (const auto& e : s.errors) {
    if (e.kind == kind) return e.detail;
  }
  return "(none)";
}

TEST(Faults, UpgradeNeverAnsweredIsAHandshakeTimeout) {
  const auto s = run_against(Fault::ignore_upgrade);
  expect_whole(s);
  EXPECT_EQ(s.successful_requests, 6u) << "the healthy connections are not disturbed";
  EXPECT_EQ(s.errors_of(ErrorKind::handshake), 6u);
  EXPECT_EQ(detail_of(s, ErrorKind::handshake), "timed out");
  EXPECT_EQ(s.connections_failed, 2u);
}

TEST(Faults, RejectedUpgradeCarriesItsStatus) {
  for (unsigned status : {500u, 429u, 403u}) {
    const auto s = run_against(Fault::reject_upgrade, 0,
                               [status](ServerOptions& o, auto&) { o.reject_status = status; });
    expect_whole(s);
    EXPECT_EQ(s.successful_requests, 6u);
    EXPECT_EQ(s.errors_of(ErrorKind::handshake_rejected), 6u);
    EXPECT_EQ(detail_of(s, ErrorKind::handshake_rejected), "HTTP " + std::to_string(status));
  }
}

TEST(Faults, CloseCodesAreTheirOwnKinds) {
  const std::tuple<unsigned, ErrorKind, const char*> cases[] = {
      {1011, ErrorKind::server_error, "close code 1011"},
      {1001, ErrorKind::going_away, "close code 1001"},
      {1009, ErrorKind::peer_too_big, "close code 1009"},
      {4000, ErrorKind::closed_by_peer, "close code 4000"}};
  for (const auto& [code, kind, detail] : cases) {
    const auto s =
        run_against(Fault::close_after, 1,
                    [code](ServerOptions& o, wsload::LoadConfig&) { o.close_code = code; });
    expect_whole(s);
    EXPECT_EQ(s.successful_requests, 6u + 2u) << "healthy 2 x 3, faulty 2 x 1 before the close";
    EXPECT_EQ(s.errors_of(kind), 4u) << code;
    EXPECT_EQ(detail_of(s, kind), detail);
  }
}

TEST(Faults, ResetMidReplyIsAConnectionLost) {
  const auto s = run_against(Fault::reset_after);
  expect_whole(s);
  EXPECT_EQ(s.successful_requests, 8u);
  EXPECT_EQ(s.errors_of(ErrorKind::connection_lost), 4u)
      << detail_of(s, ErrorKind::connection_lost);
}

TEST(Faults, MalformedFrameIsAProtocolError) {
  const auto s = run_against(Fault::malformed_after);
  expect_whole(s);
  EXPECT_EQ(s.successful_requests, 8u);
  EXPECT_EQ(s.errors_of(ErrorKind::protocol), 4u);
}

TEST(Faults, ReplyOverTheLimitIsMessageTooBig) {
  const auto s = run_against(Fault::oversized_reply, 0, [](ServerOptions& o, auto& c) {
    o.oversized_bytes = 256 * 1024;
    c.max_message_size = 64 * 1024;
  });
  expect_whole(s);
  EXPECT_EQ(s.successful_requests, 6u);
  EXPECT_EQ(s.errors_of(ErrorKind::message_too_big), 6u);
}

TEST(Faults, PingFloodDoesNotDisturbReplies) {
  const auto s = run_against(Fault::ping_flood);
  expect_whole(s);
  EXPECT_EQ(s.successful_requests, 12u);
}

TEST(Faults, StallMidRunIsAReplyTimeoutWithinTheDeadline) {
  const auto s = run_against(Fault::none, 0, [](ServerOptions& o, auto& c) {
    o.mode = wsload::testing::ReplyMode::silent;
    c.timeouts.reply = 200ms;
  });
  expect_whole(s);
  EXPECT_EQ(s.errors_of(ErrorKind::reply_timeout), 12u);
}

}  // namespace
