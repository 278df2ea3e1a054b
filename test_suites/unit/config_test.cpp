#include <wsload/config_sources.hpp>
#include <wsload/config_validation.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "../support/scratch.hpp"

namespace {

using namespace wsload;
namespace fs = std::filesystem;

using TempDir = wsload::test::ScratchTest;

LoadConfig valid() {
  LoadConfig c;
  c.url = "ws://127.0.0.1:9/";
  c.prompts = {"hello"};
  return c;
}

using Prompts = TempDir;

TEST_F(Prompts, OnePerLineBlankLinesSkippedUtf8Kept) {
  const auto path = write("p.txt",
                          "first\n\n  \nsecond line\r\nza\xC5\xBC\xC3\xB3\xC5\x82\xC4\x87 "
                          "\xF0\x9F\x98\x80\n   indented  \nlast");
  const auto prompts = read_prompts(path);
  ASSERT_EQ(prompts.size(), 5u);
  EXPECT_EQ(prompts[0], "first");
  EXPECT_EQ(prompts[1], "second line");
  EXPECT_EQ(prompts[2], "za\xC5\xBC\xC3\xB3\xC5\x82\xC4\x87 \xF0\x9F\x98\x80");
  EXPECT_EQ(prompts[3], "   indented  ");
  EXPECT_EQ(prompts[4], "last");
}

TEST_F(Prompts, AByteOrderMarkStartsTheFileNotThePrompt) {
  const auto prompts = read_prompts(write("bom.txt",
                                          "\xEF\xBB\xBF"
                                          "first\n\xEF\xBB\xBF"
                                          "second\n"));
  EXPECT_EQ(prompts, (std::vector<std::string>{"first",
                                               "\xEF\xBB\xBF"
                                               "second"}))
      << "only at the start of the file is it a mark";
  EXPECT_EQ(read_prompts(write("only.txt", "\xEF\xBB\xBF\nhello\n")),
            std::vector<std::string>{"hello"});
}

TEST_F(Prompts, BadFilesAreNamedWithTheReason) {
  const std::map<std::string, std::string> cases = {
      {(dir_ / "missing.txt").string(), "does not exist"},
      {dir_.string(), "directory"},
      {write("empty.txt", "").string(), "no prompts"},
      {write("blank.txt", "\n \n\t\n").string(), "no prompts"},
      {write("bin.txt", std::string("ab\0cd\n", 6)).string(), "NUL"},
      {write("latin1.txt", "ok\ncaf\xE9\n").string(), "line 2 is not valid UTF-8"},
  };
  for (const auto& [path, reason] : cases) {
    try {
      read_prompts(path);
      ADD_FAILURE() << "accepted " << path;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), "prompts file");
      EXPECT_EQ(e.value(), path);
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  }
}

TEST_F(Prompts, Base64AndHexLinesAreTheBytesOfBinaryMessages) {
  // Blank lines skipped, blanks and '\r' around a line dropped, as for text.
  EXPECT_EQ(read_prompts(write("p.b64", "AAH/\n\n  3q2+7w== \r\naGk=\n"), PromptEncoding::base64),
            (std::vector<std::string>{std::string("\0\x01\xff", 3), "\xde\xad\xbe\xef", "hi"}));
  EXPECT_EQ(read_prompts(write("p.hex", "00 01 ff\nDEadBEef\r\n"), PromptEncoding::hex),
            (std::vector<std::string>{std::string("\0\x01\xff", 3), "\xde\xad\xbe\xef"}));
  EXPECT_EQ(decode_prompt("68 69", PromptEncoding::hex), "hi");
  EXPECT_EQ(decode_prompt("68 69", PromptEncoding::text), "68 69");
  for (const auto* bad : {"abc", "AAH/=", "AA=H", "AAH/ AAH/", "****"}) {
    EXPECT_FALSE(decode_prompt(bad, PromptEncoding::base64)) << bad;
  }
  for (const auto* bad : {"0", "0g", "1 23", "0x12"}) {
    EXPECT_FALSE(decode_prompt(bad, PromptEncoding::hex)) << bad;
  }
}

TEST_F(Prompts, ALineThatIsNotInItsEncodingIsNamed) {
  const auto path = write("p.hex", "00ff\n\nzz\n");
  try {
    read_prompts(path, PromptEncoding::hex);
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "prompts file");
    EXPECT_EQ(e.value(), path.string());
    EXPECT_NE(std::string(e.what()).find("line 3 is not hex"), std::string::npos) << e.what();
  }
  EXPECT_EQ(parse_prompt_encoding("base64"), PromptEncoding::base64);
  EXPECT_THROW(parse_prompt_encoding("Base64"), ConfigError);
}

TEST(Utf8, RejectsOverlongsSurrogatesAndTruncation) {
  EXPECT_TRUE(detail::valid_utf8("plain \xE2\x82\xAC \xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(detail::valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(detail::valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(detail::valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(detail::valid_utf8("ab\xE2\x82"));        // truncated
  EXPECT_FALSE(detail::valid_utf8("\x80"));
}

TEST(Config, ExpectedRequestsIsConnectionsTimesPromptsTimesIterations) {
  auto c = valid();
  c.connections = 7;
  c.prompts = {"a", "b", "c"};
  c.iterations = 4;
  EXPECT_EQ(c.expected_requests(), 84u);
}

// A session that is never called: no coroutine, so the core tests need no network library.
SessionTask no_session(Session&) {
  return {};
}

TEST(Config, ValidateNamesTheInvalidField) {
  const std::vector<std::pair<std::function<void(LoadConfig&)>, std::string>> cases = {
      {[](LoadConfig& c) { c.url = "http://x/"; }, "url"},
      {[](LoadConfig& c) { c.prompts.clear(); }, "prompts"},
      {[](LoadConfig& c) { c.prompts = {"\xFF"}; }, "prompts"},
      {[](LoadConfig& c) { c.connections = 0; }, "connections"},
      {[](LoadConfig& c) { c.iterations = 0; }, "iterations"},
      {[](LoadConfig& c) { c.timeouts.reply = std::chrono::milliseconds(0); }, "timeouts.reply"},
      {[](LoadConfig& c) { c.origin = "x\r\nEvil: 1"; }, "origin"},
      {[](LoadConfig& c) {
         c.headers = {{"Bad Name", "v"}};
       },
       "header"},
      {[](LoadConfig& c) {
         c.headers = {{"Host", "v"}};
       },
       "header"},
      {[](LoadConfig& c) {
         c.headers = {{"Authorization", "secret\nX: y"}};
       },
       "header Authorization"},
      {[](LoadConfig& c) { c.subprotocols = {"a b"}; }, "subprotocol"},
      // assign(), not "\xFF": g++ 12 warns falsely (-Wrestrict) on that assignment.
      {[](LoadConfig& c) { c.keepalive.assign(1, static_cast<char>(0xFF)); }, "keepalive"},
      {[](LoadConfig& c) {
         c.keepalive = "ping";
         c.keepalive_interval = std::chrono::milliseconds(0);
       },
       "keepalive_interval"},
      {[](LoadConfig& c) {
         c.shard = Shard{0, 2};
         c.connections = 1;
       },
       "shard"},
      {[](LoadConfig& c) { c.thresholds = {"p99<<1"}; }, "threshold"},
      {[](LoadConfig& c) { c.min_success_rate = 120; }, "min_success_rate"},
      {[](LoadConfig& c) { c.tls.ca_file = "/nonexistent/ca.pem"; }, "ca file"},
      {[](LoadConfig& c) { c.reconnect.max_attempts = 2'000'000; }, "reconnect.max_attempts"},
      {[](LoadConfig& c) {
         c.reconnect.max_attempts = 1;
         c.reconnect.backoff = std::chrono::milliseconds(0);
       },
       "reconnect.backoff"},
      {[](LoadConfig& c) {
         c.reconnect.backoff = std::chrono::seconds(10);
         c.reconnect.max_backoff = std::chrono::seconds(1);
       },
       "reconnect.backoff"},
      // An array index past what any array holds: nlohmann's contains() throws on it.
      {[](LoadConfig& c) {
         c.message_template = R"({"ids":[{{sequence}}],"prompt":{{prompt}}})";
         c.correlation = "/ids/99999999999999999999";
       },
       "correlation"},
      // Session arrivals: a session, a duration, no rate, a cap.
      {[](LoadConfig& c) {
         c.session_rate = 5;
         c.duration = std::chrono::milliseconds(1000);
       },
       "session_rate"},  // prompts only
      {[](LoadConfig& c) {
         c.session = no_session;
         c.session_rate = 5;
         c.rate = 5;
         c.duration = std::chrono::milliseconds(1000);
       },
       "session_rate"},
      {[](LoadConfig& c) {
         c.session = no_session;
         c.session_rate = 5;
       },
       "session_rate"},  // no duration
      {[](LoadConfig& c) {
         c.session = no_session;
         c.session_rate = -1;
       },
       "session_rate"},
      {[](LoadConfig& c) {
         c.session = no_session;
         c.session_rate = 5;
         c.duration = std::chrono::milliseconds(100);
       },
       "session_rate"},  // holds no session
      {[](LoadConfig& c) {
         c.session = no_session;
         c.session_rate = 5;
         c.duration = std::chrono::milliseconds(1000);
         c.max_sessions = 0;
       },
       "max_sessions"},
      // Options the loop would leave unused.
      {[](LoadConfig& c) { c.max_sessions = 10; }, "max_sessions"},  // no arrivals
      {[](LoadConfig& c) {
         c.session = no_session;
         c.session_rate = 5;
         c.duration = std::chrono::milliseconds(1000);
         c.connect_rate = 10;
       },
       "connect_rate"},
      {[](LoadConfig& c) {
         c.session = no_session;
         c.session_rate = 5;
         c.duration = std::chrono::milliseconds(1000);
         c.reconnect.max_attempts = 3;
       },
       "reconnect.max_attempts"},
      {[](LoadConfig& c) {
         c.session = no_session;
         c.keepalive = "{}";
       },
       "keepalive"},
      {[](LoadConfig& c) {
         c.session = no_session;
         c.session_rate = 5;
         c.duration = std::chrono::milliseconds(1000);
         c.connections = 5;
       },
       "connections"},
      {[](LoadConfig& c) {
         c.session = no_session;
         c.session_rate = 5;
         c.duration = std::chrono::milliseconds(1000);
         c.iterations = 3;
       },
       "iterations"},
  };
  for (const auto& [mutate, field] : cases) {
    auto c = valid();
    mutate(c);
    try {
      validate(c);
      ADD_FAILURE() << "accepted an invalid " << field;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), field) << e.what();
    }
  }
  EXPECT_NO_THROW(validate(valid()));
}

TEST(Config, TheDefaultThreadsFollowTheConnectionsUpToTheCores) {
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  auto c = valid();
  c.connections = 50;
  EXPECT_EQ(effective_threads(c), 1u) << "50 connections keep one thread busy enough";
  c.connections = connections_per_default_thread + 1;
  EXPECT_EQ(effective_threads(c), std::min<std::size_t>(cores, 2));
  c.connections = 2 * cores * connections_per_default_thread;
  EXPECT_EQ(effective_threads(c), cores);
  c.threads = 4;
  c.connections = 3;
  EXPECT_EQ(effective_threads(c), 3u) << "a thread count asked for, no more than the connections";
  c.connections = 50;
  EXPECT_EQ(effective_threads(c), 4u);
  EXPECT_EQ(to_json(c)["threads"], 4);
}

TEST(Config, SessionArrivalsTakeTheScheduleAndTheCap) {
  using std::chrono::milliseconds;
  auto c = valid();
  c.session = no_session;
  c.session_rate = 5;
  c.duration = milliseconds(2000);
  c.max_sessions = 3;
  c.threads = 8;
  EXPECT_NO_THROW(validate(c));
  EXPECT_TRUE(c.session_arrivals());
  EXPECT_EQ(c.expected_requests(), 10u) << "the schedule's, whatever the connections";
  EXPECT_EQ(effective_threads(c), 3u) << "no thread without a share of the cap";
  EXPECT_EQ(c.concurrent_connections(), 3u);
  c.max_sessions = 1000;
  EXPECT_EQ(c.concurrent_connections(), 10u) << "no more open at once than the schedule holds";
  c.max_sessions = 3;
  EXPECT_EQ(to_json(c)["session_rate"], 5);
  EXPECT_EQ(to_json(c)["max_sessions"], 3);
  c.shard = Shard{1, 3};  // sessions 1, 4, 7 of 0 to 9
  EXPECT_EQ(c.expected_requests(), 3u);
  c.shard = Shard{0, 32};
  EXPECT_NO_THROW(validate(c)) << "arrivals are dealt to the shards: connections do not bound them";
  // Stages ramp the sessions as they ramp --rate.
  auto ramp = valid();
  ramp.session = no_session;
  ramp.stages = {{milliseconds(2000), 10}};
  EXPECT_NO_THROW(validate(ramp));
  EXPECT_TRUE(ramp.session_arrivals());
  EXPECT_EQ(ramp.expected_requests(), 10u);
}

TEST(Config, HeaderValuesNeverAppearInErrors) {
  auto c = valid();
  c.headers = {{"Authorization", "Bearer sekret\r\n"}};
  try {
    validate(c);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("sekret"), std::string::npos);
  }
}

TEST(Config, ParsesCommandLineHeaders) {
  const auto h = parse_header("X-Api-Key:  abc def ");
  EXPECT_EQ(h.name, "X-Api-Key");
  EXPECT_EQ(h.value, "abc def");
  EXPECT_THROW(parse_header("no colon"), ConfigError);
  EXPECT_THROW(parse_header(": v"), ConfigError);
}

TEST(Config, ThresholdsOfCombinesSeedFieldsAndExpressions) {
  auto c = valid();
  c.max_average_latency = Seconds(0.5);
  c.min_rps = 100;
  c.min_success_rate = 95;
  c.thresholds = {"p99<800ms"};
  const auto all = thresholds_of(c);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].expression, "avg<=0.5s");
  EXPECT_EQ(all[1].expression, "rps>=100");
  EXPECT_EQ(all[2].expression, "success_rate>=95%");
  EXPECT_EQ(all[3].expression, "p99<800ms");
}

using Environment = TempDir;

TEST_F(Environment, SetVariablesOverrideTheCode) {
  const auto prompts = write("p.txt", "one\ntwo\n");
  const std::map<std::string, std::string> env = {{"WSLOAD_URL", "wss://staging.example.com/chat"},
                                                  {"WSLOAD_ORIGIN", "https://app"},
                                                  {"WSLOAD_PROMPTS", prompts.string()},
                                                  {"WSLOAD_CONNECTIONS", "7"},
                                                  {"WSLOAD_MAX_LATENCY", "0.25"},
                                                  {"WSLOAD_MIN_RPS", "50"},
                                                  {"WSLOAD_MIN_SUCCESS_RATE", "99.5"}};
  auto c = valid();
  apply_environment(c, [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  EXPECT_EQ(c.url, "wss://staging.example.com/chat");
  EXPECT_EQ(c.origin, "https://app");
  EXPECT_EQ(c.prompts, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(c.connections, 7u);
  EXPECT_DOUBLE_EQ(c.max_average_latency->count(), 0.25);
  EXPECT_DOUBLE_EQ(*c.min_rps, 50);
  EXPECT_DOUBLE_EQ(*c.min_success_rate, 99.5);
}

TEST(Config, UnsetVariablesLeaveTheCodeAlone) {
  auto c = valid();
  c.connections = 3;
  apply_environment(c, [](const char*) -> const char* { return nullptr; });
  EXPECT_EQ(c.connections, 3u);
  EXPECT_EQ(c.url, "ws://127.0.0.1:9/");
  EXPECT_FALSE(c.min_rps);
}

TEST(Config, InvalidVariablesAreNamed) {
  for (const auto& [name, value] : {std::pair{"WSLOAD_CONNECTIONS", "0"},
                                    {"WSLOAD_CONNECTIONS", "2.5"},
                                    {"WSLOAD_CONNECTIONS", "many"},
                                    {"WSLOAD_MAX_LATENCY", "-1"},
                                    {"WSLOAD_MIN_SUCCESS_RATE", "101"},
                                    {"WSLOAD_MIN_RPS", "1e3x"}}) {
    auto c = valid();
    try {
      apply_environment(c, [&](const char* n) -> const char* {
        return std::string(n) == name ? value : nullptr;
      });
      ADD_FAILURE() << name << "=" << value;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), name);
    }
  }
}

TEST(Config, JsonSnapshotRedactsSecrets) {
  auto c = valid();
  c.url = "wss://h/prod?X-Amz-Signature=abc123&stage=dev";
  c.headers = {{"Authorization", "Bearer tok-123"}, {"x-api-key", "k-456"}, {"X-Trace", "visible"}};
  const auto text = to_json(c).dump();
  for (const char* secret : {"abc123", "tok-123", "k-456"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " leaked: " << text;
  }
  EXPECT_NE(text.find("visible"), std::string::npos);
  EXPECT_NE(text.find("stage=dev"), std::string::npos);
}

}  // namespace

namespace {

TEST_F(TempDir, ATenMegabyteLineIsOnePromptKeptWhole) {
  std::string line(10 << 20, 'x');
  line[12345] = 'y';
  const auto prompts = wsload::read_prompts(write("big.txt", "short\n" + line + "\n"));
  ASSERT_EQ(prompts.size(), 2u);
  EXPECT_EQ(prompts[1].size(), line.size());
  EXPECT_EQ(prompts[1][12345], 'y');
}

}  // namespace
