#!/usr/bin/env bash
# The full test suite, exactly as CI runs it: set-up (idempotent), a warnings-as-errors release build with
# every test, then the AddressSanitizer + UndefinedBehaviorSanitizer build with every test again (the HTTP
# integration suite then attacks the sanitised binary). Also checks formatting.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)

scripts/bootstrap.sh --no-build

echo "== format check"
git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror

for preset in ci ci-asan; do
  echo "== build ($preset)"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  echo "== test ($preset)"
  ctest --preset "$preset" -j "$jobs"
done
