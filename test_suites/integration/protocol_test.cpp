// The protocol over real sockets: binary messages out and back (judged as bytes), and
// permessage-deflate offered to servers that accept it (the embedded server, npm's ws)
// and to one that declines it.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <poll.h>

#include <gtest/gtest.h>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

#include "../support/frame_recorder.hpp"
#include "../support/process.hpp"
#include "../support/node_servers.hpp"
#include "../support/scratch.hpp"

namespace {

using namespace std::chrono_literals;
using wsload::ErrorKind;
using wsload::testing::Server;
using wsload::testing::ServerOptions;

wsload::LoadConfig config_for(const std::string& url, std::vector<std::string> prompts) {
  wsload::LoadConfig config;
  config.url = url;
  config.prompts = std::move(prompts);
  config.connections = 2;
  config.timeouts.reply = 10s;
  config.timeouts.run = 60s;
  return config;
}

TEST(BinaryMessages, GoOutAsBinaryFramesAndTextAsText) {
  for (const bool binary : {false, true}) {
    const wsload::test::FrameRecorder server;
    auto config = config_for(server.url(), {"bytes"});
    config.connections = 1;
    config.binary = binary;
    const auto s = wsload::run_load(config);
    const auto frames = server.frames();
    ASSERT_FALSE(frames.empty());
    EXPECT_EQ(frames.front().opcode, binary ? 2 : 1) << "binary " << binary;
  }
}

// The embedded server echoes a binary message as a binary frame, and a rule that reads
// JSON does not match one: an API Gateway error body, or a JSON completion rule, is text.
TEST(BinaryMessages, EchoedBinaryFramesAreBytesThatNoJsonRuleMatches) {
  const Server server;
  auto config = config_for(server.url(), {R"({"message":"Forbidden","type":"end"})"});
  const auto text = wsload::run_load(config);
  EXPECT_EQ(text.errors_of(ErrorKind::error_reply), 2u) << wsload::format_report(text);

  config.binary = true;
  const auto binary = wsload::run_load(config);
  EXPECT_EQ(binary.successful_requests, 2u) << wsload::format_report(binary);

  config.error_rules = {R"(/type=="end")"};
  config.completion = "frames=1";
  EXPECT_EQ(wsload::run_load(config).successful_requests, 2u) << "a JSON error rule matched";

  // A regex reads bytes: it ends a binary reply; bytes that are no UTF-8 go and come back.
  config.prompts = {std::string("\xff\x00\x01 end \xfe", 8)};
  config.error_rules.clear();
  config.completion = "regex:end";
  const auto bytes = wsload::run_load(config);
  EXPECT_EQ(bytes.successful_requests, 2u) << wsload::format_report(bytes);
  EXPECT_EQ(bytes.bytes_received, 16u);
}

TEST(BinaryMessages, BytesThatAreNoUtf8NeedBinaryFrames) {
  auto config = config_for("ws://127.0.0.1:9/", {std::string("\xff\xfe", 2)});
  try {
    wsload::validate(config);
    FAIL() << "text frames of bytes that are no UTF-8 were accepted";
  } catch (const wsload::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("binary"), std::string::npos) << e.what();
  }
  config.binary = true;
  EXPECT_NO_THROW(wsload::validate(config));
}

TEST(Compression, NegotiatedWithAServerThatAcceptsIt) {
  ServerOptions options;
  options.compression = true;
  const Server server(options);
  auto config = config_for(server.url(), {std::string(4096, 'a'), "short"});
  config.compression = true;
  config.iterations = 3;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 12u) << wsload::format_report(s);
  EXPECT_EQ(s.compressed_upgrades, 2u);
  EXPECT_EQ(s.bytes_received, 3u * 2u * (4096u + 5u)) << "inflated as they were sent";
  EXPECT_EQ(to_json(s)["connections"]["compressed"], 2);
  EXPECT_NE(wsload::format_report(s).find("permessage-deflate negotiated on 2 of 2 upgrades"),
            std::string::npos)
      << wsload::format_report(s);
  EXPECT_NE(server.handshakes().at(0).header("sec-websocket-extensions").find("permessage-deflate"),
            std::string::npos);
}

TEST(Compression, DeclinedTheRunGoesOnUncompressedAndSaysSo) {
  const Server server;  // declines permessage-deflate
  auto config = config_for(server.url(), {"hello"});
  config.compression = true;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 2u) << wsload::format_report(s);
  EXPECT_EQ(s.compressed_upgrades, 0u);
  EXPECT_EQ(to_json(s)["connections"]["compressed"], 0);
  EXPECT_NE(wsload::format_report(s).find("offered, not negotiated"), std::string::npos)
      << wsload::format_report(s);

  config.compression = false;
  const auto plain = wsload::run_load(config);
  EXPECT_FALSE(to_json(plain)["connections"].contains("compressed"));
  EXPECT_EQ(wsload::format_report(plain).find("Compression:"), std::string::npos);
  EXPECT_EQ(server.handshakes().back().header("sec-websocket-extensions"), "");
}

// npm's ws, installed under the build directory with the other npm servers (test_suites/
// node), compressing every reply.
class NpmWs : public wsload::test::ScratchTest {};

TEST_F(NpmWs, NegotiatesCompressionAndCompressesEveryReply) {
  WSLOAD_REQUIRE_NODE_SERVERS();
  const std::filesystem::path node_modules = WSLOAD_NODE_MODULES;
  const std::string node = WSLOAD_NODE;
  const auto log = (dir_ / "node.log").string();
  setenv("NODE_PATH", node_modules.c_str(), 1);
  const wsload::test::BackgroundProcess server(
      {node, std::string(WSLOAD_SOURCE_DIR) + "/benchmarks/node/echo_server.js", "--deflate"}, log);
  std::string port;
  for (int waited = 0; port.empty() && waited < 20'000 && server.running(); waited += 20) {
    std::ifstream in(log);
    std::getline(in, port);
    if (port.empty() || !in) port.clear();
    if (port.empty()) ::poll(nullptr, 0, 20);
  }
  ASSERT_FALSE(port.empty()) << "the ws echo server did not start";
  auto config = config_for("ws://127.0.0.1:" + port + "/", {std::string(2048, 'z'), "tiny"});
  config.compression = true;
  config.iterations = 5;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 20u) << wsload::format_report(s);
  EXPECT_EQ(s.compressed_upgrades, 2u);
  EXPECT_EQ(s.bytes_received, 5u * 2u * (2048u + 4u));
}

}  // namespace
