# SPDX-License-Identifier: AGPL-3.0-or-later
"""Deterministic synthetic "photos" used to calibrate the random face models.

Random weights give arbitrary score/embedding ranges; the generator measures them on these images and folds a
scale/offset into the graph. The images only need photo-like statistics (smooth regions, edges, a few face-like
blobs, sensor noise), and they must be the same on every machine, so they are drawn with numpy + OpenCV only.
"""

from __future__ import annotations

import cv2
import numpy as np


def synthetic_photo(rng: np.random.Generator, h: int, w: int, faces: int = 2) -> np.ndarray:
    """uint8 RGB [h, w, 3]."""
    coarse = rng.uniform(30, 225, size=(rng.integers(3, 7), rng.integers(3, 7), 3)).astype(np.float32)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(int(rng.integers(3, 9))):  # objects with hard edges
        color = tuple(float(c) for c in rng.uniform(0, 255, 3))
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        if rng.random() < 0.5:
            ax = (int(rng.integers(w // 30 + 1, w // 4)), int(rng.integers(h // 30 + 1, h // 4)))
            cv2.ellipse(img, (cx, cy), ax, float(rng.uniform(0, 180)), 0, 360, color, -1)
        else:
            dx, dy = int(rng.integers(w // 20 + 1, w // 3)), int(rng.integers(h // 20 + 1, h // 3))
            cv2.rectangle(img, (cx, cy), (cx + dx, cy + dy), color, -1)
    for _ in range(faces):
        r = int(rng.integers(max(8, min(h, w) // 20), max(10, min(h, w) // 5)))
        face_blob(img, int(rng.integers(r, max(r + 1, w - r))), int(rng.integers(r, max(r + 1, h - r))), r, rng)
    img = cv2.GaussianBlur(img, (3, 3), 0.8)
    img += rng.normal(0, 4.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def face_blob(img: np.ndarray, cx: int, cy: int, r: int, rng: np.random.Generator) -> None:
    """A crude face: skin-toned ellipse, darker hair cap, two eyes, nose shadow, mouth."""
    skin = np.array([rng.uniform(150, 240), rng.uniform(100, 190), rng.uniform(70, 160)])
    cv2.ellipse(img, (cx, cy - r // 3), (int(r * 0.9), int(r * 0.8)), 0, 180, 360, tuple(float(c) for c in skin * 0.3), -1)
    cv2.ellipse(img, (cx, cy), (int(r * 0.75), r), 0, 0, 360, tuple(float(c) for c in skin), -1)
    eye = max(1, r // 8)
    for sx in (-1, 1):
        cv2.circle(img, (cx + sx * r // 3, cy - r // 5), eye, (30.0, 25.0, 20.0), -1)
    cv2.line(img, (cx, cy), (cx, cy + r // 4), tuple(float(c) for c in skin * 0.7), max(1, r // 12))
    cv2.ellipse(img, (cx, cy + r // 2), (r // 3, max(1, r // 10)), 0, 0, 360, (150.0, 60.0, 60.0), -1)


def face_crop(rng: np.random.Generator, size: int = 112) -> np.ndarray:
    """An aligned-looking 112x112 face crop (face centred, eyes near the ArcFace template height)."""
    img = synthetic_photo(rng, size, size, faces=0).astype(np.float32)
    face_blob(img, size // 2 + int(rng.integers(-4, 5)), size // 2 + 6 + int(rng.integers(-4, 5)),
              int(size * rng.uniform(0.36, 0.46)), rng)
    img += rng.normal(0, 3.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def letterbox_blob(img: np.ndarray, size: int = 640) -> np.ndarray:
    """InsightFace detector preprocessing, as Immich runs it: fit, paste top-left on black, (x - 127.5) / 128, NCHW."""
    h, w = img.shape[:2]
    if h / w > 1:
        nh, nw = size, int(size / (h / w))
    else:
        nw, nh = size, int(size * (h / w))
    canvas = np.zeros((size, size, 3), np.float32)
    canvas[:nh, :nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return ((canvas - 127.5) / 128.0).transpose(2, 0, 1)[None].astype(np.float32)


def detector_set(seed: int, n: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = [(480, 640), (640, 480), (427, 640), (640, 640), (360, 640), (512, 384)]
    return [letterbox_blob(synthetic_photo(rng, *shapes[i % len(shapes)], faces=int(rng.integers(1, 4)))) for i in range(n)]


def recognizer_set(seed: int, n: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    crops = np.stack([face_crop(rng) for _ in range(n)]).astype(np.float32)
    return ((crops - 127.5) / 127.5).transpose(0, 3, 1, 2).copy()
