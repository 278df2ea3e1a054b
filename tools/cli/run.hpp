// `wsload run` and `wsload demo`: a load with progress and Ctrl-C handling, its summary
// printed and written, the exit code from its thresholds.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <wsload/config.hpp>
#include <wsload/engine.hpp>
#include <wsload/metrics.hpp>
#include <wsload/render/console.hpp>
#include <wsload/results/summary.hpp>
#include <wsload/testing/server.hpp>
#include <wsload/thresholds.hpp>

#include "errors.hpp"
#include "options.hpp"
#include "outputs.hpp"
#include "progress.hpp"
#include "signals.hpp"

namespace wsload::cli::detail {

/// Runs one load with progress and Ctrl-C handling, prints its summary, writes the files
/// asked for, returns the exit code.
inline int run_and_report(SignalWatcher& signals, const LoadConfig& config,
                          const OutputFiles& files, bool quiet, bool json, Seconds progress_every) {
  Engine engine(config);
  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  ProgressPrinter progress(stderr, terminal, progress_every);
  ProgressCallback on_progress;
  if (!quiet) on_progress = [&progress](const Progress& p) { progress(p); };
  signals.on_signal([&engine] { engine.stop(); });
  if (engine.metrics_port() != 0 && !quiet) {
    std::fprintf(stderr, "metrics: http://%s:%u/metrics\n",
                 parse_metrics_listen(config.metrics.listen).host.c_str(),
                 static_cast<unsigned>(engine.metrics_port()));
  }
  const Summary summary = engine.run(on_progress);
  signals.on_signal({});
  const int signal = signals.received();
  if (!quiet) progress.finish();
  std::optional<ConfigError> write_error;
  std::vector<std::string> written;
  try {
    written =
        files.write({{.name = summary.name.empty() ? "load" : summary.name, .summary = summary}});
  } catch (const ConfigError& e) {
    write_error = e;
  }
  // Standard output carries an output file (`-`): what people read goes to stderr.
  std::ostream& console = files.uses_stdout() ? std::cerr : std::cout;
  if (json) {
    if (files.summary != "-") std::cout << to_json(summary).dump(2) << '\n';
  } else if (quiet) {
    for (const auto& v : summary.verdicts) {
      if (!v.passed) console << "FAIL  " << v.expression << "  " << v.message << '\n';
    }
    console << (summary.passed() ? "Result: PASS\n" : "Result: FAIL\n");
  } else {
    console << format_report(summary);
    for (const auto& path : written) {
      console << "Written: " << (path == "-" ? "standard output" : path) << '\n';
    }
  }
  console.flush();
  if (engine.metrics_port() != 0 && signal == 0 && config.metrics.linger.count() > 0) {
    // The last scrape must see the final figures; Ctrl-C ends the wait, not the verdict.
    if (!quiet) {
      std::fprintf(
          stderr, "metrics: the final figures stay up for %s s (Ctrl-C ends)\n",
          wsload::detail::format_number(Seconds(config.metrics.linger).count(), 1).c_str());
    }
    signals.on_signal([&engine] { engine.stop(); });
    engine.linger();
    signals.on_signal({});
  }
  if (write_error) return bad_input(*write_error);
  if (signal != 0) return 128 + signal;
  return summary.passed() ? exit_passed : exit_threshold_failed;
}

/// Declares `wsload run` on `app`, its flags stored in `o`.
inline CLI::App* add_run_command(CLI::App& app, RunOptions& o) {
  auto* run = app.add_subcommand("run", "run a load test against a URL and judge thresholds");
  add_run_options(*run, o);
  return run;
}

/// `wsload run`: the load `run_options` describe, judged and written.
inline int run_command(SignalWatcher& signals, const RunOptions& run_options) {
  const LoadConfig config = to_config(run_options);
  const OutputFiles files{.summary = run_options.summary,
                          .report = run_options.report,
                          .junit = run_options.junit,
                          .summary_flag = "--summary"};
  files.check(run_options.json);
  return run_and_report(signals, config, files, run_options.quiet, run_options.json,
                        Seconds(run_options.progress_interval));
}

/// A few prompts for the demo, so it runs from any directory.
inline std::vector<std::string> demo_prompts() {
  return {"Hello! What can you do?",
          "Summarise the plot of Hamlet in two sentences.",
          "Translate \"good morning\" into Polish: dzie\xC5\x84 dobry?",
          "Write a haiku about load testing.",
          "What is the capital of Australia?",
          "Explain TCP_NODELAY to a new engineer."};
}

/// What `wsload demo` was asked to do.
struct DemoOptions {
  std::size_t connections = 20;
  std::size_t iterations = 50;
  std::string summary;  ///< the wss run's summary JSON; empty: none
};

/// Declares `wsload demo` on `app`, its flags stored in `o`.
inline CLI::App* add_demo_command(CLI::App& app, DemoOptions& o) {
  auto* demo = app.add_subcommand("demo", "a short load test against the embedded server");
  demo->add_option("--connections,-c", o.connections, "concurrent connections")
      ->check(within(1, 1000))
      ->capture_default_str();
  demo->add_option("--iterations,-n", o.iterations, "times each connection sends the prompts")
      ->check(within(1, 100'000))
      ->capture_default_str();
  demo->add_option("--summary", o.summary, "write the wss run's summary JSON here");
  return demo;
}

/// `wsload demo`: a short load over ws and then over wss against embedded servers; the
/// worse exit code of the two.
inline int demo_command(SignalWatcher& signals, const DemoOptions& o) {
  int worst = exit_passed;
  for (const bool secure : {false, true}) {
    testing::ServerOptions options;
    options.tls = secure;
    options.reply_delay = std::chrono::milliseconds(2);  // a token "model"
    testing::Server server(options);
    LoadConfig config;
    config.name = secure ? "demo wss" : "demo ws";
    config.url = server.url("/chat");
    config.origin = "https://demo.wsload.invalid";
    config.prompts = demo_prompts();
    config.connections = o.connections;
    config.iterations = o.iterations;
    config.tls.ca_pem = server.ca_pem();
    config.timeouts.run = std::chrono::seconds(60);
    config.max_average_latency = Seconds(0.5);
    config.min_rps = 100;
    config.min_success_rate = 95;
    config.thresholds = {"p99<250ms", "errors==0"};
    const std::filesystem::path summary = secure ? o.summary : std::string();
    const OutputFiles files{
        .summary = summary.string(), .report = "", .junit = "", .summary_flag = "--summary"};
    files.check();
    const int code = run_and_report(signals, config, files, false, false, Seconds(5));
    if (code >= exit_bad_input) return code;  // bad input or stopped by a signal
    worst = std::max(worst, code);
    if (!secure) std::cout << '\n';
  }
  return worst;
}

}  // namespace wsload::cli::detail
