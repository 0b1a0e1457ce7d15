# SPDX-License-Identifier: AGPL-3.0-or-later
"""Shared pieces of the faces fidelity suite: photo lists, test-only model builders, the comparison with the Python
reference (tools/reference/faces.py) and the figures printed at the end (test_zz_report.py)."""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

from focal_client import predict
from reference import faces as ref

# Per group of checks: lists of figures, summarised by test_zz_report.py.
SUMMARY: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
# Faces found per photo by the real detectors (reported next to SOURCES.md's counts).
FOUND: dict[str, dict[str, int]] = defaultdict(dict)

SCORE_TOL = 1e-4
LANDMARK_TOL = 0.05
MIN_COSINE = 0.999


@functools.lru_cache(maxsize=None)
def _readable(path: Path) -> bool:
    try:
        with Image.open(path) as img:
            img.load()
        return True
    except Exception:  # formats this Pillow build cannot read (AVIF, HEIC, DNG, sidecars)
        return False


def readable_photos(folder: Path, patterns: tuple[str, ...]) -> list[Path]:
    return [path for pattern in patterns for path in sorted(folder.glob(pattern)) if _readable(path)]


def entries(pack: str, min_score: float | None = 0.7, recognition: bool = True) -> dict:
    det: dict = {"modelName": pack}
    if min_score is not None:
        det["options"] = {"minScore": min_score}
    task = {"detection": det}
    if recognition:
        task["recognition"] = {"modelName": pack}
    return {"facial-recognition": task}


def jpeg_bytes(rgb: np.ndarray, quality: int = 95) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def png_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def decode_bytes_bgr(data: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(data))
    img.load()
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img)[:, :, ::-1])


# ---- reference objects (one per model file) ------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def detector(path: str) -> ref.Detector:
    return ref.Detector(Path(path))


@functools.lru_cache(maxsize=None)
def recognizer(path: str, max_batch: int | None = None) -> ref.Recognizer:
    return ref.Recognizer(Path(path), max_batch=max_batch)


@functools.lru_cache(maxsize=256)
def _decoded(path: str) -> np.ndarray:
    return ref.decode_bgr(Path(path))


def image_bgr(source) -> np.ndarray:
    return _decoded(str(source)) if isinstance(source, (str, Path)) else decode_bytes_bgr(source)


def image_data(source) -> bytes:
    return Path(source).read_bytes() if isinstance(source, (str, Path)) else source


# ---- comparisons ----------------------------------------------------------------------------------------------------


def _box_check(group: str, label: str, got: np.ndarray, want: np.ndarray, raw: np.ndarray) -> None:
    diff = np.abs(got - want)
    on_half = np.abs(raw - np.floor(raw) - 0.5) == 0
    SUMMARY[group]["box_maxdiff"].append(float(diff.max()) if diff.size else 0.0)
    SUMMARY[group]["box_half_diffs"].append(int(np.count_nonzero(diff > 0)))
    bad = (diff > 0) & ~(on_half & (diff <= 1))
    assert not bad.any(), f"{label}: boxes differ beyond rounding: focal {got[bad.any(axis=1)]} ref {want[bad.any(axis=1)]}"


def compare_detection(group: str, label: str, want: dict, body: dict, keypoints: bool = True) -> None:
    """focal's detection-only response against the reference's detect() result."""
    got = body["facial-recognition"]
    n = len(want["scores"])
    SUMMARY[group]["images"].append(1)
    SUMMARY[group]["faces"].append(n)
    same_count = len(got["scores"]) == n
    SUMMARY[group]["candidate_mismatch"].append(0 if same_count else 1)
    assert same_count, f"{label}: focal found {len(got['scores'])} faces, the reference {n}"
    if n == 0:
        assert got == {"boxes": [], "scores": [], "landmarks": []}, got
        return
    _box_check(group, label, np.array(got["boxes"], np.float32), want["boxes"], want["boxes_raw"])
    sdiff = np.abs(np.array(got["scores"], np.float32) - want["scores"])
    SUMMARY[group]["score_maxdiff"].append(float(sdiff.max()))
    assert sdiff.max() <= SCORE_TOL, f"{label}: score diff {sdiff.max()}"
    if keypoints:
        lm = np.array(got["landmarks"], np.float32).reshape(-1, 5, 2)
        ldiff = np.abs(lm - want["landmarks"])
        SUMMARY[group]["landmark_maxdiff"].append(float(ldiff.max()))
        assert ldiff.max() <= LANDMARK_TOL, f"{label}: landmark diff {ldiff.max()}"
    else:
        assert got["landmarks"] == [], got["landmarks"]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def compare_recognition(group: str, label: str, want: dict, embeddings: np.ndarray, body: dict) -> None:
    """focal's full response against the reference's detections and embeddings."""
    got = body["facial-recognition"]
    assert isinstance(got, list), got
    n = len(want["scores"])
    assert len(got) == n, f"{label}: focal returned {len(got)} faces, the reference {n}"
    if n == 0:
        return
    boxes = np.array([[f["boundingBox"][k] for k in ("x1", "y1", "x2", "y2")] for f in got], np.float32)
    _box_check(group, label, boxes, want["boxes"], want["boxes_raw"])
    for f in got:
        assert all(float(v).is_integer() for v in f["boundingBox"].values()), f["boundingBox"]
        assert isinstance(f["embedding"], str), "embedding must be JSON-in-JSON"
    scores = np.array([f["score"] for f in got], np.float32)
    assert np.all(np.diff(scores) <= 0), f"{label}: faces not in descending score order"
    assert np.abs(scores - want["scores"]).max() <= SCORE_TOL
    cosines = []
    for f, e in zip(got, embeddings):
        emb = np.array(json.loads(f["embedding"]), np.float32)
        assert emb.shape == e.shape, (emb.shape, e.shape)
        cosines.append(cosine(emb, e))
    SUMMARY[group]["cosine"].append(min(cosines))
    SUMMARY[group]["emb_maxdiff"].append(
        max(float(np.abs(np.array(json.loads(f["embedding"]), np.float32) - e).max()) for f, e in zip(got, embeddings))
    )
    assert min(cosines) >= MIN_COSINE, f"{label}: embedding cosine {min(cosines)}"


_DETECTIONS: dict[tuple, dict] = {}
_POOL = ThreadPoolExecutor(max_workers=2)


def reference_detection(det_path: Path, source, min_score: float) -> dict:
    """The reference's detections, computed once per (detector, image, minScore) for the whole session."""
    key = (str(det_path), str(source) if isinstance(source, (str, Path)) else hash(source), min_score)
    if key not in _DETECTIONS:
        _DETECTIONS[key] = detector(str(det_path)).detect(image_bgr(source), min_score)
    return _DETECTIONS[key]


def check_pack(port: int, group: str, pack: str, det_path: Path, rec_path: Path | None, source, label: str,
               min_score: float = 0.7, keypoints: bool = True, max_batch: int | None = None,
               detection_request: bool = True) -> dict:
    """The detection-only request and (when rec_path is given) the full request against the reference. Returns the
    reference's detections, with focal's responses under "focal_detection" / "focal_recognition"."""
    img = image_bgr(source)
    data = image_data(source)
    # focal answers while the reference computes (both mostly release the GIL).
    det_future = (_POOL.submit(predict, port, entries(pack, min_score, recognition=False), image=data, timeout=120)
                  if detection_request else None)
    rec_future = (_POOL.submit(predict, port, entries(pack, min_score), image=data, timeout=120)
                  if rec_path is not None else None)
    want = dict(reference_detection(det_path, source, min_score))
    embeddings = []
    if rec_path is not None and len(want["scores"]):
        embeddings = recognizer(str(rec_path), max_batch).embed(img, want["landmarks"])
    if det_future is not None:
        r = det_future.result()
        assert r.status == 200, r.describe()
        body = r.json()
        assert (body["imageWidth"], body["imageHeight"]) == (img.shape[1], img.shape[0])
        compare_detection(group, label, want, body, keypoints)
        want["focal_detection"] = body["facial-recognition"]
    if rec_future is not None:
        r = rec_future.result()
        assert r.status == 200, r.describe()
        body = r.json()
        assert (body["imageWidth"], body["imageHeight"]) == (img.shape[1], img.shape[0])
        if not detection_request:
            SUMMARY[group]["images"].append(1)
            SUMMARY[group]["faces"].append(len(want["scores"]))
            SUMMARY[group]["candidate_mismatch"].append(0 if len(body["facial-recognition"]) == len(want["scores"]) else 1)
        compare_recognition(group, label, want, np.asarray(embeddings), body)
        want["focal_recognition"] = body["facial-recognition"]
    return want


# ---- test-only models -----------------------------------------------------------------------------------------------


def place(cache: Path, pack: str, kind: str, model: Path) -> None:
    """Puts a model file into an Immich-layout cache: <cache>/facial-recognition/<pack>/<kind>/model.onnx."""
    dst = cache / "facial-recognition" / pack / kind / "model.onnx"
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        os.symlink(model.resolve(), dst)
    except OSError:
        shutil.copyfile(model, dst)


def mxnet_style_recognizer(src: Path, dst: Path) -> Path:
    """An ArcFace graph as the MXNet converter leaves it: the normalisation is inside the graph, in nodes named
    _minus0 (Sub 127.5) and _mul0 (Mul 1/127.5) at the start, so the pipeline must feed raw pixels."""
    model = onnx.load(str(src))
    g = model.graph
    old_input = g.input[0]
    raw = helper.make_tensor_value_info("data", TensorProto.FLOAT, None)
    raw.type.CopyFrom(old_input.type)
    g.initializer.extend(
        [
            numpy_helper.from_array(np.array(127.5, np.float32), "mx_mean"),
            numpy_helper.from_array(np.array(1 / 127.5, np.float32), "mx_scale"),
        ]
    )
    nodes = [
        helper.make_node("Sub", ["data", "mx_mean"], ["mx_centred"], name="_minus0"),
        helper.make_node("Mul", ["mx_centred", "mx_scale"], [old_input.name], name="_mul0"),
    ]
    existing = list(g.node)
    del g.node[:]
    g.node.extend(nodes + existing)
    del g.input[:]
    g.input.extend([raw])
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return dst


def fixed_batch_recognizer(src: Path, dst: Path, batch: int) -> Path:
    """The recognizer with its dynamic batch dimension fixed to `batch` (like RKNN-era exports): focal must feed
    exactly that many crops per Run, padding the last one."""
    model = onnx.load(str(src))
    for value in (model.graph.input[0], model.graph.output[0]):
        dim = value.type.tensor_type.shape.dim[0]
        dim.Clear()
        dim.dim_value = batch
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return dst


def five_stride_detector(dst: Path, keypoints: bool, width: int = 512, height: int = 384, seed: int = 9) -> Path:
    """A small SCRFD-signature detector with 5 strides (8..128) and 1 anchor: 15 outputs (10 without keypoints),
    static input [1,3,height,width], outputs [cells, C] in the score/box/keypoint order insightface reads.
    Each level pools the image at its stride and applies fixed random 1x1 convolutions, so scores and boxes depend
    on the picture."""
    rng = np.random.default_rng(seed)
    strides = [8, 16, 32, 64, 128]
    nodes, inits, outs = [], [], {"score": [], "bbox": [], "kps": []}

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, np.float32), name))
        return name

    for s in strides:
        h, w = height // s, width // s
        pooled = f"pool{s}"
        nodes.append(helper.make_node("AveragePool", ["input.1"], [pooled], kernel_shape=[s, s], strides=[s, s]))
        heads = [("score", 1), ("bbox", 4)] + ([("kps", 10)] if keypoints else [])
        for kind, c in heads:
            if kind == "score":  # brighter regions score higher; the black padding never passes a threshold
                weights, bias = np.abs(rng.normal(0, 2.0, (c, 3, 1, 1))) + 0.5, rng.normal(-4.5, 0.3, (c,))
            else:
                weights, bias = rng.normal(0, 1.0, (c, 3, 1, 1)), rng.normal(0, 0.5, (c,))
            wname = const(f"w_{kind}{s}", weights)
            bname = const(f"b_{kind}{s}", bias)
            conv = f"{kind}{s}_conv"
            nodes.append(helper.make_node("Conv", [pooled, wname, bname], [conv]))
            if kind == "score":
                act = f"{kind}{s}_act"
                nodes.append(helper.make_node("Sigmoid", [conv], [act]))
            elif kind == "bbox":
                act0, act = f"{kind}{s}_abs", f"{kind}{s}_act"
                nodes.append(helper.make_node("Abs", [conv], [act0]))
                nodes.append(helper.make_node("Add", [act0, const(f"half{s}", 0.75)], [act]))
            else:
                act = conv
            tr = f"{kind}{s}_t"
            nodes.append(helper.make_node("Transpose", [act], [tr], perm=[2, 3, 0, 1]))
            shape = f"shape_{kind}{s}"
            inits.append(numpy_helper.from_array(np.array([-1, c], np.int64), shape))
            out = f"{kind}_{s}"
            nodes.append(helper.make_node("Reshape", [tr, shape], [out]))
            outs[kind].append(helper.make_tensor_value_info(out, TensorProto.FLOAT, [h * w, c]))
    graph = helper.make_graph(
        nodes,
        "five-stride-scrfd",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, height, width])],
        outs["score"] + outs["bbox"] + outs["kps"],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return dst
