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

TEST(MessageTemplate, SessionVariablesAreJsonValuesOrTheirText) {
  const auto t = MessageTemplate::parse(R"({"id":{{id}},"n":{{n}},"s":"id={{id}} n={{n}}"})",
                                        "template", true);
  EXPECT_EQ(t.variable_names(), (std::vector<std::string>{"id", "n", "id", "n"}));
  const Variables variables{{"id", "a\"b"}, {"n", 7}};
  const auto body = json::parse(t.render({.variables = &variables}));
  EXPECT_EQ(body["id"], "a\"b");
  EXPECT_EQ(body["n"], 7);
  EXPECT_EQ(body["s"], "id=a\"b n=7");
  EXPECT_EQ(MessageTemplate::parse("id={{id}}", "t", true).render({.variables = &variables}),
            "id=a\"b");
  EXPECT_THROW(t.render({}), ConfigError) << "a variable not captured";
  EXPECT_THROW(MessageTemplate::parse("{{id}}", "t"), ConfigError) << "outside a session";
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

// Every rule is judged twice: from the frame's DOM and from a scan of its bytes (as the
// engine judges). The two must agree; the scan's answer is returned.
bool matches(const FrameRule& rule, std::string_view frame) {
  json parsed;
  const bool is_json = detail::parse_frame(frame, parsed);
  const bool from_dom = rule.matches(frame, is_json ? &parsed : nullptr);
  std::vector<detail::JsonPath> paths;
  if (rule.needs_json()) paths.push_back(rule.path());
  detail::FrameScan scanned(paths);
  scanned.scan(frame);
  const bool from_scan = rule.matches(frame, scanned);
  EXPECT_EQ(from_scan, from_dom) << rule.text() << " on " << frame.substr(0, 200);
  return from_scan;
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
  // Bare words are strings; JSON literals, even with blanks around them, are not.
  EXPECT_TRUE(matches(FrameRule::parse("/s==nullable", "c"), R"({"s":"nullable"})"));
  EXPECT_TRUE(matches(FrameRule::parse("/s==True", "c"), R"({"s":"True"})"));
  EXPECT_TRUE(matches(FrameRule::parse("/s==null ", "c"), R"({"s":null})"));
  EXPECT_FALSE(matches(FrameRule::parse("/s==false", "c"), R"({"s":"false"})"));
  EXPECT_TRUE(matches(FrameRule::parse("/s==_x", "c"), R"({"s":"_x"})"));
  EXPECT_TRUE(matches(FrameRule::parse("/s==[1]", "c"), R"({"s":[1]})"));
  const auto done = FrameRule::parse("/done", "c");
  EXPECT_TRUE(matches(done, R"({"done":null})"));
  EXPECT_FALSE(matches(done, R"({"text":"done"})"));
  const auto regex = FrameRule::parse("regex:\\[DONE\\]$", "c");
  EXPECT_TRUE(matches(regex, "data: [DONE]"));
  EXPECT_FALSE(matches(regex, "data: [DONE] more"));
}

// Copies share what was parsed; a rule moved from is still the rule it was.
TEST(FrameRule, CopiesAndRulesMovedFromMatchAsTheOriginal) {
  auto end = FrameRule::parse("/type==end", "c");
  const FrameRule copy = end;
  const FrameRule moved = std::move(end);
  for (const FrameRule* rule : {&copy, &moved, static_cast<const FrameRule*>(&end)}) {
    EXPECT_TRUE(matches(*rule, R"({"type":"end"})"));
    EXPECT_FALSE(matches(*rule, R"({"type":"chunk"})"));
    EXPECT_EQ(rule->text(), "/type==end");
  }
  FrameRule assigned;
  assigned = FrameRule::parse("regex:x", "c");
  EXPECT_TRUE(matches(assigned, "x"));
  EXPECT_FALSE(assigned.needs_json());
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
  const auto from_dom = rules.match(frame, is_json ? &parsed : nullptr);
  std::vector<detail::JsonPath> paths;
  rules.add_paths(paths);
  detail::FrameScan scanned(paths);
  scanned.scan(frame);
  const auto from_scan = rules.match(frame, scanned);
  EXPECT_EQ(from_scan, from_dom) << frame.substr(0, 200);
  return from_scan;
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

// The correlation id a scan reads: the DOM's dump() of the value, whatever the spacing.
std::string id_of(std::string_view pointer, std::string_view frame) {
  const json::json_pointer p{std::string(pointer)};
  json parsed;
  const bool is_json = detail::parse_frame(frame, parsed);
  const std::string from_dom = is_json && parsed.contains(p) ? parsed.at(p).dump() : "";
  const detail::JsonPath path(p);
  detail::FrameScan scanned({&path, 1});
  const std::string from_scan = scanned.scan(frame) ? scanned.at(path).dump() : "";
  EXPECT_EQ(from_scan, from_dom) << pointer << " in " << frame.substr(0, 200);
  return from_scan;
}

FrameRule end_rule() {
  return FrameRule::parse(R"(/type=="end")", "c");
}

TEST(FrameScan, EqualityIsJsonValueEquality) {
  EXPECT_TRUE(matches(FrameRule::parse("/n==1", "c"), R"({"n":1.0})"));
  EXPECT_TRUE(matches(FrameRule::parse("/n==1.0", "c"), R"({"n":1})"));
  EXPECT_TRUE(matches(FrameRule::parse("/n==100", "c"), R"({"n":1e2})"));
  EXPECT_TRUE(matches(FrameRule::parse("/n==-0", "c"), R"({"n":0})"));
  EXPECT_FALSE(matches(FrameRule::parse("/n==1", "c"), R"({"n":true})"));
  EXPECT_FALSE(matches(FrameRule::parse("/n==1", "c"), R"({"n":1.5})"));
  // Escaped and unescaped spellings of one string are one string.
  const auto end = FrameRule::parse(R"(/type=="end")", "c");
  EXPECT_TRUE(matches(end, R"({"type":"\u0065nd"})"));
  EXPECT_TRUE(matches(end, R"({"t\u0079pe":"end"})"));
  EXPECT_FALSE(matches(end, R"({"type":"end "})"));
  EXPECT_TRUE(matches(FrameRule::parse(R"(/s=="a/\"b\"\n\u00e9\ud83d\ude00")", "c"),
                      "{\"s\":\"a\\/\\\"b\\\"\\n\xC3\xA9\xF0\x9F\x98\x80\"}"));
  // Objects: key order and spacing do not matter; arrays: order does.
  const auto object = FrameRule::parse(R"(/u=={"in":3,"out":[1,2]})", "c");
  EXPECT_TRUE(matches(object, R"({"u": {"out": [1, 2.0], "in": 3}})"));
  EXPECT_FALSE(matches(object, R"({"u":{"out":[2,1],"in":3}})"));
  EXPECT_FALSE(matches(object, R"({"u":{"out":[1,2],"in":3,"x":0}})"));
  EXPECT_TRUE(matches(FrameRule::parse("/done==null", "c"), R"({"done" : null})"));
  EXPECT_TRUE(matches(FrameRule::parse("/ok==false", "c"), R"({"ok":false})"));
}

TEST(FrameScan, PointersReadKeysIndexesAndTheLastOfRepeatedKeys) {
  EXPECT_TRUE(matches(FrameRule::parse("/choices/1/delta==x", "c"),
                      R"({"choices":[{"delta":"y"},{"delta":"x"}]})"));
  EXPECT_FALSE(matches(FrameRule::parse("/choices/01/delta", "c"),
                       R"({"choices":[{"delta":"y"},{"delta":"x"}]})"));
  EXPECT_FALSE(matches(FrameRule::parse("/choices/-", "c"), R"({"choices":[1]})"));
  EXPECT_FALSE(matches(FrameRule::parse("/choices/2", "c"), R"({"choices":[1,2]})"));
  EXPECT_TRUE(matches(FrameRule::parse("/0", "c"), R"({"0":1})"));
  EXPECT_TRUE(matches(FrameRule::parse("/a~1b/~0c==1", "c"), R"({"a/b":{"~c":1}})"));
  EXPECT_TRUE(matches(FrameRule::parse("/==1", "c"), R"({"":1})"));
  EXPECT_FALSE(matches(FrameRule::parse("/type", "c"), R"({"data":{"type":"end"}})"));
  EXPECT_FALSE(matches(FrameRule::parse("/type/x", "c"), R"({"type":"end"})"));
  // nlohmann keeps a repeated key's last value.
  EXPECT_TRUE(matches(end_rule(), R"({"type":"end","type":"chunk","type":"end"})"));
  EXPECT_FALSE(matches(end_rule(), R"({"type":"end","type":"chunk"})"));
  EXPECT_FALSE(matches(FrameRule::parse("/a/b", "c"), R"({"a":{"b":1},"a":{"c":2}})"));
  EXPECT_EQ(id_of("/id", R"({"id" : 7, "text":"x"})"), "7");
  EXPECT_EQ(id_of("/id", R"({"id":-0})"), "0");
  EXPECT_EQ(id_of("/id", R"({"id":1.50})"), "1.5");
  EXPECT_EQ(id_of("/id", R"({"id":123456789012345678901})"), "1.2345678901234568e+20");
  EXPECT_EQ(id_of("/id", R"({"id":"r\u0031"})"), R"("r1")");
  EXPECT_EQ(id_of("/id", R"({"id":{"b":1, "a":[true, null]}})"), R"({"a":[true,null],"b":1})");
  EXPECT_EQ(id_of("/id", R"({"other":1})"), "");
}

TEST(FrameScan, MalformedFramesAreNotJson) {
  const auto done = FrameRule::parse("/done", "c");
  for (const char* frame : {R"({"done":1)",
                            R"({"done":1,})",
                            R"({"done":1} x)",
                            R"({"done":01})",
                            R"({"done":1.})",
                            R"({"done":1e})",
                            R"({"done":-})",
                            R"({"done":tru})",
                            R"({"done":1e400})",
                            R"({"done":"\x"})",
                            R"({"done":"\u12"})",
                            R"({"done":"\ud800"})",
                            R"({"done":"\udc00"})",
                            R"({"done":"\ud800\u0041"})",
                            R"({done:1})",
                            R"({"done" 1})",
                            R"([{"done":1}])",
                            R"({"done":[1,]})",
                            R"({"done":1}})",
                            R"({"done":1]})",
                            R"({"done":/*c*/1})",
                            "{\"done\":\"\x01\"}",
                            "{\"done\":\"\xC0\xAF\"}",
                            "{\"done\":\"\xED\xA0\x80\"}",
                            "{\"done\":\"\xF4\x90\x80\x80\"}",
                            "{\"done\":\"\xE2\x82\"}",
                            "\xEF\xBB\xBF{\"done\":1}"}) {
    EXPECT_FALSE(matches(done, frame)) << frame;
  }
  EXPECT_FALSE(matches(done, std::string_view("{\"done\":1,\0}", 12)));
  // What nlohmann takes, the scan takes: a number that underflows, a NUL ending the input.
  EXPECT_TRUE(matches(done, R"({"done":1e-400})"));
  EXPECT_TRUE(matches(done, std::string_view("{\"done\":1}\0junk", 15)));
  EXPECT_TRUE(matches(done, " \r\n\t{ \"done\" : [ ] } \n"));
  const auto api = ErrorRules::parse({"api-gateway"});
  EXPECT_FALSE(error_of(api, R"({"message":"Forbidden")"));
  EXPECT_FALSE(error_of(api, R"({"message":"Forbidden",})"));
  EXPECT_TRUE(error_of(api, R"({"m\u0065ssage":"Forbidd\u0065n"})"));
}

TEST(FrameScan, DeepNestingAndMegabyteFrames) {
  // Nesting costs the scan a byte per level, never a stack frame.
  const std::size_t depth = 200'000;
  const std::string deep = "{\"done\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
  EXPECT_TRUE(matches(FrameRule::parse("/done", "c"), deep));
  EXPECT_FALSE(matches(FrameRule::parse("/done", "c"), deep.substr(0, deep.size() - 2) + "}"));
  EXPECT_TRUE(matches(FrameRule::parse("/x/0/0/0/0/0/0/0/0/0/0/0/0==1", "c"),
                      R"({"x":[[[[[[[[[[[[1]]]]]]]]]]]]})"));
  // A megabyte chunk: the end marker after the text, and an escape every so often.
  std::string text;
  for (int i = 0; i < 100'000; ++i) text += "token \\n\xC3\xA9";
  const std::string big = R"({"type":"chunk","text":")" + text + R"(","type":"end"})";
  ASSERT_GT(big.size(), 1'000'000u);
  EXPECT_TRUE(matches(end_rule(), big));
  EXPECT_FALSE(matches(end_rule(), big.substr(0, big.size() - 1)));
  EXPECT_FALSE(error_of(ErrorRules::parse({"api-gateway"}), big));
}

}  // namespace
