# SPDX-License-Identifier: AGPL-3.0-or-later
"""scripts/fetch-onnxruntime.sh against a local fake Maven repository: the Maven layout, checksums, the cache
that makes a second run offline, the CUDA flavour and its provider libraries, and the errors users see."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import subprocess
import threading
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "fetch-onnxruntime.sh"
VERSION = "9.9.9"
GROUP_PATH = "com/microsoft/onnxruntime"
NATIVE_DIRS = ("linux-x64", "linux-aarch64")


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def fake_jar(libraries: list[str]) -> bytes:
    files = {}
    for native in NATIVE_DIRS:
        for library in [*libraries, "libonnxruntime4j_jni.so"]:
            files[f"ai/onnxruntime/native/{native}/{library}"] = f"{native}/{library}".encode()
    return zip_bytes(files)


CPU_JAR = fake_jar(["libonnxruntime.so"])
CUDA_JAR = fake_jar(["libonnxruntime.so", "libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"])
AAR = zip_bytes({
    "headers/onnxruntime_c_api.h": b"#define ORT_API_VERSION 21\n",
    "headers/onnxruntime_cxx_api.h": b"// C++ API\n",
})


class FakeMaven:
    """Serves `files` (URL path -> bytes) and records the paths asked for."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.requests: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                fake.requests.append(self.path)
                body = fake.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def artifact_path(artifact: str, extension: str) -> str:
    return f"/{GROUP_PATH}/{artifact}/{VERSION}/{artifact}-{VERSION}.{extension}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def maven():
    server = FakeMaven({
        artifact_path("onnxruntime", "jar"): CPU_JAR,
        artifact_path("onnxruntime_gpu", "jar"): CUDA_JAR,
        artifact_path("onnxruntime-android", "aar"): AAR,
    })
    yield server
    server.close()


@pytest.fixture
def lock(tmp_path) -> Path:
    path = tmp_path / "onnxruntime.lock"
    path.write_text(
        f"ORT_VERSION={VERSION}\n"
        f"ORT_JAR_ARTIFACT=com.microsoft.onnxruntime:onnxruntime:{VERSION}:jar\n"
        f"ORT_JAR_SHA256={sha256(CPU_JAR)}\n"
        f"ORT_CUDA_JAR_ARTIFACT=com.microsoft.onnxruntime:onnxruntime_gpu:{VERSION}:jar\n"
        f"ORT_CUDA_JAR_SHA256={sha256(CUDA_JAR)}\n"
        f"ORT_AAR_ARTIFACT=com.microsoft.onnxruntime:onnxruntime-android:{VERSION}:aar\n"
        f"ORT_AAR_SHA256={sha256(AAR)}\n")
    return path


def fetch(tmp_path: Path, lock: Path, maven_url: str, *args: str, gpu: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, FOCAL_ORT_LOCK=str(lock), FOCAL_MAVEN_REPO=maven_url,
               FOCAL_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("FOCAL_ORT_GPU", None)
    if gpu:
        env["FOCAL_ORT_GPU"] = gpu
    return subprocess.run([str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=120)


def test_cpu_build_installs_library_and_headers_from_the_maven_layout(tmp_path, lock, maven):
    prefix = tmp_path / "ort"
    result = fetch(tmp_path, lock, maven.url, str(prefix))
    assert result.returncode == 0, result.stderr
    assert sorted(maven.requests) == sorted([artifact_path("onnxruntime", "jar"),
                                             artifact_path("onnxruntime-android", "aar")])
    libraries = sorted(p.name for p in (prefix / "lib").iterdir())
    assert libraries == ["libonnxruntime.so", "libonnxruntime.so.1"]  # the Java binding's JNI shim is left out
    assert os.readlink(prefix / "lib" / "libonnxruntime.so.1") == "libonnxruntime.so"
    assert "ORT_API_VERSION" in (prefix / "include" / "onnxruntime_c_api.h").read_text()
    assert "flavor=cpu" in (prefix / f".focal-ort-{VERSION}-cpu").read_text()


def test_second_run_and_a_new_prefix_need_no_network(tmp_path, lock, maven):
    assert fetch(tmp_path, lock, maven.url, str(tmp_path / "ort")).returncode == 0
    maven.close()
    again = fetch(tmp_path, lock, maven.url, str(tmp_path / "ort"))
    assert again.returncode == 0, again.stderr
    assert "already in" in again.stderr
    from_cache = fetch(tmp_path, lock, maven.url, str(tmp_path / "other"))
    assert from_cache.returncode == 0, from_cache.stderr
    assert (tmp_path / "other" / "lib" / "libonnxruntime.so").is_file()


def test_cuda_flavour_brings_its_provider_libraries_and_replaces_a_cpu_install(tmp_path, lock, maven):
    prefix = tmp_path / "ort"
    assert fetch(tmp_path, lock, maven.url, str(prefix)).returncode == 0
    result = fetch(tmp_path, lock, maven.url, "--gpu", "cuda", str(prefix))
    if os.uname().machine != "x86_64":
        assert result.returncode != 0 and "linux-x64 only" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    assert artifact_path("onnxruntime_gpu", "jar") in maven.requests
    libraries = sorted(p.name for p in (prefix / "lib").iterdir())
    assert libraries == ["libonnxruntime.so", "libonnxruntime.so.1", "libonnxruntime_providers_cuda.so",
                         "libonnxruntime_providers_shared.so"]
    assert (prefix / "lib" / "libonnxruntime.so").read_bytes() == b"linux-x64/libonnxruntime.so"
    assert not (prefix / f".focal-ort-{VERSION}-cpu").exists()
    assert "flavor=cuda" in (prefix / f".focal-ort-{VERSION}-cuda").read_text()


def test_focal_ort_gpu_picks_the_default_flavour_and_the_option_wins(tmp_path, lock, maven):
    if os.uname().machine != "x86_64":
        pytest.skip("the CUDA build exists for linux-x64 only")
    assert fetch(tmp_path, lock, maven.url, str(tmp_path / "gpu"), gpu="cuda").returncode == 0
    assert (tmp_path / "gpu" / f".focal-ort-{VERSION}-cuda").is_file()
    assert fetch(tmp_path, lock, maven.url, "--gpu", "cpu", str(tmp_path / "cpu"), gpu="cuda").returncode == 0
    assert (tmp_path / "cpu" / f".focal-ort-{VERSION}-cpu").is_file()


def test_checksum_mismatch_fails_and_keeps_nothing(tmp_path, lock, maven):
    maven.files[artifact_path("onnxruntime", "jar")] = CPU_JAR + b"tampered"
    prefix = tmp_path / "ort"
    result = fetch(tmp_path, lock, maven.url, str(prefix))
    assert result.returncode != 0
    assert "checksum mismatch" in result.stderr
    assert not prefix.exists()
    assert not list((tmp_path / "cache").rglob("*.jar*"))  # neither the bad file nor a partial download


def test_missing_artifact_names_the_url(tmp_path, lock, maven):
    del maven.files[artifact_path("onnxruntime", "jar")]
    result = fetch(tmp_path, lock, maven.url, str(tmp_path / "ort"))
    assert result.returncode != 0
    assert f"could not download com.microsoft.onnxruntime:onnxruntime:{VERSION}:jar" in result.stderr
    assert maven.url + artifact_path("onnxruntime", "jar") in result.stderr


@pytest.mark.parametrize("runtime", ["rocm", "migraphx", "openvino"])
def test_runtimes_without_an_official_c_library_say_how_to_get_one(tmp_path, lock, maven, runtime):
    result = fetch(tmp_path, lock, maven.url, "--gpu", runtime, str(tmp_path / "ort"))
    assert result.returncode == 1
    assert "build one from source" in result.stderr and "FOCAL_ORT_ROOT" in result.stderr
    assert not maven.requests


@pytest.mark.parametrize("args, message", [(["--gpu", "tpu"], "unknown GPU runtime 'tpu'"),
                                           (["--gpu"], "--gpu needs a value"),
                                           (["--bogus"], "unknown option --bogus")])
def test_bad_arguments_are_refused(tmp_path, lock, maven, args, message):
    result = fetch(tmp_path, lock, maven.url, *args)
    assert result.returncode == 1
    assert message in result.stderr
