#!/usr/bin/env bash
# bench/gpu/run.sh — run on the GPU machine (NVIDIA driver, no Go toolchain)
# from the directory build.sh made. In one go:
#   1. device facts (nvidia-smi)
#   2. every CUDA op test and golden case (cuda.test, float64 references, 1e-3 relative)
#   3. TestGPUReport: the timing table at the V3 shapes (error vs CPU f64,
#      GB/s and % of the measured device copy bandwidth)
#   4. pipe test-kernels --device cuda --require-gpu (CPU vs GPU, per kernel)
#   5. the model's Backend engine on the GPU vs the pure-Go model (logits and
#      every gradient) and the demo training step time (model.test)
# Everything is also written to results.txt. Exit status: non-zero if any
# step failed.
set -uo pipefail
cd "$(dirname "$0")"
log=results.txt
: > "$log"
status=0
step() { echo "== $*" | tee -a "$log"; }
step "commit $(cat COMMIT 2>/dev/null || echo unknown), $(date -u +%FT%TZ), $(hostname)"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.memory --format=csv 2>&1 | tee -a "$log"
fi
export PIPE_GOLDEN_DIR="$PWD/golden"
step "op tests and golden cases"
./cuda.test -test.v -test.run 'Test' -test.timeout 20m 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|Error|error' | grep -v '=== RUN' | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
step "timing table (TestGPUReport)"
PIPE_GPU_REPORT=1 ./cuda.test -test.v -test.run '^TestGPUReport$' -test.timeout 20m 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
step "pipe test-kernels --device cuda"
if help=$(./pipe test-kernels --help 2>&1); then
  req=""
  case "$help" in *--require-gpu*) req=--require-gpu ;; esac
  ./pipe test-kernels --device cuda $req 2>&1 | tee -a "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
else
  echo "this pipe build has no test-kernels command (issue 4's kernelcheck stage is not in it)" | tee -a "$log"
  status=1
fi
step "model engine on the GPU (TestEngineMatchesV3GPU, TestEngineGPUStep)"
if [ -x ./model.test ]; then
  ./model.test -test.v -test.run '^TestEngine(MatchesV3GPU|GPUStep)$' -test.timeout 20m 2>&1 | grep -v '=== RUN' | tee -a "$log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
else
  echo "no model.test in this bundle" | tee -a "$log"
  status=1
fi
step "done: status $status (results in $PWD/$log)"
exit $status
