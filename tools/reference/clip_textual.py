# SPDX-License-Identifier: AGPL-3.0-or-later
"""CLIP text tower exactly as the reference pipeline does it, with the Python `tokenizers` package.

Text cleaning (whitespace collapse; canonicalize for configs that ask), the NLLB language prefix (the intended
behaviour: the prefix reaches the tokenizer), fixed-length truncation and padding, first output row 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tokenizer_reference import clean_text, immich_tokenizer  # noqa: E402

# Weblate locale -> FLORES-200, Immich's table.
FLORES = {
    "af": "afr_Latn", "ar": "arb_Arab", "az": "azj_Latn", "be": "bel_Cyrl", "bg": "bul_Cyrl", "ca": "cat_Latn",
    "cs": "ces_Latn", "da": "dan_Latn", "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn",
    "et": "est_Latn", "fa": "pes_Arab", "fi": "fin_Latn", "fr": "fra_Latn", "he": "heb_Hebr", "hi": "hin_Deva",
    "hr": "hrv_Latn", "hu": "hun_Latn", "hy": "hye_Armn", "id": "ind_Latn", "it": "ita_Latn", "ja": "jpn_Hira",
    "kmr": "kmr_Latn", "ko": "kor_Hang", "lb": "ltz_Latn", "lt": "lit_Latn", "lv": "lav_Latn", "mfa": "zsm_Latn",
    "mk": "mkd_Cyrl", "mn": "khk_Cyrl", "mr": "mar_Deva", "ms": "zsm_Latn", "nb-NO": "nob_Latn", "nn": "nno_Latn",
    "nl": "nld_Latn", "pl": "pol_Latn", "pt-BR": "por_Latn", "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl",
    "sk": "slk_Latn", "sl": "slv_Latn", "sr-Cyrl": "srp_Cyrl", "sv": "swe_Latn", "ta": "tam_Taml", "te": "tel_Telu",
    "th": "tha_Thai", "tr": "tur_Latn", "uk": "ukr_Cyrl", "ur": "urd_Arab", "vi": "vie_Latn", "zh-CN": "zho_Hans",
    "zh-Hans": "zho_Hans", "zh-TW": "zho_Hant",
}


def flores_code(language: str) -> str:
    return FLORES.get(language) or FLORES.get(language.split("-")[0]) or "eng_Latn"


class ClipTextual:
    def __init__(self, model_dir: Path, mclip: bool = False, nllb: bool = False):
        config = json.loads((model_dir.parent / "config.json").read_text())
        text_cfg = config.get("text_cfg", {})
        self.context_length = text_cfg.get("context_length") or 77
        self.canonicalize = text_cfg.get("tokenizer_kwargs", {}).get("clean") == "canonicalize"
        pad = json.loads((model_dir / "tokenizer_config.json").read_text())["pad_token"]
        pad = pad["content"] if isinstance(pad, dict) else pad
        self.tokenizer = immich_tokenizer(model_dir / "tokenizer.json", pad, self.context_length)
        self.mclip, self.nllb = mclip, nllb
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 2
        self.session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])

    def prepare(self, text: str, language: str | None = None) -> str:
        text = clean_text(text, self.canonicalize)
        return flores_code(language) + text if self.nllb and language else text

    def embed(self, text: str, language: str | None = None) -> np.ndarray:
        enc = self.tokenizer.encode(self.prepare(text, language))
        ids = np.array([enc.ids], dtype=np.int32)
        if self.mclip:
            feeds = {"input_ids": ids, "attention_mask": np.array([enc.attention_mask], dtype=np.int32)}
        else:
            feeds = {self.session.get_inputs()[0].name: ids}
        return self.session.run(None, feeds)[0][0]
