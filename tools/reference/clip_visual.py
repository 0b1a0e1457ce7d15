# SPDX-License-Identifier: AGPL-3.0-or-later
"""CLIP image tower exactly as the reference pipeline does it.

Decode with Pillow (no EXIF rotation, ICC ignored, non-RGB modes converted by Pillow), shortest side to S with
Pillow BICUBIC, centre crop, float32 (x / 255 - mean) / std, NCHW, first output row 0.

    python -m reference.clip_visual --model-dir CACHE/clip/ViT-B-32__openai/visual IMAGE... > out.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image


def decode(path: Path) -> Image.Image:
    img = Image.open(path)
    img.load()
    return img if img.mode == "RGB" else img.convert("RGB")


def resize_shortest(img: Image.Image, size: int) -> Image.Image:
    if img.width < img.height:
        return img.resize((size, int((img.height / img.width) * size)), resample=Image.Resampling.BICUBIC)
    return img.resize((int((img.width / img.height) * size), size), resample=Image.Resampling.BICUBIC)


def crop_center(img: Image.Image, size: int) -> Image.Image:
    left = int((img.size[0] / 2) - (size / 2))
    upper = int((img.size[1] / 2) - (size / 2))
    return img.crop((left, upper, left + size, upper + size))


def load_preprocess_cfg(model_dir: Path) -> tuple[int, np.ndarray, np.ndarray]:
    cfg = json.loads((model_dir / "preprocess_cfg.json").read_text())
    size = cfg["size"][0] if isinstance(cfg["size"], list) else cfg["size"]
    return int(size), np.array(cfg["mean"], dtype=np.float32), np.array(cfg["std"], dtype=np.float32)


def preprocess(img: Image.Image, size: int, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Returns the [3, S, S] float32 model input."""
    img = crop_center(resize_shortest(img, size), size)
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = np.divide(x - mean, std, dtype=np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


class ClipVisual:
    def __init__(self, model_dir: Path):
        self.size, self.mean, self.std = load_preprocess_cfg(model_dir)
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 2
        self.session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name

    def tensor(self, img: Image.Image) -> np.ndarray:
        return preprocess(img, self.size, self.mean, self.std)

    def embed(self, img: Image.Image) -> np.ndarray:
        out = self.session.run(None, {self.input_name: self.tensor(img)[None]})[0]
        return out[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("images", type=Path, nargs="+")
    args = parser.parse_args(argv)
    model = ClipVisual(args.model_dir)
    result = {}
    for path in args.images:
        img = decode(path)
        result[str(path)] = {"width": img.width, "height": img.height, "embedding": model.embed(img).tolist()}
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
