#!/usr/bin/env bash
# Measures how often `wsload compare` calls a regression between two single runs of the
# same build against the same service (false alarms), and whether it still catches a
# service 40 % slower. A benchmark of the verdict, not a test: its figures depend on the
# machine. Traffic stays on 127.0.0.1 (`wsload serve`).
#
# Usage: scripts/compare-noise.sh [build-dir]
#   PAIRS=20            same-build pairs to compare
#   DELAY_MS=0          the service's reply delay for the same-build pairs
#   SLOW_DELAY_MS=50,70 a baseline delay and one 40 % longer, for the slower service
#   RUN="--rate 200 --duration 5 --connections 20"   how each run loads the service
# Exit code: 0 when there was no false regression and the slower service was caught.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
wsload="$build/bin/wsload"
PAIRS=${PAIRS:-20}
DELAY_MS=${DELAY_MS:-0}
SLOW_DELAY_MS=${SLOW_DELAY_MS:-50,70}
read -r -a run_args <<<"${RUN:---rate 200 --duration 5 --connections 20}"
work=$(mktemp -d)
servers=()
cleanup() {
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

serve() {  # DELAY_MS -> sets url (not in a subshell: cleanup must know the server)
  local log="$work/serve-$1-${#servers[@]}.log"
  "$wsload" serve --port 0 --delay-ms "$1" >"$log" 2>&1 &
  servers+=($!)
  for _ in $(seq 100); do
    if grep -q "listening on" "$log"; then
      url=$(sed -n 's/.*listening on \(ws:[^ ]*\).*/\1/p' "$log")
      return
    fi
    sleep 0.1
  done
  echo "wsload serve did not start: $(cat "$log")" >&2
  exit 2
}

load() {  # URL FILE
  "$wsload" run --url "$1" --prompt hello --quiet --summary "$2" --min-rps 0 \
    --max-latency 3600 --min-success-rate 0 "${run_args[@]}" >/dev/null || true
}

compare() {  # BASE NEW -> exit code of wsload compare; its table into $work/last.txt
  local rc=0
  "$wsload" compare "$1" "$2" >"$work/last.txt" 2>&1 || rc=$?
  echo "$rc"
}

serve "$DELAY_MS"
false_alarms=0
for i in $(seq "$PAIRS"); do
  load "$url" "$work/a.json"
  load "$url" "$work/b.json"
  rc=$(compare "$work/a.json" "$work/b.json")
  if [ "$rc" = 1 ]; then
    false_alarms=$((false_alarms + 1))
    echo "pair $i: false regression"
    grep -E "regression$" "$work/last.txt" || true
  elif [ "$rc" != 0 ]; then
    echo "pair $i: wsload compare exited $rc"
    cat "$work/last.txt"
    exit 2
  fi
done
echo "same build, delay ${DELAY_MS} ms: $false_alarms false regressions in $PAIRS single-run pairs"

base_delay=${SLOW_DELAY_MS%,*}
slow_delay=${SLOW_DELAY_MS#*,}
serve "$base_delay"
load "$url" "$work/base.json"
serve "$slow_delay"
load "$url" "$work/slow.json"
rc=$(compare "$work/base.json" "$work/slow.json")
cat "$work/last.txt"
# A single run resolves no change smaller than its generator's own lag (see README).
for side in base slow; do
  echo "$side run: $(grep -o '"loop_lag_p99": [0-9.e-]*' "$work/$side.json")"
done
echo "service ${base_delay} ms -> ${slow_delay} ms: wsload compare exited $rc"
[ "$false_alarms" = 0 ] && [ "$rc" = 1 ]
