#!/usr/bin/env bash
# bench/gpu/build.sh — run on a CPU machine with Go, cgo and the CUDA driver
# stub (Debian: libcuda1, nvidia-cuda-dev). Builds everything the GPU machine
# needs into one directory (default bench/gpu/out) and a tarball of it:
#   cuda.test  the kernels/cuda test binary (-tags cuda): op tests, golden
#              cases, TestGPUReport (the timing table)
#   model.test the model test binary (-tags cuda): the Backend engine on the
#              GPU against the pure-Go model, and its demo step time
#   pipe       the pipe binary (-tags cuda) for `pipe test-kernels --device cuda`
#   golden/    ../shared/golden/mamba2 (reference vectors)
#   run.sh     the script to run there
# Both binaries link libcuda.so.1 and nothing else from CUDA; the PTX is
# embedded and JIT-compiled by the GPU machine's driver.
# Note: a `cuda` binary exits at start on a machine without a GPU
# (gorgonia.org/cu initialises the driver in its init).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-bench/gpu/out}
mkdir -p "$out"
export CGO_ENABLED=1
go test -short ./kernels/cuda/ptxbuild -run TestCommittedPTXFresh >/dev/null || {
  echo "build.sh: the committed PTX is stale: run go tool task cuda:ptx" >&2; exit 1; }
go test -c -tags cuda -o "$out/cuda.test" ./kernels/cuda
go test -c -tags cuda -o "$out/model.test" ./model
go build -tags cuda -o "$out/pipe" ./cmd/pipe
for b in "$out/cuda.test" "$out/model.test" "$out/pipe"; do
  if ldd "$b" | grep -E 'libcu(blas|dart|fft|rand|dnn)|libnvrtc' >/dev/null; then
    echo "build.sh: $b links a CUDA library other than libcuda.so.1:" >&2; ldd "$b" >&2; exit 1
  fi
done
golden=${PIPE_GOLDEN_DIR:-../shared/golden/mamba2}
if [ -d "$golden" ]; then
  rm -rf "$out/golden"; cp -r "$golden" "$out/golden"
else
  echo "build.sh: $golden not found: the golden cases will be skipped on the GPU" >&2
fi
cp bench/gpu/run.sh "$out/run.sh"
chmod +x "$out/run.sh"
git rev-parse HEAD > "$out/COMMIT" 2>/dev/null || true
tar -C "$(dirname "$out")" -czf "$out.tar.gz" "$(basename "$out")"
echo "built $out (and $out.tar.gz); on the GPU machine: tar xzf $(basename "$out").tar.gz && cd $(basename "$out") && ./run.sh"
