# SPDX-License-Identifier: AGPL-3.0-or-later
"""A new user's first `focal import --wait`: with no ML service it finishes the other work, says at once what to
do and leaves the ML jobs queued; with one it shows a progress bar per queue, sized to the terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
import time

from conftest import GOOD_PHOTOS
from harness import clean_env, db_rows, free_port

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def photo_folder(testdata, tmp_path, count: int = 6):
    folder = tmp_path / "Pictures"
    folder.mkdir()
    for name in GOOD_PHOTOS[:count]:
        (folder / name).write_bytes((testdata / "photos" / name).read_bytes())
    return folder


def run_in_terminal(argv: list[str], env: dict, columns: int, timeout: float = 300) -> tuple[int, str]:
    """Runs argv with stdout and stderr on a pseudo-terminal `columns` wide; returns (exit code, output)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        output += data
    os.close(master)
    return proc.wait(timeout=10), output.decode("utf-8", "replace")


def test_import_wait_without_ml_ends_at_once_and_says_what_to_do(stack, testdata, tmp_path):
    folder = photo_folder(testdata, tmp_path)
    # The default URL list (127.0.0.1:3003, then Immich's compose host name), with nothing listening on either.
    env = dict(clean_env(), FOCAL_DATA_DIR=str(tmp_path / "data"), NO_COLOR="1")
    env.pop("IMMICH_MACHINE_LEARNING_URL", None)
    start = time.monotonic()
    result = subprocess.run([stack.focal, "import", str(folder), "--wait"], capture_output=True, text=True,
                            timeout=120, env=env)
    elapsed = time.monotonic() - start
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert elapsed < 60, f"took {elapsed:.0f} s"  # the bound for a first run; seconds in practice
    assert "no machine-learning service answers (tried http://127.0.0.1:3003, http://immich-machine-learning:3003)" \
        in result.stderr, result.stderr
    assert "focal config set machineLearning.urls http://HOST:3003" in result.stderr
    assert "Left queued: smartSearch 6, faceDetection 6, ocr 6." in result.stderr, result.stderr
    data = tmp_path / "data"
    # The non-ML work is done: metadata and previews of every photo.
    assert db_rows(data, "SELECT count(*) FROM asset_file WHERE type = 'preview'")[0][0] == len(GOOD_PHOTOS[:6])
    # The ML jobs wait, untouched (no attempt, so no retry backoff), for a service.
    rows = dict(db_rows(data, "SELECT queue, count(*) FROM job WHERE state = 'waiting' GROUP BY queue"))
    assert rows == {"smartSearch": 6, "faceDetection": 6, "ocr": 6}, rows


def test_import_wait_shows_one_bar_per_queue_sized_to_the_terminal(stack, testdata, tmp_path):
    folder = photo_folder(testdata, tmp_path, count=4)
    ml_port = free_port()
    ml = stack.start_ml(ml_port, "focal-ml-first-run")
    try:
        env = stack.focal_env(tmp_path / "data", ml_port)
        code, output = run_in_terminal([stack.focal, "import", str(folder), "--wait"], env, columns=60)
    finally:
        ml.stop()
    assert code == 0, output
    lines = [ANSI.sub("", line).strip("\r") for line in output.replace("\r\n", "\n").split("\n")]
    bars = [line for line in lines if re.match(r"^\w+ +\[[#-]+\]  \d+/\d+", line)]
    assert bars, output
    assert max(len(line) for line in bars) <= 59, max(bars, key=len)
    finished = {line.split()[0]: line.split()[2] for line in bars}  # the last frame of each queue
    for queue in ("metadataExtraction", "smartSearch", "faceDetection", "ocr"):
        assert finished.get(queue) == "4/4", (queue, finished)
    for queue, counts in finished.items():  # person thumbnails and clustering add jobs of their own
        done, total = counts.split("/")
        assert done == total, (queue, finished)
    assert "Processed" in output
