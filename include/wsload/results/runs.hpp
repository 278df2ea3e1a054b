// Runs as the files hold them: a run's (or a merge's) summary is one run, a GoogleTest
// reporter's file one run per test case. read_runs is the one reader of those files and
// write_runs / write_summary their writers; every consumer (the CLI, the GoogleTest
// reporter, compare, report, merge) goes through them.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/errors.hpp>
#include <wsload/results/output.hpp>
#include <wsload/results/summary.hpp>
#include <wsload/results/summary_json.hpp>

namespace wsload {

/// The layout of the GoogleTest reporter's file: one summary per test case.
inline constexpr std::string_view gtest_report_schema = "wsload.gtest-report/1";

/// A failure of a GoogleTest case that no wsload assertion recorded as a verdict (an
/// EXPECT_EQ, a configuration RunLoad refused): where it is and what gtest said.
struct CaseFailure {
  std::string source;  ///< "file:line"
  std::string message;
};

/// One run: its summary and verdicts, where it came from, and for a GoogleTest case the
/// case, its endpoint, how it ended and its failures besides the verdicts.
struct RunRecord {
  /// What it goes by in reports when not what label() makes of it; usually empty.
  std::string name{};
  Summary summary = Summary();  // not `{}`: each Histogram's constructor is explicit
  std::string source{};         ///< the file it was read from; empty when made in this process
  std::string suite{};          ///< GoogleTest case (empty for a run's own summary)
  std::string test{};
  std::string endpoint{};
  /// "passed", "failed", "skipped", or "running" when the case never finished (it
  /// crashed); empty for a run's own summary, which its verdicts judge.
  std::string status{};
  std::vector<CaseFailure> failures{};

  /// A GoogleTest case's record (it names a suite or a test).
  bool is_case() const noexcept { return !suite.empty() || !test.empty(); }

  /// What reports call it: `name` when set, else "Suite.Test" for a GoogleTest case, else
  /// the summary's name, else its file's name.
  std::string label() const {
    if (!name.empty()) return name;
    if (is_case()) return case_name();
    if (!summary.name.empty()) return summary.name;
    return std::filesystem::path(source).filename().string();
  }

  /// Where it came from, as errors name it: the file, and a case's "Suite.Test":
  /// "loads.wsload.json (Echo.Fast)".
  std::string where() const { return is_case() ? source + " (" + case_name() + ")" : source; }

  /// A case passed when it ended passing; a run's own summary (or a case still running)
  /// when every verdict passed.
  bool passed() const {
    return status.empty() || status == "running" ? summary.passed() : status == "passed";
  }

  /// The case failed although no verdict did (an assertion of another kind, a crash).
  bool failed_besides_verdicts() const {
    return !failures.empty() || status == "failed" || status == "running";
  }

 private:
  std::string case_name() const { return suite + "." + test; }
};

/// The JSON document in the file `path`: a summary, a GoogleTest report. Throws
/// ConfigError naming the file when it is a directory, cannot be opened or is not JSON.
inline nlohmann::json read_json_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw ConfigError(path.string(), "", "is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path.string(), "", "cannot be opened");
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) throw ConfigError(path.string(), "", "is not valid JSON");
  return j;
}

namespace detail {

/// The document's "schema" is `schema` (false for a document of another shape).
inline bool has_schema(const nlohmann::json& document, std::string_view schema) {
  const auto it = document.find("schema");
  return it != document.end() && it->is_string() && it->get_ref<const std::string&>() == schema;
}

}  // namespace detail

/// The one rule that tells a GoogleTest reporter's file from a summary: its schema.
inline bool is_gtest_report(const nlohmann::json& document) {
  return detail::has_schema(document, gtest_report_schema);
}

/// A document of runs by its schema: a summary or a GoogleTest report (which read_runs
/// may still refuse, for what their figures say).
inline bool is_runs_document(const nlohmann::json& document) {
  return is_gtest_report(document) || detail::has_schema(document, summary_schema);
}

/// A run's JSON: its summary, and for a GoogleTest case the entry of a report
/// (the summary's keys with `suite`, `test`, `endpoint`, `status`, `passed`, `failures`).
inline nlohmann::json to_json(const RunRecord& run) {
  auto j = to_json(run.summary);
  if (!run.is_case()) return j;
  j["suite"] = run.suite;
  j["test"] = run.test;
  j["endpoint"] = run.endpoint;
  j["status"] = run.status;
  j["passed"] = run.passed();
  if (!run.failures.empty()) {
    auto& failures = j["failures"] = nlohmann::json::array();
    for (const auto& f : run.failures) {
      failures.push_back({{"source", f.source}, {"message", f.message}});
    }
  }
  return j;
}

/// The document read_runs reads back as `runs`: a run's own summary when it is the one
/// run and no GoogleTest case, else a GoogleTest report of the cases. Throws
/// std::invalid_argument for a run that is no case among others (no file holds that).
inline nlohmann::json runs_to_json(const std::vector<RunRecord>& runs) {
  if (runs.size() == 1 && !runs.front().is_case()) return to_json(runs.front());
  auto entries = nlohmann::json::array();
  for (const auto& run : runs) {
    if (!run.is_case()) {
      throw std::invalid_argument("runs_to_json: a report holds GoogleTest cases only");
    }
    entries.push_back(to_json(run));
  }
  return {{"schema", gtest_report_schema}, {"entries", std::move(entries)}};
}

namespace detail {

/// The run of one entry of a GoogleTest report read from `file`. Throws ConfigError
/// naming the file and the case when it is malformed.
inline RunRecord run_of_case(const nlohmann::json& entry, const std::string& file) {
  const auto text = [&entry](const char* key) {
    const auto it = entry.is_object() ? entry.find(key) : entry.end();
    return it != entry.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  RunRecord run{.source = file, .suite = text("suite"), .test = text("test")};
  if (entry.is_object() && !run.is_case()) {
    throw ConfigError(file, "", "malformed GoogleTest report: an entry names no suite and no test");
  }
  run.summary = summary_from_json(entry, run.is_case() ? run.where() : file);
  try {
    run.endpoint = entry.value("endpoint", std::string());
    run.status = entry.value("status", std::string());
    for (const auto& f : entry.value("failures", nlohmann::json::array())) {
      run.failures.push_back(
          {f.at("source").get<std::string>(), f.at("message").get<std::string>()});
    }
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(file, run.label(),
                      "malformed status or failures: " + detail::json_problem(e));
  }
  return run;
}

}  // namespace detail

/// The runs of a document read from `file`: a run's or a merge's summary (one run), or a
/// GoogleTest report (one run per test case that ran a load). Throws ConfigError naming
/// the file (and the case) and the key when it is neither, or a figure is wrong
/// (summary_from_json).
inline std::vector<RunRecord> runs_from_json(const nlohmann::json& document,
                                             const std::string& file) {
  if (!is_gtest_report(document)) {
    return {RunRecord{.summary = summary_from_json(document, file), .source = file}};
  }
  const auto entries = document.find("entries");
  if (entries == document.end() || !entries->is_array()) {
    throw ConfigError(file, "", "malformed GoogleTest report: it lacks the list 'entries'");
  }
  std::vector<RunRecord> runs;
  for (const auto& entry : *entries) runs.push_back(detail::run_of_case(entry, file));
  return runs;
}

/// The runs of a file: a run's or a merge's summary, or a GoogleTest report. Throws
/// ConfigError naming the file when it is missing, not JSON, or not one of those whose
/// figures add up.
inline std::vector<RunRecord> read_runs(const std::filesystem::path& path) {
  return runs_from_json(read_json_file(path), path.string());
}

/// Reads a summary file. Throws ConfigError naming the file when it is missing, not JSON,
/// or not a wsload summary whose figures add up.
inline Summary read_summary(const std::filesystem::path& path) {
  return summary_from_json(read_json_file(path), path.string());
}

/// Writes runs_to_json(runs), indented, to the output `path` (write_file_atomically;
/// `field` names it in errors).
inline void write_runs(const std::filesystem::path& path, const std::vector<RunRecord>& runs,
                       const std::string& field = "summary file") {
  write_file_atomically(path, runs_to_json(runs).dump(2) + "\n", field);
}

/// Writes the summary JSON (indented) atomically.
inline void write_summary(const Summary& summary, const std::filesystem::path& path) {
  write_runs(path, {RunRecord{.summary = summary}});
}

/// Runs with the same label (two files of the same load, say) get their file's name too.
inline void distinguish_labels(std::vector<RunRecord>& runs) {
  std::vector<std::string> labels;
  for (const auto& run : runs) labels.push_back(run.label());
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const bool shared = std::count(labels.begin(), labels.end(), labels[i]) > 1;
    if (shared && !runs[i].source.empty()) {
      runs[i].name =
          labels[i] + " (" + std::filesystem::path(runs[i].source).filename().string() + ")";
    }
  }
}

}  // namespace wsload
