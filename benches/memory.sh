#!/usr/bin/env bash
# Peak memory of the stdin filter, and of `scrub -j 2` on the same inputs as
# files, on inputs far larger than memory should need: 1 GiB of log lines,
# and 1 GiB with no newline at all. Prints peak
# RSS (GNU time) and throughput beside `wc -l` on the same generated stream.
# Usage: benches/memory.sh [SIZE_MIB]   (default 1024)
set -eu  # no pipefail: `yes | head` ends `yes` with SIGPIPE, by design
cd "$(dirname "$0")/.."
size=${1:-1024}
cargo build --release --quiet
bin=target/release/logscrub
lines() { yes 'Mar 27 13:09:37 ip-10-77-20-248 sshd[1291]: Accepted publickey for ubuntu from 10.0.0.7 port 22 password=hunter2hunter2' | head -c "${size}M"; }
noline() { head -c "${size}M" /dev/zero | tr '\0' 'a'; }
for input in lines noline; do
  start=$(date +%s.%N)
  $input | wc -l > /dev/null
  base=$(echo "$(date +%s.%N) - $start" | bc)
  start=$(date +%s.%N)
  $input | /usr/bin/time -f '%M' -o /tmp/logscrub-mem.$$ "$bin" > /dev/null
  took=$(echo "$(date +%s.%N) - $start" | bc)
  rss=$(cat /tmp/logscrub-mem.$$)
  printf '%-7s %5d MiB  peak RSS %6.1f MiB  logscrub %7.1f MB/s  (generator | wc -l %7.1f MB/s)\n' \
    "$input" "$size" "$(echo "$rss/1024" | bc -l)" "$(echo "$size*1.048576/$took" | bc -l)" "$(echo "$size*1.048576/$base" | bc -l)"
done
# `scrub` on two threads splits a large file into chunks: the same two
# inputs as files, whose peak must not grow with a line's length.
dir=$(mktemp -d)
trap 'rm -rf "$dir" /tmp/logscrub-mem.$$' EXIT
for input in lines noline; do
  mkdir -p "$dir/in" && rm -rf "$dir/out" && $input > "$dir/in/$input.log"
  start=$(date +%s.%N)
  /usr/bin/time -f '%M' -o /tmp/logscrub-mem.$$ "$bin" scrub -q -j 2 --out "$dir/out" "$dir/in/$input.log"
  took=$(echo "$(date +%s.%N) - $start" | bc)
  printf 'scrub -j2 %-7s %5d MiB  peak RSS %6.1f MiB  %7.1f MB/s\n' \
    "$input" "$size" "$(echo "$(cat /tmp/logscrub-mem.$$)/1024" | bc -l)" "$(echo "$size*1.048576/$took" | bc -l)"
  rm -f "$dir/in/$input.log"
done
