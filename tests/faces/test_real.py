# SPDX-License-Identifier: AGPL-3.0-or-later
"""facial-recognition on real faces: the real SCRFD-500M detectors from shared/testdata (see SOURCES.md) in an
Immich-layout cache, on the face and group photos, against the Python reference with the same bars as the
generated models; the faces found must agree with what SOURCES.md says the photos show. A real MobileFaceNet
recognizer checks that aligned crops carry identity (same person closer than different people)."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

import faces_common as fc
from focal_client import predict

# Faces a person sees, from SOURCES.md / manifest.tsv, for photos whose faces are frontal enough for SCRFD-500M.
EXPECTED_FACES = {
    "group-friends-cast.jpg": 6,
    "group-jolie-pitt.jpg": 2,
    "group-clowns.jpg": 3,
    "group-kit-rose.jpg": 2,
    "group-two-people.jpg": 2,
    "group-pp-couple-1.jpg": 2,
    "group-pp-couple-2.jpg": 2,
    "group-pp-couple-3.jpg": 2,
    "group-pp-couple-overlap.jpg": 2,
    "pet-cat-black-white.jpg": 0,
    "scene-beach-sand.jpg": 0,
}
# "1 face" photos where a person sees the face but a small detector is not expected to: face hidden by hair,
# upside down, or a 112x112 crop with no margin around the face.
HARD_SINGLE_FACES = {"face-pp-woman-hair-covered.jpg", "face-rotated-r180.jpg", "face-tom-hanks-aligned.png"}


def _photos(config) -> list[Path]:
    folder = Path(config.getoption("testdata")) / "photos"
    return fc.readable_photos(folder, ("face-*", "group-*", "pet-cat-black-white.jpg", "scene-beach-sand.jpg"))


def pytest_generate_tests(metafunc):
    if "real_photo" in metafunc.fixturenames:
        photos = _photos(metafunc.config)
        metafunc.parametrize("real_photo", photos, ids=[p.name for p in photos])
    if "group_photo" in metafunc.fixturenames:  # the second export gives the same faces: a sample is enough
        photos = [p for p in _photos(metafunc.config) if p.name.startswith("group-")][::2]
        metafunc.parametrize("group_photo", photos, ids=[p.name for p in photos])


def test_scrfd_500m_dynamic_input(server_real, models, real_photo):
    # Embeddings on the group photos (the single faces get theirs in the MobileFaceNet test below).
    rec = models["gen_s_rec"] if real_photo.name.startswith("group-") else None
    want = fc.check_pack(server_real.port, "real SCRFD-500M (dynamic input)", "buffalo_s", models["scrfd_det"], rec,
                         real_photo, real_photo.name, min_score=0.5)
    scores = np.array(want["focal_detection"]["scores"], np.float32)
    fc.FOUND[real_photo.name]["0.5"] = len(scores)
    fc.FOUND[real_photo.name]["0.7"] = int(np.count_nonzero(scores >= np.float32(0.7)))


def test_scrfd_500m_static_640_batched_outputs(server_real, models, group_photo):
    fc.check_pack(server_real.port, "real SCRFD-500M-bnkps (static 640, [1,N,C] outputs)", "buffalo_m",
                  models["scrfd640_det"], models["gen_l_rec"], group_photo, group_photo.name, min_score=0.5)


def test_ten_output_detector(server_real, models, group_photo):
    fc.check_pack(server_real.port, "variant: 10-output det, 512x384", "antelopev2", models["five10_det"], None,
                  group_photo, group_photo.name, keypoints=False)


def _count(port: int, path: Path, min_score: float) -> int:
    if min_score == 0.5 and path.name in fc.FOUND:  # already answered by focal in test_scrfd_500m_dynamic_input
        return fc.FOUND[path.name]["0.5"]
    r = predict(port, fc.entries("buffalo_s", min_score, recognition=False), image=path.read_bytes(), timeout=120)
    assert r.status == 200, r.describe()
    return len(r.json()["facial-recognition"]["scores"])


def test_faces_found_match_sources(server_real, options):
    folder = options["testdata"] / "photos"
    for name, expected in EXPECTED_FACES.items():
        assert _count(server_real.port, folder / name, 0.5) == expected, name
    singles = [p for p in fc.readable_photos(folder, ("face-*",)) if p.name not in HARD_SINGLE_FACES]
    missed = [p.name for p in singles if _count(server_real.port, p, 0.5) != 1]
    assert not missed, f"single-face photos without exactly one face at minScore 0.5: {missed}"


def test_real_recognizer_separates_identities(server_real, models, options):
    """SCRFD + MobileFaceNet (128-d) through focal: embeddings match the reference, and photos of the same person
    are closer than photos of different people."""
    folder = options["testdata"]
    rows = list(csv.DictReader(open(folder / "identities.csv", encoding="utf-8")))
    singles = [(folder / r["file"], r["identity"]) for r in rows
               if Path(r["file"]).name.startswith("face-") and Path(r["file"]).name not in HARD_SINGLE_FACES
               and not r["where_in_image"]]
    embeddings = []
    for path, identity in singles:
        want = fc.check_pack(server_real.port, "real SCRFD + real MobileFaceNet", "buffalo_l", models["scrfd_det"],
                             models["mbf_rec"], path, path.name, min_score=0.5, detection_request=False)
        if len(want["scores"]) != 1:
            continue
        emb = np.array(json.loads(want["focal_recognition"][0]["embedding"]), np.float32)
        assert emb.shape == (128,)
        embeddings.append((identity, emb))
    same, diff = [], []
    for (ia, a), (ib, b) in itertools.combinations(embeddings, 2):
        (same if ia == ib else diff).append(fc.cosine(a, b))
    fc.SUMMARY["identity"]["same_mean"].append(float(np.mean(same)))
    fc.SUMMARY["identity"]["diff_mean"].append(float(np.mean(diff)))
    fc.SUMMARY["identity"]["pairs"].append(len(same) + len(diff))
    assert np.mean(same) > np.mean(diff) + 0.2, (np.mean(same), np.mean(diff))
