# SPDX-License-Identifier: AGPL-3.0-or-later
"""Size limits: FOCAL_ML_MAX_BODY_BYTES, FOCAL_ML_MAX_FIELD_BYTES, FOCAL_ML_MAX_JSON_DEPTH.

The default server has the defaults (64 MiB body, 1 MiB field, depth 32); the limited server has
100000 bytes body, 2048 bytes field, depth 8 (conftest.LIMITED_ENV).
"""

from __future__ import annotations

import io
import json
import os
import socket
import time

import pytest

from focal_client import (
    CLIP_TEXTUAL,
    CLIP_VISUAL,
    HOST,
    NO_BACKEND_CLIP_TEXTUAL,
    reached_backend,
    NO_BACKEND_CLIP_VISUAL,
    PHOTOS,
    Part,
    multipart,
    parse_raw_response,
    predict_parts,
    raw_exchange,
    read_response,
    request,
)

MIB = 1 << 20


def noise_png(width: int, height: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(buf, format="PNG")
    return buf.getvalue()
ENTRIES = json.dumps(CLIP_TEXTUAL)


def assert_413(r):
    assert r.status == 413, r.describe()
    assert r.content_type.startswith("application/json"), r.describe()
    assert isinstance(r.json().get("detail"), str), r.describe()


def padded_body(total: int) -> tuple[bytes, str]:
    """A valid clip.textual request padded with an ignored file part to exactly `total` bytes."""
    base, ctype = multipart(predict_parts(CLIP_TEXTUAL, text="cat") + [Part("pad", b"", "pad.bin")], boundary="B" * 30)
    pad = total - len(base)
    assert pad >= 0
    body, _ = multipart(predict_parts(CLIP_TEXTUAL, text="cat") + [Part("pad", b"p" * pad, "pad.bin")],
                        boundary="B" * 30)
    assert len(body) == total
    return body, ctype


# ---- whole body ------------------------------------------------------------------------------------


def test_body_over_limit_is_413(limited_server):
    body, ctype = padded_body(200_000)
    assert_413(request(limited_server.port, "POST", "/predict", body=body, headers={"Content-Type": ctype}))


def test_body_at_limit_is_accepted(limited_server):
    body, ctype = padded_body(100_000)
    r = request(limited_server.port, "POST", "/predict", body=body, headers={"Content-Type": ctype})
    assert reached_backend(r, "clip.textual"), r.describe()


def test_body_one_byte_over_limit_is_413(limited_server):
    body, ctype = padded_body(100_001)
    assert_413(request(limited_server.port, "POST", "/predict", body=body, headers={"Content-Type": ctype}))


def test_image_body_over_limit_is_413(limited_server):
    image = (PHOTOS / "food-cake.jpg").read_bytes()  # 155 KB
    body, ctype = multipart(predict_parts(CLIP_VISUAL, image=image))
    assert_413(request(limited_server.port, "POST", "/predict", body=body, headers={"Content-Type": ctype}))


def test_urlencoded_body_over_limit_is_413(limited_server):
    body = b"entries=" + b"%20" * 70_000
    assert_413(request(limited_server.port, "POST", "/predict", body=body,
                       headers={"Content-Type": "application/x-www-form-urlencoded"}))


def test_huge_declared_content_length_is_refused_without_reading(limited_server):
    """Content-Length of 10 GB with a few bytes sent: answered 413 (or closed) at once, not after the body."""
    head = (
        "POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        "Content-Length: 10000000000\r\n\r\n"
    ).encode()
    with socket.create_connection((HOST, limited_server.port), timeout=5) as sock:
        start = time.monotonic()
        sock.sendall(head + b"--x\r\n")
        data = read_response(sock, start + 2.5)
        elapsed = time.monotonic() - start
    assert elapsed < 2.0, f"neither answered nor closed within {elapsed:.1f} s"
    r = parse_raw_response(data)
    if r is not None:
        assert r.status == 413, r.describe()


def test_chunked_body_over_limit_is_refused(limited_server):
    """cpp-httplib's size limit does not apply to chunked bodies, so focal-ml refuses chunked uploads (411)."""
    body, ctype = padded_body(200_000)
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 8192]), body[i:i + 8192]) for i in range(0, len(body), 8192))
    head = (f"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n").encode()
    data, _ = raw_exchange(limited_server.port, head + chunks + b"0\r\n\r\n", timeout=5)
    r = parse_raw_response(data)
    if r is not None:  # closing the connection is also acceptable
        assert r.status in (411, 413), r.describe()


def _chunked(body: bytes, size: int = 50) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
                    for i in range(0, len(body), size)) + b"0\r\n\r\n"


def test_chunked_body_is_served(server):
    """A chunked body is decoded and served like one with a Content-Length."""
    body, ctype = multipart(predict_parts(CLIP_TEXTUAL, text="cat"))
    head = (f"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n").encode()
    data, _ = raw_exchange(server.port, head + _chunked(body), timeout=5)
    r = parse_raw_response(data)
    assert r is not None, data
    assert reached_backend(r, "clip.textual"), r.describe()


def test_chunked_body_over_the_limit_is_413(limited_server):
    """The body limit counts decoded chunk bytes, so chunked framing cannot get around it."""
    body, ctype = multipart(predict_parts(CLIP_TEXTUAL, text="cat") + [Part("pad", b"p" * 200_000, "pad.bin")])
    head = (f"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n"
            "Connection: close\r\n\r\n").encode()
    data, _ = raw_exchange(limited_server.port, head + _chunked(body, 4096), timeout=5)
    r = parse_raw_response(data)
    assert r is not None, data
    assert_413(r)


def test_expect_100_continue(server):
    """curl sends Expect: 100-continue for larger uploads; the exchange must complete normally."""
    body, ctype = multipart(predict_parts(CLIP_VISUAL, image=(PHOTOS / "food-cake.jpg").read_bytes()))
    head = (f"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((HOST, server.port), timeout=5) as sock:
        sock.sendall(head)
        sock.settimeout(1.5)  # curl waits 1 s for the interim answer, then sends anyway
        try:
            interim = sock.recv(4096)
        except socket.timeout:
            interim = b""
        if interim:
            assert interim.startswith(b"HTTP/1.1 100"), interim
        sock.sendall(body)
        data = read_response(sock, time.monotonic() + 5)
    r = parse_raw_response(data)
    assert r is not None, data
    assert reached_backend(r, "clip.visual"), r.describe()


# ---- form fields (entries, text) -------------------------------------------------------------------


def test_entries_over_default_field_limit_is_413(server):
    entries = json.dumps(CLIP_VISUAL) + " " * MIB
    body, ctype = multipart([Part("entries", entries), Part("image", b"x", "blob")])
    assert_413(request(server.port, "POST", "/predict", body=body, headers={"Content-Type": ctype}))


def test_entries_just_under_default_field_limit_is_accepted(server):
    entries = ENTRIES + " " * (MIB - len(ENTRIES))
    assert len(entries) == MIB
    body, ctype = multipart([Part("entries", entries), Part("text", "cat")])
    r = request(server.port, "POST", "/predict", body=body, headers={"Content-Type": ctype})
    assert reached_backend(r, "clip.textual"), r.describe()


def test_text_over_default_field_limit_is_413(server):
    body, ctype = multipart([Part("entries", ENTRIES), Part("text", "a" * (MIB + 1))])
    assert_413(request(server.port, "POST", "/predict", body=body, headers={"Content-Type": ctype}))


def test_urlencoded_entries_over_default_field_limit_is_413(server):
    body = b"text=cat&entries=" + ENTRIES.encode().replace(b"{", b"%7B").replace(b"}", b"%7D") + b"+" * MIB
    assert_413(request(server.port, "POST", "/predict", body=body,
                       headers={"Content-Type": "application/x-www-form-urlencoded"}))


def test_configured_field_limit(limited_server):
    """FOCAL_ML_MAX_FIELD_BYTES=2048 applies to entries and text; the image part is not a field."""
    port = limited_server.port
    over = ENTRIES + " " * 2049
    body, ctype = multipart([Part("entries", over), Part("text", "cat")])
    assert_413(request(port, "POST", "/predict", body=body, headers={"Content-Type": ctype}))
    body, ctype = multipart([Part("entries", ENTRIES), Part("text", "b" * 3000)])
    assert_413(request(port, "POST", "/predict", body=body, headers={"Content-Type": ctype}))
    image = noise_png(50, 50)  # 2500 px (under the pixel limit) but ~7.5 KB (over the field limit)
    assert len(image) > 4096
    body, ctype = multipart(predict_parts(CLIP_VISUAL, image=image))
    r = request(port, "POST", "/predict", body=body, headers={"Content-Type": ctype})
    assert reached_backend(r, "clip.visual"), r.describe()


# ---- JSON depth -----------------------------------------------------------------------------------


@pytest.mark.parametrize("depth,status", [(8, (501, 503)), (9, 422), (40, 422)])
def test_configured_json_depth(limited_server, depth, status):
    inner = depth - 4
    entries = '{"clip":{"textual":{"modelName":"ViT-B-32__openai","options":{"x":' + "[" * inner + "]" * inner + "}}}}"
    body, ctype = multipart([Part("entries", entries), Part("text", "cat")])
    r = request(limited_server.port, "POST", "/predict", body=body, headers={"Content-Type": ctype})
    assert r.status in (status if isinstance(status, tuple) else (status,)), r.describe()
    assert r.content_type.startswith("application/json"), r.describe()
