# SPDX-License-Identifier: AGPL-3.0-or-later
"""focal's face preprocessing against OpenCV byte for byte (faces_dump helper vs opencv-python): INTER_LINEAR resize
on random sizes, the detector letterbox on the photos, warpAffine on general affine matrices, and the ArcFace crops
at the landmarks the real SCRFD detector finds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

import faces_common as fc
from reference import faces as ref


def dump(options, *args) -> np.ndarray:
    run = subprocess.run([str(options["faces_dump"]), *map(str, args)], capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr.decode()
    return np.frombuffer(run.stdout, np.uint8)


def pytest_generate_tests(metafunc):
    if "letterbox_photo" in metafunc.fixturenames:
        # Every size class: group photos (large, various ratios), portraits, tiny LFW crops, odd formats.
        folder = Path(metafunc.config.getoption("testdata")) / "photos"
        photos = fc.readable_photos(folder, ("group-*", "face-obama-1.jpg", "face-biden-1.jpg", "face-nathalie-baye.jpg",
                                             "face-tom-hanks*", "format-*.gif", "format-*.bmp"))
        metafunc.parametrize("letterbox_photo", photos, ids=[p.name for p in photos])


def test_resize_matches_opencv(options, tmp_path):
    rng = np.random.default_rng(11)
    cases = [(int(rng.integers(1, 220)), int(rng.integers(1, 220)), int(rng.integers(1, 700)), int(rng.integers(1, 700)))
             for _ in range(20)]
    cases += [(1, 1, 640, 640), (3, 2, 640, 427), (1500, 1000, 640, 426), (1280, 886, 640, 443), (2, 900, 1, 640),
              (640, 640, 640, 640), (641, 479, 640, 478)]
    exact = []
    for i, (w, h, ow, oh) in enumerate(cases):
        rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        path = tmp_path / f"noise{i}.png"
        path.write_bytes(fc.png_bytes(rgb))
        got = dump(options, "resize", path, ow, oh).reshape(oh, ow, 3)
        want = cv2.resize(rgb, (ow, oh), interpolation=cv2.INTER_LINEAR)
        exact.append(float(np.mean(got == want)))
        assert np.array_equal(got, want), f"{w}x{h} -> {ow}x{oh}: {np.mean(got != want):.4%} of bytes differ"
    fc.SUMMARY["numerics"]["resize_cases"].append(len(cases))
    fc.SUMMARY["numerics"]["resize_exact"].append(min(exact))


def test_letterbox_matches_opencv(options, letterbox_photo):
    img = fc.image_bgr(letterbox_photo)
    sizes = ((640, 640), (512, 384)) if letterbox_photo.name.startswith("group-") else ((640, 640),)
    for size in sizes:
        want, _ = ref.letterbox(img, size)
        got = dump(options, "letterbox", letterbox_photo, *size).reshape(size[1], size[0], 3)[:, :, ::-1]
        fc.SUMMARY["numerics"]["letterbox_exact"].append(float(np.mean(got == want)))
        assert np.array_equal(got, want), f"{letterbox_photo.name} at {size}: {np.mean(got != want):.4%} differ"


def test_warp_matches_opencv_on_general_affines(options, tmp_path):
    rng = np.random.default_rng(5)
    source = options["testdata"] / "photos/group-friends-cast.jpg"
    img = fc.image_bgr(source)
    h, w = img.shape[:2]
    for i in range(25):
        # Shear and anisotropic scale too (the similarity case is a special case), centred somewhere on the image.
        a = rng.normal(0, 0.6, (2, 2)) + np.eye(2) * rng.uniform(0.2, 2.0)
        centre = np.array([rng.uniform(-50, w + 50), rng.uniform(-50, h + 50)])
        m = np.hstack([a, (np.array([56.0, 56.0]) - a @ centre)[:, None]])
        size = (int(rng.integers(1, 200)), int(rng.integers(1, 200)))
        want = cv2.warpAffine(img, m, size, borderValue=0.0)
        got = dump(options, "warp", source, *size, *(repr(float(v)) for v in m.reshape(-1))).reshape(size[1], size[0], 3)
        assert np.array_equal(got[:, :, ::-1], want), f"case {i}: {np.mean(got[:, :, ::-1] != want):.4%} differ"
    fc.SUMMARY["numerics"]["warp_cases"].append(25)


def test_alignment_crops_match_opencv(options, models, photos):
    exact, maxdiff, faces = [], [], 0
    chosen = [p for p in photos["faces"] if p.name.startswith("group-")] + photos["faces"][:12]
    for path in chosen:
        img = fc.image_bgr(path)
        found = fc.reference_detection(models["scrfd_det"], path, 0.5)
        if len(found["scores"]) == 0:
            continue
        landmarks = found["landmarks"][:16]
        args = [repr(float(np.float32(v))) for v in landmarks.reshape(-1)]
        got = dump(options, "align", path, *args).reshape(-1, 112, 112, 3)[:, :, :, ::-1]
        for crop, lm in zip(got, landmarks):
            want = ref.align(img, lm)
            d = np.abs(crop.astype(int) - want.astype(int))
            exact.append(float(np.mean(d == 0)))
            maxdiff.append(int(d.max()))
            faces += 1
    fc.SUMMARY["numerics"]["crop_faces"].append(faces)
    fc.SUMMARY["numerics"]["crop_exact"].append(min(exact))
    fc.SUMMARY["numerics"]["crop_exact_mean"].append(float(np.mean(exact)))
    fc.SUMMARY["numerics"]["crop_maxdiff"].append(max(maxdiff))
    # The transform is a closed-form least squares in focal and an SVD in the reference: equal to ~1e-12, so
    # a sample point can only change when it lies within that of a 1/32-pixel cell boundary.
    assert np.mean(exact) >= 0.999 and max(maxdiff) <= 2, (np.mean(exact), max(maxdiff))
