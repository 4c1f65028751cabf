#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation on the
# stable toolchain (what `cargo fuzz build -s none` does on nightly) and runs
# one for a while. Usage: fuzz/run.sh TARGET [SECONDS]   (redact | rules)
set -eu
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh redact|rules [seconds]}
seconds=${2:-300}
triple=$(rustc -vV | sed -n 's/^host: //p')
# --target keeps the instrumentation off build scripts.
RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks" \
  cargo build --release --target "$triple" --bin "$target"
mkdir -p "corpus/$target"
exec "target/$triple/release/$target" "corpus/$target" "seeds/$target" \
  -max_total_time="$seconds" -rss_limit_mb=2048
