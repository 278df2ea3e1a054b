// The files a run or a merge writes (summary JSON, HTML report, JUnit XML): checked before
// any traffic, written each on its own so one failure does not cost the others.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/errors.hpp>
#include <wsload/render/html.hpp>
#include <wsload/render/junit.hpp>
#include <wsload/results/output.hpp>
#include <wsload/results/runs.hpp>

namespace wsload::cli::detail {

/// A file to write: its path (empty: not asked for) and what writes it.
struct PendingWrite {
  std::string path;
  std::function<void()> write;
};

/// Writes each file asked for, one failure not costing the others; returns the paths
/// written, or throws the first ConfigError after trying them all.
inline std::vector<std::string> write_each(const std::vector<PendingWrite>& writes) {
  std::vector<std::string> written;
  std::optional<ConfigError> failed;
  for (const auto& w : writes) {
    if (w.path.empty()) continue;
    try {
      w.write();
      written.push_back(w.path);
    } catch (const ConfigError& e) {
      if (!failed) failed = e;
    }
  }
  if (failed) throw *failed;
  return written;
}

/// Where a run's or a merge's results go; empty: not written; "-": standard output.
struct OutputFiles {
  std::string summary;
  std::string report;  ///< HTML
  std::string junit;   ///< JUnit XML
  std::string summary_flag = "--summary";

  /// Some output goes to standard output: the console text goes to stderr instead.
  bool uses_stdout() const { return summary == "-" || report == "-" || junit == "-"; }

  /// Refuses, before anything is sent, a path that cannot be written, and two outputs on
  /// standard output (`json`: the summary is printed there too).
  void check(bool json = false) const {
    check_output_path(summary, summary_flag);
    check_output_path(report, "--report");
    check_output_path(junit, "--junit");
    std::string taken = json && summary != "-" ? "--json" : "";
    for (const auto& [path, flag] :
         {std::pair(&summary, summary_flag), std::pair(&report, std::string("--report")),
          std::pair(&junit, std::string("--junit"))}) {
      if (*path != "-") continue;
      if (!taken.empty()) {
        throw ConfigError(flag, "-", "standard output already carries " + taken);
      }
      taken = flag;
    }
  }

  /// Writes every file asked for; returns what was written, or throws the first
  /// ConfigError after trying them all (a failed report must not cost the summary).
  std::vector<std::string> write(const std::vector<RunRecord>& runs) const {
    return write_each(
        {{summary, [&] { write_runs(summary, runs, summary_flag); }},
         {report, [&] { write_file_atomically(report, html_report(runs), "--report"); }},
         {junit, [&] { write_file_atomically(junit, junit_xml(runs), "--junit"); }}});
  }
};

}  // namespace wsload::cli::detail
