#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# One-shot set-up on a fresh Debian (bookworm or newer) machine: system packages, ONNX Runtime,
# the Python tooling venv, and a release build. Idempotent and quick when nothing changed.
# Usage: scripts/bootstrap.sh [--no-build | --build-deps]
#   --no-build    everything but the release build
#   --build-deps  only what building the binaries and packages needs (no test tools, no venv, no build):
#                 the container images' build stage (packaging/docker/Dockerfile)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
log() { printf '[bootstrap] %s\n' "$*" >&2; }

# Debian packages the build and the tests need (C++ libraries come from here, never vendored).
mode=${1:-}
build_packages=(
  build-essential cmake ninja-build pkg-config ccache git unzip curl ca-certificates
  libboost1.81-dev libboost-url1.81-dev  # HTTP front: Boost.Beast/Asio, Boost.URL
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  libvips-dev libturbojpeg0-dev libicu-dev libpcre2-dev
  libcurl4-openssl-dev libssl-dev openssl
  libsqlite3-dev libpq-dev  # the library store: SQLite (embedded default) and PostgreSQL's client
  libexiv2-dev  # library: EXIF/XMP metadata
  libhnswlib-dev  # search: HNSW approximate nearest neighbours (header-only)
  libsodium-dev  # auth: Argon2id password hashes, token hashing
  libopencv-imgproc-dev libpolyclipping-dev  # OCR: contours, rectangles, resize (OpenCV), unclip offset (Clipper)
  dpkg-dev file  # packaging: dpkg-shlibdeps computes Depends: (CPack finds the binaries with file)
  help2man  # packaging: manual pages from --help
)
test_packages=(
  libgtest-dev libgmock-dev
  postgresql  # the storage suites run on a real PostgreSQL server too (tests/support/postgres.sh)
  python3 python3-venv
  clang-format clang-tidy
  clang-14 libfuzzer-14-dev libclang-rt-14-dev  # the fuzz / ci-asan builds (libFuzzer, sanitizer runtimes)
  lintian systemd  # package checks, systemd-analyze verify
  podman mmdebstrap  # the CPU container image: built from a locally made Debian base (tests/packaging)
  chromium fonts-dejavu-core  # the web UI's browser suite (tests/web, Playwright drives Debian's Chromium)
)
packages=("${build_packages[@]}")
[[ $mode == --build-deps ]] || packages+=("${test_packages[@]}")
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
# python3/venv may come from elsewhere (pyenv); only insist on the Debian ones when no usable python exists.
if python3 -c 'import venv, ensurepip' 2>/dev/null; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == python3 || $p == python3-venv ]] || tmp+=("$p"); done; missing=("${tmp[@]}")
fi
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=(); [[ $(id -u) == 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime: one the user provides (FOCAL_ORT_ROOT, e.g. a source build with another provider) or a system
# installation wins; otherwise the pinned official artifacts, CPU or (FOCAL_ORT_GPU=cuda) CUDA (docs/onnxruntime.md).
if [[ -n ${FOCAL_ORT_ROOT:-} ]]; then
  log "using the ONNX Runtime in $FOCAL_ORT_ROOT"
elif pkg-config --exists libonnxruntime 2>/dev/null || [[ -n ${onnxruntime_DIR:-} ]]; then
  log "using the system ONNX Runtime"
else
  scripts/fetch-onnxruntime.sh
fi

# The web UI (web/): Node.js >= 20.19 for Vite, and its npm packages exactly as locked (npm ci), refreshed when
# web/package-lock.json changes. Debian bookworm's nodejs (18) is too old: use NodeSource's, nvm's or a newer
# Debian's. FOCAL_WEB=OFF skips the web UI (the CMake option of the same name).
if [[ ${FOCAL_WEB:-ON} != OFF ]]; then
  node_version=$(node --version 2>/dev/null || true)
  if ! printf '%s\n' "${node_version#v}" | awk -F. '{ exit !($1 > 20 || ($1 == 20 && $2 >= 19)) }'; then
    log "the web UI needs Node.js >= 20.19 (found: ${node_version:-none}); install it, or set FOCAL_WEB=OFF"
    exit 1
  fi
  if ! cmp -s web/package-lock.json web/node_modules/.focal-lock 2>/dev/null; then
    log "installing the web UI's npm packages (npm ci)"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
    cp web/package-lock.json web/node_modules/.focal-lock
  fi
fi

[[ $mode == --build-deps ]] && exit 0

# Python tooling venv (test-model generation, reference pipelines, integration tests).
# tools/requirements-nodeps.txt holds packages installed without their declared dependencies (rapidocr would pull
# opencv-python, which clashes with the headless OpenCV already pinned; what it really imports is pinned instead).
if [[ ! -x .venv/bin/python ]] ||
   ! cat tools/requirements.txt tools/requirements-nodeps.txt | cmp -s - .venv/.requirements 2>/dev/null; then
  log "preparing .venv from tools/requirements.txt"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tools/requirements.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -r tools/requirements-nodeps.txt
  cat tools/requirements.txt tools/requirements-nodeps.txt > .venv/.requirements
fi

if [[ $mode != --no-build ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release
  log "built: build/release/focal-ml"
fi
