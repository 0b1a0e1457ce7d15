# SPDX-License-Identifier: AGPL-3.0-or-later
"""focal-ml with an empty model cache and HF_ENDPOINT pointing at a fake hub (tests/hub/fake_hub.py) that serves
the generated test models: the first clip.visual /predict downloads the model and answers with the same embedding
as a focal-ml that reads the generated cache directly. Offline mode makes no request at all.

    pytest tests/hub --focal-ml build/<dir>/focal-ml --models build/<dir>/test-models
"""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
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


def models_cli(focal_ml_bin: str, cache: Path, hub, *args: str, offline: bool = False):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MACHINE_LEARNING_", "FOCAL_ML_", "HF_"))}
    env.update({"MACHINE_LEARNING_CACHE_FOLDER": str(cache), "HF_ENDPOINT": hub.endpoint,
                "HF_HUB_OFFLINE": "1" if offline else "0", "NO_COLOR": "1"})
    return subprocess.run([focal_ml_bin, "models", *args], capture_output=True, text=True, timeout=300, env=env)


def test_models_command_downloads_lists_and_verifies_offline_of_the_service(focal_ml_bin, models_dir, hub,
                                                                            tmp_path):
    cache = tmp_path / "cache"
    got = models_cli(focal_ml_bin, cache, hub, "download", "ViT-B-32__openai", "buffalo_l")
    assert got.returncode == 0, got.stderr
    assert (cache / "clip/ViT-B-32__openai/textual/model.onnx").is_file()
    assert (cache / "facial-recognition/buffalo_l/recognition/model.onnx").is_file()
    src = models_dir / "clip" / "ViT-B-32__openai" / "visual" / "model.onnx"
    assert filecmp.cmp(src, cache / "clip/ViT-B-32__openai/visual/model.onnx", shallow=False)

    listing = models_cli(focal_ml_bin, cache, hub, "list", "--supported")
    assert listing.returncode == 0, listing.stderr
    rows = {line.split()[1]: line.split() for line in listing.stdout.splitlines()
            if line.startswith(("clip ", "facial-recognition "))}
    assert rows["ViT-B-32__openai"][2] == "visual,textual" and rows["ViT-B-32__openai"][-1] == "yes", listing.stdout
    assert rows["buffalo_l"][2] == "detection,recognition", listing.stdout
    assert "* ViT-B-32__openai" in listing.stdout and "  buffalo_s" in listing.stdout  # cached / not cached

    verified = models_cli(focal_ml_bin, cache, hub, "verify")
    assert verified.returncode == 0, verified.stderr
    assert "ViT-B-32__openai: ok" in verified.stdout and "buffalo_l: ok" in verified.stdout, verified.stdout

    # One flipped byte (same size) is found and named; offline, hub models cannot be verified.
    model = cache / "facial-recognition/buffalo_l/detection/model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    broken = models_cli(focal_ml_bin, cache, hub, "verify", "buffalo_l")
    assert broken.returncode == 1, broken.stdout
    assert str(model) in broken.stderr and "hash" in broken.stderr, broken.stderr
    offline = models_cli(focal_ml_bin, cache, hub, "verify", "ViT-B-32__openai", offline=True)
    assert offline.returncode == 1 and "HF_HUB_OFFLINE" in offline.stderr, offline.stderr

    unknown = models_cli(focal_ml_bin, cache, hub, "download", "ViT-Q-99__nope")
    assert unknown.returncode == 1 and "ViT-Q-99__nope" in unknown.stderr, unknown.stderr
    usage = models_cli(focal_ml_bin, cache, hub)
    assert usage.returncode == 2, usage.stderr
