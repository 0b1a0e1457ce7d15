# SPDX-License-Identifier: AGPL-3.0-or-later
"""People from real face networks: SCRFD-500M + the 128-d MobileFaceNet (shared/testdata/models) served by
focal-ml as the buffalo_s pack, the identity photos of shared/testdata/identities.csv imported by `focal`,
detected, recognised and clustered; pairwise precision/recall of People against the identities, for the
default settings and a small grid of maxDistance / minFaces (re-clustered with facialRecognition "All").

The table is printed (pytest -s, or the log of a failure) and recorded in docs/BENCHMARKS.md.
"""

from __future__ import annotations

import csv
import itertools
import shutil
from pathlib import Path

import pytest

from harness import db_rows, free_port

PACK = "buffalo_s"
GRID = [(3, 0.5), (3, 0.6), (3, 0.7), (2, 0.4), (2, 0.5), (2, 0.6), (2, 0.7), (1, 0.3), (1, 0.5), (1, 0.6)]
# Positions in identities.csv that name one face unambiguously; others ("behind, right", "leftmost woman")
# are left out of the evaluation rather than guessed.
SIDES = {"left": 0, "right": 1, "left (after applying orientation)": 0, "right (after applying orientation)": 1}


def labelled_photos(testdata: Path) -> list[tuple[str, str, str]]:
    with open(testdata / "identities.csv", newline="") as f:
        return [(row["file"], row["identity"], row["where_in_image"]) for row in csv.DictReader(f)]


def face_identities(data_dir: Path, labels: list[tuple[str, str, str]]) -> dict[int, str]:
    """Face id → identity: the largest face of a one-person photo, the two largest faces of a left/right pair
    ordered by their centres."""
    faces: dict[str, list[tuple[int, int, int]]] = {}
    for name, face_id, x1, y1, x2, y2 in db_rows(
        data_dir,
        "SELECT a.original_file_name, f.id, f.x1, f.y1, f.x2, f.y2 FROM asset_face f "
        "JOIN asset a ON a.id = f.asset_id WHERE f.deleted_at IS NULL",
    ):
        faces.setdefault(name, []).append((face_id, (x2 - x1) * (y2 - y1), (x1 + x2) // 2))
    out: dict[int, str] = {}
    for file, identity, where in labels:
        found = sorted(faces.get(Path(file).name, []), key=lambda f: -f[1])
        if not found:
            continue
        if where == "" or where.startswith("mirror of"):
            out[found[0][0]] = identity
        elif where in SIDES and len(found) >= 2:
            pair = sorted(found[:2], key=lambda f: f[2])
            out[pair[SIDES[where]][0]] = identity
    return out


def pairwise(data_dir: Path, identity_of: dict[int, str]) -> dict:
    person = dict(db_rows(data_dir, "SELECT id, person_id FROM asset_face WHERE deleted_at IS NULL"))
    tp = fp = fn = 0
    for a, b in itertools.combinations(sorted(identity_of), 2):
        same_identity = identity_of[a] == identity_of[b]
        same_person = person.get(a) is not None and person.get(a) == person.get(b)
        tp += same_identity and same_person
        fp += same_person and not same_identity
        fn += same_identity and not same_person
    people = {person[f] for f in identity_of if person.get(f) is not None}
    return {
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "people": len(people),
        "unassigned": sum(person.get(f) is None for f in identity_of),
    }


@pytest.fixture(scope="module")
def clustered(stack, testdata, tmp_path_factory):
    labels = labelled_photos(testdata)
    folder = tmp_path_factory.mktemp("identities")
    for file in sorted({file for file, _, _ in labels}):
        shutil.copy(testdata / file, folder / Path(file).name)
    cache = tmp_path_factory.mktemp("face-cache")
    for kind, model in (("detection", "scrfd-500m.onnx"), ("recognition", "mobilefacenet-128d.onnx")):
        (cache / "facial-recognition" / PACK / kind).mkdir(parents=True)
        shutil.copy(testdata / "models" / model, cache / "facial-recognition" / PACK / kind / "model.onnx")
    ml_port = free_port()
    ml = stack.start_ml(ml_port, "focal-ml-faces", cache=cache)
    data_dir = tmp_path_factory.mktemp("data-faces")
    env = stack.focal_env(data_dir, ml_port)
    try:
        stack.cli(env, "import", str(tmp_path_factory.mktemp("empty")))  # creates the database
        for key, value in (
            ("machineLearning.clip.enabled", "false"),
            ("machineLearning.duplicateDetection.enabled", "false"),
            ("machineLearning.ocr.enabled", "false"),
            ("machineLearning.facialRecognition.modelName", PACK),
        ):
            stack.cli(env, "config", "set", key, value)
        run = stack.cli(env, "import", str(folder), "--wait", timeout=600)
        assert "0 failed" in run.stdout, run.stdout

        def cluster(min_faces: int, max_distance: float) -> dict:
            stack.cli(env, "config", "set", "machineLearning.facialRecognition.minFaces", str(min_faces))
            stack.cli(env, "config", "set", "machineLearning.facialRecognition.maxDistance", str(max_distance))
            stack.cli(env, "jobs", "start", "facialRecognition", "--all")
            stack.cli(env, "jobs", "run", timeout=300)
            return pairwise(data_dir, identity_of)

        identity_of = face_identities(data_dir, labels)
        defaults = pairwise(data_dir, identity_of)  # as imported: minFaces 3, maxDistance 0.5
        grid = {(m, d): cluster(m, d) for m, d in GRID}
    finally:
        ml.stop()
    yield {"data_dir": data_dir, "identity_of": identity_of, "defaults": defaults, "grid": grid}


def test_faces_are_128_d_embeddings_of_the_configured_model(clustered):
    rows = db_rows(clustered["data_dir"], "SELECT model, dim, length(embedding), count(*) FROM face_search "
                                          "GROUP BY model, dim")
    assert len(rows) == 1 and rows[0][:3] == (PACK, 128, 512), rows
    assert rows[0][3] >= len(clustered["identity_of"])


def test_people_match_the_identities(clustered):
    identities = len(set(clustered["identity_of"].values()))
    lines = [f"{len(clustered['identity_of'])} labelled faces, {identities} identities",
             "minFaces maxDistance precision recall people unassigned"]
    rows = [("defaults", clustered["defaults"])] + [(f"{m} {d}", q) for (m, d), q in clustered["grid"].items()]
    for name, q in rows:
        lines.append(f"{name:>20} {q['precision']:.3f} {q['recall']:.3f} {q['people']} {q['unassigned']}")
    print("\n" + "\n".join(lines))
    defaults = clustered["defaults"]
    # The goal for this small recognizer at the default settings (measured: 1.000 / 0.868).
    assert defaults["precision"] >= 0.95 and defaults["recall"] >= 0.80, "\n".join(lines)
    # Re-clustering with the same settings as the import gives the same People (the job is deterministic).
    assert clustered["grid"][(3, 0.5)] == defaults, "\n".join(lines)
