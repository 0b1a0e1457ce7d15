#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Builds the libFuzzer targets (clang, ASan + UBSan) and fuzzes each for SECONDS (default 60), starting from
# seeds made from the test data and the hostile tables plus the corpus kept from earlier runs. A crash stops
# with a non-zero exit after copying the input to tests/fuzz_regressions/<target>/ (replayed by ctest).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: multipart request_head entries image tokenizer exif
#        api_json). FOCAL_FUZZ_PRESET picks the build (default fuzz; CI uses its ci-asan build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(multipart request_head entries image tokenizer exif api_json)
preset=${FOCAL_FUZZ_PRESET:-fuzz}
build=build/$preset
testdata=${FOCAL_TESTDATA:-$root/../shared/testdata}
work=$build/fuzz-work
log() { printf '[fuzz] %s\n' "$*" >&2; }

[[ -f $build/build.ninja ]] || cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" --target "${targets[@]/%/_fuzzer}" generate_test_models_files >/dev/null 2>&1 ||
  cmake --build --preset "$preset" --target "${targets[@]/%/_fuzzer}"
if [[ ! -d $build/test-models/clip ]]; then
  .venv/bin/python tools/gen_test_models.py --out "$build/test-models" >/dev/null
fi
mkdir -p "$work"
.venv/bin/python tools/fuzz_seeds.py --out "$work/seeds" --testdata "$testdata" >/dev/null
export FOCAL_FUZZ_TOKENIZERS=$root/$build/test-models
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
printf '%-14s %10s %10s %8s  %s\n' target runs "runs/s" corpus result
for target in "${targets[@]}"; do
  corpus=$work/corpus/$target
  artifacts=$work/artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  output=$work/$target.log
  set +e
  "$build/fuzz/${target}_fuzzer" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" "$work/seeds/$target" tests/fuzz_regressions/"$target" >"$output" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$output" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$output" | grep -o '[0-9]*$' || echo 0)
  size=$(find "$corpus" -type f | wc -l)
  result=ok
  if ((rc != 0)); then
    result="CRASH (see $output)"
    status=1
    for crash in "$artifacts"/*; do
      [[ -f $crash ]] || continue
      cp "$crash" "tests/fuzz_regressions/$target/$(basename "$crash")"
      log "kept $(basename "$crash") in tests/fuzz_regressions/$target/"
    done
  fi
  printf '%-14s %10s %10s %8s  %s\n' "$target" "$runs" "$rate" "$size" "$result"
done
exit "$status"
