#!/usr/bin/env bash
# Instructions per clean event through each tracing subscriber of
# `cargo bench -p logscrub-tracing --bench overhead` (no logscrub, the field
# formatter, the redacting writer), counted by callgrind: the same on every
# run, whatever else the machine is doing, where its criterion and
# interleaved timings drift by as much as the overhead. Each count is the
# difference between 21,000 and 1,000 events, so set-up is left out.
# Usage: benches/tracing_instructions.sh   (needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(cargo bench -p logscrub-tracing --bench overhead --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "overhead" and m.get("executable"):
        print(m["executable"])')
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --events "$1" "$2" 2>&1 | awk '/Collected/ {print $4}'; }
plain=0
for s in plain fields redacted; do
  per=$(( ($(count "$s" 21000) - $(count "$s" 1000)) / 20000 ))
  [ "$s" = plain ] && plain=$per
  printf '%-8s %6d instructions per clean event (%+.1f%%)\n' "$s" "$per" "$(echo "100 * ($per - $plain) / $plain" | bc -l)"
done
