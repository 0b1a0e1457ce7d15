#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""Seed corpora for the fuzz targets (fuzz/*_fuzzer.cpp), made from the test data and the hostile tables.

    tools/fuzz_seeds.py --out build/fuzz/seeds --testdata ../shared/testdata

Writes <out>/<target>/<n> files; existing files are replaced. Stdlib only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "hostile"))


def write(out: Path, target: str, blobs) -> int:
    folder = out / target
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for blob in blobs:
        if len(blob) > 256 * 1024:
            continue
        (folder / hashlib.sha1(blob).hexdigest()).write_bytes(blob)
        count += 1
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--testdata", type=Path, default=REPO.parent / "shared" / "testdata")
    args = parser.parse_args()

    from test_hostile import Macros, build_request  # the tables' own request builder

    macros = Macros(args.testdata, {})
    requests, multiparts, entries, bodies = [], [], [], []
    for table in ("focal-ml.toml", "focal.toml"):
        with open(REPO / "tests" / "hostile" / table, "rb") as f:
            for index, case in enumerate(tomllib.load(f)["case"]):
                try:
                    raw = build_request(case, macros)
                except (KeyError, ValueError):
                    continue
                requests.append(raw[:8192])
                head, _, body = raw.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-type:"):
                        multiparts.append(line.split(b":", 1)[1].strip() + b"\n" + body[:65536])
                for part in case.get("parts", []):
                    if part["name"] == "entries":
                        entries.append(macros.expand(part.get("value", ""))[:65536])
                if "json" in case:
                    bodies.append(bytes([index % 256, 1, 2]) + b"\n" + json.dumps(case["json"]).encode())
    photos = sorted((args.testdata / "photos").glob("*"))
    broken = sorted((args.testdata / "broken").glob("*"))
    small_images = [p.read_bytes() for p in photos + broken if p.stat().st_size < 200 * 1024]
    exif_files = [p.read_bytes() for p in photos if p.name.startswith(("camera-", "orientation-", "exif-"))]
    exif_files += [p.read_bytes() for p in broken if "exif" in p.name]
    texts = ["a photo of a dog on a beach", "Ein Foto von einem Hund", "犬の写真", "ÅÄÖ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢  \t\n",
             "<|endoftext|> [CLS] </s>", "x" * 300, "😀🐶🏖️", "ﬁﬂ Ǆ ß İ"]
    tokens = [bytes([i]) + t.encode() for i in range(4) for t in texts]
    counts = {
        "request_head": write(args.out, "request_head", requests),
        "multipart": write(args.out, "multipart", multiparts),
        "entries": write(args.out, "entries", entries),
        "image": write(args.out, "image", small_images),
        "exif": write(args.out, "exif", exif_files),
        "tokenizer": write(args.out, "tokenizer", tokens),
        "api_json": write(args.out, "api_json", bodies or [b"\x00\x01\x02\n{}"]),
    }
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
