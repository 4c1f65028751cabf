#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation on the
# stable toolchain (what `cargo fuzz build -s none` does on nightly) and runs
# them. Usage:
#   fuzz/run.sh TARGET [SECONDS]   one target (default 300 s)
#   fuzz/run.sh all [SECONDS]      every target in turn, SECONDS each
# Targets: redact rules forward formats compressed archive. A failing input is saved
# as fuzz/artifacts/TARGET/crash-*; replay it with
#   fuzz/target/<host>/release/TARGET fuzz/artifacts/TARGET/crash-...
set -eu
cd "$(dirname "$0")"
targets="redact rules forward formats compressed archive"
which=${1:?usage: fuzz/run.sh all|TARGET [seconds]   (targets: $targets)}
seconds=${2:-300}
[ "$which" = all ] || targets=$which
triple=$(rustc -vV | sed -n 's/^host: //p')
# --target keeps the instrumentation off build scripts.
RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks" \
  cargo build --quiet --release --target "$triple" $(printf -- '--bin %s ' $targets)
for target in $targets; do
  echo "== fuzz $target for ${seconds}s"
  mkdir -p "corpus/$target" "artifacts/$target"
  log="artifacts/$target/last-run.log"
  status=0
  "target/$triple/release/$target" "corpus/$target" "seeds/$target" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -artifact_prefix="artifacts/$target/" \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^#[0-9]+ +DONE' "$log" || true
  if [ "$status" != 0 ]; then
    tail -n 40 "$log"
    echo "fuzz target $target failed (exit $status); the input is in fuzz/artifacts/$target/" >&2
    exit "$status"
  fi
done
