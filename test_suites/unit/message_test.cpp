#include <wsload/message.hpp>

#include <random>

#include <gtest/gtest.h>

namespace {

using namespace wsload;
using nlohmann::json;

MessageValues values(std::string_view prompt) {
  return {prompt, 3, 17, "0f8fad5b-d9cb-469f-a165-70867728950e"};
}

TEST(MessageTemplate, EmptySendsThePromptAsItIs) {
  const auto t = MessageTemplate::parse("");
  EXPECT_TRUE(t.empty());
  EXPECT_EQ(t.render(values("say \"hi\"\n")), "say \"hi\"\n");
}

TEST(MessageTemplate, PromptBecomesAnEscapedJsonString) {
  const auto t = MessageTemplate::parse(R"({"action":"sendmessage","prompt":{{prompt}}})");
  ASSERT_TRUE(t.is_json());
  const std::string prompt =
      "quote \" backslash \\ newline \n tab \t bell \x07 za\xC5\xBC\xC3\xB3\xC5\x82\xC4\x87 "
      "\xF0\x9F\x98\x80";
  const auto body = json::parse(t.render(values(prompt)));
  EXPECT_EQ(body["action"], "sendmessage");
  EXPECT_EQ(body["prompt"].get<std::string>(), prompt);
  // UTF-8 travels as it is, not as \u escapes.
  EXPECT_NE(t.render(values(prompt)).find("\xF0\x9F\x98\x80"), std::string::npos);
}

TEST(MessageTemplate, PlaceholdersInsideStringsAreEscapedText) {
  const auto t = MessageTemplate::parse(
      R"({"text":"Q: {{prompt}}","id":"c{{connection}}-s{{sequence}}","uuid":{{uuid}},"n":{{sequence}}})");
  const auto body = json::parse(t.render(values("a \"b\"")));
  EXPECT_EQ(body["text"], "Q: a \"b\"");
  EXPECT_EQ(body["id"], "c3-s17");
  EXPECT_EQ(body["uuid"], "0f8fad5b-d9cb-469f-a165-70867728950e");
  EXPECT_EQ(body["n"], 17);
  EXPECT_TRUE(t.uses_uuid());
}

TEST(MessageTemplate, TextTemplatesTakeRawValues) {
  const auto t = MessageTemplate::parse("prompt={{ prompt }} #{{sequence}}");
  EXPECT_FALSE(t.is_json());
  EXPECT_EQ(t.render(values("a \"b\"")), "prompt=a \"b\" #17");
}

TEST(MessageTemplate, InvalidTemplatesAreErrorsNamingThem) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"prompt":"{{prompt}}"})", nullptr},  // valid: inside a string
      {R"({"prompt":{{prompt}})", "not valid JSON"},
      {R"({"prompt":{{prompt})", "without a closing"},
      {R"({"prompt":{{question}}})", "unknown placeholder {{question}}"},
      {R"([{{prompt}} {{prompt}}])", "not valid JSON"},
  };
  for (const auto& [text, reason] : cases) {
    if (!reason) {
      EXPECT_NO_THROW(MessageTemplate::parse(text)) << text;
      continue;
    }
    try {
      MessageTemplate::parse(text, "--template");
      ADD_FAILURE() << text << " was accepted";
    } catch (const ConfigError& e) {
      EXPECT_EQ(e.field(), "--template");
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  }
}

TEST(MessageTemplate, MaxSizeBoundsEveryRendering) {
  const auto t = MessageTemplate::parse(R"({"p":{{prompt}},"c":{{connection}},"u":{{uuid}}})");
  const std::string prompt = "\"\n\x01 text";
  MessageValues v{prompt, ~std::uint64_t{0}, ~std::uint64_t{0},
                  "0f8fad5b-d9cb-469f-a165-70867728950e"};
  EXPECT_GE(t.max_size(prompt), t.render(v).size());
}

TEST(MessageTemplate, UuidsAreVersion4AndDistinct) {
  std::mt19937_64 random(1);
  const auto a = detail::make_uuid(random);
  const auto b = detail::make_uuid(random);
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos);
}

bool matches(const FrameRule& rule, std::string_view frame) {
  json parsed;
  const bool is_json = detail::parse_frame(frame, parsed);
  return rule.matches(frame, is_json ? &parsed : nullptr);
}

TEST(FrameRule, PointerEqualsPresentAndRegex) {
  const auto end = FrameRule::parse(R"(/type=="end")", "completion");
  EXPECT_TRUE(matches(end, R"({"type":"end"})"));
  EXPECT_FALSE(matches(end, R"({"type":"chunk"})"));
  EXPECT_FALSE(matches(end, R"(type end)"));
  EXPECT_TRUE(matches(FrameRule::parse("/type==end", "c"), R"({"type":"end"})"));
  EXPECT_TRUE(matches(FrameRule::parse("/n==3", "c"), R"({"n":3})"));
  EXPECT_FALSE(matches(FrameRule::parse("/n==3", "c"), R"({"n":"3"})"));
  EXPECT_TRUE(matches(FrameRule::parse("/data/done==true", "c"), R"({"data":{"done":true}})"));
  const auto done = FrameRule::parse("/done", "c");
  EXPECT_TRUE(matches(done, R"({"done":null})"));
  EXPECT_FALSE(matches(done, R"({"text":"done"})"));
  const auto regex = FrameRule::parse("regex:\\[DONE\\]$", "c");
  EXPECT_TRUE(matches(regex, "data: [DONE]"));
  EXPECT_FALSE(matches(regex, "data: [DONE] more"));
}

TEST(FrameRule, MalformedRulesAreErrors) {
  for (const char* text : {"type==end", "regex:(", "/a==", "/a~1~"}) {
    EXPECT_THROW(FrameRule::parse(text, "completion"), ConfigError) << text;
  }
}

TEST(Completion, ParsesEachForm) {
  EXPECT_EQ(Completion::parse("").kind, Completion::Kind::first_frame);
  EXPECT_EQ(Completion::parse("first").kind, Completion::Kind::first_frame);
  const auto n = Completion::parse("frames=4");
  EXPECT_EQ(n.kind, Completion::Kind::frames);
  EXPECT_EQ(n.frames, 4u);
  const auto until = Completion::parse(R"(/type=="end")");
  EXPECT_EQ(until.kind, Completion::Kind::until);
  for (const char* bad : {"frames=0", "frames=-1", "frames=x", "last"}) {
    EXPECT_THROW(Completion::parse(bad), ConfigError) << bad;
  }
}

std::optional<std::pair<ErrorKind, std::string>> error_of(const ErrorRules& rules,
                                                          std::string_view frame) {
  json parsed;
  const bool is_json = detail::parse_frame(frame, parsed);
  return rules.match(frame, is_json ? &parsed : nullptr);
}

TEST(ErrorRules, ApiGatewayMessagesAreErrorsByKind) {
  const auto rules = ErrorRules::parse({"api-gateway"});
  const auto forbidden =
      error_of(rules, R"({"message": "Forbidden", "connectionId":"abc=", "requestId":"def="})");
  ASSERT_TRUE(forbidden);
  EXPECT_EQ(forbidden->first, ErrorKind::error_reply);
  EXPECT_EQ(forbidden->second, "Forbidden");
  const auto timeout = error_of(rules, R"({"message": "Endpoint request timed out"})");
  ASSERT_TRUE(timeout);
  EXPECT_EQ(timeout->first, ErrorKind::integration_timeout);
  EXPECT_FALSE(error_of(rules, R"({"message": "Hello! How can I help?"})"));
  EXPECT_FALSE(error_of(rules, "Forbidden"));
  EXPECT_FALSE(error_of(ErrorRules::parse({}), R"({"message": "Forbidden"})"));
}

TEST(ErrorRules, CustomRulesNameTheMessageOrTheRule) {
  const auto rules = ErrorRules::parse({"/error", "regex:^ERR"});
  const auto with_message = error_of(rules, R"({"error":true,"message":"quota used up"})");
  ASSERT_TRUE(with_message);
  EXPECT_EQ(with_message->second, "quota used up");
  const auto text = error_of(rules, "ERR 42");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->second, "matched regex:^ERR");
  EXPECT_THROW(ErrorRules::parse({"nonsense"}), ConfigError);
}

}  // namespace
