#include <wsload/url.hpp>

#include <gtest/gtest.h>

namespace {

using wsload::ConfigError;
using wsload::parse_url;

TEST(Url, ParsesWsWithDefaultPortAndPath) {
  const auto url = parse_url("ws://example.com");
  EXPECT_FALSE(url.secure);
  EXPECT_EQ(url.host, "example.com");
  EXPECT_EQ(url.port, 80);
  EXPECT_EQ(url.target(), "/");
  EXPECT_EQ(url.host_header(), "example.com");
}

TEST(Url, ParsesWssWithPortPathAndQueryVerbatim) {
  const auto url = parse_url("WSS://api.example.com:8443/prod/chat?stage=a%20b&x=1");
  EXPECT_TRUE(url.secure);
  EXPECT_EQ(url.port, 8443);
  EXPECT_EQ(url.path, "/prod/chat");
  EXPECT_EQ(url.query, "stage=a%20b&x=1");
  EXPECT_EQ(url.target(), "/prod/chat?stage=a%20b&x=1");
  EXPECT_EQ(url.host_header(), "api.example.com:8443");
}

TEST(Url, DefaultPortOfWssIs443) {
  EXPECT_EQ(parse_url("wss://h/").port, 443);
}

TEST(Url, ParsesIpv6LiteralsInBrackets) {
  const auto url = parse_url("ws://[::1]:9000/x");
  EXPECT_TRUE(url.ipv6_literal);
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 9000);
  EXPECT_EQ(url.host_header(), "[::1]:9000");
  EXPECT_EQ(url.to_string(), "ws://[::1]:9000/x");
  EXPECT_EQ(parse_url("wss://[2001:db8::7]/").host_header(), "[2001:db8::7]");
}

TEST(Url, QueryWithoutPathGetsSlash) {
  EXPECT_EQ(parse_url("ws://h?a=1").target(), "/?a=1");
}

TEST(Url, RejectsBadInputNamingTheField) {
  for (const char* bad :
       {"", "http://h/", "ws:/h", "ws://", "ws://:80/", "ws://h:0/", "ws://h:65536/", "ws://h:x/",
        "ws://h:/", "ws://[::1/", "ws://::1/", "ws://u:p@h/", "ws://h/#frag", "ws://h /",
        "ws://[zz]/", "ws://[::1]x/"}) {
    try {
      parse_url(bad, "--url");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), "--url") << bad;
      EXPECT_NE(std::string(e.what()).find("--url"), std::string::npos) << e.what();
    }
  }
}

TEST(Url, RedactsSecretQueryParametersForPrinting) {
  const auto url = parse_url(
      "wss://a.execute-api.eu-west-1.amazonaws.com/prod?X-Amz-Algorithm=AWS4-HMAC-SHA256"
      "&X-Amz-Credential=AKID%2F20261124&X-Amz-Signature=deadbeef&stage=dev&token=t0p");
  const auto shown = url.redacted();
  EXPECT_EQ(shown.find("deadbeef"), std::string::npos);
  EXPECT_EQ(shown.find("AKID"), std::string::npos);
  EXPECT_EQ(shown.find("t0p"), std::string::npos);
  EXPECT_NE(shown.find("stage=dev"), std::string::npos);
  EXPECT_NE(shown.find("X-Amz-Signature=<redacted>"), std::string::npos);
  EXPECT_NE(url.to_string().find("deadbeef"), std::string::npos);
}

TEST(Url, ErrorMessagesDoNotLeakSecretQueryValues) {
  try {
    parse_url("ws://h:bad/?X-Amz-Signature=deadbeef");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("deadbeef"), std::string::npos) << e.what();
  }
}

TEST(Url, ErrorMessagesDoNotLeakCredentialsInTheAuthority) {
  for (const char* text : {"wss://alice:hunter2@api.example.com/prod", "ws://hunter2@h:99999/"}) {
    try {
      parse_url(text);
      FAIL() << text;
    } catch (const ConfigError& e) {
      EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("<redacted>@"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
