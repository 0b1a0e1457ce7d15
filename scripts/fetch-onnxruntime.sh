#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Installs the pinned ONNX Runtime into a git-ignored prefix (default: .deps/onnxruntime) with include/ and lib/.
# The library comes from Microsoft's official Java artifacts on Maven Central, fetched with plain HTTPS (no Maven
# client, no JRE); every download is verified by SHA-256 and cached in ${FOCAL_CACHE_DIR:-~/.cache/focal}, so a
# repeated run is offline.
# Usage: scripts/fetch-onnxruntime.sh [--gpu cpu|cuda] [PREFIX]
#   --gpu cpu|cuda  cpu: the CPU build. cuda: the CUDA 12 / cuDNN 9 build (libonnxruntime.so plus its CUDA and
#                   TensorRT provider libraries); docs/onnxruntime.md lists what the host needs. Default:
#                   $FOCAL_ORT_GPU, else cpu, so scripts/bootstrap.sh and the images' build stage follow that variable.
# Environment: FOCAL_MAVEN_REPO (default Maven Central) and FOCAL_ORT_LOCK (default cmake/onnxruntime.lock) let
# tests and mirrors point elsewhere; the checksums come from that lock file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
log() { printf '[fetch-onnxruntime] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

flavor=${FOCAL_ORT_GPU:-cpu}
while [[ ${1:-} == --* ]]; do
  case $1 in
    --gpu)
      [[ -n ${2:-} ]] || die "--gpu needs a value: cpu or cuda"
      flavor=$2; shift 2 ;;
    --help) sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
case $flavor in
  cpu | cuda) ;;
  rocm | migraphx | openvino)
    die "no official ONNX Runtime C library with the $flavor provider is published in the package registries;" \
      "build one from source (docs/onnxruntime.md, packaging/docker/Dockerfile.$flavor) and pass FOCAL_ORT_ROOT" ;;
  *) die "unknown GPU runtime '$flavor'; supported: cpu, cuda" ;;
esac

lock=${FOCAL_ORT_LOCK:-$root/cmake/onnxruntime.lock}
# shellcheck source=../cmake/onnxruntime.lock
source "$lock"
repo=${FOCAL_MAVEN_REPO:-https://repo.maven.apache.org/maven2}
prefix=${1:-$root/.deps/onnxruntime}
cache=${FOCAL_CACHE_DIR:-$HOME/.cache/focal}/onnxruntime-$ORT_VERSION
stamp="$prefix/.focal-ort-$ORT_VERSION-$flavor"

if [[ -f $stamp ]]; then log "ONNX Runtime $ORT_VERSION ($flavor) already in $prefix"; exit 0; fi
mkdir -p "$cache"

verify() { # file sha256
  local got; got=$(sha256sum "$1" | cut -d' ' -f1)
  if [[ $got != "$2" ]]; then log "checksum mismatch for $1: expected $2, got $got"; rm -f "$1"; return 1; fi
}

maven_url() { # group:artifact:version:extension -> URL in the Maven repository layout
  local group artifact version ext
  IFS=: read -r group artifact version ext <<<"$1"
  printf '%s/%s/%s/%s/%s-%s.%s' "$repo" "${group//.//}" "$artifact" "$version" "$artifact" "$version" "$ext"
}

maven_get() { # artifact dest sha256
  local url part
  [[ -f $2 ]] && verify "$2" "$3" && return 0
  url=$(maven_url "$1"); part="$2.part"
  log "downloading $url"
  if ! curl -fsSL --retry 3 --retry-delay 2 --connect-timeout 20 -o "$part" "$url"; then
    rm -f "$part"; log "could not download $1 from $url"; return 1
  fi
  mv "$part" "$2"
  verify "$2" "$3"
}

debian_get_from() { # dest mirror suite: the pinned -dev package from one suite, in a private apt state
  local dest=$1 tmp; tmp=$(mktemp -d)
  mkdir -p "$tmp/lists/partial" "$tmp/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $2 $3 main" >"$tmp/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=- -o "Dir::State::Lists=$tmp/lists"
    -o "Dir::Cache=$tmp" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root)
  if apt-get "${opts[@]}" -qq update >"$tmp/apt.log" 2>&1 &&
    (cd "$tmp" && apt-get "${opts[@]}" -qq download "$ORT_DEB_PACKAGE=$ORT_DEB_VERSION" >>"$tmp/apt.log" 2>&1); then
    mv "$tmp"/"$ORT_DEB_PACKAGE"_*.deb "$dest"; rm -rf "$tmp"
    verify "$dest" "$ORT_DEB_SHA256"
    return
  fi
  log "$ORT_DEB_PACKAGE $ORT_DEB_VERSION not in Debian $3: $(tail -1 "$tmp/apt.log")"; rm -rf "$tmp"; return 1
}

debian_get() { # downloads the pinned -dev package from the same mirror apt already uses, trying each pinned suite
  local dest=$1 mirror suite
  [[ -f $dest ]] && verify "$dest" "$ORT_DEB_SHA256" && return 0
  mirror=$(grep -rhoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
    awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)
  [[ -n $mirror ]] || { log "no Debian mirror found in /etc/apt"; return 1; }
  for suite in ${ORT_DEB_SUITES:-${ORT_DEB_SUITE:-}}; do debian_get_from "$dest" "$mirror" "$suite" && return 0; done
  log "no pinned suite ($ORT_DEB_SUITES) serves $ORT_DEB_PACKAGE $ORT_DEB_VERSION any more; pin the release another" \
    "lock file gives (FOCAL_ORT_LOCK=cmake/onnxruntime-1.21.lock, docs/onnxruntime.md) or install ONNX Runtime system-wide"
  return 1
}

case $(uname -m) in
  x86_64) native=linux-x64 ;;
  aarch64) native=linux-aarch64 ;;
  *) die "unsupported architecture $(uname -m); install ONNX Runtime system-wide instead" ;;
esac

if [[ $flavor == cuda ]]; then
  [[ $native == linux-x64 ]] || die "Microsoft's CUDA build of ONNX Runtime exists for linux-x64 only"
  jar_artifact=$ORT_CUDA_JAR_ARTIFACT jar_sha=$ORT_CUDA_JAR_SHA256
else
  jar_artifact=$ORT_JAR_ARTIFACT jar_sha=$ORT_JAR_SHA256
fi

stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/include" "$stage/lib"

jar="$cache/$(cut -d: -f2 <<<"$jar_artifact")-$ORT_VERSION.jar"
maven_get "$jar_artifact" "$jar" "$jar_sha"
# The core library, and for GPU builds the provider libraries ORT loads from its own directory at run time (the
# Java binding's JNI shim is left out).
unzip -q -j -o "$jar" "ai/onnxruntime/native/$native/libonnxruntime*.so" -x '*onnxruntime4j_jni*' -d "$stage/lib"
[[ -f $stage/lib/libonnxruntime.so ]] || die "$jar has no ai/onnxruntime/native/$native/libonnxruntime.so"
ln -s libonnxruntime.so "$stage/lib/libonnxruntime.so.1" # the library's SONAME

headers_from=""
if [[ -n ${ORT_AAR_SHA256:-} ]] && maven_get "$ORT_AAR_ARTIFACT" "$cache/onnxruntime-android-$ORT_VERSION.aar" "$ORT_AAR_SHA256"; then
  unzip -q -j -o "$cache/onnxruntime-android-$ORT_VERSION.aar" 'headers/*' -d "$stage/include"
  headers_from="Microsoft AAR $ORT_AAR_ARTIFACT"
else
  deb="$cache/${ORT_DEB_PACKAGE}_$ORT_DEB_VERSION.deb"
  debian_get "$deb"
  dpkg-deb -x "$deb" "$stage/deb"
  cp -r "$stage/deb/usr/include/onnxruntime/." "$stage/include/"
  headers_from="Debian $ORT_DEB_PACKAGE $ORT_DEB_VERSION"
fi

grep -q "ORT_API_VERSION" "$stage/include/onnxruntime_c_api.h" || die "headers missing onnxruntime_c_api.h"
rm -rf "$prefix"; mkdir -p "$(dirname "$prefix")"
mkdir -p "$prefix"; cp -r "$stage/include" "$stage/lib" "$prefix/"
printf 'version=%s\nflavor=%s\nlibrary=%s\nheaders=%s\n' "$ORT_VERSION" "$flavor" "$jar_artifact" "$headers_from" >"$stamp"
log "installed ONNX Runtime $ORT_VERSION ($flavor) into $prefix (headers: $headers_from)"
