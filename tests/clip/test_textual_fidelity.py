# SPDX-License-Identifier: AGPL-3.0-or-later
"""clip.textual fidelity: focal-ml's query embeddings against the `tokenizers` + onnxruntime reference
(tools/reference/clip_textual.py) for every generated family: OpenCLIP (CLIP BPE), M-CLIP (two inputs), SigLIP
(context 64, canonicalize) and an NLLB-named copy of the SigLIP tower (language prefix)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from focal_client import FocalServer, predict
from reference.clip_textual import ClipTextual

FAMILIES = [  # (request name, cache name, mclip, nllb, language)
    ("ViT-B-32__openai", "ViT-B-32__openai", False, False, None),
    ("M-CLIP/XLM-Roberta-Large-Vit-B-32", "XLM-Roberta-Large-Vit-B-32", True, False, None),
    ("ViT-B-16-SigLIP__webli", "ViT-B-16-SigLIP__webli", False, False, "de"),
    ("nllb-clip-base-siglip__v1", "nllb-clip-base-siglip__v1", False, True, "de-CH"),
    ("nllb-clip-base-siglip__v1", "nllb-clip-base-siglip__v1", False, True, "xx-unknown"),
]

QUERIES = [
    "a dog on a beach", "Dog   on a\tbeach!", "", "   ", "ein Hund am Strand", "chien sur la plage",
    "犬とビーチ", "كلب على الشاطئ", "собака на пляже", "🐶🏖️ 👨‍👩‍👧", "Crème brûlée à Paris", "IMG_2041.JPG",
    "sunset over mountains, 2019", "<|endoftext|> </s> <pad>", "x" * 500, " ".join(["word"] * 200),
    "Ünïcödé ÇÅSE", "a photo of a cat", "birthday party with cake and candles", "snow-covered trees (winter)",
]


@pytest.fixture(scope="module")
def cache(options, tmp_path_factory):
    """The generated cache plus an NLLB-named copy of the SigLIP model (only the name differs)."""
    root = tmp_path_factory.mktemp("textual-cache")
    shutil.copytree(options["models"] / "clip", root / "clip", symlinks=True)
    shutil.copytree(root / "clip" / "ViT-B-16-SigLIP__webli", root / "clip" / "nllb-clip-base-siglip__v1")
    return root


@pytest.fixture(scope="module")
def server(options, cache, tmp_path_factory):
    srv = FocalServer(str(options["focal_ml"]), tmp_path_factory.mktemp("textual"),
                      {"MACHINE_LEARNING_CACHE_FOLDER": str(cache)}, name="textual").start()
    yield srv
    assert srv.stop() == 0, srv.log_tail()


@pytest.mark.parametrize("request_name,cache_name,mclip,nllb,language", FAMILIES,
                         ids=[f"{f[0]}-{f[4]}" for f in FAMILIES])
def test_query_embeddings_match_reference(server, cache, request_name, cache_name, mclip, nllb, language):
    reference = ClipTextual(cache / "clip" / cache_name / "textual", mclip=mclip, nllb=nllb)
    options = {"language": language} if language else {}
    entries = {"clip": {"textual": {"modelName": request_name, "options": options}}}
    worst = 1.0
    for query in QUERIES:
        r = predict(server.port, entries, text=query, timeout=60)
        if query == "":
            # FastAPI reads an empty form field as absent, so upstream answers "neither image nor text".
            assert r.status == 400, r.describe()
            continue
        assert r.status == 200, r.describe()
        body = r.json()
        assert set(body) == {"clip"}, body.keys()  # text requests carry no image size
        actual = np.array(json.loads(body["clip"]), dtype=np.float32)
        expected = reference.embed(query, language)
        assert actual.shape == expected.shape
        cosine = float(np.dot(actual, expected) / (np.linalg.norm(actual) * np.linalg.norm(expected)))
        worst = min(worst, cosine)
        assert cosine >= 0.9999, f"{query!r}: cosine {cosine}"
    print(f"\n{request_name} ({language}): {len(QUERIES)} queries, min cosine {worst:.7f}")


def test_nllb_prefix_changes_the_embedding(server):
    """The intended NLLB behaviour: the language reaches the tokenizer (Immich 3.1 drops it, #29751)."""
    def embed(language):
        entries = {"clip": {"textual": {"modelName": "nllb-clip-base-siglip__v1", "options": {"language": language}}}}
        return json.loads(predict(server.port, entries, text="ein Hund", timeout=60).json()["clip"])

    assert embed("de") != embed("fr")
    assert embed("de") == embed("de-AT")  # falls back to the part before '-'
