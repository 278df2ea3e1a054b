// wss against the embedded server with a certificate made at test time.
#include <filesystem>
#include <fstream>
#include <memory>

#include <unistd.h>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;
using wsload::ErrorKind;
using wsload::LoadConfig;
using wsload::testing::Server;
using wsload::testing::ServerOptions;

ServerOptions tls_options() {
  ServerOptions o;
  o.tls = true;
  return o;
}

LoadConfig config_for(const std::string& url) {
  LoadConfig c;
  c.url = url;
  c.prompts = {"secure hello", "za\xC5\xBC\xC3\xB3\xC5\x82\xC4\x87"};
  c.connections = 3;
  c.timeouts.run = 60s;
  return c;
}

TEST(Tls, VerifiesAgainstTheServersCertificate) {
  Server server(tls_options());
  auto config = config_for(server.url());
  config.tls.ca_pem = server.ca_pem();
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 6u);
  EXPECT_EQ(server.messages(), 6u);
}

// Records of every size, partial writes of a megabyte, and reads and writes interleaved
// on one TLS session (three requests in flight per connection): every byte comes back.
TEST(Tls, LargeAndPipelinedMessagesCrossIntact) {
  Server server(tls_options());
  auto config = config_for(server.url());
  config.tls.ca_pem = server.ca_pem();
  config.prompts = {std::string(1 << 20, 'x'), "small", std::string(70000, 'y')};
  config.iterations = 4;
  config.message_template = R"({"id":{{sequence}},"prompt":{{prompt}}})";
  config.correlation = "/id";
  config.in_flight = 3;
  config.max_send_size = 2 << 20;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 3u * 3u * 4u) << to_json(s)["errors"].dump();
  EXPECT_EQ(server.messages(), 36u);
  std::uint64_t echoed = 0;  // per connection: {"id":N,"prompt":"..."} for N = 0..11
  for (std::size_t sequence = 0; sequence < 12; ++sequence) {
    echoed += std::string(R"({"id":,"prompt":""})").size() + std::to_string(sequence).size() +
              config.prompts[sequence % 3].size();
  }
  EXPECT_EQ(s.bytes_received, 3 * echoed);
}

TEST(Tls, VerifiesTheHostNameToo) {
  Server server(tls_options());
  auto config = config_for("wss://localhost:" + std::to_string(server.port()) + "/");
  config.tls.ca_pem = server.ca_pem();
  EXPECT_EQ(wsload::run_load(config).successful_requests, 6u);
}

TEST(Tls, TrustsACaFile) {
  Server server(tls_options());
  const auto path =
      std::filesystem::temp_directory_path() / ("wsload_ca_" + std::to_string(::getpid()) + ".pem");
  std::ofstream(path) << server.ca_pem();
  auto config = config_for(server.url());
  config.tls.ca_file = path.string();
  const auto s = wsload::run_load(config);
  std::filesystem::remove(path);
  EXPECT_EQ(s.successful_requests, 6u);
}

TEST(Tls, UntrustedCertificateFailsWithATlsError) {
  Server server(tls_options());
  const auto s = wsload::run_load(config_for(server.url()));
  EXPECT_EQ(s.successful_requests, 0u);
  EXPECT_EQ(s.errors_of(ErrorKind::tls), 6u);
  ASSERT_FALSE(s.errors.empty());
  EXPECT_NE(s.errors[0].detail.find("certificate verify failed"), std::string::npos)
      << s.errors[0].detail;
  EXPECT_EQ(server.messages(), 0u);
}

TEST(Tls, CertificateOfAnotherServerFails) {
  Server server(tls_options());
  Server other(tls_options());
  auto config = config_for(server.url());
  config.tls.ca_pem = other.ca_pem();
  EXPECT_EQ(wsload::run_load(config).errors_of(ErrorKind::tls), 6u);
}

TEST(Tls, InsecureSkipsVerificationAndIsRecorded) {
  Server server(tls_options());
  auto config = config_for(server.url());
  config.tls.insecure = true;
  const auto s = wsload::run_load(config);
  EXPECT_EQ(s.successful_requests, 6u);
  EXPECT_TRUE(s.config["tls"]["insecure"].get<bool>());
}

TEST(Tls, WssUrlAgainstAPlainServerIsATlsError) {
  Server server;
  auto config = config_for("wss://127.0.0.1:" + std::to_string(server.port()) + "/");
  config.timeouts.handshake = 2s;
  EXPECT_EQ(wsload::run_load(config).errors_of(ErrorKind::tls), 6u);
}

TEST(Tls, WsUrlAgainstATlsServerIsAHandshakeError) {
  Server server(tls_options());
  auto config = config_for("ws://127.0.0.1:" + std::to_string(server.port()) + "/");
  config.timeouts.handshake = 2s;
  EXPECT_EQ(wsload::run_load(config).errors_of(ErrorKind::handshake), 6u);
}

TEST(Server, RefusesNonLoopbackAddresses) {
  ServerOptions o;
  o.address = "0.0.0.0";
  EXPECT_THROW(Server{o}, std::invalid_argument);
}

TEST(Server, ServesIpv6Loopback) {
  ServerOptions o;
  o.address = "::1";
  std::unique_ptr<Server> server;
  try {
    server = std::make_unique<Server>(o);
  } catch (const std::runtime_error& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  auto config = config_for(server->url());
  EXPECT_EQ(config.url.rfind("ws://[::1]:", 0), 0u);
  EXPECT_EQ(wsload::run_load(config).successful_requests, 6u);
}

}  // namespace
