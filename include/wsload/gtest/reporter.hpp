// The JSON reporter of a GoogleTest program: one entry per test case that ran a load,
// beside the gtest XML. Core + GoogleTest only (no Beast), so a main() that installs it
// compiles quickly.
#pragma once

#include <cerrno>  // program_invocation_short_name (GNU)
#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <wsload/render/html.hpp>
#include <wsload/results/runs.hpp>
#include <wsload/results/summary_json.hpp>

namespace wsload {

/// Where the reporter writes: WSLOAD_SUMMARY if set; else beside the gtest XML
/// (`--gtest_output=xml:out/report.xml` gives `out/report.wsload.json`; a directory
/// `xml:out/` gives `out/<program>.wsload.json`); else `wsload_summary.json`.
inline std::filesystem::path report_path(const std::string& program_name = "") {
  if (const char* env = std::getenv("WSLOAD_SUMMARY"); env && *env) return env;
  const std::string output = ::testing::GTEST_FLAG(output);
  if (output.rfind("xml", 0) == 0) {
    const auto colon = output.find(':');
    if (colon != std::string::npos && colon + 1 < output.size()) {
      const std::string xml = output.substr(colon + 1);
      if (xml.back() == '/') {
        std::string file = program_name.empty() ? std::string("test") : program_name;
        file.append(".wsload.json");  // not operator+: g++ 12 -O3 warns falsely there
        return std::filesystem::path(xml) / file;
      }
      std::filesystem::path path(xml);
      path.replace_extension(".wsload.json");
      return path;
    }
    return "test_detail.wsload.json";  // gtest's own default name, with our extension
  }
  return "wsload_summary.json";
}

namespace detail {

/// WSLOAD_HTML_REPORT: "1" writes the HTML report beside the JSON (same name, .html);
/// another value is the file to write; unset, empty or "0": none.
inline std::filesystem::path html_path_from_environment(const std::filesystem::path& json) {
  const char* env = std::getenv("WSLOAD_HTML_REPORT");
  if (!env || !*env || std::string_view(env) == "0") return {};
  if (std::string_view(env) != "1") return env;
  auto html = json;
  html.replace_extension(".html");
  return html;
}

/// The summaries of the test program, keyed by test case, and the file they go to.
/// Written after every load and every test end, so a crash loses nothing measured.
class Report {
 public:
  static Report& instance() {
    static Report report;
    return report;
  }

  void install(std::filesystem::path path) {
    std::lock_guard lock(mutex_);
    path_ = std::move(path);
    installed_ = true;
  }
  bool installed() {
    std::lock_guard lock(mutex_);
    return installed_;
  }

  /// Also writes the HTML report of every entry: to `path`, or beside the JSON when empty.
  void enable_html(std::filesystem::path path) {
    std::lock_guard lock(mutex_);
    html_enabled_ = true;
    html_path_ = std::move(path);
  }

  /// Called by LoadTest::RunLoad: the entry is written at once, marked "running".
  void record(const Summary& summary, const std::string& endpoint) {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    if (!test) return;  // outside a test case there is no case to file it under
    RunRecord run{.summary = summary,
                  .suite = test->test_suite_name(),
                  .test = test->name(),
                  .endpoint = endpoint,
                  .status = "running"};
    std::lock_guard lock(mutex_);
    // Without install_reporter() the same file is written, found when first needed.
    if (!installed_ && path_.empty()) path_ = report_path(program_invocation_short_name);
    runs_.push_back(std::move(run));
    fingerprints_.push_back(fingerprint(summary));
    flush_locked();
  }

  /// Called by the assertion macros: the verdicts join the `thresholds` of the entry of
  /// the current case whose load `summary` is. A verdict equal to one there that no
  /// assertion judged yet (EXPECT_LOAD_OK judges the configured thresholds again) only
  /// gets the assertion's name. `failure` is the message gtest shows when it failed.
  void record_assertion(const Summary& summary, const std::vector<Verdict>& verdicts,
                        const std::string& failure) {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    if (!test) return;
    const auto print = fingerprint(summary);
    std::lock_guard lock(mutex_);
    for (std::size_t i = runs_.size(); i-- > 0;) {
      auto& run = runs_[i];
      if (fingerprints_[i] != print || run.suite != test->test_suite_name() ||
          run.test != test->name()) {
        continue;
      }
      if (!failure.empty()) asserted_failures_.push_back(failure);
      auto& listed = run.summary.verdicts;
      for (const auto& v : verdicts) {
        const auto same = std::find_if(listed.begin(), listed.end(), [&](const Verdict& l) {
          return l.assertion.empty() && l.expression == v.expression && l.passed == v.passed &&
                 l.actual == v.actual && l.limit == v.limit;
        });
        if (same != listed.end()) {
          same->assertion = v.assertion;
          same->source = v.source;
        } else {
          listed.push_back(v);
        }
      }
      if (!verdicts.empty()) flush_locked();
      return;
    }
  }

  /// Called at the end of each test: its entries get the test's outcome, and the
  /// failures no assertion macro recorded (an EXPECT_EQ, a refused configuration).
  void finish(const ::testing::TestInfo& test) {
    const auto* result = test.result();
    const char* status = result->Skipped() ? "skipped" : result->Failed() ? "failed" : "passed";
    std::vector<CaseFailure> failures;
    std::lock_guard lock(mutex_);
    for (int i = 0; i < result->total_part_count(); ++i) {
      const auto& part = result->GetTestPartResult(i);
      if (!part.failed()) continue;
      const std::string message = part.summary();
      const bool asserted =
          std::any_of(asserted_failures_.begin(), asserted_failures_.end(),
                      [&](const std::string& f) { return message.rfind(f, 0) == 0; });
      if (asserted) continue;
      failures.push_back({std::string(part.file_name() ? part.file_name() : "") + ":" +
                              std::to_string(part.line_number()),
                          message});
    }
    asserted_failures_.clear();
    bool any = false;
    for (auto& run : runs_) {
      if (run.status == "running" && run.suite == test.test_suite_name() &&
          run.test == test.name()) {
        run.status = status;
        if (!failures.empty()) run.failures = failures;
        any = true;
      }
    }
    if (any) flush_locked();
  }

 private:
  /// What tells one load's summary from another's: all of it but the verdicts, which a
  /// case may judge again.
  static std::size_t fingerprint(const Summary& summary) {
    auto j = to_json(summary);
    j.erase("thresholds");
    j.erase("passed");
    return std::hash<std::string>{}(j.dump());
  }

  /// The cases of other processes in the file: each ctest test runs one case in its own
  /// process, and they share one file. Only a regular file has cases to keep (a FIFO or a
  /// device is written, never read back); one that is no report readable as such (a run's
  /// own summary included) is kept aside as `<file>.unreadable`, said on stderr, and
  /// replaced.
  std::vector<RunRecord> others_in_file_locked() const {
    std::vector<RunRecord> others;
    std::error_code not_a_file;
    if (!std::filesystem::is_regular_file(path_, not_a_file)) return others;
    try {
      auto read = read_runs(path_);
      if (std::any_of(read.begin(), read.end(), [](const RunRecord& r) { return !r.is_case(); })) {
        throw ConfigError(path_.string(), "", "holds a run's summary, not a GoogleTest report");
      }
      for (auto& old : read) {
        const bool mine = std::any_of(runs_.begin(), runs_.end(), [&](const RunRecord& run) {
          return run.suite == old.suite && run.test == old.test;
        });
        if (old.is_case() && !mine) others.push_back(std::move(old));
      }
    } catch (const ConfigError& e) {
      others.clear();
      auto aside = path_;
      aside += ".unreadable";
      std::error_code failed;
      std::filesystem::rename(path_, aside, failed);
      std::cerr << "wsload: " << e.what() << "; "
                << (failed ? "it is replaced"
                           : "kept as " + aside.string() + ", a new one is written")
                << '\n';
    }
    return others;
  }

  // Entries of the cases this process ran replace older ones; the others are kept.
  void flush_locked() {
    if (path_.empty()) return;
    auto merged = others_in_file_locked();
    merged.insert(merged.end(), runs_.begin(), runs_.end());
    try {
      // Before the first case ends, gtest has not yet made the directory of its XML.
      std::error_code ignored;
      if (path_.has_parent_path())
        std::filesystem::create_directories(path_.parent_path(), ignored);
      write_runs(path_, merged);
      write_html(merged);
    } catch (const ConfigError& e) {
      ADD_FAILURE() << e.what();
      path_.clear();  // one failure message, not one per test
    }
  }

  void write_html(const std::vector<RunRecord>& runs) {
    std::filesystem::path html = html_path_from_environment(path_);
    if (html_enabled_) {
      html = html_path_;
      if (html.empty()) html = std::filesystem::path(path_).replace_extension(".html");
    }
    if (html.empty()) return;
    write_file_atomically(html, html_report(runs, "wsload: " + path_.filename().string()),
                          "HTML report");
  }

  std::mutex mutex_;
  std::filesystem::path path_;
  bool html_enabled_ = false;
  std::filesystem::path html_path_;
  bool installed_ = false;
  std::vector<RunRecord> runs_;                 ///< the cases this process ran
  std::vector<std::size_t> fingerprints_;       ///< of runs_' summaries, one each
  std::vector<std::string> asserted_failures_;  ///< of the current case, by the macros
};

class ReportListener : public ::testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const ::testing::TestInfo& test) override { Report::instance().finish(test); }
};

}  // namespace detail

/// Writes an HTML report of every load beside the JSON one (same name, .html), or to
/// `path`; updated with the JSON. WSLOAD_HTML_REPORT=1 (or a path) does the same without
/// code.
inline void write_html_report(std::filesystem::path path = {}) {
  detail::Report::instance().enable_html(std::move(path));
}

/// Installs the JSON reporter; call after ::testing::InitGoogleTest (which reads
/// --gtest_output). Idempotent. `program_name` names the file when the XML output is a
/// directory.
inline void install_reporter(const std::string& program_name = program_invocation_short_name) {
  static std::once_flag once;
  std::call_once(once, [&] {
    detail::Report::instance().install(report_path(program_name));
    ::testing::UnitTest::GetInstance()->listeners().Append(new detail::ReportListener);
  });
}

}  // namespace wsload
