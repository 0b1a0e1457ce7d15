# SPDX-License-Identifier: AGPL-3.0-or-later
"""Routing: GET /, GET /ping, 404 and 405 with FastAPI's JSON bodies, as Immich's ML service answers."""

from __future__ import annotations

import http.client

import pytest

from focal_client import HOST, request


def test_root(port):
    r = request(port, "GET", "/")
    assert r.status == 200, r.describe()
    assert r.content_type.startswith("application/json"), r.describe()
    assert r.body == b'{"message":"Immich ML"}'


def test_ping(port):
    r = request(port, "GET", "/ping")
    assert r.status == 200, r.describe()
    assert r.content_type.startswith("text/plain"), r.describe()
    assert r.body == b"pong"


def test_ping_ignores_query_string(port):
    r = request(port, "GET", "/ping?probe=1")
    assert (r.status, r.body) == (200, b"pong"), r.describe()


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/nope"),
        ("GET", "/predict/extra"),
        ("POST", "/predicts"),
        ("GET", "/ping/"),
        ("GET", "/%2e%2e/%2e%2e/etc/passwd"),
        ("DELETE", "/unknown"),
    ],
)
def test_unknown_path_is_404(port, method, path):
    r = request(port, method, path)
    assert r.status == 404, r.describe()
    assert r.content_type.startswith("application/json"), r.describe()
    assert r.json() == {"detail": "Not Found"}


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/ping"),
        ("PUT", "/ping"),
        ("DELETE", "/ping"),
        ("POST", "/"),
        ("PUT", "/"),
        ("PATCH", "/"),
        ("GET", "/predict"),
        ("PUT", "/predict"),
        ("DELETE", "/predict"),
        ("PATCH", "/predict"),
    ],
)
def test_wrong_method_is_405(port, method, path):
    body = b"x" if method in ("POST", "PUT", "PATCH") else None
    r = request(port, method, path, body=body)
    assert r.status == 405, r.describe()
    assert r.content_type.startswith("application/json"), r.describe()
    assert r.json() == {"detail": "Method Not Allowed"}


def test_keep_alive_connection_survives_error_answers(port):
    """Several requests, errors included, on one persistent HTTP/1.1 connection."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        for method, path, body, want in [
            ("GET", "/ping", None, 200),
            ("GET", "/missing", None, 404),
            ("POST", "/predict", b"entries=%7B%7D", 422),
            ("GET", "/predict", None, 405),
            ("GET", "/", None, 200),
        ]:
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            assert resp.status == want, (method, path, resp.status, data)
    finally:
        conn.close()
