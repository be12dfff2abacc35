#!/usr/bin/env bash
# What the embedding server's large-object heap holds under overload: runs `bench server-load --phases overload`,
# takes a heap dump of the server 15 s before the end (dotnet-dump), then lists every byte[] of 85,000 bytes or more
# and, from `gcroot`, what keeps it alive (a pool, a queued job, a decoder's stack...). Not in CI.
#   dotnet tool install dotnet-dump --tool-path /tmp/dtools   # 10.0.750501 here
#   DOTNET_DUMP=/tmp/dtools/dotnet-dump bench/server-heap/run.sh [SECONDS] > bench/results/DATE-server-heap.txt
set -euo pipefail
cd "$(dirname "$0")/../.."
secs="${1:-150}"
[ "$secs" -ge 30 ] || { echo "give at least 30 seconds" >&2; exit 2; }
dump_tool="${DOTNET_DUMP:-dotnet-dump}"
work="bench/results/tmp/server-heap"
rm -rf "$work" && mkdir -p "$work"
dotnet build bench/IJepa.Benchmarks -c Release -v q > /dev/null
dotnet build samples/IJepa.Server -c Release -v q > /dev/null
dotnet run --project bench/IJepa.Benchmarks -c Release --no-build -- server-load --phases overload --overload-seconds "$secs" > "$work/bench.txt" 2>&1 &
bench=$!
trap 'kill "$bench" 2> /dev/null || true' EXIT
pid=""
while [ -z "$pid" ]; do
  kill -0 "$bench" 2> /dev/null || { echo "the benchmark ended before its server started:" >&2; cat "$work/bench.txt" >&2; exit 1; }
  sleep 1
  # This checkout's server only (the benchmark starts its Release build).
  pid="$(pgrep -f "$(pwd)/samples/IJepa.Server/bin" | head -1 || true)"
done
sleep $((secs - 15))
echo "# heap dump of server pid $pid at about $((secs - 15)) s after it started"
"$dump_tool" collect -p "$pid" --type Heap -o "$work/server.dmp" > /dev/null
wait "$bench"
grep -v '^heap at' "$work/bench.txt"
"$dump_tool" analyze "$work/server.dmp" -c "eeheap -gc" -c "dumpheap -stat -min 85000" -c exit | grep -E 'Large object heap|GC Allocated|GC Committed|System.Byte\[\]|Total'
"$dump_tool" analyze "$work/server.dmp" -c "dumpheap -type System.Byte[] -min 85000" -c exit > "$work/list.txt"
args=()
for a in $(awk 'NF == 3 && $1 ~ /^[0-9a-f]+$/ {print $1}' "$work/list.txt"); do args+=(-c "gcroot $a"); done
"$dump_tool" analyze "$work/server.dmp" "${args[@]}" -c exit > "$work/roots.txt"
python3 bench/server-heap/owners.py "$work/list.txt" "$work/roots.txt"
