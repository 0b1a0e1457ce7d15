# SPDX-License-Identifier: AGPL-3.0-or-later
"""The Python reference face pipeline (tools/reference/faces.py: Pillow decode, OpenCV letterbox/warp/blob, numpy
decode/NMS/Umeyama, onnxruntime with 1 inter-op / 2 intra-op threads) timed per stage like bench/faces_bench.cpp,
as the baseline measured in the same run. Prints JSON.

    python bench/faces_reference_bench.py DETECTOR.onnx RECOGNIZER.onnx IMAGE_DIR [REPEATS] [MIN_SCORE]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

from reference import faces as ref  # noqa: E402


def main() -> int:
    det_path, rec_path, folder = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    min_score = float(sys.argv[5]) if len(sys.argv) > 5 else 0.7
    detector, recognizer = ref.Detector(det_path), ref.Recognizer(rec_path)
    single = ref.Recognizer(rec_path, max_batch=1)
    files = sorted(folder.iterdir())
    t = {k: 0.0 for k in ("decode", "det_preprocess", "det_run", "det_postprocess", "align", "rec_run")}
    images = faces = 0
    photos = []
    for r in range(repeats):
        for path in files:
            start = time.perf_counter()
            try:
                img = ref.decode_bgr(path)
            except Exception:
                continue
            t["decode"] += time.perf_counter() - start
            start = time.perf_counter()
            blob, det_scale = detector.blob(img)
            t["det_preprocess"] += time.perf_counter() - start
            start = time.perf_counter()
            outs = detector.run(blob)
            t["det_run"] += time.perf_counter() - start
            start = time.perf_counter()
            found = detector.decode(outs, det_scale, min_score)
            t["det_postprocess"] += time.perf_counter() - start
            if len(found["scores"]):
                start = time.perf_counter()
                crops = recognizer.blob([ref.align(img, lm) for lm in found["landmarks"]])
                t["align"] += time.perf_counter() - start
                start = time.perf_counter()
                recognizer.run(crops)
                t["rec_run"] += time.perf_counter() - start
            images += 1
            faces += len(found["scores"])
            if r == 0 and len(found["scores"]) >= 2:
                photos.append((path.name, crops))
    n = max(images, 1)
    pipeline = sum(v for k, v in t.items() if k != "decode")
    result = {
        "images": images // repeats,
        "faces": faces // repeats,
        "repeats": repeats,
        "min_score": min_score,
        "per_image_ms": {k: 1000 * v / n for k, v in t.items()},
        "det_rec_images_per_s": n / pipeline,
        "det_rec_faces_per_s": faces / pipeline,
        "with_decode_images_per_s": n / (pipeline + t["decode"]),
        "align_ms_per_face": 1000 * t["align"] / max(faces, 1),
        "rec_run_ms_per_face": 1000 * t["rec_run"] / max(faces, 1),
    }

    def run_ms_per_face(model: ref.Recognizer, crops: np.ndarray) -> float:
        start = time.perf_counter()
        for _ in range(repeats):
            model.run(crops)
        return 1000 * (time.perf_counter() - start) / (repeats * crops.shape[0])

    batching, batched_total, single_total = [], 0.0, 0.0
    for name, crops in photos:
        batched, one = run_ms_per_face(recognizer, crops), run_ms_per_face(single, crops)
        batched_total += batched * crops.shape[0]
        single_total += one * crops.shape[0]
        batching.append({"image": name, "faces": int(crops.shape[0]), "batched_ms_per_face": batched,
                         "single_ms_per_face": one, "gain": one / batched})
    result["batching"] = batching
    result["batching_gain_overall"] = single_total / batched_total if batched_total else 0
    if photos:
        name, crops = max(photos, key=lambda p: p[1].shape[0])
        sweep = {}
        for batch in (1, 2, 4, 8, 16, 32, 64, 256):
            sweep[str(batch)] = run_ms_per_face(ref.Recognizer(rec_path, max_batch=batch), crops)
        result["batch_sweep"] = {"image": name, "faces": int(crops.shape[0]), "rec_run_ms_per_face": sweep}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
