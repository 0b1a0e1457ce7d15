# SPDX-License-Identifier: AGPL-3.0-or-later
"""Options and the server for the OCR fidelity suite (passed by CTest): the focal-ml binary, the ocr_dump helper and
the shared test data.

One focal-ml server on an Immich-layout cache of real PP-OCR networks:
- PP-OCRv5_mobile: RapidOCR's PP-OCRv4 detector and Chinese recognizer (from the pinned rapidocr wheel; the
  character list is in the recognizer's ONNX metadata, as in Immich's PP-OCRv5 files);
- EN__PP-OCRv5_mobile: the English/digits recognizer from shared/testdata with its dictionary written into the
  metadata (its detector is PP-OCRv5_mobile's: one detector per size);
- PP-OCRv5_server: the PP-OCRv3 detector from shared/testdata with the PP-OCRv4 recognizer;
- every other language prefix: the PP-OCRv4 recognizer, so that each name resolves.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import onnx
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))  # FocalServer and HTTP helpers
sys.path.insert(0, str(REPO / "tools"))  # reference pipelines

import rapidocr  # noqa: E402

from focal_client import FocalServer  # noqa: E402

LANGUAGES = ("CH", "EL", "EN", "ESLAV", "KOREAN", "LATIN", "TH")


def pytest_addoption(parser):
    parser.addoption("--focal-ml", default=str(REPO / "build/release/focal-ml"))
    parser.addoption("--ocr-dump", default=str(REPO / "build/release/tests/ocr_dump"))
    parser.addoption("--testdata", default=str(REPO.parent / "shared/testdata"))


@pytest.fixture(scope="session")
def options(pytestconfig):
    return {name: Path(pytestconfig.getoption(name)) for name in ("focal_ml", "ocr_dump", "testdata")}


def _place(cache: Path, name: str, kind: str, model: Path) -> None:
    dst = cache / "ocr" / name / kind / "model.onnx"
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(model.resolve(), dst)
    except OSError:
        shutil.copyfile(model, dst)


def with_character_metadata(model: Path, dictionary: Path, out: Path) -> Path:
    """A copy of a recognizer with its dictionary in the `character` metadata, the layout Immich's files have."""
    proto = onnx.load(str(model))
    entry = proto.metadata_props.add()
    entry.key = "character"
    entry.value = dictionary.read_text(encoding="utf-8").rstrip("\n")
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(out))
    return out


@pytest.fixture(scope="session")
def models(options, tmp_path_factory):
    bundled = Path(rapidocr.__file__).parent / "models"
    shared = options["testdata"] / "models"
    m = {
        "v4_det": bundled / "ch_PP-OCRv4_det_infer.onnx",
        "v4_rec": bundled / "ch_PP-OCRv4_rec_infer.onnx",
        "v3_det": shared / "ppocr-ch_PP-OCRv3_det_infer.onnx",
        "en_rec": with_character_metadata(shared / "ppocr-en_number_mobile_v2.0_rec_infer.onnx",
                                          shared / "ppocr-en_dict.txt",
                                          tmp_path_factory.mktemp("en-rec") / "model.onnx"),
    }
    for name, path in m.items():
        assert path.is_file(), f"{name}: {path} is missing"
    return m


# Model name -> (detector, recognizer) the reference uses for it.
def pipelines(models) -> dict[str, tuple[Path, Path]]:
    out = {"PP-OCRv5_mobile": (models["v4_det"], models["v4_rec"]),
           "PP-OCRv5_server": (models["v3_det"], models["v4_rec"]),
           "EN__PP-OCRv5_mobile": (models["v4_det"], models["en_rec"])}
    for lang in LANGUAGES:
        out.setdefault(f"{lang}__PP-OCRv5_mobile", (models["v4_det"], models["v4_rec"]))
    return out


@pytest.fixture(scope="session")
def server(options, models, tmp_path_factory):
    root = tmp_path_factory.mktemp("ocr")
    cache = root / "cache"
    for name, (det, rec) in pipelines(models).items():
        if "__" not in name:
            _place(cache, name, "detection", det)
        _place(cache, name, "recognition", rec)
    _place(cache, "CH__PP-OCRv5_server", "recognition", models["v4_rec"])
    env = {"MACHINE_LEARNING_CACHE_FOLDER": str(cache), "MACHINE_LEARNING_REQUEST_THREADS": "2"}
    srv = FocalServer(str(options["focal_ml"]), root, env, name="ocr").start(ready_timeout=30)
    yield srv
    assert srv.stop() == 0, srv.log_tail()
