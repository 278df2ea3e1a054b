#include <wsload/histogram.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using wsload::Histogram;

std::int64_t exact_percentile(std::vector<std::int64_t> sorted, double p) {
  std::sort(sorted.begin(), sorted.end());
  auto rank = static_cast<std::size_t>(std::max(1.0, std::round(p / 100.0 * sorted.size())));
  return sorted[std::min(rank, sorted.size()) - 1];
}

std::vector<std::int64_t> lognormal_latencies(std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(std::log(20'000.0), 0.8);  // around 20 ms in us
  std::vector<std::int64_t> values(n);
  for (auto& v : values) v = std::max<std::int64_t>(1, static_cast<std::int64_t>(dist(rng)));
  return values;
}

TEST(Histogram, LayoutMatchesHdrHistogramAtThreeDigits) {
  Histogram h;
  // 2048 sub-buckets, 22 buckets for 1 us .. 1 h: (22 + 1) * 1024 counts.
  EXPECT_EQ(h.counts().size(), 23u * 1024u);
  EXPECT_EQ(h.lowest_equivalent(20000), 20000);
  EXPECT_EQ(h.lowest_equivalent(20017), 20016);
  EXPECT_EQ(h.highest_equivalent(20000), 20015);
  EXPECT_EQ(h.highest_equivalent(2047), 2047);  // exact below 2048
}

TEST(Histogram, PercentilesWithinOneTenthPercentOfExact) {
  const auto values = lognormal_latencies(200'000, 7);
  Histogram h;
  for (auto v : values) h.record(v);
  for (double p : {1.0, 10.0, 50.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0}) {
    const double exact = static_cast<double>(exact_percentile(values, p));
    const double got = static_cast<double>(h.value_at_percentile(p));
    EXPECT_LE(std::abs(got - exact), exact * 0.001 + 1) << "p" << p;
    EXPECT_GE(got, exact) << "never understates, p" << p;
  }
}

TEST(Histogram, CountMinMaxMeanAreExact) {
  const auto values = lognormal_latencies(10'000, 3);
  Histogram h;
  double sum = 0;
  for (auto v : values) h.record(v), sum += static_cast<double>(v);
  EXPECT_EQ(h.count(), 10'000);
  EXPECT_EQ(h.min(), *std::min_element(values.begin(), values.end()));
  EXPECT_EQ(h.max(), *std::max_element(values.begin(), values.end()));
  EXPECT_DOUBLE_EQ(h.mean(), sum / 10'000);
}

TEST(Histogram, StddevOfKnownData) {
  Histogram h;
  for (int i = 0; i < 1000; ++i) h.record(1000), h.record(3000);
  EXPECT_NEAR(h.stddev(), 1000.0, 2.0);
}

TEST(Histogram, EmptyReportsZeros) {
  Histogram h;
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.value_at_percentile(99), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.mean(), 0);
  const auto back = Histogram::decode(h.encode());
  EXPECT_TRUE(back.empty());
}

TEST(Histogram, ClampsOutOfRangeValues) {
  Histogram h;
  h.record(-5);
  h.record(Histogram::default_highest * 10);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), Histogram::default_highest);
}

TEST(Histogram, MergeIsLossless) {
  const auto values = lognormal_latencies(50'000, 11);
  Histogram whole, a, b;
  for (std::size_t i = 0; i < values.size(); ++i) {
    whole.record(values[i]);
    (i % 3 ? a : b).record(values[i]);
  }
  a.merge(b);
  EXPECT_EQ(a.counts(), whole.counts());
  EXPECT_EQ(a.count(), whole.count());
  EXPECT_EQ(a.min(), whole.min());
  EXPECT_EQ(a.max(), whole.max());
  EXPECT_DOUBLE_EQ(a.mean(), whole.mean());
  for (double p : {50.0, 99.0, 99.9})
    EXPECT_EQ(a.value_at_percentile(p), whole.value_at_percentile(p));
}

TEST(Histogram, MergeAcrossLayoutsStaysWithinPrecision) {
  Histogram coarse(1, 3'600'000'000, 2);
  Histogram fine;
  for (int v = 1000; v < 100000; v += 7) coarse.record(v);
  fine.merge(coarse);
  EXPECT_EQ(fine.count(), coarse.count());
  EXPECT_NEAR(static_cast<double>(fine.value_at_percentile(50)),
              static_cast<double>(coarse.value_at_percentile(50)),
              coarse.value_at_percentile(50) * 0.01);
}

TEST(Histogram, EncodeDecodeRoundTrip) {
  const auto values = lognormal_latencies(20'000, 5);
  Histogram h;
  for (auto v : values) h.record(v);
  const auto text = h.encode();
  EXPECT_EQ(text.rfind("HISTF", 0), 0u) << "compressed V2 base64 starts with HISTF";
  auto back = Histogram::decode(text);
  EXPECT_EQ(back.counts(), h.counts());
  EXPECT_EQ(back.count(), h.count());
  back.restore_exact(h.min(), h.max(), h.sum());
  for (double p : {50.0, 90.0, 99.0, 99.9})
    EXPECT_EQ(back.value_at_percentile(p), h.value_at_percentile(p));
}

TEST(Histogram, DecodeRejectsCorruptInputWithoutCrashing) {
  Histogram h;
  h.record(42);
  const auto good = h.encode();
  for (std::string bad : {std::string("not base64!"), std::string("AAAA"), good.substr(0, 12),
                          std::string("HISTFAAAAC14nJNpmSzMwMDAxcDAwMjAwMDMAAEgNsO1yUsY4Hw=")}) {
    EXPECT_THROW(Histogram::decode(bad, "latency"), wsload::ConfigError) << bad;
  }
}

// RFC 4648's test vectors, and bytes of every value.
TEST(Base64, EncodesAndDecodesPaddedStandardBase64) {
  const std::vector<std::pair<std::string, std::string>> vectors = {{"", ""},
                                                                    {"f", "Zg=="},
                                                                    {"fo", "Zm8="},
                                                                    {"foo", "Zm9v"},
                                                                    {"foob", "Zm9vYg=="},
                                                                    {"fooba", "Zm9vYmE="},
                                                                    {"foobar", "Zm9vYmFy"}};
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(wsload::detail::base64_encode(bytes), text);
    EXPECT_EQ(wsload::detail::base64_decode(text), bytes) << text;
  }
  std::string every;
  for (int c = 0; c < 256; ++c) every += static_cast<char>(c);
  for (std::size_t size = 250; size <= 256; ++size) {
    const auto bytes = every.substr(0, size);
    EXPECT_EQ(wsload::detail::base64_decode(wsload::detail::base64_encode(bytes)), bytes);
  }
  EXPECT_EQ(wsload::detail::base64_encode("\xfb\xff"), "+/8=");
}

// OpenSSL's EVP_DecodeBlock alone would take some of these: it skips whitespace and line
// ends at either end, reads '=' anywhere as zero bits and counts padding as bytes.
TEST(Base64, RefusesWhatIsNotExactlyPaddedStandardBase64) {
  const std::vector<std::string> refused = {"Zg",
                                            "Zg=",
                                            "Zm9vY",
                                            "Zg=a",
                                            "Z===",
                                            "====",
                                            "Zg==Zg==",
                                            "Z=g=",
                                            "=Zm9",
                                            "Zm=v",
                                            " Zm9v",
                                            "Zm9v ",
                                            "    Zm9v",
                                            "Zm9v    ",
                                            "Zm9v\n\n\n\n",
                                            "\n\n\n\nZm9v",
                                            "Zm9v\r\n\r\n",
                                            "Zm9v----",
                                            "\tZm9vYmF",
                                            "Zm 9",
                                            "Zm\n9",
                                            "Zm-v",
                                            "Zm_v",
                                            "Zm9\x80",
                                            std::string("Zm9v\0\0\0\0", 8),
                                            std::string("Zm9\0", 4)};
  for (const auto& bad : refused) {
    EXPECT_EQ(wsload::detail::base64_decode(bad), std::nullopt) << "'" << bad << "'";
  }
}

// What the reader has always taken: trailing bits under the padding are not checked.
TEST(Base64, IgnoresTheUnusedBitsOfThePaddedGroup) {
  EXPECT_EQ(wsload::detail::base64_decode("Zh=="), "f");
  EXPECT_EQ(wsload::detail::base64_decode("Zm9="), "fo");
}

class HdrReference : public ::testing::Test {
 protected:
  static nlohmann::json load() {
    std::ifstream in(WSLOAD_TEST_DATA_DIR "/hdr_reference.json");
    return nlohmann::json::parse(in);
  }
  static Histogram recorded(const std::string& name, const nlohmann::json& ref) {
    Histogram h;
    if (name == "ramp") {
      for (int i = 1; i <= 1000; ++i) h.record(37 * i);
    } else {
      for (const auto& pair : ref["values"])
        h.record(pair[0].get<std::int64_t>(), pair[1].get<std::int64_t>());
    }
    return h;
  }
};

// Strings produced by the reference JavaScript implementation (hdr-histogram-js).
TEST_F(HdrReference, DecodesReferenceEncodingsToTheSameCounts) {
  const auto ref = load();
  for (const char* name : {"small", "wide", "ramp"}) {
    const auto& c = ref[name];
    const auto mine = recorded(name, c);
    const auto theirs = Histogram::decode(c["encoded"].get<std::string>());
    EXPECT_EQ(theirs.counts(), mine.counts()) << name;
    EXPECT_EQ(theirs.count(), c["total"].get<std::int64_t>()) << name;
    EXPECT_EQ(mine.min(), c["min"].get<std::int64_t>()) << name;
    EXPECT_EQ(mine.max(), c["max"].get<std::int64_t>()) << name;
    for (const auto& [key, p] :
         {std::pair{"p50", 50.0}, {"p90", 90.0}, {"p99", 99.0}, {"p999", 99.9}}) {
      // The reference reports the bucket's highest equivalent value; wsload clamps to the exact
      // max.
      EXPECT_EQ(mine.value_at_percentile(p), std::min(c[key].get<std::int64_t>(), mine.max()))
          << name << " " << key;
    }
  }
}

TEST_F(HdrReference, EncodesTheSameUncompressedBytes) {
  const auto ref = load();
  auto inflate = [](const std::string& base64) {
    const auto bytes = wsload::detail::base64_decode(base64).value();
    std::string raw;
    EXPECT_TRUE(wsload::detail::inflate_bounded(std::string_view(bytes).substr(8), raw, 1 << 20));
    return raw;
  };
  for (const char* name : {"small", "wide", "ramp"}) {
    const auto mine = inflate(recorded(name, ref[name]).encode());
    const auto theirs = inflate(ref[name]["encoded"].get<std::string>());
    // Cookie, payload length, digits, lowest, highest, then the counts: byte for byte.
    EXPECT_EQ(mine.substr(0, 8), theirs.substr(0, 8)) << name;
    EXPECT_EQ(mine.substr(12, 20), theirs.substr(12, 20)) << name;
    EXPECT_EQ(mine.substr(40), theirs.substr(40)) << name;
  }
}

}  // namespace
