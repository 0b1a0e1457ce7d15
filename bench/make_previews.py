# SPDX-License-Identifier: AGPL-3.0-or-later
"""Makes 1440 px previews of the shared photos like Immich's preview generator (JPEG quality 80, shorter side 1440,
EXIF orientation applied). Unlike Immich, small photos are enlarged too, so every benchmark input has the size of a
typical camera photo's preview. Only files Pillow can read are used.

    python bench/make_previews.py ../shared/testdata/photos OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageOps


def main() -> int:
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    made = 0
    for path in sorted(src.iterdir()):
        try:
            img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        except Exception:
            continue
        scale = 1440 / min(img.size)
        if scale != 1:
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
        img.save(out / (path.stem + ".jpg"), quality=80)
        made += 1
    print(f"{made} previews in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
