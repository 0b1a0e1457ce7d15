# SPDX-License-Identifier: AGPL-3.0-or-later
"""Process lifecycle: startup, graceful SIGTERM/SIGINT shutdown, bind failure."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import pytest

from focal_client import CLIP_TEXTUAL, HOST, Part, multipart, parse_raw_response, ping, predict_parts, read_response


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shuts_down_gracefully(server_factory, sig):
    srv = server_factory(name="sig")
    assert ping(srv.port)
    start = time.monotonic()
    srv.signal(sig)
    assert srv.wait(timeout=10) == 0, srv.log_tail()
    assert time.monotonic() - start < 5
    assert not ping(srv.port, timeout=1)


def test_sigterm_with_idle_keepalive_connection(server_factory):
    """An idle persistent connection must not keep the process alive past the keep-alive timeout."""
    srv = server_factory(name="idle")
    with socket.create_connection((HOST, srv.port), timeout=5) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
        r = parse_raw_response(read_response(sock, time.monotonic() + 5))
        assert r is not None and r.body == b"pong"
        start = time.monotonic()
        srv.signal(signal.SIGTERM)
        assert srv.wait(timeout=10) == 0, srv.log_tail()
        assert time.monotonic() - start < 5


def test_sigterm_lets_in_flight_request_finish(server_factory):
    """A request whose body is still arriving when SIGTERM comes is completed and answered."""
    srv = server_factory(name="inflight")
    body, ctype = multipart(predict_parts(CLIP_TEXTUAL, text="cat") + [Part("pad", b"p" * 50_000, "pad.bin")])
    head = (f"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()
    with socket.create_connection((HOST, srv.port), timeout=5) as sock:
        sock.sendall(head + body[:1000])
        time.sleep(0.3)
        srv.signal(signal.SIGTERM)
        time.sleep(0.3)
        sock.sendall(body[1000:])
        r = parse_raw_response(read_response(sock, time.monotonic() + 5))
    assert r is not None, "in-flight request was dropped on SIGTERM"
    assert r.status in (501, 503), r.describe()  # reached the model layer (empty test cache)
    assert srv.wait(timeout=10) == 0, srv.log_tail()


def test_startup_logs_listening_address(server):
    assert f"{server.port}" in server.log_tail(100_000)


def test_port_in_use_fails_fast(focal_ml_bin, tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((HOST, 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        env = {"IMMICH_HOST": HOST, "IMMICH_PORT": str(port), "MACHINE_LEARNING_CACHE_FOLDER": str(tmp_path),
               "NO_COLOR": "1", "PATH": "/usr/bin:/bin"}
        proc = subprocess.run([focal_ml_bin], env=env, capture_output=True, timeout=15)
    assert proc.returncode not in (0, None), proc
    assert str(port) in (proc.stdout + proc.stderr).decode("utf-8", "replace")
