// The quick-start demo: a load test against the embedded server, over ws and then wss,
// with the thresholds of a typical chat endpoint. Prints each summary and writes the
// last one as JSON. Exit code 0 when every threshold passed, 1 otherwise, 2 on bad input.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <unistd.h>

#include <wsload/testing/server.hpp>
#include <wsload/wsload.hpp>

namespace {

using namespace std::chrono_literals;

wsload::Summary run_against(const wsload::testing::Server& server, const std::string& prompts) {
  wsload::LoadConfig config;
  config.name = std::string("demo ") + (server.ca_pem().empty() ? "ws" : "wss");
  config.url = server.url("/chat");
  config.origin = "https://demo.wsload.invalid";
  config.prompts = wsload::read_prompts(prompts);
  config.connections = 20;
  config.iterations = 25;
  config.tls.ca_pem = server.ca_pem();
  config.timeouts.run = 60s;
  config.max_average_latency = wsload::Seconds(0.5);
  config.min_rps = 100;
  config.min_success_rate = 95;
  config.thresholds = {"p99<250ms", "errors==0"};
  wsload::apply_environment(config);

  const bool tty = ::isatty(STDERR_FILENO) != 0;
  const auto summary = wsload::Engine(config).run([tty](const wsload::Progress& p) {
    if (tty)
      std::fprintf(stderr, "\r  %llu/%llu requests, %.0f req/s ",
                   static_cast<unsigned long long>(p.done),
                   static_cast<unsigned long long>(p.expected), p.rate);
  });
  if (tty) std::fprintf(stderr, "\r%60s\r", "");
  std::cout << wsload::format_report(summary) << '\n';
  return summary;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  // Beside the build tree's bin/ by default, so a demo run leaves the sources clean.
  const fs::path bin = fs::absolute(argv[0]).parent_path();
  const fs::path prompts = argc > 1 ? fs::path(argv[1]) : fs::path(WSLOAD_DEMO_PROMPTS);
  const fs::path summary_path =
      argc > 2 ? fs::path(argv[2]) : bin.parent_path() / "demo_summary.json";
  try {
    wsload::testing::ServerOptions options;
    options.reply_delay = 2ms;  // a token "model": replies are not instant
    wsload::testing::Server plain(options);
    const auto ws = run_against(plain, prompts.string());
    options.tls = true;
    wsload::testing::Server secure(options);
    const auto wss = run_against(secure, prompts.string());
    wsload::write_summary(wss, summary_path);
    std::cout << "summary JSON of the wss run: " << summary_path.string() << '\n';
    return ws.passed() && wss.passed() ? 0 : 1;
  } catch (const wsload::ConfigError& e) {
    std::cerr << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "wsload_demo: " << e.what() << '\n';
    return 2;
  }
}
