// The core model alone: parse a threshold and a URL, judge a summary.
#include <iostream>

#include <wsload/results/summary.hpp>
#include <wsload/url.hpp>

int main() {
  const auto url = wsload::parse_url("wss://example.com/prod?x=1");
  wsload::Summary summary;
  summary.total_requests = summary.successful_requests = 1;
  summary.latency.record(1000);
  summary.judge({wsload::parse_threshold("p99<800ms")});
  std::cout << url.to_string() << ": " << summary.verdicts.at(0).message << '\n';
  return url.port == 443 && summary.passed() ? 0 : 1;
}
