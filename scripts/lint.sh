#!/usr/bin/env bash
# clang-tidy over the project's sources with the release build's compile commands (.clang-tidy has the checks).
# Usage: scripts/lint.sh [FILES...]   (default: every .cpp under src/ and apps/)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f build/release/compile_commands.json ]] || cmake --preset release >/dev/null
files=("$@")
((${#files[@]})) || mapfile -t files < <(git ls-files 'src/*.cpp' 'apps/*.cpp')
printf '%s\n' "${files[@]}" | xargs -P "$(nproc)" -n 4 clang-tidy -p build/release --quiet
