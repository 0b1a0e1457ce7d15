#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""A minimal Python /predict server built from the reference pipelines (tools/reference), the baseline for the
end-to-end benchmarks (bench/run_e2e.sh). Not a product: clip.visual, clip.textual and facial-recognition
(detection + recognition) only, no validation beyond what the benchmark needs.

    python tools/reference_server.py --models CACHE_DIR [--host 127.0.0.1] [--port 3004] [--threads N]

Like Immich's ML service: multipart /predict with `entries` plus `image` or `text`, Pillow decoding, numpy
pre/post-processing, onnxruntime sessions with 1 inter-op and 2 intra-op threads (tools/reference), responses
in Immich's shapes (embeddings as JSON strings). Requests are handled on a pool of `--threads` worker threads
(Immich's MACHINE_LEARNING_REQUEST_THREADS); models load on first use.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference import faces  # noqa: E402
from reference.clip_textual import ClipTextual  # noqa: E402
from reference.clip_visual import ClipVisual  # noqa: E402


def vector_string(v: np.ndarray) -> str:
    return json.dumps([float(x) for x in np.asarray(v, dtype=np.float32)])


class Models:
    """Lazily loaded models, one lock per model so loading one never blocks another."""

    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()
        self._locks: dict[tuple, threading.Lock] = {}
        self._models: dict[tuple, object] = {}

    def get(self, key: tuple, factory):
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._models:
                self._models[key] = factory()
            return self._models[key]

    def clip_visual(self, name: str) -> ClipVisual:
        return self.get(("clip", "visual", name), lambda: ClipVisual(self.root / "clip" / name / "visual"))

    def clip_textual(self, name: str) -> ClipTextual:
        return self.get(
            ("clip", "textual", name),
            lambda: ClipTextual(self.root / "clip" / name / "textual", nllb=name.startswith("nllb")),
        )

    def faces(self, name: str) -> tuple[faces.Detector, faces.Recognizer]:
        base = self.root / "facial-recognition" / name
        det = self.get(("faces", "detection", name), lambda: faces.Detector(base / "detection" / "model.onnx"))
        rec = self.get(("faces", "recognition", name), lambda: faces.Recognizer(base / "recognition" / "model.onnx"))
        return det, rec


def parse_multipart(content_type: str, body: bytes) -> dict[str, bytes]:
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    fields = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[name] = part.get_payload(decode=True) or b""
    return fields


def predict(models: Models, fields: dict[str, bytes]) -> dict:
    entries = json.loads(fields["entries"])
    out: dict = {}
    image = None
    if "image" in fields:
        image = Image.open(io.BytesIO(fields["image"]))
        image.load()
        if image.mode != "RGB":
            image = image.convert("RGB")
        out["imageHeight"], out["imageWidth"] = image.height, image.width
    clip = entries.get("clip", {})
    if "visual" in clip:
        out["clip"] = vector_string(models.clip_visual(clip["visual"]["modelName"]).embed(image))
    if "textual" in clip:
        text = fields["text"].decode("utf-8")
        language = clip["textual"].get("options", {}).get("language")
        out["clip"] = vector_string(models.clip_textual(clip["textual"]["modelName"]).embed(text, language))
    fr = entries.get("facial-recognition", {})
    if "detection" in fr:
        det, rec = models.faces(fr["detection"]["modelName"])
        min_score = float(fr["detection"].get("options", {}).get("minScore", 0.7))
        bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
        found = faces.recognize(det, rec, bgr, min_score)
        out["facial-recognition"] = [{**f, "embedding": vector_string(f["embedding"])} for f in found]
    return out


def make_handler(models: Models, pool: ThreadPoolExecutor):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY, as uvicorn (Immich's server) sets it: headers and body go out in separate writes, and with
        # Nagle on, the body would wait for the client's delayed ACK (~40 ms).
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def send(self, status: int, body: bytes, ctype: str = "application/json"):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/ping":
                return self.send(200, b"pong", "text/plain")
            return self.send(404, b'{"detail":"Not Found"}')

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if self.path != "/predict":
                return self.send(404, b'{"detail":"Not Found"}')
            try:
                fields = parse_multipart(self.headers.get("Content-Type", ""), body)
                result = pool.submit(predict, models, fields).result()
            except Exception as e:  # noqa: BLE001 - a benchmark baseline: report and carry on
                return self.send(500, json.dumps({"detail": f"{type(e).__name__}: {e}"}).encode())
            return self.send(200, json.dumps(result).encode())

    return Handler


def main() -> int:
    import os

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", required=True, type=Path, help="Immich-layout model cache")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=3004)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="request worker threads")
    args = ap.parse_args()
    models = Models(args.models)
    pool = ThreadPoolExecutor(max_workers=max(1, args.threads))
    server = ThreadingHTTPServer((args.host, args.port), make_handler(models, pool))
    server.daemon_threads = True
    print(f"reference server on {args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
