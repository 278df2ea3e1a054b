// Scripted sessions for two public WebSocket protocols, as a user writes them (see
// <wsload/session.hpp>): GraphQL over WebSocket and JSON-RPC 2.0. No Boost here: a file
// that scripts sessions compiles in seconds.
#pragma once

#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include <wsload/session.hpp>

namespace example {

/// GraphQL over WebSocket (the graphql-transport-ws protocol of the graphql-ws package):
/// connection_init and connection_ack on a new socket, then one subscription, timed as the
/// step "subscribe"
/// from its subscribe message to its complete, which must bring `results` next messages.
/// The server's pings are answered while the session waits. Offer the subprotocol
/// "graphql-transport-ws".
inline wsload::SessionTask graphql_subscription(wsload::Session& s, std::size_t results) {
  using wsload::rule;
  s.on(rule("/type==ping"), R"({"type":"pong"})");
  if (s.first_on_connection()) {  // the protocol's handshake is the socket's, once
    co_await s.send(R"({"type":"connection_init"})");
    co_await s.receive_until(rule("/type==connection_ack"));
  }
  s.set("id", s.fill("{{uuid}}"));
  const auto reply = co_await s.request(
      "subscribe",
      s.fill(R"({"id":{{id}},"type":"subscribe","payload":{"query":"subscription { count }"}})"),
      rule("/type==complete"));
  std::size_t nexts = 0;
  for (const auto& frame : reply.frames) {
    const auto message = nlohmann::json::parse(frame, nullptr, false);
    if (message.is_object() && message.value("type", "") == "next") ++nexts;
  }
  s.check("every result", nexts == results, wsload::CheckMode::fail_step);
}

/// JSON-RPC 2.0 (e.g. the rpc-websockets package): a call of "sum", its result captured
/// and sent back in a second call, "echo", each a timed step. Ids are strings: rpc-websockets
/// takes a call with the id 0 for a notification and never answers it.
inline wsload::SessionTask json_rpc_calls(wsload::Session& s) {
  using wsload::rule;
  auto sum = co_await s.request(
      "sum", s.fill(R"({"jsonrpc":"2.0","method":"sum","params":[1,2],"id":"sum-{{sequence}}"})"),
      rule("/id"));
  s.check("sum has a result", s.capture("total", sum, "/result"), wsload::CheckMode::fail_step);
  auto echo = co_await s.request(
      "echo", s.fill(R"({"jsonrpc":"2.0","method":"echo","params":[{{total}}],"id":"echo"})"),
      rule("/id==echo"));
  const auto answer = nlohmann::json::parse(echo.last(), nullptr, false);
  s.check("echo returns the sum", answer.is_object() && answer.value("result", nlohmann::json()) ==
                                                            nlohmann::json::array({3}));
}

}  // namespace example
