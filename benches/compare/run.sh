#!/usr/bin/env bash
# logscrub against ripgrep, the scrubbers crate and Python re on the same
# inputs in one run (see compare.py for what is measured and how).
# Usage: benches/compare/run.sh [compare.py options]   e.g. --size-mb 64
# LOGSCRUB_RECORD=1 appends the run to benches/record/compare.jsonl.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
if ! command -v rg >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq ripgrep >/dev/null
  else
    echo "ripgrep not installed (apt-get install ripgrep); it will be reported missing" >&2
  fi
fi
if ! command -v scrubbers >/dev/null && [ ! -x target/compare-tools/bin/scrubbers ]; then
  cargo install --locked --quiet --root target/compare-tools scrubbers
fi
command -v /usr/bin/time >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq time >/dev/null; }
record=()
[ "${LOGSCRUB_RECORD:-}" = 1 ] && record=(--record benches/record/compare.jsonl)
exec python3 benches/compare/compare.py "${record[@]}" "$@"
