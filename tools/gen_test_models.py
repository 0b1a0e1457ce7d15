#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Generate small, deterministic test models in Immich's model-cache layout.

    python tools/gen_test_models.py --out DIR [--only NAME ...] [--det-layout 6] [--det-dynamic] [--rec-static-batch]

Writes DIR/<task>/<model name>/<type>/model.onnx plus the CLIP side files (config.json, preprocess_cfg.json,
tokenizer files). Weights are random but seeded, and calibrated constants are rounded, so two runs give
byte-identical files. Every model is checked with onnx.checker and run once in onnxruntime before it is written.
See tools/README.md for the signatures.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import string
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from focal_tools import calib  # noqa: E402
from focal_tools import clip_models as cm  # noqa: E402
from focal_tools import corpus  # noqa: E402
from focal_tools import face_models as fm  # noqa: E402
from focal_tools import tokenizers_gen as tg  # noqa: E402
from focal_tools.onnx_builder import save, session  # noqa: E402

OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_STD = [0.26862954, 0.26130258, 0.27577711]
VIT_B_32_VISION_CFG = {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32}

# Seeds are fixed per model so adding a model never changes another one's weights.
SEED_VIT_B_32_VISUAL = 1001  # shared by ViT-B-32__openai and the M-CLIP visual tower (same real weights too)
SEED_VIT_B_32_TEXTUAL = 1002
SEED_MCLIP_TEXTUAL = 2002
SEED_SIGLIP_VISUAL = 3001
SEED_SIGLIP_TEXTUAL = 3002
FACE_SEEDS = {"buffalo_s": 4000, "buffalo_l": 5000, "buffalo_s_nokps": 4000}


@dataclass
class Options:
    out: Path
    det_dynamic: bool = False
    rec_static_batch: bool = False
    full_size: bool = False


def write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def write_model(path: Path, model: onnx.ModelProto, feeds: dict[str, np.ndarray], check: Callable | None = None) -> None:
    """Check (graph already passed onnx.checker in build), run once in onnxruntime, then write."""
    outs = session(model).run(None, feeds)
    for o in outs:
        if not np.all(np.isfinite(o)):
            raise RuntimeError(f"{path}: non-finite output")
    if check:
        check(outs)
    path.parent.mkdir(parents=True, exist_ok=True)
    save(model, path)


def _normalised(dim: int, batch: int):
    def check(outs):
        e = outs[0]
        assert e.shape == (batch, dim), e.shape
        assert np.allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-4), "embedding not L2-normalised"
        assert batch < 2 or float(e[0] @ e[1]) < 0.999, "different inputs gave the same embedding"

    return check


def _image_feeds(mean, std, size: int = 224, n: int = 2) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    imgs = np.stack([calib.synthetic_photo(rng, size, size) for _ in range(n)]).astype(np.float32) / 255.0
    x = (imgs - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return {"image": np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)}


def _text_ids(tok: Tokenizer, texts: list[str], context: int, pad_token: str) -> tuple[np.ndarray, np.ndarray]:
    """Immich-style encoding: fixed right padding to `context` with the pad token, truncation to `context`."""
    tok = Tokenizer.from_str(tok.to_str())  # padding/truncation must not leak into the saved tokenizer.json
    tok.enable_padding(length=context, pad_id=tok.token_to_id(pad_token), pad_token=pad_token)
    tok.enable_truncation(max_length=context)
    enc = tok.encode_batch(texts)
    return np.array([e.ids for e in enc], np.int32), np.array([e.attention_mask for e in enc], np.int32)


SAMPLE_TEXTS = ["a photo of a dog", "sunset over the ocean"]


def _calib_texts(multilingual: bool = False, canonicalize: bool = False) -> list[str]:
    """Typical queries used to centre the text towers' outputs (see cm.calibrated)."""
    texts = corpus.CAPTIONS + corpus.english_corpus(40, seed=99)[-40:]
    if multilingual:
        texts += corpus.MULTILINGUAL
    if canonicalize:  # Immich's clean="canonicalize": drop ASCII punctuation, lower-case
        texts = [t.translate({ord(c): None for c in string.punctuation}).lower() for t in texts]
    return texts


# ---- CLIP -----------------------------------------------------------------------------------------------------------
# --full-size: the real ViT-B-32's shape (12 layers; width 768 / 12 heads visual, 512 / 8 heads textual) with random
# weights, so that benchmarks measure real-sized inference; the tests use the one-block width-16 towers.
FULL_VISUAL = {"width": 768, "heads": 12, "layers": 12}
FULL_TEXTUAL = {"width": 512, "heads": 8, "layers": 12}


def _vit_b_32_visual(root: Path, full_size: bool = False) -> None:
    model = cm.calibrated_vit_visual("ViT-B-32__openai-visual", SEED_VIT_B_32_VISUAL, 512, OPENAI_MEAN, OPENAI_STD,
                                     **(FULL_VISUAL if full_size else {}))
    write_model(root / "visual/model.onnx", model, _image_feeds(OPENAI_MEAN, OPENAI_STD), _normalised(512, 2))
    write_json(
        root / "visual/preprocess_cfg.json",
        {
            "size": [224, 224],
            "mode": "RGB",
            "mean": OPENAI_MEAN,
            "std": OPENAI_STD,
            "interpolation": "bicubic",
            "resize_mode": "shortest",
            "fill_color": 0,
        },
    )


def gen_vit_b_32_openai(opts: Options) -> Path:
    root = opts.out / "clip/ViT-B-32__openai"
    _vit_b_32_visual(root, opts.full_size)
    tok = tg.clip_tokenizer()
    tg.write_tokenizer(root / "textual", tok, *tg.clip_tokenizer_config(tok))
    build = functools.partial(cm.openclip_textual, "ViT-B-32__openai-textual", SEED_VIT_B_32_TEXTUAL, 512, tok.get_vocab_size(),
                              **(FULL_TEXTUAL if opts.full_size else {}))
    model = cm.calibrated(build, {"text": _text_ids(tok, _calib_texts(), 77, tg.EOT)[0]})
    ids, _ = _text_ids(tok, SAMPLE_TEXTS, 77, tg.EOT)
    write_model(root / "textual/model.onnx", model, {"text": ids}, _normalised(512, 2))
    write_json(
        root / "config.json",
        {
            "embed_dim": 512,
            "vision_cfg": VIT_B_32_VISION_CFG,
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8, "layers": 12},
        },
    )
    return root


def gen_mclip(opts: Options) -> Path:
    root = opts.out / "clip/XLM-Roberta-Large-Vit-B-32"
    _vit_b_32_visual(root)  # M-CLIP's image tower is OpenAI ViT-B-32: same file as ViT-B-32__openai
    tok = tg.xlmr_tokenizer()
    tg.write_tokenizer(root / "textual", tok, *tg.xlmr_tokenizer_config(tok))
    build = functools.partial(cm.mclip_textual, "XLM-Roberta-Large-Vit-B-32-textual", SEED_MCLIP_TEXTUAL, 512, tok.get_vocab_size())
    cids, cmask = _text_ids(tok, _calib_texts(multilingual=True), 77, "<pad>")
    model = cm.calibrated(build, {"input_ids": cids, "attention_mask": cmask})
    ids, mask = _text_ids(tok, SAMPLE_TEXTS, 77, "<pad>")
    write_model(root / "textual/model.onnx", model, {"input_ids": ids, "attention_mask": mask}, _normalised(512, 2))
    # No text_cfg.context_length: Immich then uses 77 for M-CLIP.
    write_json(
        root / "config.json",
        {
            "embed_dim": 512,
            "vision_cfg": VIT_B_32_VISION_CFG,
            "text_cfg": {
                "hf_model_name": "M-CLIP/XLM-Roberta-Large-Vit-B-32",
                "hf_tokenizer_name": "M-CLIP/XLM-Roberta-Large-Vit-B-32",
                "proj": "linear",
                "width": 1024,
                "heads": 16,
                "layers": 24,
            },
        },
    )
    return root


def gen_siglip(opts: Options) -> Path:
    root = opts.out / "clip/ViT-B-16-SigLIP__webli"
    half = [0.5, 0.5, 0.5]
    visual = cm.calibrated_vit_visual("ViT-B-16-SigLIP__webli-visual", SEED_SIGLIP_VISUAL, 768, half, half, patch=16, pool="map")
    write_model(root / "visual/model.onnx", visual, _image_feeds(half, half), _normalised(768, 2))
    write_json(
        root / "visual/preprocess_cfg.json",
        {
            "size": [224, 224],
            "mode": "RGB",
            "mean": half,
            "std": half,
            "interpolation": "bicubic",
            "resize_mode": "squash",
            "fill_color": 0,
        },
    )
    tok = tg.siglip_tokenizer()
    tg.write_tokenizer(root / "textual", tok, *tg.siglip_tokenizer_config(tok))
    build = functools.partial(
        cm.openclip_textual, "ViT-B-16-SigLIP__webli-textual", SEED_SIGLIP_TEXTUAL, 768, tok.get_vocab_size(),
        context=64, pool="last",
    )
    model = cm.calibrated(build, {"text": _text_ids(tok, _calib_texts(canonicalize=True), 64, "</s>")[0]})
    ids, _ = _text_ids(tok, SAMPLE_TEXTS, 64, "</s>")
    write_model(root / "textual/model.onnx", model, {"text": ids}, _normalised(768, 2))
    write_json(
        root / "config.json",
        {
            "embed_dim": 768,
            "init_logit_bias": -10,
            "custom_text": True,
            "vision_cfg": {
                "image_size": 224,
                "timm_model_name": "vit_base_patch16_siglip_224",
                "timm_model_pretrained": False,
                "timm_pool": "map",
                "timm_proj": "none",
            },
            "text_cfg": {
                "context_length": 64,
                "vocab_size": 32000,
                "hf_tokenizer_name": "timm/ViT-B-16-SigLIP",
                "tokenizer_kwargs": {"clean": "canonicalize"},
                "width": 768,
                "heads": 12,
                "layers": 12,
                "no_causal_mask": True,
                "proj_bias": True,
                "pool_type": "last",
                "norm_kwargs": {"eps": 1e-06},
            },
        },
    )
    return root


# ---- faces ----------------------------------------------------------------------------------------------------------
def _det_check(with_kps: bool, side: int = 640):
    def check(outs):
        assert len(outs) == (9 if with_kps else 6)
        for i, stride in enumerate(fm.STRIDES):
            n = (side // stride) ** 2 * fm.ANCHORS
            assert outs[i].shape == (n, 1) and outs[i + 3].shape == (n, 4), (outs[i].shape, outs[i + 3].shape)
            assert 0.0 <= outs[i].min() and outs[i].max() <= 1.0 and outs[i + 3].min() >= 0.0
            if with_kps:
                assert outs[i + 6].shape == (n, 10)
        assert max(float(o.max()) for o in outs[:3]) > 0.5, "no anchor above 0.5 on a synthetic photo"

    return check


def gen_face_pack(name: str, with_kps: bool = True):
    def gen(opts: Options) -> Path:
        root = opts.out / "facial-recognition" / name
        seed = FACE_SEEDS[name]
        det = fm.calibrated_detector(f"{name}-detection", seed, with_kps, opts.det_dynamic)
        blob = calib.letterbox_blob(calib.synthetic_photo(np.random.default_rng(11), 480, 640, faces=3))
        write_model(root / "detection/model.onnx", det, {"input.1": blob}, _det_check(with_kps))
        if opts.det_dynamic:  # a dynamic graph must also run at another size
            session(det).run(None, {"input.1": np.zeros((1, 3, 320, 320), np.float32)})

        rec = fm.calibrated_recognizer(f"{name}-recognition", seed + 1, opts.rec_static_batch)
        batch = 1 if opts.rec_static_batch else 3
        crops = calib.recognizer_set(seed + 99, batch)

        def rec_check(outs):
            assert outs[0].shape == (batch, 512)
            norms = np.linalg.norm(outs[0], axis=1)
            assert np.all(norms > 2.0) and not np.allclose(norms, 1.0, atol=1e-3), "recognizer output looks normalised"

        write_model(root / "recognition/model.onnx", rec, {"input.1": crops}, rec_check)
        return root

    return gen


def gen_ocr(opts: Options) -> Path:
    """Not generated: the real PP-OCRv4 detector and recognizer from the pinned rapidocr wheel (Apache-2.0; the
    character list is in the recognizer's metadata, as in Immich's PP-OCRv5 files), under Immich's OCR name."""
    import rapidocr

    bundled = Path(rapidocr.__file__).parent / "models"
    root = opts.out / "ocr" / "PP-OCRv5_mobile"
    for kind, source in (("detection", "ch_PP-OCRv4_det_infer.onnx"), ("recognition", "ch_PP-OCRv4_rec_infer.onnx")):
        target = root / kind / "model.onnx"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(bundled / source, target)
    return root


MODELS: dict[str, Callable[[Options], Path]] = {
    "ViT-B-32__openai": gen_vit_b_32_openai,
    "XLM-Roberta-Large-Vit-B-32": gen_mclip,
    "ViT-B-16-SigLIP__webli": gen_siglip,
    "buffalo_s": gen_face_pack("buffalo_s"),
    "buffalo_l": gen_face_pack("buffalo_l"),
    "PP-OCRv5_mobile": gen_ocr,
}
# Test-only packs, generated when asked for (--only NAME, or --det-layout 6 for the 6-output detector).
EXTRA_MODELS: dict[str, Callable[[Options], Path]] = {
    "buffalo_s_nokps": gen_face_pack("buffalo_s_nokps", with_kps=False),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="model cache root (like MACHINE_LEARNING_CACHE_FOLDER)")
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=sorted([*MODELS, *EXTRA_MODELS]),
                    help="generate only these models")
    ap.add_argument("--det-layout", type=int, choices=[9, 6], default=9,
                    help="6: also write the 6-output (no keypoints) detector pack facial-recognition/buffalo_s_nokps")
    ap.add_argument("--det-dynamic", action="store_true", help="detector input [1,3,'?','?'] instead of [1,3,640,640]")
    ap.add_argument("--rec-static-batch", action="store_true", help="recognizer batch dim fixed to 1 instead of 'None'")
    ap.add_argument("--full-size", action="store_true",
                    help="ViT-B-32__openai with the real network's shape (12 layers, ~150 M parameters, random "
                         "weights) for benchmarks")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)

    names = list(args.only) if args.only else list(MODELS)
    if args.det_layout == 6 and "buffalo_s_nokps" not in names:
        names.append("buffalo_s_nokps")
    opts = Options(out=args.out, det_dynamic=args.det_dynamic, rec_static_batch=args.rec_static_batch,
                   full_size=args.full_size)

    start = time.monotonic()
    for name in names:
        t = time.monotonic()
        root = {**MODELS, **EXTRA_MODELS}[name](opts)
        if not args.quiet:
            print(f"{name}: {time.monotonic() - t:.1f}s")
            for f in sorted(p for p in root.rglob("*") if p.is_file()):
                print(f"  {f.relative_to(args.out)}  {f.stat().st_size} B")
    if not args.quiet:
        print(f"done in {time.monotonic() - start:.1f}s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
