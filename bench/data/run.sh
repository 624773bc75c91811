#!/bin/sh
# Benchmarks of the EEG data path against the original project's Python
# preprocessing (../shared/bench/seed_equiv_preprocess.py: MNE + scipy +
# savez_compressed), on the same files from ../shared/bench/gen_tusz_like.py.
#
# Usage, from the repository root:  sh bench/data/run.sh [WORKDIR]
# (WORKDIR defaults to /tmp/pipe-bench-data; about 2 GB of data is written).
#
# Measures, each side in its own process, single-threaded (workers = 1):
#   1. EDF read + scale: CPU s per recording-hour (Go BenchmarkEDFRead vs
#      mne.io.read_raw_edf(preload=True)).
#   2. populate: recording-hours per CPU second, EDF MB per CPU second, cache
#      bytes per recording-hour (2 TUSZ-like recordings of 1 h, 30 signals at
#      250 Hz, resampled to 256 Hz).
#   3. one random training window: cache.Dataset.ReadWindow vs
#      np.load(npz)['windows'][i].
#   4. peak RSS of populate for one recording of 10 min, 1 h and 4 h.
# Results: WORKDIR/results.jsonl (one JSON object per measurement).
set -eu
W=${1:-/tmp/pipe-bench-data}
PY=/usr/bin/python3
GEN=../shared/bench/gen_tusz_like.py
SEED=../shared/bench/seed_equiv_preprocess.py
mkdir -p "$W"
OUT="$W/results.jsonl"
: > "$OUT"

# gen SPLITDIR PATIENT TOKEN SECONDS SEED: a TUSZ-layout recording
gen() {
	d="$1/$2/s001_2015/01_tcp_ar"
	if [ ! -f "$d/$2_s001_$3.edf" ]; then
		$PY "$GEN" --out "$d" --name "$2_s001_$3" --fs 250 --seconds "$4" --seed "$5" --layout tuh_full >/dev/null
	fi
}
corpus() { # corpus NAME: empty split dirs
	for s in train dev eval; do mkdir -p "$W/$1/$s"; done
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%dT%H:%MZ)"
corpus thr
gen "$W/thr/train" aaaaaaaa t000 3600 1
gen "$W/thr/train" aaaaaaab t000 3600 2
for n in 600:10m 3600:1h 14400:4h; do
	secs=${n%%:*}; tag=${n##*:}
	corpus "rss_$tag"
	gen "$W/rss_$tag/train" aaaaaaac t000 "$secs" 3
done
EDFS=$(find "$W/thr" -name '*.edf' | sort)

echo "== 1. EDF read and scale"
for f in $EDFS; do
	PIPE_BENCH_EDF=$f PIPE_BENCH_CHUNK=10s go test ./bench/data -run '^$' -bench EDFRead -benchtime 5x -count 1 |
		awk -v f="$f" '/^BenchmarkEDFRead/ { for (i = 1; i <= NF; i++) if ($(i+1) == "cpu-s/rec-h") printf "{\"what\":\"edf_read_go\",\"case\":\"%s\",\"edf\":\"%s\",\"cpu_s_per_hour\":%s}\n", $1, f, $i }' >> "$OUT"
done
$PY bench/data/mne_read.py --repeat 3 $EDFS | $PY -c 'import json,sys; [print(json.dumps(dict(what="edf_read_mne", **r))) for r in json.load(sys.stdin)]' >> "$OUT"

echo "== 2. populate throughput and size"
go build -o "$W/popbench" ./bench/data/popbench
rm -rf "$W/cache_thr"
"$W/popbench" populate -src "$W/thr" -dir "$W/cache_thr" -workers 1 | sed 's/^{/{"what":"populate_go",/' >> "$OUT"
ARGS=""
for f in $EDFS; do ARGS="$ARGS $f ${f%.edf}.csv_bi $W/npz_$(basename "${f%.edf}").npz"; done
$PY "$SEED" --timing-json "$W/seed_timing.json" $ARGS 2>/dev/null
$PY - "$W/seed_timing.json" >> "$OUT" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))
files = t["files"]
cpu = sum(f["cpu_s"] for f in files); wall = sum(f["wall_s"] for f in files)
hours = len(files) * 1.0  # the throughput recordings are 1 h each
edf = sum(f["edf_bytes"] for f in files); npz = sum(f["npz_bytes"] for f in files)
print(json.dumps({"what": "populate_seed", "recordings": len(files), "hours": hours, "cpu_s": cpu, "wall_s": wall,
                  "rec_hours_per_cpu_s": hours / cpu, "edf_mb_per_cpu_s": edf / 1e6 / cpu,
                  "cache_bytes_per_hour": npz / hours, "imports_cpu_s": t["imports"]["cpu_s"]}))
EOF

echo "== 3. random window read"
"$W/popbench" windows -dir "$W/cache_thr" -n 5000 | sed 's/^{/{"what":"window_go",/' >> "$OUT"
$PY bench/data/npz_window.py --reads 20 "$W"/npz_*.npz | sed 's/^{/{"what":"window_npz",/' >> "$OUT"

echo "== 4. peak RSS vs recording length"
for tag in 10m 1h 4h; do
	rm -rf "$W/cache_rss_$tag"
	"$W/popbench" populate -src "$W/rss_$tag" -dir "$W/cache_rss_$tag" -workers 1 | sed "s/^{/{\"what\":\"rss_go\",\"length\":\"$tag\",/" >> "$OUT"
	f=$(find "$W/rss_$tag" -name '*.edf')
	/usr/bin/time -f '{"what":"rss_seed","length":"'$tag'","maxrss_mb":%M}' -o "$W/time_$tag.json" \
		$PY "$SEED" "$f" "${f%.edf}.csv_bi" "$W/npz_rss_$tag.npz" 2>/dev/null
	$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); d["maxrss_mb"]/=1024; print(json.dumps(d))' "$W/time_$tag.json" >> "$OUT"
done
cat "$OUT"
