#!/bin/sh
# Kernel benchmarks at the V3 shapes (CPU backend) beside the PyTorch
# sequential-scan peer (1 thread) and the memory-bandwidth probe.
# Usage: bench/kernels/run.sh   (from the repository root; ~2 min on 2 cores)
# The PyTorch peer runs its forward only; FULL=1 adds its backward (the node
# shape's takes ~12 minutes).
set -eu
cd "$(dirname "$0")/../.."
echo "# $(date -u +%FT%TZ) $(uname -m) $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
go test -run xxx -bench 'Scan|Linear|DWConv|Bandwidth' -benchtime 3x ./bench/kernels/
for s in node edge; do
  if [ "${FULL:-}" = 1 ]; then
    /usr/bin/python3 bench/kernels/scan_torch.py "$s" 1
  else
    /usr/bin/python3 bench/kernels/scan_torch.py "$s" 1 fwd
  fi
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
