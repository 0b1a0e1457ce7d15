#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Builds ONNX Runtime from source at the release pinned in cmake/onnxruntime.lock (or the lock file FOCAL_ORT_LOCK
# names), with the execution providers
# given as build.sh options, and installs it in the layout scripts/fetch-onnxruntime.sh produces (PREFIX/include
# with the public headers, PREFIX/lib with libonnxruntime.so.1 and the provider libraries), so that
# FOCAL_ORT_ROOT=PREFIX builds and packages focal-ml against it. Used by the images of accelerators Microsoft
# publishes no C library for (Dockerfile.openvino, Dockerfile.rocm); needs git, a C++ toolchain, python3 and
# CMake >= 3.28, and network access to GitHub (ONNX Runtime fetches its own dependencies).
# Usage: build-onnxruntime.sh PREFIX BUILD_SH_OPTION...   e.g. build-onnxruntime.sh /opt/onnxruntime --use_openvino
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../../cmake/onnxruntime.lock
source "${FOCAL_ORT_LOCK:-$here/../../cmake/onnxruntime.lock}"
prefix=${1:?usage: build-onnxruntime.sh PREFIX BUILD_SH_OPTION...}
shift
(($#)) || { echo "build-onnxruntime.sh: name the execution providers, e.g. --use_openvino" >&2; exit 2; }
src=$(mktemp -d)
git clone --quiet --depth 1 --branch "$ORT_SOURCE_TAG" https://github.com/microsoft/onnxruntime.git "$src"
commit=$(git -C "$src" rev-parse HEAD)
if [[ $commit != "$ORT_SOURCE_COMMIT" ]]; then
  echo "build-onnxruntime.sh: $ORT_SOURCE_TAG is $commit, expected $ORT_SOURCE_COMMIT" >&2; exit 1
fi
"$src/build.sh" --config Release --build_shared_lib --parallel --skip_tests --compile_no_warning_as_error \
  --cmake_extra_defines CMAKE_INSTALL_PREFIX="$src/install" "$@"
cmake --install "$src/build/Linux/Release"
mkdir -p "$prefix/include" "$prefix/lib"
cp -r "$src/install/include/onnxruntime/." "$prefix/include/"
cp -a "$src"/install/lib/libonnxruntime.so* "$prefix/lib/"
cp "$src"/build/Linux/Release/libonnxruntime_providers_*.so "$prefix/lib/"
rm -rf "$src"
echo "build-onnxruntime.sh: ONNX Runtime $ORT_VERSION ($*) in $prefix" >&2
