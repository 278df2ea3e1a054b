// The files a run or a merge writes (summary JSON, HTML report, JUnit XML): checked before
// any traffic, written each on its own so one failure does not cost the others.
#pragma once

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
    std::vector<std::string> written;
    std::optional<ConfigError> failed;
    const auto attempt = [&](const std::string& path, const auto& write_it) {
      if (path.empty()) return;
      try {
        write_it();
        written.push_back(path);
      } catch (const ConfigError& e) {
        if (!failed) failed = e;
      }
    };
    attempt(summary, [&] { write_runs(summary, runs, summary_flag); });
    attempt(report, [&] { write_file_atomically(report, html_report(runs), "--report"); });
    attempt(junit, [&] { write_file_atomically(junit, junit_xml(runs), "--junit"); });
    if (failed) throw *failed;
    return written;
  }
};

}  // namespace wsload::cli::detail
