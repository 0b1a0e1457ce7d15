# SPDX-License-Identifier: AGPL-3.0-or-later
"""Static checks of the container files (they need no container runtime): the Dockerfile's stages and runtime
settings, and the two compose files against it (the Immich drop-in keeps Immich's service name, port, volume
and environment file)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

DOCKER = Path(__file__).resolve().parents[2] / "packaging" / "docker"


def stages() -> dict[str, str]:
    """Stage name -> its instructions."""
    text = (DOCKER / "Dockerfile").read_text()
    out, name = {}, None
    for line in text.splitlines():
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line)
        if match:
            name = match.group(2) or f"<final {match.group(1)}>"
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


def test_dockerfile_stages():
    text = (DOCKER / "Dockerfile").read_text()
    assert "ARG BASE=debian:bookworm-slim" in text
    found = stages()
    assert list(found) == ["packages", "runtime", "focal", "focal-ml"], list(found)  # focal-ml is the default
    for target, port, volume in (("focal-ml", "3003", "/cache"), ("focal", "2283", "/data")):
        body = found[target]
        assert "USER focal" in body and f"EXPOSE {port}" in body and f"VOLUME {volume}" in body, target
        assert "HEALTHCHECK" in body and "ENTRYPOINT" in body, target
        assert "rm -rf /var/lib/apt/lists/*" in body, target  # no package lists in the image
    assert "useradd --system --uid" in found["runtime"]


def test_compose_files_match_the_dockerfile_and_immich():
    immich = yaml.safe_load((DOCKER / "compose.immich.yml").read_text())
    service = immich["services"]["immich-machine-learning"]  # Immich's service name: the server's URL holds
    assert "model-cache:/cache" in service["volumes"] and service["env_file"] == [".env"]
    assert "model-cache" in immich["volumes"]

    own = yaml.safe_load((DOCKER / "compose.yml").read_text())
    targets = set(stages())
    for name, service in own["services"].items():
        assert service["build"]["target"] in targets, name
        assert (DOCKER / service["build"]["context"] / service["build"]["dockerfile"]).resolve() == \
            (DOCKER / "Dockerfile").resolve(), name
    assert own["services"]["focal"]["environment"]["IMMICH_MACHINE_LEARNING_URL"] == "http://focal-ml:3003"
    assert "2283:2283" in own["services"]["focal"]["ports"]
