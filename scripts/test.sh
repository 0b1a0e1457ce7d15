#!/usr/bin/env bash
# SPDX-License-Identifier: AGPL-3.0-or-later
# The full test suite, exactly as CI runs it:
#   set-up (idempotent), the format check and the SPDX licence header of every source file;
#   ci       gcc release build, warnings as errors, and the web UI: every test (unit, integration, fidelity, end to
#            end, the web UI's Vitest suite and its browser suite in Chromium, the Debian packages built from
#            it: inspected, and installed and started when run as root in CI);
#   ci-asan  clang build with AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer instrumentation,
#            warnings as errors: the unit and integration suites (the hostile tables attack the sanitised
#            binaries), then a fuzz smoke run of every target, then clang-tidy over the sources;
#   ci-tsan  clang ThreadSanitizer build of the threaded suites (unit incl. OCR and text search, HTTP front, jobs,
#            server, ML client, models: the registry and batcher), tests/tsan.supp naming the uninstrumented
#            libraries it cannot see into.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)
fuzz_seconds=${FOCAL_FUZZ_SMOKE_SECONDS:-20}
stage() { printf '\n== %s (%s)\n' "$1" "$(date +%T)"; }

scripts/bootstrap.sh --no-build

stage "format and licence header check"
git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror
unlicensed=$(git ls-files '*.cpp' '*.h' '*.py' '*.sh' '*.cmake' 'CMakeLists.txt' '*/CMakeLists.txt' |
  xargs grep -L 'SPDX-License-Identifier: AGPL-3.0-or-later' || true)
[[ -z $unlicensed ]] || { printf 'missing SPDX licence header:
%s
' "$unlicensed" >&2; exit 1; }

stage "build (ci)"
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$jobs"
stage "test (ci)"
ctest --preset ci -j "$jobs"

stage "build (ci-asan)"
cmake --preset ci-asan >/dev/null
cmake --build --preset ci-asan -j "$jobs"
stage "test (ci-asan: unit and integration suites)"
ctest --preset ci-asan -j "$jobs" -LE 'e2e|fidelity|tools|packaging'
stage "fuzz smoke (${fuzz_seconds} s per target)"
FOCAL_FUZZ_PRESET=ci-asan scripts/fuzz.sh "$fuzz_seconds"
stage "clang-tidy"
# Results are cached by each file's preprocessed source (tools/lint.py), beside ccache's cache: a CI runner that
# keeps its ccache keeps these too, and lints only the files whose code changed.
lint_cache=$(ccache --get-config cache_dir 2>/dev/null || true)
export FOCAL_LINT_CACHE=${FOCAL_LINT_CACHE:-${lint_cache:-$HOME/.cache}/focal-clang-tidy}
FOCAL_LINT_BUILD=build/ci-asan scripts/lint.sh

stage "build (ci-tsan: threaded suites)"
cmake --preset ci-tsan >/dev/null
cmake --build --preset ci-tsan -j "$jobs" --target focal_unit_tests focal_jobs_tests focal_http_tests \
  focal_server_tests focal_ml_client_tests focal_model_tests focal_text_search_tests focal_ocr_tests
stage "test (ci-tsan)"
ctest --preset ci-tsan -j "$jobs" -L '^(unit|http|jobs|server|ml_client|models)$' -E '^fuzz_regressions'
stage "done"
