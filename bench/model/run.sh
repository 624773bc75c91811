#!/usr/bin/env bash
# Windows/s of V3 training steps (forward + backward, random windows of
# 19 × LENGTH samples) for the Go model and the PyTorch implementation of the
# same architecture and sizes (bench/model/v3_torch.py, parameter count
# asserted equal), with the same thread count. Prints both JSON lines and the
# ratio (per wall second and per CPU second).
#
#   bench/model/run.sh                       # demo profile, batch 4, 2 threads
#   MODEL='{"preset":"demo"}' BATCH=16 THREADS=1 STEPS=3 bench/model/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=${MODEL:-'{"preset":"demo"}'}
BATCH=${BATCH:-4}
LENGTH=${LENGTH:-2048}
THREADS=${THREADS:-2}
STEPS=${STEPS:-3}
TORCH_STEPS=${TORCH_STEPS:-1}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/gobench" ./bench/model/gobench
cfg=$("$bin/gobench" -model "$MODEL" -print-config)
go_json=$("$bin/gobench" -model "$MODEL" -batch "$BATCH" -length "$LENGTH" -threads "$THREADS" -steps "$STEPS")
params=$(echo "$go_json" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["params"])')
py_json=$(/usr/bin/python3 bench/model/v3_torch.py --config "$cfg" --batch "$BATCH" --length "$LENGTH" \
  --threads "$THREADS" --steps "$TORCH_STEPS" --params "$params")
echo "config: $cfg"
echo "$go_json"
echo "$py_json"
/usr/bin/python3 - "$go_json" "$py_json" <<'PY'
import json, sys
g, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print("go/pytorch windows/s: %.1fx   per CPU second: %.1fx   (%d parameters each)" % (
    g["windows_per_s"] / p["windows_per_s"], g["windows_per_cpu_s"] / p["windows_per_cpu_s"], g["params"]))
PY
