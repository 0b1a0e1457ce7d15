#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tokenizer parity fixtures: one tokenizer.json per family + the expected ids from the Python `tokenizers`.

Families cover the Immich model families and every component focal's C++ tokenizer implements:
- the three generated test models (tools/gen_test_models.py), raw and through Immich's clean_text;
- hand-assembled look-alikes of files that cannot be downloaded here (same component types and settings):
  the real OpenAI CLIP vocabulary (from the `open_clip_torch` wheel, when PyPI is reachable), LaBSE (WordPiece),
  Gemma/SigLIP2 (BPE + byte fallback), Llama (Metaspace "first"), Llama 3 (regex + ByteLevel, ignore_merges),
  NLLB (Precompiled + language tokens), XLM-R and T5 with the real sentencepiece `nmt_nfkc` charsmap;
- mixed pipelines for the remaining options (split behaviours, Bert/Punctuation/Digits, added-token flags...).

    .venv/bin/python tools/tokenizer_parity.py --models DIR --out OUT --family NAME   # OUT/NAME/expected.json
    .venv/bin/python tools/tokenizer_parity.py --models DIR --out OUT --count 20000 --seed 3   # stress run
    .venv/bin/python tools/tokenizer_parity.py --list

A family that cannot be built here (no network for the CLIP vocabulary) writes {"skipped": reason} instead.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import io
import json
import random
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path
from typing import Callable

import sentencepiece as spm
from tokenizers import AddedToken, Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tokenizer_corpus  # noqa: E402
import tokenizer_reference  # noqa: E402
from focal_tools import corpus as base  # noqa: E402
from focal_tools.tokenizers_gen import bytes_to_unicode, learn_bpe  # noqa: E402

OPEN_CLIP_WHEEL = "open_clip_torch==3.3.0"  # ships open_clip/bpe_simple_vocab_16e6.txt.gz (the OpenAI vocabulary)
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# Immich's Weblate -> FLORES-200 table (values), used as NLLB language tokens and text prefixes.
FLORES = """afr_Latn arb_Arab azj_Latn bel_Cyrl bul_Cyrl cat_Latn ces_Latn dan_Latn deu_Latn ell_Grek eng_Latn spa_Latn
est_Latn pes_Arab fin_Latn fra_Latn heb_Hebr hin_Deva hrv_Latn hun_Latn hye_Armn ind_Latn ita_Latn jpn_Hira kmr_Latn
kor_Hang ltz_Latn lit_Latn lav_Latn zsm_Latn mkd_Cyrl khk_Cyrl mar_Deva nob_Latn nno_Latn nld_Latn pol_Latn por_Latn
ron_Latn rus_Cyrl slk_Latn slv_Latn srp_Cyrl swe_Latn tam_Taml tel_Telu tha_Thai tur_Latn ukr_Cyrl urd_Arab vie_Latn
zho_Hans zho_Hant""".split()


class Family:
    def __init__(self, tokenizer: Path, pad_token: str, context_length: int = 77, clean: str = "none",
                 language_prefix: bool = False) -> None:
        self.tokenizer, self.pad_token, self.context_length, self.clean = tokenizer, pad_token, context_length, clean
        self.language_prefix = language_prefix  # NLLB: Immich prepends the FLORES code to the text

    def entries(self, corpus: list[bytes]) -> list[bytes]:
        if not self.language_prefix:
            return corpus
        rng = random.Random(11)
        return [(rng.choice(FLORES).encode() if i % 2 else b"") + raw for i, raw in enumerate(corpus)]


class Skip(Exception):
    """The family cannot be built on this machine; the C++ test reports it as skipped."""


# ---- helpers --------------------------------------------------------------------------------------------------------
def _training_lines() -> list[str]:
    corpus = [raw.decode("utf-8", errors="replace") for raw in tokenizer_corpus.generate()]
    return base.english_corpus(800) + base.MULTILINGUAL * 5 + corpus


def _units(tok: Tokenizer, lines: list[str]) -> Counter:
    """Pre-tokenized words of `lines` under `tok`'s normalizer and pre-tokenizer."""
    words: Counter = Counter()
    for line in lines:
        text = tok.normalizer.normalize_str(line) if tok.normalizer is not None else line
        pieces = tok.pre_tokenizer.pre_tokenize_str(text) if tok.pre_tokenizer is not None else [(text, None)]
        words.update(w for w, _ in pieces)
    return words


def _bpe(units: Counter, n_merges: int, first: list[str], min_char_count: int = 1) -> tuple[dict, list]:
    """Deterministic BPE vocab: `first` tokens, then characters seen often enough, then the merge results."""
    merges = learn_bpe(Counter({tuple(u): c for u, c in units.items()}), n_merges)
    chars = Counter()
    for u, c in units.items():
        for ch in u:
            chars[ch] += c
    tokens = first + sorted(ch for ch, c in chars.items() if c >= min_char_count) + [a + b for a, b in merges]
    vocab: dict[str, int] = {}
    for t in tokens:
        vocab.setdefault(t, len(vocab))
    return vocab, [(a, b) for a, b in merges if a in vocab and b in vocab]


def _prefixed_bpe(units: Counter, n_merges: int, first: list[str], prefix: str,
                  min_char_count: int = 1) -> tuple[dict, list]:
    """BPE with a continuing-subword prefix: every merge exists word-initially and word-internally."""
    plain = learn_bpe(Counter({tuple(u): c for u, c in units.items()}), n_merges)
    counts = Counter()
    for u, c in units.items():
        for ch in u:
            counts[ch] += c
    chars = sorted(ch for ch, c in counts.items() if c >= min_char_count)
    tokens = first + chars + [prefix + c for c in chars]
    merges = []
    for a, b in plain:
        merges += [(a, prefix + b), (prefix + a, prefix + b)]
        tokens += [a + b, prefix + a + b]
    known = set(tokens)
    merges = [(a, b) for a, b in merges if a in known and b in known]
    vocab: dict[str, int] = {}
    for t in tokens:
        vocab.setdefault(t, len(vocab))
    return vocab, merges


def _byte_tokens() -> list[str]:
    return [f"<0x{b:02X}>" for b in range(256)]


def _charsmap(rule: str) -> bytes:
    """sentencepiece's compiled charsmap for a built-in normalization rule (what real XLM-R/T5/NLLB files embed)."""
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(["abc def"] * 4), model_writer=model, vocab_size=12,
                                   model_type="char", normalization_rule_name=rule, minloglevel=2, num_threads=1)
    spec = _proto_field(model.getvalue(), 3)  # ModelProto.normalizer_spec
    return _proto_field(spec, 2)  # NormalizerSpec.precompiled_charsmap


def _proto_field(data: bytes, number: int) -> bytes:
    """First length-delimited field `number` of a serialized protobuf message."""
    pos = 0

    def varint() -> int:
        nonlocal pos
        value, shift = 0, 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while pos < len(data):
        key = varint()
        wire = key & 7
        if wire == 0:
            varint()
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size = varint()
            if key >> 3 == number:
                return data[pos:pos + size]
            pos += size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
    raise KeyError(number)


def _precompiled(rule: str = "nmt_nfkc") -> dict:
    return {"type": "Precompiled", "precompiled_charsmap": base64.b64encode(_charsmap(rule)).decode()}


def _save(tok: Tokenizer | dict, out: Path) -> Path:
    path = out / "tokenizer.json"
    data = json.loads(tok.to_str()) if isinstance(tok, Tokenizer) else tok
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def _generated(models_dir: Path, name: str) -> tuple[Path, dict, dict]:
    root = models_dir / "clip" / name
    config = json.loads((root / "config.json").read_text(encoding="utf-8"))
    tok_config = json.loads((root / "textual" / "tokenizer_config.json").read_text(encoding="utf-8"))
    return root / "textual" / "tokenizer.json", config, tok_config


def _with_specials(tok: Tokenizer, specials: list[str]) -> None:
    tok.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in specials])


# ---- families -------------------------------------------------------------------------------------------------------
def generated(name: str, immich: bool) -> Callable[[Path, Path], Family]:
    """A generated test model as Immich runs it: context length and clean mode from its config.json."""

    def build(models_dir: Path, _out: Path) -> Family:
        path, config, tok_config = _generated(models_dir, name)
        text_cfg = config["text_cfg"]
        clean = "none"
        if immich:
            clean = "canonicalize" if text_cfg.get("tokenizer_kwargs", {}).get("clean") == "canonicalize" else "whitespace"
        return Family(path, tok_config["pad_token"], text_cfg.get("context_length", 77), clean)

    return build


def clip_openai_vocab(models_dir: Path, out: Path) -> Family:
    """openai/clip-vit-base-patch32 settings with the real 49408-token vocabulary and 48894 merges."""
    wheel_dir = out.parent / "cache"
    wheels = sorted(wheel_dir.glob("open_clip_torch-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
               "--timeout", "20", "--retries", "1", "-d", str(wheel_dir), OPEN_CLIP_WHEEL]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        except (subprocess.SubprocessError, OSError) as e:
            raise Skip(f"cannot download {OPEN_CLIP_WHEEL} (offline?): {e}") from e
        wheels = sorted(wheel_dir.glob("open_clip_torch-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as whl:
        lines = gzip.decompress(whl.read("open_clip/bpe_simple_vocab_16e6.txt.gz")).decode("utf-8").split("\n")
    merges = lines[1:49152 - 256 - 2 + 1]  # open_clip SimpleTokenizer: the first line is a version header
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m.split()) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    data = json.loads(_generated(models_dir, "ViT-B-32__openai")[0].read_text(encoding="utf-8"))
    data["model"]["vocab"] = {t: i for i, t in enumerate(tokens)}
    data["model"]["merges"] = merges  # legacy "a b" strings, as in the hub file
    sot, eot = len(tokens) - 2, len(tokens) - 1
    data["added_tokens"][0]["id"], data["added_tokens"][1]["id"] = sot, eot
    data["post_processor"]["cls"][1], data["post_processor"]["sep"][1] = sot, eot
    del data["pre_tokenizer"]["pretokenizers"][1]["use_regex"]  # the 2021 hub file predates it (default: true)
    return Family(_save(data, out), "<|endoftext|>")


def labse_wordpiece(_models: Path, out: Path) -> Family:
    """sentence-transformers/LaBSE: cased BertNormalizer, BertPreTokenizer, WordPiece, [CLS] $A [SEP]."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(models.WordPiece({"[UNK]": 0}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                lowercase=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    vocab, _ = _prefixed_bpe(_units(tok, _training_lines()), 1500, specials, "##")
    tok.model = models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100)
    tok.post_processor = processors.TemplateProcessing(single="[CLS]:0 $A:0 [SEP]:0", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    _with_specials(tok, specials)
    return Family(_save(tok, out), "[PAD]")


def _sentencepiece_bpe(first: list[str], normalizer, pre_tokenizer) -> tuple[dict, list]:
    shell = Tokenizer(models.BPE())
    shell.normalizer, shell.pre_tokenizer = normalizer, pre_tokenizer
    lines = _training_lines()
    units = Counter()
    for line in lines:  # sentencepiece never merges across a word boundary: learn on "▁word" units
        units.update("▁" + w for w in line.split())
    return _bpe(units, 1500, first, min_char_count=3)


def gemma_bpe(_models: Path, out: Path) -> Family:
    """Gemma (SigLIP2): Prepend + Replace normalizer, no pre-tokenizer, BPE with byte fallback and fused unk."""
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    vocab, merges = _sentencepiece_bpe(specials + _byte_tokens(), normalizer, None)
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizer
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A <eos>", special_tokens=[("<bos>", 2), ("<eos>", 1)])
    _with_specials(tok, specials)
    tok.add_tokens([AddedToken("<start_of_image>", normalized=False)])
    return Family(_save(tok, out), "<pad>", 64)


def llama_metaspace_first(_models: Path, out: Path) -> Family:
    """Llama 2 (legacy=False): Metaspace prepend_scheme "first" without split, byte fallback; added-token flags."""
    specials = ["<unk>", "<s>", "</s>"]
    pre = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    vocab, merges = _sentencepiece_bpe(specials + _byte_tokens(), None, pre)
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.pre_tokenizer = pre
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    _with_specials(tok, specials)
    tok.add_special_tokens([AddedToken("<sep>", lstrip=True, rstrip=True, normalized=False, special=True)])
    tok.add_tokens([AddedToken("yes", single_word=True), AddedToken("New York", single_word=True, normalized=False)])
    return Family(_save(tok, out), "</s>")


def llama3_bytelevel(_models: Path, out: Path) -> Family:
    """Llama 3: regex Split (case-insensitive group, lookahead) + ByteLevel without regex, ignore_merges."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    vocab, merges = _bpe(_units(tok, _training_lines()), 1500, list(bytes_to_unicode().values()))
    specials = ["<|begin_of_text|>", "<|end_of_text|>"]
    for s in specials:
        vocab[s] = len(vocab)
    tok.model = models.BPE(vocab, merges, ignore_merges=True)
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", vocab[specials[0]])]),
    ])
    _with_specials(tok, specials)
    return Family(_save(tok, out), "<|end_of_text|>")


def nllb_precompiled(_models: Path, out: Path) -> Family:
    """facebook/nllb-200: Precompiled + Replace, Metaspace, BPE, language tokens; Immich prefixes "deu_Latn" + text."""
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    pre = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    vocab, merges = _sentencepiece_bpe(specials, None, pre)
    tok = Tokenizer(models.BPE(vocab, merges, unk_token="<unk>", fuse_unk=True))
    tok.pre_tokenizer = pre
    _with_specials(tok, specials + FLORES + ["<mask>"])
    eng = tok.token_to_id("eng_Latn")
    tok.post_processor = processors.TemplateProcessing(single="eng_Latn $A </s>", special_tokens=[("eng_Latn", eng), ("</s>", 2)])
    data = json.loads(tok.to_str())
    data["normalizer"] = {"type": "Sequence", "normalizers": [
        _precompiled(), {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
    return Family(_save(data, out), "<pad>", language_prefix=True)


def xlmr_precompiled(models_dir: Path, out: Path) -> Family:
    """xlm-roberta-large as on the hub in 2020: Precompiled alone, legacy Metaspace keys, RobertaProcessing."""
    path, _, tok_config = _generated(models_dir, "XLM-Roberta-Large-Vit-B-32")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["normalizer"] = _precompiled()
    data["pre_tokenizer"] = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
    data["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": True,
                              "add_prefix_space": True}
    return Family(_save(data, out), tok_config["pad_token"])


def t5_precompiled(models_dir: Path, out: Path) -> Family:
    """SigLIP (T5 sentencepiece): Precompiled + Strip(right) + Replace, WhitespaceSplit + Metaspace, "$A </s>"."""
    path, _, tok_config = _generated(models_dir, "ViT-B-16-SigLIP__webli")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["normalizer"] = {"type": "Sequence", "normalizers": [
        _precompiled(), {"type": "Strip", "strip_left": False, "strip_right": True},
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "▁"}]}
    return Family(_save(data, out), tok_config["pad_token"], 64)


def mixed_wordpiece(_models: Path, out: Path) -> Family:
    """Strip + lower-casing BertNormalizer (strips accents), Whitespace + Digits + Punctuation, short max word,
    BertProcessing."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    tok = Tokenizer(models.WordPiece({"[UNK]": 0}, unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.Strip(), normalizers.BertNormalizer(lowercase=True)])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.Punctuation(behavior="contiguous")])
    vocab, _ = _prefixed_bpe(_units(tok, _training_lines()), 800, specials, "##")
    tok.model = models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=12)
    tok.post_processor = processors.BertProcessing(("[SEP]", 3), ("[CLS]", 2))
    _with_specials(tok, specials)
    tok.add_special_tokens([AddedToken("[SPECIAL]", normalized=True, special=True)])
    tok.add_tokens([AddedToken("New York", single_word=True, normalized=True)])
    return Family(_save(tok, out), "[PAD]", 32)


def mixed_bpe(_models: Path, out: Path) -> Family:
    """NFKD + StripAccents + Strip + Replace + Lowercase + NFC; every Split behaviour; Metaspace "never"; ByteLevel
    with prefix space; BPE with a continuing-subword prefix, merges as pairs and unfused unknowns; Sequence
    post-processor; lstrip/rstrip token."""
    specials = ["<pad>", "<s>", "</s>"]
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.Sequence([
        normalizers.NFKD(), normalizers.StripAccents(), normalizers.Strip(left=True, right=False),
        normalizers.Replace("’", "'"), normalizers.Lowercase(), normalizers.NFC()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="_", prepend_scheme="never", split=True),
        pre_tokenizers.Split("-", behavior="merged_with_previous"),
        pre_tokenizers.Split(Regex(r"\d+"), behavior="isolated"),
        pre_tokenizers.Split(Regex("[aeiou]"), behavior="merged_with_next"),
        pre_tokenizers.Split(Regex(r"\s+"), behavior="contiguous"),
        pre_tokenizers.Split(Regex(r"[^\s]+"), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)])
    # Rare bytes stay out of the vocabulary, so unknown (not fused) tokens occur.
    vocab, merges = _prefixed_bpe(_units(tok, _training_lines()), 800, specials + ["<unk>"], "##", min_char_count=3)
    tok.model = models.BPE(vocab, merges, continuing_subword_prefix="##", unk_token="<unk>", fuse_unk=False)
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=True),
        processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)])])
    _with_specials(tok, specials)
    tok.add_special_tokens([AddedToken("<sep>", lstrip=True, rstrip=True, normalized=False, special=True)])
    return Family(_save(tok, out), "<pad>", 32)


def mixed_unigram(models_dir: Path, out: Path) -> Family:
    """Unigram with byte fallback; Precompiled nmt_nfkc_cf inside a Sequence; Punctuation(removed) and Metaspace
    "first" after other pre-tokenizers (its original offsets decide the prefix)."""
    path, _, _ = _generated(models_dir, "XLM-Roberta-Large-Vit-B-32")
    data = json.loads(path.read_text(encoding="utf-8"))
    data["model"]["vocab"] += [[b, 0.0] for b in _byte_tokens()]
    data["model"]["byte_fallback"] = True
    data["normalizer"] = {"type": "Sequence", "normalizers": [
        _precompiled("nmt_nfkc_cf"), {"type": "NFD"}, {"type": "Replace", "pattern": {"Regex": "[0-9]"}, "content": "#"},
        {"type": "NFC"}]}
    data["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, {"type": "Punctuation", "behavior": "Removed"},
        {"type": "Digits", "individual_digits": False},
        {"type": "Split", "pattern": {"String": "x"}, "behavior": "MergedWithPrevious", "invert": False},
        {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": True}]}
    return Family(_save(data, out), "<pad>", 32)


FAMILIES: dict[str, Callable[[Path, Path], Family]] = {
    "clip": generated("ViT-B-32__openai", immich=False),
    "clip-immich": generated("ViT-B-32__openai", immich=True),
    "xlmr": generated("XLM-Roberta-Large-Vit-B-32", immich=False),
    "xlmr-immich": generated("XLM-Roberta-Large-Vit-B-32", immich=True),
    "siglip": generated("ViT-B-16-SigLIP__webli", immich=False),
    "siglip-immich": generated("ViT-B-16-SigLIP__webli", immich=True),
    "clip-openai-vocab": clip_openai_vocab,
    "labse-wordpiece": labse_wordpiece,
    "gemma-bpe": gemma_bpe,
    "llama-metaspace-first": llama_metaspace_first,
    "llama3-bytelevel": llama3_bytelevel,
    "nllb-precompiled": nllb_precompiled,
    "xlmr-precompiled": xlmr_precompiled,
    "t5-precompiled": t5_precompiled,
    "mixed-wordpiece": mixed_wordpiece,
    "mixed-bpe": mixed_bpe,
    "mixed-unigram": mixed_unigram,
}


def build(name: str, models_dir: Path, out_dir: Path, corpus: list[bytes]) -> dict:
    out = out_dir / name
    out.mkdir(parents=True, exist_ok=True)
    try:
        fam = FAMILIES[name](models_dir, out)
    except Skip as e:
        result = {"family": name, "skipped": str(e)}
    else:
        result = tokenizer_reference.reference(fam.tokenizer, fam.pad_token, fam.context_length, fam.entries(corpus),
                                               fam.clean)
        result["family"] = name
    (out / "expected.json").write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=Path, help="generated model cache (tools/gen_test_models.py --out)")
    ap.add_argument("--out", type=Path, help="output folder; each family writes OUT/NAME/expected.json")
    ap.add_argument("--family", action="append", choices=sorted(FAMILIES), help="default: all")
    ap.add_argument("--seed", type=int, default=7, help="corpus seed (tools/tokenizer_corpus.py)")
    ap.add_argument("--count", type=int, default=1200, help="corpus size; raise it for stress runs")
    ap.add_argument("--list", action="store_true", help="print the family names and exit")
    args = ap.parse_args()
    if args.list:
        print("\n".join(FAMILIES))
        return
    if args.models is None or args.out is None:
        ap.error("--models and --out are required")
    corpus = tokenizer_corpus.generate(args.seed, args.count)
    for name in args.family or FAMILIES:
        result = build(name, args.models, args.out, corpus)
        print(f"{name}: {result.get('skipped') or str(len(result['cases'])) + ' strings'}")


if __name__ == "__main__":
    main()
