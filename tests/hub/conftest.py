# SPDX-License-Identifier: AGPL-3.0-or-later
"""Options for the hub end-to-end tests: the focal-ml binary and the generated model cache the fake hub serves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_addoption(parser):
    parser.addoption("--focal-ml", action="store", dest="focal_ml", default=None, metavar="PATH")
    parser.addoption("--models", action="store", dest="models", default=None, metavar="DIR")


@pytest.fixture(scope="session")
def focal_ml_bin(pytestconfig) -> str:
    path = pytestconfig.getoption("focal_ml") or os.environ.get("FOCAL_ML_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"focal-ml binary not found: {path} (pass --focal-ml PATH)", pytrace=False)
    return str(Path(path).resolve())


@pytest.fixture(scope="session")
def models_dir(pytestconfig) -> Path:
    path = pytestconfig.getoption("models")
    if not path or not (Path(path) / "clip" / "ViT-B-32__openai" / "visual" / "model.onnx").is_file():
        pytest.fail(f"generated test models not found in {path} (pass --models DIR)", pytrace=False)
    return Path(path).resolve()
