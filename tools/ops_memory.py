#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Resident memory of focal-ml through a model lifecycle: idle after start, after loading CLIP (visual +
textual) and a face pack (detection + recognition), and after the TTL unload. Reads /proc/<pid>/statm and
VmHWM (peak) while a real focal-ml serves a model cache, e.g. the generated one:

    .venv/bin/python tools/ops_memory.py --focal-ml build/release/focal-ml --models build/release/test-models

Prints one JSON object (MiB). Uses MACHINE_LEARNING_MODEL_TTL=2 / _POLL_S=1 so the unload comes quickly.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "integration"))
from focal_client import FocalServer, predict, request  # noqa: E402

MIB = 1024 * 1024


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGESIZE") / MIB


def peak_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def loaded(port: int) -> int:
    for line in request(port, "GET", "/metrics").body.decode().splitlines():
        if line.startswith("focal_ml_models_loaded "):
            return int(float(line.split()[1]))
    return -1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--focal-ml", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--clip", default="ViT-B-32__openai")
    ap.add_argument("--faces", default="buffalo_l")
    ap.add_argument("--workdir", default="/tmp/focal-ops-memory")
    ap.add_argument("--cycles", type=int, default=2, help="load/unload cycles (the first pays ORT's one-time set-up)")
    ap.add_argument("--ld-preload", default="", help="allocator to preload into focal-ml, e.g. libmimalloc.so.2")
    args = ap.parse_args()

    from PIL import Image

    img = Image.new("RGB", (1440, 1080))
    img.putdata([((x * 7) % 256, (y * 5) % 256, (x ^ y) % 256) for y in range(1080) for x in range(1440)])
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    jpeg = buf.getvalue()

    env = {"MACHINE_LEARNING_CACHE_FOLDER": str(Path(args.models).resolve()), "MACHINE_LEARNING_MODEL_TTL": "2",
           "MACHINE_LEARNING_MODEL_TTL_POLL_S": "1"}
    if args.ld_preload:
        env["LD_PRELOAD"] = args.ld_preload
    srv = FocalServer(str(Path(args.focal_ml).resolve()), Path(args.workdir), env, name="memory").start(60)
    try:
        pid = srv.proc.pid
        time.sleep(0.5)
        out = {"idle": rss_mib(pid)}
        for cycle in range(1, args.cycles + 1):
            load_and_unload(srv.port, pid, jpeg, args, out, "" if cycle == 1 else f"_{cycle}")
        out["peak"] = peak_mib(pid)
        out = {k: round(v, 1) if isinstance(v, float) else v for k, v in out.items()}
        print(json.dumps(out))
    finally:
        srv.stop()
    return 0


def load_and_unload(port: int, pid: int, jpeg: bytes, args, out: dict, suffix: str) -> None:
    for entries, kw in (
        ({"clip": {"visual": {"modelName": args.clip}}}, {"image": jpeg}),
        ({"clip": {"textual": {"modelName": args.clip}}}, {"text": "a photo of a dog"}),
        ({"facial-recognition": {"detection": {"modelName": args.faces}, "recognition": {"modelName": args.faces}}},
         {"image": jpeg}),
    ):
        r = predict(port, entries, **kw, timeout=120)
        assert r.status == 200, r.describe()
    out["loaded" + suffix] = rss_mib(pid)
    out["models_loaded" + suffix] = loaded(port)
    deadline = time.monotonic() + 60
    while loaded(port) != 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.3)  # the reaper releases free memory right after unloading
    out["after_ttl_unload" + suffix] = rss_mib(pid)


if __name__ == "__main__":
    sys.exit(main())
