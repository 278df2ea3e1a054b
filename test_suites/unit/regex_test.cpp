// The rule regex: the same answers as std::regex (ECMAScript) where both apply, on short
// frames; frames std::regex cannot search without overflowing the stack; clear refusals.
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <wsload/detail/regex.hpp>

namespace {

using wsload::detail::Regex;

const std::vector<std::string> patterns = {
    "",
    "done",
    "\"type\":\"end\"",
    "^data: \\[DONE\\]$",
    "^\\{",
    "\\}$",
    "a|b|cd",
    "(ab)+c",
    "(?:ab)*c",
    "x*",
    "a.c",
    "a.*c",
    "a.*?c",
    "[a-c]+d",
    "[^a-c]x",
    "[\\d.]+e",
    "\\d{2,3}-\\d{2}",
    "a{2}",
    "a{2,}b",
    "a{0,1}b",
    "colou?r",
    "\\bend\\b",
    "\\Bnd",
    "\\s+done\\S",
    "\\w+@\\w+",
    "[\\w-]+\\.json",
    "\"done\"\\s*:\\s*true",
    "(a|ab)(c|bcd)(d*)",
    "(a*)*b",
    "(a|)+x",
    "[]a",
    "[^]",
    "\\x41\\u0042",
    "tab\\there",
    "line\\nbreak",
    "[a\\-z]",
    "[-a]",
    "[a-]",
    "\\/path\\/",
    "error.*(timeout|refused)",
};

const std::vector<std::string> texts = {
    "",
    "done",
    "{\"type\":\"end\",\"done\":true}",
    "{\"type\":\"chunk\"}",
    "data: [DONE]",
    "data: [DONE] more",
    "abababc",
    "c",
    "xyz",
    "abc",
    "a\nc",
    "12-34 and 123-45",
    "aab",
    "colour color colr",
    "the end.",
    "bend end",
    "  done!",
    "mail: a_b@c9",
    "file-name.json",
    "\"done\" :  true",
    "abcd",
    "aaab",
    "x",
    "-",
    "AB",
    "tab\there",
    "line\nbreak",
    "/path/",
    "error: connection refused",
    "{a",
    "a,2}",
};

TEST(Regex, AgreesWithStdRegexOnShortFrames) {
  for (const auto& pattern : patterns) {
    const std::regex reference(pattern, std::regex::ECMAScript);
    const Regex ours = Regex::compile(pattern);
    for (const auto& text : texts) {
      EXPECT_EQ(ours.search(text), std::regex_search(text, reference))
          << "pattern /" << pattern << "/ on \"" << text << "\"";
    }
  }
}

// std::regex recurses once per character here and overflows an 8 MB stack at about
// 100 KB; a streamed frame can be larger.
TEST(Regex, SearchesAMegabyteFrame) {
  const std::string frame = "{\"text\":\"" + std::string(1 << 20, 'x') + "\",\"done\":true}";
  EXPECT_TRUE(Regex::compile("text.*done").search(frame));
  EXPECT_TRUE(Regex::compile("\"done\":\\s*true\\}$").search(frame));
  EXPECT_FALSE(Regex::compile("text.*fail").search(frame));
  EXPECT_FALSE(Regex::compile("(x+x+)+y").search(frame)) << "no exponential backtracking either";
}

TEST(Regex, RefusesWhatItCannotSearchInLinearTime) {
  const std::vector<std::pair<std::string, std::string>> refusals = {
      {"(a)\\1", "backreferences are not supported"},
      {"a(?=b)", "lookahead, lookbehind and named groups are not supported"},
      {"(?<n>a)", "lookahead, lookbehind and named groups are not supported"},
      {"(a", "missing )"},
      {"a)", "unmatched )"},
      {"*a", "nothing to repeat"},
      {"a**", "nothing to repeat"},
      {"a{2}{3}", "nothing to repeat"},
      {"[b-a]", "range out of order"},
      {"[a", "missing ]"},
      {"a{3,2}", "repetition {n,m} with m < n"},
      {"a{1001}", "repetition count over 1000"},
      {"(a{1000}){1000}", "pattern too large once repetitions are expanded"},
      {"\\q", "unknown escape \\q"},
      {"\\u00e9", "\\u beyond ASCII is not supported; write the character itself"},
      {"\\xZZ", "bad hex digit"},
      {"a\\", "pattern ends with \\"},
      {std::string(65, '(') + std::string(65, ')'), "groups nested over 64 deep"},
  };
  for (const auto& [pattern, why] : refusals) {
    try {
      (void)Regex::compile(pattern);
      ADD_FAILURE() << pattern << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).rfind(why, 0), 0u) << pattern << ": " << e.what();
      if (why.starts_with("pattern too large")) continue;  // the whole pattern's doing
      EXPECT_NE(std::string(e.what()).find(" at offset "), std::string::npos) << e.what();
    }
  }
}

TEST(Regex, ABraceThatIsNoQuantifierIsALiteral) {
  EXPECT_TRUE(Regex::compile("a{,2}").search("xa{,2}"));
  EXPECT_TRUE(Regex::compile("{\"id\"").search("{\"id\":1}"));
}

TEST(Regex, NonAsciiCharactersAreTheirBytes) {
  EXPECT_TRUE(Regex::compile("zażółć").search("gęślą zażółć jaźń"));
  EXPECT_FALSE(Regex::compile("^zażółć").search("gęślą zażółć jaźń"));
  EXPECT_TRUE(Regex::compile("ja.*ń$").search("gęślą zażółć jaźń"));
}

}  // namespace
