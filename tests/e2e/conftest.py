# SPDX-License-Identifier: AGPL-3.0-or-later
"""Fixtures of the focal end-to-end suite: binaries, generated models, a photo subset with broken files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from harness import REPO_ROOT, Stack

# A small, varied subset of the shared photos (pets, scenes, faces, groups, EXIF, formats).
GOOD_PHOTOS = [
    "pet-dog-corgi.jpg", "pet-dog-pug-red.jpg", "pet-cat-tabby.jpg",
    "scene-beach-sand.jpg", "scene-beach-palms.jpg", "scene-aurora.jpg", "scene-city-harbour.jpg",
    "food-cake.jpg", "food-limes.jpg",
    "face-obama-1.jpg", "face-obama-2.jpg", "face-biden-1.jpg", "group-obama-biden.jpg", "group-two-people.jpg",
    "camera-Canon_40D.jpg", "camera-Nikon_D70.jpg", "orientation-portrait-6.jpg",
    "format-alpha-channel.png", "format-denali.webp", "nature-prairie_falcon.jpg",
    "ocr-en.jpg",  # text for the OCR job (real PP-OCR networks in the test model cache)
]
BROKEN_FILES = ["truncated-jpeg.jpg", "broken-80-bytes.png", "corrupt-ukbench09268.jpg"]
DUPLICATE_COPY = ("pet-dog-corgi.jpg", "corgi-copy.jpg")  # same bytes, another name: must not become an asset
UPLOAD_PHOTO = "nature-silver_fir.jpg"


def pytest_addoption(parser):
    parser.addoption("--focal", dest="focal", default=None, help="focal binary")
    parser.addoption("--focal-ml", dest="focal_ml", default=None, help="focal-ml binary")
    parser.addoption("--models", dest="models", default=None, help="generated model cache (gen_test_models.py)")
    parser.addoption("--testdata", dest="testdata", default=None, help="shared test data folder")


def _option(config, name: str, env: str, default: Path) -> Path:
    value = config.getoption(name) or os.environ.get(env) or str(default)
    return Path(value).resolve()


@pytest.fixture(scope="session")
def testdata(pytestconfig) -> Path:
    path = _option(pytestconfig, "testdata", "FOCAL_TESTDATA", REPO_ROOT.parent / "shared" / "testdata")
    if not (path / "photos").is_dir():
        pytest.fail(f"shared test data not found at {path} (pass --testdata)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def stack(pytestconfig, tmp_path_factory) -> Stack:
    focal = _option(pytestconfig, "focal", "FOCAL_BIN", REPO_ROOT / "build" / "release" / "focal")
    focal_ml = _option(pytestconfig, "focal_ml", "FOCAL_ML_BIN", REPO_ROOT / "build" / "release" / "focal-ml")
    models = _option(pytestconfig, "models", "FOCAL_TEST_MODELS", REPO_ROOT / "build" / "release" / "test-models")
    for path in (focal, focal_ml):
        if not os.access(path, os.X_OK):
            pytest.fail(f"binary not found: {path}", pytrace=False)
    if not (models / "clip" / "ViT-B-32__openai").is_dir():
        pytest.fail(f"generated models not found in {models} (run tools/gen_test_models.py)", pytrace=False)
    return Stack(str(focal), str(focal_ml), models, tmp_path_factory.mktemp("e2e"))


@pytest.fixture(scope="session")
def photos(testdata, tmp_path_factory) -> Path:
    """A library folder: the good photos (one in a sub-folder), a same-content copy, broken files, a text file."""
    root = tmp_path_factory.mktemp("photos")
    (root / "sub").mkdir()
    for i, name in enumerate(GOOD_PHOTOS):
        shutil.copy(testdata / "photos" / name, (root / "sub" if i % 5 == 0 else root) / name)
    shutil.copy(testdata / "photos" / DUPLICATE_COPY[0], root / DUPLICATE_COPY[1])
    for name in BROKEN_FILES:
        shutil.copy(testdata / "broken" / name, root / name)
    (root / "notes.txt").write_text("not a photo\n")
    return root
