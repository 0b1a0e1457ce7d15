#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# End-to-end benchmark (bench/run_e2e.py) of focal-ml against tools/reference_server.py (the Python reference, same
# models, same ORT threads), in the same run: /predict throughput, p50/p99 and CPU per request at concurrency 1, 2, 4, 8
# for clip.visual, clip.textual (a ViT-B-32-shaped generated CLIP) and faces (real SCRFD-500M + MobileFaceNet); focal's
# time per stage from /metrics; RSS idle / after one request / over and after a 60 s faces load / after the TTL unload;
# cold start; the goals next to the figures. Prints Markdown tables.
# Usage: bench/run_e2e.sh [SECONDS_PER_MEASUREMENT] [ROUNDS] [extra run_e2e.py options]
# BUILD (default build/release) names the build folder with focal-ml and bench/*; FOCAL_BENCH_DIR the work folder.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build/release}
cmake --build "$build" --target focal-ml predict_load >/dev/null
exec .venv/bin/python bench/run_e2e.py --build "$build" --seconds "${1:-4}" --rounds "${2:-2}" \
  --json "${FOCAL_BENCH_DIR:-/tmp/focal-bench}/e2e-results.json" "${@:3}"
