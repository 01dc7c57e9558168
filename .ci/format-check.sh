#!/usr/bin/env bash
# Checks that every tracked C++/CUDA source (.cc .h .cu .cuh, per `git ls-files`) is formatted by the repo's
# .clang-format. Lists the files that are not and exits 1; exits 0 when all are formatted. Changes nothing.
# Fix with: clang-format -i <file>...   Needs: clang-format (Debian package clang-format, version 14).
# Usage: bash .ci/format-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null; then
  echo "format-check: clang-format not found (apt-get install clang-format)" >&2
  exit 2
fi
files=()
while IFS= read -r -d '' f; do
  [ -f "$f" ] && files+=("$f")  # skips files deleted in the working tree but not yet committed
done < <(git ls-files -z -- '*.cc' '*.h' '*.cu' '*.cuh')
# One clang-format per 50 files (a process per file is slow on a busy machine); --dry-run --Werror reports each
# misformatted spot as "FILE:LINE:COL: error: code should be clang-formatted".
report=$(printf '%s\0' "${files[@]}" | xargs -0 -n 50 clang-format --dry-run --Werror 2>&1 || true)
mapfile -t unformatted < <(grep -oE '^[^:]+:[0-9]+:[0-9]+: error: code should be clang-formatted' <<<"$report" \
                             | cut -d: -f1 | sort -u)
other=$(grep -E '^(error|.*: error:)' <<<"$report" | grep -v 'code should be clang-formatted' || true)
if [ -n "$other" ]; then
  echo "format-check: clang-format failed:" >&2
  echo "$other" >&2
  exit 2
fi
if [ ${#unformatted[@]} -gt 0 ]; then
  echo "format-check: ${#unformatted[@]} of ${#files[@]} files are not clang-formatted (fix: clang-format -i FILE):"
  printf '  %s\n' "${unformatted[@]}"
  exit 1
fi
echo "format-check: all ${#files[@]} files are formatted ($(clang-format --version))"
