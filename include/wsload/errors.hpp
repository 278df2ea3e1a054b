// Errors: the configuration exception, and the kinds a failed request is counted under.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <wsload/redact.hpp>

namespace wsload {

/// Thrown for invalid configuration or input, before any load starts.
/// `field()` names the input (a LoadConfig field, flag, environment variable or file),
/// `value()` the offending value, and the reason, both with their secrets redacted (see
/// redact()), so that no message shows one.
/// what() reads "wsload: <field>: <reason>[ (got '<value>')]".
class ConfigError : public std::invalid_argument {
 public:
  ConfigError(std::string field, std::string_view value, std::string_view reason)
      : std::invalid_argument(format(field, redact(value), redact(reason))),
        field_(std::move(field)),
        value_(redact(value)) {}

  const std::string& field() const noexcept { return field_; }
  const std::string& value() const noexcept { return value_; }

 private:
  static std::string format(const std::string& field, const std::string& value,
                            const std::string& reason) {
    std::string text = "wsload: " + field + ": " + reason;
    if (!value.empty()) {
      // A 10 MB prompt line must not become a 10 MB error message.
      constexpr std::size_t shown = 120;
      text += " (got '" + value.substr(0, shown) + (value.size() > shown ? "...'" : "'") + ")";
    }
    return text;
  }

  std::string field_;
  std::string value_;
};

/// Why a request failed. Each has a stable name used in the summary JSON.
/// A connection that fails counts every request it had not completed under its kind.
enum class ErrorKind {
  dns,                  ///< the host name did not resolve
  connect,              ///< TCP connect refused, unreachable or timed out
  tls,                  ///< TLS handshake failed (including certificate verification)
  handshake_rejected,   ///< the server answered the upgrade with an HTTP status other than 101
  handshake,            ///< the upgrade failed otherwise (timeout, malformed response)
  reply_timeout,        ///< no reply within the reply timeout
  closed_by_peer,       ///< the server sent a close frame (detail: the close code)
  going_away,           ///< the server closed with 1001 (e.g. API Gateway's idle timeout)
  peer_too_big,         ///< the server closed with 1009: our message was too big for it
  server_error,         ///< the server closed with 1011 (internal error)
  connection_lost,      ///< the connection broke without a close frame (1006: reset, EOF)
  protocol,             ///< the server violated RFC 6455
  message_too_big,      ///< a reply exceeded the maximum message size
  error_reply,          ///< a reply frame matched an error rule (detail: its message)
  integration_timeout,  ///< API Gateway's "Endpoint request timed out" (its 29 s limit)
  run_deadline,         ///< the whole run's deadline passed before the request completed
  interrupted,          ///< the run was stopped (Engine::stop) before the request completed
  session_failed,       ///< a scripted session threw or failed a required check (detail: why)
};

inline constexpr ErrorKind all_error_kinds[] = {ErrorKind::dns,
                                                ErrorKind::connect,
                                                ErrorKind::tls,
                                                ErrorKind::handshake_rejected,
                                                ErrorKind::handshake,
                                                ErrorKind::reply_timeout,
                                                ErrorKind::closed_by_peer,
                                                ErrorKind::going_away,
                                                ErrorKind::peer_too_big,
                                                ErrorKind::server_error,
                                                ErrorKind::connection_lost,
                                                ErrorKind::protocol,
                                                ErrorKind::message_too_big,
                                                ErrorKind::error_reply,
                                                ErrorKind::integration_timeout,
                                                ErrorKind::run_deadline,
                                                ErrorKind::interrupted,
                                                ErrorKind::session_failed};

inline constexpr std::string_view to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::dns:
      return "dns";
    case ErrorKind::connect:
      return "connect";
    case ErrorKind::tls:
      return "tls";
    case ErrorKind::handshake_rejected:
      return "handshake_rejected";
    case ErrorKind::handshake:
      return "handshake";
    case ErrorKind::reply_timeout:
      return "reply_timeout";
    case ErrorKind::closed_by_peer:
      return "closed_by_peer";
    case ErrorKind::going_away:
      return "going_away";
    case ErrorKind::peer_too_big:
      return "peer_too_big";
    case ErrorKind::server_error:
      return "server_error";
    case ErrorKind::connection_lost:
      return "connection_lost";
    case ErrorKind::protocol:
      return "protocol";
    case ErrorKind::message_too_big:
      return "message_too_big";
    case ErrorKind::error_reply:
      return "error_reply";
    case ErrorKind::integration_timeout:
      return "integration_timeout";
    case ErrorKind::run_deadline:
      return "run_deadline";
    case ErrorKind::interrupted:
      return "interrupted";
    case ErrorKind::session_failed:
      return "session_failed";
  }
  return "unknown";
}

}  // namespace wsload
