#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# clang-tidy over the project's sources (checks and naming rules in .clang-tidy), with a result cache.
# Usage: scripts/lint.sh [FILES...]   (default: every .cpp under src/, apps/ and fuzz/)
#        FOCAL_LINT_BUILD picks the compile commands (default: build/ci-asan when configured, else release).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FOCAL_LINT_BUILD:-}
if [[ -z $build ]]; then
  build=build/release
  [[ -f build/ci-asan/compile_commands.json ]] && build=build/ci-asan
fi
[[ -f $build/compile_commands.json ]] || cmake --preset "$(basename "$build")" >/dev/null
exec python3 tools/lint.py --build "$build" "$@"
