#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time under AddressSanitizer and
# UndefinedBehaviorSanitizer (clang), each starting from its committed
# corpus in tests/fuzz/corpus/<target>/. New inputs the fuzzer finds go to
# a scratch directory, not into the tree. A crash, leak or sanitizer report
# fails the run; its input is copied into the target's corpus, where the
# replay tests of scripts/test.sh run it from then on (commit it with the
# fix).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 30, every target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
build=${BUILD_DIR:-build-fuzz}
if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPOSHTA_FUZZ=ON -DPOSHTA_SANITIZE=address,undefined
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(sed -n 's/^set(POSHTA_FUZZ_TARGETS \(.*\))$/\1/p' tests/CMakeLists.txt | tr ' ' '\n')
fi
cmake --build "$build" --target "${targets[@]/#/fuzz_}"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in "${targets[@]}"; do
  corpus=tests/fuzz/corpus/$t
  mkdir -p "$scratch/$t" "$scratch/$t-crash"
  echo "fuzz $t: ${seconds}s from $(find "$corpus" -type f | wc -l) seeds"
  if ! "$build/tests/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$scratch/$t-crash/" "$scratch/$t" "$corpus" >"$scratch/$t.log" 2>&1; then
    tail -n 60 "$scratch/$t.log"
    for input in "$scratch/$t-crash"/*; do
      [ -e "$input" ] || continue
      cp "$input" "$corpus/regression-$(basename "$input")"
      echo "fuzz $t: the input is now $corpus/regression-$(basename "$input")"
    done
    failed+=("$t")
  else
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$scratch/$t.log" | tr '\n' ' '
    echo
  fi
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzzing: ${#targets[@]} targets, ${seconds}s each, no problem found"
