// GoogleTest integration: a fixture that runs loads, assertions over summaries, and
// value-parameterised test cases over a list of endpoints.
//
//   class ChatLoad : public wsload::LoadTest {};
//   TEST_F(ChatLoad, TwentyUsers) {
//     config_.prompts = wsload::read_prompts("prompts.txt");
//     config_.thresholds = {"p99<800ms"};
//     EXPECT_LOAD_OK(RunLoad());
//   }
#pragma once

#include <chrono>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <wsload/config_sources.hpp>
#include <wsload/engine.hpp>
#include <wsload/gtest/reporter.hpp>

namespace wsload {

namespace detail {

/// "ws://host/path, 20 connections, 400 requests, 3 failed: 2 reply_timeout, 1 closed_by_peer"
inline std::string load_context(const Summary& s) {
  std::string text;
  if (s.config.contains("url") && s.config["url"].is_string()) {
    text = s.config["url"].get<std::string>() + ", ";
  }
  text += std::to_string(s.connections_configured) + " connections, " +
          std::to_string(s.total_requests) + " requests, " + std::to_string(s.failed_requests) +
          " failed";
  std::string separator = ": ";
  for (const auto& e : s.errors) {
    text += separator + std::to_string(e.requests) + " " + std::string(to_string(e.kind)) +
            (e.detail.empty() ? "" : " (" + e.detail + ")");
    separator = ", ";
  }
  return text;
}

/// A summary that holds no run: what RunLoad returns when it refused the configuration
/// (a run's summary always carries its configuration).
inline bool holds_no_run(const Summary& s) {
  return s.config.empty() && s.total_requests == 0;
}

/// What one assertion judged: its verdicts, or why it could not judge.
struct Judgement {
  std::vector<Verdict> verdicts;
  std::string error;  ///< a malformed threshold expression
};

/// Nothing to judge: a skipped case (no URL; its skip message says why), a shard (its
/// figures are a part of the load's: `wsload merge` judges the whole), or a load RunLoad
/// refused to run, whose failure already says why (one failure, not one per assertion).
inline bool nothing_to_judge(const Summary& s) {
  return ::testing::Test::IsSkipped() || s.shard ||
         (holds_no_run(s) && ::testing::Test::HasFailure());
}

inline Judgement judge(const Summary& s, const std::vector<Threshold>& thresholds) {
  Judgement j;
  if (nothing_to_judge(s)) return j;
  for (const auto& t : thresholds) j.verdicts.push_back(s.verdict(t));
  return j;
}

inline ::testing::AssertionResult result_of(const Summary& s, const Judgement& j) {
  if (!j.error.empty()) return ::testing::AssertionFailure() << j.error;
  std::string failures;
  for (const auto& v : j.verdicts) {
    if (!v.passed) failures += "\n  " + v.expression + ": " + v.message;
  }
  if (failures.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "load thresholds not met:" << failures << "\n  (" << load_context(s) << ")";
}

/// "800ms" for whole milliseconds, "250us" for whole microseconds, else seconds: the
/// limit as a threshold literal.
inline std::string latency_literal(Seconds limit) {
  const double ms = limit.count() * 1e3;
  if (ms >= 1 && ms == std::floor(ms)) return format_number(ms, 0) + "ms";
  const double us = ms * 1e3;
  if (us >= 1 && us == std::floor(us)) return format_number(us, 0) + "us";
  return format_number(limit.count(), 9) + "s";
}

inline Judgement load_ok(const Summary& s) {
  Judgement j;
  if (!nothing_to_judge(s)) j.verdicts = s.verdicts;
  return j;
}

inline Judgement p99_below(const Summary& s, Seconds limit) {
  return judge(s, {parse_threshold("p99<" + latency_literal(limit))});
}

inline Judgement rps_at_least(const Summary& s, double rps) {
  return judge(s, {min_rps(rps)});
}

inline Judgement success_rate_at_least(const Summary& s, double percent) {
  return judge(s, {min_success_rate(percent)});
}

inline Judgement meets_thresholds(const Summary& s, std::initializer_list<std::string_view> exprs) {
  std::vector<Threshold> thresholds;
  try {
    for (auto e : exprs) thresholds.push_back(parse_threshold(e));
  } catch (const ConfigError& e) {
    return {{}, e.what()};
  }
  return judge(s, thresholds);
}

/// An assertion macro as written and where it is.
struct AssertionSite {
  const char* text;
  const char* file;
  int line;
};

/// Judges `s` with `judgement` (a callable taking the summary), records the verdicts in
/// the case's entry of the JSON report, and returns the assertion's result, its failure
/// message headed by the assertion as written.
template <class Judge>
::testing::AssertionResult asserted(const AssertionSite& site, const Summary& s,
                                    const Judge& judgement) {
  Judgement j = judgement(s);
  const std::string source = std::string(site.file) + ":" + std::to_string(site.line);
  for (auto& v : j.verdicts) {
    v.assertion = site.text;
    v.source = source;
  }
  const auto result = result_of(s, j);
  std::string message;
  if (!result) message = std::string(site.text) + ": " + result.message();
  Report::instance().record_assertion(s, j.verdicts, message);
  if (result) return result;
  return ::testing::AssertionFailure() << message;
}

}  // namespace detail

/// Every threshold of the run's configuration passed (the verdicts in the summary).
inline ::testing::AssertionResult LoadOk(const Summary& s) {
  return detail::result_of(s, detail::load_ok(s));
}

/// The p99 latency is below `limit`, e.g. P99Below(summary, 800ms).
inline ::testing::AssertionResult P99Below(const Summary& s, Seconds limit) {
  return detail::result_of(s, detail::p99_below(s, limit));
}

/// At least `rps` successful requests per second.
inline ::testing::AssertionResult RpsAtLeast(const Summary& s, double rps) {
  return detail::result_of(s, detail::rps_at_least(s, rps));
}

/// At least `percent` % of the requests succeeded.
inline ::testing::AssertionResult SuccessRateAtLeast(const Summary& s, double percent) {
  return detail::result_of(s, detail::success_rate_at_least(s, percent));
}

/// Every expression holds, e.g. MeetsThresholds(summary, {"p95<300ms", "errors==0"}).
/// A malformed expression fails the assertion with its parse error.
inline ::testing::AssertionResult MeetsThresholds(const Summary& s,
                                                  std::initializer_list<std::string_view> exprs) {
  return detail::result_of(s, detail::meets_thresholds(s, exprs));
}

// The macros below also record each verdict, with the macro as written and its file and
// line, in the case's entry of the JSON report (so its HTML and JUnit show them). The
// summary argument is evaluated once. The functions above judge without recording.
// NOLINTBEGIN(cppcoreguidelines-macro-usage): assertion macros, as GoogleTest's own.
#define WSLOAD_DETAIL_ASSERTION(text, summary, judge, on_failure)                          \
  GTEST_ASSERT_(::wsload::detail::asserted({text, __FILE__, __LINE__}, summary,            \
                                           [&](const ::wsload::Summary& wsload_summary_) { \
                                             return ::wsload::detail::judge;               \
                                           }),                                             \
                on_failure)
// `kind` is EXPECT or ASSERT, `fail` GoogleTest's failure of that kind, `name` the
// macro's name after the kind and `judge` the detail function judging the summary.
#define WSLOAD_DETAIL_LOAD_OK(kind, fail, summary) \
  WSLOAD_DETAIL_ASSERTION(#kind "_LOAD_OK(" #summary ")", summary, load_ok(wsload_summary_), fail)
#define WSLOAD_DETAIL_WITH_LIMIT(kind, name, judge, fail, summary, limit)        \
  WSLOAD_DETAIL_ASSERTION(#kind "_" #name "(" #summary ", " #limit ")", summary, \
                          judge(wsload_summary_, limit), fail)
#define WSLOAD_DETAIL_THRESHOLDS(kind, fail, summary, ...)                              \
  WSLOAD_DETAIL_ASSERTION(#kind "_THRESHOLDS(" #summary ", " #__VA_ARGS__ ")", summary, \
                          meets_thresholds(wsload_summary_, {__VA_ARGS__}), fail)

#define EXPECT_LOAD_OK(summary) WSLOAD_DETAIL_LOAD_OK(EXPECT, GTEST_NONFATAL_FAILURE_, summary)
#define ASSERT_LOAD_OK(summary) WSLOAD_DETAIL_LOAD_OK(ASSERT, GTEST_FATAL_FAILURE_, summary)
#define EXPECT_P99_BELOW(summary, limit) \
  WSLOAD_DETAIL_WITH_LIMIT(EXPECT, P99_BELOW, p99_below, GTEST_NONFATAL_FAILURE_, summary, limit)
#define ASSERT_P99_BELOW(summary, limit) \
  WSLOAD_DETAIL_WITH_LIMIT(ASSERT, P99_BELOW, p99_below, GTEST_FATAL_FAILURE_, summary, limit)
#define EXPECT_RPS_AT_LEAST(summary, rps)                                                        \
  WSLOAD_DETAIL_WITH_LIMIT(EXPECT, RPS_AT_LEAST, rps_at_least, GTEST_NONFATAL_FAILURE_, summary, \
                           rps)
#define ASSERT_RPS_AT_LEAST(summary, rps) \
  WSLOAD_DETAIL_WITH_LIMIT(ASSERT, RPS_AT_LEAST, rps_at_least, GTEST_FATAL_FAILURE_, summary, rps)
#define EXPECT_SUCCESS_RATE_AT_LEAST(summary, percent)                           \
  WSLOAD_DETAIL_WITH_LIMIT(EXPECT, SUCCESS_RATE_AT_LEAST, success_rate_at_least, \
                           GTEST_NONFATAL_FAILURE_, summary, percent)
#define ASSERT_SUCCESS_RATE_AT_LEAST(summary, percent)                           \
  WSLOAD_DETAIL_WITH_LIMIT(ASSERT, SUCCESS_RATE_AT_LEAST, success_rate_at_least, \
                           GTEST_FATAL_FAILURE_, summary, percent)
#define EXPECT_THRESHOLDS(summary, ...) \
  WSLOAD_DETAIL_THRESHOLDS(EXPECT, GTEST_NONFATAL_FAILURE_, summary, __VA_ARGS__)
#define ASSERT_THRESHOLDS(summary, ...) \
  WSLOAD_DETAIL_THRESHOLDS(ASSERT, GTEST_FATAL_FAILURE_, summary, __VA_ARGS__)
// NOLINTEND(cppcoreguidelines-macro-usage)

/// A fixture for load-test cases. `config_` starts from the environment overrides
/// (WSLOAD_URL, WSLOAD_CONNECTIONS, ...); RunLoad() applies them again over what the case
/// wrote, so one binary targets dev, staging or prod. Without a URL, the case is skipped
/// with a message saying which variable to set.
class LoadTest : public ::testing::Test {
 protected:
  LoadTest() {
    try {
      apply_environment(config_);
    } catch (const ConfigError& e) {
      environment_error_ = e.what();
    }
  }

  void TearDown() override {
    auto& report = detail::Report::instance();
    if (!report.installed()) {
      const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
      report.finish(*test);
    }
  }

  /// Runs `config` (with the environment's overrides) and returns its summary with the
  /// thresholds judged. Also records it for the JSON reporter, adds the headline figures
  /// to the XML as properties and prints them as CTest measurements. Invalid
  /// configuration fails the case (ADD_FAILURE) and returns an empty summary.
  Summary RunLoad(LoadConfig config) {
    if (!environment_error_.empty()) return refused(environment_error_);
    try {
      apply_environment(config);
    } catch (const ConfigError& e) {
      return refused(e.what());
    }
    if (config.url.empty()) {
      [] {
        GTEST_SKIP() << "no URL to load: set WSLOAD_URL (e.g. "
                        "WSLOAD_URL=wss://api.example.com/prod) or the url of the test's config";
      }();
      return Summary();
    }
    Summary summary;
    try {
      summary = Engine(config).run();
    } catch (const ConfigError& e) {
      return refused(e.what());
    }
    const std::string endpoint =
        config.name.empty() ? parse_url(config.url).redacted() : redact(config.name);
    detail::Report::instance().record(summary, endpoint);
    record_figures(summary);
    return summary;
  }

  /// Runs `config_`.
  Summary RunLoad() { return RunLoad(config_); }

  LoadConfig config_;

  /// Fails the case once for a load that cannot run; the assertions on the empty summary
  /// returned add no failure of their own.
  static Summary refused(const std::string& why) {
    ADD_FAILURE() << why << " (the load did not run)";
    return Summary();
  }

 private:
  static void record_figures(const Summary& s) {
    auto number = [](double v) { return detail::format_number(v, 6); };
    std::vector<std::pair<std::string, std::string>> figures = {
        {"wsload.requests", std::to_string(s.total_requests)},
        {"wsload.failed_requests", std::to_string(s.failed_requests)},
        {"wsload.success_rate", number(s.success_rate())},
        {"wsload.requests_per_second", number(s.requests_per_second())},
    };
    if (const auto mean = s.latency_mean()) {
      figures.emplace_back("wsload.average_latency", number(*mean));
      for (double p : {50.0, 95.0, 99.0}) {
        figures.emplace_back("wsload." + detail::percentile_label(p) + "_latency",
                             number(*s.latency_at(p)));
      }
    }
    for (const auto& [name, value] : figures) {
      RecordProperty(name, value);
      // CTest (and CDash) read these from the output as measurements.
      std::cout << "<CTestMeasurement type=\"numeric/double\" name=\"" << name << "\">" << value
                << "</CTestMeasurement>\n";
    }
    std::cout.flush();
  }

  std::string environment_error_;
};

/// One endpoint of a parameterised load test.
struct Endpoint {
  std::string name;  ///< becomes part of the test name (non-alphanumerics become '_')
  std::string url;
  std::string origin;
  std::vector<Header> headers;
  std::vector<std::string> prompts;
  std::string prompts_file;  ///< read when `prompts` is empty
  std::vector<std::string> thresholds;
  std::size_t connections = 0;  ///< 0: keep the case's value
  std::string error;            ///< set when the endpoint list could not be read

  /// `base` with this endpoint's fields applied. Throws ConfigError for a bad prompts file.
  LoadConfig apply_to(LoadConfig base) const {
    base.name = name;
    if (!url.empty()) base.url = url;
    if (!origin.empty()) base.origin = origin;
    base.headers.insert(base.headers.end(), headers.begin(), headers.end());
    if (!prompts.empty()) {
      base.prompts = prompts;
    } else if (!prompts_file.empty()) {
      base.prompts = read_prompts(prompts_file);
    }
    base.thresholds.insert(base.thresholds.end(), thresholds.begin(), thresholds.end());
    if (connections) base.connections = connections;
    return base;
  }
};

/// How GoogleTest prints an endpoint (in test listings and failures): name and URL.
inline void PrintTo(const Endpoint& endpoint, std::ostream* out) {
  *out << endpoint.name;
  if (!endpoint.url.empty()) *out << " (" << endpoint.url << ")";
}

/// Reads endpoints from JSON: an array of objects with "name" and "url" and optionally
/// "origin", "headers" (object of name: value), "prompts" (array), "prompts_file"
/// (relative to the JSON file), "thresholds" (array) and "connections".
/// Throws ConfigError naming the file and the entry.
inline std::vector<Endpoint> read_endpoints(const std::filesystem::path& file) {
  const std::string field = "endpoints file";
  std::ifstream in(file);
  if (!in) throw ConfigError(field, file.string(), "cannot be read");
  const auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_array() || j.empty()) {
    throw ConfigError(field, file.string(), "must hold a non-empty JSON array of endpoints");
  }
  std::vector<Endpoint> endpoints;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto& e = j[i];
    const std::string where = file.string() + " entry " + std::to_string(i);
    try {
      Endpoint ep;
      ep.name = e.at("name").get<std::string>();
      ep.url = e.at("url").get<std::string>();
      ep.origin = e.value("origin", "");
      if (e.contains("headers")) {
        for (const auto& [name, value] : e["headers"].items()) {
          ep.headers.push_back({name, value.get<std::string>()});
        }
      }
      ep.prompts = e.value("prompts", std::vector<std::string>{});
      if (e.contains("prompts_file")) {
        std::filesystem::path prompts = e["prompts_file"].get<std::string>();
        ep.prompts_file = (prompts.is_relative() ? file.parent_path() / prompts : prompts).string();
      }
      ep.thresholds = e.value("thresholds", std::vector<std::string>{});
      ep.connections = e.value("connections", std::size_t{0});
      if (ep.name.empty()) throw ConfigError(field, where, "\"name\" is empty");
      endpoints.push_back(std::move(ep));
    } catch (const nlohmann::json::exception& x) {
      throw ConfigError(field, where, std::string("is malformed: ") + x.what());
    }
  }
  return endpoints;
}

/// The endpoints of a parameterised test: from the file named by WSLOAD_ENDPOINTS when
/// set, else `defaults`. Never throws (it runs before main): an unreadable file gives one
/// endpoint whose `error` fails its case with the message.
inline std::vector<Endpoint> endpoints_from_environment(std::vector<Endpoint> defaults) {
  const char* file = std::getenv("WSLOAD_ENDPOINTS");
  if (!file || !*file) return defaults;
  try {
    return read_endpoints(file);
  } catch (const std::exception& e) {
    Endpoint broken;
    broken.name = "WSLOAD_ENDPOINTS";
    broken.error = e.what();
    return {broken};
  }
}

/// Test-name generator for INSTANTIATE_TEST_SUITE_P: the endpoint's name.
struct EndpointName {
  std::string operator()(const ::testing::TestParamInfo<Endpoint>& info) const {
    std::string name = info.param.name;
    for (auto& c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return name.empty() ? "endpoint_" + std::to_string(info.index) : name;
  }
};

/// A fixture for value-parameterised cases over endpoints:
///
///   class ChatEndpoints : public wsload::EndpointLoadTest {};
///   TEST_P(ChatEndpoints, MeetsItsThresholds) { EXPECT_LOAD_OK(RunLoad()); }
///   INSTANTIATE_TEST_SUITE_P(Chat, ChatEndpoints,
///       ::testing::ValuesIn(wsload::endpoints_from_environment({...})),
///       wsload::EndpointName());
class EndpointLoadTest : public LoadTest, public ::testing::WithParamInterface<Endpoint> {
 protected:
  /// Runs `config_` with the endpoint's fields applied.
  Summary RunLoad() { return RunLoad(config_); }
  Summary RunLoad(const LoadConfig& base) {
    if (!GetParam().error.empty()) return refused(GetParam().error);
    try {
      return LoadTest::RunLoad(GetParam().apply_to(base));
    } catch (const ConfigError& e) {
      return refused(e.what());
    }
  }
};

}  // namespace wsload
