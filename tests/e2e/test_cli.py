# SPDX-License-Identifier: AGPL-3.0-or-later
"""Command-line conventions of both binaries: help without arguments, exit 2 for usage errors, --version."""

from __future__ import annotations

import re
import subprocess

import pytest

from harness import clean_env


def run(binary: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=30, env=env or clean_env())


def test_focal_alone_prints_help(stack):
    result = run(stack.focal)
    assert result.returncode == 0, result.stderr
    assert "Usage: focal" in result.stdout and "import" in result.stdout and "serve" in result.stdout


@pytest.mark.parametrize("args", [
    ["--no-such-flag"],
    ["no-such-command"],
    ["config"],  # a group that needs a subcommand
    ["search", "--limit", "0", "dog"],  # out of range
    ["serve", "--port", "http"],  # not a number
])
def test_focal_usage_errors_exit_2_with_a_hint(stack, args):
    result = run(stack.focal, *args)
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("focal: ") and lines[-1] == "Run 'focal --help' for usage.", result.stderr
    assert result.stdout == ""


def test_help_is_exit_0(stack):
    for binary, name in ((stack.focal, "focal"), (stack.focal_ml, "focal-ml")):
        result = run(binary, "--help")
        assert result.returncode == 0 and f"Usage: {name}" in result.stdout, result.stderr


def test_versions_name_the_revision_and_onnx_runtime(stack):
    focal = run(stack.focal, "--version")
    assert focal.returncode == 0, focal.stderr
    assert re.fullmatch(r"focal \d+\.\d+\.\d+ \(git [0-9a-z-]+\)\n", focal.stdout), focal.stdout
    ml = run(stack.focal_ml, "--version")
    assert ml.returncode == 0, ml.stderr
    assert re.fullmatch(r"focal-ml \d+\.\d+\.\d+ \(git [0-9a-z-]+\), ONNX Runtime \d+\.\d+\.\d+\n", ml.stdout), ml.stdout


def test_focal_ml_usage_error_and_bad_configuration_exit_2(stack):
    result = run(stack.focal_ml, "--no-such-flag")
    assert result.returncode == 2 and result.stderr.strip().endswith("Run 'focal-ml --help' for usage.")
    bad = run(stack.focal_ml, "--print-config", env={**clean_env(), "IMMICH_PORT": "http"})
    assert bad.returncode == 2 and "invalid configuration" in bad.stderr, bad.stderr


def test_db_commands_check_their_databases(stack, tmp_path):
    env = {**clean_env(), "FOCAL_DATA_DIR": str(tmp_path / "data")}
    assert run(stack.focal, "db", "copy", env=env).returncode == 2  # --to is required
    migrated = run(stack.focal, "db", "migrate", env=env)
    assert migrated.returncode == 0 and "library" in migrated.stdout and "auth" in migrated.stdout, migrated.stderr
    library = str(tmp_path / "data" / "focal.db")
    cases = {
        ("--to", "ftp://host/db"): "neither a postgresql:// URL nor an SQLite path",
        ("--to", "sqlite:"): "needs a path",
        ("--to", f"sqlite:{library}"): "the same database",
        ("--from", str(tmp_path / "missing.db"), "--to", str(tmp_path / "new.db")): "no SQLite library at",
    }
    for args, message in cases.items():
        result = run(stack.focal, "db", "copy", *args, env=env)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
    assert not (tmp_path / "missing.db").exists() and not (tmp_path / "new.db").exists()
    copied = run(stack.focal, "db", "copy", "--to", str(tmp_path / "copy.db"), env=env)
    assert copied.returncode == 0 and "Copied 0 rows" in copied.stdout and "Rebuilt" in copied.stdout, copied.stderr
    again = run(stack.focal, "db", "copy", "--to", str(tmp_path / "copy.db"), env=env)
    assert again.returncode == 0, again.stderr  # an empty library may be replaced
