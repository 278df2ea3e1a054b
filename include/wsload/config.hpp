// Load configuration: what to connect to, what to send, limits, timeouts and thresholds.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <wsload/detail/format.hpp>
#include <wsload/errors.hpp>
#include <wsload/message.hpp>
#include <wsload/metrics.hpp>
#include <wsload/redact.hpp>
#include <wsload/schedule.hpp>
#include <wsload/shard.hpp>
#include <wsload/thresholds.hpp>
#include <wsload/url.hpp>

namespace wsload {

/// One extra header for the upgrade request.
struct Header {
  std::string name;
  std::string value;
};

/// Every network wait is bounded by one of these.
struct Timeouts {
  std::chrono::milliseconds connect{10'000};    ///< TCP connect (after resolving)
  std::chrono::milliseconds handshake{10'000};  ///< TLS handshake plus WebSocket upgrade
  std::chrono::milliseconds reply{30'000};      ///< from sending a prompt to its reply
  std::chrono::milliseconds close{5'000};       ///< the closing handshake
  std::chrono::milliseconds run{600'000};       ///< the whole run, whatever else happens
};

/// TLS for wss:// URLs. The peer is verified against the system trust store (plus any CA
/// given here) and the URL's host, unless `insecure` is set explicitly.
struct TlsOptions {
  bool insecure = false;  ///< skip certificate and host name verification
  std::string ca_file;    ///< extra trusted CA certificates, PEM file
  std::string ca_pem;     ///< extra trusted CA certificates, PEM text
};

/// Signing of the connect request with AWS Signature Version 4 (IAM-authorised API
/// Gateway WebSocket APIs). Credentials come from the AWS_* environment variables when the
/// engine starts, never from the configuration, so they cannot reach a summary.
struct AwsSigning {
  bool enabled = false;
  std::string service = "execute-api";
  std::string region;  ///< empty: AWS_REGION / AWS_DEFAULT_REGION
  std::chrono::seconds expires{300};
};

/// Reopening a connection that dropped mid-run (a close, a reset, a reply timeout). Off
/// by default: users of the service would see those requests fail, and so does the run.
/// When on, the requests in flight still fail; the rest go on a new connection, after a
/// wait that doubles from `backoff` to `max_backoff` with each drop or failed attempt in
/// a row. A connection that could not be opened in the first place is not retried.
struct ReconnectPolicy {
  std::size_t max_attempts = 0;  ///< per connection, over the whole run; 0: never
  std::chrono::milliseconds backoff{100};
  std::chrono::milliseconds max_backoff{5'000};
};

/// A load: `connections` WebSocket connections open concurrently, each sending the
/// prompts in turn. Closed loop (the default): each waits for a reply before its next
/// request, and sends every prompt `iterations` times or, with a `duration`, until it
/// passes. Open loop (a `rate` or `stages`): requests are due on a schedule whatever the
/// replies do, and latency counts from when each was due, so a stall of the service is
/// charged to every request it held up (no coordinated omission).
/// Thresholds come from the three fields of the original tool and from `thresholds`.
struct LoadConfig {
  std::string name;    ///< label for reports (e.g. the endpoint)
  std::string url;     ///< ws://... or wss://...
  std::string origin;  ///< Origin header; none when empty
  std::vector<Header> headers;
  std::vector<std::string> subprotocols;
  std::vector<std::string> prompts;
  std::size_t connections = 20;
  std::size_t iterations = 1;
  std::size_t threads = 0;  ///< engine threads; 0 = one per core, at most one per connection
  std::size_t max_message_size = 16 << 20;  ///< bytes; a larger reply fails as message_too_big
  Timeouts timeouts;
  TlsOptions tls;

  /// Query parameters added to the URL's (values percent-encoded here; secret ones are
  /// redacted in summaries like the URL's own).
  std::vector<Header> query;
  /// Wraps each prompt, e.g. {"action":"sendmessage","prompt":{{prompt}}} (see
  /// MessageTemplate); empty sends the prompt as it is.
  std::string message_template;
  /// When a reply is complete: "first" frame, "frames=N", or a frame rule such as
  /// /type=="end" (see Completion).
  std::string completion = "first";
  /// Frames that fail their request (see ErrorRules): API Gateway's error messages by
  /// default; clear to treat every frame as a reply.
  std::vector<std::string> error_rules = {"api-gateway"};
  /// A JSON pointer to an id that each request carries (e.g. /id with "id":{{sequence}} in
  /// the template) and its reply frames echo: frames are matched to requests by it, which
  /// lets `in_flight` requests share a connection.
  std::string correlation;
  std::size_t in_flight = 1;  ///< requests outstanding per connection (>1 needs correlation)
  double connect_rate = 0;    ///< new connections per second over the run; 0: no limit
  std::size_t max_send_size = 128 << 10;  ///< larger messages are refused before the run
  std::size_t fragment_size = 32 << 10;   ///< outgoing frames are at most this big
  AwsSigning aws;
  ReconnectPolicy reconnect;
  MetricsOptions metrics;  ///< a Prometheus endpoint while the run goes
  /// Sent on a connection that has sent nothing for `keepalive_interval` while it waits
  /// for its next request (open loop): API Gateway answers no protocol ping and closes a
  /// connection idle for 10 minutes. Route it where nothing answers, e.g.
  /// {"action":"keepalive"} to a route without a response: a reply would be taken for the
  /// next request's. Empty: none.
  std::string keepalive;
  std::chrono::milliseconds keepalive_interval{300'000};

  /// Open loop: requests per second over all connections (each takes an equal share).
  /// Without `duration` or `stages`, the run sends connections x prompts x iterations.
  double rate = 0;
  /// Open loop: ramps of the rate, each from where the last left it (the first from
  /// `rate`, which may be 0). The stages set the run's length.
  std::vector<Stage> stages;
  /// How long requests are sent; 0: until the count above is sent.
  std::chrono::milliseconds duration{0};
  /// Requests that end in the first `warmup` are sent but left out of the statistics.
  std::chrono::milliseconds warmup{0};

  bool open_loop() const noexcept { return rate > 0 || !stages.empty(); }

  /// This process runs one shard of the load (see shard.hpp); `wsload merge` joins the
  /// shards' summaries and judges the thresholds on the whole. A shard judges none.
  std::optional<Shard> shard;
  /// Wall-clock time to start at (shards started apart line up); at once when past.
  std::optional<std::chrono::system_clock::time_point> start_at;

  /// The connections this process opens: all of them, or its shard's.
  std::size_t own_connections() const noexcept {
    return shard ? shard->connections_of(connections) : connections;
  }

  std::optional<Seconds> max_average_latency;  ///< MAX_LATENCY: "avg<=X s"
  std::optional<double> min_rps;               ///< MIN_RPS: "rps>=X"
  std::optional<double> min_success_rate;      ///< MIN_SUCCESS_RATE: "success_rate>=X%"
  std::vector<std::string> thresholds;         ///< expressions, e.g. "p99<800ms"

  /// Requests the run will attempt: connections x prompts x iterations, or as many as
  /// the open-loop schedule holds; 0 when a closed loop runs for a duration (unknown).
  std::uint64_t expected_requests() const;
};

/// The open-loop schedule of `config`; empty for a closed loop.
inline std::optional<Schedule> schedule_of(const LoadConfig& config) {
  if (!config.open_loop()) return std::nullopt;
  if (!config.stages.empty()) return Schedule(config.rate, config.stages);
  return Schedule(
      config.rate, Seconds(config.duration),
      static_cast<std::uint64_t>(config.connections) * config.prompts.size() * config.iterations);
}

inline std::uint64_t LoadConfig::expected_requests() const {
  if (open_loop()) {
    const auto total = schedule_of(*this)->total();
    if (!shard) return total;
    // Request k of connection i is entry k x connections + i of the schedule.
    std::uint64_t mine = 0;
    for (std::uint64_t i = shard->index; i < connections && i < total; i += shard->count) {
      mine += (total - i - 1) / connections + 1;
    }
    return mine;
  }
  if (duration.count() > 0) return 0;
  return static_cast<std::uint64_t>(own_connections()) * prompts.size() * iterations;
}

/// How long a run sends requests: its duration or schedule; 0 when it sends a count.
inline Seconds sending_time(const LoadConfig& config) {
  if (config.open_loop()) return schedule_of(config)->duration();
  return Seconds(config.duration);
}

namespace detail {

/// RFC 3629 well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF).
inline bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(extra) >= s.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr std::uint32_t smallest[] = {0, 0x80, 0x800, 0x10000};
    if (cp < smallest[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += static_cast<std::size_t>(extra) + 1;
  }
  return true;
}

inline bool is_token_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace detail

/// Reads prompts from a file: one per line, blank lines skipped, a trailing '\r' dropped, a
/// UTF-8 byte order mark at the start of the file dropped (Windows editors write one), the
/// text otherwise kept byte for byte. Throws ConfigError (field "prompts file") when
/// the file is missing, unreadable, a directory, binary (NUL bytes), not UTF-8, or has no
/// prompt at all.
inline std::vector<std::string> read_prompts(const std::filesystem::path& file) {
  const std::string field = "prompts file";
  const std::string shown = file.string();
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) throw ConfigError(field, shown, "does not exist");
  if (std::filesystem::is_directory(file, ec)) {
    throw ConfigError(field, shown, "is a directory, not a file");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(field, shown, "cannot be opened for reading");
  std::vector<std::string> prompts;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find('\0') != std::string::npos) {
      throw ConfigError(field, shown,
                        "line " + std::to_string(number) + " has a NUL byte; is it a binary file?");
    }
    if (!detail::valid_utf8(line)) {
      throw ConfigError(field, shown,
                        "line " + std::to_string(number) +
                            " is not valid UTF-8 (WebSocket text frames must be, RFC 6455 5.6)");
    }
    if (line.find_first_not_of(" \t\f\v") == std::string::npos) continue;
    prompts.push_back(std::move(line));
  }
  if (in.bad()) throw ConfigError(field, shown, "could not be read");
  if (prompts.empty()) throw ConfigError(field, shown, "has no prompts (every line is blank)");
  return prompts;
}

/// Parses "Name: value" (as given on a command line). Throws ConfigError (field "header").
inline Header parse_header(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    throw ConfigError("header", std::string(text.substr(0, colon)), "expected 'Name: value'");
  }
  Header h{std::string(text.substr(0, colon)), std::string(text.substr(colon + 1))};
  const auto first = h.value.find_first_not_of(" \t");
  h.value.erase(0, first == std::string::npos ? h.value.size() : first);
  while (!h.value.empty() && (h.value.back() == ' ' || h.value.back() == '\t')) h.value.pop_back();
  return h;
}

/// Lets one test binary target dev, staging or prod: each WSLOAD_* variable that is set
/// overrides the field the code wrote. Variables: WSLOAD_URL, WSLOAD_ORIGIN,
/// WSLOAD_PROMPTS (a file), WSLOAD_CONNECTIONS, WSLOAD_MAX_LATENCY (seconds, on the
/// average), WSLOAD_MIN_RPS, WSLOAD_MIN_SUCCESS_RATE (percent); for a shard of a bigger
/// load, WSLOAD_SHARD_COUNT with WSLOAD_SHARD_INDEX or JOB_COMPLETION_INDEX, and
/// WSLOAD_START_AT (see shard_from_environment, parse_start_at).
/// Throws ConfigError naming the variable when its value is invalid.
inline void apply_environment(
    LoadConfig& config, const std::function<const char*(const char*)>& getenv = [](const char* n) {
      return std::getenv(n);
    }) {
  auto number = [&](const char* name, double low, double high) -> std::optional<double> {
    const char* text = getenv(name);
    if (!text) return std::nullopt;
    char* end = nullptr;
    const double value = std::strtod(text, &end);
    if (end == text || *end != '\0' || !(value >= low && value <= high)) {
      throw ConfigError(name, text,
                        "must be a number from " + detail::format_number(low, 3) + " to " +
                            detail::format_number(high, 3));
    }
    return value;
  };
  if (const char* v = getenv("WSLOAD_URL")) config.url = v;
  if (const char* v = getenv("WSLOAD_ORIGIN")) config.origin = v;
  if (const char* v = getenv("WSLOAD_PROMPTS")) config.prompts = read_prompts(v);
  if (const char* v = getenv("WSLOAD_CONNECTIONS")) {
    const auto n = number("WSLOAD_CONNECTIONS", 1, 1'000'000);
    if (*n != static_cast<double>(static_cast<std::size_t>(*n))) {
      throw ConfigError("WSLOAD_CONNECTIONS", v, "must be a whole number");
    }
    config.connections = static_cast<std::size_t>(*n);
  }
  if (auto v = number("WSLOAD_MAX_LATENCY", 0, 3600)) config.max_average_latency = Seconds(*v);
  if (auto v = number("WSLOAD_MIN_RPS", 0, 1e9)) config.min_rps = *v;
  if (auto v = number("WSLOAD_MIN_SUCCESS_RATE", 0, 100)) config.min_success_rate = *v;
  if (auto shard = shard_from_environment(getenv)) config.shard = shard;
  if (const char* v = getenv("WSLOAD_START_AT")) config.start_at = parse_start_at(v);
}

/// All thresholds of `config`, parsed: the original tool's three first, then the
/// expressions. Throws ConfigError for a malformed expression or out-of-range limit.
inline std::vector<Threshold> thresholds_of(const LoadConfig& config) {
  std::vector<Threshold> all;
  if (config.max_average_latency) {
    if (!(config.max_average_latency->count() >= 0)) {
      throw ConfigError("max_average_latency",
                        detail::format_number(config.max_average_latency->count(), 3),
                        "must not be negative");
    }
    all.push_back(max_average_latency(config.max_average_latency->count()));
  }
  if (config.min_rps) {
    if (!(*config.min_rps >= 0)) {
      throw ConfigError("min_rps", detail::format_number(*config.min_rps, 3),
                        "must not be negative");
    }
    all.push_back(min_rps(*config.min_rps));
  }
  if (config.min_success_rate) {
    if (!(*config.min_success_rate >= 0 && *config.min_success_rate <= 100)) {
      throw ConfigError("min_success_rate", detail::format_number(*config.min_success_rate, 3),
                        "must be a percentage from 0 to 100");
    }
    all.push_back(min_success_rate(*config.min_success_rate));
  }
  for (const auto& expression : config.thresholds) all.push_back(parse_threshold(expression));
  return all;
}

/// `url` with the parameters appended to its query, values percent-encoded.
inline Url with_query(Url url, const std::vector<Header>& query) {
  for (const auto& q : query) {
    if (!url.query.empty()) url.query += '&';
    url.query += detail::percent_encode(q.name) + "=" + detail::percent_encode(q.value);
  }
  return url;
}

/// Checks every field; returns the parsed URL (with `query` added). Throws ConfigError naming the
/// first invalid field. Header values are never echoed: they may be secrets.
inline Url validate(const LoadConfig& config) {
  Url url = with_query(parse_url(config.url), config.query);
  // Durations are echoed in seconds, as the command line and the summary take them.
  const auto seconds = [](std::chrono::milliseconds ms) {
    return detail::format_number(Seconds(ms).count(), 3) + " s";
  };
  if (config.prompts.empty()) {
    throw ConfigError("prompts", "", "no prompts to send; give at least one");
  }
  for (std::size_t i = 0; i < config.prompts.size(); ++i) {
    if (!detail::valid_utf8(config.prompts[i])) {
      throw ConfigError("prompts", "",
                        "prompt " + std::to_string(i + 1) +
                            " is not valid UTF-8 (WebSocket text frames must be, RFC 6455 5.6)");
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
    if (config.shard->count > config.connections) {
      throw ConfigError("shard", shown,
                        "more shards than connections (" + std::to_string(config.connections) +
                            "): each shard runs whole connections, so some would idle");
    }
  }
  if (config.start_at &&
      *config.start_at > std::chrono::system_clock::now() + std::chrono::hours(24)) {
    throw ConfigError("start_at", "", "is more than a day ahead; the wait would outlast any job");
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
    nlohmann::json sample;
    if (!message.is_json() ||
        !detail::parse_frame(message.render({"p", 0, 0, "00000000-0000-4000-8000-000000000000"}),
                             sample) ||
        !sample.contains(pointer)) {
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

/// The engine threads a run uses: the configured count, or one per core, never more
/// than the connections.
inline std::size_t effective_threads(const LoadConfig& config) {
  std::size_t n = config.threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  return std::clamp<std::size_t>(n, 1, std::max<std::size_t>(config.own_connections(), 1));
}

/// The configuration as saved in summaries: every text with its secrets redacted (see
/// redact, redact_header), prompts counted rather than copied.
inline nlohmann::json to_json(const LoadConfig& config) {
  nlohmann::json j;
  if (!config.name.empty()) j["name"] = redact(config.name);
  try {
    j["url"] = with_query(parse_url(config.url), config.query).redacted();
  } catch (const ConfigError&) {
    j["url"] = "<invalid>";
  }
  if (!config.origin.empty()) j["origin"] = redact(config.origin);
  auto headers = nlohmann::json::object();
  for (const auto& h : config.headers) headers[h.name] = redact_header(h.name, h.value);
  if (!headers.empty()) j["headers"] = headers;
  for (const auto& p : config.subprotocols) j["subprotocols"].push_back(redact(p));
  j["connections"] = config.connections;
  j["iterations"] = config.iterations;
  j["prompts"] = config.prompts.size();
  j["threads"] = effective_threads(config);
  j["max_message_size"] = config.max_message_size;
  auto seconds = [](std::chrono::milliseconds ms) { return static_cast<double>(ms.count()) / 1e3; };
  j["timeouts"] = {{"connect", seconds(config.timeouts.connect)},
                   {"handshake", seconds(config.timeouts.handshake)},
                   {"reply", seconds(config.timeouts.reply)},
                   {"close", seconds(config.timeouts.close)},
                   {"run", seconds(config.timeouts.run)}};
  if (!config.message_template.empty()) j["message_template"] = redact(config.message_template);
  j["completion"] = config.completion.empty() ? "first" : redact(config.completion);
  j["error_rules"] = nlohmann::json::array();
  for (const auto& rule : config.error_rules) j["error_rules"].push_back(redact(rule));
  if (!config.correlation.empty()) j["correlation"] = redact(config.correlation);
  j["in_flight"] = config.in_flight;
  if (config.connect_rate > 0) j["connect_rate"] = config.connect_rate;
  j["max_send_size"] = config.max_send_size;
  j["fragment_size"] = config.fragment_size;
  if (config.aws.enabled) {
    j["aws"] = {{"signing", "SigV4"}, {"service", config.aws.service}};
    if (!config.aws.region.empty()) j["aws"]["region"] = config.aws.region;
  }
  if (config.rate > 0) j["rate"] = config.rate;
  if (!config.stages.empty()) {
    auto stages = nlohmann::json::array();
    for (const auto& stage : config.stages) {
      stages.push_back({{"duration", seconds(stage.duration)}, {"target", stage.target}});
    }
    j["stages"] = stages;
  }
  if (config.duration.count() > 0) j["duration"] = seconds(config.duration);
  if (config.warmup.count() > 0) j["warmup"] = seconds(config.warmup);
  j["load_model"] = config.open_loop() ? "open" : "closed";
  if (!config.keepalive.empty()) {
    j["keepalive"] = {{"message", redact(config.keepalive)},
                      {"interval", seconds(config.keepalive_interval)}};
  }
  if (config.reconnect.max_attempts > 0) {
    j["reconnect"] = {{"max_attempts", config.reconnect.max_attempts},
                      {"backoff", seconds(config.reconnect.backoff)},
                      {"max_backoff", seconds(config.reconnect.max_backoff)}};
  }
  j["tls"] = {{"insecure", config.tls.insecure}};
  if (!config.tls.ca_file.empty()) j["tls"]["ca_file"] = config.tls.ca_file;
  // The expressions, so that a merge of shards judges them on the whole load.
  try {
    auto thresholds = nlohmann::json::array();
    for (const auto& t : thresholds_of(config)) thresholds.push_back(t.expression);
    j["thresholds"] = thresholds;
  } catch (const ConfigError&) {
    j["thresholds"] = "<invalid>";
  }
  if (config.shard) j["shard"] = {{"index", config.shard->index}, {"count", config.shard->count}};
  if (config.start_at) j["start_at"] = detail::iso8601(*config.start_at);
  return j;
}

}  // namespace wsload
