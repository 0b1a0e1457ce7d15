#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# End-to-end benchmark (bench/run_e2e.py): /predict throughput and p50/p99 at concurrency 1, 2, 4, 16 for clip.visual,
# clip.textual and faces against focal-ml and, in the same run, tools/reference_server.py (Python reference, same ORT
# threads); the request overhead against the same pipeline in-process; RSS idle / loaded / after TTL unload; cold
# start. Prints Markdown tables. Usage: bench/run_e2e.sh [SECONDS_PER_MEASUREMENT] [ROUNDS]
# BUILD (default build/release) names the build folder with focal-ml and bench/*; FOCAL_BENCH_DIR the work folder.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build/release}
cmake --build "$build" --target focal-ml predict_load clip_visual_bench clip_textual_bench faces_bench >/dev/null
exec .venv/bin/python bench/run_e2e.py --build "$build" --seconds "${1:-4}" --rounds "${2:-2}" \
  --json "${FOCAL_BENCH_DIR:-/tmp/focal-bench}/e2e-results.json"
