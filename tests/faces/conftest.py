# SPDX-License-Identifier: AGPL-3.0-or-later
"""Options and servers for the faces fidelity suite (passed by CTest): the focal-ml binary, the faces_dump helper,
the generated model cache and the shared test data.

Four focal-ml servers, each on its own Immich-layout cache (only the four InsightFace pack names are valid):
- gen:      the generated packs (buffalo_s, buffalo_l) as CTest writes them;
- variants: buffalo_s = dynamic-H/W detector + fixed-batch-1 recognizer, buffalo_m = 6-output detector,
            buffalo_l = MXNet-style recognizer (normalisation in the graph), antelopev2 = 15-output 5-stride detector
            with a static 512x384 input;
- real:     the real SCRFD-500M detectors from shared/testdata (buffalo_s: dynamic input, buffalo_m: static 640 with
            batched outputs), buffalo_l = SCRFD + the real MobileFaceNet recognizer, antelopev2 = 10-output detector;
- batch2:   MACHINE_LEARNING_MAX_BATCH_SIZE__FACIAL_RECOGNITION=2 with the generated buffalo_l pack, and buffalo_m =
            a recognizer with a fixed batch of 3 (the last Run of an image is padded).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))  # FocalServer and HTTP helpers
sys.path.insert(0, str(REPO / "tools"))  # reference pipelines
sys.path.insert(0, str(Path(__file__).resolve().parent))

import faces_common as fc  # noqa: E402
from focal_client import FocalServer  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--focal-ml", default=str(REPO / "build/release/focal-ml"))
    parser.addoption("--faces-dump", default=str(REPO / "build/release/tests/faces_dump"))
    parser.addoption("--models", default=str(REPO / "build/release/test-models"))
    parser.addoption("--testdata", default=str(REPO.parent / "shared/testdata"))


@pytest.fixture(scope="session")
def options(pytestconfig):
    return {name: Path(pytestconfig.getoption(name)) for name in ("focal_ml", "faces_dump", "models", "testdata")}


@pytest.fixture(scope="session")
def models(options, tmp_path_factory):
    """Every model file the suite uses, by role."""
    gen = options["models"] / "facial-recognition"
    real = options["testdata"] / "models"
    extra = tmp_path_factory.mktemp("face-models")
    subprocess.run(
        [sys.executable, str(REPO / "tools/gen_test_models.py"), "--out", str(extra), "--only", "buffalo_s",
         "buffalo_s_nokps", "--det-dynamic", "--rec-static-batch", "-q"],
        check=True, timeout=300,
    )
    m = {
        "gen_s_det": gen / "buffalo_s/detection/model.onnx",
        "gen_s_rec": gen / "buffalo_s/recognition/model.onnx",
        "gen_l_det": gen / "buffalo_l/detection/model.onnx",
        "gen_l_rec": gen / "buffalo_l/recognition/model.onnx",
        "dyn_det": extra / "facial-recognition/buffalo_s/detection/model.onnx",
        "static_rec": extra / "facial-recognition/buffalo_s/recognition/model.onnx",
        "nokps_det": extra / "facial-recognition/buffalo_s_nokps/detection/model.onnx",
        "mxnet_rec": fc.mxnet_style_recognizer(gen / "buffalo_s/recognition/model.onnx", extra / "mxnet/model.onnx"),
        "batch3_rec": fc.fixed_batch_recognizer(gen / "buffalo_s/recognition/model.onnx", extra / "batch3/model.onnx", 3),
        "five15_det": fc.five_stride_detector(extra / "five15/model.onnx", keypoints=True),
        "five10_det": fc.five_stride_detector(extra / "five10/model.onnx", keypoints=False),
        "scrfd_det": real / "scrfd-500m.onnx",
        "scrfd640_det": real / "scrfd-500m-bnkps-640.onnx",
        "mbf_rec": real / "mobilefacenet-128d.onnx",
    }
    for name, path in m.items():
        assert path.is_file(), f"{name}: {path} is missing"
    return m


def _cache(root: Path, layout: dict[str, tuple[Path, Path]]) -> Path:
    for pack, (det, rec) in layout.items():
        fc.place(root, pack, "detection", det)
        fc.place(root, pack, "recognition", rec)
    return root


def _server(options, workdir: Path, cache: Path, name: str, env: dict | None = None):
    overrides = {"MACHINE_LEARNING_CACHE_FOLDER": str(cache), "MACHINE_LEARNING_REQUEST_THREADS": "2"}
    overrides.update(env or {})
    return FocalServer(str(options["focal_ml"]), workdir, overrides, name=name).start(ready_timeout=30)


@pytest.fixture(scope="session")
def server_gen(options, tmp_path_factory):
    srv = _server(options, tmp_path_factory.mktemp("gen"), options["models"], "faces-gen")
    yield srv
    assert srv.stop() == 0, srv.log_tail()


@pytest.fixture(scope="session")
def server_batch2(options, models, tmp_path_factory):
    root = tmp_path_factory.mktemp("batch2")
    cache = _cache(root / "cache", {
        "buffalo_l": (models["gen_l_det"], models["gen_l_rec"]),
        "buffalo_m": (models["gen_s_det"], models["batch3_rec"]),  # a fixed batch wins over the setting
    })
    srv = _server(options, root, cache, "faces-batch2", {"MACHINE_LEARNING_MAX_BATCH_SIZE__FACIAL_RECOGNITION": "2"})
    yield srv
    assert srv.stop() == 0, srv.log_tail()


@pytest.fixture(scope="session")
def server_variants(options, models, tmp_path_factory):
    root = tmp_path_factory.mktemp("variants")
    cache = _cache(root / "cache", {
        "buffalo_s": (models["dyn_det"], models["static_rec"]),
        "buffalo_m": (models["nokps_det"], models["gen_s_rec"]),
        "buffalo_l": (models["gen_s_det"], models["mxnet_rec"]),
        "antelopev2": (models["five15_det"], models["gen_l_rec"]),
    })
    srv = _server(options, root, cache, "faces-variants")
    yield srv
    assert srv.stop() == 0, srv.log_tail()


@pytest.fixture(scope="session")
def server_real(options, models, tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    cache = _cache(root / "cache", {
        "buffalo_s": (models["scrfd_det"], models["gen_s_rec"]),
        "buffalo_m": (models["scrfd640_det"], models["gen_l_rec"]),
        "buffalo_l": (models["scrfd_det"], models["mbf_rec"]),
        "antelopev2": (models["five10_det"], models["gen_s_rec"]),
    })
    srv = _server(options, root, cache, "faces-real")
    yield srv
    assert srv.stop() == 0, srv.log_tail()


@pytest.fixture(scope="session")
def photos(options):
    folder = options["testdata"] / "photos"
    return {
        "faces": fc.readable_photos(folder, ("face-*", "group-*")),
        "negatives": [folder / "pet-cat-black-white.jpg", folder / "scene-beach-sand.jpg"],
        "others": fc.readable_photos(folder, ("format-*", "nature-*", "food-*")),
    }
