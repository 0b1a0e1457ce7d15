# SPDX-License-Identifier: AGPL-3.0-or-later
"""32 threads x 10 mixed requests at once: every answer is the right one and the server stays up."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from focal_client import (
    CLIP_TEXTUAL,
    CLIP_VISUAL,
    NO_BACKEND_CLIP_TEXTUAL,
    reached_backend,
    NO_BACKEND_CLIP_VISUAL,
    PHOTOS,
    predict,
    request,
)

THREADS = 32
REQUESTS_PER_THREAD = 10
JPEG = (PHOTOS / "food-cake.jpg").read_bytes()
MISSING_ENTRIES = [{"type": "missing", "loc": ["body", "entries"], "msg": "Field required", "input": None}]


def _one(port: int, kind: int):
    """Sends request number `kind` of the mix; returns None when the answer is right, else a description."""
    if kind == 0:
        r = predict(port, CLIP_VISUAL, image=JPEG, timeout=30)
        ok = reached_backend(r, "clip.visual")
    elif kind == 1:
        r = predict(port, CLIP_TEXTUAL, text="ein Hund", timeout=30)
        ok = reached_backend(r, "clip.textual")
    elif kind == 2:
        r = predict(port, "not json", text="x", timeout=30)
        ok = r.status == 422 and r.json() == {"detail": "Invalid request format."}
    elif kind == 3:
        r = predict(port, None, text="x", timeout=30)
        ok = r.status == 422 and r.json() == {"detail": MISSING_ENTRIES}
    elif kind == 4:
        r = predict(port, CLIP_VISUAL, image=b"garbage" * 100, timeout=30)
        ok = r.status == 422 and isinstance(r.json().get("detail"), str)
    elif kind == 5:
        r = predict(port, {"clip": {"visual": {"modelName": "../../etc/passwd"}}}, image=JPEG, timeout=30)
        ok = r.status == 422
    elif kind == 6:
        r = request(port, "GET", "/", timeout=30)
        ok = r.status == 200 and r.body == b'{"message":"Immich ML"}'
    else:
        r = request(port, "GET", "/ping", timeout=30)
        ok = r.status == 200 and r.body == b"pong"
    return None if ok else f"kind {kind}: {r.describe()}"


def _listen_overflows() -> int:
    """Linux TcpExt ListenOverflows (connections dropped because a listen backlog was full), or -1."""
    try:
        lines = open("/proc/net/netstat").read().splitlines()
    except OSError:
        return -1
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:]))
            return int(table.get("ListenOverflows", -1))
    return -1


def test_concurrent_mixed_requests(server):
    overflows_before = _listen_overflows()
    barrier = threading.Barrier(THREADS)

    def worker(index: int):
        barrier.wait(timeout=30)
        failures = []
        for i in range(REQUESTS_PER_THREAD):
            kind = (index + i) % 8
            try:
                failure = _one(server.port, kind)
            except OSError as exc:
                failure = f"kind {kind}: {type(exc).__name__}: {exc}"
            if failure:
                failures.append(failure)
        return failures

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(worker, range(THREADS)))
    failures = [f for per_thread in results for f in per_thread]
    overflows = _listen_overflows() - overflows_before
    # A connection reset here has so far always come with listen-queue overflows: cpp-httplib 0.11 listens with
    # a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG) and a burst of 32 connects overflows it.
    assert not failures, (
        f"{len(failures)} of {THREADS * REQUESTS_PER_THREAD} requests failed, e.g. {failures[:5]} "
        f"(listen-queue overflows on this host during the test: {overflows})"
    )
    assert server.alive()
