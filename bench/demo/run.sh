#!/bin/sh
# Benchmarks of the demo data generator (package demo, `pipe demo-data`).
#
# Usage, from the repository root:  sh bench/demo/run.sh [WORKDIR]
# (WORKDIR defaults to /tmp/pipe-bench-demo; about 1.5 GB is written).
#
#   1. generation throughput, one worker, CPU seconds per recording-hour:
#      pipe demo-data (6 patients x 1 recording x 10 min = 1 h) against
#      ../shared/bench/gen_tusz_like.py (numpy; 6 files of 600 s, tuh_full
#      layout at 256 Hz: the same number of files, signals and samples).
#   2. the default demo corpus (7.3 recording-hours) on all cores: pipe
#      demo-data, then populate_cache's code (bench/data/popbench) into a
#      cache: wall and CPU seconds of each.
# Each measurement runs 3 times; every run starts from an empty directory.
set -eu
W=${1:-/tmp/pipe-bench-demo}
PY=/usr/bin/python3
GEN=../shared/bench/gen_tusz_like.py
mkdir -p "$W"
go build -o "$W/pipe" ./cmd/pipe
go build -o "$W/popbench" ./bench/data/popbench
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"

for i in 1 2 3; do
	rm -rf "$W/g1" "$W/peer"
	/usr/bin/time -f "%U %S %e" -o "$W/time" "$W/pipe" demo-data --out "$W/g1" --patients 6 --recordings 1 --minutes 10 --workers 1 >/dev/null
	awk '{ printf "pipe demo-data, 1 h, 1 worker:    cpu %6.2f s  wall %6.2f s  (%.2f rec-h per cpu-s)\n", $1 + $2, $3, 1 / ($1 + $2) }' "$W/time"
	mkdir -p "$W/peer"
	/usr/bin/time -f "%U %S %e" -o "$W/time" sh -c "for k in 1 2 3 4 5 6; do $PY $GEN --out $W/peer --name p\$k --fs 256 --seconds 600 --seed \$k --layout tuh_full; done" >/dev/null
	awk '{ printf "gen_tusz_like.py, 1 h (6 x 600 s): cpu %6.2f s  wall %6.2f s  (%.2f rec-h per cpu-s)\n", $1 + $2, $3, 1 / ($1 + $2) }' "$W/time"
done
du -sh "$W/g1" "$W/peer"

for i in 1 2 3; do
	rm -rf "$W/demo" "$W/cache"
	/usr/bin/time -f "%U %S %e" -o "$W/time" "$W/pipe" demo-data --out "$W/demo" >/dev/null
	awk '{ printf "pipe demo-data, default (7.33 h):   cpu %6.2f s  wall %6.2f s\n", $1 + $2, $3 }' "$W/time"
	/usr/bin/time -f "%U %S %e" -o "$W/time" "$W/popbench" populate -src "$W/demo" -dir "$W/cache" -workers "$(nproc)" >/dev/null
	awk '{ printf "populate it (all cores):            cpu %6.2f s  wall %6.2f s\n", $1 + $2, $3 }' "$W/time"
done
