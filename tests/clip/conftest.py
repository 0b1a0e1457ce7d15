# SPDX-License-Identifier: AGPL-3.0-or-later
"""Options for the CLIP fidelity tests (passed by CTest): the focal-ml binary, the preprocessing dump helper,
and the generated model cache."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))  # FocalServer and HTTP helpers
sys.path.insert(0, str(REPO / "tools"))  # reference pipelines


def pytest_addoption(parser):
    parser.addoption("--focal-ml", default=str(REPO / "build/release/focal-ml"))
    parser.addoption("--preprocess-dump", default=str(REPO / "build/release/tests/clip_preprocess_dump"))
    parser.addoption("--models", default=str(REPO / "build/release/test-models"))
    parser.addoption("--testdata", default=str(REPO.parent / "shared/testdata"))


@pytest.fixture(scope="session")
def options(pytestconfig):
    return {name: Path(pytestconfig.getoption(name)) for name in ("focal_ml", "preprocess_dump", "models", "testdata")}
