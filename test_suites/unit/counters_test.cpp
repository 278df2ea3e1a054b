#include <wsload/merge.hpp>
#include <wsload/results/counters.hpp>
#include <wsload/results/summary_json.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <gtest/gtest.h>

namespace {

using namespace wsload;

// The tests below see Counters as an array of std::uint64_t, so that a counter added to
// the struct is covered without being named here. A member of another type (or padding)
// stops them compiling: then give them another way to reach every member.
static_assert(std::has_unique_object_representations_v<Counters> &&
                  sizeof(Counters) % sizeof(std::uint64_t) == 0,
              "every member of Counters is a std::uint64_t");
constexpr std::size_t counter_count = sizeof(Counters) / sizeof(std::uint64_t);
using CounterValues = std::array<std::uint64_t, counter_count>;

CounterValues values_of(const Counters& c) {
  CounterValues values;
  std::memcpy(values.data(), &c, sizeof c);
  return values;
}

/// Counters whose k-th member is first + k * step: each a different value.
Counters distinct(std::uint64_t first, std::uint64_t step) {
  CounterValues values;
  for (std::size_t k = 0; k < counter_count; ++k) values[k] = first + k * step;
  Counters c;
  std::memcpy(static_cast<void*>(&c), values.data(), sizeof c);  // trivially copyable
  return c;
}

/// A summary with distinct counts, made consistent where summary_from_json checks them:
/// total = successful + failed, the errors hold the failures, a latency per success.
Summary consistent_summary(std::uint64_t first, std::uint64_t step) {
  Summary s;
  static_cast<Counters&>(s) = distinct(first, step);
  s.total_requests = s.successful_requests + s.failed_requests;
  s.errors = {{ErrorKind::reply_timeout, "", s.failed_requests}};
  s.latency.record(1'000, static_cast<std::int64_t>(s.successful_requests));
  return s;
}

TEST(Counters, AddingAddsEveryCounter) {
  auto sum = distinct(1, 1);
  sum += distinct(1'000, 1'000);
  const auto values = values_of(sum);
  for (std::size_t k = 0; k < counter_count; ++k) {
    EXPECT_EQ(values[k], (k + 1) + 1'000 * (k + 1)) << "member " << k << " of Counters";
  }
}

TEST(Counters, EveryCounterSurvivesTheSummaryJson) {
  const auto s = consistent_summary(2, 3);
  const auto back = summary_from_json(to_json(s));
  const auto sent = values_of(s);
  const auto read = values_of(back);
  for (std::size_t k = 0; k < counter_count; ++k) {
    EXPECT_EQ(read[k], sent[k]) << "member " << k << " of Counters, through to_json and back";
  }
}

TEST(Counters, MergingShardsAddsEveryCounter) {
  std::vector<RunRecord> parts;
  for (std::size_t k = 0; k < 2; ++k) {
    auto s = consistent_summary(10 + k, 7 + k);
    s.shard = Shard{k, 2};
    parts.push_back({.summary = s, .source = "shard-" + std::to_string(k) + ".json"});
  }
  const auto merged = values_of(merge_shards(parts));
  const auto first = values_of(parts[0].summary);
  const auto second = values_of(parts[1].summary);
  for (std::size_t k = 0; k < counter_count; ++k) {
    EXPECT_EQ(merged[k], first[k] + second[k]) << "member " << k << " of Counters, merged";
  }
}

}  // namespace
