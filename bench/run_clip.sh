#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Runs the CLIP benchmarks and their Python baselines in one go and prints a Markdown table with ratios
# (Python time / focal time; > 1 means focal is faster). Usage: bench/run_clip.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
work=${FOCAL_BENCH_DIR:-/tmp/focal-bench}
py=.venv/bin/python
[[ -d $work/previews ]] || $py bench/make_previews.py ../shared/testdata/photos "$work/previews" >/dev/null 2>&1
[[ -d $work/models ]] || $py tools/gen_test_models.py --out "$work/models" >/dev/null
m=$work/models/clip/ViT-B-32__openai
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
vc=$(build/release/bench/clip_visual_bench "$m/visual" "$work/previews" "$repeats")
vp=$($py bench/clip_visual_reference_bench.py "$m/visual" "$work/previews" "$repeats")
tc=$(build/release/bench/clip_textual_bench "$m/textual" bench/queries.txt $((repeats * 20)))
tp=$($py bench/clip_textual_reference_bench.py "$m/textual" bench/queries.txt $((repeats * 20)))
$py - "$vc" "$vp" "$tc" "$tp" <<'PY'
import json, sys
vc, vp, tc, tp = (json.loads(a) for a in sys.argv[1:])
def table(title, c, p, stages):
    print(f"\n{title}\n\n| stage | focal ms | Python reference ms | ratio |\n|---|---|---|---|")
    for s in stages + ["total"]:
        fc = sum(c[k] for k in stages) if s == "total" else c[s]
        fp = sum(p[k] for k in stages) if s == "total" else p[s]
        print(f"| {s.replace('_ms', '')} | {fc:.3f} | {fp:.3f} | {fp / fc:.2f}x |")
table(f"clip.visual, {vc['images']} images (1440 px previews)", vc, vp, ["decode_ms", "preprocess_ms", "run_ms", "serialize_ms"])
table(f"clip.textual, {tc['queries']} queries", tc, tp, ["tokenize_ms", "run_ms", "serialize_ms"])
PY
