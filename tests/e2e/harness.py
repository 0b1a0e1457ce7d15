# SPDX-License-Identifier: AGPL-3.0-or-later
"""Processes and HTTP client for the focal end-to-end suite (stdlib HTTP; responses validated by openapi-core).

Every response the ApiClient receives for a path documented in docs/openapi.yaml is validated against it, so
the suite fails when the server and its documentation disagree.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT / "docs" / "openapi.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def clean_env() -> dict:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MACHINE_LEARNING_", "FOCAL_", "IMMICH_"))
    }


class Process:
    """A child process with its output in a log file."""

    def __init__(self, argv: list[str], env: dict, log_path: Path, name: str):
        self.argv, self.env, self.log_path, self.name = argv, env, log_path, name
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> "Process":
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        finally:
            log.close()
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 6000) -> str:
        if not self.log_path.exists():
            return "<no log>"
        return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")

    def kill9(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 20) -> int:
        if not self.alive():
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"{self.name} did not stop within {timeout} s on SIGTERM:\n{self.log_tail()}")


def http_get_ok(port: int, path: str, timeout: float = 1.0) -> bool:
    try:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        conn.request("GET", path)
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except OSError:
        return False


@dataclass
class Stack:
    """Binaries and shared inputs of one suite run."""

    focal: str
    focal_ml: str
    models: Path
    workdir: Path

    def start_ml(self, port: int, name: str = "focal-ml", cache: Optional[Path] = None) -> Process:
        """focal-ml on `port` with the generated model cache, or `cache`."""
        env = clean_env()
        env.update(
            {
                "IMMICH_HOST": HOST,
                "IMMICH_PORT": str(port),
                "MACHINE_LEARNING_CACHE_FOLDER": str(cache or self.models),
                "MACHINE_LEARNING_REQUEST_THREADS": "2",
                "NO_COLOR": "1",
            }
        )
        proc = Process([self.focal_ml], env, self.workdir / f"{name}.log", name).start()
        wait_until(lambda: http_get_ok(port, "/ping") or not proc.alive(), 30, "focal-ml /ping")
        assert proc.alive(), f"focal-ml exited during start-up:\n{proc.log_tail()}"
        return proc

    def focal_env(self, data_dir: Path, ml_port: int, extra: Optional[dict] = None) -> dict:
        env = clean_env()
        env.update(
            {
                "FOCAL_DATA_DIR": str(data_dir),
                "FOCAL_HOST": HOST,
                "IMMICH_MACHINE_LEARNING_URL": f"http://{HOST}:{ml_port}",
                # Short leases and retries so that kill -9 and ML outages recover within seconds.
                "FOCAL_JOB_LEASE_MS": "2000",
                "FOCAL_JOB_RETRY_INITIAL_MS": "300",
                "FOCAL_JOB_RETRY_MAX_MS": "1000",
                "FOCAL_LOG_LEVEL": "info",
                "NO_COLOR": "1",
            }
        )
        env.update(extra or {})
        return env

    def start_serve(self, env: dict, name: str = "focal") -> tuple[Process, int]:
        port = free_port()
        env = dict(env, FOCAL_PORT=str(port))
        proc = Process([self.focal, "serve"], env, self.workdir / f"{name}.log", name).start()
        wait_until(lambda: http_get_ok(port, "/api/server/ping") or not proc.alive(), 30, "focal serve")
        assert proc.alive(), f"focal serve exited during start-up:\n{proc.log_tail()}"
        return proc, port

    def cli(self, env: dict, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [self.focal, *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert result.returncode == 0, (
                f"focal {' '.join(args)} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result


@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    def json(self):
        return json.loads(self.body)


class ApiClient:
    """JSON client for focal serve. Responses of documented paths are checked against docs/openapi.yaml."""

    def __init__(self, port: int, token: Optional[str] = None):
        self.port = port
        self.token = token
        spec = yaml.safe_load(SPEC_PATH.read_text())
        spec["servers"] = [{"url": f"http://{HOST}:{port}"}]
        self.openapi = OpenAPI.from_dict(spec)
        self.validated = 0

    def request(self, method: str, path: str, body=None, headers: Optional[dict] = None, raw: bytes = None,
                content_type: str = "application/json", validate: bool = True, auth: bool = True) -> Reply:
        hdrs = dict(headers or {})
        if auth and self.token and "x-api-key" not in hdrs:
            hdrs["Authorization"] = f"Bearer {self.token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            hdrs["Content-Type"] = content_type
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        conn.request(method, path, body=data, headers=hdrs)
        res = conn.getresponse()
        reply = Reply(res.status, {k.lower(): v for k, v in res.getheaders()}, res.read())
        conn.close()
        if reply.status >= 400:
            # Every error has Immich's shape, whatever the route.
            err = reply.json()
            assert set(err) >= {"message", "statusCode", "error"}, err
            assert err["statusCode"] == reply.status, err
        if validate:
            self._validate(method, path, data, content_type, reply)
        return reply

    def _validate(self, method: str, path: str, data, content_type: str, reply: Reply) -> None:
        base, _, query = path.partition("?")
        args = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        request = MockRequest(f"http://{HOST}:{self.port}", method, base, args=args, data=data,
                              content_type=content_type)
        response = MockResponse(reply.body, status_code=reply.status,
                                content_type=reply.headers.get("content-type", "").split(";")[0] or "application/json")
        self.openapi.validate_response(request, response)
        self.validated += 1

    def get(self, path, **kw) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw) -> Reply:
        return self.request("POST", path, body if body is not None else {}, **kw)

    def put(self, path, body=None, **kw) -> Reply:
        return self.request("PUT", path, body if body is not None else {}, **kw)

    def delete(self, path, body=None, **kw) -> Reply:
        return self.request("DELETE", path, body, **kw)

    def upload(self, filename: str, content: bytes) -> Reply:
        boundary = uuid.uuid4().hex
        parts = [
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"deviceAssetId\"\r\n\r\ne2e-{filename}\r\n".encode(),
            (f"--{boundary}\r\nContent-Disposition: form-data; name=\"assetData\"; filename=\"{filename}\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n").encode() + content + b"\r\n",
            f"--{boundary}--\r\n".encode(),
        ]
        return self.request("POST", "/api/assets", raw=b"".join(parts),
                            content_type=f"multipart/form-data; boundary={boundary}")

    def queues(self) -> dict:
        reply = self.get("/api/queues")
        assert reply.status == 200, reply.body
        return {q["name"]: q["statistics"] for q in reply.json()}

    def wait_idle(self, timeout: float = 90, require_no_delayed: bool = True) -> dict:
        def idle():
            queues = self.queues()
            busy = sum(s["active"] + s["waiting"] + s["paused"] + (s["delayed"] if require_no_delayed else 0)
                       for s in queues.values())
            return queues if busy == 0 else None
        return wait_until(idle, timeout, "job queues to drain", interval=0.25)


def login(port: int, user: dict) -> "ApiClient":
    """An ApiClient signed in as `user` ({email, password}) with a session token."""
    api = ApiClient(port)
    reply = api.post("/api/auth/login", {"email": user["email"], "password": user["password"]}, auth=False)
    assert reply.status == 201, reply.body
    api.token = reply.json()["accessToken"]
    return api


def db_rows(data_dir: Path, sql: str, params=()) -> list:
    """Reads the server's database (WAL: safe while the server writes)."""
    conn = sqlite3.connect(f"file:{data_dir / 'focal.db'}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
