// The `wsload` program's protocol flags: binary prompts (--prompts-encoding, --binary),
// --compression against a server that accepts it and one that declines, and their bad
// input refused before any traffic.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <wsload/testing/server.hpp>

#include "../support/frame_recorder.hpp"
#include "../support/process.hpp"
#include "../support/scratch.hpp"

namespace {

using wsload::test::run_process;

class ProtocolCli : public wsload::test::ScratchTest {
 protected:
  std::vector<std::string> run_args(const std::string& url) const {
    return {WSLOAD_CLI,  "run", "--url", url, "--summary", (dir_ / "summary.json").string(),
            "--min-rps", "0",   "-c",    "2"};
  }
  nlohmann::json summary() const { return nlohmann::json::parse(read_text(dir_ / "summary.json")); }
};

// Base64 and hex lines are the bytes of binary messages; a regex completion rule reads
// them as bytes.
TEST_F(ProtocolCli, EncodedPromptsGoAsBinaryMessages) {
  const wsload::testing::Server server;
  const auto base64 =
      write("prompts.b64", "AAH/ZW5k\n\n  3q2+7w==  \r\n").string();  // 00 01 ff "end"
  auto args = run_args(server.url());
  args.insert(args.end(), {"--prompts", base64, "--prompts-encoding", "base64"});
  const auto r = run_process(args, wsload::test::clean_wsload_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(summary()["successful_requests"], 4);
  EXPECT_EQ(summary()["replies"]["bytes"], 2 * (6 + 4));
  EXPECT_EQ(summary()["config"]["binary"], true);

  args = run_args(server.url());
  args.insert(args.end(), {"--prompt", "00 01 ff 65 6E 64", "--prompts-encoding", "hex",
                           "--complete", "regex:end"});
  const auto hex = run_process(args, wsload::test::clean_wsload_env());
  ASSERT_EQ(hex.exit_code, 0) << hex.out << hex.err;
  EXPECT_EQ(summary()["replies"]["bytes"], 2 * 6);

  // --binary sends a filled text template as a binary frame: a JSON error rule no longer
  // reads the echoed body.
  args = run_args(server.url());
  args.insert(args.end(), {"--prompt", "x", "--template",
                           R"({"message":"Forbidden","p":{{prompt}}})", "--binary"});
  const auto binary = run_process(args, wsload::test::clean_wsload_env());
  ASSERT_EQ(binary.exit_code, 0) << binary.out << binary.err;
  EXPECT_EQ(summary()["successful_requests"], 2);
}

TEST_F(ProtocolCli, BadEncodedPromptsAreBadInputNamingTheFileAndLine) {
  const wsload::testing::Server server;
  const auto file = write("prompts.b64", "AAH/ZW5k\n\nnot base64!\n").string();
  auto args = run_args(server.url());
  args.insert(args.end(), {"--prompts", file, "--prompts-encoding", "base64"});
  const auto r = run_process(args, wsload::test::clean_wsload_env());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--prompts"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(file), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 3 is not base64"), std::string::npos) << r.err;

  args = run_args(server.url());
  args.insert(args.end(), {"--prompt", "0g", "--prompts-encoding", "hex"});
  const auto hex = run_process(args, wsload::test::clean_wsload_env());
  EXPECT_EQ(hex.exit_code, 2) << hex.out << hex.err;
  EXPECT_NE(hex.err.find("--prompt: is not hex"), std::string::npos) << hex.err;
  EXPECT_NE(hex.err.find("(got '0g')"), std::string::npos) << hex.err;

  args = run_args(server.url());
  args.insert(args.end(), {"--prompt", "x", "--prompts-encoding", "rot13"});
  const auto unknown = run_process(args, wsload::test::clean_wsload_env());
  EXPECT_EQ(unknown.exit_code, 2) << unknown.out << unknown.err;
  EXPECT_NE(unknown.err.find("--prompts-encoding: must be text, base64 or hex (got 'rot13')"),
            std::string::npos)
      << unknown.err;
  EXPECT_EQ(server.connections(), 0u) << "bad input reached the network";
}

TEST_F(ProtocolCli, CompressionIsNegotiatedOrSaidNotToBe) {
  wsload::testing::ServerOptions accepting;
  accepting.compression = true;
  const wsload::testing::Server deflating(accepting);
  auto args = run_args(deflating.url());
  args.insert(args.end(), {"--prompt", "hello hello hello", "--compression"});
  const auto r = run_process(args, wsload::test::clean_wsload_env());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("permessage-deflate negotiated on 2 of 2 upgrades"), std::string::npos)
      << r.out;
  EXPECT_EQ(summary()["connections"]["compressed"], 2);
  EXPECT_EQ(summary()["config"]["compression"], "permessage-deflate");

  const wsload::testing::Server declining;
  args = run_args(declining.url());
  args.insert(args.end(), {"--prompt", "hello", "--compression"});
  const auto declined = run_process(args, wsload::test::clean_wsload_env());
  ASSERT_EQ(declined.exit_code, 0) << declined.out << declined.err;
  EXPECT_NE(declined.out.find("permessage-deflate offered, not negotiated"), std::string::npos)
      << declined.out;
  EXPECT_EQ(summary()["connections"]["compressed"], 0);
}

// Browsers cannot set headers on a WebSocket, so a bearer token often travels as an offered
// subprotocol (["access_token", TOKEN], or a bare token). A server that picks none, or one
// not offered, fails the handshake: the error names the offer without the tokens, and
// neither the console, the summary nor stderr shows them.
TEST_F(ProtocolCli, OfferedSubprotocolTokensAreRedactedFromHandshakeErrors) {
  const std::vector<std::string> secrets = {"NamedTokenSecret1", "Zq8vT3kLm9Pw2XrB7nC4"};
  for (const std::string chosen : {"Sec-WebSocket-Protocol: chat.v9\r\n", ""}) {
    wsload::test::Misbehaviour picky;
    picky.upgrade_headers = chosen;
    const wsload::test::FrameRecorder server(picky);
    std::vector<std::string> args = {
        WSLOAD_CLI,  "run", "--url", server.url(), "--summary", (dir_ / "summary.json").string(),
        "--min-rps", "0",   "-c",    "1"};
    args.insert(args.end(), {"--prompt", "hi", "--subprotocol", "graphql-ws", "--subprotocol",
                             "access_token", "--subprotocol", secrets[0], "--subprotocol",
                             secrets[1], "--min-success-rate", "0"});
    const auto r = run_process(args, wsload::test::clean_wsload_env(), std::chrono::seconds(30));
    ASSERT_FALSE(r.timed_out);
    const std::string saved = read_text(dir_ / "summary.json");
    EXPECT_NE(saved.find("offered 'graphql-ws, <redacted>, <redacted>, <redacted>'"),
              std::string::npos)
        << saved;
    for (const auto& secret : secrets) {
      EXPECT_EQ(r.out.find(secret), std::string::npos) << secret << " on the console\n" << r.out;
      EXPECT_EQ(r.err.find(secret), std::string::npos) << secret << " on stderr\n" << r.err;
      EXPECT_EQ(saved.find(secret), std::string::npos) << secret << " in the summary\n" << saved;
    }
  }
}

}  // namespace
