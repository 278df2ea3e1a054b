// Regular expressions for completion and error rules, searched in time linear in the
// frame and without recursion.
//
// Why not std::regex: its matcher backtracks recursively, one stack frame per character
// for a pattern like `text.*done`, so a 100 KB streamed frame overflows the stack and
// takes the whole load generator down. Here the pattern compiles to a small program that
// runs every possible match at once (a Thompson NFA): each byte of the frame is looked at
// once per live state, whatever the pattern.
//
// The syntax is ECMAScript's, the part a search needs: literals, `.`, classes `[a-z]`
// `[^...]`, escapes \d \w \s \D \W \S \n \r \t \f \v \0 \xHH \uHHHH, anchors ^ $ \b \B,
// groups (...) (?:...), alternation |, and the quantifiers * + ? {n} {n,} {n,m}, greedy
// or lazy (the same for a yes/no search). Backreferences and lookaround need
// backtracking and are refused when the rule is read. Like std::regex over char, it works
// on bytes: a character outside ASCII is its UTF-8 bytes in sequence.
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wsload::detail {

class Regex {
 public:
  /// Throws std::invalid_argument naming the problem and where it is.
  static Regex compile(std::string_view pattern);

  /// Whether some part of `text` matches.
  bool search(std::string_view text) const;

 private:
  enum class Op : std::uint8_t { byte, set, any, split, jump, match, begin, end, word, not_word };
  struct Instruction {
    Op op = Op::match;
    std::uint8_t byte = 0;
    std::uint32_t x = 0;  ///< set: its index; split, jump: the target
    std::uint32_t y = 0;  ///< split: the second target
  };
  using ByteSet = std::bitset<256>;

  struct Node {
    enum class Kind {
      empty,
      byte,
      set,
      any,
      begin,
      end,
      word,
      not_word,
      concat,
      alternation,
      repeat
    };
    Kind kind = Kind::empty;
    std::uint8_t byte = 0;
    std::uint32_t set = 0;
    int min = 0, max = 0;  ///< repeat; max -1: unbounded
    std::vector<Node> children;
  };

  class Parser;
  void emit(const Node& node);
  std::uint32_t add(Instruction i);

  std::vector<Instruction> program_;
  std::vector<ByteSet> sets_;
  ByteSet first_;             ///< bytes a match can start with, when known
  bool first_known_ = false;  ///< false when a match may start with an assertion or be empty
};

class Regex::Parser {
 public:
  Parser(std::string_view pattern, std::vector<ByteSet>& sets) : p_(pattern), sets_(sets) {}

  Node parse() {
    Node n = alternation();
    if (at_ < p_.size()) fail("unmatched )");
    return n;
  }

 private:
  static constexpr int max_depth = 64;
  static constexpr int max_count = 1000;

  [[noreturn]] void fail(const std::string& why) const {
    throw std::invalid_argument(why + " at offset " + std::to_string(at_));
  }
  bool more() const { return at_ < p_.size(); }
  char peek() const { return p_[at_]; }

  Node alternation() {
    Node first = sequence();
    if (!more() || peek() != '|') return first;
    Node alt;
    alt.kind = Node::Kind::alternation;
    alt.children.push_back(std::move(first));
    while (more() && peek() == '|') {
      ++at_;
      alt.children.push_back(sequence());
    }
    return alt;
  }

  Node sequence() {
    Node seq;
    seq.kind = Node::Kind::concat;
    while (more() && peek() != '|' && peek() != ')') {
      Node a = atom();
      int min = 0, max = 0;
      if (more() && quantifier(min, max)) {
        if (more() && peek() == '?') ++at_;  // lazy: the same for a search
        int ignored_min = 0, ignored_max = 0;
        if (more() && quantifier(ignored_min, ignored_max)) fail("nothing to repeat");
        Node r;
        r.kind = Node::Kind::repeat;
        r.min = min;
        r.max = max;
        r.children.push_back(std::move(a));
        a = std::move(r);
      }
      seq.children.push_back(std::move(a));
    }
    return seq;
  }

  /// Reads a quantifier at the cursor, if there is one.
  bool quantifier(int& min, int& max) {
    switch (peek()) {
      case '*':
        ++at_;
        min = 0, max = -1;
        return true;
      case '+':
        ++at_;
        min = 1, max = -1;
        return true;
      case '?':
        ++at_;
        min = 0, max = 1;
        return true;
      case '{': {
        const std::size_t start = at_;
        if (!braces(min, max)) {
          at_ = start;
          return false;  // a literal brace, as ECMAScript reads it
        }
        if (min > max_count || max > max_count) fail("repetition count over 1000");
        if (max != -1 && max < min) fail("repetition {n,m} with m < n");
        return true;
      }
      default:
        return false;
    }
  }

  bool braces(int& min, int& max) {
    ++at_;  // '{'
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

  Node leaf(Node::Kind kind) {
    Node n;
    n.kind = kind;
    return n;
  }
  Node byte(unsigned char c) {
    Node n = leaf(Node::Kind::byte);
    n.byte = c;
    return n;
  }
  Node set(const ByteSet& s) {
    Node n = leaf(Node::Kind::set);
    n.set = static_cast<std::uint32_t>(sets_.size());
    sets_.push_back(s);
    return n;
  }

  Node atom() {
    const char c = p_[at_++];
    switch (c) {
      case '(': {
        if (++depth_ > max_depth) fail("groups nested over 64 deep");
        if (more() && peek() == '?') {
          if (at_ + 1 < p_.size() && p_[at_ + 1] == ':') {
            at_ += 2;
          } else {
            fail("lookahead, lookbehind and named groups are not supported");
          }
        }
        Node inner = alternation();
        if (!more() || peek() != ')') fail("missing )");
        ++at_;
        --depth_;
        return inner;
      }
      case '[':
        return set(bracket());
      case '.':
        return leaf(Node::Kind::any);
      case '^':
        return leaf(Node::Kind::begin);
      case '$':
        return leaf(Node::Kind::end);
      case '*':
      case '+':
      case '?':
        --at_;
        fail("nothing to repeat");
      case '{': {
        int min = 0, max = 0;
        const std::size_t start = --at_;
        if (braces(min, max)) {
          at_ = start;
          fail("nothing to repeat");
        }
        at_ = start + 1;
        return byte('{');
      }
      case '\\':
        return escape();
      default:
        return byte(static_cast<unsigned char>(c));
    }
  }

  static ByteSet class_of(char letter) {
    ByteSet s;
    switch (letter | 0x20) {
      case 'd':
        for (int c = '0'; c <= '9'; ++c) s.set(c);
        break;
      case 'w':
        for (int c = 0; c < 256; ++c) s[c] = is_word(static_cast<unsigned char>(c));
        break;
      case 's':
        for (int c : {' ', '\t', '\n', '\r', '\f', '\v'}) s.set(c);
        break;
    }
    if (letter >= 'A' && letter <= 'Z') s.flip();
    return s;
  }

 public:
  static bool is_word(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }

 private:
  unsigned hex(std::size_t digits) {
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
  int byte_escape(char letter) {
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

  Node escape() {
    if (!more()) fail("pattern ends with \\");
    const char e = p_[at_++];
    switch (e) {
      case 'd':
      case 'D':
      case 'w':
      case 'W':
      case 's':
      case 'S':
        return set(class_of(e));
      case 'b':
        return leaf(Node::Kind::word);
      case 'B':
        return leaf(Node::Kind::not_word);
      default:
        break;
    }
    if (e >= '1' && e <= '9') fail("backreferences are not supported");
    const int b = byte_escape(e);
    if (b < 0) fail(std::string("unknown escape \\") + e);
    return byte(static_cast<unsigned char>(b));
  }

  ByteSet bracket() {
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
      int low = member(s);
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
  int member(ByteSet& s) {
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

  std::string_view p_;
  std::vector<ByteSet>& sets_;
  std::size_t at_ = 0;
  int depth_ = 0;
};

inline std::uint32_t Regex::add(Instruction i) {
  // Counted repetitions copy their body: bound the program, not only the pattern.
  if (program_.size() >= 20000) {
    throw std::invalid_argument("pattern too large once repetitions are expanded");
  }
  program_.push_back(i);
  return static_cast<std::uint32_t>(program_.size() - 1);
}

inline void Regex::emit(const Node& node) {
  using Kind = Node::Kind;
  switch (node.kind) {
    case Kind::empty:
      return;
    case Kind::byte:
      add({Op::byte, node.byte, 0, 0});
      return;
    case Kind::set:
      add({Op::set, 0, node.set, 0});
      return;
    case Kind::any:
    case Kind::begin:
    case Kind::end:
    case Kind::word:
    case Kind::not_word: {
      const Op op = node.kind == Kind::any     ? Op::any
                    : node.kind == Kind::begin ? Op::begin
                    : node.kind == Kind::end   ? Op::end
                    : node.kind == Kind::word  ? Op::word
                                               : Op::not_word;
      add({op, 0, 0, 0});
      return;
    }
    case Kind::concat:
      for (const auto& child : node.children) emit(child);
      return;
    case Kind::alternation: {
      std::vector<std::uint32_t> jumps;
      for (std::size_t i = 0; i + 1 < node.children.size(); ++i) {
        const auto split = add({Op::split, 0, 0, 0});
        program_[split].x = split + 1;
        emit(node.children[i]);
        jumps.push_back(add({Op::jump, 0, 0, 0}));
        program_[split].y = static_cast<std::uint32_t>(program_.size());
      }
      emit(node.children.back());
      for (const auto j : jumps) program_[j].x = static_cast<std::uint32_t>(program_.size());
      return;
    }
    case Kind::repeat: {
      const Node& body = node.children.front();
      for (int i = 0; i < node.min; ++i) emit(body);
      if (node.max == -1) {
        const auto split = add({Op::split, 0, 0, 0});
        program_[split].x = split + 1;
        emit(body);
        add({Op::jump, 0, split, 0});
        program_[split].y = static_cast<std::uint32_t>(program_.size());
        return;
      }
      std::vector<std::uint32_t> splits;
      for (int i = node.min; i < node.max; ++i) {
        const auto split = add({Op::split, 0, 0, 0});
        program_[split].x = split + 1;
        splits.push_back(split);
        emit(body);
      }
      for (const auto s : splits) program_[s].y = static_cast<std::uint32_t>(program_.size());
      return;
    }
  }
}

inline Regex Regex::compile(std::string_view pattern) {
  Regex r;
  const Node root = Parser(pattern, r.sets_).parse();
  r.emit(root);
  r.add({Op::match, 0, 0, 0});
  // The bytes a match can begin with: where no live state is left, the search skips
  // ahead to the next of them instead of starting a state at every byte.
  std::vector<std::uint32_t> stack{0};
  std::vector<bool> seen(r.program_.size());
  r.first_known_ = true;
  while (!stack.empty() && r.first_known_) {
    const auto pc = stack.back();
    stack.pop_back();
    if (seen[pc]) continue;
    seen[pc] = true;
    const Instruction& i = r.program_[pc];
    switch (i.op) {
      case Op::byte:
        r.first_.set(i.byte);
        break;
      case Op::set:
        r.first_ |= r.sets_[i.x];
        break;
      case Op::any:
        r.first_.set();
        r.first_.reset('\n');
        r.first_.reset('\r');
        break;
      case Op::split:
        stack.push_back(i.x);
        stack.push_back(i.y);
        break;
      case Op::jump:
        stack.push_back(i.x);
        break;
      default:  // an assertion or an empty match: any position may start one
        r.first_known_ = false;
        break;
    }
  }
  return r;
}

inline bool Regex::search(std::string_view text) const {
  // Reused per thread: judging a frame allocates nothing once they have grown.
  thread_local std::vector<std::uint32_t> current, next, stack;
  thread_local std::vector<std::size_t> mark;
  const std::size_t size = program_.size();
  if (mark.size() < size) mark.assign(size, ~std::size_t{0});
  for (std::size_t pc = 0; pc < size; ++pc) mark[pc] = ~std::size_t{0};
  current.clear();
  const std::size_t n = text.size();
  auto word_at = [&](std::size_t pos) {
    return pos < n && Parser::is_word(static_cast<unsigned char>(text[pos]));
  };
  // Follows jumps, splits and assertions from `start` at `pos`, adding the states that
  // read a byte to `list`; true when the match state is reached.
  auto close = [&](std::vector<std::uint32_t>& list, std::uint32_t start, std::size_t pos) {
    stack.clear();
    stack.push_back(start);
    while (!stack.empty()) {
      const auto pc = stack.back();
      stack.pop_back();
      if (mark[pc] == pos) continue;
      mark[pc] = pos;
      const Instruction& i = program_[pc];
      switch (i.op) {
        case Op::byte:
        case Op::set:
        case Op::any:
          list.push_back(pc);
          break;
        case Op::match:
          return true;
        case Op::jump:
          stack.push_back(i.x);
          break;
        case Op::split:
          stack.push_back(i.y);
          stack.push_back(i.x);
          break;
        case Op::begin:
          if (pos == 0) stack.push_back(pc + 1);
          break;
        case Op::end:
          if (pos == n) stack.push_back(pc + 1);
          break;
        case Op::word:
        case Op::not_word: {
          const bool boundary = (pos > 0 && word_at(pos - 1)) != word_at(pos);
          if (boundary == (i.op == Op::word)) stack.push_back(pc + 1);
          break;
        }
      }
    }
    return false;
  };
  for (std::size_t pos = 0;; ++pos) {
    if (current.empty() && first_known_) {
      while (pos < n && !first_[static_cast<unsigned char>(text[pos])]) ++pos;
      if (pos == n) return false;
    }
    if (close(current, 0, pos)) return true;
    if (pos == n) return false;
    const auto c = static_cast<unsigned char>(text[pos]);
    next.clear();
    for (const auto pc : current) {
      const Instruction& i = program_[pc];
      const bool takes = i.op == Op::byte  ? c == i.byte
                         : i.op == Op::set ? sets_[i.x][c]
                                           : c != '\n' && c != '\r';
      if (takes && close(next, pc + 1, pos + 1)) return true;
    }
    current.swap(next);
  }
}

}  // namespace wsload::detail
