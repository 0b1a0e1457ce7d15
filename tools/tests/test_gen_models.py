# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tests for tools/gen_test_models.py: layout, signatures, numerics, determinism, sizes, tokenizers.

Run: .venv/bin/python -m pytest tools/tests -q
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto
from tokenizers import Tokenizer

TOOLS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOOLS))

import gen_test_models  # noqa: E402
from focal_tools import calib  # noqa: E402

PHOTOS = TOOLS.parent.parent / "shared" / "testdata" / "photos"

F32, I32 = TensorProto.FLOAT, TensorProto.INT32
DET_OUT = [[12800, 1], [3200, 1], [800, 1], [12800, 4], [3200, 4], [800, 4], [12800, 10], [3200, 10], [800, 10]]

# path -> (inputs, outputs) as [(name, elem_type, shape)], shape entries int (fixed) or str (dim_param)
SIGNATURES = {
    "clip/ViT-B-32__openai/visual/model.onnx": (
        [("image", F32, ["batch", 3, 224, 224])], [("embedding", F32, ["batch", 512])]),
    "clip/ViT-B-32__openai/textual/model.onnx": (
        [("text", I32, ["batch", 77])], [("embedding", F32, ["batch", 512])]),
    "clip/XLM-Roberta-Large-Vit-B-32/visual/model.onnx": (
        [("image", F32, ["batch", 3, 224, 224])], [("embedding", F32, ["batch", 512])]),
    "clip/XLM-Roberta-Large-Vit-B-32/textual/model.onnx": (
        [("input_ids", I32, ["batch", 77]), ("attention_mask", I32, ["batch", 77])],
        [("embedding", F32, ["batch", 512])]),
    "clip/ViT-B-16-SigLIP__webli/visual/model.onnx": (
        [("image", F32, ["batch", 3, 224, 224])], [("embedding", F32, ["batch", 768])]),
    "clip/ViT-B-16-SigLIP__webli/textual/model.onnx": (
        [("text", I32, ["batch", 64])], [("embedding", F32, ["batch", 768])]),
    **{
        f"facial-recognition/{pack}/detection/model.onnx": (
            [("input.1", F32, [1, 3, 640, 640])],
            [(n, F32, s) for n, s in zip(["443", "468", "493", "446", "471", "496", "449", "474", "499"], DET_OUT)])
        for pack in ("buffalo_s", "buffalo_l")
    },
    **{
        f"facial-recognition/{pack}/recognition/model.onnx": (
            [("input.1", F32, ["None", 3, 112, 112])], [("683", F32, ["None", 512])])
        for pack in ("buffalo_s", "buffalo_l")
    },
}
SIDE_FILES = [
    f"clip/{m}/{f}"
    for m in ("ViT-B-32__openai", "XLM-Roberta-Large-Vit-B-32", "ViT-B-16-SigLIP__webli")
    for f in ("config.json", "visual/preprocess_cfg.json", "textual/tokenizer.json", "textual/tokenizer_config.json",
              "textual/special_tokens_map.json")
]


def _dims(vi: onnx.ValueInfoProto) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param if d.HasField("dim_param") else None)
            for d in vi.type.tensor_type.shape.dim]


def _sig(vis) -> list:
    return [(v.name, v.type.tensor_type.elem_type, _dims(v)) for v in vis]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cache")
    start = time.monotonic()
    assert gen_test_models.main(["--out", str(out), "-q"]) == 0
    assert time.monotonic() - start < 30, "generation must stay well under 30 s"
    return out


@pytest.fixture(scope="session")
def variants(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("variants")
    args = ["--out", str(out), "-q", "--only", "buffalo_s", "--det-layout", "6", "--det-dynamic", "--rec-static-batch"]
    assert gen_test_models.main(args) == 0
    return out


def _run(path: Path, feeds: dict) -> list[np.ndarray]:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)


def _images(mean, std, n=3) -> np.ndarray:
    rng = np.random.default_rng(123)
    imgs = np.stack([calib.synthetic_photo(rng, 224, 224) for _ in range(n)]).astype(np.float32) / 255.0
    return np.ascontiguousarray(((imgs - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)).transpose(0, 3, 1, 2))


def _encode(cache: Path, model: str, texts: list[str], context: int):
    d = cache / "clip" / model / "textual"
    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    pad = json.loads((d / "tokenizer_config.json").read_text())["pad_token"]
    tok.enable_padding(length=context, pad_id=tok.token_to_id(pad), pad_token=pad)
    tok.enable_truncation(max_length=context)
    enc = tok.encode_batch(texts)
    return np.array([e.ids for e in enc], np.int32), np.array([e.attention_mask for e in enc], np.int32)


# ---- layout and signatures ------------------------------------------------------------------------------------------
def test_files_exist_and_small(cache):
    for rel in [*SIGNATURES, *SIDE_FILES]:
        p = cache / rel
        assert p.is_file(), rel
        assert p.stat().st_size < 1_000_000, f"{rel} is {p.stat().st_size} B"
    assert not (cache / "facial-recognition/buffalo_s_nokps").exists(), "nokps pack only on request"


@pytest.mark.parametrize("rel", sorted(SIGNATURES))
def test_signature(cache, rel):
    m = onnx.load(str(cache / rel))
    onnx.checker.check_model(m, full_check=True)
    assert m.ir_version == 8
    assert [(o.domain, o.version) for o in m.opset_import] == [("", 17)]
    inputs, outputs = SIGNATURES[rel]
    assert _sig(m.graph.input) == inputs
    assert _sig(m.graph.output) == outputs


def test_mclip_visual_is_openai_visual(cache):
    a = (cache / "clip/ViT-B-32__openai/visual/model.onnx").read_bytes()
    assert a == (cache / "clip/XLM-Roberta-Large-Vit-B-32/visual/model.onnx").read_bytes()


def test_packs_differ(cache):
    for t in ("detection", "recognition"):
        a = (cache / f"facial-recognition/buffalo_s/{t}/model.onnx").read_bytes()
        assert a != (cache / f"facial-recognition/buffalo_l/{t}/model.onnx").read_bytes()


def test_configs(cache):
    cfg = lambda m, f: json.loads((cache / "clip" / m / f).read_text())  # noqa: E731
    vit = cfg("ViT-B-32__openai", "config.json")
    assert vit["embed_dim"] == 512 and vit["text_cfg"]["context_length"] == 77
    assert vit["vision_cfg"] == {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32}
    assert cfg("ViT-B-32__openai", "visual/preprocess_cfg.json") == {
        "size": [224, 224], "mode": "RGB", "mean": [0.48145466, 0.4578275, 0.40821073],
        "std": [0.26862954, 0.26130258, 0.27577711], "interpolation": "bicubic", "resize_mode": "shortest",
        "fill_color": 0}
    mclip = cfg("XLM-Roberta-Large-Vit-B-32", "config.json")
    assert mclip["embed_dim"] == 512 and "context_length" not in mclip["text_cfg"]
    sig = cfg("ViT-B-16-SigLIP__webli", "config.json")
    assert sig["embed_dim"] == 768 and sig["text_cfg"]["context_length"] == 64
    assert sig["text_cfg"]["tokenizer_kwargs"] == {"clean": "canonicalize"}
    pp = cfg("ViT-B-16-SigLIP__webli", "visual/preprocess_cfg.json")
    assert pp["mean"] == pp["std"] == [0.5, 0.5, 0.5] and pp["size"] == [224, 224] and pp["resize_mode"] == "squash"
    pads = {m: cfg(m, "textual/tokenizer_config.json")["pad_token"]
            for m in ("ViT-B-32__openai", "XLM-Roberta-Large-Vit-B-32", "ViT-B-16-SigLIP__webli")}
    assert pads == {"ViT-B-32__openai": "<|endoftext|>", "XLM-Roberta-Large-Vit-B-32": "<pad>",
                    "ViT-B-16-SigLIP__webli": "</s>"}
    assert cfg("ViT-B-32__openai", "textual/tokenizer_config.json")["model_max_length"] == 77


# ---- numerics -------------------------------------------------------------------------------------------------------
def _check_embeddings(e: np.ndarray, dim: int) -> None:
    assert e.shape[1] == dim and np.all(np.isfinite(e))
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-4)
    cos = e @ e.T
    off = cos[~np.eye(len(e), dtype=bool)]
    assert off.max() < 0.99, f"embeddings of different inputs too similar: {off.max()}"


@pytest.mark.parametrize("model,dim,mean,std", [
    ("ViT-B-32__openai", 512, [0.48145466, 0.4578275, 0.40821073], [0.26862954, 0.26130258, 0.27577711]),
    ("ViT-B-16-SigLIP__webli", 768, [0.5] * 3, [0.5] * 3),
])
def test_visual_normalised_and_sensitive(cache, model, dim, mean, std):
    x = _images(mean, std)
    e = _run(cache / "clip" / model / "visual/model.onnx", {"image": x})[0]
    _check_embeddings(e, dim)
    # batch independence: row i of a batch equals the single-image result
    e1 = _run(cache / "clip" / model / "visual/model.onnx", {"image": x[1:2]})[0]
    np.testing.assert_allclose(e1[0], e[1], atol=1e-5)


TEXTS = ["a photo of a dog", "sunset over the ocean", "birthday cake with candles", "ein hund spielt im schnee"]


@pytest.mark.parametrize("model,dim,context", [("ViT-B-32__openai", 512, 77), ("ViT-B-16-SigLIP__webli", 768, 64)])
def test_openclip_textual(cache, model, dim, context):
    ids, _ = _encode(cache, model, TEXTS, context)
    e = _run(cache / "clip" / model / "textual/model.onnx", {"text": ids})[0]
    _check_embeddings(e, dim)


def test_mclip_textual_uses_mask(cache):
    ids, mask = _encode(cache, "XLM-Roberta-Large-Vit-B-32", TEXTS, 77)
    path = cache / "clip/XLM-Roberta-Large-Vit-B-32/textual/model.onnx"
    e = _run(path, {"input_ids": ids, "attention_mask": mask})[0]
    _check_embeddings(e, 512)
    # masked mean pooling: changing ids under a zero mask must not change the embedding
    ids2 = ids.copy()
    ids2[mask == 0] = 5
    e2 = _run(path, {"input_ids": ids2, "attention_mask": mask})[0]
    np.testing.assert_allclose(e, e2, atol=1e-5)


def test_clip_eot_is_highest_id(cache):
    tok = Tokenizer.from_file(str(cache / "clip/ViT-B-32__openai/textual/tokenizer.json"))
    vocab = tok.get_vocab()
    assert vocab["<|endoftext|>"] == max(vocab.values()) < 49408
    assert vocab["<|startoftext|>"] == vocab["<|endoftext|>"] - 1
    model = json.loads((cache / "clip/ViT-B-32__openai/textual/tokenizer.json").read_text())["model"]
    assert len(model["merges"]) == 2000 and all(isinstance(m, str) and m.count(" ") == 1 for m in model["merges"])


def _det_blob(seed=5) -> np.ndarray:
    return calib.letterbox_blob(calib.synthetic_photo(np.random.default_rng(seed), 480, 640, faces=3))


@pytest.mark.parametrize("pack", ["buffalo_s", "buffalo_l"])
def test_detector_outputs(cache, pack):
    outs = _run(cache / f"facial-recognition/{pack}/detection/model.onnx", {"input.1": _det_blob()})
    assert [list(o.shape) for o in outs] == DET_OUT
    scores = np.concatenate([o.ravel() for o in outs[:3]])
    assert 0.0 <= scores.min() and scores.max() <= 1.0
    assert 0.0002 < (scores > 0.5).mean() < 0.03
    assert all(o.min() >= 0.0 for o in outs[3:6]), "box distances must be non-negative"
    blank = _run(cache / f"facial-recognition/{pack}/detection/model.onnx",
                 {"input.1": np.full((1, 3, 640, 640), -0.99, np.float32)})
    assert max(float(o.max()) for o in blank[:3]) < 0.5, "a flat image must not produce detections"
    other = _run(cache / f"facial-recognition/{pack}/detection/model.onnx", {"input.1": _det_blob(6)})
    assert not np.allclose(outs[0], other[0]), "scores must depend on the image"


@pytest.mark.parametrize("pack", ["buffalo_s", "buffalo_l"])
def test_recognizer_outputs(cache, pack):
    crops = calib.recognizer_set(77, 4)
    e = _run(cache / f"facial-recognition/{pack}/recognition/model.onnx", {"input.1": crops})[0]
    assert e.shape == (4, 512) and np.all(np.isfinite(e))
    norms = np.linalg.norm(e, axis=1)
    assert np.all(norms > 5.0), "ArcFace-style output is raw, not L2-normalised"
    cos = (e / norms[:, None]) @ (e / norms[:, None]).T
    assert cos[~np.eye(4, dtype=bool)].max() < 0.98


# ---- options ------------------------------------------------------------------------------------------------------
def test_variants(variants):
    det = onnx.load(str(variants / "facial-recognition/buffalo_s/detection/model.onnx"))
    assert _sig(det.graph.input) == [("input.1", F32, [1, 3, "?", "?"])]
    rec = onnx.load(str(variants / "facial-recognition/buffalo_s/recognition/model.onnx"))
    assert _sig(rec.graph.input) == [("input.1", F32, [1, 3, 112, 112])]
    assert _sig(rec.graph.output) == [("683", F32, [1, 512])]
    nokps = variants / "facial-recognition/buffalo_s_nokps/detection/model.onnx"
    assert len(onnx.load(str(nokps)).graph.output) == 6
    # dynamic H, W: other sizes run and anchor counts follow (H/s)*(W/s)*2
    outs = _run(variants / "facial-recognition/buffalo_s/detection/model.onnx",
                {"input.1": np.zeros((1, 3, 320, 480), np.float32)})
    assert [o.shape[0] for o in outs[:3]] == [40 * 60 * 2, 20 * 30 * 2, 10 * 15 * 2]
    outs6 = _run(nokps, {"input.1": np.zeros((1, 3, 640, 640), np.float32)})
    assert [list(o.shape) for o in outs6] == DET_OUT[:6]


def test_same_weights_across_options(cache, variants):
    # --rec-static-batch only changes the batch dim, not the weights.
    a = onnx.load(str(cache / "facial-recognition/buffalo_s/recognition/model.onnx"))
    b = onnx.load(str(variants / "facial-recognition/buffalo_s/recognition/model.onnx"))
    assert [i.raw_data for i in a.graph.initializer] == [i.raw_data for i in b.graph.initializer]


# ---- determinism ----------------------------------------------------------------------------------------------------
def test_deterministic(cache, tmp_path):
    assert gen_test_models.main(["--out", str(tmp_path), "-q"]) == 0
    first, second = _files(cache), _files(tmp_path)
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []


# ---- tokenizers -----------------------------------------------------------------------------------------------------
ROUND_TRIP = ["a photo of a dog", "Sunset over the ocean!", "birthday cake with 3 candles", "ein hund spielt im schnee",
              "café 2024"]


def test_clip_tokenizer_round_trip(cache):
    tok = Tokenizer.from_file(str(cache / "clip/ViT-B-32__openai/textual/tokenizer.json"))
    for text in ROUND_TRIP:
        enc = tok.encode(text)
        assert enc.tokens[0] == "<|startoftext|>" and enc.tokens[-1] == "<|endoftext|>"
        # CLIP decodes to "a</w>photo</w>..."; digits are single tokens, so compare without word boundaries.
        decoded = tok.decode(enc.ids, skip_special_tokens=True)
        assert decoded.replace("</w>", "") == tok.normalizer.normalize_str(text).replace(" ", "")
        assert decoded.count("</w>") >= len(text.split())
    assert tok.encode("a photo of a dog").tokens[1:-1] == ["a</w>", "photo</w>", "of</w>", "a</w>", "dog</w>"]
    assert len(tok.encode("😀 Ωmega").ids) > 2 and tok.token_to_id("<|endoftext|>") not in tok.encode("😀 Ωmega").ids[1:-1]


@pytest.mark.parametrize("model,bos,eos,pad", [
    ("XLM-Roberta-Large-Vit-B-32", "<s>", "</s>", ("<pad>", 1)),
    ("ViT-B-16-SigLIP__webli", None, "</s>", ("</s>", 1)),
])
def test_unigram_tokenizer_round_trip(cache, model, bos, eos, pad):
    tok = Tokenizer.from_file(str(cache / "clip" / model / "textual/tokenizer.json"))
    assert json.loads(tok.to_str())["model"]["type"] == "Unigram"
    assert tok.token_to_id(pad[0]) == pad[1]
    for text in ROUND_TRIP:
        enc = tok.encode(text)
        assert enc.tokens[-1] == eos and (bos is None or enc.tokens[0] == bos)
        assert "<unk>" not in enc.tokens, (text, enc.tokens)
        assert tok.decode(enc.ids, skip_special_tokens=True) == text
    assert len(tok.encode("a photo of a dog").tokens) == 5 + (bos is not None) + 1  # whole words are pieces


# ---- real photos (skipped when shared/testdata is absent) -----------------------------------------------------------
@pytest.mark.skipif(not PHOTOS.is_dir(), reason="shared/testdata/photos not available")
def test_real_photos_detector_rates(cache):
    from PIL import Image

    sess = ort.InferenceSession(str(cache / "facial-recognition/buffalo_s/detection/model.onnx"))
    rates = []
    for name in ["face-obama-1.jpg", "group-obama-biden.jpg", "nature-el_torcal_rocks.jpg", "pet-dog-corgi.jpg"]:
        img = np.asarray(Image.open(PHOTOS / name).convert("RGB"))
        s = np.concatenate([o.ravel() for o in sess.run(None, {"input.1": calib.letterbox_blob(img)})[:3]])
        rates.append(((s > 0.5).mean(), (s > 0.7).sum()))
    assert all(0.0005 < r5 < 0.03 for r5, _ in rates), rates
    assert any(n7 > 0 for _, n7 in rates), rates
