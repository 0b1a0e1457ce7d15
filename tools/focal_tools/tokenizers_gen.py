# SPDX-License-Identifier: AGPL-3.0-or-later
"""Small, deterministic CLIP (byte-level BPE) and SentencePiece-style (Unigram) tokenizers.

The `tokenizers` trainers are not deterministic across processes (merge ties and ids depend on hash-map order), so
the vocabulary is learnt here with a plain BPE loop with fixed tie-breaking, and the tokenizers are then assembled
from the `tokenizers` components with the same settings as the real Hugging Face files:
- CLIP: openai/clip-vit-base-patch32 (vocab in CLIP order: 256 bytes, 256 bytes + "</w>", merges, specials last,
  so the end-of-text token has the highest id, which the text tower's ArgMax pooling relies on);
- XLM-R: xlm-roberta-large (<s> <pad> </s> <unk> = 0..3, Metaspace, "<s> $A </s>"), NFKC instead of the
  Precompiled sentencepiece charsmap;
- SigLIP: the T5/c4-en SentencePiece tokenizer (<pad> </s> <unk> = 0..2, "$A </s>").
"""

from __future__ import annotations

import heapq
import json
import math
from collections import Counter
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from . import corpus

CLIP_SPLIT = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""
SOT, EOT = "<|startoftext|>", "<|endoftext|>"


# ---- BPE learning ---------------------------------------------------------------------------------------------------
def learn_bpe(words: Counter, n_merges: int, min_count: int = 2) -> list[tuple[str, str]]:
    """Classic BPE on {tuple(symbols): count}. Ties break on the lexicographically smallest pair (deterministic)."""
    vocab = [list(w) for w in sorted(words)]
    counts = [words[w] for w in sorted(words)]
    pair_count: Counter = Counter()
    where: dict[tuple[str, str], set[int]] = {}

    def add_word(i: int, sign: int) -> None:
        syms = vocab[i]
        for p in zip(syms, syms[1:]):
            pair_count[p] += sign * counts[i]
            if sign > 0:
                where.setdefault(p, set()).add(i)

    for i in range(len(vocab)):
        add_word(i, +1)
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)

    merges: list[tuple[str, str]] = []
    while heap and len(merges) < n_merges:
        neg, pair = heapq.heappop(heap)
        current = pair_count.get(pair, 0)
        if -neg != current:  # stale entry; the live count was pushed separately
            continue
        if current < min_count:
            break
        merges.append(pair)
        merged = pair[0] + pair[1]
        touched: set[tuple[str, str]] = set()
        for i in sorted(where.pop(pair, ())):
            syms = vocab[i]
            if not any(a == pair[0] and b == pair[1] for a, b in zip(syms, syms[1:])):
                continue
            add_word(i, -1)
            touched.update(zip(syms, syms[1:]))
            out, j = [], 0
            while j < len(syms):
                if j + 1 < len(syms) and syms[j] == pair[0] and syms[j + 1] == pair[1]:
                    out.append(merged)
                    j += 2
                else:
                    out.append(syms[j])
                    j += 1
            vocab[i] = out
            add_word(i, +1)
            touched.update(zip(out, out[1:]))
        pair_count.pop(pair, None)
        for p in sorted(touched):
            c = pair_count.get(p, 0)
            if c <= 0:
                pair_count.pop(p, None)
            elif p != pair:
                heapq.heappush(heap, (-c, p))
    return merges


def _pretokenize(tok: Tokenizer, lines: list[str]) -> Counter:
    words: Counter = Counter()
    for line in lines:
        text = tok.normalizer.normalize_str(line) if tok.normalizer is not None else line  # Sequence is falsy
        for w, _ in tok.pre_tokenizer.pre_tokenize_str(text):
            words[w] += 1
    return words


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


# ---- CLIP -----------------------------------------------------------------------------------------------------------
def clip_tokenizer(n_merges: int = 2000) -> Tokenizer:
    shell = Tokenizer(models.BPE())
    shell.normalizer = normalizers.Sequence(
        [normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Lowercase()]
    )
    shell.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(CLIP_SPLIT), behavior="removed", invert=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    words = _pretokenize(shell, corpus.english_corpus() + corpus.MULTILINGUAL)
    merges = learn_bpe(Counter({tuple(w[:-1]) + (w[-1] + "</w>",): c for w, c in words.items()}), n_merges)

    base = list(bytes_to_unicode().values())
    tokens = base + [b + "</w>" for b in base] + [a + b for a, b in merges]
    vocab: dict[str, int] = {}
    for t in tokens:
        vocab.setdefault(t, len(vocab))
    vocab[SOT] = len(vocab)
    vocab[EOT] = len(vocab)

    tok = Tokenizer(
        models.BPE(
            vocab=vocab,
            merges=merges,
            unk_token=EOT,
            continuing_subword_prefix="",
            end_of_word_suffix="</w>",
            fuse_unk=False,
        )
    )
    tok.normalizer = shell.normalizer
    tok.pre_tokenizer = shell.pre_tokenizer
    tok.post_processor = processors.RobertaProcessing(
        sep=(EOT, vocab[EOT]), cls=(SOT, vocab[SOT]), trim_offsets=False, add_prefix_space=False
    )
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(SOT, normalized=True, special=True), AddedToken(EOT, normalized=False, special=True)])
    return tok


def clip_tokenizer_config(tok: Tokenizer, context: int = 77) -> tuple[dict, dict]:
    v = tok.get_vocab()
    added = {
        str(v[SOT]): _added(SOT, normalized=True),
        str(v[EOT]): _added(EOT, normalized=False),
    }
    config = {
        "add_prefix_space": False,
        "added_tokens_decoder": added,
        "bos_token": SOT,
        "clean_up_tokenization_spaces": True,
        "do_lower_case": True,
        "eos_token": EOT,
        "errors": "replace",
        "model_max_length": context,
        "pad_token": EOT,
        "tokenizer_class": "CLIPTokenizer",
        "unk_token": EOT,
    }
    special = {"bos_token": added[str(v[SOT])], "eos_token": added[str(v[EOT])], "pad_token": EOT, "unk_token": added[str(v[EOT])]}
    return config, _strip_special(special)


# ---- Unigram (SentencePiece-style) ----------------------------------------------------------------------------------
def _learn_unigram(words: Counter, specials: list[str], unk_id: int, n_merges: int) -> list[tuple[str, float]]:
    """Candidate pieces = all characters + BPE merges; scores = log-probs re-estimated from Viterbi segmentations."""
    chars = Counter()
    for w, c in words.items():
        for ch in w:
            chars[ch] += c
    pieces = sorted(chars) + [a + b for a, b in learn_bpe(Counter({tuple(w): c for w, c in words.items()}), n_merges)]
    pieces = list(dict.fromkeys(pieces))
    piece_set = set(pieces)

    # Initial scores: substring frequency (sentencepiece seeds EM the same way).
    freq: Counter = Counter()
    for w, c in words.items():
        for i in range(len(w)):
            for j in range(i + 1, min(len(w), i + 24) + 1):
                if w[i:j] in piece_set:
                    freq[w[i:j]] += c
    scores = {p: float(freq[p]) for p in pieces}

    for _ in range(2):  # a couple of hard-EM rounds are enough to make frequent whole words win
        total = sum(scores.values())
        vocab = [(s, 0.0) for s in specials] + [(p, math.log(max(scores[p], 0.1) / total)) for p in pieces]
        model = models.Unigram(vocab, unk_id, False)
        used: Counter = Counter()
        for w, c in words.items():
            for t in model.tokenize(w):
                used[t.value] += c
        scores = {p: used[p] + 0.1 for p in pieces}

    total = sum(scores.values())
    scored = sorted(((p, round(math.log(scores[p] / total), 6)) for p in pieces), key=lambda ps: (-ps[1], ps[0]))
    return [(s, 0.0) for s in specials] + scored


def _spm_normalizer():
    # Stands in for the Precompiled (nmt_nfkc) charsmap of real sentencepiece exports.
    return normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])


def xlmr_tokenizer(n_merges: int = 1800) -> Tokenizer:
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    shell = Tokenizer(models.Unigram())
    shell.normalizer = _spm_normalizer()
    shell.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    vocab = _learn_unigram(_pretokenize(shell, corpus.multilingual_corpus()), specials, 3, n_merges)
    tok = Tokenizer(models.Unigram(vocab, 3, False))
    tok.normalizer = shell.normalizer
    tok.pre_tokenizer = shell.pre_tokenizer
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in specials])
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, normalized=False, special=True)])
    return tok


def xlmr_tokenizer_config(tok: Tokenizer) -> tuple[dict, dict]:
    v = tok.get_vocab()
    added = {str(v[s]): _added(s) for s in ["<s>", "<pad>", "</s>", "<unk>"]}
    added[str(v["<mask>"])] = _added("<mask>", lstrip=True)
    config = {
        "added_tokens_decoder": added,
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": True,
        "cls_token": "<s>",
        "eos_token": "</s>",
        "mask_token": "<mask>",
        "model_max_length": 512,
        "pad_token": "<pad>",
        "sep_token": "</s>",
        "tokenizer_class": "XLMRobertaTokenizer",
        "unk_token": "<unk>",
    }
    special = {
        "bos_token": "<s>",
        "cls_token": "<s>",
        "eos_token": "</s>",
        "mask_token": added[str(v["<mask>"])],
        "pad_token": "<pad>",
        "sep_token": "</s>",
        "unk_token": "<unk>",
    }
    return config, _strip_special(special)


def siglip_tokenizer(n_merges: int = 1200) -> Tokenizer:
    specials = ["<pad>", "</s>", "<unk>"]
    shell = Tokenizer(models.Unigram())
    shell.normalizer = _spm_normalizer()
    shell.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)]
    )
    # Immich lower-cases and strips punctuation for SigLIP (clean="canonicalize"), so train on text cleaned that way.
    lines = [" ".join(l.lower().translate({ord(c): None for c in r"""!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"""}).split())
             for l in corpus.english_corpus()]
    lines += corpus.CAPTIONS + corpus.MISC  # raw case and punctuation too, so those characters are not all <unk>
    vocab = _learn_unigram(_pretokenize(shell, lines), specials, 2, n_merges)
    tok = Tokenizer(models.Unigram(vocab, 2, False))
    tok.normalizer = shell.normalizer
    tok.pre_tokenizer = shell.pre_tokenizer
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in specials])
    return tok


def siglip_tokenizer_config(tok: Tokenizer, context: int = 64) -> tuple[dict, dict]:
    v = tok.get_vocab()
    config = {
        "added_tokens_decoder": {str(v[s]): _added(s) for s in ["<pad>", "</s>", "<unk>"]},
        "additional_special_tokens": [],
        "clean_up_tokenization_spaces": True,
        "eos_token": "</s>",
        "extra_ids": 0,
        "model_max_length": context,
        "pad_token": "</s>",
        "tokenizer_class": "T5Tokenizer",
        "unk_token": "<unk>",
    }
    return config, {"eos_token": "</s>", "pad_token": "</s>", "unk_token": "<unk>"}


# ---- files ----------------------------------------------------------------------------------------------------------
def _added(content: str, lstrip: bool = False, normalized: bool = False) -> dict:
    return {"content": content, "lstrip": lstrip, "normalized": normalized, "rstrip": False, "single_word": False, "special": True}


def _strip_special(d: dict) -> dict:
    # special_tokens_map.json stores AddedToken dicts without the "special" flag.
    return {k: ({kk: vv for kk, vv in v.items() if kk != "special"} if isinstance(v, dict) else v) for k, v in d.items()}


def write_json(path: Path, obj: dict) -> None:
    # HF's save_pretrained style: sorted keys, indent 2, UTF-8.
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def tokenizer_json(tok: Tokenizer) -> str:
    """tokenizer.json text. BPE merges are written in the legacy "a b" string form used by the Hugging Face hub
    files that Immich ships (tokenizers >= 0.20 would write ["a", "b"] pairs); byte-level tokens never contain a
    space, so the legacy form is unambiguous, and `tokenizers` reads both."""
    data = json.loads(tok.to_str())
    if data["model"]["type"] == "BPE":
        data["model"]["merges"] = [" ".join(pair) for pair in data["model"]["merges"]]
    return json.dumps(data, indent=2, ensure_ascii=False)


def write_tokenizer(dir_: Path, tok: Tokenizer, config: dict, special_map: dict) -> None:
    dir_.mkdir(parents=True, exist_ok=True)
    (dir_ / "tokenizer.json").write_text(tokenizer_json(tok), encoding="utf-8")
    write_json(dir_ / "tokenizer_config.json", config)
    write_json(dir_ / "special_tokens_map.json", special_map)
