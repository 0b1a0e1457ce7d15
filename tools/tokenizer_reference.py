#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Expected token ids from the Python `tokenizers` library, configured exactly as Immich's CLIP textual encoder.

Immich (machine-learning/immich_ml/models/clip/textual.py) loads `textual/tokenizer.json`, looks the
`tokenizer_config.json` pad token up in the vocabulary, then calls
`enable_padding(length=L, pad_token=..., pad_id=...)` and `enable_truncation(max_length=L)`, and encodes
`clean_text(text)` (whitespace collapse; with `clean == "canonicalize"` also punctuation removal + lower-case).

    .venv/bin/python tools/tokenizer_reference.py --tokenizer DIR/tokenizer.json --config DIR/tokenizer_config.json \\
        --context-length 77 --corpus corpus.jsonl --clean none --out expected.json

Output: {"tokenizer", "context_length", "pad_token", "clean", "cases": [{"input_hex", "cleaned"?, "ids", "mask"}]}.
Inputs are raw bytes; invalid UTF-8 is decoded with errors="replace" (one U+FFFD per maximal invalid subpart).
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from pathlib import Path

from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tokenizer_corpus  # noqa: E402

_PUNCTUATION_TRANS = str.maketrans("", "", string.punctuation)
CLEAN_MODES = ("none", "whitespace", "canonicalize")


def clean_text(text: str, canonicalize: bool = False) -> str:
    """immich_ml.models.transforms.clean_text."""
    text = " ".join(text.split())
    if canonicalize:
        text = text.translate(_PUNCTUATION_TRANS).lower()
    return text


def immich_tokenizer(tokenizer_json: Path, pad_token: str, context_length: int) -> Tokenizer:
    tok = Tokenizer.from_file(str(tokenizer_json))
    pad_id = tok.token_to_id(pad_token)
    if pad_id is None:
        raise ValueError(f"pad token {pad_token!r} is not in the vocabulary of {tokenizer_json}")
    tok.enable_padding(length=context_length, pad_token=pad_token, pad_id=pad_id)
    tok.enable_truncation(max_length=context_length)
    return tok


def reference(tokenizer_json: Path, pad_token: str, context_length: int, entries: list[bytes], clean: str) -> dict:
    tok = immich_tokenizer(tokenizer_json, pad_token, context_length)
    cases = []
    for raw in entries:
        text = raw.decode("utf-8", errors="replace")
        case: dict = {"input_hex": raw.hex()}
        if clean != "none":
            text = clean_text(text, canonicalize=clean == "canonicalize")
            case["cleaned"] = text
        enc = tok.encode(text)
        case["ids"], case["mask"] = enc.ids, enc.attention_mask
        cases.append(case)
    return {
        "tokenizer": str(tokenizer_json),
        "context_length": context_length,
        "pad_token": pad_token,
        "clean": clean,
        "cases": cases,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokenizer", type=Path, required=True, help="tokenizer.json")
    ap.add_argument("--config", type=Path, required=True, help="tokenizer_config.json (pad_token)")
    ap.add_argument("--context-length", type=int, default=77)
    ap.add_argument("--corpus", type=Path, required=True, help="JSON Lines from tokenizer_corpus.py")
    ap.add_argument("--clean", choices=CLEAN_MODES, default="none")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    pad_token = json.loads(args.config.read_text(encoding="utf-8"))["pad_token"]
    result = reference(args.tokenizer, pad_token, args.context_length, tokenizer_corpus.read(args.corpus), args.clean)
    args.out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
