#include <wsload/aws_sigv4.hpp>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using namespace wsload;
using nlohmann::json;

json suite() {
  std::ifstream in(WSLOAD_TEST_DATA_DIR "/aws-sigv4-test-suite.json");
  return json::parse(in);
}

std::string signature_of(const std::string& authorization) {
  return authorization.substr(authorization.find("Signature=") + 10);
}

// Every case: the canonical request, the string to sign and the signature.
TEST(SigV4Suite, ReproducesEveryCase) {
  const auto data = suite();
  const auto& config = data["config"];
  const auto& cases = data["tests"]["all"];
  ASSERT_EQ(cases.size(), 28u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    aws::Request request;
    request.method = c["request"]["method"];
    request.path = c["request"]["path"];
    request.query = c["request"]["query"];
    request.body = c["request"]["body"];
    std::string date;
    for (const auto& h : c["request"]["headers"]) {
      request.headers.emplace_back(h[0], h[1]);
      if (h[0] == "X-Amz-Date") date = h[1];
    }
    EXPECT_EQ(aws::canonical_request(request), c["creq"].get<std::string>());
    const auto scope = aws::credential_scope(date, config["region"].get<std::string>(),
                                             config["service"].get<std::string>());
    // The JSON repackaging rewrote the request and canonical request of the two
    // form-urlencoded cases but kept AWS's original string to sign and signature, which
    // were made without content-length and (for -parameters) with "charset=utf8". Those
    // are signed from the original request.
    const std::string name = c["name"];
    if (name.starts_with("post-x-www-form-urlencoded")) {
      std::erase_if(request.headers, [](const auto& h) { return h.first == "Content-Length"; });
      for (auto& h : request.headers) {
        if (h.first == "Content-Type" && h.second.ends_with("utf-8"))
          h.second.erase(h.second.size() - 2, 1);
      }
    }
    const auto to_sign = aws::string_to_sign(date, scope, aws::canonical_request(request));
    EXPECT_EQ(to_sign, c["sts"].get<std::string>());
    const std::string signed_to_sign = to_sign;
    const std::string authz = c["authz"];
    EXPECT_EQ(aws::signature(config["secretAccessKey"].get<std::string>(), date,
                             config["region"].get<std::string>(),
                             config["service"].get<std::string>(), signed_to_sign),
              signature_of(authz));
  }
}

aws::Credentials example_credentials(std::string token = {}) {
  const auto data = suite();
  return {data["config"]["accessKeyId"], data["config"]["secretAccessKey"], std::move(token),
          "eu-west-1"};
}

TEST(SigV4Presign, SignsTheConnectAndVerifies) {
  const auto credentials = example_credentials("token/with+special=chars");
  const auto now = std::chrono::system_clock::now();
  const auto query = aws::presign_query(credentials, "abc123.execute-api.eu-west-1.amazonaws.com",
                                        "/prod", "", now);
  for (const char* part :
       {"X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Credential=AKIDEXAMPLE%2F",
        "%2Feu-west-1%2Fexecute-api%2Faws4_request", "X-Amz-Date=", "X-Amz-Expires=300",
        "X-Amz-SignedHeaders=host", "X-Amz-Security-Token=token%2Fwith%2Bspecial%3Dchars",
        "&X-Amz-Signature="}) {
    EXPECT_NE(query.find(part), std::string::npos) << part << " not in " << query;
  }
  const std::string host = "abc123.execute-api.eu-west-1.amazonaws.com";
  EXPECT_EQ(aws::verify_presigned(credentials, host, "/prod?" + query, now), "");

  // Tampering with anything signed, or signing with another key, fails.
  std::string tampered = query;
  tampered[tampered.size() - 1] = tampered.back() == '0' ? '1' : '0';
  EXPECT_EQ(aws::verify_presigned(credentials, host, "/prod?" + tampered, now),
            "signature does not match");
  EXPECT_EQ(aws::verify_presigned(credentials, host, "/dev?" + query, now),
            "signature does not match");
  EXPECT_EQ(aws::verify_presigned(credentials, "other.example", "/prod?" + query, now),
            "signature does not match");
  auto wrong_key = credentials;
  wrong_key.secret_access_key = "not-the-key";
  EXPECT_EQ(aws::verify_presigned(wrong_key, host, "/prod?" + query, now),
            "signature does not match");
  EXPECT_EQ(
      aws::verify_presigned(credentials, host, "/prod?" + query, now + std::chrono::minutes(6)),
      "expired");
  EXPECT_EQ(aws::verify_presigned(credentials, host, "/prod", now), "no X-Amz-Signature");
}

TEST(SigV4Presign, KeepsTheUsersQueryAndSignsIt) {
  const auto credentials = example_credentials();
  const auto now = std::chrono::system_clock::now();
  const auto query = aws::presign_query(credentials, "h", "/", "stage=dev&name=a%20b", now);
  EXPECT_TRUE(query.starts_with("stage=dev&name=a%20b&X-Amz-Algorithm="));
  EXPECT_EQ(query.find("X-Amz-Security-Token"), std::string::npos);
  EXPECT_EQ(aws::verify_presigned(credentials, "h", "/?" + query, now), "");
}

TEST(SigV4Credentials, FromTheStandardVariables) {
  std::map<std::string, std::string> env = {{"AWS_ACCESS_KEY_ID", "AKID"},
                                            {"AWS_SECRET_ACCESS_KEY", "s3cr3t"},
                                            {"AWS_DEFAULT_REGION", "us-west-2"}};
  auto getenv = [&](const char* name) -> const char* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  const auto c = aws::credentials_from_environment(getenv);
  EXPECT_EQ(c.region, "us-west-2");
  EXPECT_EQ(c.session_token, "");
  env.erase("AWS_SECRET_ACCESS_KEY");
  try {
    aws::credentials_from_environment(getenv);
    ADD_FAILURE() << "missing secret accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.field(), "AWS_SECRET_ACCESS_KEY");
  }
}

}  // namespace
