# SPDX-License-Identifier: AGPL-3.0-or-later
"""Image decoding through POST /predict (Pillow-compatible decoding, Immich's status codes).

A decodable image with a valid clip.visual entry reaches the model layer (503: the test cache is empty);
decoding errors would be 4xx.
"""

from __future__ import annotations

import pytest

from focal_client import (
    BROKEN,
    CLIP_VISUAL,
    NO_BACKEND_CLIP_VISUAL,
    reached_backend,
    PHOTOS,
    crafted_png,
    pillow_image,
    predict,
)


def assert_json_error(r, status):
    allowed = status if isinstance(status, tuple) else (status,)
    assert r.status in allowed, f"expected {status}, got {r.describe()}"
    assert r.content_type.startswith("application/json"), r.describe()
    assert isinstance(r.detail, str) and r.detail, r.describe()


def assert_decoded(r):
    assert reached_backend(r, "clip.visual"), f"expected the model layer's answer (decoded), got {r.describe()}"


# Files that Pillow 11 decodes (upstream decodes with Pillow).
DECODABLE_FILES = [
    "food-cake.jpg",
    "format-32bit-rgba.png",
    "format-alpha-channel.png",
    "format-density-plot.png",
    "format-denali.webp",
    "dup-ukbench09380.webp",
    "format-example-lake.gif",
    "format-animated-cat.gif",
    "format-example-lake.bmp",
    "format-example-lake.tif",
    "format-arbitro.tiff",
    "format-dudley-leavitt.tiff",
    "format-jpeg-named-png.png",
    "format-jpeg-named-heic.heic",
    "format-ukbench09380.png",
    "face-tom-hanks-aligned.png",
    "dup-ukbench00120-gray.jpg",
    "exif-face-portrait-orientation-6.jpg",
    "text-tesseract-phototest.tif",
]


@pytest.mark.parametrize("filename", DECODABLE_FILES)
def test_decodable_photo(port, filename):
    assert_decoded(predict(port, CLIP_VISUAL, image=(PHOTOS / filename).read_bytes()))


# JPEGs whose EXIF is broken but whose image data is fine: Pillow decodes them, so must focal-ml.
@pytest.mark.parametrize(
    "filename",
    [
        "bad-exif-hopper.jpg",
        "invalid-exif-image01088.jpg",
        "invalid-exif-image01137.jpg",
        "invalid-exif-image01551.jpg",
        "invalid-exif-image02206.jpg",
    ],
)
def test_bad_exif_still_decodes(port, filename):
    assert_decoded(predict(port, CLIP_VISUAL, image=(BROKEN / filename).read_bytes()))


# Files Pillow refuses (truncated or corrupt): a 4xx JSON error, never a crash.
@pytest.mark.parametrize(
    "filename",
    [
        "truncated-jpeg.jpg",
        "truncated-png.png",
        "broken-80-bytes.png",
        "broken-data-stream.png",
        "corrupt-ukbench09268.jpg",
        "truncated-flamingos.jpg",
    ],
)
def test_broken_image_is_rejected(port, filename):
    assert_json_error(predict(port, CLIP_VISUAL, image=(BROKEN / filename).read_bytes()), (400, 422))


@pytest.mark.parametrize("cut", [10, 100, 1000, 5000, 20000, 150000])
def test_truncated_jpeg_prefix_is_rejected(port, cut):
    data = (PHOTOS / "food-cake.jpg").read_bytes()[:cut]
    assert_json_error(predict(port, CLIP_VISUAL, image=data), (400, 422))


@pytest.mark.parametrize(
    "filename",
    ["format-8bit-srgb.avif", "format-10bit-hdr-p3.avif", "format-fox-8bit-yuv420.avif", "format-iphone.heic",
     "format-small.heif", "format-canon-eos-6d.dng", "format-canon-eos-6d.xmp"],
)
def test_other_formats_answer_cleanly(port, filename):
    """Formats the upstream Pillow build may or may not read: decoded (reaches the model layer) or a JSON 4xx, never anything else."""
    r = predict(port, CLIP_VISUAL, image=(PHOTOS / filename).read_bytes())
    if not reached_backend(r, "clip.visual"):
        assert_json_error(r, (400, 415, 422))


@pytest.mark.parametrize(
    "mode,fmt,kw",
    [
        ("RGB", "PNG", {}),
        ("RGBA", "PNG", {}),
        ("L", "PNG", {}),
        ("LA", "PNG", {}),
        ("P", "PNG", {}),
        ("I;16", "PNG", {}),
        ("1", "PNG", {}),
        ("RGB", "PNG", {"optimize": True, "interlace": 1}),
        ("RGB", "JPEG", {"quality": 90}),
        ("RGB", "JPEG", {"progressive": True}),
        ("L", "JPEG", {}),
        ("CMYK", "JPEG", {}),
        ("RGB", "WEBP", {"lossless": True}),
        ("RGBA", "WEBP", {"quality": 80}),
        ("RGB", "GIF", {}),
        ("RGB", "BMP", {}),
        ("RGB", "TIFF", {}),
        ("RGB", "TIFF", {"compression": "tiff_lzw"}),
    ],
    ids=lambda v: str(v) if not isinstance(v, dict) else ",".join(f"{k}={x}" for k, x in v.items()) or "-",
)
def test_pillow_generated_images_decode(port, mode, fmt, kw):
    assert_decoded(predict(port, CLIP_VISUAL, image=pillow_image(37, 23, fmt, mode, **kw)))


def test_one_pixel_image_decodes(port):
    assert_decoded(predict(port, CLIP_VISUAL, image=pillow_image(1, 1, "PNG")))


@pytest.mark.parametrize("width,height", [(0, 1), (1, 0), (0, 0), (0, 100)])
def test_zero_dimension_png_is_422(port, width, height):
    """Pillow refuses to open such files (Immich: 500); focal names the problem with its undecodable-image 422."""
    r = predict(port, CLIP_VISUAL, image=crafted_png(width, height))
    assert_json_error(r, 422)
    assert "zero" in r.detail.lower(), r.describe()


def test_crafted_png_control_decodes(port):
    """The crafting helper itself produces a valid PNG (so the zero-size cases test only the size)."""
    assert_decoded(predict(port, CLIP_VISUAL, image=crafted_png(4, 3, idat_rows=3)))


def test_decompression_bomb_header_is_413(port):
    """IHDR claims 100000 x 100000 (1e10 px > default 178956970); must be refused before allocating."""
    r = predict(port, CLIP_VISUAL, image=crafted_png(100000, 100000))
    assert_json_error(r, 413)


# Pixel limit: the limited server has FOCAL_ML_MAX_IMAGE_PIXELS=10000.


@pytest.mark.parametrize(
    "width,height,fmt",
    [(200, 200, "PNG"), (200, 200, "JPEG"), (101, 100, "PNG"), (10001, 1, "PNG"), (1, 10001, "WEBP")],
)
def test_image_above_pixel_limit_is_413(limited_server, width, height, fmt):
    r = predict(limited_server.port, CLIP_VISUAL, image=pillow_image(width, height, fmt))
    assert_json_error(r, 413)


@pytest.mark.parametrize("width,height", [(100, 100), (10000, 1), (50, 20)])
def test_image_at_pixel_limit_decodes(limited_server, width, height):
    assert_decoded(predict(limited_server.port, CLIP_VISUAL, image=pillow_image(width, height, "PNG")))
