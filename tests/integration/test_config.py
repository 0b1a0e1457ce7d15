# SPDX-License-Identifier: AGPL-3.0-or-later
"""`focal-ml --print-config`: effective configuration as JSON; invalid environment values exit 2."""

from __future__ import annotations

import json
import subprocess

import pytest


def run_print_config(binary: str, env: dict, tmp_path) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    base.update(env)
    return subprocess.run([binary, "--print-config"], env=base, capture_output=True, timeout=15, text=True)


def test_defaults(focal_ml_bin, tmp_path):
    proc = run_print_config(focal_ml_bin, {}, tmp_path)
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)
    assert cfg["immich_port"] == 3003
    assert cfg["model_ttl"] == 300
    assert cfg["focal"]["max_body_bytes"] == 64 * 1024 * 1024
    assert cfg["focal"]["max_field_bytes"] == 1024 * 1024
    assert cfg["focal"]["max_image_pixels"] == 178956970
    assert cfg["focal"]["max_json_depth"] == 32
    assert {k: v for k, v in cfg["focal"].items() if k.startswith("ort_")} == {
        "ort_shared_threads": True, "ort_spinning": False, "ort_memory_pattern": True, "ort_arena_shrink": False}


def test_environment_is_reflected(focal_ml_bin, tmp_path):
    env = {
        "IMMICH_HOST": "127.0.0.1",
        "IMMICH_PORT": "4321",
        "MACHINE_LEARNING_CACHE_FOLDER": str(tmp_path / "cache"),
        "MACHINE_LEARNING_MODEL_TTL": "0",
        "IMMICH_LOG_LEVEL": "debug",
        "FOCAL_ML_MAX_BODY_BYTES": "100000",
        "FOCAL_ML_MAX_FIELD_BYTES": "2048",
        "FOCAL_ML_MAX_IMAGE_PIXELS": "10000",
        "FOCAL_ML_MAX_JSON_DEPTH": "8",
    }
    proc = run_print_config(focal_ml_bin, env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads(proc.stdout)
    assert cfg["immich_port"] == 4321
    assert cfg["immich_host"] == "127.0.0.1"
    assert cfg["cache_folder"] == str(tmp_path / "cache")
    assert cfg["model_ttl"] == 0
    assert cfg["immich_log_level"] == "debug"
    assert cfg["focal"] == {**cfg["focal"], "max_body_bytes": 100000, "max_field_bytes": 2048,
                            "max_image_pixels": 10000, "max_json_depth": 8}


@pytest.mark.parametrize(
    "name,value",
    [
        ("MACHINE_LEARNING_MODEL_TTL", "abc"),
        ("MACHINE_LEARNING_MODEL_TTL", "1.5x"),
        ("IMMICH_PORT", "70000"),
        ("IMMICH_PORT", "abc"),
        ("IMMICH_PORT", "-1"),
        ("MACHINE_LEARNING_MODEL_ARENA", "maybe"),
        ("FOCAL_ML_MAX_BODY_BYTES", "abc"),
        ("FOCAL_ML_MAX_FIELD_BYTES", "lots"),
        ("FOCAL_ML_MAX_IMAGE_PIXELS", "1e99"),
        ("FOCAL_ML_MAX_JSON_DEPTH", "deep"),
        ("FOCAL_ML_ORT_SPINNING", "sometimes"),
        ("FOCAL_ML_ORT_SHARED_THREADS", "2"),
    ],
)
def test_invalid_value_exits_2(focal_ml_bin, tmp_path, name, value):
    proc = run_print_config(focal_ml_bin, {name: value}, tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert name in proc.stderr, proc.stderr
    assert proc.stdout == "", "nothing may be printed on stdout for an invalid configuration"


def test_invalid_value_also_stops_the_server(focal_ml_bin, tmp_path):
    """Without --print-config the same validation applies before anything listens."""
    proc = subprocess.run([focal_ml_bin], env={"PATH": "/usr/bin:/bin", "IMMICH_PORT": "70000"},
                          capture_output=True, timeout=15, text=True)
    assert proc.returncode == 2, proc
    assert "IMMICH_PORT" in proc.stderr
