// `wsload run`'s flags and how they become a LoadConfig; `within`, the range check every
// subcommand's numeric flags use.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include <CLI/CLI.hpp>

#include <wsload/config_sources.hpp>
#include <wsload/errors.hpp>
#include <wsload/scenario.hpp>
#include <wsload/schedule.hpp>
#include <wsload/shard.hpp>
#include <wsload/thresholds.hpp>

namespace wsload::cli {

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

}  // namespace detail

/// What `wsload run` was asked to do, before it becomes a LoadConfig.
struct RunOptions {
  std::string url;
  std::string origin;
  std::string prompts_file;
  std::vector<std::string> prompts;
  std::string prompts_encoding = "text";  ///< of --prompts lines and --prompt values
  bool binary = false;                    ///< send binary frames
  bool compression = false;               ///< offer permessage-deflate
  std::string scenario;                   ///< a scenario file: each connection runs its session
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
  std::string first_token = "first";
  std::string tokens = "frames";
  std::string slo;
  std::vector<std::string> error_rules;
  bool no_error_rules = false;
  std::string correlation;
  std::size_t in_flight = 1;
  double connect_rate = 0;
  std::size_t reconnect = 0;
  double reconnect_backoff = 0.1;
  double rate = 0;
  double session_rate = 0;  ///< with --scenario: sessions per second, each on its own connection
  std::size_t max_sessions = 1000;
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
  const auto encoding = parse_prompt_encoding(o.prompts_encoding);
  if (!o.prompts.empty()) {
    for (const auto& prompt : o.prompts) {
      auto bytes = decode_prompt(prompt, encoding);
      if (!bytes) throw ConfigError("prompt", prompt, not_encoded_as(encoding));
      c.prompts.push_back(std::move(*bytes));
    }
  } else if (!o.prompts_file.empty()) {
    c.prompts = read_prompts(o.prompts_file, encoding);
  } else if (o.scenario.empty()) {
    throw ConfigError("prompts", "", "give a prompts file (or WSLOAD_PROMPTS), or --prompt TEXT");
  }
  if (!o.scenario.empty()) {
    auto scenario = read_scenario(o.scenario);
    const auto prompts_at = scenario.sends_prompts_at();
    if (prompts_at && c.prompts.empty()) {
      throw ConfigError("scenario " + o.scenario + ": " + *prompts_at + " send_prompts", "",
                        "sends the prompts: give a prompts file (--prompts) or --prompt TEXT");
    }
    c.prompt_passes = scenario.prompt_passes(c.prompts.size());
    c.session = scenario_session(std::move(scenario));
  }
  c.connections = o.connections;
  c.iterations = o.iterations;
  c.threads = o.threads;
  c.max_average_latency = Seconds(o.max_latency);
  c.min_rps = o.min_rps;
  c.min_success_rate = o.min_success_rate;
  for (const auto& h : o.headers) c.headers.push_back(parse_header(h));
  c.subprotocols = o.subprotocols;
  // Decoded prompts are bytes: text frames must be UTF-8 (RFC 6455 5.6).
  c.binary = o.binary || encoding != PromptEncoding::text;
  c.compression = o.compression;
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
  c.first_token = o.first_token;
  c.tokens = o.tokens;
  c.slo = o.slo;
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
  c.session_rate = o.session_rate;
  c.max_sessions = o.max_sessions;
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

/// Declares `wsload run`'s flags on `run`, each stored in `o`.
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
  run.add_option("--prompts-encoding", o.prompts_encoding,
                 "how --prompts lines and --prompt values spell messages: text, or base64 / "
                 "hex bytes sent as binary frames")
      ->capture_default_str()
      ->group("Messages");
  run.add_flag("--binary", o.binary,
               "send messages (prompts, filled templates) as binary frames, not text")
      ->group("Messages");
  run.add_option("--scenario", o.scenario,
                 "scenario file (JSON): each connection runs its session --iterations times "
                 "(or for --duration) instead of sending the prompts; see README")
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
  run.add_option(
         "--threads", o.threads,
         "engine threads (0: one per 100 connections, or sessions in flight, at most one per core)")
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
  run.add_flag("--compression", o.compression,
               "offer permessage-deflate; a server that declines gets an uncompressed run")
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
  run.add_option("--first-token", o.first_token,
                 "which frame is a reply's first token (TTFT): first, frames=N, "
                 "/pointer==value, /pointer, regex:PATTERN")
      ->capture_default_str()
      ->group("Chat backends");
  run.add_option("--tokens", o.tokens,
                 "what counts as a reply's output tokens: frames, /pointer to a count on the "
                 "final frame (/usage/output_tokens), chars:/pointer (text length over frames)")
      ->capture_default_str()
      ->group("Chat backends");
  run.add_option("--slo", o.slo,
                 "per-request limits for goodput, e.g. 'ttft<500ms,tpot<50ms,latency<5s'")
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
  run.add_option("--session-rate", o.session_rate,
                 "with --scenario: new sessions per second for --duration (or ramped by "
                 "--stages), each on a connection of its own (0: --connections run them)")
      ->check(detail::within(0.0, 1e7))
      ->group("Load model");
  run.add_option("--max-sessions", o.max_sessions,
                 "with --session-rate: sessions in flight at once, at most; a due session "
                 "waits for a slot")
      ->check(detail::within(std::size_t{1}, std::size_t{1'000'000}))
      ->capture_default_str()
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

}  // namespace wsload::cli
