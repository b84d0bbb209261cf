#!/usr/bin/env bash
# Runs every Go fuzz target in the module for $FUZZTIME each.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-60s}
found=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
    found=$((found + 1))
    echo "fuzz ${dir}:${target} for ${FUZZTIME}"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "./${dir}"
  done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' || true)
echo "fuzz targets run: ${found}"
