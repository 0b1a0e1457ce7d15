#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Runs the facial-recognition benchmark (bench/faces_bench) and its Python baseline
# (bench/faces_reference_bench.py) alternately for ROUNDS rounds and prints Markdown tables of the per-stage
# medians with ratios (Python time / focal time; > 1 means focal is faster), the throughput and the batching gain.
# Two model pairs: the real SCRFD-500M detector with the real MobileFaceNet recognizer from shared/testdata (the
# network sizes of Immich's buffalo_s), and the generated buffalo_l pack (tiny graphs: shows the overhead around
# ORT). Inputs: 1440 px previews of the face-* and group-* photos. Usage: bench/run_faces.sh [REPEATS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}
rounds=${2:-3}
work=${FOCAL_BENCH_DIR:-/tmp/focal-bench}
py=.venv/bin/python
if [[ ! -d $work/face-previews ]]; then
  mkdir -p "$work/face-photos"
  ln -sf "$PWD"/../shared/testdata/photos/{face,group}-* "$work/face-photos/"
  $py bench/make_previews.py "$work/face-photos" "$work/face-previews" >/dev/null
fi
[[ -d $work/models ]] || $py tools/gen_test_models.py --out "$work/models" >/dev/null
real=../shared/testdata/models
gen=$work/models/facial-recognition/buffalo_l
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)"
out=$(mktemp -d)
for r in $(seq "$rounds"); do
  build/release/bench/faces_bench "$real/scrfd-500m.onnx" "$real/mobilefacenet-128d.onnx" "$work/face-previews" "$repeats" >"$out/real-cpp-$r.json"
  $py bench/faces_reference_bench.py "$real/scrfd-500m.onnx" "$real/mobilefacenet-128d.onnx" "$work/face-previews" "$repeats" >"$out/real-py-$r.json"
done
build/release/bench/faces_bench "$gen/detection/model.onnx" "$gen/recognition/model.onnx" "$work/face-previews" "$repeats" >"$out/gen-cpp-1.json"
$py bench/faces_reference_bench.py "$gen/detection/model.onnx" "$gen/recognition/model.onnx" "$work/face-previews" "$repeats" >"$out/gen-py-1.json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
$py - "$out" <<'PY'
import json, statistics, sys
from pathlib import Path
out = Path(sys.argv[1])
def runs(tag, lang):
    return [json.loads(p.read_text()) for p in sorted(out.glob(f"{tag}-{lang}-*.json"))]
def med(rs, f):
    return statistics.median(f(r) for r in rs)
stages = ["decode", "det_preprocess", "det_run", "det_postprocess", "align", "rec_run"]
for tag, title in (("real", "SCRFD-500M + MobileFaceNet (real networks)"), ("gen", "generated buffalo_l (tiny graphs)")):
    c, p = runs(tag, "cpp"), runs(tag, "py")
    print(f"\n{title}: {c[0]['images']} images, {c[0]['faces']} faces at minScore {c[0]['min_score']}, "
          f"median of {len(c)} round(s)\n\n| stage (ms per image) | focal | Python reference | ratio |\n|---|---|---|---|")
    for s in stages + ["total", "total without decode"]:
        pick = stages if s == "total" else stages[1:] if s == "total without decode" else [s]
        fc = med(c, lambda r: sum(r["per_image_ms"][k] for k in pick))
        fp = med(p, lambda r: sum(r["per_image_ms"][k] for k in pick))
        print(f"| {s} | {fc:.2f} | {fp:.2f} | {fp / fc:.2f}x |")
    for key, label in (("det_rec_images_per_s", "images/s, detection + recognition"),
                       ("det_rec_faces_per_s", "faces/s, detection + recognition"),
                       ("with_decode_images_per_s", "images/s including decode"),
                       ("align_ms_per_face", "alignment ms per face"),
                       ("rec_run_ms_per_face", "recognizer Run ms per face"),
                       ("batching_gain_overall", "batching gain (one Run per image vs per face)")):
        print(f"| {label} | {med(c, lambda r: r[key]):.3f} | {med(p, lambda r: r[key]):.3f} | |")
    sweep_c = c[0]["batch_sweep"]
    print(f"\nrecognizer Run ms per face by faces per Run, {sweep_c['image']} ({sweep_c['faces']} faces):\n")
    keys = list(sweep_c["rec_run_ms_per_face"])
    print("| | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
    for name, rs in (("focal", c), ("Python reference", p)):
        print(f"| {name} | " + " | ".join(f"{med(rs, lambda r: r['batch_sweep']['rec_run_ms_per_face'][k]):.2f}" for k in keys) + " |")
    many = [b for b in c[0]["batching"] if b["faces"] >= 20]
    if many:
        print("\nbatching gain on the images with 20+ faces (focal): " + ", ".join(
            f"{b['image']} ({b['faces']} faces) {med(c, lambda r: next(x['gain'] for x in r['batching'] if x['image'] == b['image'])):.2f}x"
            for b in many))
PY
rm -rf "$out"
