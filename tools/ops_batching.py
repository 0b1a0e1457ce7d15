#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Does dynamic batching help on this machine? Runs the same /predict load against focal-ml without and with
FOCAL_ML_BATCH__<TASK>__<TYPE> and prints throughput and latency percentiles for each:

    .venv/bin/python tools/ops_batching.py --focal-ml build/release/focal-ml --models build/release/test-models \
        --concurrency 8 --requests 400 --batch 8,2000

Both servers get the same MACHINE_LEARNING_REQUEST_THREADS (= concurrency) and ORT thread settings.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from focal_client import FocalServer, predict  # noqa: E402

TASKS = {
    "clip-visual": ("CLIP__VISUAL", {"clip": {"visual": {"modelName": "ViT-B-32__openai"}}}, "image"),
    "clip-textual": ("CLIP__TEXTUAL", {"clip": {"textual": {"modelName": "ViT-B-32__openai"}}}, "text"),
}


def run_load(port: int, entries, field: str, payloads: list, concurrency: int, requests: int) -> dict:
    def one(i: int) -> float:
        start = time.perf_counter()
        r = predict(port, entries, **{field: payloads[i % len(payloads)]}, timeout=120)
        assert r.status == 200, r.describe()
        return time.perf_counter() - start

    for i in range(concurrency):  # warm-up: load the model, fill ORT's arenas
        one(i)
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = sorted(pool.map(one, range(requests)))
    wall = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=100)
    return {"req_per_s": round(requests / wall, 1), "p50_ms": round(q[49] * 1000, 2), "p99_ms": round(q[98] * 1000, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--focal-ml", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--task", choices=sorted(TASKS), default="clip-visual")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--batch", default="8,2000", help="max batch size,max queue delay us")
    ap.add_argument("--workdir", default="/tmp/focal-ops-batching")
    args = ap.parse_args()

    from PIL import Image

    images = []
    for i in range(8):
        img = Image.new("RGB", (640, 480), ((30 * i) % 256, 120, 255 - 20 * i))
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=90)
        images.append(buf.getvalue())
    texts = [f"a photo of a dog number {i} on the beach" for i in range(8)]
    suffix, entries, field = TASKS[args.task]
    payloads = images if field == "image" else texts

    base = {"MACHINE_LEARNING_CACHE_FOLDER": str(Path(args.models).resolve()),
            "MACHINE_LEARNING_REQUEST_THREADS": str(args.concurrency), "MACHINE_LEARNING_MODEL_TTL": "0"}
    results = {}
    for name, extra in (("unbatched", {}), ("batched", {f"FOCAL_ML_BATCH__{suffix}": args.batch})):
        srv = FocalServer(str(Path(args.focal_ml).resolve()), Path(args.workdir) / name, {**base, **extra},
                          name=name).start(60)
        try:
            results[name] = run_load(srv.port, entries, field, payloads, args.concurrency, args.requests)
        finally:
            srv.stop()
    results["speedup"] = round(results["batched"]["req_per_s"] / results["unbatched"]["req_per_s"], 2)
    print(json.dumps({"task": args.task, "concurrency": args.concurrency, "batch": args.batch, **results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
