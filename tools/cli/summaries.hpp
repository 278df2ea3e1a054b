// The commands over summary files: `wsload merge` (shards, or GoogleTest reports, into
// one), `wsload report` (HTML and JUnit of several runs) and `wsload compare` (two runs,
// case by case).
#pragma once

#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <wsload/compare.hpp>
#include <wsload/merge.hpp>
#include <wsload/render/console.hpp>
#include <wsload/render/html.hpp>
#include <wsload/render/junit.hpp>
#include <wsload/results/output.hpp>
#include <wsload/results/runs.hpp>

#include "errors.hpp"
#include "options.hpp"
#include "outputs.hpp"

namespace wsload::cli::detail {

/// `wsload merge`: summaries of shards, or GoogleTest reports of shards, into one.
inline int merge_and_report(const std::vector<std::string>& files, const OutputFiles& out,
                            bool json, bool quiet) {
  out.check(json);
  std::vector<std::pair<std::string, std::vector<RunRecord>>> inputs;
  for (const auto& file : files) inputs.emplace_back(file, read_runs(file));
  auto runs = merge_runs(inputs);
  const bool reports = runs.empty() || runs.front().is_case();
  if (!reports && runs.front().summary.name.empty()) runs.front().name = "merged";
  const auto written = out.write(runs);
  // A report's cases also fail for what a shard's case failed on besides thresholds.
  const bool passed =
      std::all_of(runs.begin(), runs.end(), [](const RunRecord& run) { return run.passed(); });
  std::ostream& console = out.uses_stdout() ? std::cerr : std::cout;
  if (json) {
    if (out.summary != "-") std::cout << runs_to_json(runs).dump(2) << '\n';
  } else {
    for (const auto& run : runs) {
      const auto& s = run.summary;
      if (quiet) {
        for (const auto& v : s.verdicts) {
          if (!v.passed) console << "FAIL  " << v.expression << "  " << v.message << '\n';
        }
      } else {
        console << format_report(s);
      }
    }
    if (quiet || reports) console << (passed ? "Result: PASS\n" : "Result: FAIL\n");
    if (!quiet) {
      for (const auto& path : written) {
        console << "Written: " << (path == "-" ? "standard output" : path) << '\n';
      }
    }
  }
  console.flush();
  return passed ? exit_passed : exit_threshold_failed;
}

/// What `wsload merge` was asked to do.
struct MergeOptions {
  std::vector<std::string> files;
  OutputFiles out{
      .summary = "merged_summary.json", .report = "", .junit = "", .summary_flag = "--out"};
  bool json = false;
  bool quiet = false;
};

/// Declares `wsload merge` on `app`, its flags stored in `o`.
inline CLI::App* add_merge_command(CLI::App& app, MergeOptions& o) {
  auto* merge = app.add_subcommand(
      "merge", "merge the summaries of every shard of a load (or GoogleTest reports) and judge");
  merge->add_option("SUMMARY", o.files, "the shards' summary files")->required();
  merge->add_option("--out", o.out.summary, "merged JSON file ('' for none, - for stdout)")
      ->capture_default_str();
  merge->add_option("--report", o.out.report, "also write an HTML report of the merge");
  merge->add_option("--junit", o.out.junit, "also write JUnit XML of the merge");
  merge->add_flag("--json", o.json, "print the merged JSON on stdout instead of the table");
  merge->add_flag("--quiet,-q", o.quiet, "FAIL lines and the result only");
  return merge;
}

/// What `wsload report` was asked to do.
struct ReportOptions {
  std::vector<std::string> files;
  std::string out = "report.html";
  std::string title = "wsload report";
  std::string junit;
};

/// Declares `wsload report` on `app`, its flags stored in `o`.
inline CLI::App* add_report_command(CLI::App& app, ReportOptions& o) {
  auto* report = app.add_subcommand(
      "report", "an HTML report with plots of one or more summaries (or GoogleTest reports)");
  report->add_option("SUMMARY", o.files, "summary files, overlaid in every plot")->required();
  report->add_option("--out", o.out, "the HTML file (-: stdout)")->capture_default_str();
  report->add_option("--title", o.title, "the report's title")->capture_default_str();
  report->add_option("--junit", o.junit, "also write JUnit XML of the runs here");
  return report;
}

/// `wsload report`: every run of every file, overlaid in one HTML report.
inline int report_command(const ReportOptions& o) {
  check_output_path(o.out, "--out");
  check_output_path(o.junit, "--junit");
  std::vector<RunRecord> runs;
  for (const auto& file : o.files) {
    for (auto& run : read_runs(file)) runs.push_back(std::move(run));
  }
  distinguish_labels(runs);
  write_file_atomically(o.out, html_report(runs, o.title), "--out");
  (o.out == "-" ? std::cerr : std::cout)
      << "Report of " << runs.size() << (runs.size() == 1 ? " run" : " runs") << " written to "
      << (o.out == "-" ? "standard output" : o.out) << '\n';
  if (!o.junit.empty()) {
    write_file_atomically(o.junit, junit_xml(runs), "--junit");
    (o.out == "-" ? std::cerr : std::cout)
        << "JUnit XML written to " << (o.junit == "-" ? "standard output" : o.junit) << '\n';
  }
  return exit_passed;
}

/// What `wsload compare` was asked to do.
struct CompareOptions {
  std::string baseline_file;
  std::string current_file;
  double max_regression = 10;  ///< percent
  std::vector<std::string> metrics = default_compared_metrics();
  bool json = false;
};

/// Declares `wsload compare` on `app`, its flags stored in `o`.
inline CLI::App* add_compare_command(CLI::App& app, CompareOptions& o) {
  auto* compare = app.add_subcommand(
      "compare", "compare two runs: Google Benchmark JSON or wsload summaries, case by case");
  compare->add_option("BASELINE", o.baseline_file, "the run to compare against")->required();
  compare->add_option("NEW", o.current_file, "the run under judgement")->required();
  compare->add_option("--max-regression", o.max_regression, "tolerated change, percent")
      ->check(within(0.0, 1e9))
      ->capture_default_str();
  compare->add_option("--metrics", o.metrics, wsload::comparable_metric_names())
      ->delimiter(',')
      ->capture_default_str();
  compare->add_flag("--json", o.json, "print the comparison as JSON");
  return compare;
}

/// `wsload compare`: exit code 1 when any compared figure regressed.
inline int compare_command(const CompareOptions& o) {
  const auto baseline = read_run_samples(o.baseline_file, "baseline");
  const auto current = read_run_samples(o.current_file, "new");
  const auto comparison =
      compare_runs(baseline, current, o.metrics, o.max_regression, o.baseline_file, o.current_file);
  std::cout << (o.json ? to_json(comparison).dump(2) + "\n" : format_comparison(comparison));
  return comparison.regressions() ? exit_threshold_failed : exit_passed;
}

}  // namespace wsload::cli::detail
