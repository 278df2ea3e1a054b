#!/usr/bin/env bash
# Builds and runs every benchmark, then writes their figures as Markdown tables (the
# README's performance section is made from them). About two minutes. The idle-connection
# loads and the time-series lengths run each in a process of its own: memory freed by an
# earlier load stays resident and would hide what the next one costs.
# Then scripts/round-trip-benchmark.sh: CPU per round trip beside an epoll client.
# Usage: scripts/run-benchmarks.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake -S . -B "$build" >/dev/null
cmake --build "$build" -j2 --target wsload_benchmarks wsload_benchmark_table wsload_cli
bench="$build/bin/wsload_benchmarks"
outputs=()
run() {  # NAME FILTER
  "$bench" --benchmark_filter="$2" --benchmark_out="$build/benchmarks-$1.json" \
    --benchmark_out_format=json
  outputs+=("$build/benchmarks-$1.json")
}
run idle-ws 'IdleConnections/ws/'
run idle-wss 'IdleConnections/wss/'
run loads '^(RoundTrips|LatencyOverhead)'
run steps '^(Histogram|Template|Frame|Regex)'
for seconds in 10 60 3600 86400; do run "series-$seconds" "^TimeSeriesMemory/seconds:$seconds/"; done
"$build/bin/wsload_benchmark_table" "${outputs[@]}" | tee "$build/benchmarks.md"
echo "Tables written to $build/benchmarks.md"
# wsload beside a minimal epoll client against a Node ws echo server (needs node and npm).
scripts/round-trip-benchmark.sh "$build" | tee "$build/round-trips.txt"
