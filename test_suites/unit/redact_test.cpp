// The one redaction rule: what it hides, what it keeps, and that every message and
// snapshot of a configuration goes through it.
#include <wsload/redact.hpp>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <wsload/config.hpp>

namespace {

using wsload::redact;

TEST(Redact, SecretNamesAreRecognisedWhateverTheirCase) {
  for (const char* name : {"Authorization", "x-api-key", "X-Amz-Signature", "access_token", "pwd",
                           "PASSWORD", "passwd", "client_secret", "code", "jwt", "Cookie",
                           "session_id", "X-Amz-Credential", "sig", "Proxy-Authorization"}) {
    EXPECT_TRUE(wsload::is_secret_name(name)) << name;
  }
  for (const char* name : {"stage", "Origin", "X-Request-Id", "lang", "Accept"}) {
    EXPECT_FALSE(wsload::is_secret_name(name)) << name;
  }
}

TEST(Redact, HidesSecretsAndKeepsTheRest) {
  const std::string jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"wss://h/p?jwt=a1&pwd=b2&code=c3&stage=dev",
       "wss://h/p?jwt=<redacted>&pwd=<redacted>&code=<redacted>&stage=dev"},
      {"wss://h/p?X-Amz-Signature=abc%2F==&X-Amz-Date=20261124",
       "wss://h/p?X-Amz-Signature=<redacted>&X-Amz-Date=20261124"},
      {"wss://h/p?state=" + jwt, "wss://h/p?state=<redacted>"},
      {"wss://h/" + jwt + "/chat", "wss://h/<redacted>/chat"},
      {"https://deploy:hunter2@app.example.com", "https://<redacted>@app.example.com"},
      {"ws://alice@h/", "ws://<redacted>@h/"},
      {"base64url.bearer.authorization.k8s.io.dG9rZW4",
       "base64url.bearer.authorization.k8s.io.<redacted>"},
      {"Bearer abc.def-ghi", "Bearer <redacted>"},
      {R"({"action":"send","token":"t0p","prompt":{{prompt}}})",
       R"({"action":"send","token":"<redacted>","prompt":{{prompt}}})"},
      {R"({"apiKey": 12345, "n": 1})", R"({"apiKey": <redacted>, "n": 1})"},
      {R"({"auth":{"user":"u","password":"p\"q"}})",
       R"({"auth":{"user":"u","password":"<redacted>"}})"},
      {"session=s1; theme=dark", "session=<redacted> theme=dark"},
      // Not secrets: comparisons, thresholds, plain words, names that are values.
      {"p99<800ms, rps>=100, errors==0", "p99<800ms, rps>=100, errors==0"},
      {R"({"type":"token","n":"code"})", R"({"type":"token","n":"code"})"},
      {"frames=N needs N from 1 to 1000000", "frames=N needs N from 1 to 1000000"},
      {"eyJ is how a JWT starts", "eyJ is how a JWT starts"},
  };
  for (const auto& [text, shown] : cases) {
    EXPECT_EQ(redact(text), shown) << text;
    EXPECT_EQ(redact(shown), shown) << "idempotent: " << shown;
  }
}

TEST(Redact, EveryConfigurationMessageGoesThroughIt) {
  const wsload::ConfigError e("subprotocol", "base64url.bearer.authorization.k8s.io.s3cret!",
                              "must be an HTTP token (got pwd=hunter2)");
  EXPECT_EQ(std::string(e.what()).find("s3cret"), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  EXPECT_EQ(e.value(), "base64url.bearer.authorization.k8s.io.<redacted>!");
}

TEST(Redact, TheSavedConfigurationHoldsNoSecret) {
  wsload::LoadConfig config;
  config.url = "wss://h/p?jwt=q1&stage=dev";
  config.query = {{"code", "q2"}};
  config.origin = "https://u:q3@app.example.com";
  config.headers = {{"Authorization", "Bearer q4"}, {"X-Trace", "eyJh.eyJi.q5"}, {"X-Env", "dev"}};
  config.subprotocols = {"chat", "base64url.bearer.authorization.k8s.io.q6"};
  config.message_template = R"({"secret":"q7","prompt":{{prompt}}})";
  config.keepalive = R"({"action":"keepalive","session":"q8"})";
  config.name = "chat ?token=q9";
  const auto saved = wsload::to_json(config).dump();
  for (const char* secret : {"q1", "q2", "q3", "q4", "q5", "q6", "q7", "q8", "q9"}) {
    EXPECT_EQ(saved.find(secret), std::string::npos) << secret << " in " << saved;
  }
  EXPECT_NE(saved.find("stage=dev"), std::string::npos) << saved;
  EXPECT_NE(saved.find(R"("X-Env":"dev")"), std::string::npos) << saved;
}

// Subprotocols carry browsers' tokens: a name such as access_token, the value after it, a
// bare key, a JWT and a k8s bearer token go whole; protocol names stay.
TEST(Redact, SubprotocolsThatMayCarryATokenGoWhole) {
  const std::string r(wsload::redacted_text);
  EXPECT_EQ(
      wsload::redact_subprotocols({"graphql-ws", "access_token", "plain", "chat.v1",
                                   "Zq8vT3kLm9Pw2XrB7nC4", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJoIn0.s",
                                   "base64url.bearer.authorization.k8s.io.abc",
                                   "graphql-transport-ws", "v10.stomp", "mqttv3.1"}),
      (std::vector<std::string>{"graphql-ws", r, r, "chat.v1", r, r, r, "graphql-transport-ws",
                                "v10.stomp", "mqttv3.1"}));
}

}  // namespace
