# SPDX-License-Identifier: AGPL-3.0-or-later
"""focal-ml with an empty model cache and HF_ENDPOINT pointing at a fake hub (tests/hub/fake_hub.py) that serves
the generated test models: the first clip.visual /predict downloads the model and answers with the same embedding
as a focal-ml that reads the generated cache directly. Offline mode makes no request at all.

    pytest tests/hub --focal-ml build/<dir>/focal-ml --models build/<dir>/test-models
"""

from __future__ import annotations

import filecmp
import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "integration"))

from fake_hub import FakeHub  # noqa: E402
from focal_client import CLIP_VISUAL, PHOTOS, FocalServer, predict  # noqa: E402


@pytest.fixture(scope="module")
def hub(models_dir):
    h = FakeHub(models_dir).start()
    yield h
    h.stop()


@pytest.fixture
def image() -> bytes:
    return sorted(PHOTOS.glob("*.jpg"))[0].read_bytes()


def start(binary: str, workdir: Path, env: dict, name: str) -> FocalServer:
    return FocalServer(binary, workdir, env, name=name).start()


def test_empty_cache_downloads_and_predicts(focal_ml_bin, models_dir, hub, image, tmp_path):
    before = len(hub.requests)
    server = start(focal_ml_bin, tmp_path / "fresh", {"HF_ENDPOINT": hub.endpoint, "HF_HUB_OFFLINE": "0"}, "fresh")
    try:
        r = predict(server.port, CLIP_VISUAL, image=image)
        assert r.status == 200, r.describe()
        downloaded = json.loads(r.json()["clip"])
        # A second request is served from the cache: no more hub requests.
        seen = len(hub.requests)
        r2 = predict(server.port, CLIP_VISUAL, image=image)
        assert r2.status == 200, r2.describe()
        assert len(hub.requests) == seen
    finally:
        assert server.stop() == 0, server.log_tail()
    assert len(hub.requests) > before
    assert not any(q.startswith("HEAD ") for q in hub.requests)

    # Every file of the repo arrived byte-identical, in Immich's layout, with no temporaries left behind.
    src = models_dir / "clip" / "ViT-B-32__openai"
    dst = tmp_path / "fresh" / "cache" / "clip" / "ViT-B-32__openai"
    for f in src.rglob("*"):
        if f.is_file():
            copy = dst / f.relative_to(src)
            assert copy.is_file() and filecmp.cmp(f, copy, shallow=False), copy
    assert not list(dst.rglob("*.incomplete"))

    # The answer equals that of a focal-ml reading the generated cache directly.
    direct = start(focal_ml_bin, tmp_path / "direct", {"MACHINE_LEARNING_CACHE_FOLDER": str(models_dir)}, "direct")
    try:
        r = predict(direct.port, CLIP_VISUAL, image=image)
        assert r.status == 200, r.describe()
        assert json.loads(r.json()["clip"]) == downloaded
    finally:
        assert direct.stop() == 0, direct.log_tail()


def test_offline_with_empty_cache_is_a_clear_503_and_no_request(focal_ml_bin, hub, image, tmp_path):
    before = len(hub.requests)
    server = start(focal_ml_bin, tmp_path / "offline", {"HF_ENDPOINT": hub.endpoint, "HF_HUB_OFFLINE": "1"}, "off")
    try:
        r = predict(server.port, CLIP_VISUAL, image=image)
        assert r.status == 503, r.describe()
        assert "ViT-B-32__openai" in r.detail and "HF_HUB_OFFLINE" in r.detail, r.detail
    finally:
        assert server.stop() == 0, server.log_tail()
    assert len(hub.requests) == before


def test_missing_repository_is_a_clear_503(focal_ml_bin, hub, image, tmp_path):
    server = start(focal_ml_bin, tmp_path / "missing", {"HF_ENDPOINT": hub.endpoint, "HF_HUB_OFFLINE": "0"}, "miss")
    try:
        entries = {"clip": {"visual": {"modelName": "ViT-L-14__openai"}}}  # supported name, not on this hub
        r = predict(server.port, entries, image=image)
        assert r.status == 503, r.describe()
        assert "ViT-L-14__openai" in r.detail and "404" in r.detail, r.detail
    finally:
        assert server.stop() == 0, server.log_tail()
