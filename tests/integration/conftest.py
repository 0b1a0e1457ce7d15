# SPDX-License-Identifier: AGPL-3.0-or-later
"""Fixtures for the focal-ml integration suite.

The binary comes from --focal-ml PATH, else $FOCAL_ML_BIN, else build/release/focal-ml of this checkout.
Servers listen on 127.0.0.1 on a free port. After every test, every server the session started must still
be running and answer /ping: a malformed request that kills or wedges the server fails the test that sent it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from focal_client import FocalServer, ping

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO_ROOT / "build" / "release" / "focal-ml"

# Limits for the second session server; the tests in test_limits.py and test_images.py depend on them.
LIMITED_ENV = {
    "FOCAL_ML_MAX_BODY_BYTES": "100000",
    "FOCAL_ML_MAX_IMAGE_PIXELS": "10000",
    "FOCAL_ML_MAX_FIELD_BYTES": "2048",
    "FOCAL_ML_MAX_JSON_DEPTH": "8",
}

_session_servers: list[FocalServer] = []


def pytest_addoption(parser):
    parser.addoption(
        "--focal-ml",
        action="store",
        dest="focal_ml",
        default=None,
        metavar="PATH",
        help=f"focal-ml binary to test (default: $FOCAL_ML_BIN or {DEFAULT_BINARY})",
    )


@pytest.fixture(scope="session")
def focal_ml_bin(pytestconfig) -> str:
    path = pytestconfig.getoption("focal_ml") or os.environ.get("FOCAL_ML_BIN") or str(DEFAULT_BINARY)
    path = str(Path(path).resolve())
    if not os.access(path, os.X_OK):
        pytest.fail(f"focal-ml binary not found or not executable: {path} (pass --focal-ml PATH)", pytrace=False)
    return path


def _session_server(binary: str, tmp_path_factory, name: str, env: dict) -> FocalServer:
    server = FocalServer(binary, tmp_path_factory.mktemp(name), env, name=name).start()
    _session_servers.append(server)
    return server


@pytest.fixture(scope="session")
def server(focal_ml_bin, tmp_path_factory):
    """A server with the default limits."""
    srv = _session_server(focal_ml_bin, tmp_path_factory, "default", {})
    yield srv
    _session_servers.remove(srv)
    rc = srv.stop()
    assert rc == 0, f"default server exited with {rc} on SIGTERM:\n{srv.log_tail()}"


@pytest.fixture(scope="session")
def limited_server(focal_ml_bin, tmp_path_factory):
    """A server with small limits (LIMITED_ENV)."""
    srv = _session_server(focal_ml_bin, tmp_path_factory, "limited", LIMITED_ENV)
    yield srv
    _session_servers.remove(srv)
    rc = srv.stop()
    assert rc == 0, f"limited server exited with {rc} on SIGTERM:\n{srv.log_tail()}"


@pytest.fixture
def port(server) -> int:
    return server.port


@pytest.fixture
def server_factory(focal_ml_bin, tmp_path):
    """Starts private servers for a single test; whatever is still running at the end is killed."""
    started: list[FocalServer] = []

    def start(env: dict | None = None, name: str = "private") -> FocalServer:
        srv = FocalServer(focal_ml_bin, tmp_path / f"{name}{len(started)}", dict(env or {}), name=name)
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        srv.kill()


@pytest.fixture(autouse=True)
def servers_stay_up(request):
    """After each test, every session server must still be running and answer GET /ping with pong."""
    yield
    for srv in list(_session_servers):
        if not srv.alive():
            pytest.fail(
                f"{srv.name} server died during {request.node.nodeid} (exit {srv.proc.returncode}):\n"
                f"{srv.log_tail()}",
                pytrace=False,
            )
        if not ping(srv.port, timeout=5.0):
            pytest.fail(
                f"{srv.name} server stopped answering /ping after {request.node.nodeid}:\n{srv.log_tail()}",
                pytrace=False,
            )
