// The `wsload` command line: run, serve and demo, over the library's own headers.
//
// tools/wsload.cpp is `return wsload::cli::main(argc, argv);`. Exit codes (DESIGN.md):
// 0 every threshold met, 1 a threshold failed, 2 bad input, 128 + signal when stopped.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <wsload/compare.hpp>
#include <wsload/engine.hpp>
#include <wsload/merge.hpp>
#include <wsload/render/console.hpp>
#include <wsload/render/html.hpp>
#include <wsload/render/junit.hpp>
#include <wsload/results/runs.hpp>
#include <wsload/testing/server.hpp>

namespace wsload::cli {

inline constexpr int exit_passed = 0;
inline constexpr int exit_threshold_failed = 1;
inline constexpr int exit_bad_input = 2;

namespace detail {

/// What `within` accepts besides its closed range [min, max].
enum class Range {
  closed,
  above_min,  ///< (min, max]
  or_zero,    ///< 0, or [min, max] (a duration that is off, or at least a millisecond)
};

/// CLI::Range's check, but NaN, wraparound (-1 for an unsigned), a fraction for a count and
/// a count CLI11 would read otherwise (010, 0x10) are refused too, the message tells a value that
/// is no number (or not a whole one) from a number out of range, and the range reads as the user
/// would write it.
template <class T>
CLI::Validator within(T min, T max, Range kind = Range::closed) {
  using wsload::detail::format_number;
  const std::string range = std::string(kind == Range::or_zero ? "0 or " : "") +
                            (kind == Range::above_min ? "(" : "[") +
                            format_number(static_cast<double>(min), 3) + " - " +
                            format_number(static_cast<double>(max), 3) + "]";
  constexpr bool whole = std::is_integral_v<T>;
  return CLI::Validator(
      [min, max, kind, range](std::string& input) -> std::string {
        const std::string no_number =
            "'" + input + "' is not " + (whole ? "a whole number" : "a number") + " in " + range;
        double number = 0;
        if (!CLI::detail::lexical_cast(input, number) || std::isnan(number)) return no_number;
        if (whole && std::isfinite(number) && number != std::floor(number)) return no_number;
        const bool inside = (kind == Range::or_zero && number == 0) ||
                            ((kind == Range::above_min ? number > static_cast<double>(min)
                                                       : number >= static_cast<double>(min)) &&
                             number <= static_cast<double>(max));
        if (!inside) return input + " is not in " + range;
        // CLI11 reads 010 as 8 and 0x10 as 16, and 1e3 as no count at all.
        T value{};
        if (!CLI::detail::lexical_cast(input, value) || static_cast<double>(value) != number) {
          return "'" + input + "' is not a plain " + (whole ? "whole " : "") +
                 "number (digits only, no leading 0) in " + range;
        }
        return {};
      },
      std::string(whole ? "INT" : "FLOAT") + " in " + range);
}

/// Turns SIGINT, SIGTERM and SIGHUP (the terminal or the SSH session went away) into a call
/// of the current handler, on a thread of its own. Construct it before any other thread
/// starts: threads inherit the blocked mask, so only this one sees the signals. A signal
/// ignored when wsload started (nohup) stays ignored.
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&signals_);
    for (const int signal : {SIGINT, SIGTERM, SIGHUP}) {
      // Linux queues a blocked signal even when it is ignored: leave those alone.
      struct sigaction action {};
      if (sigaction(signal, nullptr, &action) == 0 && action.sa_handler == SIG_IGN) continue;
      sigaddset(&signals_, signal);
    }
    pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
    thread_ = std::thread([this] { watch(); });
  }
  ~SignalWatcher() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  /// Calls `handler` on the next signal, or at once if one came already. Empty: none.
  void on_signal(std::function<void()> handler) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
    if (handler_ && received_ != 0) handler_();
  }

  /// The signal received, 0 when none.
  int received() const {
    std::lock_guard lock(mutex_);
    return received_;
  }

  /// Blocks until a signal arrives.
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return received_ != 0; });
  }

 private:
  void watch() {
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        if (done_) return;
      }
      // A short timeout so the destructor need not signal this thread to end it.
      const timespec poll{0, 50'000'000};
      const int signal = sigtimedwait(&signals_, nullptr, &poll);
      if (signal <= 0) continue;
      std::lock_guard lock(mutex_);
      if (received_ == 0) received_ = signal;
      if (handler_) handler_();
      cv_.notify_all();
    }
  }

  sigset_t signals_{};
  sigset_t previous_{};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::function<void()> handler_;
  int received_ = 0;
  bool done_ = false;
  std::thread thread_;
};

/// Progress on stderr: one self-updating line with a bar on a terminal; a plain line
/// every `every` elsewhere (CI logs keep every line, so no control characters there).
class ProgressPrinter {
 public:
  ProgressPrinter(std::FILE* stream, bool terminal, Seconds every)
      : stream_(stream), terminal_(terminal), every_(every) {}

  void operator()(const Progress& p) {
    // A run bounded by time has no count to reach: its fraction is of its time.
    const double fraction = p.expected
                                ? static_cast<double>(p.done) / static_cast<double>(p.expected)
                            : p.planned.count() ? std::min(1.0, p.elapsed / p.planned)
                                                : 0;
    const std::string count =
        std::to_string(p.done) + (p.expected ? "/" + std::to_string(p.expected) : "");
    // Live latency of the last interval, and where an open loop's schedule stands.
    std::string live;
    if (p.latency_p50) {
      live += "  p50 " + wsload::detail::format_ms(*p.latency_p50) + " ms  p99 " +
              wsload::detail::format_ms(*p.latency_p99) + " ms";
    }
    if (p.target_rate > 0 || p.stages > 0) {
      live += "  target " + wsload::detail::format_number(p.target_rate, 0) + " req/s";
      if (p.stages > 0) {
        live += " (stage " + std::to_string(p.stage) + "/" + std::to_string(p.stages) + ")";
      }
    }
    if (terminal_) {
      constexpr int width = 24;
      const int filled = static_cast<int>(fraction * width);
      std::string bar(static_cast<std::size_t>(filled), '#');
      bar.resize(width, '-');
      // \x1b[K clears what a longer previous line left behind.
      std::fprintf(stream_, "\r[%s] %s  %.0f req/s%s  %llu errors  %.1f s\x1b[K", bar.c_str(),
                   count.c_str(), p.rate, live.c_str(), static_cast<unsigned long long>(p.failed),
                   p.elapsed.count());
      drawn_ = true;
    } else if (p.elapsed - last_ >= every_) {
      last_ = p.elapsed;
      std::fprintf(stream_, "progress: %s requests (%.1f %%), %.0f req/s%s, %llu errors, %.1f s\n",
                   count.c_str(), fraction * 100, p.rate, live.c_str(),
                   static_cast<unsigned long long>(p.failed), p.elapsed.count());
    }
    std::fflush(stream_);
  }

  /// Clears the terminal line so the summary starts on a clean one.
  void finish() {
    if (drawn_) std::fprintf(stream_, "\r\x1b[K");
    std::fflush(stream_);
  }

 private:
  std::FILE* stream_;
  bool terminal_;
  Seconds every_;
  Seconds last_{0};
  bool drawn_ = false;
};

/// The flag a ConfigError's field came from, so the message names what the user typed.
inline std::string flag_of(const std::string& field) {
  static const std::pair<const char*, const char*> flags[] = {
      {"url", "--url"},
      {"origin", "--origin"},
      {"prompts file", "--prompts"},
      {"prompts", "--prompts"},
      {"connections", "--connections"},
      {"iterations", "--iterations"},
      {"threads", "--threads"},
      {"max_average_latency", "--max-latency"},
      {"min_rps", "--min-rps"},
      {"min_success_rate", "--min-success-rate"},
      {"header", "--header"},
      {"subprotocol", "--subprotocol"},
      {"ca file", "--ca-file"},
      {"threshold", "--threshold"},
      {"summary file", "--summary"},
      {"timeouts.reply", "--timeout"},
      {"timeouts.run", "--run-timeout"},
      {"rate", "--rate"},
      {"stages", "--stages"},
      {"duration", "--duration"},
      {"warmup", "--warmup"},
      {"reconnect.max_attempts", "--reconnect"},
      {"reconnect.backoff", "--reconnect-backoff"},
      {"in_flight", "--in-flight"},
      {"correlation", "--correlation"},
      {"connect_rate", "--connect-rate"},
      {"max_send_size", "--max-send-size"},
      {"message template", "--template"},
      {"baseline", "BASELINE"},
      {"new", "NEW"},
      {"metrics", "--metrics"},
      {"shard", "--shard"},
      {"keepalive", "--keepalive"},
      {"keepalive_interval", "--keepalive-interval"},
      {"metrics listen", "--metrics-listen"},
      {"start_at", "--start-at"},
  };
  for (const auto& [name, flag] : flags) {
    if (field == name) return flag;
  }
  return field;
}

inline int bad_input(const std::string& message) {
  std::cerr << redact(message) << '\n';
  return exit_bad_input;
}

/// The flags of the parsed subcommands whose value came from their environment variable
/// (set, and the flag not on the command line), each with the variable's name.
inline std::vector<std::pair<std::string, std::string>> flags_from_environment(
    const CLI::App& app, int argc, const char* const* argv) {
  std::vector<std::pair<std::string, std::string>> found;
  const auto given = [&](const CLI::Option& option) {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == "--") break;
      for (const auto& name : option.get_lnames()) {
        const std::string flag = "--" + name;
        if (arg == flag || arg.rfind(flag + "=", 0) == 0) return true;
      }
      for (const auto& name : option.get_snames()) {
        if (!arg.starts_with("--") && arg.rfind("-" + name, 0) == 0) return true;
      }
    }
    return false;
  };
  for (const auto* sub : app.get_subcommands()) {
    for (const auto* option : sub->get_options()) {
      const auto variable = option->get_envname();
      const char* value = variable.empty() ? nullptr : std::getenv(variable.c_str());
      if (value && *value && !given(*option)) found.emplace_back(option->get_name(), variable);
    }
  }
  return found;
}

/// "wsload: --connections: <reason>" as "wsload: WSLOAD_CONNECTIONS (--connections):
/// <reason>" when the value came from the variable.
inline std::string named_by_source(const std::string& message,
                                   const std::vector<std::pair<std::string, std::string>>& env) {
  for (const auto& [flag, variable] : env) {
    for (const auto& prefix : {"wsload: " + flag + ": ", flag + ": "}) {
      if (message.rfind(prefix, 0) == 0) {
        return "wsload: " + variable + " (" + flag + "): " + message.substr(prefix.size());
      }
    }
  }
  return message;
}

/// The error's text with its field named as the user gave it: a flag, or the variable
/// in `env` the flag's value came from.
inline std::string message_of(const ConfigError& e,
                              const std::vector<std::pair<std::string, std::string>>& env = {}) {
  std::string text = e.what();
  const std::string prefix = "wsload: " + e.field() + ": ";
  if (text.rfind(prefix, 0) == 0) {
    text = "wsload: " + flag_of(e.field()) + ": " + text.substr(prefix.size());
  }
  return named_by_source(text, env);
}

inline int bad_input(const ConfigError& e) {
  return bad_input(message_of(e));
}

/// The one line for an exception that no input check turned into a ConfigError: the kind
/// of failure, never its what() (library internals such as "vector::_M_default_append").
inline std::string unexpected_error(const std::string& command, const std::exception& e) {
  const std::string prefix = "wsload: " + command + ": ";
  if (dynamic_cast<const std::bad_alloc*>(&e) || dynamic_cast<const std::length_error*>(&e)) {
    return prefix + "out of memory: the input asks for more than this machine has";
  }
  if (const auto* system = dynamic_cast<const std::system_error*>(&e)) {
    return prefix + system->code().message();
  }
  if (dynamic_cast<const nlohmann::json::exception*>(&e)) {
    return prefix + "an input holds JSON of another shape than expected";
  }
  return prefix + "internal error (please report it, with the command line)";
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

}  // namespace detail

/// What `wsload run` was asked to do, before it becomes a LoadConfig.
struct RunOptions {
  std::string url;
  std::string origin;
  std::string prompts_file;
  std::vector<std::string> prompts;
  std::size_t connections = 20;
  std::size_t iterations = 1;
  std::size_t threads = 0;
  double max_latency = 0.5;
  double min_rps = 100;
  double min_success_rate = 95;
  std::vector<std::string> headers;
  std::vector<std::string> subprotocols;
  double reply_timeout = 30;
  double run_timeout = 600;
  std::string ca_file;
  bool insecure = false;
  std::vector<std::string> query;
  std::string message_template;
  std::string completion = "first";
  std::vector<std::string> error_rules;
  bool no_error_rules = false;
  std::string correlation;
  std::size_t in_flight = 1;
  double connect_rate = 0;
  std::size_t reconnect = 0;
  double reconnect_backoff = 0.1;
  double rate = 0;
  std::string stages;
  double duration = 0;
  double warmup = 0;
  std::size_t max_send_size = 128 << 10;
  std::string keepalive;
  double keepalive_interval = 300;
  std::string metrics_listen;  ///< Prometheus endpoint, [HOST:]PORT
  double metrics_linger = 5;
  bool aws_sign = false;
  std::string aws_region;
  std::vector<std::string> thresholds;
  std::string report;    ///< HTML report file
  std::string junit;     ///< JUnit XML file
  std::string shard;     ///< "K/N"; empty: from the environment, if it names one
  std::string start_at;  ///< UTC ISO 8601 or Unix seconds
  std::string summary = "load_test_summary.json";
  std::string name;
  bool quiet = false;
  bool json = false;
  double progress_interval = 5;
};

/// Builds the LoadConfig of a run. Throws ConfigError naming the field.
inline LoadConfig to_config(const RunOptions& o) {
  LoadConfig c;
  c.name = o.name;
  c.url = o.url;
  c.origin = o.origin;
  if (!o.prompts.empty()) {
    c.prompts = o.prompts;
  } else if (!o.prompts_file.empty()) {
    c.prompts = read_prompts(o.prompts_file);
  } else {
    throw ConfigError("prompts", "", "give a prompts file (or WSLOAD_PROMPTS), or --prompt TEXT");
  }
  c.connections = o.connections;
  c.iterations = o.iterations;
  c.threads = o.threads;
  c.max_average_latency = Seconds(o.max_latency);
  c.min_rps = o.min_rps;
  c.min_success_rate = o.min_success_rate;
  for (const auto& h : o.headers) c.headers.push_back(parse_header(h));
  c.subprotocols = o.subprotocols;
  const auto ms = [](double s) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000 + 0.5));
  };
  c.timeouts.reply = ms(o.reply_timeout);
  c.timeouts.run = ms(o.run_timeout);
  c.tls.ca_file = o.ca_file;
  c.tls.insecure = o.insecure;
  for (const auto& q : o.query) {
    const auto eq = q.find('=');
    if (eq == 0 || eq == std::string::npos) {
      throw ConfigError("--query", q, "expected NAME=VALUE");
    }
    c.query.push_back({q.substr(0, eq), q.substr(eq + 1)});
  }
  c.message_template = o.message_template;
  c.completion = o.completion;
  if (o.no_error_rules) {
    c.error_rules.clear();
  } else if (!o.error_rules.empty()) {
    c.error_rules = o.error_rules;
  }
  c.correlation = o.correlation;
  c.in_flight = o.in_flight;
  c.connect_rate = o.connect_rate;
  c.reconnect.max_attempts = o.reconnect;
  c.reconnect.backoff = ms(o.reconnect_backoff);
  c.reconnect.max_backoff = std::max(c.reconnect.max_backoff, c.reconnect.backoff);
  c.rate = o.rate;
  if (!o.stages.empty()) c.stages = parse_stages(o.stages);
  c.duration = ms(o.duration);
  c.warmup = ms(o.warmup);
  c.max_send_size = o.max_send_size;
  c.keepalive = o.keepalive;
  c.keepalive_interval = ms(o.keepalive_interval);
  c.metrics.listen = o.metrics_listen;
  c.metrics.linger = ms(o.metrics_linger);
  c.aws.enabled = o.aws_sign;
  c.aws.region = o.aws_region;
  c.thresholds = o.thresholds;
  c.shard = o.shard.empty() ? shard_from_environment() : parse_shard(o.shard);
  if (!o.start_at.empty()) c.start_at = parse_start_at(o.start_at);
  return c;
}

namespace detail {

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

inline void add_run_options(CLI::App& run, RunOptions& o) {
  run.add_option("--url", o.url, "WebSocket URL, ws:// or wss://")
      ->envname("WSLOAD_URL")
      ->required()
      ->group("Connection");
  run.add_option("--origin", o.origin, "Origin header")
      ->envname("WSLOAD_ORIGIN")
      ->group("Connection");
  run.add_option("--prompts", o.prompts_file, "prompts file, one per line (blank lines skipped)")
      ->envname("WSLOAD_PROMPTS")
      ->group("Messages");
  run.add_option("--prompt", o.prompts, "a prompt (repeatable; instead of --prompts)")
      ->group("Messages");
  run.add_option("--connections,-c", o.connections, "concurrent connections")
      ->envname("WSLOAD_CONNECTIONS")
      ->check(detail::within(1, 100'000))
      ->capture_default_str()
      ->group("Load model");
  run.add_option("--iterations,-n", o.iterations, "times each connection sends every prompt")
      ->check(detail::within(1, 10'000'000))
      ->capture_default_str()
      ->group("Messages");
  run.add_option("--threads", o.threads, "engine threads (0: one per core)")
      ->check(detail::within(0, 256))
      ->group("Load model");
  run.add_option("--max-latency", o.max_latency, "maximum average latency, seconds")
      ->envname("WSLOAD_MAX_LATENCY")
      ->check(detail::within(0.0, 3600.0, detail::Range::above_min))
      ->capture_default_str()
      ->group("Thresholds");
  run.add_option("--min-rps", o.min_rps, "minimum successful requests per second")
      ->envname("WSLOAD_MIN_RPS")
      ->check(detail::within(0.0, 1e9))
      ->capture_default_str()
      ->group("Thresholds");
  run.add_option("--min-success-rate", o.min_success_rate, "minimum success rate, percent")
      ->envname("WSLOAD_MIN_SUCCESS_RATE")
      ->check(detail::within(0.0, 100.0))
      ->capture_default_str()
      ->group("Thresholds");
  run.add_option("--header,-H", o.headers, "extra header 'Name: value' (repeatable)")
      ->group("Connection");
  run.add_option("--subprotocol", o.subprotocols, "Sec-WebSocket-Protocol (repeatable)")
      ->group("Connection");
  run.add_option("--timeout", o.reply_timeout, "seconds to wait for each reply")
      ->check(detail::within(0.001, 86'400.0))
      ->capture_default_str()
      ->group("Connection");
  run.add_option("--run-timeout", o.run_timeout, "seconds the whole run may take")
      ->check(detail::within(0.001, 604'800.0))
      ->capture_default_str()
      ->group("Connection");
  run.add_option("--ca-file", o.ca_file, "extra trusted CA certificates (PEM) for wss")
      ->group("Connection");
  run.add_flag("--insecure", o.insecure, "do not verify the server's certificate")
      ->group("Connection");
  run.add_option("--query", o.query, "query parameter NAME=VALUE added to the URL (repeatable)")
      ->group("Connection");
  run.add_option("--template", o.message_template,
                 "message body around each prompt, e.g. "
                 "'{\"action\":\"sendmessage\",\"prompt\":{{prompt}}}'; also {{connection}}, "
                 "{{sequence}}, {{uuid}}")
      ->group("Messages");
  run.add_option("--complete", o.completion,
                 "when a reply is complete: first, frames=N, /pointer==value, /pointer, "
                 "regex:PATTERN")
      ->capture_default_str()
      ->group("Chat backends");
  run.add_option("--error-rule", o.error_rules,
                 "frames that fail a request: api-gateway (the default), /pointer==value, "
                 "/pointer, regex:PATTERN (repeatable)")
      ->group("Chat backends");
  run.add_flag("--no-error-rules", o.no_error_rules, "treat every frame as a reply")
      ->group("Chat backends");
  run.add_option("--correlation", o.correlation,
                 "JSON pointer to a request id the replies echo, e.g. /id")
      ->group("Chat backends");
  run.add_option("--in-flight", o.in_flight,
                 "requests outstanding per connection (needs --correlation)")
      ->check(detail::within(std::size_t{1}, std::size_t{10'000}))
      ->capture_default_str()
      ->group("Chat backends");
  run.add_option("--connect-rate", o.connect_rate, "new connections per second (0: no limit)")
      ->check(detail::within(0.0, 1e6))
      ->group("Connection");
  run.add_option("--reconnect", o.reconnect,
                 "reopen a connection that dropped, up to N times each (0: never)")
      ->check(detail::within(std::size_t{0}, std::size_t{1'000'000}))
      ->capture_default_str()
      ->group("Connection");
  run.add_option("--reconnect-backoff", o.reconnect_backoff,
                 "seconds before a reconnect, doubled after each failed attempt (to 5 s)")
      ->check(detail::within(0.001, 3600.0))
      ->capture_default_str()
      ->group("Connection");
  run.add_option("--rate", o.rate,
                 "open loop: requests per second over all connections, due on a schedule "
                 "whatever the replies do (0: closed loop)")
      ->check(detail::within(0.0, 1e7))
      ->group("Load model");
  run.add_option("--stages", o.stages,
                 "open loop: rate ramps DURATION:TARGET,..., e.g. 30s:100,1m:100,30s:0")
      ->group("Load model");
  run.add_option("--duration", o.duration,
                 "seconds to send for (instead of every prompt --iterations times)")
      ->check(detail::within(0.001, 604'800.0, detail::Range::or_zero))
      ->group("Load model");
  run.add_option("--warmup", o.warmup, "seconds at the start left out of the figures")
      ->check(detail::within(0.001, 604'800.0, detail::Range::or_zero))
      ->group("Load model");
  run.add_option("--max-send-size", o.max_send_size,
                 "largest message to send, bytes (API Gateway: 131072)")
      ->check(detail::within(std::size_t{1}, std::size_t{1} << 30))
      ->capture_default_str()
      ->group("Messages");
  run.add_option("--keepalive", o.keepalive,
                 "open loop: message sent on a connection idle for --keepalive-interval, e.g. "
                 "'{\"action\":\"keepalive\"}' to a route that does not answer")
      ->group("Connection");
  run.add_option("--keepalive-interval", o.keepalive_interval, "seconds, for --keepalive")
      ->check(detail::within(0.001, 86'400.0))
      ->capture_default_str()
      ->group("Connection");
  run.add_flag("--aws-sigv4", o.aws_sign,
               "presign each connect with AWS SigV4 (execute-api) from AWS_ACCESS_KEY_ID, "
               "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION")
      ->group("Chat backends");
  run.add_option("--aws-region", o.aws_region, "region for --aws-sigv4 (default: AWS_REGION)")
      ->group("Chat backends");
  run.add_option("--threshold,-t", o.thresholds,
                 "threshold expression, e.g. 'p99<800ms' (repeatable)")
      ->group("Thresholds");
  run.add_option("--shard", o.shard,
                 "run shard K of N (K from 0) of this load; default: WSLOAD_SHARD_INDEX (or "
                 "JOB_COMPLETION_INDEX) and WSLOAD_SHARD_COUNT")
      ->group("Shards");
  run.add_option("--start-at", o.start_at,
                 "start at this UTC time (2026-11-25T12:00:00Z or Unix seconds), so shards "
                 "line up")
      ->envname("WSLOAD_START_AT")
      ->group("Shards");
  run.add_option("--summary", o.summary, "summary JSON file ('' for none, - for stdout)")
      ->capture_default_str()
      ->group("Outputs");
  run.add_option("--report", o.report,
                 "also write an HTML report with plots to this file (-: stdout)")
      ->group("Outputs");
  run.add_option("--junit", o.junit,
                 "also write JUnit XML (a test case per threshold) here (-: stdout)")
      ->group("Outputs");
  run.add_option("--name", o.name, "name of the run in reports")->group("Outputs");
  run.add_flag("--quiet,-q", o.quiet, "no progress and no table: FAIL lines and the result")
      ->group("Outputs");
  run.add_flag("--json", o.json, "print the summary JSON on stdout instead of the table")
      ->group("Outputs");
  run.add_option("--progress-interval", o.progress_interval,
                 "seconds between progress lines when stderr is not a terminal")
      ->check(detail::within(0.05, 3600.0))
      ->capture_default_str()
      ->group("Outputs");
  run.add_option("--metrics-listen", o.metrics_listen,
                 "serve live metrics for Prometheus at http://[HOST:]PORT/metrics while the run "
                 "goes (a bare port listens on 127.0.0.1 only)")
      ->group("Outputs");
  run.add_option("--metrics-linger", o.metrics_linger,
                 "seconds the metrics stay up after the run, for the last scrape")
      ->check(detail::within(0.0, 3600.0))
      ->capture_default_str()
      ->group("Outputs");
}

}  // namespace detail

/// The whole program. Arguments as main() receives them.
inline int main(int argc, const char* const* argv) {
  CLI::App app{"wsload: WebSocket load tests with thresholds", "wsload"};
  app.set_version_flag("--version", "wsload 0.1.0");
  app.require_subcommand(1);

  RunOptions run_options;
  auto* run = app.add_subcommand("run", "run a load test against a URL and judge thresholds");
  detail::add_run_options(*run, run_options);

  std::uint16_t port = 0;
  bool tls = false;
  unsigned delay_ms = 0;
  bool silent = false;
  std::string ca_out;
  auto* serve = app.add_subcommand("serve", "run the embedded test server on 127.0.0.1");
  serve->add_option("--port", port, "port (0: any free port)")
      ->check(detail::within(0, 65'535))
      ->capture_default_str();
  unsigned serve_threads = 1;
  serve->add_option("--threads", serve_threads, "server threads")
      ->check(detail::within(1u, 64u))
      ->capture_default_str();
  serve->add_flag("--tls", tls, "wss with a certificate made at start");
  serve->add_option("--delay-ms", delay_ms, "wait before each reply, milliseconds")
      ->check(detail::within(0u, 600'000u));
  serve->add_flag("--silent", silent, "never reply (for timeout tests)");
  bool api_gateway = false;
  std::size_t stream_chunks = 0;
  unsigned chunk_delay_ms = 0;
  serve->add_flag("--api-gateway", api_gateway,
                  "answer like API Gateway: JSON bodies routed on /action, its error messages");
  serve
      ->add_option("--stream", stream_chunks,
                   "with --api-gateway: reply with N chunk frames then {\"type\":\"end\"}")
      ->check(detail::within(std::size_t{1}, std::size_t{10'000}));
  serve->add_option("--chunk-delay-ms", chunk_delay_ms, "wait before each chunk, milliseconds")
      ->check(detail::within(0u, 600'000u));
  serve->add_option("--ca-out", ca_out, "where to write the CA certificate for --tls");

  std::size_t demo_connections = 20;
  std::size_t demo_iterations = 50;
  std::string demo_summary;
  auto* demo = app.add_subcommand("demo", "a short load test against the embedded server");
  demo->add_option("--connections,-c", demo_connections, "concurrent connections")
      ->check(detail::within(1, 1000))
      ->capture_default_str();
  demo->add_option("--iterations,-n", demo_iterations, "times each connection sends the prompts")
      ->check(detail::within(1, 100'000))
      ->capture_default_str();
  demo->add_option("--summary", demo_summary, "write the wss run's summary JSON here");

  std::string baseline_file;
  std::string current_file;
  double max_regression = 10;
  std::vector<std::string> metrics = default_compared_metrics();
  bool compare_json = false;
  auto* compare = app.add_subcommand(
      "compare", "compare two runs: Google Benchmark JSON or wsload summaries, case by case");
  compare->add_option("BASELINE", baseline_file, "the run to compare against")->required();
  compare->add_option("NEW", current_file, "the run under judgement")->required();
  compare->add_option("--max-regression", max_regression, "tolerated change, percent")
      ->check(detail::within(0.0, 1e9))
      ->capture_default_str();
  compare->add_option("--metrics", metrics, "avg,p50,p90,p95,p99,p999,rps,success_rate,errors,time")
      ->delimiter(',')
      ->capture_default_str();
  compare->add_flag("--json", compare_json, "print the comparison as JSON");

  std::vector<std::string> merge_files;
  detail::OutputFiles merge_out{
      .summary = "merged_summary.json", .report = "", .junit = "", .summary_flag = "--out"};
  bool merge_json = false;
  bool merge_quiet = false;
  auto* merge = app.add_subcommand(
      "merge", "merge the summaries of every shard of a load (or GoogleTest reports) and judge");
  merge->add_option("SUMMARY", merge_files, "the shards' summary files")->required();
  merge->add_option("--out", merge_out.summary, "merged JSON file ('' for none, - for stdout)")
      ->capture_default_str();
  merge->add_option("--report", merge_out.report, "also write an HTML report of the merge");
  merge->add_option("--junit", merge_out.junit, "also write JUnit XML of the merge");

  std::vector<std::string> report_files;
  std::string report_out = "report.html";
  std::string report_title = "wsload report";
  auto* report = app.add_subcommand(
      "report", "an HTML report with plots of one or more summaries (or GoogleTest reports)");
  report->add_option("SUMMARY", report_files, "summary files, overlaid in every plot")->required();
  report->add_option("--out", report_out, "the HTML file (-: stdout)")->capture_default_str();
  report->add_option("--title", report_title, "the report's title")->capture_default_str();
  std::string report_junit;
  report->add_option("--junit", report_junit, "also write JUnit XML of the runs here");
  merge->add_flag("--json", merge_json, "print the merged JSON on stdout instead of the table");
  merge->add_flag("--quiet,-q", merge_quiet, "FAIL lines and the result only");

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
    if (run->parsed()) {
      const LoadConfig config = to_config(run_options);
      const detail::OutputFiles files{.summary = run_options.summary,
                                      .report = run_options.report,
                                      .junit = run_options.junit,
                                      .summary_flag = "--summary"};
      files.check(run_options.json);
      return detail::run_and_report(signals, config, files, run_options.quiet, run_options.json,
                                    Seconds(run_options.progress_interval));
    }
    if (report->parsed()) {
      check_output_path(report_out, "--out");
      check_output_path(report_junit, "--junit");
      std::vector<RunRecord> runs;
      for (const auto& file : report_files) {
        for (auto& run : read_runs(file)) runs.push_back(std::move(run));
      }
      distinguish_labels(runs);
      write_file_atomically(report_out, html_report(runs, report_title), "--out");
      (report_out == "-" ? std::cerr : std::cout)
          << "Report of " << runs.size() << (runs.size() == 1 ? " run" : " runs") << " written to "
          << (report_out == "-" ? "standard output" : report_out) << '\n';
      if (!report_junit.empty()) {
        write_file_atomically(report_junit, junit_xml(runs), "--junit");
        (report_out == "-" ? std::cerr : std::cout)
            << "JUnit XML written to " << (report_junit == "-" ? "standard output" : report_junit)
            << '\n';
      }
      return exit_passed;
    }
    if (merge->parsed()) {
      return detail::merge_and_report(merge_files, merge_out, merge_json, merge_quiet);
    }
    if (compare->parsed()) {
      const auto baseline = read_run_samples(baseline_file, "baseline");
      const auto current = read_run_samples(current_file, "new");
      const auto comparison =
          compare_runs(baseline, current, metrics, max_regression, baseline_file, current_file);
      std::cout << (compare_json ? to_json(comparison).dump(2) + "\n"
                                 : format_comparison(comparison));
      return comparison.regressions() ? exit_threshold_failed : exit_passed;
    }
    if (serve->parsed()) {
      testing::ServerOptions options;
      options.port = port;
      options.tls = tls;
      options.threads = serve_threads;
      raise_open_file_limit(1 << 20);  // as many connections as the hard limit allows
      options.reply_delay = std::chrono::milliseconds(delay_ms);
      options.mode = silent ? testing::ReplyMode::silent : testing::ReplyMode::echo;
      if (api_gateway || stream_chunks > 0) {
        options.mode = testing::ReplyMode::api_gateway;
        testing::Route route;
        route.delay = options.reply_delay;
        if (stream_chunks > 0) {
          route.kind = testing::Route::Kind::stream;
          route.chunks = stream_chunks;
          route.chunk_delay = std::chrono::milliseconds(chunk_delay_ms);
        }
        if (silent) route.kind = testing::Route::Kind::silent;
        options.routes = {{"$default", route}};
      }
      testing::Server server(options);
      std::cout << "wsload serve: listening on " << server.url() << '\n';
      if (tls) {
        const std::filesystem::path pem =
            ca_out.empty() ? std::filesystem::temp_directory_path() /
                                 ("wsload-serve-" + std::to_string(server.port()) + "-ca.pem")
                           : std::filesystem::path(ca_out);
        write_file_atomically(pem, server.ca_pem(), "--ca-out");
        std::cout << "wsload serve: CA certificate in " << pem.string() << '\n';
      }
      std::cout << "wsload serve: Ctrl-C to stop" << std::endl;
      signals.wait();
      server.stop();
      return exit_passed;
    }
    // demo
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
      config.prompts = detail::demo_prompts();
      config.connections = demo_connections;
      config.iterations = demo_iterations;
      config.tls.ca_pem = server.ca_pem();
      config.timeouts.run = std::chrono::seconds(60);
      config.max_average_latency = Seconds(0.5);
      config.min_rps = 100;
      config.min_success_rate = 95;
      config.thresholds = {"p99<250ms", "errors==0"};
      const std::filesystem::path summary = secure ? demo_summary : std::string();
      const detail::OutputFiles files{
          .summary = summary.string(), .report = "", .junit = "", .summary_flag = "--summary"};
      files.check();
      const int code = detail::run_and_report(signals, config, files, false, false, Seconds(5));
      if (code >= exit_bad_input) return code;  // bad input or stopped by a signal
      worst = std::max(worst, code);
      if (!secure) std::cout << '\n';
    }
    return worst;
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
