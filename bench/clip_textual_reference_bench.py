# SPDX-License-Identifier: AGPL-3.0-or-later
"""The same stages in the Python reference (clean_text + `tokenizers` + onnxruntime, same ORT threads), the
baseline for bench/clip_textual_bench.cpp.

    python bench/clip_textual_reference_bench.py MODEL_DIR QUERIES_FILE [REPEATS]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from reference.clip_textual import ClipTextual  # noqa: E402


def main() -> int:
    model_dir, queries_file = Path(sys.argv[1]), Path(sys.argv[2])
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    model = ClipTextual(model_dir)
    name = model.session.get_inputs()[0].name
    queries = queries_file.read_text().splitlines()
    totals = {"tokenize_ms": 0.0, "run_ms": 0.0, "serialize_ms": 0.0}
    count = 0
    for _ in range(repeats):
        for query in queries:
            t = time.perf_counter()
            ids = np.array([model.tokenizer.encode(model.prepare(query)).ids], dtype=np.int32)
            totals["tokenize_ms"] += (time.perf_counter() - t) * 1e3
            t = time.perf_counter()
            out = model.session.run(None, {name: ids})[0][0]
            totals["run_ms"] += (time.perf_counter() - t) * 1e3
            t = time.perf_counter()
            json.dumps(out.tolist())
            totals["serialize_ms"] += (time.perf_counter() - t) * 1e3
            count += 1
    print(json.dumps({"queries": count, **{k: v / count for k, v in totals.items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
