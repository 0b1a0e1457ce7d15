# SPDX-License-Identifier: AGPL-3.0-or-later
"""OCR (PP-OCR text detection + CTC recognition) the way the reference pipeline does it (Immich's OCR models on
RapidOCR 3.8.1, Pillow and OpenCV).

Written from the behavioural description, with RapidOCR's own DB post-processing and CTC decoder:

- decode with Pillow (no EXIF rotation), convert to RGB;
- detection: fewer than 32 px on a side finds nothing; resize so the shorter side is maxResolution (never
  upscaled), each side truncated then rounded half-to-even to a multiple of 32, with Pillow LANCZOS; RGB->BGR,
  (x - 0.5) / 127.5 (an upstream quirk the networks tolerate); RapidOCR DBPostProcess with threshold 0.3, box
  threshold minScore, 1000 candidates, unclip ratio 1.6, 2x2 dilation; reading order by rows 10 px apart, then x;
  only the boxes are reordered, not their scores (upstream quirk, kept);
- recognition: each box cropped from the RGB image by a perspective transform (Pillow BICUBIC), rotated 90 degrees
  counter-clockwise when h/w >= 1.5, converted to BGR; crops sorted by aspect ratio, batches of 6: height 48, width
  min(ceil(48 w/h), 48 * max(320/48, every w/h of the batch)) with OpenCV bilinear, (x/255 - 0.5)/0.5, zero padding
  on the right; greedy CTC decode with the character list from the ONNX metadata `character`; lines with a score
  strictly above minScore are kept; boxes normalised by the image size.

    python -m reference.ocr --det DET.onnx --rec REC.onnx [--min-score 0.5] [--max-resolution 736]
                            [--score-mode fast] [--min-rec-score 0.8] IMAGE... > out.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from PIL import Image
from rapidocr.ch_ppocr_det.utils import DBPostProcess
from rapidocr.ch_ppocr_rec.utils import CTCLabelDecode

REC_HEIGHT = 48
REC_MIN_WH = 320 / 48
LINE_GAP = 10  # px between the top-left y of two boxes that starts a new reading line


def decode_rgb(path: Path) -> Image.Image:
    img = Image.open(path)
    img.load()
    return img if img.mode == "RGB" else img.convert("RGB")


def _session(path: Path, threads: int = 2, arena: bool = True) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = threads
    options.enable_cpu_mem_arena = arena
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def detector_input(img: Image.Image, max_resolution: int) -> np.ndarray | None:
    w, h = img.size
    ratio = min(max_resolution / min(h, w), 1.0)
    rh = round(int(h * ratio) / 32) * 32
    rw = round(int(w * ratio) / 32) * 32
    if rh <= 0 or rw <= 0:
        return None
    resized = np.asarray(img.resize((rw, rh), Image.Resampling.LANCZOS))[:, :, ::-1].astype(np.float32)
    return ((resized - 0.5) / 127.5).transpose(2, 0, 1)[np.newaxis].astype(np.float32)


def reading_order(boxes: np.ndarray) -> np.ndarray:
    y = boxes[:, 0, 1]
    order = np.argsort(y, kind="stable")
    ys = y[order]
    line_ids = np.zeros(len(boxes), dtype=np.int64)
    for j in range(1, len(ys)):
        line_ids[j] = line_ids[j - 1] + (1 if ys[j] - ys[j - 1] >= LINE_GAP else 0)
    key = line_ids[order] * 1_000_000 + boxes[order][:, 0, 0]  # upstream indexes the line ids by the permutation
    return order[np.argsort(key, kind="stable")]


def detect(session, img: Image.Image, min_score: float, max_resolution: int, score_mode: str):
    w, h = img.size
    if w < 32 or h < 32:
        return np.zeros((0, 4, 2), np.float32), []
    x = detector_input(img, max_resolution)
    if x is None:
        return np.zeros((0, 4, 2), np.float32), []
    pred = session.run(None, {session.get_inputs()[0].name: x})[0]
    post = DBPostProcess(thresh=0.3, box_thresh=min_score, max_candidates=1000, unclip_ratio=1.6,
                         score_mode=score_mode, use_dilation=True)
    boxes, scores = post(pred, (h, w))
    if len(boxes) == 0:
        return np.zeros((0, 4, 2), np.float32), []
    return boxes[reading_order(boxes)], scores


def homography(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """The 3x3 map from the dst rectangle's corners to the src box, by SVD as upstream does, normalised so that
    H[2][2] = 1."""
    rows = []
    for (x, y), (u, v) in zip(dst, src):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.array(rows, dtype=np.float64))
    hm = vt[-1].reshape(3, 3)
    return hm / hm[2, 2]


def exact_coefficients(w: int, h: int, box: np.ndarray) -> tuple[float, ...]:
    """The same map in closed form (unit square to quadrilateral, scaled by the rectangle): exactly 1 and integral
    offsets for axis-aligned boxes, where the SVD is off by ~1e-13. Pillow samples such boxes at exact pixel
    positions and truncates, so that noise flips about half of a crop's pixels by one level, in a pattern set by the
    BLAS build rather than the image. focal computes exactly these expressions."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = (tuple(map(float, p)) for p in box)
    sx = x0 - x1 + x2 - x3
    sy = y0 - y1 + y2 - y3
    g = hh = 0.0
    if sx != 0.0 or sy != 0.0:
        dx1, dx2, dy1, dy2 = x1 - x2, x3 - x2, y1 - y2, y3 - y2
        den = dx1 * dy2 - dx2 * dy1
        g = (sx * dy2 - dx2 * sy) / den
        hh = (dx1 * sy - sx * dy1) / den
    a = x1 - x0 + g * x1
    b = x3 - x0 + hh * x3
    d = y1 - y0 + g * y1
    e = y3 - y0 + hh * y3
    return (a / w, b / h, x0, d / w, e / h, y0, g / w, hh / h)


def crop(img: Image.Image, box: np.ndarray, exact: bool = False) -> np.ndarray:
    w = int(max(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[2] - box[3])))
    h = int(max(np.linalg.norm(box[0] - box[3]), np.linalg.norm(box[1] - box[2])))
    if exact:
        coeffs = exact_coefficients(w, h, box)
    else:
        dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
        coeffs = tuple(homography(dst, box.astype(np.float64)).flatten()[:8])
    out = img.transform((w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)
    if h / w >= 1.5:
        out = out.rotate(90, expand=True)
    return np.asarray(out)[:, :, ::-1]


def rec_input(crop_bgr: np.ndarray, max_wh: float) -> np.ndarray:
    target = int(REC_HEIGHT * max_wh)
    h, w = crop_bgr.shape[:2]
    resized_w = min(int(math.ceil(REC_HEIGHT * w / float(h))), target)
    resized = cv2.resize(crop_bgr, (resized_w, REC_HEIGHT)).astype("float32").transpose((2, 0, 1)) / 255
    resized -= 0.5
    resized /= 0.5
    out = np.zeros((3, REC_HEIGHT, target), dtype=np.float32)
    out[:, :, :resized_w] = resized
    return out


def recognize(session, decoder, crops: list[np.ndarray], batch: int = 6, stable: bool = False) -> list[tuple[str, float]]:
    """Upstream sorts by aspect ratio with numpy's default argsort, which orders equal ratios differently by machine
    once there are more than 16 crops (the order decides each batch's padding, so scores move by ~1e-3); stable=True
    keeps equal ratios in box order, as focal does."""
    ratios = [c.shape[1] / float(c.shape[0]) for c in crops]
    indices = np.argsort(np.array(ratios), kind="stable" if stable else None)
    results: list[tuple[str, float]] = [("", 0.0)] * len(crops)
    name = session.get_inputs()[0].name
    for begin in range(0, len(crops), batch):
        members = indices[begin:begin + batch]
        max_wh = max([REC_MIN_WH] + [ratios[i] for i in members])
        x = np.stack([rec_input(crops[i], max_wh) for i in members]).astype(np.float32)
        preds = session.run(None, {name: x})[0]
        lines, _ = decoder(preds)
        for i, line in zip(members, lines):
            results[i] = line
    return results


def character_list(path: Path) -> list[str]:
    meta = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    return meta["character"].splitlines()


class Pipeline:
    def __init__(self, det: Path, rec: Path, threads: int = 2, exact_homography: bool = False, arena: bool = True):
        self.exact = exact_homography
        self.det = _session(det, threads, arena)
        self.rec = _session(rec, threads, arena)
        self.decoder = CTCLabelDecode(character=character_list(rec))

    def __call__(self, img: Image.Image, min_score=0.5, max_resolution=736, score_mode="fast", min_rec_score=0.8,
                 batch=6) -> dict:
        w, h = img.size
        boxes, box_scores = detect(self.det, img, min_score, max_resolution, score_mode)
        out = {"text": [], "box": [], "boxScore": [], "textScore": []}
        if len(boxes) == 0:
            return out
        lines = recognize(self.rec, self.decoder, [crop(img, b, self.exact) for b in boxes], batch, self.exact)
        for i, (text, score) in enumerate(lines):
            if score > min_rec_score:
                out["text"].append(text)
                out["box"].extend((boxes[i] / np.array([w, h], np.float32)).astype(np.float32).flatten().tolist())
                out["boxScore"].append(float(np.float32(box_scores[i])))
                out["textScore"].append(score)
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--det", type=Path, required=True)
    parser.add_argument("--rec", type=Path, required=True)
    parser.add_argument("--min-score", type=float, default=0.5)
    parser.add_argument("--max-resolution", type=int, default=736)
    parser.add_argument("--score-mode", default="fast", choices=("fast", "slow"))
    parser.add_argument("--min-rec-score", type=float, default=0.8)
    parser.add_argument("--exact-homography", action="store_true", help="solve the crop homography exactly and sort equal aspect ratios stably (focal's deterministic choices)")
    parser.add_argument("images", type=Path, nargs="+")
    args = parser.parse_args()
    pipeline = Pipeline(args.det, args.rec, exact_homography=args.exact_homography)
    result = {}
    for path in args.images:
        img = decode_rgb(path)
        result[str(path)] = {"ocr": pipeline(img, args.min_score, args.max_resolution, args.score_mode,
                                             args.min_rec_score), "imageWidth": img.size[0], "imageHeight": img.size[1]}
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
