# SPDX-License-Identifier: AGPL-3.0-or-later
"""Fixtures for the operations suite (model lifecycle, preload, batching, API key, /metrics, shutdown): the real
focal-ml binary on a free port, serving the generated model cache (tools/gen_test_models.py)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))  # FocalServer and HTTP helpers

from focal_client import FocalServer  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--focal-ml", default=str(REPO / "build/release/focal-ml"))
    parser.addoption("--models", default=str(REPO / "build/release/test-models"))


@pytest.fixture(scope="session")
def models_dir(pytestconfig) -> Path:
    path = Path(pytestconfig.getoption("models"))
    if not (path / "clip/ViT-B-32__openai/visual/model.onnx").exists():
        pytest.fail(f"generated models missing in {path} (run tools/gen_test_models.py)", pytrace=False)
    return path


@pytest.fixture
def start_server(pytestconfig, models_dir, tmp_path):
    """Starts focal-ml on the generated models with extra environment; stops (or kills) it at the end."""
    started: list[FocalServer] = []

    def start(env: dict | None = None, name: str = "ops") -> FocalServer:
        full = {"MACHINE_LEARNING_CACHE_FOLDER": str(models_dir), "MACHINE_LEARNING_REQUEST_THREADS": "8"}
        full.update(env or {})
        srv = FocalServer(str(Path(pytestconfig.getoption("focal_ml")).resolve()), tmp_path / f"{name}{len(started)}",
                          full, name=name)
        started.append(srv)
        return srv.start(ready_timeout=60.0)

    yield start
    for srv in started:
        srv.kill()


@pytest.fixture(scope="session")
def jpeg() -> bytes:
    from PIL import Image

    img = Image.new("RGB", (320, 240))
    img.putdata([((x * 7) % 256, (y * 5) % 256, (x + y) % 256) for y in range(240) for x in range(320)])
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture(scope="session")
def jpegs() -> list[bytes]:
    from PIL import Image

    images = []
    for i in range(4):
        img = Image.new("RGB", (200 + 10 * i, 150), ((40 * i) % 256, 90, 200 - 30 * i))
        out = io.BytesIO()
        img.save(out, "JPEG", quality=90)
        images.append(out.getvalue())
    return images
