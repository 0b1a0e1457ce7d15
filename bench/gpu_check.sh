#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# GPU check, in one go on a machine with an NVIDIA GPU (driver, CUDA 12 and cuDNN 9 runtimes) and the CUDA build of
# ONNX Runtime: builds focal, runs the fidelity suites with CUDAExecutionProvider first in the provider list, then
# prints clip.visual throughput over HTTP at 1, 8 and 32 requests in flight, without and with dynamic batching
# (FOCAL_ML_BATCH__CLIP__VISUAL=32,2000), on a ViT-B-32-shaped generated model. About 10 minutes on a fresh build.
# Usage: bench/gpu_check.sh [SECONDS_PER_MEASUREMENT]
# Needs what scripts/bootstrap.sh installs (FOCAL_ORT_GPU=cuda scripts/bootstrap.sh --no-build on a machine with
# network access fetches the CUDA runtime into .deps/onnxruntime), or FOCAL_ORT_ROOT naming a CUDA build.
# BUILD (default build/gpu) is the build folder; FOCAL_BENCH_DIR (default /tmp/focal-bench) the work folder.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
build=${BUILD:-build/gpu}
work=${FOCAL_BENCH_DIR:-/tmp/focal-bench}
log() { printf '[gpu_check] %s\n' "$*" >&2; }

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader ||
  log "nvidia-smi not found: is an NVIDIA driver installed?"
ort_root=${FOCAL_ORT_ROOT:-$PWD/.deps/onnxruntime}
if ! ls "$ort_root"/lib/libonnxruntime_providers_cuda.so >/dev/null 2>&1; then
  log "$ort_root has no CUDA provider; fetching the CUDA build (FOCAL_ORT_GPU=cuda)"
  scripts/fetch-onnxruntime.sh --gpu cuda "$ort_root"
fi

log "building in $build"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFOCAL_ORT_ROOT="$ort_root" -DFOCAL_WEB=OFF \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build "$build" >/dev/null

export FOCAL_TEST_EXECUTION_PROVIDERS=cuda,cpu FOCAL_ML_EXECUTION_PROVIDERS=cuda,cpu
log "fidelity suites with the test servers on FOCAL_ML_EXECUTION_PROVIDERS=cuda,cpu"
fidelity=0
ctest --test-dir "$build" -L fidelity --output-on-failure || fidelity=$?  # generates the test models first

log "clip.visual throughput on a ViT-B-32-shaped model"
models="$work/models-full"
[[ -d $models ]] || .venv/bin/python tools/gen_test_models.py --out "$models" --only ViT-B-32__openai --full-size -q
images="$work/gpu-previews"
[[ -d $images ]] || .venv/bin/python bench/make_previews.py ../shared/testdata/photos "$images" >/dev/null
port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf '\n| batching | requests in flight | req/s | p50 ms | p99 ms |\n|---|---|---|---|---|\n'
for batching in off 32,2000; do
  env_batch=(); [[ $batching == off ]] || env_batch=(FOCAL_ML_BATCH__CLIP__VISUAL="$batching")
  env "${env_batch[@]}" IMMICH_HOST=127.0.0.1 IMMICH_PORT="$port" MACHINE_LEARNING_CACHE_FOLDER="$models" \
    MACHINE_LEARNING_REQUEST_THREADS=32 IMMICH_LOG_LEVEL=info "$build/focal-ml" >"$work/gpu-focal-ml.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/ping" >/dev/null && break; sleep 0.1; done
  for c in 1 8 32; do
    "$build/bench/predict_load" --port "$port" --task clip.visual --inputs "$images" --concurrency "$c" \
      --seconds "$seconds" --warmup 2 |
      .venv/bin/python -c 'import json, sys; r = json.load(sys.stdin); b, c = sys.argv[1:3]
print(f"| {b} | {c} | {r[\"throughput_rps\"]:.1f} | {r[\"p50_ms\"]:.1f} | {r[\"p99_ms\"]:.1f} |")' "$batching" "$c"
  done
  kill "$pid"; wait "$pid" || true
done
# Which provider the sessions got (a CUDA failure falls back to CPU with a warning naming the cause).
grep -iE "execution provider|falling back|retrying" "$work/gpu-focal-ml.log" >&2 || true
[[ $fidelity == 0 ]] && log "fidelity suites passed with CUDA" || log "fidelity suites FAILED with CUDA (exit $fidelity)"
exit "$fidelity"
