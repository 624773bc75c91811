#!/bin/sh
# Runner overhead benchmark: pipe against GNU make and go-task on pipelines
# of N stages that each `touch` one file (bench/runner/gen writes the three
# equivalent forms), chain and fan shapes, N = 100, 1000, 5000.
#
# Usage, from the repository root:  sh bench/runner/run.sh [WORKDIR] [SIZES]
# (WORKDIR defaults to /tmp/pipe-bench-runner, SIZES to "100 1000 5000").
#
# For each tool: cold = outputs and state removed, one run; up to date = a
# second run with nothing to do, best of 3. Also `pipe plan` on the up-to-date
# pipeline, best of 3. All tools run with the same parallelism (-j = number
# of CPUs). A go-task run longer than TASK_TIMEOUT seconds (default 600) is
# stopped and reported as ">TIMEOUT". Prints two markdown tables from this one
# run: wall-clock seconds with the ratios pipe/make and task/pipe, and CPU
# seconds (user + sys, children included), which a loaded machine disturbs
# less.
set -eu
W=${1:-/tmp/pipe-bench-runner}
SIZES=${2:-"100 1000 5000"}
TASK_TIMEOUT=${TASK_TIMEOUT:-600}
J=$(nproc)
ROOT=$(pwd)
mkdir -p "$W"
go build -o "$W/pipe" ./cmd/pipe
go build -o "$W/gen" ./bench/runner/gen
go build -o "$W/task" github.com/go-task/task/v3/cmd/task
PIPE="$W/pipe"
TASK="$W/task"
CPU="$W/cpu.txt"
: > "$W/cpu-table.md"

# timeit CMD...: prints the wall seconds of CMD (output discarded), "fail"
# when it fails; its CPU seconds go to $CPU.
timeit() {
	if /usr/bin/time -f "%e %U %S" -o "$W/time.txt" "$@" >/dev/null 2>&1; then
		awk '{ printf "%.3f", $1 }' "$W/time.txt"
		awk '{ printf "%.3f", $2 + $3 }' "$W/time.txt" > "$CPU"
	else
		echo fail
		echo - > "$CPU"
	fi
}
# best3 CMD...: best of three timeit (wall), with the CPU of that run
best3() {
	b=""
	bc=""
	for _ in 1 2 3; do
		t=$(timeit "$@")
		if [ "$t" = fail ]; then echo fail; return; fi
		if [ -z "$b" ] || awk -v t="$t" -v b="$b" 'BEGIN { exit !(t < b) }'; then b=$t; bc=$(cat "$CPU"); fi
	done
	echo "$bc" > "$CPU"
	echo "$b"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2f", a / b; else print "-" }'; }
fresh() { rm -rf out .pipe .task; mkdir out; }

echo "machine: $J CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%dT%H:%MZ), $(make --version | head -1), task $($TASK --version), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "Wall-clock seconds:"
echo
echo "| pipeline | pipe cold | make cold | task cold | pipe up-to-date | make up-to-date | task up-to-date | pipe plan | cold pipe/make | up-to-date pipe/make | up-to-date task/pipe |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for shape in chain fan; do
	for n in $SIZES; do
		d="$W/$shape-$n"
		"$W/gen" -shape "$shape" -n "$n" -dir "$d"
		cd "$d"
		fresh; pc=$(timeit "$PIPE" run --parallel "$J"); pcc=$(cat "$CPU")
		pu=$(best3 "$PIPE" run --parallel "$J"); puc=$(cat "$CPU")
		pp=$(best3 "$PIPE" plan); ppc=$(cat "$CPU")
		fresh; mc=$(timeit make -s -j "$J"); mcc=$(cat "$CPU")
		mu=$(best3 make -s -j "$J"); muc=$(cat "$CPU")
		fresh; tc=$(timeit timeout "$TASK_TIMEOUT" "$TASK" -s -C "$J"); tcc=$(cat "$CPU")
		if [ "$tc" = fail ]; then tc=">$TASK_TIMEOUT"; tu="-"; tuc="-"; else tu=$(best3 timeout "$TASK_TIMEOUT" "$TASK" -s -C "$J"); tuc=$(cat "$CPU"); fi
		echo "| $shape-$n | $pc | $mc | $tc | $pu | $mu | $tu | $pp | $(ratio "$pc" "$mc") | $(ratio "$pu" "$mu") | $(ratio "$tu" "$pu") |"
		echo "| $shape-$n | $pcc | $mcc | $tcc | $puc | $muc | $tuc | $ppc | $(ratio "$pcc" "$mcc") | $(ratio "$puc" "$muc") | $(ratio "$tuc" "$puc") |" >> "$W/cpu-table.md"
		cd "$ROOT"
	done
done
echo
echo "CPU seconds (user + sys), same runs:"
echo
echo "| pipeline | pipe cold | make cold | task cold | pipe up-to-date | make up-to-date | task up-to-date | pipe plan | cold pipe/make | up-to-date pipe/make | up-to-date task/pipe |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
cat "$W/cpu-table.md"
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
