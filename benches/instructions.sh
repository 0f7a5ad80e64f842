#!/usr/bin/env bash
# Instructions per request, all threads, user space: a measure that does not
# move with the machine's speed (this VM's varies by a factor of 1.5 from
# minute to minute), for comparing layers side by side.
#
# Usage (from the project root, after ../shared/bench-peers/run.sh has built
# the peers harness against this checkout):
#   benches/instructions.sh bare metrics-direct otel wavefront wavefront-no-cpu
#
# Each variant runs twice under callgrind (fair thread scheduling, so that
# the reporter keeps up as it does natively) in the harness's in-process
# mode, with 10,000 and 30,000 requests after a 5,000-request warm-up; the
# difference over 20,000 requests leaves out start-up and shutdown. Needs
# valgrind (`apt-get install valgrind`). About ten seconds a variant.
set -euo pipefail
bin=${PEERS_BIN:-${TMPDIR:-/tmp}/peers-bench/target/release/peers-bench}
[ -x "$bin" ] || { echo "no harness at $bin: run ../shared/bench-peers/run.sh . list first" >&2; exit 1; }
count() {
  valgrind --tool=callgrind --fair-sched=yes --callgrind-out-file=/dev/null \
    "$bin" inproc-worker --variant "$1" --requests "$2" --warmup 5000 2>&1 |
    awk '/Collected/ {print $4}'
}
echo "| variant | instructions / request | added over bare |"
echo "|---|---:|---:|"
base=""
for variant in "$@"; do
  small=$(count "$variant" 10000)
  large=$(count "$variant" 30000)
  per=$(( (large - small) / 20000 ))
  [ "$variant" = bare ] && base=$per
  echo "| $variant | $per | ${base:+$(( per - base ))} |"
done
