# SPDX-License-Identifier: AGPL-3.0-or-later
"""Options of the packaging suite: the configured and built CMake build directory to package."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser):
    parser.addoption("--build", dest="build", default="build/ci", help="built CMake build directory")


@pytest.fixture(scope="session")
def build_dir(pytestconfig) -> Path:
    path = Path(pytestconfig.getoption("build")).resolve()
    if not (path / "CPackConfig.cmake").is_file():
        pytest.fail(f"{path} is not a configured build directory (no CPackConfig.cmake)", pytrace=False)
    return path
