#!/usr/bin/env bash
# Load test one WebSocket endpoint with thresholds, the script way: edit the variables
# (or set them in the environment) and run. Exit code: 0 passed, 1 a threshold failed,
# 2 bad input. The summary lands in load_test_summary.json.
set -euo pipefail

URL="${URL:-wss://your-api-id.execute-api.eu-west-1.amazonaws.com/production}"
ORIGIN="${ORIGIN:-}"
PROMPTS_FILE="${PROMPTS_FILE:-$(dirname "$0")/prompts.txt}"
CONNECTIONS="${CONNECTIONS:-20}"
MAX_LATENCY="${MAX_LATENCY:-0.5}"          # seconds, on the average
MIN_RPS="${MIN_RPS:-100}"                  # successful requests per second
MIN_SUCCESS_RATE="${MIN_SUCCESS_RATE:-95}" # percent
SUMMARY="${SUMMARY:-load_test_summary.json}"
WSLOAD="${WSLOAD:-$(dirname "$0")/../build/bin/wsload}"

args=(run --url "$URL" --prompts "$PROMPTS_FILE" --connections "$CONNECTIONS"
      --max-latency "$MAX_LATENCY" --min-rps "$MIN_RPS" --min-success-rate "$MIN_SUCCESS_RATE"
      --summary "$SUMMARY")
[ -n "$ORIGIN" ] && args+=(--origin "$ORIGIN")

exec "$WSLOAD" "${args[@]}" "$@"
