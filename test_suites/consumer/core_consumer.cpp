// The core model alone (wsload::core: no Boost): parse a threshold and a URL, judge a
// summary, round-trip its histogram (zlib, OpenSSL's base64), match a regex rule (RE2).
#include <iostream>

#include <wsload/message.hpp>
#include <wsload/results/summary.hpp>
#include <wsload/url.hpp>

int main() {
  const auto url = wsload::parse_url("wss://example.com/prod?x=1");
  wsload::Summary summary;
  summary.total_requests = summary.successful_requests = 1;
  summary.latency.record(1000);
  summary.judge({wsload::parse_threshold("p99<800ms")});
  std::cout << url.to_string() << ": " << summary.verdicts.at(0).message << '\n';
  const auto decoded = wsload::Histogram::decode(summary.latency.encode());
  const auto end = wsload::Completion::parse(R"(regex:"type"\s*:\s*"end")");
  const bool judged = end.until->matches(R"({"type": "end"})", nullptr) &&
                      !end.until->matches(R"({"type": "chunk"})", nullptr);
  return url.port == 443 && summary.passed() && decoded.count() == 1 && judged ? 0 : 1;
}
