// The rule regex: the same answers as std::regex (ECMAScript) where both apply, on short
// frames; frames std::regex cannot search without overflowing the stack; clear refusals;
// ECMAScript's meaning kept wherever RE2's syntax reads the same text otherwise.
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <wsload/detail/ecmascript_re2.hpp>

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

struct Case {
  std::string pattern;
  std::string text;
  bool matches;
  bool as_std_regex = true;  ///< C++'s ECMAScript dialect has POSIX classes, JavaScript's not
};

// Each pattern means something else to RE2 read as it is (in its default UTF-8 mode).
TEST(Regex, KeepsTheEcmaScriptMeaningWhereRe2ReadsItOtherwise) {
  const std::vector<Case> cases = {
      {"a\\sb", "a\vb", true},  // RE2's \s has no \v
      {"a[\\s]b", "a\vb", true},
      {"a\\Sb", "a\vb", false},
      {"a\\vb", "a\vb", true},
      {"a.b", "a\rb", false},  // RE2's . takes \r
      {"a.b", "a\nb", false},
      {"\\01",
       std::string("\0"
                   "1",
                   2),
       true},  // RE2 reads \01 as octal 1
      {"\\01", "\x01", false},
      {"\\u0041\\u007e", "A~", true},  // RE2 has no \u
      {"^\\xe9$", "\xe9", true},       // RE2 in UTF-8: U+00E9, two bytes
      {"\\xe9", "\xc3\xa9", false},
      {"^.{2}$", "\xc3\xa9", true},  // one character, two bytes
      {"^[\xc3\xa9]$", "\xc3", true},
      {"a[\\b]c", "a\bc", true},  // RE2 refuses \b in a class
      {"a[\\b]c", "a c", false},
      {"[]", "anything", false},  // RE2 reads []...] as a class holding ]
      {"[]a]", "a]", false},
      {"[]a]", "]", false},
      {"[^]", "\n", true},
      {"[[:alpha:]]", "b", false, false},  // RE2: a POSIX class
      {"[[:alpha:]]", "a]", true, false},
      {"\\bx", "\xe9x", true},  // bytes, ASCII words: no letter before x
      {"a$", "a\n", false},     // neither $ nor ^ is at a line break
      {"^b", "a\nb", false},
      {"\\/\\-\\ \\#", "/- #", true},
      {"]}", "]}", true},
  };
  for (const auto& [pattern, text, matches, as_std_regex] : cases) {
    EXPECT_EQ(Regex::compile(pattern).search(text), matches) << "/" << pattern << "/";
    if (!as_std_regex) continue;
    EXPECT_EQ(std::regex_search(text, std::regex(pattern, std::regex::ECMAScript)), matches)
        << "std::regex disagrees on /" << pattern << "/";
  }
}

/// Why `pattern` is refused; "accepted" when it is not.
std::string refusal_of(const std::string& pattern) {
  try {
    (void)Regex::compile(pattern);
    return "accepted";
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
}

// RE2's own syntax is not ECMAScript: refused, not quietly given RE2's meaning.
TEST(Regex, RefusesRe2ExtensionsAndRe2Limits) {
  const std::vector<std::pair<std::string, std::string>> refusals = {
      {"(?i)a", "lookahead, lookbehind and named groups are not supported"},
      {"(?P<n>a)", "lookahead, lookbehind and named groups are not supported"},
      {"(?!a)", "lookahead, lookbehind and named groups are not supported"},
      {"(?<=a)b", "lookahead, lookbehind and named groups are not supported"},
      {"\\pL", "unknown escape \\p"},
      {"\\A", "unknown escape \\A"},
      {"a\\z", "unknown escape \\z"},
      {"\\Q*\\E", "unknown escape \\Q"},
      {"\\C", "unknown escape \\C"},
      {"\\cJ", "unknown escape \\c"},
      // RE2 caps nested counted repetitions at 1000 copies in all.
      {"(a{31}){33}", "pattern too large once repetitions are expanded"},
  };
  for (const auto& [pattern, why] : refusals) {
    EXPECT_EQ(refusal_of(pattern).rfind(why, 0), 0u) << pattern << ": " << refusal_of(pattern);
  }
  EXPECT_TRUE(Regex::compile("(a{30}){30}b").search(std::string(900, 'a') + "b"));
}

// RE2 works within Regex::max_memory: a program over it is refused, and a pattern whose
// DFA outgrows its cache still answers (RE2 falls back to its NFA) in that memory.
TEST(Regex, KeepsToItsMemoryOnPathologicalPatterns) {
  std::string huge;
  for (int i = 0; i < 400; ++i) huge += "\\w{1000}";
  EXPECT_THROW((void)Regex::compile(huge), std::invalid_argument);
  std::string frame(1 << 20, 'a');
  for (std::size_t i = 0; i < frame.size(); ++i) frame[i] = static_cast<char>('a' + i * 7 % 23);
  const auto blowup = Regex::compile("[a-q][^u-z]{13}x");
  EXPECT_FALSE(blowup.search(frame));
  frame.replace(frame.size() - 14, 14, "bbbbbbbbbbbbbx");
  EXPECT_TRUE(blowup.search(frame));
}

// The hand-written matcher skipped ahead to a byte that `.` takes, and so missed a match
// that starts with what a `.*` or `.?` lets through: a frame's leading line break.
TEST(Regex, FindsAMatchThatStartsPastAnOptionalDot) {
  EXPECT_TRUE(Regex::compile(".*\\n").search("\nA"));
  EXPECT_TRUE(Regex::compile(".?\\r").search("\r"));
  EXPECT_TRUE(Regex::compile(".{0,}\\D").search("\r"));
}

// RE2 20220601 in Latin-1 loses the encoding of a literal prefix it factors out of
// alternatives, then skips ahead to the wrong bytes and misses every match.
TEST(Regex, FindsNonAsciiAlternativesThatShareTheirFirstBytes) {
  EXPECT_TRUE(Regex::compile("ошибка|отказ").search("{\"status\":\"отказ\"}"));
  EXPECT_TRUE(Regex::compile("é|è").search("très"));
  EXPECT_TRUE(Regex::compile("(?:\\xe9|\\xe9)z").search("a\xe9z"));
  EXPECT_FALSE(Regex::compile("ошибка|отказ").search("{\"status\":\"ok\"}"));
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
