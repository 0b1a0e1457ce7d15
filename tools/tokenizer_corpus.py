#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Deterministic stress corpus for tokenizer parity tests (C++ focal_tokenizer vs the Python `tokenizers`).

Each entry is `bytes`: almost all are UTF-8 text, a few are deliberately invalid UTF-8. On disk it is JSON Lines:
a JSON string per line, or `{"hex": "..."}` for byte strings that are not valid UTF-8 (Python's `tokenizers` takes
`str`, so the reference decodes those with `errors="replace"`, which is what the C++ side does on raw bytes).

    .venv/bin/python tools/tokenizer_corpus.py --out corpus.jsonl [--seed 7] [--count 1200]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import unicodedata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from focal_tools import corpus as base  # noqa: E402

ENGLISH = base.CAPTIONS + base.MISC
MULTILINGUAL = base.MULTILINGUAL

ACCENTED = [
    "café naïve résumé jalapeño façade", "Ångström Øresund Straße ẞ", "Łódź Kraków Gdańsk źdźbło",
    "Đặng Thị Ngọc Ánh ở Hà Nội", "São Paulo, Curaçao, Açores", "Zürich Köln Düsseldorf", "İstanbul ığdır Şişli",
    "Þingvellir Ísafjörður", "Škoda Čeština Žižkov", "ǅemal ǈubljana ǋanja", "ŉ ĳ œ æ ø",
    "cafe\u0301 nai\u0308ve re\u0301sume\u0301",  # decomposed (NFD) accents
    "a\u0323\u0302 a\u0302\u0323 \u1ea1\u0302 \u1ead",  # canonical reordering + composition
]

SCRIPTS = {
    "cjk": ["東京タワーの夜景", "北京烤鸭很好吃", "서울의 밤거리 풍경", "漢字かなカナ交じり文", "𠮷野家の牛丼", "中文，标点！（测试）",
            "ｶﾀｶﾅ ﾊﾝｶｸ", "\u1100\u1161\u11a8 \u1112\u1161\u11ab\u1100\u1173\u11af"],
    "arabic": ["مرحبا بالعالم", "الصور العائلية في الحديقة", "أَهْلًا وَسَهْلًا", "١٢٣٤٥٦٧٨٩٠ ٪", "ﻻ ﷲ ﷺ"],
    "hebrew": ["שלום עולם", "תמונות מהחופשה בים", "בְּרֵאשִׁית בָּרָא", "ש״ח ׳"],
    "devanagari": ["नमस्ते दुनिया", "क्षत्रिय ज्ञान श्री", "क़िला ज़िंदगी", "१२३ रुपये"],
    "thai": ["สวัสดีครับ", "ภาพถ่ายครอบครัวที่ทะเล", "๑๒๓ บาท"],
    "cyrillic": ["Привет, мир!", "Фотографии с моря", "Ёлка и ёж", "Ѓорѓија Ќерка"],
    "greek": ["ΟΔΥΣΣΕΥΣ", "Καλημέρα κόσμε", "ΣΊΣΥΦΟΣ ΣΑΣ", "ᾼ ᾳ ΐ ΰ"],
    "other": ["ሰላም ዓለም", "Բարեւ աշխարհ", "გამარჯობა", "வணக்கம் உலகம்", "ನಮಸ್ಕಾರ", "ສະບາຍດີ", "မင်္ဂလာပါ",
              "ᠮᠣᠩᠭᠣᠯ\u180eᠪᠢᠴᠢᠭ", "ᏣᎳᎩ", "ꦧꦱꦗꦮ"],
}

EMOJI = [
    "😀", "😂", "🐶", "🌅", "🎂", "❤️", "❤\ufe0f\u200d🔥", "👍🏽", "👩🏿\u200d💻", "👨\u200d👩\u200d👧\u200d👦",
    "🏳️\u200d🌈", "🇩🇪", "🇯🇵🇺🇸", "1️⃣", "#️⃣", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    "🧑\u200d🤝\u200d🧑", "🥰", "🫠", "🪿", "☺", "☺️", "✌🏻", "🤷‍♀️", "🧔🏻‍♂️",
]

WHITESPACE = [
    "", " ", "   ", "\t", "\n", "\r\n", " \t\n\r\x0b\x0c ", "\u00a0", "\u3000", "\u2003\u2009\u200a", "\u1680",
    "\u2028\u2029", "\u0085", "\u180e", "\u200b", "\ufeff", "\x1c\x1d\x1e\x1f", "\u202f\u205f",
    "  leading", "trailing  ", "\tin\u00a0between\u3000words\n", "a\u200bb", "multiple     spaces   here",
]

PUNCTUATION = [
    "!!!", "...", "?!?!", "¿¡", "«»", "“”‘’", "—–-", "()[]{}<>", "@#$%^&*", "、。「」", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "…", "‽", "§¶†‡", "''", "'s 't 're 've 'm 'll 'd", "don't won't it's", "o'clock", "rock'n'roll",
]

NUMBERS = [
    "0", "42", "3.14159", "1,234,567.89", "-273.15°C", "1e-9", "2023-08-14", "12:30:45", "+49 30 1234567",
    "١٢٣", "۱۲۳", "०१२३", "①②③", "ⅠⅡⅢⅫ", "½ ¼ ¾", "x² y³", "１２３４５", "𝟘𝟙𝟚", "🯰🯱🯲", "1st 2nd 3rd", "007",
    "123456789012345678901234567890",
]

URLS = [
    "https://immich.app/docs/features/smart-search", "http://example.com/a?b=c&d=e#f", "www.example.org",
    "user.name+tag@example.co.uk", "ftp://files.example.net/pub/file.tar.gz", "/home/user/Pictures/IMG_0001.JPG",
    "C:\\Users\\me\\Photos\\2023\\DSC_0042.NEF", "#hashtag @mention", "https://例え.jp/パス",
]

SPECIALS = [
    "<|endoftext|>", "<|startoftext|>", "</s>", "<s>", "<pad>", "<unk>", "<mask>", "[CLS]", "[SEP]", "[MASK]",
    "[UNK]", "<bos>", "<eos>", "<|EndOfText|>", "< /s>", "<s >", "a</s>b", "hello<|endoftext|>world",
    "<|startoftext|>a photo<|endoftext|>", "  <mask>  masked", "<mask>", "x <sep> y", "x<sep>y", "[SPECIAL] [special]",
    "eng_Latn", "deu_Latn hallo", "fra_Latnbonjour", "yes", "yes!", "eyes", "yesterday", "say yes please",
    "New York", "NewYork", "new york city", "<0x41><0xFF>", "▁", "▁▁hello", "##ing", "</w>", "<s></s><pad>",
]

CONTROL = [
    "\x00", "a\x00b", "\x01\x02\x07\x1b[31mred\x1b[0m", "\x7f", "\x80\x85\x9f", "left\u200eright\u200f",
    "\u202eevil\u202c", "\u2066isolate\u2069", "\ufffd", "zero\u200dwidth\u200cjoiners", "\ufff9\ufffa\ufffb",
    "\U000e0001\U000e0041", "\ue000\uf8ff", "\U000f0000\U0010fffd", "\ufffe\uffff", "soft\u00adhyphen",
]

COMBINING = [
    "e\u0301", "\u0301leading mark", "a\u0301\u0308\u0323", "Z\u0334\u0321\u032a\u032b\u0356\u0324\u0344\u030c\u033e\u0345a",
    "o\u0338", "\u0344\u0301", "\u0f73\u0f75\u0f81", "ﬁ ﬂ ﬀ", "\u1e9b\u0323", "\u00c5 A\u030a \u212b", "\u2126 \u03a9",
    "\u0958\u093c", "\u05d1\u05bc\u05b8", "\u0e01\u0e49\u0e33", "q\u0307\u0323", "\u1100\u1161", "\uac00\u11a8",
    "\u0300\u0300\u0300", "\u0345\u0301", "ǖ ǘ ǚ ǜ", "x\u034f\u0301", "a\u0300\u0315\u0301",
]

FULLWIDTH = [
    "ＡＢＣ　ｄｅｆ！", "ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ", "ⓐⓑⓒ Ⓐ", "𝐀𝐁𝐂 𝒶𝒷𝒸 𝔄𝔅", "㍿ ㌀ ㎏ ㏒", "™ № ℡ ℃",
    "ｶﾞｷﾞ", "¹²³ ₁₂₃", "ǆ ǲ Ǳ", "⅓ ⅞", "⑴ ⒜ ⒈", "Ⅻ ⅻ", "ﬀﬃ", "ǅ", "\u2474\u24b6", "ﹰﹱ", "ﺎ ﺏ",
]

# Byte strings that are not valid UTF-8 (no unpaired surrogate code points: those cannot reach Python's
# tokenizers as str at all, while their three-byte encodings below are simply invalid UTF-8).
INVALID = [
    b"\xff", b"abc\x80def", b"\xc3", b"caf\xc3", b"\xe2\x82", b"\xe2\x82x", b"\xf0\x9f\x98", b"\xf0\x9f\x98 ok",
    b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf4\x90\x80\x80", b"\xf5\x80", b"\xfe\xfe\xff",
    b"\x80\x80\x80", b"ok\xc3\x28", b"\xe1\x80\xe1\x80\x80", b"<|endof\xfftext|>", b"\xc2\xa0\xc2", b"e\xcc",
]

# Code points sampled for fuzz strings: common blocks plus some assigned after Unicode 8 and 9 (the category and
# normalisation tables of `tokenizers` are from those versions).
FUZZ_RANGES = [
    (0x20, 0x7E), (0x00, 0x1F), (0x80, 0x24F), (0x250, 0x36F), (0x370, 0x52F), (0x590, 0x6FF), (0x900, 0x97F),
    (0xE00, 0xE7F), (0x1100, 0x11FF), (0x1E00, 0x1FFF), (0x2000, 0x206F), (0x2070, 0x2BFF), (0x3000, 0x30FF),
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xF900, 0xFAFF), (0xFB00, 0xFFFD), (0x1D400, 0x1D7FF),
    (0x1F000, 0x1FAFF), (0x1FB00, 0x1FBFF), (0x20000, 0x2A6DF), (0x10000, 0x1100F), (0x11000, 0x1137F),
    (0xE0000, 0xE007F), (0x0860, 0x08FF), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x10D00, 0x10D3F), (0x1E900, 0x1E95F),
]

CATEGORIES = {
    "english": ENGLISH, "accented": ACCENTED, "multilingual": MULTILINGUAL,
    **{f"script-{k}": v for k, v in SCRIPTS.items()}, "emoji": EMOJI, "whitespace": WHITESPACE,
    "punctuation": PUNCTUATION, "numbers": NUMBERS, "urls": URLS, "specials": SPECIALS, "control": CONTROL,
    "combining": COMBINING, "fullwidth": FULLWIDTH,
}


def _fuzz_char(rng: random.Random) -> str:
    """A random character that Python's Unicode 14 database knows. Later characters are left out on purpose: the
    `tokenizers` wheel takes lower-casing and character classes from Rust's Unicode 16 tables, focal from ICU 72
    (Unicode 15), so characters new in Unicode 15.1/16 may tokenize differently (a documented limitation)."""
    while True:
        lo, hi = rng.choice(FUZZ_RANGES)
        c = chr(rng.randint(lo, hi))
        if unicodedata.category(c) != "Cn":
            return c


def _fragment(rng: random.Random) -> str:
    pool = rng.choice(list(CATEGORIES.values()))
    return rng.choice(pool) if rng.random() < 0.8 else "".join(_fuzz_char(rng) for _ in range(rng.randint(1, 6)))


def generate(seed: int = 7, count: int = 1200) -> list[bytes]:
    """Every fixed sample once, then seeded mixtures: mixed scripts, fuzz, long (truncating) texts, invalid UTF-8."""
    rng = random.Random(seed)
    texts: list[str] = [t for pool in CATEGORIES.values() for t in pool]
    texts += [" ".join(rng.sample(ENGLISH, 40))]  # one very long caption
    out = [t.encode() for t in texts] + list(INVALID)
    while len(out) < count:
        kind = rng.random()
        if kind < 0.45:  # mixed scripts and categories, random separators
            seps = [" ", "", "  ", "\t", "\n", "\u3000", "-", ", "]
            text = "".join(_fragment(rng) + rng.choice(seps) for _ in range(rng.randint(2, 6)))
            out.append(text.encode())
        elif kind < 0.65:  # random code points
            out.append("".join(_fuzz_char(rng) for _ in range(rng.randint(1, 24))).encode())
        elif kind < 0.8:  # long: far past any context length
            words = rng.choices(ENGLISH + MULTILINGUAL + EMOJI + SCRIPTS["cjk"], k=rng.randint(30, 150))
            out.append(" ".join(words).encode())
        elif kind < 0.9:  # case play on special-token look-alikes and English
            text = rng.choice(SPECIALS) + rng.choice(["", " "]) + rng.choice(ENGLISH)
            out.append((text.upper() if rng.random() < 0.3 else text).encode())
        else:  # valid text with invalid bytes spliced in
            text = rng.choice(ENGLISH + MULTILINGUAL).encode()
            cut = rng.randint(0, len(text))
            out.append(text[:cut] + rng.choice(INVALID) + text[cut:])
    return out


def write(path: Path, entries: list[bytes]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for raw in entries:
            try:
                line = json.dumps(raw.decode("utf-8"))  # ASCII-only: no raw U+2028 etc. inside a line
            except UnicodeDecodeError:
                line = json.dumps({"hex": raw.hex()})
            f.write(line + "\n")


def read(path: Path) -> list[bytes]:
    entries = []
    for line in path.read_text(encoding="ascii").split("\n")[:-1]:
        value = json.loads(line)
        entries.append(bytes.fromhex(value["hex"]) if isinstance(value, dict) else value.encode("utf-8"))
    return entries


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--count", type=int, default=1200)
    args = ap.parse_args()
    write(args.out, generate(args.seed, args.count))


if __name__ == "__main__":
    main()
