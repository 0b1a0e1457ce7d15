#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""OCR latency and memory of focal-ml against the Python reference pipeline, measured in the same run.

Both sides get the same encoded photo bytes and run the same real PP-OCR networks (RapidOCR's PP-OCRv4 detector
and recognizer from the pinned rapidocr wheel, served as PP-OCRv5_mobile) with the same ONNX Runtime threads
(1 inter-op, --threads intra-op) and Immich's default options (detection minScore 0.5, maxResolution 736,
recognition minScore 0.8):

- focal-ml: one HTTP /predict request per photo (multipart upload, decode, detection, crops, recognition, JSON);
- reference: tools/reference/ocr.py in this process (Pillow decode from the bytes, the same steps; no HTTP, so
  the ratio favours the reference).

Requests alternate between the two, one at a time, after one warm-up each. Prints a Markdown table (median ms per
photo, ratio reference / focal) and the peak RSS of both processes, then JSON with every figure.

    .venv/bin/python bench/ocr_bench.py --focal-ml build/release/focal-ml [--repeats 5] [--threads 2] [--no-arena]
                                        [PHOTO...]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

import rapidocr  # noqa: E402
from PIL import Image  # noqa: E402

from focal_client import FocalServer, predict  # noqa: E402
from reference import ocr as ref  # noqa: E402

TESTDATA = ROOT.parent / "shared" / "testdata"
MODEL = "PP-OCRv5_mobile"
ENTRIES = {"ocr": {"detection": {"modelName": MODEL, "options": {"minScore": 0.5, "maxResolution": 736}},
                   "recognition": {"modelName": MODEL, "options": {"minScore": 0.8}}}}


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--focal-ml", type=Path, default=ROOT / "build" / "release" / "focal-ml")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="ORT intra-op threads on both sides")
    parser.add_argument("--no-arena", action="store_true",
                        help="ORT CPU memory arena off on both sides (Immich's images: MACHINE_LEARNING_MODEL_ARENA=false)")
    parser.add_argument("photos", type=Path, nargs="*")
    args = parser.parse_args()
    photos = args.photos or sorted(p for p in (TESTDATA / "photos").iterdir()
                                   if p.name.startswith(("ocr-", "text-")) and p.suffix in (".jpg", ".tif"))
    bundled = Path(rapidocr.__file__).parent / "models"
    det, rec = bundled / "ch_PP-OCRv4_det_infer.onnx", bundled / "ch_PP-OCRv4_rec_infer.onnx"

    with tempfile.TemporaryDirectory(prefix="focal-ocr-bench-") as tmp:
        cache = Path(tmp) / "cache"
        for kind, model in (("detection", det), ("recognition", rec)):
            (cache / "ocr" / MODEL / kind).mkdir(parents=True)
            (cache / "ocr" / MODEL / kind / "model.onnx").symlink_to(model)
        server = FocalServer(str(args.focal_ml.resolve()), Path(tmp) / "server", {
            "MACHINE_LEARNING_CACHE_FOLDER": str(cache), "MACHINE_LEARNING_REQUEST_THREADS": "1",
            "MACHINE_LEARNING_MODEL_INTER_OP_THREADS": "1",
            "MACHINE_LEARNING_MODEL_INTRA_OP_THREADS": str(args.threads),
            "MACHINE_LEARNING_MODEL_ARENA": "false" if args.no_arena else "true"}, name="focal-ml-ocr-bench").start(30)
        try:
            pipeline = ref.Pipeline(det, rec, threads=args.threads, arena=not args.no_arena)

            def reference(data: bytes) -> dict:
                img = Image.open(io.BytesIO(data))
                img.load()
                return pipeline(img.convert("RGB") if img.mode != "RGB" else img)

            def focal(data: bytes) -> dict:
                r = predict(server.port, ENTRIES, image=data, timeout=300)
                assert r.status == 200, r.describe()
                return r.json()["ocr"]

            rows = []
            for photo in photos:
                data = photo.read_bytes()
                lines = (len(focal(data)["text"]), len(reference(data)["text"]))  # warm-up, and a sanity check
                times = {"focal": [], "reference": []}
                for _ in range(args.repeats):
                    for side, fn in (("focal", focal), ("reference", reference)):
                        start = time.perf_counter()
                        fn(data)
                        times[side].append((time.perf_counter() - start) * 1000)
                with Image.open(photo) as img:
                    size = img.size
                rows.append({"photo": photo.name, "size": size, "lines": lines,
                             "focal_ms": statistics.median(times["focal"]),
                             "reference_ms": statistics.median(times["reference"])})
            memory = {"focal_peak_rss_mib": peak_rss_mib(server.proc.pid),
                      "reference_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        finally:
            server.stop()

    print(f"| photo | size | lines (focal / reference) | focal-ml ms | reference ms | reference / focal |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['photo']} | {r['size'][0]}x{r['size'][1]} | {r['lines'][0]} / {r['lines'][1]} | "
              f"{r['focal_ms']:.1f} | {r['reference_ms']:.1f} | {r['reference_ms'] / r['focal_ms']:.2f}x |")
    total_f = sum(r["focal_ms"] for r in rows)
    total_r = sum(r["reference_ms"] for r in rows)
    print(f"| **all** | | | {total_f:.1f} | {total_r:.1f} | {total_r / total_f:.2f}x |")
    print(f"\npeak RSS: focal-ml {memory['focal_peak_rss_mib']:.0f} MiB, reference (this Python process) "
          f"{memory['reference_peak_rss_mib']:.0f} MiB")
    json.dump({"threads": args.threads, "repeats": args.repeats, "arena": not args.no_arena, "rows": rows, **memory},
              sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
