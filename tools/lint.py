#!/usr/bin/env python3
# SPDX-License-Identifier: AGPL-3.0-or-later
"""clang-tidy over the project's sources, in parallel, with a result cache.

    tools/lint.py --build build/ci-asan [FILES...]   (default: every .cpp under src/, apps/ and fuzz/)

A file whose preprocessed source, clang-tidy version and .clang-tidy are unchanged since it last passed is not
checked again (cache in $FOCAL_LINT_CACHE, default ~/.cache/focal/clang-tidy), so CI lints only what changed
when its cache survives. Exits 1 when any file has findings (printed). Stdlib only.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def tool(name: str) -> str:
    for candidate in (name, f"{name}-14"):
        if subprocess.run(["which", candidate], capture_output=True).returncode == 0:
            return candidate
    sys.exit(f"lint: {name} not found (Debian package clang-tidy)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, required=True, help="build folder with compile_commands.json")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("files", nargs="*")
    args = parser.parse_args()

    database = json.loads((args.build / "compile_commands.json").read_text())
    commands = {str(Path(entry["directory"], entry["file"]).resolve()): entry for entry in database}
    files = [str(Path(f).resolve()) for f in args.files] or sorted(
        f for f in commands if Path(f).is_relative_to(REPO) and
        Path(f).relative_to(REPO).parts[0] in ("src", "apps", "fuzz") and f.endswith(".cpp"))
    tidy = tool("clang-tidy")
    version = subprocess.run([tidy, "--version"], capture_output=True, text=True).stdout
    config = (REPO / ".clang-tidy").read_bytes()
    cache = Path(os.environ.get("FOCAL_LINT_CACHE", Path.home() / ".cache" / "focal" / "clang-tidy"))
    cache.mkdir(parents=True, exist_ok=True)

    def key(file: str) -> str:
        entry = commands[file]
        argv = entry.get("arguments") or shlex.split(entry["command"])
        # The same compile, preprocessed: the key covers every header the file includes.
        pre, skip = [], False
        for arg in argv:
            if skip:
                skip = False
                continue
            if arg in ("-o", "-MF", "-MT", "-MQ"):
                skip = True
                continue
            if arg in ("-c", "-MD", "-MMD"):
                continue
            pre.append(arg)
        out = subprocess.run(pre + ["-E", "-P", "-o", "-"], cwd=entry["directory"], capture_output=True)
        digest = hashlib.sha256(version.encode() + config + out.stdout + out.stderr)
        return digest.hexdigest()

    def check(file: str) -> tuple[str, bool, str, bool]:
        if file not in commands:
            return file, False, "not in compile_commands.json", False
        stamp = cache / key(file)
        if stamp.exists():
            return file, True, "", True
        result = subprocess.run([tidy, "-p", str(args.build), "--quiet", file], capture_output=True, text=True)
        findings = "\n".join(line for line in (result.stdout + result.stderr).splitlines()
                             if "warnings generated" not in line and "Suppressed" not in line
                             and "Use -header-filter" not in line and "Use -system-headers" not in line)
        ok = result.returncode == 0 and "warning:" not in findings and "error:" not in findings
        if ok:
            stamp.touch()
        return file, ok, findings, False

    failed = cached = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for file, ok, findings, hit in pool.map(check, files):
            cached += hit
            if not ok:
                failed += 1
                print(f"== {Path(file).relative_to(REPO)}\n{findings}\n", flush=True)
    print(f"lint: {len(files)} files, {cached} unchanged since they passed, {failed} with findings")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
