// Load configuration: what to connect to, what to send, limits, timeouts and thresholds.
// Reading it from files and the environment: config_sources.hpp; checking it:
// config_validation.hpp.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
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
#include <wsload/session.hpp>
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
  std::size_t threads = 0;                  ///< engine threads; 0 = see effective_threads()
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
  /// Which frame of a reply is its first token, timed as TTFT: "first" frame (the default),
  /// "frames=N" (the Nth), or a frame rule such as /type=="token" (see Completion), so an
  /// acknowledgement before the content is not taken for it.
  std::string first_token = "first";
  /// What counts as a reply's output tokens: "frames" (its token frames, the default), a
  /// JSON pointer to a count on the frame that completes it ("/usage/output_tokens"), or
  /// "chars:POINTER", the characters of a text field summed over its frames (TokenCount).
  std::string tokens = "frames";
  /// Per-request limits, e.g. "ttft<500ms,tpot<50ms,latency<5s" (see Slo): requests
  /// meeting all are the summary's goodput. Empty: none.
  std::string slo;
  /// Frames that fail their request (see ErrorRules): API Gateway's error messages by
  /// default; clear to treat every frame as a reply.
  std::vector<std::string> error_rules = {"api-gateway"};
  /// A JSON pointer to an id that each request carries (e.g. /id with "id":{{sequence}} in
  /// the template) and its reply frames echo: frames are matched to requests by it, which
  /// lets `in_flight` requests share a connection.
  std::string correlation;
  std::size_t in_flight = 1;  ///< requests outstanding per connection (>1 needs correlation)
  double connect_rate = 0;    ///< new connections per second over the run; 0: no limit
  /// Messages (prompts, filled templates, keepalives) go as binary frames, not text: their
  /// bytes need not be UTF-8. Binary replies are bytes too: no JSON rule matches them.
  bool binary = false;
  /// Offer permessage-deflate (RFC 7692) in the upgrade; a server that declines it gets
  /// an uncompressed run, and the summary counts the upgrades that agreed
  /// (`connections.compressed`).
  bool compression = false;
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
  /// A scripted session (session.hpp): each connection runs it `iterations` times in turn,
  /// or with a `duration` until that passes, instead of sending the prompts; each run is
  /// one request of the summary (its latency the whole session's), and its named steps
  /// and checks have figures of their own; a session that sends the prompts
  /// (Session::send_prompts, wsload::prompt_session) is counted by them instead. With
  /// `session_rate` (or `stages`) sessions arrive instead, see there. Empty: the prompt
  /// loop, which prompt_session runs as a session.
  SessionFunction session;
  /// How many times each session sends the prompts (Session::send_prompts), so that the
  /// sessions a run could not start or finish count as the prompts they would have sent;
  /// 0: once for wsload::prompt_session, else none (each session counts as one request).
  /// `wsload run --scenario` sets it from the file's send_prompts steps.
  std::size_t prompt_passes = 0;
  /// How many times a session sends the prompts: prompt_passes, or once for
  /// wsload::prompt_session; 0 when it sends none that the run knows of.
  std::uint64_t session_prompt_passes() const noexcept {
    if (prompt_passes > 0) return prompt_passes;
    const auto* function = session.target<SessionTask (*)(Session&)>();
    return function && *function == &prompt_session ? 1 : 0;
  }
  /// The requests one session counts as: its prompts (see prompt_passes), or 1.
  std::uint64_t session_requests() const noexcept {
    const auto passes = session_prompt_passes();
    return passes > 0 && !prompts.empty() ? passes * prompts.size() : 1;
  }
  /// Open model of users: new sessions of `session` start at this rate per second over the
  /// `duration` (or ramped through `stages`, which then ramp this rate as they ramp `rate`),
  /// each on a connection of its own that closes when it ends; `connections` and
  /// `iterations` do not apply. A session's latency counts from when it was due, and
  /// its first step is charged how late it started (a wait for a slot, the connect). 0 (and no
  /// stages): each connection runs its sessions one after another.
  double session_rate = 0;
  /// Session arrivals: sessions in flight at once, at most, split across the engine
  /// threads; a due session finding them all busy waits (its latency counting).
  std::size_t max_sessions = 1000;
  /// How long requests are sent; 0: until the count above is sent.
  std::chrono::milliseconds duration{0};
  /// Requests that end in the first `warmup` are sent but left out of the statistics.
  std::chrono::milliseconds warmup{0};

  bool open_loop() const noexcept { return rate > 0 || !stages.empty() || session_rate > 0; }
  /// Sessions arrive on a schedule (session_rate, or stages with a session).
  bool session_arrivals() const noexcept { return session && open_loop(); }

  /// This process runs one shard of the load (see shard.hpp); `wsload merge` joins the
  /// shards' summaries and judges the thresholds on the whole. A shard judges none.
  std::optional<Shard> shard;
  /// Wall-clock time to start at (shards started apart line up); at once when past.
  std::optional<std::chrono::system_clock::time_point> start_at;

  /// The connections this process opens: all of them, or its shard's.
  std::size_t own_connections() const noexcept {
    return shard ? shard->connections_of(connections) : connections;
  }
  /// The connections this process has open at once, at most: with session arrivals the
  /// cap, or the schedule's sessions when they are fewer.
  std::size_t concurrent_connections() const {
    if (!session_arrivals()) return own_connections();
    return static_cast<std::size_t>(std::min<std::uint64_t>(max_sessions, expected_requests()));
  }

  std::optional<Seconds> max_average_latency;  ///< MAX_LATENCY: "avg<=X s"
  std::optional<double> min_rps;               ///< MIN_RPS: "rps>=X"
  std::optional<double> min_success_rate;      ///< MIN_SUCCESS_RATE: "success_rate>=X%"
  std::vector<std::string> thresholds;         ///< expressions, e.g. "p99<800ms"

  /// Requests the run will attempt: connections x prompts x iterations (x sessions'
  /// requests), or as many as the open-loop schedule holds (sessions, when they arrive); 0 when a
  /// closed loop runs for a duration (unknown).
  std::uint64_t expected_requests() const;
};

/// The open-loop schedule of `config`; empty for a closed loop.
inline std::optional<Schedule> schedule_of(const LoadConfig& config) {
  if (!config.open_loop()) return std::nullopt;
  const double rate = config.session_rate > 0 ? config.session_rate : config.rate;
  if (!config.stages.empty()) return Schedule(rate, config.stages);
  return Schedule(
      rate, Seconds(config.duration),
      static_cast<std::uint64_t>(config.connections) * config.prompts.size() * config.iterations);
}

inline std::uint64_t LoadConfig::expected_requests() const {
  if (open_loop()) {
    const auto total = schedule_of(*this)->total();
    if (!shard) return total;
    // Session k of the schedule is shard k mod count's.
    if (session_arrivals())
      return total > shard->index ? (total - shard->index - 1) / shard->count + 1 : 0;
    // Request k of connection i is entry k x connections + i of the schedule.
    std::uint64_t mine = 0;
    for (std::uint64_t i = shard->index; i < connections && i < total; i += shard->count) {
      mine += (total - i - 1) / connections + 1;
    }
    return mine;
  }
  if (duration.count() > 0) return 0;
  const std::uint64_t per_iteration = session ? session_requests() : prompts.size();
  return static_cast<std::uint64_t>(own_connections()) * per_iteration * iterations;
}

/// How long a run sends requests: its duration or schedule; 0 when it sends a count.
inline Seconds sending_time(const LoadConfig& config) {
  if (config.open_loop()) return schedule_of(config)->duration();
  return Seconds(config.duration);
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

/// The connections each engine thread is given by default before another starts. One
/// thread carries hundreds of connections' traffic, and each thread beyond what the load
/// needs costs CPU per message in wake-ups of its own (50 connections against an echo
/// server: about 0.5 us more per round trip with two threads than with one), CPU that a
/// service on the same machine loses. A saturated engine is flagged (generator.busy).
inline constexpr std::size_t connections_per_default_thread = 100;

/// The engine threads a run uses: the configured count, or one per
/// connections_per_default_thread connections up to one per core; never more than the
/// connections (open at once).
inline std::size_t effective_threads(const LoadConfig& config) {
  const std::size_t connections = std::max<std::size_t>(config.concurrent_connections(), 1);
  std::size_t n = config.threads;
  if (n == 0) {
    const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    n = std::min(
        cores, (connections + connections_per_default_thread - 1) / connections_per_default_thread);
  }
  return std::clamp<std::size_t>(n, 1, connections);
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
  for (const auto& p : redact_subprotocols(config.subprotocols)) j["subprotocols"].push_back(p);
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
  if (!config.slo.empty()) j["slo"] = config.slo;
  if (!config.tokens.empty() && config.tokens != "frames") j["tokens"] = redact(config.tokens);
  if (!config.first_token.empty() && config.first_token != "first")
    j["first_token"] = redact(config.first_token);
  j["error_rules"] = nlohmann::json::array();
  for (const auto& rule : config.error_rules) j["error_rules"].push_back(redact(rule));
  if (!config.correlation.empty()) j["correlation"] = redact(config.correlation);
  j["in_flight"] = config.in_flight;
  if (config.connect_rate > 0) j["connect_rate"] = config.connect_rate;
  if (config.binary) j["binary"] = true;
  if (config.compression) j["compression"] = "permessage-deflate";
  j["max_send_size"] = config.max_send_size;
  j["fragment_size"] = config.fragment_size;
  if (config.aws.enabled) {
    j["aws"] = {{"signing", "SigV4"}, {"service", config.aws.service}};
    if (!config.aws.region.empty()) j["aws"]["region"] = config.aws.region;
  }
  if (config.rate > 0) j["rate"] = config.rate;
  if (config.session_arrivals()) {
    if (config.session_rate > 0) j["session_rate"] = config.session_rate;
    j["max_sessions"] = config.max_sessions;
  }
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
  if (config.session) j["session"] = "scripted";
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
