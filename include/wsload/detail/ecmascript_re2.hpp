// The `regex:` rules: ECMAScript syntax (what the rules document) searched by RE2, in time
// linear in the frame, without recursion and in bounded memory.
//
// RE2 reads a close cousin of ECMAScript, not ECMAScript itself, so a pattern is rewritten
// once, when its rule is read, into RE2 syntax that says the same thing:
// - byte semantics, like std::regex over char: RE2 runs in Latin-1, so a character
//   outside ASCII is its UTF-8 bytes in sequence, `.` one byte, \xHH the byte HH;
// - every literal, class and class escape is spelled out as bytes (\s has \v, which RE2's
//   \s lacks; `.` stops at \r as well as \n; [\b] is a backspace; [] matches nothing and
//   [^] anything; [[:alpha:]] is a class of `[:alph` then `]`), \0 is NUL even before a
//   digit (RE2 would read octal) and \uHHHH is the byte (ASCII only);
// - RE2's own extensions (inline flags, named groups, \pN, \A, \z, \Q...\E, \C, POSIX
//   classes) are not ECMAScript and are refused or read as ECMAScript reads them.
// Backreferences and lookaround need backtracking: refused, as RE2 would.
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <re2/re2.h>

namespace wsload::detail {

class Regex {
 public:
  /// RE2's memory budget per pattern (its compiled program and its DFA cache). A pattern
  /// whose program does not fit is refused; one whose DFA outgrows the cache (a state per
  /// combination of the last N bytes, as in `[a-q][^u-z]{13}x`) still answers, more
  /// slowly, in the same memory.
  static constexpr std::int64_t max_memory = 8 << 20;

  /// Throws std::invalid_argument naming the problem and where it is.
  static Regex compile(std::string_view pattern);

  /// Whether some part of `text` matches. Thread-safe: the engine's threads share a rule.
  bool search(std::string_view text) const {
    return re2_ && RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re2_);
  }

 private:
  std::shared_ptr<const RE2> re2_;  // RE2 cannot be copied; copies of a rule share it
};

/// Rewrites an ECMAScript pattern into RE2 syntax over Latin-1 (see the top of the file).
class EcmaScriptToRe2 {
 public:
  explicit EcmaScriptToRe2(std::string_view pattern) : p_(pattern) {}

  /// Throws std::invalid_argument "<problem> at offset N".
  std::string translate();

  /// Whether the translation has a literal byte outside ASCII (after translate()).
  bool has_non_ascii_literal() const noexcept { return non_ascii_literal_; }

 private:
  using ByteSet = std::bitset<256>;
  static constexpr int max_depth = 64;
  static constexpr int max_count = 1000;

  [[noreturn]] void fail(const std::string& why, std::size_t at) const {
    throw std::invalid_argument(why + " at offset " + std::to_string(at));
  }
  [[noreturn]] void fail(const std::string& why) const { fail(why, at_); }
  bool more() const { return at_ < p_.size(); }
  char peek() const { return p_[at_]; }

  void group();
  void quantifier(std::size_t start, const std::string& spelled);
  bool braces(int& min, int& max);
  void escape();
  ByteSet bracket();
  int member(ByteSet& s);
  int byte_escape(char letter);
  unsigned hex(std::size_t digits);
  static ByteSet class_of(char letter);

  void literal(unsigned char c);
  void spell(std::size_t byte);  ///< as \xHH: no RE2 metacharacter or extension is ever written
  void set(const ByteSet& s);
  void atom_written() { last_ = Last::atom; }

  std::string_view p_;
  std::size_t at_ = 0;
  std::string out_;
  int depth_ = 0;
  bool non_ascii_literal_ = false;
  /// What a quantifier here would follow: only an atom can be repeated.
  enum class Last { nothing, atom, quantifier } last_ = Last::nothing;
};

inline std::string EcmaScriptToRe2::translate() {
  while (more()) {
    const std::size_t start = at_;
    const char c = p_[at_++];
    switch (c) {
      case '(':
        group();
        break;
      case ')':
        if (depth_ == 0) fail("unmatched )", start);
        --depth_;
        out_ += ')';
        atom_written();
        break;
      case '|':
        out_ += '|';
        last_ = Last::nothing;
        break;
      case '*':
      case '+':
      case '?':
        quantifier(start, std::string(1, c));
        break;
      case '{': {
        int min = 0, max = 0;
        if (braces(min, max)) {
          if (last_ == Last::nothing) fail("nothing to repeat", start);
          if (min > max_count || max > max_count) fail("repetition count over 1000");
          if (max != -1 && max < min) fail("repetition {n,m} with m < n");
          std::string spelled(1, '{');
          spelled += std::to_string(min);
          spelled += ',';
          if (max != -1) spelled += std::to_string(max);
          spelled += '}';
          quantifier(start, spelled);
        } else {
          at_ = start + 1;  // a literal brace, as ECMAScript reads it
          literal('{');
        }
        break;
      }
      case '[':
        set(bracket());
        break;
      case '.':
        set(~ByteSet().set('\n').set('\r'));
        break;
      case '^':
      case '$':  // both only at the ends of the text, in both syntaxes
        out_ += c;
        atom_written();
        break;
      case '\\':
        escape();
        break;
      default:
        literal(static_cast<unsigned char>(c));
        break;
    }
  }
  if (depth_ > 0) fail("missing )");
  return out_;
}

inline void EcmaScriptToRe2::group() {
  if (++depth_ > max_depth) fail("groups nested over 64 deep");
  if (more() && peek() == '?') {
    // Also RE2's inline flags and (?P<name>...): not ECMAScript.
    if (at_ + 1 == p_.size() || p_[at_ + 1] != ':') {
      fail("lookahead, lookbehind and named groups are not supported");
    }
    at_ += 2;
  }
  out_ += "(?:";  // nothing is captured: a rule only asks whether there is a match
  last_ = Last::nothing;
}

/// `spelled` is the quantifier read from `start` to the cursor, in RE2's syntax.
inline void EcmaScriptToRe2::quantifier(std::size_t start, const std::string& spelled) {
  if (last_ == Last::nothing) fail("nothing to repeat", start);
  if (last_ == Last::quantifier) fail("nothing to repeat");
  out_ += spelled;
  if (more() && peek() == '?') {  // lazy: the same for a search
    ++at_;
    out_ += '?';
  }
  last_ = Last::quantifier;
}

/// Reads {n}, {n,} or {n,m} after the '{' just read; false when it is no quantifier.
inline bool EcmaScriptToRe2::braces(int& min, int& max) {
  auto number = [&](int& out) {
    const std::size_t start = at_;
    long value = 0;
    while (more() && peek() >= '0' && peek() <= '9') {
      value = std::min<long>(value * 10 + (peek() - '0'), 1'000'000);
      ++at_;
    }
    out = static_cast<int>(value);
    return at_ > start;
  };
  if (!number(min)) return false;
  max = min;
  if (more() && peek() == ',') {
    ++at_;
    if (!number(max)) max = -1;
  }
  if (!more() || peek() != '}') return false;
  ++at_;
  return true;
}

inline void EcmaScriptToRe2::escape() {
  if (!more()) fail("pattern ends with \\");
  const char e = p_[at_++];
  switch (e) {
    case 'd':
    case 'D':
    case 'w':
    case 'W':
    case 's':
    case 'S':
      set(class_of(e));
      return;
    case 'b':
    case 'B':  // ASCII word boundaries in both syntaxes
      out_ += '\\';
      out_ += e;
      atom_written();
      return;
    default:
      break;
  }
  if (e >= '1' && e <= '9') fail("backreferences are not supported");
  const int b = byte_escape(e);
  if (b < 0) fail(std::string("unknown escape \\") + e);
  literal(static_cast<unsigned char>(b));
}

inline EcmaScriptToRe2::ByteSet EcmaScriptToRe2::class_of(char letter) {
  ByteSet s;
  switch (letter | 0x20) {
    case 'd':
      for (int c = '0'; c <= '9'; ++c) s.set(c);
      break;
    case 'w':
      for (int c = '0'; c <= '9'; ++c) s.set(c);
      for (int c = 'a'; c <= 'z'; ++c) s.set(c).set(c - 'a' + 'A');
      s.set('_');
      break;
    case 's':
      for (int c : {' ', '\t', '\n', '\r', '\f', '\v'}) s.set(c);
      break;
  }
  if (letter >= 'A' && letter <= 'Z') s.flip();
  return s;
}

inline unsigned EcmaScriptToRe2::hex(std::size_t digits) {
  unsigned value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    if (!more()) fail("incomplete hex escape");
    const char h = p_[at_++];
    value *= 16;
    if (h >= '0' && h <= '9') {
      value += static_cast<unsigned>(h - '0');
    } else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f') {
      value += static_cast<unsigned>((h | 0x20) - 'a' + 10);
    } else {
      fail("bad hex digit");
    }
  }
  return value;
}

/// An escape that stands for one byte, or -1 when `letter` is not one.
inline int EcmaScriptToRe2::byte_escape(char letter) {
  switch (letter) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'f':
      return '\f';
    case 'v':
      return '\v';
    case '0':
      return 0;
    case 'x':
      return static_cast<int>(hex(2));
    case 'u': {
      const unsigned u = hex(4);
      if (u > 0x7f) fail("\\u beyond ASCII is not supported; write the character itself");
      return static_cast<int>(u);
    }
    default:
      if (std::string_view("\\^$.|?*+()[]{}/-\"'#:=!<>,&%@~` ").find(letter) !=
          std::string_view::npos) {
        return static_cast<unsigned char>(letter);
      }
      return -1;
  }
}

inline EcmaScriptToRe2::ByteSet EcmaScriptToRe2::bracket() {
  ByteSet s;
  bool negate = false;
  if (more() && peek() == '^') {
    negate = true;
    ++at_;
  }
  for (;;) {
    if (!more()) fail("missing ]");
    if (peek() == ']') {
      ++at_;
      break;
    }
    const int low = member(s);
    if (low < 0) continue;  // a class escape such as \d, already added
    if (at_ + 1 < p_.size() && peek() == '-' && p_[at_ + 1] != ']') {
      ++at_;
      const int high = member(s);
      if (high < 0) fail("a range cannot end in a class escape");
      if (high < low) fail("range out of order");
      for (int c = low; c <= high; ++c) s.set(static_cast<std::size_t>(c));
    } else {
      s.set(static_cast<std::size_t>(low));
    }
  }
  if (negate) s.flip();
  return s;
}

/// One member of a bracket class: its byte, or -1 after adding a class escape to `s`.
inline int EcmaScriptToRe2::member(ByteSet& s) {
  const char c = p_[at_++];
  if (c != '\\') return static_cast<unsigned char>(c);
  if (!more()) fail("pattern ends with \\");
  const char e = p_[at_++];
  if (std::string_view("dDwWsS").find(e) != std::string_view::npos) {
    s |= class_of(e);
    return -1;
  }
  if (e == 'b') return '\b';
  if (e >= '1' && e <= '9') fail("backreferences are not supported");
  const int b = byte_escape(e);
  if (b < 0) fail(std::string("unknown escape \\") + e);
  return b;
}

inline void EcmaScriptToRe2::literal(unsigned char c) {
  if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) {
    out_ += static_cast<char>(c);
  } else {
    spell(c);
    non_ascii_literal_ = non_ascii_literal_ || c >= 0x80;
  }
  atom_written();
}

inline void EcmaScriptToRe2::spell(std::size_t byte) {
  static constexpr char digits[] = "0123456789abcdef";
  out_ += "\\x";
  out_ += digits[byte >> 4];
  out_ += digits[byte & 15];
}

inline void EcmaScriptToRe2::set(const ByteSet& s) {
  if (s.count() == 1) {
    std::size_t c = 0;
    while (!s[c]) ++c;
    literal(static_cast<unsigned char>(c));
    return;
  }
  if (s.none()) {
    out_ += "[^\\x00-\\xff]";  // RE2 would read [] as the start of a class holding ']'
  } else {
    out_ += '[';
    for (std::size_t low = 0; low < 256; ++low) {
      if (!s[low]) continue;
      std::size_t high = low;
      while (high + 1 < 256 && s[high + 1]) ++high;
      spell(low);
      if (high > low) {
        out_ += '-';
        spell(high);
      }
      low = high;
    }
    out_ += ']';
  }
  atom_written();
}

inline Regex Regex::compile(std::string_view pattern) {
  EcmaScriptToRe2 translator(pattern);
  std::string translated = translator.translate();
  if (translator.has_non_ascii_literal()) {
    // RE2 20220601 in Latin-1 loses the encoding of a literal prefix that it factors out
    // of alternatives ("ош|от": \xd0\xbe...) and skips ahead to its UTF-8 bytes instead,
    // missing every match. Led by an empty alternation, a pattern has no literal prefix to
    // skip to: such patterns are searched byte by byte (1.6 µs a KB, not 0.09).
    translated.insert(0, "(?:^|)(?:");
    translated += ')';
  }
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_max_mem(max_memory);
  options.set_log_errors(false);  // the error goes to the caller, not to standard error
  auto re2 = std::make_shared<const RE2>(translated, options);
  switch (re2->error_code()) {
    case RE2::NoError:
      break;
    case RE2::ErrorRepeatSize:  // counted repetitions nest to more than 1000 copies
    case RE2::ErrorPatternTooLarge:
      throw std::invalid_argument("pattern too large once repetitions are expanded");
    default:  // the translation writes nothing else RE2 refuses; said all the same
      throw std::invalid_argument("refused by RE2: " + re2->error());
  }
  Regex r;
  r.re2_ = std::move(re2);
  return r;
}

}  // namespace wsload::detail
