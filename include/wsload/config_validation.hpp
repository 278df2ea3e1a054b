// Checks a load configuration before any traffic: every field in range, the URL, rules,
// templates and thresholds parsed, errors naming the field.
#pragma once

#include <chrono>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <wsload/config.hpp>
#include <wsload/config_sources.hpp>
#include <wsload/detail/format.hpp>
#include <wsload/detail/json_scan.hpp>
#include <wsload/slo.hpp>
#include <wsload/tokens.hpp>
#include <wsload/url.hpp>

namespace wsload {

/// Checks every field; returns the parsed URL (with `query` added). Throws ConfigError naming the
/// first invalid field. Header values are never echoed: they may be secrets.
inline Url validate(const LoadConfig& config) {
  Url url = with_query(parse_url(config.url), config.query);
  // Durations are echoed in seconds, as the command line and the summary take them.
  const auto seconds = [](std::chrono::milliseconds ms) {
    return detail::format_number(Seconds(ms).count(), 3) + " s";
  };
  if (config.prompts.empty() && !config.session) {
    throw ConfigError("prompts", "", "no prompts to send; give at least one");
  }
  const auto session_rate = detail::format_number(config.session_rate, 3);
  if (!(config.session_rate >= 0) || config.session_rate > 1e7) {
    throw ConfigError("session_rate", session_rate,
                      "must be from 0 (no arrivals) to 10000000 sessions per second");
  }
  if (config.session_rate > 0 && config.rate > 0) {
    throw ConfigError("session_rate", session_rate,
                      "excludes rate (--rate): sessions arrive at session_rate, prompts are "
                      "sent at rate; give one of them");
  }
  if (config.session_rate > 0 && !config.session) {
    throw ConfigError("session_rate", session_rate,
                      "starts scripted sessions: give one (--scenario FILE, or "
                      "LoadConfig::session), or pace prompts with rate (--rate)");
  }
  if (config.session && config.rate > 0) {
    throw ConfigError("rate", "",
                      "a scripted session runs each connection's sessions one after another, "
                      "or arrives at session_rate (--session-rate); leave it unset");
  }
  if (config.session && config.in_flight > 1 && config.session_prompt_passes() == 0) {
    throw ConfigError("in_flight", std::to_string(config.in_flight),
                      "pipelines the prompts a session sends (Session::send_prompts, a "
                      "scenario's send_prompts step); this session sends none that the run "
                      "knows of (a C++ session that does: set prompt_passes)");
  }
  if (config.session_arrivals() && config.stages.empty() && config.duration.count() <= 0) {
    throw ConfigError("session_rate", session_rate,
                      "needs a duration (--duration) or stages: sessions arrive for that long");
  }
  if (config.max_sessions < 1 || config.max_sessions > 1'000'000) {
    throw ConfigError("max_sessions", std::to_string(config.max_sessions),
                      "must be from 1 to 1000000");
  }
  // Options the chosen loop would leave unused are refused, not silently dropped.
  if (!config.session_arrivals() && config.max_sessions != LoadConfig{}.max_sessions) {
    throw ConfigError("max_sessions", std::to_string(config.max_sessions),
                      "caps session arrivals (session_rate, or stages with a session); "
                      "without them the connections bound the sessions");
  }
  if (config.session_arrivals()) {
    const LoadConfig defaults;
    const bool connections = config.connections != defaults.connections;
    if (connections || config.iterations != defaults.iterations) {
      throw ConfigError(connections ? "connections" : "iterations",
                        std::to_string(connections ? config.connections : config.iterations),
                        "does not apply to arriving sessions: each runs once on a connection of "
                        "its own, as many as session_rate over the duration (or stages) makes; "
                        "max_sessions caps those at once");
    }
  }
  if (config.session_arrivals() && config.connect_rate > 0) {
    throw ConfigError("connect_rate", detail::format_number(config.connect_rate, 3),
                      "paces a fixed set of connections; arriving sessions open theirs as "
                      "they arrive, at session_rate");
  }
  if (config.session_arrivals() && config.reconnect.max_attempts > 0) {
    throw ConfigError("reconnect.max_attempts", std::to_string(config.reconnect.max_attempts),
                      "reopens a fixed connection; an arriving session's connection ends "
                      "with it, and a failed one counts as that session failed");
  }
  if (config.session && !config.keepalive.empty()) {
    throw ConfigError("keepalive", "",
                      "is for the prompt loop's idle gaps; a session sends its own "
                      "(a send step, or an on handler answering the server's pings)");
  }
  for (std::size_t i = 0; i < config.prompts.size(); ++i) {
    if (!config.binary && !detail::valid_utf8(config.prompts[i])) {
      throw ConfigError("prompts", "",
                        "prompt " + std::to_string(i + 1) +
                            " is not valid UTF-8 (WebSocket text frames must be, RFC 6455 5.6; "
                            "bytes go as binary frames with binary = true)");
    }
  }
  if (!config.metrics.listen.empty()) parse_metrics_listen(config.metrics.listen);
  if (config.connections < 1 || config.connections > 1'000'000) {
    throw ConfigError("connections", std::to_string(config.connections),
                      "must be from 1 to 1000000");
  }
  if (config.shard) {
    const auto shown = config.shard->text();
    (void)detail::checked_shard(config.shard->index, config.shard->count, "shard", shown);
    // Arriving sessions are dealt to the shards one by one; connections do not apply.
    if (!config.session_arrivals() && config.shard->count > config.connections) {
      throw ConfigError("shard", shown,
                        "more shards than connections (" + std::to_string(config.connections) +
                            "): each shard runs whole connections, so some would idle");
    }
  }
  if (config.start_at &&
      *config.start_at > std::chrono::system_clock::now() + std::chrono::hours(24)) {
    throw ConfigError("start_at", "", "is more than a day ahead; the wait would outlast any job");
  }
  if (config.prompt_passes > 1'000'000) {
    throw ConfigError("prompt_passes", std::to_string(config.prompt_passes),
                      "must be at most 1000000 passes over the prompts per session (a "
                      "scenario's send_prompts steps times their repeats)");
  }
  if (config.iterations < 1) {
    throw ConfigError("iterations", std::to_string(config.iterations), "must be at least 1");
  }
  if (config.threads > 256) {
    throw ConfigError("threads", std::to_string(config.threads), "must be from 0 (auto) to 256");
  }
  if (config.max_message_size < 1) {
    throw ConfigError("max_message_size", "0", "must be at least 1 byte");
  }
  const std::pair<const char*, std::chrono::milliseconds> timeouts[] = {
      {"timeouts.connect", config.timeouts.connect},
      {"timeouts.handshake", config.timeouts.handshake},
      {"timeouts.reply", config.timeouts.reply},
      {"timeouts.close", config.timeouts.close},
      {"timeouts.run", config.timeouts.run}};
  for (const auto& [field, value] : timeouts) {
    if (value.count() <= 0) {
      throw ConfigError(field, seconds(value), "must be positive");
    }
  }
  auto check_field_value = [](const std::string& field, const std::string& value) {
    if (value.find_first_of("\r\n") != std::string::npos || value.find('\0') != std::string::npos) {
      throw ConfigError(field, "", "must not contain CR, LF or NUL (header injection)");
    }
  };
  check_field_value("origin", config.origin);
  static constexpr std::string_view reserved[] = {"host",
                                                  "upgrade",
                                                  "connection",
                                                  "sec-websocket-key",
                                                  "sec-websocket-version",
                                                  "sec-websocket-accept",
                                                  "sec-websocket-protocol",
                                                  "sec-websocket-extensions",
                                                  "content-length",
                                                  "transfer-encoding"};
  for (const auto& h : config.headers) {
    if (h.name.empty() || !std::all_of(h.name.begin(), h.name.end(), detail::is_token_char)) {
      throw ConfigError("header", h.name, "is not a valid HTTP header name");
    }
    for (auto r : reserved) {
      if (detail::iequals(h.name, r)) {
        throw ConfigError("header", h.name,
                          "is set by the WebSocket handshake itself; use subprotocols for "
                          "Sec-WebSocket-Protocol");
      }
    }
    check_field_value("header " + h.name, h.value);
  }
  for (const auto& p : config.subprotocols) {
    if (p.empty() || !std::all_of(p.begin(), p.end(), detail::is_token_char)) {
      throw ConfigError("subprotocol", p, "must be an HTTP token (RFC 6455 4.1)");
    }
  }
  for (const auto& q : config.query) {
    if (q.name.empty()) throw ConfigError("query", "", "a query parameter needs a name");
  }
  const auto message = MessageTemplate::parse(config.message_template, "message template");
  (void)Completion::parse(config.completion);
  (void)Completion::parse(config.first_token, "first token");
  (void)TokenCount::parse(config.tokens);
  (void)Slo::parse(config.slo);
  (void)ErrorRules::parse(config.error_rules);
  if (config.max_send_size < 1) {
    throw ConfigError("max_send_size", "0", "must be at least 1 byte");
  }
  for (std::size_t i = 0; i < config.prompts.size(); ++i) {
    const auto size = message.max_size(config.prompts[i]);
    if (size > config.max_send_size) {
      throw ConfigError("prompts", "",
                        "prompt " + std::to_string(i + 1) + " makes a message of up to " +
                            std::to_string(size) + " bytes, over the " +
                            std::to_string(config.max_send_size) +
                            "-byte limit (API Gateway refuses messages over 128 KiB; "
                            "max_send_size sets another limit)");
    }
  }
  if (config.fragment_size < 1) {
    throw ConfigError("fragment_size", "0", "must be at least 1 byte");
  }
  if (!(config.connect_rate >= 0) || config.connect_rate > 1e6) {
    throw ConfigError("connect_rate", detail::format_number(config.connect_rate, 3),
                      "must be from 0 (no limit) to 1000000 connections per second");
  }
  if (config.in_flight < 1 || config.in_flight > 10'000) {
    throw ConfigError("in_flight", std::to_string(config.in_flight), "must be from 1 to 10000");
  }
  if (!config.correlation.empty()) {
    nlohmann::json::json_pointer pointer;
    try {
      pointer = nlohmann::json::json_pointer(config.correlation);
    } catch (const nlohmann::json::exception&) {
      throw ConfigError("correlation", config.correlation, "is not a JSON pointer (e.g. /id)");
    }
    // Looked up as the run looks ids up, by the scan (a DOM lookup throws on an index no
    // array can have).
    const detail::JsonPath path(pointer);
    detail::FrameScan scan(std::span<const detail::JsonPath>(&path, 1));
    const std::string sample =
        message.is_json() ? message.render({"p", 0, 0, "00000000-0000-4000-8000-000000000000"})
                          : std::string();
    if (!message.is_json() || !scan.scan(sample) || !scan.at(path).found()) {
      throw ConfigError("correlation", config.correlation,
                        "must point into the JSON message template, e.g. "
                        "{\"id\":{{sequence}},\"prompt\":{{prompt}}} with /id");
    }
  } else if (config.in_flight > 1) {
    throw ConfigError("in_flight", std::to_string(config.in_flight),
                      "more than one request in flight needs a correlation id to match replies");
  }
  if (!config.keepalive.empty()) {
    if (!detail::valid_utf8(config.keepalive) || config.keepalive.size() > config.max_send_size) {
      throw ConfigError("keepalive", "",
                        "must be UTF-8 text of at most max_send_size (" +
                            std::to_string(config.max_send_size) + ") bytes");
    }
    if (config.keepalive_interval.count() <= 0) {
      throw ConfigError("keepalive_interval", seconds(config.keepalive_interval),
                        "must be positive");
    }
  }
  if (config.reconnect.max_attempts > 1'000'000) {
    throw ConfigError("reconnect.max_attempts", std::to_string(config.reconnect.max_attempts),
                      "must be from 0 (never) to 1000000");
  }
  if (config.reconnect.backoff.count() <= 0 ||
      config.reconnect.max_backoff < config.reconnect.backoff) {
    throw ConfigError(
        "reconnect.backoff",
        seconds(config.reconnect.backoff) + ", max " + seconds(config.reconnect.max_backoff),
        "must be positive and at most max_backoff");
  }
  if (!(config.rate >= 0) || config.rate > 1e7) {
    throw ConfigError("rate", detail::format_number(config.rate, 3),
                      "must be from 0 (closed loop) to 10000000 requests per second");
  }
  for (const auto& stage : config.stages) {
    if (stage.duration.count() <= 0 || !(stage.target >= 0) || stage.target > 1e7) {
      throw ConfigError(
          "stages",
          seconds(stage.duration) + " to " + detail::format_number(stage.target, 3) + "/s",
          "each stage needs a positive duration and a target from 0 to 10000000/s");
    }
  }
  if (!config.stages.empty() && config.duration.count() > 0) {
    throw ConfigError("duration", seconds(config.duration),
                      "the stages set the run's length; give one or the other");
  }
  if (config.duration.count() < 0 || config.warmup.count() < 0) {
    throw ConfigError(config.duration.count() < 0 ? "duration" : "warmup", "",
                      "must not be negative");
  }
  if (config.open_loop() && schedule_of(config)->total() == 0) {
    if (config.session) {
      throw ConfigError("session_rate", session_rate,
                        "the schedule holds no session; raise the rate or the duration");
    }
    throw ConfigError("rate", detail::format_number(config.rate, 3),
                      "the schedule holds no request; raise the rate or the duration");
  }
  const auto sending = sending_time(config);
  if (sending >= config.timeouts.run) {
    // Blame what sets the run's length: the stages, the duration, or the rate that the
    // requests are sent at.
    const std::string run = seconds(config.timeouts.run);
    const std::string cut_short =
        "not shorter than the run's timeout (timeouts.run, --run-timeout: " + run +
        "), which would cut it short; raise that";
    const std::string length = detail::format_number(sending.count(), 3) + " s";
    if (!config.stages.empty()) {
      throw ConfigError("stages", "", "last " + length + ", " + cut_short);
    }
    if (config.duration.count() > 0) throw ConfigError("duration", length, "is " + cut_short);
    throw ConfigError("rate", detail::format_number(config.rate, 3),
                      "sends the " + std::to_string(config.expected_requests()) +
                          " requests over " + length + ", " + cut_short + " or the rate");
  }
  if (config.warmup.count() > 0 && sending.count() > 0 && Seconds(config.warmup) >= sending) {
    throw ConfigError("warmup", seconds(config.warmup),
                      "is not shorter than the run's sending time; nothing would be measured");
  }
  if (config.aws.enabled) {
    if (config.aws.service.empty() ||
        !std::all_of(config.aws.service.begin(), config.aws.service.end(), detail::is_token_char)) {
      throw ConfigError("aws.service", config.aws.service,
                        "must be a service name, e.g. execute-api");
    }
    if (config.aws.expires.count() < 1 || config.aws.expires.count() > 604800) {
      throw ConfigError("aws.expires", std::to_string(config.aws.expires.count()),
                        "must be from 1 to 604800 seconds");
    }
  }
  if (!config.tls.ca_file.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(config.tls.ca_file, ec)) {
      throw ConfigError("ca file", config.tls.ca_file, "is not a readable file");
    }
  }
  (void)thresholds_of(config);
  return url;
}

}  // namespace wsload
