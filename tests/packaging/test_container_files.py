# SPDX-License-Identifier: AGPL-3.0-or-later
"""Static checks of the container files (they need no container runtime, and the accelerator images cannot be built
here: their vendor libraries and source builds are not reachable from CI): every Dockerfile's stages and runtime
settings, the hash-pinned downloads they make, and the two compose files against them (the Immich drop-in keeps
Immich's service name, port, volume and environment file)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "packaging" / "docker"
ACCELERATORS = ("cuda", "openvino", "rocm")
# What ONNX Runtime's CUDA provider links (1.21.0 and 1.23.2 alike; objdump -p libonnxruntime_providers_cuda.so),
# and the NVIDIA package on PyPI that ships each library.
CUDA_PROVIDER_NEEDS = {
    "libcublasLt.so.12": "nvidia-cublas-cu12", "libcublas.so.12": "nvidia-cublas-cu12",
    "libcurand.so.10": "nvidia-curand-cu12", "libcufft.so.11": "nvidia-cufft-cu12",
    "libcudart.so.12": "nvidia-cuda-runtime-cu12", "libcudnn.so.9": "nvidia-cudnn-cu12",
    "libnvrtc.so.12": "nvidia-cuda-nvrtc-cu12",
}


def dockerfile(name: str = "Dockerfile") -> Path:
    return DOCKER / name


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, pending = [], ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()[:-1] + " " if line.rstrip().endswith("\\") else line
        if not line.rstrip().endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
            pending = ""
    return out


def stages(path: Path | None = None) -> dict[str, str]:
    """Stage name -> its instructions."""
    text = (path or dockerfile()).read_text()
    out, name = {}, None
    for line in text.splitlines():
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line)
        if match:
            name = match.group(2) or f"<final {match.group(1)}>"
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


def requirements(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, sha256 hashes) of a hash-pinned requirements file."""
    text = re.sub(r"\\\n", " ", path.read_text())
    out = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})+)\s*$", line.strip())
            assert match, f"{path.name}: not pinned to a version with hashes: {line.strip()}"
            out[match.group(1)] = (match.group(2), re.findall(r"sha256:([0-9a-f]{64})", match.group(3)))
    return out


def test_dockerfile_stages():
    text = (DOCKER / "Dockerfile").read_text()
    assert "ARG BASE=debian:bookworm-slim" in text
    found = stages()
    assert list(found) == ["web", "packages", "runtime", "focal", "focal-ml"], list(found)  # focal-ml: the default
    # The web UI is built from the lock file in Node's image, and the packages install that build.
    assert "npm ci" in found["web"] and "package-lock.json" in found["web"]
    assert "COPY --from=web /web-dist" in found["packages"] and "-DFOCAL_WEB_PREBUILT=/web-dist" in found["packages"]
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


@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_accelerator_images_are_drop_ins_for_immichs(accelerator):
    path = dockerfile(f"Dockerfile.{accelerator}")
    text = path.read_text()
    assert "ARG BASE=debian:bookworm-slim" in text  # the CPU image's base and packages, not a vendor OS
    found = stages(path)
    assert list(found)[-1] == "focal-ml", list(found)  # the default target
    body = found["focal-ml"]
    for expected in ("USER focal", "EXPOSE 3003", "VOLUME /cache", "MACHINE_LEARNING_CACHE_FOLDER=/cache",
                     'ENTRYPOINT ["/usr/bin/focal-ml"]', "rm -rf /var/lib/apt/lists/*", "GET /ping"):
        assert expected in body, f"{path.name}: {expected}"
    assert "useradd --system --uid" in body
    # The provider libraries ORT loads from its own directory land beside the packaged libonnxruntime.so.1.
    assert "COPY --from=packages /providers/lib/focal/ /usr/lib/focal/" in body
    assert "--component ml_gpu_providers" in found["packages"]


@pytest.mark.parametrize("name", ["Dockerfile", *(f"Dockerfile.{a}" for a in ACCELERATORS)])
def test_dockerfiles_refer_only_to_what_exists(name):
    path = dockerfile(name)
    parsed = instructions(path)
    declared_args = {rest.split("=")[0] for keyword, rest in parsed if keyword == "ARG"}
    stage_names = []
    for keyword, rest in parsed:
        if keyword == "FROM":
            image = rest.split()[0]
            for arg in re.findall(r"\$\{(\w+)\}", image):
                assert arg in declared_args, f"{name}: FROM uses undeclared ARG {arg}"
            if " AS " in rest:
                stage_names.append(rest.split(" AS ")[1].strip())
        if keyword == "COPY":
            source = re.search(r"--from=(\S+)", rest)
            if source:
                assert source.group(1) in stage_names, f"{name}: COPY --from={source.group(1)} before or without it"
            else:  # from the build context, the source tree
                for item in rest.split()[:-1]:
                    assert item == "." or (REPO / item).exists(), f"{name}: COPY of missing {item}"
        if keyword == "RUN":
            for script in re.findall(r"(?:^|\s)((?:scripts|packaging)/\S+)", rest):
                assert (REPO / script).exists(), f"{name}: RUN uses missing {script}"
            if "pip3 install" in rest:
                for flag in ("--require-hashes", "--no-deps", "--only-binary=:all:"):
                    assert flag in rest, f"{name}: pip without {flag}"
    assert parsed[-1][0] == "ENTRYPOINT"


@pytest.mark.parametrize("accelerator", ACCELERATORS)
def test_downloads_in_images_are_hash_pinned(accelerator):
    text = dockerfile(f"Dockerfile.{accelerator}").read_text()
    files = re.findall(r"-r (?:/tmp/|packaging/docker/)(\S+-requirements\.txt)", text)
    for file in files:
        assert requirements(DOCKER / file), file
    if accelerator == "cuda":
        pinned = requirements(DOCKER / "cuda-requirements.txt")
        for library, package in CUDA_PROVIDER_NEEDS.items():
            assert package in pinned, f"{library} needs {package}"
        assert "FOCAL_ORT_GPU=cuda" in text and "NVIDIA_VISIBLE_DEVICES=all" in text
    else:  # a source build of ONNX Runtime, at the commit pinned in the lock file
        assert "build-onnxruntime.sh /opt/onnxruntime --use_" in text and "FOCAL_ORT_ROOT=/opt/onnxruntime" in text
        for lock in re.findall(r"FOCAL_ORT_LOCK=(\S+)", text):
            assert (REPO / lock).is_file(), lock


@pytest.mark.parametrize("lock_file", ["onnxruntime.lock", "onnxruntime-1.21.lock"])
def test_onnxruntime_source_build_is_pinned_to_a_commit(lock_file):
    lock = dict(line.split("=", 1) for line in (REPO / "cmake" / lock_file).read_text().splitlines()
                if "=" in line and not line.startswith("#"))
    assert re.fullmatch(r"[0-9a-f]{40}", lock["ORT_SOURCE_COMMIT"])
    assert lock["ORT_SOURCE_TAG"] == f"v{lock['ORT_VERSION']}"
    script = DOCKER / "build-onnxruntime.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert 'rev-parse HEAD' in script.read_text() and "ORT_SOURCE_COMMIT" in script.read_text()
    usage = subprocess.run([str(script), "/tmp/unused"], capture_output=True, text=True)
    assert usage.returncode == 2 and "name the execution providers" in usage.stderr
