# SPDX-License-Identifier: AGPL-3.0-or-later
"""Face detection (SCRFD) and recognition (ArcFace) the way the reference pipeline does it.

Written with OpenCV (resize, warpAffine, blobFromImage), numpy and onnxruntime:

- decode with Pillow (no EXIF rotation), convert to RGB, then to BGR for the OpenCV steps;
- detection: letterbox to the detector's input size (640x640 unless the graph is static), cv2 INTER_LINEAR resize
  pasted top-left on black, blob (x - 127.5) / 128 with BGR->RGB swap, decode every stride (anchor centres
  without offset, distances times the stride), keep score >= minScore, divide by det_scale, sort by score (ties
  in anchor order, see `descending`), greedy NMS with the "+1" area convention at IoU 0.4, boxes rounded
  half-to-even (not clipped);
- recognition: least-squares similarity (Umeyama) from the 5 landmarks to the ArcFace 112x112 template,
  cv2.warpAffine (bilinear, constant 0 border), blob (x - mean) / std with BGR->RGB swap, mean/std 127.5 unless the
  graph looks MXNet-converted (then 0 and 1), one Run for all faces (or chunks for a static/limited batch).

    python -m reference.faces --det DET.onnx --rec REC.onnx [--min-score 0.7] IMAGE... > out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from PIL import Image

ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)
NMS_THRESHOLD = 0.4
DEFAULT_INPUT_SIZE = (640, 640)  # (width, height) used when the graph's H and W are dynamic


def decode_bgr(path: Path) -> np.ndarray:
    """Pillow decode, RGB conversion (no EXIF rotation), then BGR for the OpenCV steps, as Immich does."""
    img = Image.open(path)
    img.load()
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img)[:, :, ::-1])


def _session(path: Path, threads: int = 2) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def letterbox(img: np.ndarray, input_size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio so the image fits input_size (w, h), paste top-left on black."""
    in_w, in_h = input_size
    im_ratio = float(img.shape[0]) / img.shape[1]
    model_ratio = float(in_h) / in_w
    if im_ratio > model_ratio:
        new_h = in_h
        new_w = int(new_h / im_ratio)
    else:
        new_w = in_w
        new_h = int(new_w * im_ratio)
    det_scale = float(new_h) / img.shape[0]
    resized = cv2.resize(img, (new_w, new_h))  # INTER_LINEAR, no antialiasing, also upscales
    canvas = np.zeros((in_h, in_w, 3), dtype=np.uint8)
    canvas[:new_h, :new_w, :] = resized
    return canvas, det_scale


def descending(scores: np.ndarray) -> np.ndarray:
    """Indices by descending score. Equal scores keep anchor order (stride by stride, row-major, anchor by anchor).
    Upstream sorts with numpy argsort()[::-1], an unstable sort whose tie order depends on the CPU's SIMD sort, so
    a deterministic rule is the only reproducible one. Ties matter when identical scores overlap, e.g. flat image
    regions with a low minScore."""
    return np.argsort(-scores, kind="stable")


def nms(dets: np.ndarray, threshold: float = NMS_THRESHOLD) -> list[int]:
    """Greedy NMS over rows (x1, y1, x2, y2, score), "+1" area convention, keep while IoU <= threshold."""
    x1, y1, x2, y2, scores = dets[:, 0], dets[:, 1], dets[:, 2], dets[:, 3], dets[:, 4]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = descending(scores)
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        w = np.maximum(0.0, xx2 - xx1 + 1)
        h = np.maximum(0.0, yy2 - yy1 + 1)
        inter = w * h
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[np.where(ovr <= threshold)[0] + 1]
    return keep


class Detector:
    def __init__(self, model_path: Path, threads: int = 2):
        self.session = _session(model_path, threads)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        h, w = inp.shape[2], inp.shape[3]
        self.input_size = (w, h) if isinstance(h, int) and isinstance(w, int) else DEFAULT_INPUT_SIZE
        n = len(self.session.get_outputs())
        if n in (6, 9):
            self.strides, self.anchors = [8, 16, 32], 2
        elif n in (10, 15):
            self.strides, self.anchors = [8, 16, 32, 64, 128], 1
        else:
            raise ValueError(f"unsupported detector with {n} outputs")
        self.use_kps = n in (9, 15)

    def blob(self, img: np.ndarray) -> tuple[np.ndarray, float]:
        canvas, det_scale = letterbox(img, self.input_size)
        blob = cv2.dnn.blobFromImage(canvas, 1.0 / 128.0, self.input_size, (127.5, 127.5, 127.5), swapRB=True)
        return blob, det_scale

    def run(self, blob: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {self.input_name: blob})

    def decode(self, outs: list[np.ndarray], det_scale: float, min_score: float) -> dict:
        in_w, in_h = self.input_size
        fmc = len(self.strides)
        scores_l, boxes_l, kps_l = [], [], []
        for idx, stride in enumerate(self.strides):
            scores = outs[idx].reshape(-1)
            dist = outs[idx + fmc].reshape(-1, 4) * stride
            gh, gw = in_h // stride, in_w // stride
            centres = np.stack(np.mgrid[:gh, :gw][::-1], axis=-1).astype(np.float32)
            centres = (centres * stride).reshape(-1, 2)
            centres = np.repeat(centres, self.anchors, axis=0)  # each centre once per anchor, consecutively
            pos = np.where(scores >= min_score)[0]
            boxes = np.stack(
                [centres[:, 0] - dist[:, 0], centres[:, 1] - dist[:, 1], centres[:, 0] + dist[:, 2], centres[:, 1] + dist[:, 3]],
                axis=-1,
            )
            scores_l.append(scores[pos])
            boxes_l.append(boxes[pos])
            if self.use_kps:
                kd = outs[idx + 2 * fmc].reshape(-1, 10) * stride
                kps = kd + np.tile(centres, (1, 5))
                kps_l.append(kps[pos])
        scores = np.concatenate(scores_l).astype(np.float32)
        boxes = np.concatenate(boxes_l).astype(np.float32) / det_scale
        order = descending(scores)
        pre = np.hstack((boxes, scores[:, None])).astype(np.float32, copy=False)[order]
        keep = nms(pre)
        det = pre[keep]
        if self.use_kps:
            kps = (np.concatenate(kps_l).astype(np.float32) / det_scale)[order][keep].reshape(-1, 5, 2)
        else:
            kps = np.zeros((len(keep), 5, 2), np.float32)
        return {
            "boxes": det[:, :4].round(),
            "boxes_raw": det[:, :4],
            "scores": det[:, 4],
            "landmarks": kps,
            "candidates": int(scores.shape[0]),
        }

    def detect(self, img: np.ndarray, min_score: float = 0.7) -> dict:
        blob, det_scale = self.blob(img)
        return self.decode(self.run(blob), det_scale, min_score)


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation) mapping src to dst (Umeyama 1991).
    Returns the 3x3 homogeneous matrix, NaN when src is degenerate."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    n, dim = src.shape
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_d, dst_d = src - src_mean, dst - dst_mean
    a = dst_d.T @ src_d / n
    d = np.ones(dim)
    if np.linalg.det(a) < 0:
        d[dim - 1] = -1
    t = np.eye(dim + 1)
    u, s, vt = np.linalg.svd(a)
    rank = np.linalg.matrix_rank(a)
    if rank == 0:
        return np.full((dim + 1, dim + 1), np.nan)
    if rank == dim - 1:
        if np.linalg.det(u) * np.linalg.det(vt) > 0:
            t[:dim, :dim] = u @ vt
        else:
            last = d[dim - 1]
            d[dim - 1] = -1
            t[:dim, :dim] = u @ np.diag(d) @ vt
            d[dim - 1] = last
    else:
        t[:dim, :dim] = u @ np.diag(d) @ vt
    scale = 1.0 / src_d.var(axis=0).sum() * (s @ d)
    t[:dim, dim] = dst_mean - scale * (t[:dim, :dim] @ src_mean.T)
    t[:dim, :dim] *= scale
    return t


def align(img: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 112x112 ArcFace crop: similarity to the template, bilinear warp with a black constant border."""
    m = umeyama(np.asarray(landmarks, np.float32).reshape(5, 2), ARCFACE_TEMPLATE)[:2, :]
    return cv2.warpAffine(img, m, (112, 112), borderValue=0.0)


def looks_mxnet(model_path: Path) -> bool:
    """InsightFace's MXNet test: among the first 8 graph nodes one name starts with Sub/_minus and one with Mul/_mul."""
    nodes = onnx.load(str(model_path), load_external_data=False).graph.node[:8]
    sub = any(n.name.startswith(("Sub", "_minus")) for n in nodes)
    mul = any(n.name.startswith(("Mul", "_mul")) for n in nodes)
    return sub and mul


class Recognizer:
    def __init__(self, model_path: Path, threads: int = 2, max_batch: int | None = None):
        self.session = _session(model_path, threads)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.static_batch = inp.shape[0] if isinstance(inp.shape[0], int) else None
        self.max_batch = max_batch
        if looks_mxnet(model_path):
            self.mean, self.std = 0.0, 1.0
        else:
            self.mean, self.std = 127.5, 127.5

    def blob(self, crops: list[np.ndarray]) -> np.ndarray:
        return cv2.dnn.blobFromImages(crops, 1.0 / self.std, (112, 112), (self.mean,) * 3, swapRB=True)

    def run(self, blob: np.ndarray) -> np.ndarray:
        chunk = self.static_batch or self.max_batch or blob.shape[0]
        outs = []
        for i in range(0, blob.shape[0], chunk):
            part = blob[i : i + chunk]
            pad = (self.static_batch or part.shape[0]) - part.shape[0]
            if pad:
                part = np.concatenate([part, np.zeros((pad, *part.shape[1:]), part.dtype)])
            outs.append(self.session.run(None, {self.input_name: part})[0][: blob[i : i + chunk].shape[0]])
        return np.concatenate(outs)

    def embed(self, img: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        crops = [align(img, lm) for lm in landmarks]
        return self.run(self.blob(crops))


def recognize(detector: Detector, recognizer: Recognizer, img: np.ndarray, min_score: float = 0.7) -> list[dict]:
    """The facial-recognition response entries, ordered by descending score."""
    faces = detector.detect(img, min_score)
    if faces["boxes"].shape[0] == 0:
        return []
    embeddings = recognizer.embed(img, faces["landmarks"])
    return [
        {
            "boundingBox": dict(zip(("x1", "y1", "x2", "y2"), (float(v) for v in box))),
            "embedding": emb.astype(np.float32),
            "score": float(score),
        }
        for box, emb, score in zip(faces["boxes"], embeddings, faces["scores"])
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--det", type=Path, required=True)
    parser.add_argument("--rec", type=Path, required=True)
    parser.add_argument("--min-score", type=float, default=0.7)
    parser.add_argument("images", type=Path, nargs="+")
    args = parser.parse_args(argv)
    detector, recognizer = Detector(args.det), Recognizer(args.rec)
    result = {}
    for path in args.images:
        img = decode_bgr(path)
        faces = recognize(detector, recognizer, img, args.min_score)
        for f in faces:
            f["embedding"] = f["embedding"].tolist()
        result[str(path)] = {"imageWidth": img.shape[1], "imageHeight": img.shape[0], "facial-recognition": faces}
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
