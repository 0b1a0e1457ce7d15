#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# Installs the pinned ONNX Runtime into a git-ignored prefix (default: .deps/onnxruntime) with include/ and lib/.
# Downloads are verified by SHA-256 and cached in ${FOCAL_CACHE_DIR:-~/.cache/focal} so repeated runs are offline.
# Usage: scripts/fetch-onnxruntime.sh [PREFIX]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../cmake/onnxruntime.lock
source "$root/cmake/onnxruntime.lock"
prefix=${1:-$root/.deps/onnxruntime}
cache=${FOCAL_CACHE_DIR:-$HOME/.cache/focal}/onnxruntime-$ORT_VERSION
stamp="$prefix/.focal-ort-$ORT_VERSION"
log() { printf '[fetch-onnxruntime] %s\n' "$*" >&2; }

if [[ -f $stamp ]]; then log "ONNX Runtime $ORT_VERSION already in $prefix"; exit 0; fi
mkdir -p "$cache"

verify() { # file sha256
  local got; got=$(sha256sum "$1" | cut -d' ' -f1)
  if [[ $got != "$2" ]]; then log "checksum mismatch for $1: expected $2, got $got"; rm -f "$1"; return 1; fi
}

maven_get() { # artifact dest sha256
  local artifact=$1 dest=$2 sha=$3 tmp
  [[ -f $dest ]] && verify "$dest" "$sha" && return 0
  tmp=$(mktemp -d)
  if ! mvn -q -B dependency:copy -Dartifact="$artifact" -DoutputDirectory="$tmp" >"$tmp/mvn.log" 2>&1; then
    log "maven could not fetch $artifact:"; grep -m3 ERROR "$tmp/mvn.log" >&2 || true
    rm -rf "$tmp"; return 1
  fi
  mv "$tmp"/*."${artifact##*:}" "$dest"; rm -rf "$tmp"
  verify "$dest" "$sha"
}

debian_get() { # downloads the pinned -dev package from the same mirror apt already uses, in a private apt state
  local dest=$1 mirror tmp
  [[ -f $dest ]] && verify "$dest" "$ORT_DEB_SHA256" && return 0
  mirror=$(grep -rhoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null |
    awk '{print $2}' | grep -E '/debian/?$' | head -1 || true)
  [[ -n $mirror ]] || { log "no Debian mirror found in /etc/apt"; return 1; }
  tmp=$(mktemp -d)
  mkdir -p "$tmp/lists/partial" "$tmp/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $ORT_DEB_SUITE main" >"$tmp/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o Dir::Etc::SourceParts=- -o "Dir::State::Lists=$tmp/lists"
    -o "Dir::Cache=$tmp" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" -qq update >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; rm -rf "$tmp"; return 1; }
  (cd "$tmp" && apt-get "${opts[@]}" -qq download "$ORT_DEB_PACKAGE=$ORT_DEB_VERSION" >>"$tmp/apt.log" 2>&1) ||
    { cat "$tmp/apt.log" >&2; rm -rf "$tmp"; return 1; }
  mv "$tmp"/"$ORT_DEB_PACKAGE"_*.deb "$dest"; rm -rf "$tmp"
  verify "$dest" "$ORT_DEB_SHA256"
}

case $(uname -m) in
  x86_64) native=linux-x64 ;;
  aarch64) native=linux-aarch64 ;;
  *) log "unsupported architecture $(uname -m); install ONNX Runtime system-wide instead"; exit 1 ;;
esac

stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/include" "$stage/lib"

jar="$cache/onnxruntime-$ORT_VERSION.jar"
maven_get "$ORT_JAR_ARTIFACT" "$jar" "$ORT_JAR_SHA256"
unzip -q -j -o "$jar" "ai/onnxruntime/native/$native/libonnxruntime.so" -d "$stage/lib"
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

grep -q "ORT_API_VERSION" "$stage/include/onnxruntime_c_api.h" || { log "headers missing onnxruntime_c_api.h"; exit 1; }
rm -rf "$prefix"; mkdir -p "$(dirname "$prefix")"
mkdir -p "$prefix"; cp -r "$stage/include" "$stage/lib" "$prefix/"
printf 'version=%s\nlibrary=%s\nheaders=%s\n' "$ORT_VERSION" "$ORT_JAR_ARTIFACT" "$headers_from" >"$stamp"
log "installed ONNX Runtime $ORT_VERSION into $prefix (headers: $headers_from)"
