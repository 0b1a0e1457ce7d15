# SPDX-License-Identifier: AGPL-3.0-or-later
"""The CPU container images (packaging/docker/Dockerfile), built with podman from this build's Debian packages on
a Debian base made locally with mmdebstrap (no image registry is reachable in CI):

- image configuration: non-root user, port, volume, environment, health check, entry point; the size is printed;
- each image's own root file system runs its binary (as the image's user, chrooted: this sandbox lets podman
  build but not start containers, see docs/install.md), which answers /ping, and the image's health check
  command passes against it.

Runs as root in CI, or with FOCAL_TEST_IMAGE=1; skipped where podman or mmdebstrap is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from harness import HOST, free_port, http_get_ok, wait_until  # noqa: E402

BASE = "localhost/focal-test-base:bookworm"
IMAGES = {  # target -> (health path, the variable holding its port, volume)
    "focal-ml": ("/ping", "IMMICH_PORT", "/cache"),
    "focal": ("/api/server/ping", "FOCAL_PORT", "/data"),
}

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("podman") or not shutil.which("mmdebstrap")
    or (os.environ.get("CI") != "true" and os.environ.get("FOCAL_TEST_IMAGE") != "1"),
    reason="needs root, podman and mmdebstrap; runs in CI or with FOCAL_TEST_IMAGE=1")


def run(*argv, timeout: float = 900, **kw) -> str:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, **kw)
    assert result.returncode == 0, f"{' '.join(map(str, argv))} exited {result.returncode}:\n{result.stderr[-4000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def base_image(tmp_path_factory) -> str:
    if subprocess.run(["podman", "image", "exists", BASE]).returncode != 0:
        tar = tmp_path_factory.mktemp("base") / "bookworm.tar"
        run("mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar", "bookworm", tar,
            "http://deb.debian.org/debian")
        run("podman", "import", tar, BASE)
    return BASE


@pytest.fixture(scope="module")
def images(build_dir, base_image, tmp_path_factory) -> dict[str, dict]:
    context = tmp_path_factory.mktemp("prebuilt")
    run("cpack", "--config", build_dir / "CPackConfig.cmake", "-B", context / "packages")
    built = {}
    for target in IMAGES:
        tag = f"localhost/{target}:test"
        run("podman", "build", "--isolation=chroot", "--format=docker", "--build-context", f"packages={context}",
            "--build-arg", f"BASE={base_image}", "--target", target, "-f", REPO / "packaging/docker/Dockerfile",
            "-t", tag, REPO)
        built[target] = json.loads(run("podman", "image", "inspect", tag))[0] | {"tag": tag}
    yield built
    for image in built.values():
        subprocess.run(["podman", "rmi", "-f", image["tag"]], capture_output=True)


def test_image_configuration(images):
    for target, (path, port_variable, volume) in IMAGES.items():
        image = images[target]
        config = image["Config"]
        env = dict(item.split("=", 1) for item in config["Env"])
        assert config["User"] == "focal", target
        assert list(config["Volumes"]) == [volume], target
        assert list(config["ExposedPorts"]) == [f"{env[port_variable]}/tcp"], target
        assert config["Entrypoint"][0] == f"/usr/bin/{target}", target
        health = image["Healthcheck"]["Test"]
        assert health[0] == "CMD" and path in " ".join(health), health
        print(f"{target} image: {image['Size'] / 1e6:.0f} MB on a {BASE} base")
    assert dict(e.split("=", 1) for e in images["focal-ml"]["Config"]["Env"])["MACHINE_LEARNING_CACHE_FOLDER"] == \
        "/cache"


@pytest.mark.parametrize("target", list(IMAGES))
def test_image_root_file_system_serves_and_passes_its_health_check(images, target, tmp_path):
    path, port_variable, volume = IMAGES[target]
    image = images[target]
    config = image["Config"]
    root = Path(run("podman", "image", "mount", image["tag"]).strip())
    mounts = [root / "proc", root / volume.lstrip("/")]
    run("mount", "-t", "proc", "proc", mounts[0])
    run("mount", "-t", "tmpfs", "-o", "mode=0777", "tmpfs", mounts[1])  # the volume
    port = free_port()
    env = dict(item.split("=", 1) for item in config["Env"])
    env.update({port_variable: str(port), "IMMICH_HOST": HOST, "FOCAL_HOST": HOST, "HF_HUB_OFFLINE": "1"})
    user = run("chroot", root, "id", "-u", config["User"]).strip()
    log = tmp_path / f"{target}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["chroot", f"--userspec={user}:{user}", str(root), *config["Entrypoint"]],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: http_get_ok(port, path) or proc.poll() is not None, 60, f"{target} {path}")
        assert proc.poll() is None, log.read_text()
        health = subprocess.run(["chroot", f"--userspec={user}:{user}", str(root), *image["Healthcheck"]["Test"][1:]],
                                env=env, capture_output=True, text=True, timeout=30)
        assert health.returncode == 0, (health.stdout, health.stderr)
    finally:
        proc.terminate()
        proc.wait(30)
        for mount in reversed(mounts):
            subprocess.run(["umount", str(mount)], capture_output=True)
        subprocess.run(["podman", "image", "unmount", image["tag"]], capture_output=True)
