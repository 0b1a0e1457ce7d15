# SPDX-License-Identifier: AGPL-3.0-or-later
"""A full data directory: `focal import --wait` stops promptly with one clear error and a non-zero exit, the
queued jobs stay queued (none failed), the database stays intact, `focal jobs` still works, and once space is
freed every command completes the work.

The data directory is a small tmpfs mounted for the test (skipped where mounting is not allowed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from conftest import GOOD_PHOTOS
from harness import db_rows

SIZE = "24m"


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk, leave: int = 0) -> list:
    """Fills the file system with filler files, leaving about `leave` bytes free."""
    files = []
    chunk = b"\0" * (1 << 20)
    index = 0
    while True:
        free = shutil.disk_usage(disk).free
        if free <= leave + 4096:
            break
        path = disk / f"filler-{index}"
        index += 1
        try:
            with open(path, "wb") as f:
                f.write(chunk[: max(1, min(len(chunk), free - leave))])
        except OSError:
            break
        files.append(path)
    return files


def test_full_disk_stops_import_and_recovers(stack, testdata, small_disk, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in GOOD_PHOTOS:
        shutil.copy(testdata / "photos" / name, photos / name)
    data_dir = small_disk / "data"
    env = stack.focal_env(data_dir, 1)  # no ML service: the ML jobs would only be retried
    env["IMMICH_MACHINE_LEARNING_ENABLED"] = "false"
    empty = tmp_path / "empty"
    empty.mkdir()
    stack.cli(env, "import", str(empty))  # creates the database and the instance owner

    filler = fill(small_disk, leave=1 << 20)  # room for the scan, not for every preview
    start = time.monotonic()
    result = stack.cli(env, "import", str(photos), "--wait", timeout=120, check=False)
    elapsed = time.monotonic() - start
    assert result.returncode != 0, result.stdout + result.stderr
    assert elapsed < 60, f"took {elapsed:.0f} s to give up"
    assert "data directory full" in result.stderr, result.stderr
    assert result.stderr.count("data directory full") <= 5, "the error is repeated instead of stopping:\n" + \
        result.stderr[-3000:]

    # Nothing was failed or lost: the database is intact and work that was queued is still queued.
    assert db_rows(data_dir, "PRAGMA integrity_check") == [("ok",)]
    assert db_rows(data_dir, "SELECT count(*) FROM job WHERE state = 'failed'") == [(0,)]
    listed = stack.cli(env, "jobs", check=False)
    assert listed.returncode == 0, listed.stderr

    for path in filler:
        os.remove(path)
    stack.cli(env, "import", str(photos), "--wait", timeout=300)
    ready = db_rows(data_dir, "SELECT count(*) FROM asset WHERE status = 'ready'")[0][0]
    assert ready == len(GOOD_PHOTOS), ready
    assert db_rows(data_dir, "SELECT count(*) FROM job WHERE state = 'failed'") == [(0,)]
