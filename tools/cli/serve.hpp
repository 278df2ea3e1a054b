// `wsload serve`: the embedded test server on 127.0.0.1 until a signal stops it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include <wsload/detail/open_files.hpp>
#include <wsload/results/output.hpp>
#include <wsload/testing/server.hpp>

#include "errors.hpp"
#include "options.hpp"
#include "signals.hpp"

namespace wsload::cli::detail {

/// What `wsload serve` was asked to do.
struct ServeOptions {
  std::uint16_t port = 0;
  bool tls = false;
  unsigned delay_ms = 0;
  bool silent = false;
  std::string ca_out;
  unsigned threads = 1;
  bool api_gateway = false;
  std::size_t stream_chunks = 0;
  unsigned chunk_delay_ms = 0;
  bool compression = false;
};

/// Declares `wsload serve` on `app`, its flags stored in `o`.
inline CLI::App* add_serve_command(CLI::App& app, ServeOptions& o) {
  auto* serve = app.add_subcommand("serve", "run the embedded test server on 127.0.0.1");
  serve->add_option("--port", o.port, "port (0: any free port)")
      ->check(within(0, 65'535))
      ->capture_default_str();
  serve->add_option("--threads", o.threads, "server threads")
      ->check(within(1u, 64u))
      ->capture_default_str();
  serve->add_flag("--tls", o.tls, "wss with a certificate made at start");
  serve->add_option("--delay-ms", o.delay_ms, "wait before each reply, milliseconds")
      ->check(within(0u, 600'000u));
  serve->add_flag("--silent", o.silent, "never reply (for timeout tests)");
  serve->add_flag("--api-gateway", o.api_gateway,
                  "answer like API Gateway: JSON bodies routed on /action, its error messages");
  serve
      ->add_option("--stream", o.stream_chunks,
                   "with --api-gateway: reply with N chunk frames then {\"type\":\"end\"}")
      ->check(within(std::size_t{1}, std::size_t{10'000}));
  serve->add_option("--chunk-delay-ms", o.chunk_delay_ms, "wait before each chunk, milliseconds")
      ->check(within(0u, 600'000u));
  serve->add_option("--ca-out", o.ca_out, "where to write the CA certificate for --tls");
  serve->add_flag("--compression", o.compression,
                  "accept permessage-deflate when a client offers it");
  return serve;
}

/// `wsload serve`: serves until `signals` sees a signal.
inline int serve_command(SignalWatcher& signals, const ServeOptions& o) {
  testing::ServerOptions options;
  options.port = o.port;
  options.tls = o.tls;
  options.threads = o.threads;
  options.compression = o.compression;
  wsload::detail::raise_open_file_limit(1 << 20);  // as many connections as the hard limit allows
  options.reply_delay = std::chrono::milliseconds(o.delay_ms);
  options.mode = o.silent ? testing::ReplyMode::silent : testing::ReplyMode::echo;
  if (o.api_gateway || o.stream_chunks > 0) {
    options.mode = testing::ReplyMode::api_gateway;
    testing::Route route;
    route.delay = options.reply_delay;
    if (o.stream_chunks > 0) {
      route.kind = testing::Route::Kind::stream;
      route.chunks = o.stream_chunks;
      route.chunk_delay = std::chrono::milliseconds(o.chunk_delay_ms);
    }
    if (o.silent) route.kind = testing::Route::Kind::silent;
    options.routes = {{"$default", route}};
  }
  testing::Server server(options);
  std::cout << "wsload serve: listening on " << server.url() << '\n';
  if (o.tls) {
    const std::filesystem::path pem =
        o.ca_out.empty() ? std::filesystem::temp_directory_path() /
                               ("wsload-serve-" + std::to_string(server.port()) + "-ca.pem")
                         : std::filesystem::path(o.ca_out);
    write_file_atomically(pem, server.ca_pem(), "--ca-out");
    std::cout << "wsload serve: CA certificate in " << pem.string() << '\n';
  }
  std::cout << "wsload serve: Ctrl-C to stop" << std::endl;
  signals.wait();
  server.stop();
  return exit_passed;
}

}  // namespace wsload::cli::detail
