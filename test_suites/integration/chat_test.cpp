// Chat backends behind API Gateway: templates, streamed replies, completion and error
// rules, correlation, close codes, rejected and signed handshakes, against the embedded
// server in its API Gateway mode.
#include <cstdlib>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

#include "../support/frame_recorder.hpp"

namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using wsload::ErrorKind;
using wsload::LoadConfig;
using wsload::testing::ReplyMode;
using wsload::testing::Route;
using wsload::testing::Server;
using wsload::testing::ServerOptions;

ServerOptions gateway(std::map<std::string, Route> routes, std::string id_pointer = {}) {
  ServerOptions options;
  options.mode = ReplyMode::api_gateway;
  options.routes = std::move(routes);
  options.id_pointer = std::move(id_pointer);
  return options;
}

LoadConfig config_for(const Server& server, std::vector<std::string> prompts) {
  LoadConfig config;
  config.url = server.url("/prod");
  config.prompts = std::move(prompts);
  config.connections = 2;
  config.threads = 1;
  config.timeouts.reply = 5s;
  config.timeouts.run = 30s;
  return config;
}

Route stream(std::size_t chunks, std::chrono::milliseconds chunk_delay) {
  Route r;
  r.kind = Route::Kind::stream;
  r.chunks = chunks;
  r.chunk_delay = chunk_delay;
  return r;
}

Route error(std::string message) {
  Route r;
  r.kind = Route::Kind::error;
  r.error_message = std::move(message);
  return r;
}

Route echo(std::chrono::milliseconds delay = 0ms, bool stray = false) {
  Route r;
  r.delay = delay;
  r.stray_frame = stray;
  return r;
}

std::uint64_t errors_with(const wsload::Summary& s, ErrorKind kind, const std::string& detail) {
  for (const auto& e : s.errors) {
    if (e.kind == kind && e.detail == detail) return e.requests;
  }
  return 0;
}

TEST(Chat, TemplateEscapesPromptsIntoTheRoutedBody) {
  Server server(gateway({{"sendmessage", echo()}}));
  const std::vector<std::string> prompts = {"say \"hello\"", "two\nlines\tand a tab", "back\\slash",
                                            "za\xC5\xBC\xC3\xB3\xC5\x82\xC4\x87 \xF0\x9F\x98\x80",
                                            "{{prompt}} stays text"};
  auto config = config_for(server, prompts);
  config.connections = 1;
  config.message_template =
      R"({"action":"sendmessage","prompt":{{prompt}},"n":{{sequence}},"c":{{connection}},"u":"{{uuid}}"})";
  const auto s = wsload::run_load(config);
  ASSERT_EQ(s.successful_requests, prompts.size()) << wsload::format_report(s);
  const auto received = server.received();
  ASSERT_EQ(received.size(), prompts.size());
  std::set<std::string> uuids;
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    const auto body = json::parse(received[i]);
    EXPECT_EQ(body["action"], "sendmessage");
    EXPECT_EQ(body["prompt"].get<std::string>(), prompts[i]);
    EXPECT_EQ(body["n"], i);
    EXPECT_EQ(body["c"], 0);
    uuids.insert(body["u"].get<std::string>());
  }
  EXPECT_EQ(uuids.size(), prompts.size()) << "a fresh uuid per request";
}

TEST(Chat, UnknownRouteWithoutDefaultIsForbidden) {
  Server server(gateway({{"sendmessage", echo()}}));
  auto config = config_for(server, {"hi"});
  config.message_template = R"({"action":"other","prompt":{{prompt}}})";
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 0u);
  EXPECT_EQ(errors_with(s, ErrorKind::error_reply, "Forbidden"), 2u) << wsload::format_report(s);
}

struct CompletionCase {
  std::string rule;
  std::uint64_t frames_per_reply;
};

void PrintTo(const CompletionCase& c, std::ostream* os) {
  *os << c.rule;
}

class Completion : public ::testing::TestWithParam<CompletionCase> {};

TEST_P(Completion, EndsTheReplyWhereTheRuleSays) {
  Server server(gateway({{"$default", stream(4, 2ms)}}));
  auto config = config_for(server, {"a", "b", "c"});
  config.message_template = R"({"action":"chat","prompt":{{prompt}}})";
  config.completion = GetParam().rule;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 6u) << wsload::format_report(s);
  EXPECT_EQ(s.frames_received, 6 * GetParam().frames_per_reply);
  EXPECT_EQ(s.ttfb.count(), 6u);
  EXPECT_EQ(s.unmatched_replies, 0u);
}

std::string completion_name(const ::testing::TestParamInfo<CompletionCase>& info) {
  static const char* const names[] = {"PointerEquals", "PointerPresent", "Regex", "AllFrames",
                                      "SomeFrames"};
  return names[info.index];
}

INSTANTIATE_TEST_SUITE_P(Rules, Completion,
                         ::testing::Values(CompletionCase{R"(/type=="end")", 5},
                                           CompletionCase{"/done", 5},
                                           CompletionCase{"regex:\"type\":\"end\"", 5},
                                           CompletionCase{"frames=5", 5},
                                           CompletionCase{"frames=2", 2}),
                         completion_name);

TEST(Chat, FirstFrameIsTheDefaultCompletion) {
  Server server(gateway({{"$default", echo()}}));
  const auto s = wsload::run_load(config_for(server, {"a", "b"}));
  EXPECT_EQ(s.successful_requests, 4u);
  EXPECT_EQ(s.frames_received, 4u);
}

// Completion is timed at the end frame, the first frame at the first chunk.
TEST(Chat, StreamedRepliesAreTimedToFirstFrameAndToCompletion) {
  constexpr std::size_t chunks = 5;
  constexpr auto chunk_delay = 40ms;
  Server server(gateway({{"$default", stream(chunks, chunk_delay)}}));
  auto config = config_for(server, {"tell me a story", "another one"});
  config.completion = R"(/type=="end")";
  const auto s = wsload::run_load(config);
  ASSERT_EQ(s.successful_requests, 4u) << wsload::format_report(s);
  const double expected = std::chrono::duration<double>(chunk_delay * chunks).count();
  EXPECT_GE(*s.latency_at(0), expected * 0.99);  // histogram precision
  // Timed at its own end frame, not a later event: a second reply would end at twice
  // this. (How late a busy machine fires the server's chunk timers is not the timing's.)
  EXPECT_LT(*s.latency_at(100), expected * 2);
  EXPECT_LT(s.ttfb.max(), s.latency.min());
  EXPECT_GE(static_cast<double>(s.ttfb.min()) / 1e6, 0.040 * 0.99);
  wsload::Threshold ttfb = wsload::parse_threshold("ttfb_p95<150ms");
  EXPECT_TRUE(wsload::evaluate(ttfb, s.figure(ttfb)).passed);
  const auto report = wsload::format_report(s);
  EXPECT_NE(report.find("First frame (ms):"), std::string::npos) << report;
  EXPECT_NE(report.find("Frames per reply:     6"), std::string::npos) << report;
}

// A stream that stalls between chunks is a reply timeout, not a success at the first chunk.
TEST(Chat, StreamStallingMidReplyIsAReplyTimeout) {
  // The first chunk comes at 300 ms, the end frame not before 900 ms.
  Server server(gateway({{"$default", stream(3, 300ms)}}));
  auto config = config_for(server, {"a", "b"});
  config.completion = R"(/type=="end")";
  config.timeouts.reply = 400ms;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.errors_of(ErrorKind::reply_timeout), 4u) << wsload::format_report(s);
  EXPECT_EQ(s.ttfb.count(), 0u) << "a request that timed out is not timed";
  EXPECT_LT(s.total_time.count(), 1.5);
}

TEST(Chat, ErrorFramesFailTheirRequestsByKind) {
  Server server(gateway({{"ok", echo()},
                         {"boom", error("Internal server error")},
                         {"slow", error("Endpoint request timed out")}}));
  auto config = config_for(server, {"ok", "boom", "slow", "missing", "ok"});
  config.message_template = R"({"action":{{prompt}}})";
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 4u);
  EXPECT_EQ(errors_with(s, ErrorKind::error_reply, "Internal server error"), 2u);
  EXPECT_EQ(errors_with(s, ErrorKind::integration_timeout, "Endpoint request timed out"), 2u);
  EXPECT_EQ(errors_with(s, ErrorKind::error_reply, "Forbidden"), 2u) << wsload::format_report(s);
  EXPECT_EQ(s.connections_opened, 2u) << "an error frame fails the request, not the connection";

  // With the error rules cleared, an error frame is just a reply.
  config.error_rules.clear();
  EXPECT_EQ(wsload::run_load(config).successful_requests, 10u);
}

TEST(Chat, RejectedHandshakesAreCountedByStatus) {
  for (unsigned status : {401u, 403u, 429u, 500u}) {
    ServerOptions options;
    options.fault = wsload::testing::Fault::reject_upgrade;
    options.reject_status = status;
    Server server(options);
    const auto s = wsload::run_load(config_for(server, {"a"}));
    EXPECT_EQ(errors_with(s, ErrorKind::handshake_rejected, "HTTP " + std::to_string(status)), 2u)
        << wsload::format_report(s);
  }
}

TEST(Chat, IdleAndOldConnectionsCloseAsGoingAway) {
  for (bool idle : {true, false}) {
    auto options = gateway({{"$default", echo(2s)}});
    (idle ? options.idle_timeout : options.max_connection_duration) = 100ms;
    Server server(options);
    const auto s = wsload::run_load(config_for(server, {"a", "b"}));
    EXPECT_EQ(s.errors_of(ErrorKind::going_away), 4u) << wsload::format_report(s);
    EXPECT_LT(s.total_time.count(), 1.5);
  }
}

TEST(Chat, InFlightRequestsAreMatchedByIdOutOfOrder) {
  Server server(gateway({{"slow", echo(150ms)}, {"fast", stream(2, 5ms)}}, "/id"));
  auto config = config_for(server, {"slow", "fast", "fast", "fast"});
  config.iterations = 3;
  config.message_template = R"({"action":{{prompt}},"id":"c{{connection}}-{{sequence}}"})";
  config.correlation = "/id";
  config.in_flight = 4;
  config.completion = "regex:\"action\"|\"done\"";
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 24u) << wsload::format_report(s);
  EXPECT_GT(server.reordered(), 0u) << "fast replies overtook slow ones";
  EXPECT_EQ(s.unmatched_replies, 0u);
  EXPECT_EQ(s.late_replies, 0u);
  // A slow request is timed as slow even though quicker replies came before it.
  EXPECT_GE(*s.latency_at(100), 0.150 * 0.99);
  EXPECT_LT(*s.latency_at(50), 0.150);
}

// The id of a request is read without its prompt only when the prompt is not part of it:
// an id made from the prompt still matches.
TEST(Chat, IdsThatComeFromThePromptStillMatch) {
  Server server(ServerOptions{});
  auto config = config_for(server, {"p1", "p2", "p3", "p4"});
  config.correlation = "/id";
  config.in_flight = 4;
  config.message_template = R"({"id":"{{prompt}}","n":{{sequence}}})";
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 8u) << wsload::format_report(s);
  EXPECT_EQ(s.unmatched_replies, 0u);
}

TEST(Chat, UnmatchedAndLateRepliesAreCountedNotTimed) {
  Server server(gateway({{"slow", echo(400ms)}, {"fast", echo(50ms, true)}}, "/id"));
  auto config =
      config_for(server, {"slow", "fast", "fast", "fast", "fast", "fast", "fast", "fast", "fast"});
  config.connections = 1;
  config.message_template = R"({"action":{{prompt}},"id":{{sequence}}})";
  config.correlation = "/id";
  config.timeouts.reply = 150ms;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.errors_of(ErrorKind::reply_timeout), 1u) << wsload::format_report(s);
  EXPECT_EQ(s.successful_requests, 8u);
  EXPECT_EQ(s.late_replies, 1u);
  EXPECT_EQ(s.unmatched_replies, 8u) << "one stray frame per fast request";
  EXPECT_LT(*s.latency_at(100), 0.150) << "the late reply is not timed";
}

TEST(Chat, ConnectRateSpreadsConnections) {
  Server server(gateway({{"$default", echo()}}));
  auto config = config_for(server, {"a"});
  config.connections = 10;
  config.connect_rate = 50;  // the tenth connection starts 9 / 50 s after the first
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 10u);
  EXPECT_GE(s.total_time.count(), 0.18);
}

TEST(Chat, LargeMessagesAreFragmentedAndTooLargeOnesRefused) {
  Server server(gateway({{"$default", echo()}}));
  auto config = config_for(server, {std::string(100 * 1024, 'x')});
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 2u) << wsload::format_report(s);
  EXPECT_EQ(server.received().at(0).size(), 100u * 1024);
  config.prompts = {std::string(129 * 1024, 'x')};
  try {
    wsload::Engine engine(config);
    ADD_FAILURE() << "a 129 KiB message was accepted";
  } catch (const wsload::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("over the 131072-byte limit (API Gateway"),
              std::string::npos)
        << e.what();
  }
}

// On the wire, as API Gateway receives it: no frame over 32 KiB, one message per prompt.
TEST(Chat, FramesOnTheWireAreAtMost32KiB) {
  const wsload::test::FrameRecorder server;
  LoadConfig config;
  config.url = server.url();
  config.prompts = {std::string(100'000, 'x'), "small"};
  config.connections = 1;
  config.timeouts.run = 30s;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 2u) << wsload::format_report(s);
  const auto frames = server.frames();
  ASSERT_GE(frames.size(), 5u);
  std::size_t first_message = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(frames[i].opcode, i == 0 ? 1 : 0) << "text, then continuations: frame " << i;
    EXPECT_EQ(frames[i].fin, i == 3) << i;
    EXPECT_LE(frames[i].size, 32u * 1024) << i;
    first_message += frames[i].size;
  }
  EXPECT_EQ(first_message, 100'000u);
  EXPECT_EQ(frames[4].opcode, 1);
  EXPECT_TRUE(frames[4].fin);
  EXPECT_EQ(frames[4].size, 5u);
}

class Environment {
 public:
  void set(const char* name, const std::string& value) {
    saved_.emplace_back(
        name, std::getenv(name) ? std::optional<std::string>(std::getenv(name)) : std::nullopt);
    ::setenv(name, value.c_str(), 1);
  }
  ~Environment() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) {
        ::setenv(it->first, it->second->c_str(), 1);
      } else {
        ::unsetenv(it->first);
      }
    }
  }

 private:
  std::vector<std::pair<const char*, std::optional<std::string>>> saved_;
};

const wsload::aws::Credentials server_credentials{
    "AKIDLOADTEST", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYLOADTEST", "", "eu-west-1"};

TEST(Chat, PresignedConnectPassesAndATamperedOneIsRefused) {
  auto options = gateway({{"$default", echo()}});
  options.sigv4 = server_credentials;
  Server server(options);
  Environment env;
  env.set("AWS_ACCESS_KEY_ID", server_credentials.access_key_id);
  env.set("AWS_SECRET_ACCESS_KEY", server_credentials.secret_access_key);
  env.set("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEXAMPLETOKEN");
  env.set("AWS_REGION", "eu-west-1");
  auto config = config_for(server, {"a", "b"});
  config.aws.enabled = true;
  const auto signed_run = wsload::run_load(config);
  EXPECT_EQ(signed_run.successful_requests, 4u) << wsload::format_report(signed_run);
  EXPECT_EQ(server.rejected_signatures(), 0u);
  const auto target = server.handshakes().at(0).target;
  EXPECT_NE(target.find("X-Amz-Signature="), std::string::npos);
  EXPECT_NE(target.find("X-Amz-Security-Token="), std::string::npos);

  env.set("AWS_SECRET_ACCESS_KEY", "not-the-right-secret");
  const auto tampered = wsload::run_load(config);
  EXPECT_EQ(tampered.successful_requests, 0u);
  EXPECT_EQ(errors_with(tampered, ErrorKind::handshake_rejected, "HTTP 403"), 4u)
      << wsload::format_report(tampered);
  EXPECT_EQ(server.rejected_signatures(), 2u);

  for (const auto* s : {&signed_run, &tampered}) {
    const auto saved = to_json(*s).dump() + wsload::format_report(*s);
    for (const char* secret : {"wJalrXUtnFEMI", "not-the-right-secret", "FwoGZXIvYXdzEXAMPLETOKEN",
                               "X-Amz-Signature", "AKIDLOADTEST"}) {
      EXPECT_EQ(saved.find(secret), std::string::npos) << secret;
    }
  }
}

TEST(Chat, SecretsInHeadersAndQueryNeverReachTheSummary) {
  Server server(gateway({{"$default", echo()}}));
  auto config = config_for(server, {"a"});
  config.headers = {{"Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.SECRET-JWT"},
                    {"x-api-key", "KEY-1234567890"}};
  config.query = {{"token", "QUERY-SECRET"}, {"stage", "dev"}};
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 2u) << wsload::format_report(s);
  const auto seen = server.handshakes().at(0);
  EXPECT_EQ(seen.header("authorization"), "Bearer eyJhbGciOiJIUzI1NiJ9.SECRET-JWT");
  EXPECT_EQ(seen.target, "/prod?token=QUERY-SECRET&stage=dev");
  const auto saved = to_json(s).dump() + wsload::format_report(s);
  for (const char* secret : {"SECRET-JWT", "KEY-1234567890", "QUERY-SECRET"}) {
    EXPECT_EQ(saved.find(secret), std::string::npos) << secret << " in " << saved;
  }
  EXPECT_NE(saved.find("stage=dev"), std::string::npos);
}

}  // namespace
