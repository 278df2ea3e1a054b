#!/usr/bin/env bash
# The CI workflow for load benchmarks: run them on the base build and on the new one,
# then let `wsload compare` judge. Exit code: 0 no regression, 1 a regression, 2 bad input.
#
#   BASE_BUILD=build-main NEW_BUILD=build examples/compare_builds.sh
set -euo pipefail

BASE_BUILD="${BASE_BUILD:-build-base}"
NEW_BUILD="${NEW_BUILD:-build}"
REPETITIONS="${REPETITIONS:-5}"
MAX_REGRESSION="${MAX_REGRESSION:-10}"  # percent, beyond the run-to-run noise
OUT="${OUT:-wsload-compare}"

mkdir -p "$OUT"
for side in base new; do
  build="$BASE_BUILD"
  [ "$side" = new ] && build="$NEW_BUILD"
  "$build/bin/chat_load_benchmark" --benchmark_repetitions="$REPETITIONS" \
    --benchmark_out="$OUT/$side.json" --benchmark_out_format=json
done
"$NEW_BUILD/bin/wsload" compare "$OUT/base.json" "$OUT/new.json" \
  --max-regression "$MAX_REGRESSION" | tee "$OUT/comparison.txt"
