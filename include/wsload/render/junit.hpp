// JUnit XML of runs, in which each threshold is a test case, for CI systems that show
// JUnit without a plugin.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <wsload/detail/format.hpp>
#include <wsload/render/console.hpp>
#include <wsload/results/runs.hpp>

namespace wsload {

/// JUnit XML: a test suite per run and a test case per threshold, its failure text the
/// verdict's sentence; an assertion's verdict is named by the assertion. A run that was
/// interrupted or cut short by its deadline gets an error case too, so CI shows the
/// figures are partial; a GoogleTest case's other failures are failing cases, and a case
/// that never finished an error.
inline std::string junit_xml(const std::vector<RunRecord>& runs) {
  using detail::escape_markup;
  std::size_t tests = 0, failures = 0, errors = 0;
  double time = 0;
  std::string suites;
  for (const auto& run : runs) {
    const auto& s = run.summary;
    std::string cases;
    std::size_t suite_failures = 0, suite_errors = 0, suite_tests = 0;
    const std::string label = run.label();
    const std::string classname = "wsload." + label;
    const auto failing_case = [&](const std::string& name, const std::string& message,
                                  const std::string& type, const std::string& text) {
      ++suite_tests;
      ++suite_failures;
      cases += "    <testcase classname=\"" + escape_markup(classname) + "\" name=\"" +
               escape_markup(name) + "\" time=\"0\">\n      <failure message=\"" +
               escape_markup(message) + "\" type=\"" + type + "\">" + escape_markup(text) +
               "</failure>\n    </testcase>\n";
    };
    for (const auto& v : s.verdicts) {
      // An assertion's verdict is named by the assertion; a configured one by its expression.
      const std::string name =
          v.assertion.empty() ? v.expression : v.assertion + " [" + v.expression + "]";
      if (!v.passed) {
        failing_case(name, v.message, v.assertion.empty() ? "threshold" : "assertion",
                     (v.assertion.empty() ? "" : v.assertion + " at " + v.source + ": ") +
                         v.expression + ": " + v.message);
        continue;
      }
      ++suite_tests;
      cases += "    <testcase classname=\"" + escape_markup(classname) + "\" name=\"" +
               escape_markup(name) + "\" time=\"0\"></testcase>\n";
    }
    for (const auto& f : run.failures) {
      failing_case("failure at " + f.source, f.message, "assertion", f.source + ": " + f.message);
    }
    if (run.failures.empty() && s.passed() && run.status == "failed") {
      failing_case("test case", "the test case failed", "test_case",
                   "the GoogleTest case failed; see its output");
    }
    if (run.status == "running") {
      ++suite_tests;
      ++suite_errors;
      cases += "    <testcase classname=\"" + escape_markup(classname) +
               "\" name=\"test case finished\" time=\"0\">\n      <error message=\"the test "
               "case did not finish\" type=\"crashed\">the test case did not finish (it crashed "
               "or was killed); the figures are those its load recorded</error>\n    "
               "</testcase>\n";
    }
    if (s.interrupted || s.deadline_exceeded) {
      ++suite_tests;
      ++suite_errors;
      const std::string why = s.interrupted ? "the run was interrupted"
                                            : "the run's deadline ended it before it finished";
      cases += "    <testcase classname=\"" + escape_markup(classname) +
               "\" name=\"run completed\" time=\"" +
               detail::format_number(s.total_time.count(), 3) + "\">\n      <error message=\"" +
               escape_markup(why) + "\" type=\"" +
               (s.interrupted ? "interrupted" : "run_deadline") + "\">" + escape_markup(why) +
               "; the figures cover the part that ran</error>\n    </testcase>\n";
    }
    const bool skipped = suite_tests == 0;
    if (skipped) {
      ++suite_tests;
      cases += "    <testcase classname=\"" + escape_markup(classname) +
               "\" name=\"no thresholds\" time=\"0\">\n      <skipped message=\"" +
               (s.shard ? std::string("a shard judges no threshold; its merge does")
                        : std::string("no threshold was set")) +
               "\"/>\n    </testcase>\n";
    }
    std::string properties = "    <properties>\n";
    const auto property = [&properties](const std::string& name, const std::string& value) {
      properties += "      <property name=\"" + escape_markup(name) + "\" value=\"" +
                    escape_markup(value) + "\"/>\n";
    };
    if (s.config.contains("url") && s.config["url"].is_string()) {
      property("url", s.config["url"].get<std::string>());  // redacted in the summary
    }
    property("requests", std::to_string(s.total_requests));
    property("failed_requests", std::to_string(s.failed_requests));
    property("requests_per_second", detail::format_number(s.requests_per_second(), 3));
    if (const auto p99 = s.latency_at(99)) property("p99_latency", detail::format_number(*p99, 6));
    properties += "    </properties>\n";
    suites += "  <testsuite name=\"" + escape_markup(label) + "\" tests=\"" +
              std::to_string(suite_tests) + "\" failures=\"" + std::to_string(suite_failures) +
              "\" errors=\"" + std::to_string(suite_errors) + "\" skipped=\"" +
              std::to_string(skipped ? 1 : 0) + "\" time=\"" +
              detail::format_number(s.total_time.count(), 3) + "\"" +
              (s.started_at.empty() ? "" : " timestamp=\"" + escape_markup(s.started_at) + "\"") +
              ">\n" + properties + cases + "    <system-out>" + escape_markup(format_report(s)) +
              "</system-out>\n  </testsuite>\n";
    tests += suite_tests;
    failures += suite_failures;
    errors += suite_errors;
    time += s.total_time.count();
  }
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"wsload\" tests=\"" +
         std::to_string(tests) + "\" failures=\"" + std::to_string(failures) + "\" errors=\"" +
         std::to_string(errors) + "\" time=\"" + detail::format_number(time, 3) + "\">\n" + suites +
         "</testsuites>\n";
}

}  // namespace wsload
