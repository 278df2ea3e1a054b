// `wsload sweep`: the load of `wsload run` at one offered rate after another (geometric
// steps, or a search between two bounds), each judged by the run's thresholds; the table,
// the sweep's JSON and HTML page, and the exit code from the knee.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <wsload/config_validation.hpp>
#include <wsload/engine.hpp>
#include <wsload/errors.hpp>
#include <wsload/render/sweep.hpp>
#include <wsload/results/output.hpp>
#include <wsload/results/sweep.hpp>
#include <wsload/sweep.hpp>

#include "errors.hpp"
#include "options.hpp"
#include "outputs.hpp"
#include "signals.hpp"

namespace wsload::cli::detail {

/// What `wsload sweep` was asked to do: every flag of `wsload run` but those the sweep
/// sets itself (the rate, its length, the run's own outputs), and the plan.
struct SweepCommandOptions {
  RunOptions run;
  double rate_from = 0;
  double rate_to = 0;
  double factor = 2;
  std::string search;  ///< "LOW:HIGH"
  double precision = 0.05;
  double step_duration = 0;  ///< seconds
  bool keep_going = false;   ///< geometric: run the rates above a failure too
  std::string out;           ///< the sweep's JSON; "-": standard output
};

/// Declares `wsload sweep` on `app`, its flags stored in `o`.
inline CLI::App* add_sweep_command(CLI::App& app, SweepCommandOptions& o) {
  auto* sweep = app.add_subcommand(
      "sweep", "run a load at rising rates; find the highest whose thresholds hold (the knee)");
  o.run.min_rps = 0;  // each rate's throughput is judged by its schedule, not one floor
  add_run_options(*sweep, o.run);
  for (const char* flag : {"--rate", "--stages", "--duration", "--summary", "--junit", "--json"}) {
    sweep->remove_option(sweep->get_option(flag));
  }
  // `wsload sweep URL ...` reads best; --url (and WSLOAD_URL) as for run work too.
  sweep->get_option("--url")->required(false);
  sweep->add_option("url", o.run.url, "WebSocket URL, ws:// or wss:// (or --url)")
      ->group("Connection");
  sweep->get_option("--report")
      ->description(
          "write an HTML page of latency and throughput against offered load here "
          "(-: stdout)");
  auto* from = sweep->add_option("--rate-from", o.rate_from, "lowest rate, requests per second")
                   ->check(within(0.0, 1e7, Range::above_min))
                   ->group("Sweep");
  auto* to = sweep->add_option("--rate-to", o.rate_to, "highest rate, requests per second")
                 ->check(within(0.0, 1e7, Range::above_min))
                 ->group("Sweep");
  auto* factor = sweep->add_option("--factor", o.factor, "each rate is the last times this")
                     ->check(within(1.0, 1e3, Range::above_min))
                     ->capture_default_str()
                     ->group("Sweep");
  auto* keep_going = sweep
                         ->add_flag("--keep-going", o.keep_going,
                                    "run every rate up to --rate-to, not stopping at the first "
                                    "that fails")
                         ->group("Sweep");
  from->needs(to);
  to->needs(from);
  auto* search = sweep
                     ->add_option("--search", o.search,
                                  "instead of --rate-from/--rate-to: bisect between LOW:HIGH "
                                  "requests per second")
                     ->group("Sweep");
  search->excludes(from)->excludes(to)->excludes(factor)->excludes(keep_going);
  sweep
      ->add_option("--precision", o.precision,
                   "--search stops when its bounds are within this fraction (0.05: 5 %)")
      ->check(within(0.0, 1.0, Range::above_min))
      ->capture_default_str()
      ->needs(search)
      ->group("Sweep");
  sweep->add_option("--step-duration", o.step_duration, "seconds each rate is sent for")
      ->check(within(0.001, 86'400.0))
      ->required()
      ->group("Sweep");
  sweep->add_option("--out", o.out, "write the sweep's JSON here (-: stdout)")->group("Outputs");
  return sweep;
}

/// The two numbers of "LOW:HIGH". Throws ConfigError naming --search.
inline std::pair<double, double> search_bounds(const std::string& text) {
  const auto colon = text.find(':');
  double low = 0, high = 0;
  if (colon == std::string::npos || !CLI::detail::lexical_cast(text.substr(0, colon), low) ||
      !CLI::detail::lexical_cast(text.substr(colon + 1), high)) {
    throw ConfigError("--search", text, "expected LOW:HIGH in requests per second, e.g. 10:1000");
  }
  return {low, high};
}

/// The plan of `o`. Throws ConfigError naming the flag.
inline SweepOptions sweep_plan(const SweepCommandOptions& o) {
  SweepOptions plan;
  if (!o.search.empty()) {
    plan.mode = SweepMode::search;
    std::tie(plan.search_low, plan.search_high) = search_bounds(o.search);
    plan.precision = o.precision;
  } else if (o.rate_from > 0) {
    plan.rate_from = o.rate_from;
    plan.rate_to = o.rate_to;
    plan.factor = o.factor;
    plan.stop_after_failure = !o.keep_going;
  } else {
    throw ConfigError("--rate-from", "", "give --rate-from and --rate-to, or --search LOW:HIGH");
  }
  plan.step_duration =
      std::chrono::milliseconds(static_cast<std::int64_t>(o.step_duration * 1000 + 0.5));
  validate(plan);
  return plan;
}

/// `wsload sweep`: checks everything before any traffic, runs the rates, prints the
/// table, writes --out and --report. Exit 0 when a knee was found (some rate held, every
/// rate below it too), 1 when even the lowest rate failed, 2 for bad input, 128 + signal
/// when stopped (what ran is still written).
inline int sweep_command(SignalWatcher& signals, const SweepCommandOptions& o) {
  if (o.run.url.empty())
    throw ConfigError("url", "", "no URL given: wsload sweep URL ... (or --url, WSLOAD_URL)");
  const SweepOptions plan = sweep_plan(o);
  LoadConfig base = to_config(o.run);
  base.rate = plan.mode == SweepMode::geometric ? plan.rate_from : plan.search_low;
  base.duration = plan.step_duration;
  validate(base);
  check_output_path(o.out, "--out");
  check_output_path(o.run.report, "--report");
  if (o.out == "-" && o.run.report == "-") {
    throw ConfigError("--report", "-", "standard output already carries --out");
  }
  std::ostream& console = o.out == "-" || o.run.report == "-" ? std::cerr : std::cout;
  const std::string name = base.name.empty() ? "sweep" : base.name;

  const auto run_step = [&](double rate, std::chrono::milliseconds duration) {
    LoadConfig config = base;
    config.rate = rate;
    config.duration = duration;
    config.name = name + " at " + wsload::detail::format_number(rate, 2) + "/s";
    if (!o.run.quiet) {
      std::fprintf(stderr, "sweep: %s requests/s for %s s\n",
                   wsload::detail::format_number(rate, 2).c_str(),
                   wsload::detail::format_number(Seconds(duration).count(), 3).c_str());
    }
    Engine engine(config);
    signals.on_signal([&engine] { engine.stop(); });
    Summary summary = engine.run();
    signals.on_signal({});
    return summary;
  };
  const auto on_step = [&](const SweepStep& step) {
    if (!o.run.quiet) {
      std::fprintf(stderr, "sweep: %s requests/s: %s\n",
                   wsload::detail::format_number(step.offered_rate, 2).c_str(),
                   wsload::detail::sweep_verdict(step).c_str());
    }
    return signals.received() == 0;
  };
  const SweepResult result = run_sweep(plan, run_step, on_step);

  std::optional<ConfigError> write_error;
  std::vector<std::string> written;
  try {
    written = write_each(
        {{o.out, [&] { write_sweep(o.out, result, "--out"); }},
         {o.run.report, [&] {
            write_file_atomically(
                o.run.report,
                sweep_html(result, base.name.empty() ? "wsload capacity sweep" : base.name),
                "--report");
          }}});
  } catch (const ConfigError& e) {
    write_error = e;
  }
  console << format_sweep(result);
  for (const auto& path : written) {
    console << "Written: " << (path == "-" ? "standard output" : path) << '\n';
  }
  console.flush();
  if (write_error) return bad_input(*write_error);
  if (const int signal = signals.received()) return 128 + signal;
  return result.knee().rate ? exit_passed : exit_threshold_failed;
}

}  // namespace wsload::cli::detail
