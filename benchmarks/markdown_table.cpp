// Turns Google Benchmark's JSON output into the Markdown tables of the README's
// performance section: load benchmarks with their client figures, micro-benchmarks with
// their time per operation.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

std::string fixed(double v, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

std::string counter(const nlohmann::json& b, const char* name, int decimals) {
  return b.contains(name) ? fixed(b[name].get<double>(), decimals) : "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: wsload_benchmark_table BENCHMARK.json...\n";
    return 2;
  }
  nlohmann::json context;
  nlohmann::json benchmarks = nlohmann::json::array();
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i]);
    const auto doc = nlohmann::json::parse(in, nullptr, false);
    if (doc.is_discarded() || !doc.contains("benchmarks")) {
      std::cerr << argv[i] << ": not Google Benchmark JSON\n";
      return 2;
    }
    if (context.is_null()) context = doc["context"];
    for (const auto& b : doc["benchmarks"]) benchmarks.push_back(b);
  }
  std::cout << "Measured " << context.value("date", "") << " on " << context.value("num_cpus", 0)
            << " CPUs at " << context.value("mhz_per_cpu", 0) << " MHz.\n\n";
  std::cout << "| load | round trips/s | client CPU µs/round trip (user + sys) | KiB/connection "
               "(resident, heap) | peak resident MiB | connects/s | p50 ms | engine busy |\n"
               "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& b : benchmarks) {
    if (!b.contains("round_trips_per_s")) continue;
    std::cout << "| " << b.value("name", "") << " | " << counter(b, "round_trips_per_s", 0) << " | "
              << counter(b, "cpu_us_per_rt", 1) << " (" << counter(b, "user_us_per_rt", 1) << " + "
              << counter(b, "sys_us_per_rt", 1) << ") | " << counter(b, "kib_per_connection", 1)
              << ", " << counter(b, "heap_kib_per_connection", 1) << " | "
              << counter(b, "peak_resident_mib", 1) << " | " << counter(b, "connects_per_s", 0)
              << " | " << counter(b, "p50_ms", 2) << " | " << counter(b, "generator_busy", 2)
              << " |\n";
  }
  std::cout << "\n| time series of a run (simulated seconds, 200 req/s) | series KiB | peak heap "
               "KiB (with merge and JSON) | resident growth KiB | JSON KiB | interval s | one "
               "dense histogram a second, KiB |\n|---|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& b : benchmarks) {
    if (!b.contains("series_kib")) continue;
    std::cout << "| " << b.value("name", "") << " | " << counter(b, "series_kib", 0) << " | "
              << counter(b, "peak_heap_kib", 0) << " | " << counter(b, "resident_growth_kib", 0)
              << " | " << counter(b, "json_kib", 0) << " | " << counter(b, "interval_s", 0) << " | "
              << counter(b, "dense_kib", 0) << " |\n";
  }
  std::cout << "\n| per-message step | ns per operation |\n|---|---:|\n";
  for (const auto& b : benchmarks) {
    if (b.contains("round_trips_per_s") || b.contains("series_kib")) continue;
    const std::string unit = b.value("time_unit", "ns");
    const double scale = unit == "s" ? 1e9 : unit == "ms" ? 1e6 : unit == "us" ? 1e3 : 1;
    std::cout << "| " << b.value("name", "") << " | " << fixed(b.value("cpu_time", 0.0) * scale, 1)
              << " |\n";
  }
  return 0;
}
