# SPDX-License-Identifier: AGPL-3.0-or-later
"""The same stages in the Python reference pipeline (Pillow + numpy + onnxruntime, same ORT threads),
the baseline for bench/clip_visual_bench.cpp.

    python bench/clip_visual_reference_bench.py MODEL_DIR IMAGE_DIR [REPEATS]
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from PIL import Image  # noqa: E402

from reference.clip_visual import ClipVisual  # noqa: E402


def main() -> int:
    model_dir, image_dir = Path(sys.argv[1]), Path(sys.argv[2])
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    model = ClipVisual(model_dir)
    files = [p.read_bytes() for p in sorted(image_dir.iterdir())]
    totals = {"decode_ms": 0.0, "preprocess_ms": 0.0, "run_ms": 0.0, "serialize_ms": 0.0}
    count = 0
    for _ in range(repeats):
        for data in files:
            t = time.perf_counter()
            img = Image.open(io.BytesIO(data))
            img.load()
            img = img if img.mode == "RGB" else img.convert("RGB")
            totals["decode_ms"] += (time.perf_counter() - t) * 1e3
            t = time.perf_counter()
            tensor = model.tensor(img)
            totals["preprocess_ms"] += (time.perf_counter() - t) * 1e3
            t = time.perf_counter()
            out = model.session.run(None, {model.input_name: tensor[None]})[0][0]
            totals["run_ms"] += (time.perf_counter() - t) * 1e3
            t = time.perf_counter()
            json.dumps(out.tolist())
            totals["serialize_ms"] += (time.perf_counter() - t) * 1e3
            count += 1
    print(json.dumps({"images": count, **{k: v / count for k, v in totals.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
