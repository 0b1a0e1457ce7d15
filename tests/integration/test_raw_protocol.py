# SPDX-License-Identifier: AGPL-3.0-or-later
"""Raw-socket requests: missing bodies, non-HTTP bytes, oversized headers, truncated multipart bodies.

A malformed request must be answered with a 4xx or have its connection closed, promptly; the server must stay
up (the autouse fixture in conftest.py checks /ping after every test).
"""

from __future__ import annotations

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
    PHOTOS,
    multipart,
    parse_raw_response,
    predict_parts,
    raw_exchange,
    read_response,
)

MISSING_ENTRIES = [{"type": "missing", "loc": ["body", "entries"], "msg": "Field required", "input": None}]
ENTRIES = json.dumps(CLIP_TEXTUAL)


def http_request(head_lines: list[str], body: bytes = b"") -> bytes:
    return ("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1") + body


# ---- requests without a body ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"POST /predict HTTP/1.1\r\nHost: t\r\n\r\n",
        b"POST /predict HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        b"POST /predict HTTP/1.0\r\n\r\n",
    ],
    ids=["http11", "http11-close", "http10"],
)
def test_post_predict_without_body_answers_immediately(port, payload):
    data, elapsed = raw_exchange(port, payload, timeout=5)
    assert elapsed < 2.0, f"took {elapsed:.2f}s"
    r = parse_raw_response(data)
    assert r is not None, data
    assert r.status == 422, r.describe()
    assert r.json() == {"detail": MISSING_ENTRIES}


def test_post_predict_content_length_zero(port):
    data, elapsed = raw_exchange(port, b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", timeout=5)
    r = parse_raw_response(data)
    assert r is not None and elapsed < 2.0, (data, elapsed)
    assert r.status == 422 and r.json() == {"detail": MISSING_ENTRIES}, r.describe()


@pytest.mark.parametrize("path,status", [("/ping", 405), ("/", 405), ("/elsewhere", 404)])
def test_post_without_body_elsewhere(port, path, status):
    data, elapsed = raw_exchange(port, f"POST {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode(), timeout=5)
    r = parse_raw_response(data)
    assert r is not None and elapsed < 2.0, (data, elapsed)
    assert r.status == status, r.describe()
    assert "detail" in r.json()


# ---- not HTTP, or broken HTTP ---------------------------------------------------------------------

TLS_CLIENT_HELLO = bytes.fromhex(
    "16030100a5010000a10303" + "00" * 32 + "000020c02bc02fc02cc030cca9cca8c013c014009c009d002f0035000a"
    "0100005800000014001200000f7777772e6578616d706c652e636f6d"
) + b"\x00" * 64


GARBAGE = [
    pytest.param(b"\x00" * 64 + b"\r\n\r\n", id="nul-bytes"),
    pytest.param(os.urandom(4096) + b"\r\n\r\n", id="random-4k"),
    pytest.param(TLS_CLIENT_HELLO, id="tls-client-hello"),
    pytest.param(b"HELLO WORLD\r\n\r\n", id="words"),
    pytest.param(b"GET /ping\r\n\r\n", id="no-version"),
    pytest.param(b"GET /ping HTTP/9.9\r\nHost: t\r\n\r\n", id="bad-version"),
    pytest.param(b"BREW /ping HTTP/1.1\r\nHost: t\r\n\r\n", id="unknown-method"),
    pytest.param(b"GET /ping HTTP/1.1\r\nHost t\r\nJunk\r\n\r\n", id="header-without-colon"),
    pytest.param(b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
                 id="content-length-not-a-number"),
    pytest.param(b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\nhello",
                 id="content-length-negative"),
    pytest.param(b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999999\r\n\r\nx",
                 id="content-length-overflow"),
    pytest.param(b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=x\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", id="bad-chunk-size"),
    pytest.param(b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n", id="huge-header-100k"),
    pytest.param(b"GET /ping HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n", id="huge-header-1m"),
    pytest.param(b"GET /ping HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 8000)
                                                                  for i in range(2000)) + b"\r\n",
                 id="headers-total-16m"),
    pytest.param(b"GET /ping HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(100_000))
                 + b"\r\n", id="headers-count-100k"),
    pytest.param(b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", id="huge-uri-100k"),
    pytest.param(b"G" * 200_000, id="huge-request-line-no-crlf"),
]


@pytest.mark.parametrize("payload", GARBAGE)
def test_garbage_gets_4xx_or_close(port, payload):
    data, elapsed = raw_exchange(port, payload, timeout=4, shutdown_write=False)
    assert elapsed < 3.5, f"neither answered nor closed within {elapsed:.1f}s"
    if data:
        r = parse_raw_response(data)
        assert r is not None, f"non-HTTP answer: {data[:200]!r}"
        assert 400 <= r.status < 500, r.describe()


def test_many_headers_within_limits_are_fine(port):
    payload = b"GET /ping HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(20)) + b"\r\n"
    r = parse_raw_response(raw_exchange(port, payload)[0])
    assert r is not None and r.status == 200 and r.body == b"pong"


def test_pipelined_requests(port):
    payload = b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.sendall(payload)
        data = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and b"Immich ML" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    assert data.count(b"HTTP/1.1 200") == 2, data
    assert b"pong" in data and b'{"message":"Immich ML"}' in data


# ---- truncated or malformed multipart (Content-Length matches the bytes sent) -----------------------


def _full_body(boundary="XyZ") -> bytes:
    body, _ = multipart(predict_parts(CLIP_VISUAL, image=(PHOTOS / "food-cake.jpg").read_bytes()), boundary=boundary)
    return body


def _cut_middle_of_image(body: bytes) -> bytes:
    return body[: len(body) // 2]


def _cut_in_part_headers(body: bytes) -> bytes:
    i = body.index(b'name="image"')
    return body[: i + 6]


def _no_closing_boundary(body: bytes) -> bytes:
    return body[: body.rindex(b"--XyZ--")]


def _closing_boundary_cut(body: bytes) -> bytes:
    return body[: body.rindex(b"--XyZ--") + 4]


def _wrong_boundary(body: bytes) -> bytes:
    return body.replace(b"--XyZ", b"--AbC")


TRUNCATED = [
    ("cut-in-middle-of-image", _cut_middle_of_image),
    ("cut-in-part-headers", _cut_in_part_headers),
    ("no-closing-boundary", _no_closing_boundary),
    ("closing-boundary-cut", _closing_boundary_cut),
    ("only-first-boundary", lambda body: b"--XyZ\r\n"),
    ("boundary-never-appears", _wrong_boundary),
    ("no-crlf-after-headers", lambda body: b'--XyZ\r\nContent-Disposition: form-data; name="entries"' + b"x" * 200),
    ("part-without-disposition",
     lambda body: b"--XyZ\r\nContent-Type: text/plain\r\n\r\n" + ENTRIES.encode() + b"\r\n--XyZ--\r\n"),
    ("disposition-without-name",
     lambda body: b"--XyZ\r\nContent-Disposition: form-data\r\n\r\n" + ENTRIES.encode() + b"\r\n--XyZ--\r\n"),
    ("garbage-body", lambda body: os.urandom(3000)),
]


@pytest.mark.parametrize("cut", [t[1] for t in TRUNCATED], ids=[t[0] for t in TRUNCATED])
def test_truncated_multipart_gets_json_4xx(port, cut):
    body = cut(_full_body())
    payload = http_request(
        ["POST /predict HTTP/1.1", "Host: t", "Content-Type: multipart/form-data; boundary=XyZ",
         f"Content-Length: {len(body)}", "Connection: close"],
        body,
    )
    data, elapsed = raw_exchange(port, payload, timeout=5)
    r = parse_raw_response(data)
    assert r is not None, f"no answer within {elapsed:.1f}s: {data[:200]!r}"
    assert 400 <= r.status < 500, r.describe()
    assert r.headers.get("content-type", "").startswith("application/json"), r.describe()
    assert "detail" in r.json(), r.describe()


def test_multipart_control_request_succeeds(port):
    """The untruncated body used above is valid (so the cases above test only their defect)."""
    body = _full_body()
    payload = http_request(
        ["POST /predict HTTP/1.1", "Host: t", "Content-Type: multipart/form-data; boundary=XyZ",
         f"Content-Length: {len(body)}", "Connection: close"],
        body,
    )
    r = parse_raw_response(raw_exchange(port, payload)[0])
    assert r is not None and r.status in (501, 503), r


# ---- clients that go away --------------------------------------------------------------------------


def test_client_disconnects_mid_upload(port):
    body = _full_body()
    head = http_request(["POST /predict HTTP/1.1", "Host: t", "Content-Type: multipart/form-data; boundary=XyZ",
                         f"Content-Length: {len(body)}"])
    for _ in range(5):
        with socket.create_connection((HOST, port), timeout=5) as sock:
            sock.sendall(head + body[:1000])
    for _ in range(5):  # and with a reset instead of a FIN
        sock = socket.create_connection((HOST, port), timeout=5)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.sendall(head + body[:5000])
        sock.close()


def test_client_half_closes_before_body_complete(port):
    body = _full_body()
    payload = http_request(["POST /predict HTTP/1.1", "Host: t", "Content-Type: multipart/form-data; boundary=XyZ",
                            f"Content-Length: {len(body)}"], body[:2000])
    data, elapsed = raw_exchange(port, payload, timeout=4, shutdown_write=True)
    assert elapsed < 3.5, "the server must notice the end of the stream"
    if data:
        r = parse_raw_response(data)
        assert r is not None and 400 <= r.status < 500, data[:200]


def test_client_leaves_without_reading_answer(port):
    body, ctype = multipart(predict_parts(CLIP_TEXTUAL, text="cat"))
    payload = http_request(["POST /predict HTTP/1.1", "Host: t", f"Content-Type: {ctype}",
                            f"Content-Length: {len(body)}"], body)
    for _ in range(20):
        with socket.create_connection((HOST, port), timeout=5) as sock:
            sock.sendall(payload)
    # the server still answers the same request normally afterwards
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.sendall(payload)
        r = parse_raw_response(read_response(sock, time.monotonic() + 5))
    assert r is not None and reached_backend(r, "clip.textual")


def test_stalled_clients_do_not_block_health_check(server):
    stalled = []
    try:
        for _ in range(max(4, (os.cpu_count() or 2) + 2)):
            sock = socket.create_connection((HOST, server.port), timeout=5)
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: t\r\n")  # headers never finished
            stalled.append(sock)
        time.sleep(0.2)
        data, elapsed = raw_exchange(server.port, b"GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                                     timeout=2.0)
        r = parse_raw_response(data)
        assert r is not None and r.body == b"pong", f"/ping not answered within 2 s while clients stall ({elapsed:.1f}s)"
    finally:
        for sock in stalled:
            sock.close()
