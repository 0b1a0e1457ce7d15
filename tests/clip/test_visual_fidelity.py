# SPDX-License-Identifier: AGPL-3.0-or-later
"""clip.visual fidelity: focal-ml against the Pillow + numpy + onnxruntime reference (tools/reference).

For every photo in shared/testdata/photos that Pillow can read, plus synthetic edge cases, checks:
- the model input tensor: identical to the reference (reported: exact-match fraction, max |diff|);
- the embedding returned over HTTP: cosine >= 0.9999 with the reference (reported: min cosine, max |diff|);
- imageWidth / imageHeight equal to Pillow's decoded size.
"""

from __future__ import annotations

import json
import struct
import subprocess
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from focal_client import FocalServer, predict
from reference.clip_visual import ClipVisual, decode

MODEL = "ViT-B-32__openai"
ENTRIES = {"clip": {"visual": {"modelName": MODEL}}}
SUMMARY: dict[str, list] = {"tensor_exact": [], "tensor_maxdiff": [], "cosine": [], "emb_maxdiff": []}


def _png_rgb16(path: Path, width: int, height: int) -> None:
    """A 16-bit-per-channel RGB PNG (Pillow cannot write one)."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 65535, size=(height, width, 3), dtype=np.uint16).astype(">u2")
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def synthetic_images(folder: Path) -> list[Path]:
    rng = np.random.default_rng(7)

    def noise(w: int, h: int, channels: int = 3) -> np.ndarray:
        base = rng.integers(0, 256, size=(h, w, channels), dtype=np.uint8)
        return base if channels > 1 else base[..., 0]

    made = []

    def save(name: str, img: Image.Image, **kw) -> None:
        path = folder / name
        img.save(path, **kw)
        made.append(path)

    save("1x1.png", Image.fromarray(noise(1, 1)))
    save("1x10000.png", Image.fromarray(noise(1, 10000)))
    save("10000x1.png", Image.fromarray(noise(10000, 1)))
    for w, h in [(333, 777), (777, 333), (225, 224), (224, 224), (223, 223), (17, 29), (1441, 1080)]:
        save(f"odd-{w}x{h}.jpg", Image.fromarray(noise(w, h)).resize((w, h)), quality=90)
    save("gray.jpg", Image.fromarray(noise(300, 200, 1), mode="L"), quality=90)
    save("cmyk.jpg", Image.fromarray(noise(300, 200)).convert("CMYK"), quality=90)
    save("gray16.png", Image.fromarray((rng.integers(0, 65535, size=(120, 160))).astype(np.uint16)))
    _png_rgb16(folder / "rgb16.png", 160, 120)
    made.append(folder / "rgb16.png")
    save("rgba.png", Image.fromarray(noise(256, 300, 4), mode="RGBA"))
    save("la.png", Image.fromarray(noise(256, 300, 2), mode="LA"))
    save("palette.gif", Image.fromarray(noise(256, 300)).convert("P", palette=Image.Palette.ADAPTIVE))
    save("palette-transparent.png", Image.fromarray(noise(256, 300)).convert("P"), transparency=0)
    save("bilevel.png", Image.fromarray(noise(256, 300, 1)).convert("1"))
    return made


def real_photos(testdata: Path) -> list[Path]:
    photos = []
    for path in sorted((testdata / "photos").iterdir()):
        try:
            with Image.open(path) as img:
                img.load()
        except Exception:  # formats this Pillow build cannot read (AVIF, HEIC, DNG, XMP sidecars, text)
            continue
        photos.append(path)
    return photos


@pytest.fixture(scope="module")
def reference(options) -> ClipVisual:
    return ClipVisual(options["models"] / "clip" / MODEL / "visual")


@pytest.fixture(scope="module")
def server(options, tmp_path_factory):
    srv = FocalServer(str(options["focal_ml"]), tmp_path_factory.mktemp("clip"),
                      {"MACHINE_LEARNING_CACHE_FOLDER": str(options["models"])}, name="clip").start()
    yield srv
    assert srv.stop() == 0, srv.log_tail()


def pytest_generate_tests(metafunc):
    if "image_path" in metafunc.fixturenames:
        testdata = Path(metafunc.config.getoption("testdata"))
        folder = Path(tempfile.mkdtemp(prefix="focal-clip-synthetic-"))
        images = real_photos(testdata) + synthetic_images(folder)
        metafunc.parametrize("image_path", images, ids=[p.name for p in images])


def test_tensor_matches_reference(options, reference, image_path):
    expected = reference.tensor(decode(image_path))
    run = subprocess.run([str(options["preprocess_dump"]), str(options["models"] / "clip" / MODEL / "visual" /
                                                               "preprocess_cfg.json"), str(image_path)],
                         capture_output=True, check=True, timeout=120)
    actual = np.frombuffer(run.stdout, dtype=np.float32).reshape(expected.shape)
    diff = np.abs(actual - expected)
    exact = float(np.mean(diff == 0))
    SUMMARY["tensor_exact"].append(exact)
    SUMMARY["tensor_maxdiff"].append(float(diff.max()))
    one_step = (1 / 255) / float(reference.std.min())  # one 8-bit level after normalisation
    assert np.mean(diff <= one_step + 1e-6) >= 0.999, f"{image_path.name}: {exact:.4%} exact, max diff {diff.max()}"


def test_embedding_matches_reference(server, reference, image_path):
    img = decode(image_path)
    expected = reference.embed(img)
    r = predict(server.port, ENTRIES, image=image_path.read_bytes(), timeout=120)
    assert r.status == 200, r.describe()
    body = r.json()
    assert (body["imageWidth"], body["imageHeight"]) == (img.width, img.height)
    actual = np.array(json.loads(body["clip"]), dtype=np.float32)
    assert actual.shape == expected.shape
    cosine = float(np.dot(actual, expected) / (np.linalg.norm(actual) * np.linalg.norm(expected)))
    SUMMARY["cosine"].append(cosine)
    SUMMARY["emb_maxdiff"].append(float(np.abs(actual - expected).max()))
    assert cosine >= 0.9999, f"{image_path.name}: cosine {cosine}"


def test_zz_report():
    """Prints the aggregate figures (kept in the CTest log)."""
    if SUMMARY["cosine"]:
        print(f"\nclip.visual fidelity over {len(SUMMARY['cosine'])} images: min cosine {min(SUMMARY['cosine']):.7f}, "
              f"max |emb diff| {max(SUMMARY['emb_maxdiff']):.3g}")
    if SUMMARY["tensor_exact"]:
        print(f"preprocessed tensors over {len(SUMMARY['tensor_exact'])} images: min exact fraction "
              f"{min(SUMMARY['tensor_exact']):.6f}, max |diff| {max(SUMMARY['tensor_maxdiff']):.3g}")
