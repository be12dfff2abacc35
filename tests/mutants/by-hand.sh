#!/usr/bin/env bash
# Applies one mutant by hand, runs the named tests and restores the file: how a survivor is shown killed after a run.
#   tests/mutants/by-hand.sh src/IJepa/Preprocessing/ImagePreprocessor.cs 66 '/resized.Release();/;/' "FullyQualifiedName~PreprocessingBufferTests"
# FILE LINE SED-SUBSTITUTION FILTER; prints the mutated line and the test summary ("Failed!" = killed).
set -uo pipefail
cd "$(dirname "$0")/../.."
file="$1" line="$2" expression="$3" filter="$4"
backup="$(mktemp)"
cp "$file" "$backup"
trap 'cp "$backup" "$file"; rm -f "$backup"' EXIT
sed -i "${line}s${expression}" "$file"
if cmp -s "$file" "$backup"; then
  echo "line $line: the substitution changed nothing" >&2
  exit 2
fi
echo "== $file:$line: $(sed -n "${line}p" "$file" | sed 's/^ *//')"
if ! build="$(dotnet build tests/IJepa.Tests -c Release -v q 2>&1)"; then
  echo "the mutant does not compile (Stryker counts that as a compile error, not a kill):"
  grep -E " error " <<< "$build" | head -3
  exit 3
fi
dotnet test tests/IJepa.Tests -c Release --no-build --filter "$filter" 2>&1 | grep -E "Passed!|Failed!"
echo "(the Release binaries now hold this mutant: build again before any 'dotnet test --no-build')"
