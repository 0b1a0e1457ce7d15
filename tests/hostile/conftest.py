# SPDX-License-Identifier: AGPL-3.0-or-later
"""Servers for the hostile-input tables: focal-ml on the generated models, and `focal serve` with an admin,
a second user, an uploaded asset and API keys (their ids and tokens are the tables' {placeholders})."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from harness import REPO_ROOT, ApiClient, Stack, free_port  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--focal", dest="focal", default=None, help="focal binary")
    parser.addoption("--focal-ml", dest="focal_ml", default=None, help="focal-ml binary")
    parser.addoption("--models", dest="models", default=None, help="generated model cache (gen_test_models.py)")
    parser.addoption("--testdata", dest="testdata", default=None, help="shared test data folder")


@dataclass
class Server:
    port: int
    testdata: Path
    values: dict = field(default_factory=dict)


def _path(config, name: str, default: Path) -> Path:
    return Path(config.getoption(name) or default).resolve()


@pytest.fixture(scope="session")
def stack(pytestconfig, tmp_path_factory) -> Stack:
    build = REPO_ROOT / "build" / "release"
    return Stack(str(_path(pytestconfig, "focal", build / "focal")),
                 str(_path(pytestconfig, "focal_ml", build / "focal-ml")),
                 _path(pytestconfig, "models", build / "test-models"), tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="session")
def testdata(pytestconfig) -> Path:
    return _path(pytestconfig, "testdata", REPO_ROOT.parent / "shared" / "testdata")


@pytest.fixture(scope="session")
def ml_port(stack):
    port = free_port()
    proc = stack.start_ml(port, "hostile-ml")
    yield port
    assert proc.stop() == 0, proc.log_tail()


@pytest.fixture(scope="session")
def focal_ml_server(ml_port, testdata) -> Server:
    return Server(ml_port, testdata)


@pytest.fixture(scope="session")
def focal_server(stack, ml_port, testdata):
    env = stack.focal_env(stack.workdir / "data-hostile", ml_port)
    proc, port = stack.start_serve(env, "hostile-serve")
    api = ApiClient(port)
    admin = {"email": "admin@example.com", "password": "admin password 1", "name": "Admin"}
    user = {"email": "user@example.com", "password": "user password 12", "name": "User"}
    assert api.post("/api/auth/admin-sign-up", admin, auth=False).status == 201
    values = {}
    for slot, who in (("admin", admin), ("user", user)):
        if slot == "user":
            assert api.post("/api/admin/users", user).status == 201
        login = api.post("/api/auth/login", {"email": who["email"], "password": who["password"]}, auth=False)
        api.token = login.json()["accessToken"]
        values[f"{slot}_token"] = api.token
        values[f"{slot}_id"] = api.get("/api/users/me").json()["id"]
        upload = api.upload(f"{slot}.jpg", (testdata / "photos" / "food-cake.jpg").read_bytes())
        assert upload.status in (200, 201), upload.body
        values[f"{slot}_asset"] = upload.json()["id"]
        key = api.post("/api/api-keys", {"name": "read", "permissions": ["asset.read"]})
        values[f"{slot}_read_key"] = key.json()["secret"]
        person = api.post("/api/people", {"name": f"{slot} person"})
        values[f"{slot}_person"] = person.json()["id"]
    library = stack.workdir / "hostile-library"
    library.mkdir(exist_ok=True)
    api.token = values["admin_token"]
    created = api.post("/api/libraries", {"importPath": str(library)})
    values["library"] = created.json()["id"]
    values["library_path"] = str(library)
    yield Server(port, testdata, values)
    assert proc.stop() == 0, proc.log_tail()
