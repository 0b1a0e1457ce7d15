# SPDX-License-Identifier: AGPL-3.0-or-later
"""HTTP helpers for the focal-ml integration suite (stdlib only: http.client and socket).

Everything here opens a fresh connection per request unless said otherwise, so that one test's
connection state can never leak into the next.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import socket
import struct
import subprocess
import time
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, Union

HOST = "127.0.0.1"

TESTDATA = Path(os.environ.get("FOCAL_ML_TESTDATA", "/work/shared/testdata"))
PHOTOS = TESTDATA / "photos"
BROKEN = TESTDATA / "broken"

CLIP_VISUAL = {"clip": {"visual": {"modelName": "ViT-B-32__openai"}}}
CLIP_TEXTUAL = {"clip": {"textual": {"modelName": "ViT-B-32__openai", "options": {"language": "de"}}}}
FACES = {
    "facial-recognition": {
        "detection": {"modelName": "buffalo_l", "options": {"minScore": 0.7}},
        "recognition": {"modelName": "buffalo_l"},
    }
}
OCR = {
    "ocr": {
        "detection": {"modelName": "PP-OCRv5_mobile", "options": {"minScore": 0.5, "maxResolution": 736}},
        "recognition": {"modelName": "PP-OCRv5_mobile", "options": {"minScore": 0.8}},
    }
}

NO_BACKEND_CLIP_VISUAL = "No model backend for clip.visual in this build"
NO_BACKEND_CLIP_TEXTUAL = "No model backend for clip.textual in this build"
BACKEND_STATUSES = (501, 503)


def reached_backend(r, where: str) -> bool:
    """Validation and decoding passed and the request got to the model layer. The session servers run with an
    empty model cache, so the answer is 503 "not in the model cache" for a task with a backend, or 501 for a task
    this build has no backend for yet."""
    detail = r.detail if isinstance(r.detail, str) else ""
    return (r.status == 501 and detail == f"No model backend for {where} in this build") or (
        r.status == 503 and detail.startswith("Model '") and "is not in the model cache" in detail
    )


# --------------------------------------------------------------------------------------------------
# Responses


@dataclass
class Response:
    status: int
    headers: dict  # lower-cased names
    body: bytes
    elapsed: float = 0.0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def detail(self):
        return self.json()["detail"]

    def describe(self) -> str:
        body = self.body[:400]
        return f"HTTP {self.status} {self.content_type!r} body={body!r}"


# --------------------------------------------------------------------------------------------------
# Request bodies


@dataclass
class Part:
    name: str
    value: Union[bytes, str]
    filename: Optional[str] = None
    content_type: Optional[str] = None
    extra_headers: Sequence[str] = ()


def new_boundary() -> str:
    return "----focalml" + uuid.uuid4().hex


def multipart(parts: Iterable[Part], boundary: Optional[str] = None, close: bool = True) -> tuple[bytes, str]:
    """Encodes parts as multipart/form-data. Returns (body, content-type header value)."""
    boundary = boundary or new_boundary()
    out = io.BytesIO()
    for part in parts:
        value = part.value.encode("utf-8") if isinstance(part.value, str) else part.value
        out.write(f"--{boundary}\r\n".encode())
        disposition = f'Content-Disposition: form-data; name="{part.name}"'
        if part.filename is not None:
            disposition += f'; filename="{part.filename}"'
        out.write(disposition.encode() + b"\r\n")
        if part.content_type is not None:
            out.write(f"Content-Type: {part.content_type}\r\n".encode())
        for header in part.extra_headers:
            out.write(header.encode() + b"\r\n")
        out.write(b"\r\n")
        out.write(value)
        out.write(b"\r\n")
    if close:
        out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def entries_text(entries) -> str:
    return entries if isinstance(entries, str) else json.dumps(entries, separators=(",", ":"))


def predict_parts(entries=None, image: Optional[bytes] = None, text: Optional[str] = None) -> list[Part]:
    """The parts Immich's Node server sends: entries and text as fields, the image as a blob file part."""
    parts = []
    if entries is not None:
        parts.append(Part("entries", entries_text(entries)))
    if image is not None:
        parts.append(Part("image", image, filename="blob", content_type="application/octet-stream"))
    if text is not None:
        parts.append(Part("text", text))
    return parts


# --------------------------------------------------------------------------------------------------
# Clients


def request(
    port: int,
    method: str,
    path: str,
    body: Optional[bytes] = None,
    headers: Optional[dict] = None,
    timeout: float = 15.0,
) -> Response:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        hdrs = {"Connection": "close"}
        hdrs.update(headers or {})
        start = time.monotonic()
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        elapsed = time.monotonic() - start
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, elapsed)
    finally:
        conn.close()


def post_multipart(port: int, parts: Sequence[Part], path: str = "/predict", **kw) -> Response:
    body, ctype = multipart(parts)
    return request(port, "POST", path, body=body, headers={"Content-Type": ctype}, **kw)


def predict(port: int, entries=None, image: Optional[bytes] = None, text: Optional[str] = None, **kw) -> Response:
    return post_multipart(port, predict_parts(entries, image, text), **kw)


def ping(port: int, timeout: float = 5.0) -> bool:
    try:
        r = request(port, "GET", "/ping", timeout=timeout)
    except OSError:
        return False
    return r.status == 200 and r.body == b"pong"


def parse_raw_response(data: bytes) -> Optional[Response]:
    """Parses the first HTTP response in `data`, or returns None when there is none."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/"):
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length")
    body = rest[: int(length)] if length is not None else rest
    return Response(status, headers, body)


def read_response(sock: socket.socket, deadline: float) -> bytes:
    """Reads until one complete response (by Content-Length) arrived, the peer closed, or the deadline."""
    data = b""
    while time.monotonic() < deadline:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            parsed = parse_raw_response(data)
            length = parsed.headers.get("content-length") if parsed else None
            if length is not None and len(rest) >= int(length):
                # 1xx interim responses are followed by the real one.
                if parsed.status >= 200:
                    return data
                data = rest
                continue
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def raw_exchange(port: int, payload: bytes, timeout: float = 5.0, shutdown_write: bool = False) -> tuple[bytes, float]:
    """Sends raw bytes and returns (whatever came back, seconds until the answer or close)."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        start = time.monotonic()
        try:
            sock.sendall(payload)
            if shutdown_write:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may hang up before reading everything; that is an allowed answer
        data = read_response(sock, start + timeout)
        return data, time.monotonic() - start


# --------------------------------------------------------------------------------------------------
# Images


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def crafted_png(width: int, height: int, idat_rows: int = 1) -> bytes:
    """A PNG whose IHDR declares width x height (8-bit RGB), with valid CRCs and a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x00" * (3 * max(width, 1)) for _ in range(max(idat_rows, 1)))
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(raw[: 1 << 16]))
        + png_chunk(b"IEND", b"")
    )


def pillow_image(width: int, height: int, fmt: str = "PNG", mode: str = "RGB", **save_kw) -> bytes:
    from PIL import Image  # imported lazily: only the image tests need Pillow

    color = {"RGB": (200, 30, 60), "RGBA": (10, 200, 30, 128), "L": 128, "P": 3, "CMYK": (0, 128, 255, 0),
             "I;16": 40000, "1": 1, "LA": (100, 200)}[mode]
    img = Image.new(mode, (width, height), color)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save_kw)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------------
# Server process


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class FocalServer:
    binary: str
    workdir: Path
    env_overrides: dict = field(default_factory=dict)
    name: str = "server"
    port: int = 0
    proc: Optional[subprocess.Popen] = None
    log_path: Optional[Path] = None

    def environment(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MACHINE_LEARNING_", "FOCAL_ML_", "IMMICH_"))}
        cache = self.workdir / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        env.update(
            {
                "IMMICH_HOST": HOST,
                "IMMICH_PORT": str(self.port),
                "MACHINE_LEARNING_CACHE_FOLDER": str(cache),
                "IMMICH_LOG_LEVEL": "info",
                "NO_COLOR": "1",
            }
        )
        # bench/gpu_check.sh runs the suites on an accelerator: the only outside setting a test server takes.
        if os.environ.get("FOCAL_TEST_EXECUTION_PROVIDERS"):
            env["FOCAL_ML_EXECUTION_PROVIDERS"] = os.environ["FOCAL_TEST_EXECUTION_PROVIDERS"]
        env.update({k: str(v) for k, v in self.env_overrides.items()})
        return env

    def start(self, ready_timeout: float = 10.0) -> "FocalServer":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log_path = self.workdir / f"{self.name}.log"
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                [self.binary], env=self.environment(), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        finally:
            log.close()
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} during startup:\n{self.log_tail()}"
                )
            if ping(self.port, timeout=1.0):
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"{self.name} did not answer /ping within {ready_timeout} s:\n{self.log_tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 4000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "<no log>"
        return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


Predicate = Callable[[Response], bool]
