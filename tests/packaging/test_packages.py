# SPDX-License-Identifier: AGPL-3.0-or-later
"""The Debian packages (cmake/packaging.cmake), built from the build directory under test with cpack:
control data, file lists, unit files, lintian; both binaries started from the unpacked packages (the relocatable
RPATH) and, as root in CI (or with FOCAL_TEST_PACKAGE_INSTALL=1), installed with dpkg, started from /usr/bin,
and purged.

    pytest tests/packaging --build build/ci
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from harness import HOST, Process, clean_env, free_port, http_get_ok, wait_until  # noqa: E402

PACKAGES = ("focal-ml", "focal")
BINARY = {"focal-ml": "usr/bin/focal-ml", "focal": "usr/bin/focal"}


def run(*argv, **kw) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)
    assert result.returncode == 0, f"{' '.join(map(str, argv))} exited {result.returncode}:\n{result.stderr}"
    return result.stdout


def project_version(build: Path) -> str:
    cache = (build / "CMakeCache.txt").read_text()
    return re.search(r"^CMAKE_PROJECT_VERSION:STATIC=(.+)$", cache, re.M).group(1)


@pytest.fixture(scope="module")
def debs(build_dir, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("packages")
    run("cpack", "--config", str(build_dir / "CPackConfig.cmake"), "-B", str(out), timeout=600)
    version = project_version(build_dir)
    found = {name: out / f"{name}_{version}_amd64.deb" for name in PACKAGES}
    for name, path in found.items():
        assert path.is_file(), f"{name}: {path.name} not built; {sorted(p.name for p in out.iterdir())}"
    return found


@pytest.fixture(scope="module")
def unpacked(debs, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("root")
    for deb in debs.values():
        run("dpkg-deb", "-x", str(deb), str(root))
    return root


def field(deb: Path, name: str) -> str:
    return run("dpkg-deb", "-f", str(deb), name).strip()


def files(deb: Path) -> set[str]:
    return {line.split()[-1].lstrip(".") for line in run("dpkg-deb", "-c", str(deb)).splitlines()
            if not line.startswith("d")}


def test_control_data(debs, build_dir):
    for name, deb in debs.items():
        assert field(deb, "Package") == name
        assert field(deb, "Version") == project_version(build_dir)
        depends = field(deb, "Depends")
        # Computed by dpkg-shlibdeps from the binaries: the image and C++ runtime libraries are there.
        assert "libvips42" in depends and "libstdc++6" in depends and "libc6" in depends, depends
        assert "onnxruntime" not in depends, depends  # bundled, not a dependency
        summary, *extended = field(deb, "Description").splitlines()
        assert summary and extended, field(deb, "Description")
        control = Path(run("mktemp", "-d").strip())
        try:
            run("dpkg-deb", "-e", str(deb), str(control))
            assert (control / "conffiles").read_text().split() == [f"/etc/focal/{name}.env"]
        finally:
            shutil.rmtree(control)
    assert "libopencv-imgproc" in field(debs["focal-ml"], "Depends")  # OCR geometry
    assert "libexiv2" in field(debs["focal"], "Depends")
    assert field(debs["focal"], "Suggests") == "focal-ml"


def test_file_lists(debs):
    ml, server = files(debs["focal-ml"]), files(debs["focal"])
    for path in ("/usr/bin/focal-ml", "/usr/lib/focal/libonnxruntime.so.1", "/usr/lib/systemd/system/focal-ml.service",
                 "/etc/focal/focal-ml.env", "/usr/share/doc/focal-ml/copyright",
                 "/usr/share/doc/focal-ml/changelog.gz", "/usr/share/doc/focal-ml/configuration.md",
                 "/usr/share/doc/focal-ml/openapi-ml.yaml", "/usr/share/man/man1/focal-ml.1.gz"):
        assert path in ml, path
    for path in ("/usr/bin/focal", "/usr/lib/systemd/system/focal.service", "/etc/focal/focal.env",
                 "/usr/share/doc/focal/copyright", "/usr/share/doc/focal/openapi.yaml",
                 "/usr/share/man/man1/focal.1.gz", "/usr/share/focal/web/index.html"):
        assert path in server, path
    assert any(p.startswith("/usr/share/focal/web/assets/") and p.endswith(".js") for p in server), server
    assert not ml & server, ml & server  # the two packages can be installed together
    for path in ml | server:
        assert path.startswith(("/usr/", "/etc/focal/")), path


def test_binaries_find_the_bundled_runtime_relative_to_themselves(unpacked):
    for binary in BINARY.values():
        dynamic = run("readelf", "-d", str(unpacked / binary))
        runpath = re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[(.*)\]", dynamic)
        assert runpath in ([], ["$ORIGIN/../lib/focal"]), runpath
    resolved = run("ldd", str(unpacked / BINARY["focal-ml"]))
    line = next(l for l in resolved.splitlines() if "libonnxruntime" in l)
    assert Path(line.split("=>")[1].split("(")[0].strip()).resolve() == \
        (unpacked / "usr/lib/focal/libonnxruntime.so.1").resolve(), line
    version = run(str(unpacked / BINARY["focal-ml"]), "--version")
    assert "ONNX Runtime" in version, version


def test_unit_files(unpacked, tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    # Verified as installed, except that ExecStart points into the unpacked tree (verify checks it exists).
    units = []
    for name in PACKAGES:
        text = (unpacked / "usr/lib/systemd/system" / f"{name}.service").read_text()
        unit = tmp_path / f"{name}.service"
        unit.write_text(text.replace("ExecStart=/usr/bin/", f"ExecStart={unpacked}/usr/bin/"))
        units.append(str(unit))
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
    for name in PACKAGES:
        unit = (unpacked / "usr/lib/systemd/system" / f"{name}.service").read_text()
        for setting in ("DynamicUser=yes", "ProtectSystem=strict", f"EnvironmentFile=-/etc/focal/{name}.env",
                        "NoNewPrivileges=yes"):
            assert setting in unit, (name, setting)
    assert "CacheDirectory=focal-ml" in (unpacked / "usr/lib/systemd/system/focal-ml.service").read_text()
    assert "StateDirectory=focal" in (unpacked / "usr/lib/systemd/system/focal.service").read_text()


def test_lintian(debs):
    if shutil.which("lintian") is None:
        pytest.skip("lintian is not installed")
    result = subprocess.run(["lintian", "--tag-display-limit", "0", *map(str, debs.values())], capture_output=True,
                            text=True, timeout=600)
    print(result.stdout)
    errors = [l for l in result.stdout.splitlines() if l.startswith("E:")]
    assert not errors, result.stdout


def serve_both(root: Path, workdir: Path) -> None:
    """Starts focal-ml and `focal serve` from the binaries under `root` and checks both answer."""
    env = clean_env()
    ml_port, focal_port = free_port(), free_port()
    (workdir / "cache").mkdir(parents=True, exist_ok=True)
    ml = Process([str(root / BINARY["focal-ml"])],
                 dict(env, IMMICH_HOST=HOST, IMMICH_PORT=str(ml_port), HF_HUB_OFFLINE="1",
                      MACHINE_LEARNING_CACHE_FOLDER=str(workdir / "cache")),
                 workdir / "focal-ml.log", "focal-ml").start()
    server = Process([str(root / BINARY["focal"]), "serve"],
                     dict(env, FOCAL_HOST=HOST, FOCAL_PORT=str(focal_port), FOCAL_DATA_DIR=str(workdir / "data"),
                          IMMICH_MACHINE_LEARNING_URL=f"http://{HOST}:{ml_port}"),
                     workdir / "focal.log", "focal").start()
    try:
        wait_until(lambda: http_get_ok(ml_port, "/ping") or not ml.alive(), 30, "focal-ml /ping")
        assert ml.alive(), ml.log_tail()
        wait_until(lambda: http_get_ok(focal_port, "/api/server/ping") or not server.alive(), 30, "focal /ping")
        assert server.alive(), server.log_tail()
        assert http_get_ok(focal_port, "/"), "the packaged web UI is not served (found beside the binary)"
    finally:
        assert server.stop() == 0, server.log_tail()
        assert ml.stop() == 0, ml.log_tail()


def test_unpacked_binaries_serve(unpacked, tmp_path):
    serve_both(unpacked, tmp_path)


def installed(name: str) -> bool:
    status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", name], capture_output=True, text=True)
    return status.returncode == 0 and "installed" in status.stdout.split()


def test_dpkg_install_start_and_purge(debs, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("installing packages needs root")
    if os.environ.get("CI") != "true" and os.environ.get("FOCAL_TEST_PACKAGE_INSTALL") != "1":
        pytest.skip("installs into this system: runs in CI, or with FOCAL_TEST_PACKAGE_INSTALL=1")
    if any(installed(name) for name in PACKAGES):
        pytest.skip("focal packages are already installed here; not touching them")
    run("dpkg", "-i", *map(str, debs.values()))
    try:
        for name in PACKAGES:
            assert installed(name), name
        assert Path("/etc/focal/focal-ml.env").stat().st_mode & 0o777 == 0o640
        serve_both(Path("/"), tmp_path)
    finally:
        run("dpkg", "--purge", *PACKAGES)
    assert not Path("/usr/bin/focal-ml").exists() and not Path("/usr/lib/focal").exists()
    assert not Path("/etc/focal").exists()
