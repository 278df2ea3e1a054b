// The wsload command line: run, sweep, serve, demo, merge, report and compare. Its parts are the
// program's own headers in tools/cli/, not installed. Exit codes (DESIGN.md): 0 every
// threshold met, 1 a threshold failed, 2 bad input, 128 + signal when stopped.
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include <wsload/errors.hpp>

#include "cli/errors.hpp"
#include "cli/options.hpp"
#include "cli/run.hpp"
#include "cli/serve.hpp"
#include "cli/signals.hpp"
#include "cli/summaries.hpp"
#include "cli/sweep.hpp"

namespace wsload::cli {

/// The whole program. Arguments as main() receives them.
int main(int argc, const char* const* argv) {
  CLI::App app{"wsload: WebSocket load tests with thresholds", "wsload"};
  app.set_version_flag("--version", "wsload 0.1.0");
  app.require_subcommand(1);

  RunOptions run_options;
  auto* run = detail::add_run_command(app, run_options);
  detail::ServeOptions serve_options;
  auto* serve = detail::add_serve_command(app, serve_options);
  detail::DemoOptions demo_options;
  detail::add_demo_command(app, demo_options);
  detail::CompareOptions compare_options;
  auto* compare = detail::add_compare_command(app, compare_options);
  detail::MergeOptions merge_options;
  auto* merge = detail::add_merge_command(app, merge_options);
  detail::ReportOptions report_options;
  auto* report = detail::add_report_command(app, report_options);
  detail::SweepCommandOptions sweep_options;
  auto* sweep = detail::add_sweep_command(app, sweep_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    return detail::bad_input(
        detail::named_by_source(std::string("wsload: ") + e.what(),
                                detail::flags_from_environment(app, argc, argv)) +
        " (see wsload --help)");
  }

  try {
    detail::SignalWatcher signals;  // before any thread starts
    if (run->parsed()) return detail::run_command(signals, run_options);
    if (report->parsed()) return detail::report_command(report_options);
    if (merge->parsed()) {
      return detail::merge_and_report(merge_options.files, merge_options.out, merge_options.json,
                                      merge_options.quiet);
    }
    if (compare->parsed()) return detail::compare_command(compare_options);
    if (sweep->parsed()) return detail::sweep_command(signals, sweep_options);
    if (serve->parsed()) return detail::serve_command(signals, serve_options);
    return detail::demo_command(signals, demo_options);
  } catch (const ConfigError& e) {
    return detail::bad_input(
        detail::message_of(e, detail::flags_from_environment(app, argc, argv)));
  } catch (const std::exception& e) {
    const auto parsed = app.get_subcommands();
    return detail::bad_input(
        detail::unexpected_error(parsed.empty() ? "wsload" : parsed.front()->get_name(), e));
  }
}

}  // namespace wsload::cli

int main(int argc, char** argv) {
  return wsload::cli::main(argc, argv);
}
