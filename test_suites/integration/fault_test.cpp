// The engine against a server that misbehaves on purpose: every fault is classified and
// counted, healthy connections are not disturbed, the run ends in time and the summary
// is whole. Each fault is served over ws and over wss: the TLS stream must carry the
// same failures to the same kinds.
#include <gtest/gtest.h>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

#include "../support/frame_recorder.hpp"

namespace {

using namespace std::chrono_literals;
using wsload::ErrorKind;
using wsload::testing::Fault;
using wsload::testing::Server;
using wsload::testing::ServerOptions;

class Faults : public ::testing::TestWithParam<bool> {
 protected:
  // Four connections, three prompts each; connections 0 and 2 (in accept order) misbehave.
  wsload::Summary run_against(
      Fault fault, std::size_t fault_after = 1,
      const std::function<void(ServerOptions&, wsload::LoadConfig&)>& adjust = {}) const;
};

INSTANTIATE_TEST_SUITE_P(Transport, Faults, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "wss" : "ws"; });

wsload::Summary Faults::run_against(
    Fault fault, std::size_t fault_after,
    const std::function<void(ServerOptions&, wsload::LoadConfig&)>& adjust) const {
  ServerOptions options;
  options.tls = GetParam();
  options.fault = fault;
  options.fault_after = fault_after;
  options.fault_every = 2;
  wsload::LoadConfig config;
  config.prompts = {"a", "b", "c"};
  config.connections = 4;
  config.threads = 2;
  config.timeouts.handshake = 5s;  // sanitizers on a busy machine make TLS slow
  config.timeouts.reply = 2s;
  config.timeouts.run = 30s;
  if (adjust) adjust(options, config);
  Server server(options);
  config.url = server.url("/faulty");
  config.tls.ca_pem = server.ca_pem();
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

TEST_P(Faults, UpgradeNeverAnsweredIsAHandshakeTimeout) {
  const auto s = run_against(Fault::ignore_upgrade, 1,
                             [](auto&, wsload::LoadConfig& c) { c.timeouts.handshake = 500ms; });
  expect_whole(s);
  EXPECT_EQ(s.successful_requests, 6u) << "the healthy connections are not disturbed";
  EXPECT_EQ(s.errors_of(ErrorKind::handshake), 6u);
  EXPECT_EQ(detail_of(s, ErrorKind::handshake), "timed out");
  EXPECT_EQ(s.connections_failed, 2u);
}

TEST_P(Faults, RejectedUpgradeCarriesItsStatus) {
  for (unsigned status : {500u, 429u, 403u}) {
    const auto s = run_against(Fault::reject_upgrade, 0,
                               [status](ServerOptions& o, auto&) { o.reject_status = status; });
    expect_whole(s);
    EXPECT_EQ(s.successful_requests, 6u);
    EXPECT_EQ(s.errors_of(ErrorKind::handshake_rejected), 6u);
    EXPECT_EQ(detail_of(s, ErrorKind::handshake_rejected), "HTTP " + std::to_string(status));
  }
}

TEST_P(Faults, CloseCodesAreTheirOwnKinds) {
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

TEST_P(Faults, ResetMidReplyIsAConnectionLost) {
  const auto s = run_against(Fault::reset_after);
  expect_whole(s);
  EXPECT_EQ(s.successful_requests, 8u);
  EXPECT_EQ(s.errors_of(ErrorKind::connection_lost), 4u)
      << detail_of(s, ErrorKind::connection_lost);
}

TEST_P(Faults, MalformedFrameIsAProtocolError) {
  const auto s = run_against(Fault::malformed_after);
  expect_whole(s);
  EXPECT_EQ(s.successful_requests, 8u);
  EXPECT_EQ(s.errors_of(ErrorKind::protocol), 4u);
}

TEST_P(Faults, ReplyOverTheLimitIsMessageTooBig) {
  const auto s = run_against(Fault::oversized_reply, 0, [](ServerOptions& o, auto& c) {
    o.oversized_bytes = 256 * 1024;
    c.max_message_size = 64 * 1024;
  });
  expect_whole(s);
  EXPECT_EQ(s.successful_requests, 6u);
  EXPECT_EQ(s.errors_of(ErrorKind::message_too_big), 6u);
}

TEST_P(Faults, PingFloodDoesNotDisturbReplies) {
  const auto s = run_against(Fault::ping_flood);
  expect_whole(s);
  EXPECT_EQ(s.successful_requests, 12u);
}

TEST_P(Faults, StallMidRunIsAReplyTimeoutWithinTheDeadline) {
  const auto s = run_against(Fault::none, 0, [](ServerOptions& o, auto& c) {
    o.mode = wsload::testing::ReplyMode::silent;
    c.timeouts.reply = 200ms;
  });
  expect_whole(s);
  EXPECT_EQ(s.errors_of(ErrorKind::reply_timeout), 12u);
}

// A server that reads 16 KiB per 50 ms on every connection, and a second prompt of 8 MB:
// that does not fit in the socket buffers, so the write itself must be cut short. (Every
// connection is slow: an 8 MB echo is no test of the healthy ones, and under sanitizers
// it can outlast the reply timeout.)
void slow_reader(ServerOptions& o, wsload::LoadConfig& c) {
  o.fault_every = 1;
  o.slow_read_bytes = 16 << 10;
  o.slow_read_pause = 50ms;
  c.prompts[1] = std::string(8 << 20, 'x');
  c.max_send_size = 16 << 20;
  c.timeouts.reply = 2s;
}

TEST_P(Faults, ServerThatStopsReadingIsAReplyTimeoutWhileSending) {
  const auto s = run_against(Fault::slow_read, 1, slow_reader);
  expect_whole(s);
  EXPECT_EQ(s.successful_requests, 8u)
      << "each connection's first, before the big one, and its third on a fresh connection";
  EXPECT_EQ(s.errors_of(ErrorKind::reply_timeout), 4u) << to_json(s)["errors"].dump();
  EXPECT_EQ(detail_of(s, ErrorKind::reply_timeout), "while sending: the server is not reading");
  EXPECT_EQ(s.timeout_reconnects, 4u);
}

TEST_P(Faults, ServerThatStopsReadingFailsPipelinedRequestsToo) {
  const auto s = run_against(Fault::slow_read, 1, [](ServerOptions& o, auto& c) {
    slow_reader(o, c);
    c.message_template = R"({"id":{{sequence}},"prompt":{{prompt}}})";
    c.correlation = "/id";
    c.in_flight = 2;
  });
  expect_whole(s);
  // Each connection's first reply arrives while its writer is stuck. Under a sanitizer,
  // rendering the 8 MB request on the same thread can keep that reply unread past its
  // own timeout, so it counts either way.
  EXPECT_EQ(s.successful_requests + s.errors_of(ErrorKind::reply_timeout), 12u)
      << to_json(s)["errors"].dump();
  std::uint64_t while_sending = 0;
  for (const auto& e : s.errors) {
    if (e.detail == "while sending: the server is not reading") while_sending += e.requests;
  }
  // The big one on every connection, with the first when its reply was not read in time;
  // the third goes on a fresh connection and is answered.
  EXPECT_GE(while_sending, 4u) << to_json(s)["errors"].dump();
  // Under load a first reply can also time out while its writer is stuck.
  EXPECT_LE(while_sending, s.errors_of(ErrorKind::reply_timeout)) << to_json(s)["errors"].dump();
  EXPECT_GE(s.successful_requests, 4u);
  EXPECT_EQ(s.timeout_reconnects, 4u);
}

// --- Reconnect policy --------------------------------------------------------------

// Two connections, six prompts each, against a server that closes every connection with
// 1011 instead of its third reply.
wsload::Summary run_with_drops(std::size_t max_attempts, std::size_t fault_after = 2,
                               std::chrono::milliseconds backoff = 10ms) {
  ServerOptions options;
  options.fault = Fault::close_after;
  options.fault_after = fault_after;
  Server server(options);
  wsload::LoadConfig config;
  config.url = server.url();
  config.prompts = {"1", "2", "3", "4", "5", "6"};
  config.connections = 2;
  config.threads = 1;
  config.timeouts.run = 30s;
  config.reconnect.max_attempts = max_attempts;
  config.reconnect.backoff = backoff;
  auto s = wsload::run_load(config);
  EXPECT_EQ(server.connections(), s.connections_opened + s.reconnects);
  return s;
}

TEST(Reconnect, OffByDefaultADropFailsTheRest) {
  const auto s = run_with_drops(0);
  EXPECT_EQ(s.successful_requests, 4u);
  EXPECT_EQ(s.errors_of(ErrorKind::server_error), 8u);
  EXPECT_EQ(s.reconnects, 0u);
}

TEST(Reconnect, ADroppedConnectionIsReopenedAndOnlyTheRequestInFlightFails) {
  const auto s = run_with_drops(5);
  // Per connection: 1 2 ok, 3 lost with the close; reopened: 4 5 ok, 6 lost; nothing left.
  EXPECT_EQ(s.successful_requests, 8u);
  EXPECT_EQ(s.errors_of(ErrorKind::server_error), 4u);
  EXPECT_EQ(s.reconnects, 2u);
  EXPECT_EQ(s.reconnects_failed, 0u);
  EXPECT_EQ(s.connections_opened, 2u);
  const auto j = to_json(s);
  EXPECT_EQ(j["connections"]["reconnects"], 2);
  EXPECT_EQ(j["config"]["reconnect"]["max_attempts"], 5);
  EXPECT_NE(wsload::format_report(s).find("reopened 2 times"), std::string::npos);
}

TEST(Reconnect, AttemptsAreBoundedAndBackOff) {
  // Every connection drops at its first request: 3 reconnects each, then the rest fail.
  const auto s = run_with_drops(3, 0, 40ms);
  EXPECT_EQ(s.successful_requests, 0u);
  EXPECT_EQ(s.errors_of(ErrorKind::server_error), 12u);
  EXPECT_EQ(s.reconnects, 6u);
  // Waits of at least 20, 40 and 80 ms (half of 40, 80, 160: the rest is jitter).
  EXPECT_GE(s.total_time.count(), 0.140);
}

TEST(Reconnect, AServiceThatRestartsIsReconnectedTo) {
  ServerOptions options;
  options.reply_delay = 5ms;
  auto server = std::make_unique<Server>(options);
  wsload::LoadConfig config;
  config.url = server->url();
  config.prompts = {"a", "b", "c", "d"};
  config.iterations = 50;
  config.connections = 4;
  config.threads = 1;
  config.timeouts.run = 30s;
  config.reconnect.max_attempts = 100;
  config.reconnect.backoff = 5ms;
  config.reconnect.max_backoff = 50ms;
  std::unique_ptr<Server> restarted;
  wsload::Engine engine(config);
  const auto s = engine.run(
      [&](const wsload::Progress& p) {
        if (!restarted && p.done >= 40) {
          options.port = server->port();
          server->stop();  // every connection drops; the port refuses
          restarted = std::make_unique<Server>(options);
        }
      },
      10ms);
  ASSERT_TRUE(restarted) << "the run ended before the restart";
  EXPECT_EQ(s.successful_requests + s.failed_requests, s.total_requests);
  EXPECT_LE(s.failed_requests, 4u) << "only the requests in flight at the restart";
  EXPECT_GE(s.reconnects, 4u);
  EXPECT_EQ(s.reconnects, restarted->connections());
  EXPECT_GT(restarted->messages(), 0u);
}

TEST(Reconnect, AConnectionNeverOpenedIsNotRetried) {
  wsload::LoadConfig config;
  config.url = "ws://127.0.0.1:" + std::to_string(wsload::testing::unused_loopback_port());
  config.prompts = {"a"};
  config.connections = 2;
  config.reconnect.max_attempts = 5;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.connections_failed, 2u);
  EXPECT_EQ(s.reconnects + s.reconnects_failed, 0u);
  EXPECT_EQ(s.errors_of(ErrorKind::connect), 2u);
}

// Answers no RFC 6455 server may give, from a bare server of the test suite: a Beast
// server would not send them.
wsload::Summary run_against(const wsload::test::Misbehaviour& misbehaviour,
                            const std::function<void(wsload::LoadConfig&)>& adjust = {}) {
  const wsload::test::FrameRecorder server(misbehaviour);
  wsload::LoadConfig config;
  config.url = server.url();
  config.prompts = {"hello"};
  config.connections = 1;
  config.timeouts.run = 120s;
  if (adjust) adjust(config);
  return wsload::run_load(config);
}

wsload::test::Misbehaviour upgrade_answered_with(std::string header_lines) {
  wsload::test::Misbehaviour misbehaviour;
  misbehaviour.upgrade_headers = std::move(header_lines);
  return misbehaviour;
}

// RFC 6455 9.1: a client fails the connection when the server uses an extension it did
// not offer; 4.1: likewise for a subprotocol it did not offer.
TEST(HostileServer, ExtensionNeverOfferedFailsTheHandshake) {
  const auto s =
      run_against(upgrade_answered_with("Sec-WebSocket-Extensions: permessage-deflate\r\n"));
  EXPECT_EQ(s.successful_requests, 0u);
  EXPECT_EQ(s.errors_of(ErrorKind::handshake), 1u) << wsload::format_report(s);
  EXPECT_EQ(detail_of(s, ErrorKind::handshake),
            "the server chose the extension 'permessage-deflate', which was not offered "
            "(RFC 6455 9.1)");
  EXPECT_EQ(s.connections_failed, 1u);
}

TEST(HostileServer, SubprotocolNeverOfferedFailsTheHandshake) {
  const auto s = run_against(upgrade_answered_with("Sec-WebSocket-Protocol: chat.v9\r\n"),
                             [](wsload::LoadConfig& c) {
                               c.subprotocols = {"chat.v1", "chat.v2"};
                             });
  EXPECT_EQ(s.errors_of(ErrorKind::handshake), 1u) << wsload::format_report(s);
  EXPECT_EQ(detail_of(s, ErrorKind::handshake),
            "the server chose the subprotocol 'chat.v9', which was not offered; offered "
            "'chat.v1, chat.v2' (RFC 6455 4.1)");
  const auto none = run_against(upgrade_answered_with("Sec-WebSocket-Protocol: chat.v1\r\n"));
  EXPECT_EQ(none.errors_of(ErrorKind::handshake), 1u) << "none was offered";
  EXPECT_EQ(detail_of(none, ErrorKind::handshake),
            "the server chose the subprotocol 'chat.v1', which was not offered; none was "
            "(RFC 6455 4.1)");

  const auto offered = run_against(upgrade_answered_with("Sec-WebSocket-Protocol: chat.v2\r\n"),
                                   [](wsload::LoadConfig& c) {
                                     c.subprotocols = {"chat.v1", "chat.v2"};
                                   });
  EXPECT_EQ(offered.successful_requests, 1u) << wsload::format_report(offered);
}

// A client that asks for a subprotocol speaks only those: a server that picks none would
// be spoken to in a protocol it never agreed to (browsers fail such a connection too).
TEST(HostileServer, NoSubprotocolChosenWhenSomeWereOfferedFailsTheHandshake) {
  const auto s = run_against(upgrade_answered_with(""), [](wsload::LoadConfig& c) {
    c.subprotocols = {"chat.v1", "chat.v2"};
  });
  EXPECT_EQ(s.successful_requests, 0u) << wsload::format_report(s);
  EXPECT_EQ(s.errors_of(ErrorKind::handshake), 1u) << wsload::format_report(s);
  EXPECT_EQ(detail_of(s, ErrorKind::handshake),
            "the server chose no subprotocol; offered 'chat.v1, chat.v2' (one is required)");
  EXPECT_EQ(s.connections_failed, 1u);
}

// With compression offered, permessage-deflate is the one extension a server may choose.
TEST(HostileServer, ExtensionOtherThanTheOfferedDeflateFailsTheHandshake) {
  const auto s =
      run_against(upgrade_answered_with("Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n"),
                  [](wsload::LoadConfig& c) { c.compression = true; });
  EXPECT_EQ(s.errors_of(ErrorKind::handshake), 1u) << wsload::format_report(s);
  EXPECT_EQ(detail_of(s, ErrorKind::handshake),
            "the server chose the extension 'x-webkit-deflate-frame', which was not offered "
            "(only permessage-deflate was; RFC 6455 9.1)");
}

// A frame header declaring 2 GiB, then 1 KiB of it and silence, the connection held open:
// over the size limit as soon as the header is read, and the closing handshake the
// server never answers is bounded by the close timeout, not the reply timeout.
TEST(HostileServer, FrameDeclaringTwoGigabytesFailsAtOnceAsMessageTooBig) {
  std::string header = "\x82\x7f";  // FIN, binary, 64-bit length
  for (int shift = 56; shift >= 0; shift -= 8) {
    header += static_cast<char>((std::uint64_t{1} << 31) >> shift & 0xff);
  }
  wsload::test::Misbehaviour hostile;
  hostile.first_reply = header + std::string(1024, 'x');
  const auto started = std::chrono::steady_clock::now();
  const auto s = run_against(hostile, [](wsload::LoadConfig& c) {
    c.timeouts.reply = 60s;
    c.timeouts.close = 500ms;
  });
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(s.errors_of(ErrorKind::message_too_big), 1u) << wsload::format_report(s);
  EXPECT_EQ(s.failed_requests, 1u);
  EXPECT_LT(took, 30s) << "waited for the reply timeout";
}

}  // namespace
