# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tests for the tokenizer parity tooling: corpus, Immich's clean_text, sentencepiece charsmaps.

Run: .venv/bin/python -m pytest tools/tests -q
"""

from __future__ import annotations

import sys
from pathlib import Path

from tokenizers import normalizers

TOOLS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOOLS))

import tokenizer_corpus  # noqa: E402
import tokenizer_parity  # noqa: E402
import tokenizer_reference  # noqa: E402


def test_corpus_is_deterministic_and_covers_every_category() -> None:
    entries = tokenizer_corpus.generate()
    assert entries == tokenizer_corpus.generate()
    assert len(entries) >= 1000
    for pool in tokenizer_corpus.CATEGORIES.values():
        assert all(text.encode() in entries for text in pool)
    assert all(raw in entries for raw in tokenizer_corpus.INVALID)
    assert sum(len(e) > 500 for e in entries) >= 50  # long inputs that truncate


def test_corpus_file_round_trip(tmp_path: Path) -> None:
    entries = [b"", b"a\nb", "line\u2028sep\u0085".encode(), b"\xff\xfe", b"ok\xc3"]
    path = tmp_path / "corpus.jsonl"
    tokenizer_corpus.write(path, entries)
    assert tokenizer_corpus.read(path) == entries


def test_clean_text_matches_the_spec_examples() -> None:
    assert tokenizer_reference.clean_text("test   search query") == "test search query"
    assert tokenizer_reference.clean_text("Test   Search Query!", canonicalize=True) == "test search query"


def test_precompiled_charsmap_is_sentencepiece_nmt_nfkc() -> None:
    charsmap = tokenizer_parity._charsmap("nmt_nfkc")
    assert int.from_bytes(charsmap[:4], "little") < len(charsmap)
    assert normalizers.Precompiled(charsmap).normalize_str("ｈｅｌｌｏ①") == "hello1"
