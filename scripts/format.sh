#!/usr/bin/env bash
# Formats the C++ sources that git tracks with clang-format and the repository's .clang-format.
#   scripts/format.sh           reformat in place
#   scripts/format.sh --check   change nothing; list the files that are not formatted, exit 1 if any
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
command -v "$CLANG_FORMAT" >/dev/null || { echo "format.sh: $CLANG_FORMAT not found (Debian: apt-get install clang-format)" >&2; exit 2; }

mapfile -t files < <(git ls-files -- '*.cpp' '*.h' '*.hpp' '*.cc')
case "${1:-}" in
  --check)
    unformatted=()
    for file in "${files[@]}"; do
      "$CLANG_FORMAT" --style=file --dry-run --Werror "$file" >/dev/null 2>&1 || unformatted+=("$file")
    done
    if [ ${#unformatted[@]} -gt 0 ]; then
      echo "format.sh: ${#unformatted[@]} file(s) not formatted (run scripts/format.sh):" >&2
      printf '  %s\n' "${unformatted[@]}" >&2
      exit 1
    fi
    echo "format.sh: ${#files[@]} files formatted"
    ;;
  "") "$CLANG_FORMAT" --style=file -i "${files[@]}" ;;
  *) echo "usage: scripts/format.sh [--check]" >&2; exit 2 ;;
esac
