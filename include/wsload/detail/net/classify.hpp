// Error classification: the ErrorKind and detail of what ended a connection.
#pragma once

#include <string>
#include <utility>

#include <wsload/detail/net/asio.hpp>
#include <wsload/detail/net/state.hpp>
#include <wsload/errors.hpp>

namespace wsload::detail {

/// What ended a connection: its kind, and a detail for the summary.
using Failure = std::pair<ErrorKind, std::string>;

/// The failure `ec` means for a connection in `slot`'s phase, a deadline or an interrupt
/// first; `close` is the peer's close frame, when it sent one.
inline std::pair<ErrorKind, std::string> classify(const boost::system::error_code& ec,
                                                  const ConnectionSlot& slot,
                                                  const websocket::close_reason& close) {
  switch (slot.tearing_down && ec ? Abort::none : slot.abort) {
    case Abort::run_deadline:
      return {ErrorKind::run_deadline, ""};
    case Abort::interrupted:
      return {ErrorKind::interrupted, ""};
    case Abort::timeout:
      switch (slot.phase) {
        case Phase::wait:
        case Phase::connect:
          return {ErrorKind::connect, "timed out"};
        case Phase::tls:
          return {ErrorKind::tls, "timed out"};
        case Phase::upgrade:
          return {ErrorKind::handshake, "timed out"};
        case Phase::send:
          return {ErrorKind::reply_timeout, "while sending: the server is not reading"};
        case Phase::reply:
          return {ErrorKind::reply_timeout, ""};
        case Phase::close:
          return {ErrorKind::connection_lost, "close timed out"};
      }
      break;
    case Abort::none:
      break;
  }
  switch (slot.phase) {
    case Phase::wait:
    case Phase::connect:
      return {ErrorKind::connect, ec.message()};
    case Phase::tls:
      return {ErrorKind::tls, ec.message()};
    case Phase::upgrade:
      return {ErrorKind::handshake, ec.message()};
    default:
      break;
  }
  if (ec == websocket::error::closed) {
    const std::string detail =
        "close code " + std::to_string(close.code) +
        (close.reason.empty() ? "" : ": " + std::string(close.reason.c_str()));
    switch (close.code) {
      case websocket::close_code::going_away:
        return {ErrorKind::going_away, detail};
      case websocket::close_code::too_big:
        return {ErrorKind::peer_too_big, detail};
      case websocket::close_code::internal_error:
        return {ErrorKind::server_error, detail};
      default:
        return {ErrorKind::closed_by_peer, detail};
    }
  }
  if (ec == websocket::error::message_too_big) return {ErrorKind::message_too_big, ""};
  if (ec == websocket::condition::protocol_violation) return {ErrorKind::protocol, ec.message()};
  return {ErrorKind::connection_lost, ec.message()};
}

}  // namespace wsload::detail
