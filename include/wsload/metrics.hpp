// Live figures of a running load and their Prometheus text exposition (format 0.0.4).
//
// The engine's threads publish their figures a few times a second (never on the
// per-message path); a scrape merges them into one LiveFigures and renders it here, so
// the format is tested without a socket.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include <wsload/errors.hpp>
#include <wsload/histogram.hpp>
#include <wsload/thresholds.hpp>

namespace wsload {

/// Live metrics for Prometheus while a load runs (`--metrics-listen`).
struct MetricsOptions {
  /// "PORT", "HOST:PORT" or "[V6]:PORT"; empty: no endpoint. A bare port listens on
  /// 127.0.0.1: another address is taken only when given. Port 0 takes a free one
  /// (Engine::metrics_port() says which).
  std::string listen;
  /// How long the endpoint stays up after the run, so the last scrape sees the final
  /// figures (Engine::linger()).
  std::chrono::milliseconds linger{0};
};

/// Where the metrics endpoint listens.
struct MetricsAddress {
  std::string host;  ///< an IP literal (IPv6 without brackets)
  std::uint16_t port = 0;
};

/// Parses MetricsOptions::listen. Throws ConfigError naming `field` for anything but an
/// IP literal (or localhost) and a port from 0 to 65535.
inline MetricsAddress parse_metrics_listen(const std::string& text,
                                           const std::string& field = "metrics listen") {
  MetricsAddress a;
  std::string port = text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find("]:");
    if (close == std::string::npos) throw ConfigError(field, text, "must be [ADDRESS]:PORT");
    a.host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (const auto colon = text.rfind(':'); colon != std::string::npos) {
    a.host = text.substr(0, colon);
    port = text.substr(colon + 1);
  } else {
    a.host = "127.0.0.1";
  }
  if (a.host == "localhost") a.host = "127.0.0.1";
  const bool v4 = !a.host.empty() && a.host.find_first_not_of("0123456789.") == std::string::npos &&
                  std::count(a.host.begin(), a.host.end(), '.') == 3;
  const bool v6 = a.host.find(':') != std::string::npos &&
                  a.host.find_first_not_of("0123456789abcdefABCDEF:.") == std::string::npos;
  if (!v4 && !v6) {
    throw ConfigError(field, text,
                      "needs an IP address (127.0.0.1, [::1], 0.0.0.0) or only a port");
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535) {
    throw ConfigError(field, text, "needs a port from 0 to 65535");
  }
  a.port = static_cast<std::uint16_t>(std::stoul(port));
  return a;
}

/// What a scrape sees: totals since the run began (counters), and the state now (gauges).
struct LiveFigures {
  std::uint64_t succeeded = 0;
  std::map<ErrorKind, std::uint64_t> failed;  ///< failed requests by kind
  std::uint64_t sent = 0;                     ///< requests written to a connection
  std::uint64_t connections_open = 0;
  std::uint64_t in_flight = 0;  ///< requests sent and not yet answered or failed
  double target_rate = 0;       ///< open loop: requests per second asked for now; 0 closed
  Histogram latency;            ///< microseconds, as in the summary
  Histogram ttfb;               ///< microseconds
  bool running = false;         ///< false before the start and after the end

  /// Adds another thread's figures (the gauges too: they are per thread).
  LiveFigures& operator+=(const LiveFigures& other) {
    succeeded += other.succeeded;
    for (const auto& [kind, n] : other.failed) failed[kind] += n;
    sent += other.sent;
    connections_open += other.connections_open;
    in_flight += other.in_flight;
    latency.merge(other.latency);
    ttfb.merge(other.ttfb);
    return *this;
  }
};

namespace detail {

/// Upper bounds of the exposed latency buckets, seconds: 1-1.5-2-3-5-7 per decade from
/// 100 us to 70 s, so that histogram_quantile() lands within a factor of 1.5 or less.
inline constexpr std::array<double, 36> metrics_buckets = {
    0.0001, 0.00015, 0.0002, 0.0003, 0.0005, 0.0007, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.007,
    0.01,   0.015,   0.02,   0.03,   0.05,   0.07,   0.1,   0.15,   0.2,   0.3,   0.5,   0.7,
    1,      1.5,     2,      3,      5,      7,      10,    15,     20,    30,    50,    70};

/// A label value escaped as the exposition format asks (backslash, quote, newline).
inline std::string label_value(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

inline std::string metrics_number(double v) {
  return format_number(v, 9);
}

}  // namespace detail

/// The Prometheus text exposition of `f`. `labels` (e.g. run="chat",shard="0/4") are
/// put on every sample; their values are escaped here.
inline std::string prometheus_text(const LiveFigures& f,
                                   const std::map<std::string, std::string>& labels) {
  using detail::metrics_number;
  std::string common;
  for (const auto& [name, value] : labels) {
    common += (common.empty() ? "" : ",") + name + "=\"" + detail::label_value(value) + "\"";
  }
  const auto with = [&common](const std::string& extra) {
    const std::string all = common + (common.empty() || extra.empty() ? "" : ",") + extra;
    return all.empty() ? std::string() : "{" + all + "}";
  };
  std::string out;
  const auto metric = [&out](const char* name, const char* type, const char* help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  };
  const auto sample = [&out](const std::string& name, const std::string& labels, double v) {
    out.append(name).append(labels).append(" ").append(metrics_number(v)).append("\n");
  };

  metric("wsload_requests_succeeded_total", "counter", "Requests whose reply completed.");
  sample("wsload_requests_succeeded_total", with(""), static_cast<double>(f.succeeded));
  metric("wsload_requests_failed_total", "counter", "Failed requests, by kind of failure.");
  for (const auto kind : all_error_kinds) {
    const auto it = f.failed.find(kind);
    sample("wsload_requests_failed_total", with("kind=\"" + std::string(to_string(kind)) + "\""),
           it == f.failed.end() ? 0.0 : static_cast<double>(it->second));
  }
  metric("wsload_requests_sent_total", "counter", "Requests written to a connection.");
  sample("wsload_requests_sent_total", with(""), static_cast<double>(f.sent));
  metric("wsload_connections_open", "gauge", "Connections open now.");
  sample("wsload_connections_open", with(""), static_cast<double>(f.connections_open));
  metric("wsload_requests_in_flight", "gauge", "Requests sent and not yet answered or failed.");
  sample("wsload_requests_in_flight", with(""), static_cast<double>(f.in_flight));
  metric("wsload_target_rate", "gauge",
         "Requests per second the open-loop schedule asks for now; 0 in a closed loop.");
  sample("wsload_target_rate", with(""), f.target_rate);
  metric("wsload_running", "gauge", "1 while the load runs.");
  sample("wsload_running", with(""), f.running ? 1 : 0);

  const auto histogram = [&](const char* name, const char* help, const Histogram& h) {
    metric(name, "histogram", help);
    const auto& counts = h.counts();
    std::size_t index = 0;
    std::int64_t cumulative = 0;
    for (const double bound : detail::metrics_buckets) {
      const auto limit = static_cast<std::int64_t>(bound * 1e6);
      // A histogram bucket is counted where its values start: within its precision.
      while (index < counts.size() && h.value_at_index(index) <= limit)
        cumulative += counts[index++];
      sample(std::string(name) + "_bucket", with("le=\"" + metrics_number(bound) + "\""),
             static_cast<double>(cumulative));
    }
    sample(std::string(name) + "_bucket", with("le=\"+Inf\""), static_cast<double>(h.count()));
    sample(std::string(name) + "_sum", with(""), h.sum() / 1e6);
    sample(std::string(name) + "_count", with(""), static_cast<double>(h.count()));
  };
  histogram("wsload_latency_seconds", "Latency of successful requests (from when each was due).",
            f.latency);
  histogram("wsload_ttfb_seconds", "Time to the first frame of successful replies.", f.ttfb);
  return out;
}

}  // namespace wsload
