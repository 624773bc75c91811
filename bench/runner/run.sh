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
# stopped and reported as ">TIMEOUT". Prints a markdown table with the ratios
# pipe/make and task/pipe from this one run.
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

# now: nanoseconds
now() { date +%s%N; }
# timeit CMD...: seconds taken by CMD (output discarded), "fail" when it fails
timeit() {
	t0=$(now)
	if "$@" >/dev/null 2>&1; then
		t1=$(now)
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'
	else
		echo fail
	fi
}
# best3 CMD...: best of three timeit
best3() {
	b=""
	for _ in 1 2 3; do
		t=$(timeit "$@")
		if [ "$t" = fail ]; then echo fail; return; fi
		if [ -z "$b" ] || awk -v t="$t" -v b="$b" 'BEGIN { exit !(t < b) }'; then b=$t; fi
	done
	echo "$b"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2f", a / b; else print "-" }'; }
fresh() { rm -rf out .pipe .task; mkdir out; }

echo "machine: $J CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%dT%H:%MZ), $(make --version | head -1), task $($TASK --version)"
echo
echo "| pipeline | pipe cold | make cold | task cold | pipe up-to-date | make up-to-date | task up-to-date | pipe plan | cold pipe/make | up-to-date pipe/make | up-to-date task/pipe |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for shape in chain fan; do
	for n in $SIZES; do
		d="$W/$shape-$n"
		"$W/gen" -shape "$shape" -n "$n" -dir "$d"
		cd "$d"
		fresh; pc=$(timeit "$PIPE" run --parallel "$J")
		pu=$(best3 "$PIPE" run --parallel "$J")
		pp=$(best3 "$PIPE" plan)
		fresh; mc=$(timeit make -s -j "$J")
		mu=$(best3 make -s -j "$J")
		fresh; tc=$(timeit timeout "$TASK_TIMEOUT" "$TASK" -s -C "$J")
		if [ "$tc" = fail ]; then tc=">$TASK_TIMEOUT"; tu="-"; else tu=$(best3 timeout "$TASK_TIMEOUT" "$TASK" -s -C "$J"); fi
		echo "| $shape-$n | $pc | $mc | $tc | $pu | $mu | $tu | $pp | $(ratio "$pc" "$mc") | $(ratio "$pu" "$mu") | $(ratio "$tu" "$pu") |"
		cd "$ROOT"
	done
done
