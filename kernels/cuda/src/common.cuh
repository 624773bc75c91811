// common.cuh: helpers shared by every pipe CUDA kernel.
//
// Conventions (all kernels):
//   * float32 data, row-major, int32 sizes (the Go side checks that every
//     element count fits in int32 before launching).
//   * Every kernel is extern "C" so its PTX entry name is the plain name the
//     Go side launches (kernels/cuda/kernels.go lists them with their
//     parameter signatures; a test checks that list against the PTX).
//   * Gradient outputs that are reductions (over batch, time, heads) are
//     accumulated with atomicAdd into buffers the host zeroes first.
#pragma once

// Dynamic shared memory. The CPU emulator (kernels/cuda/emu) defines
// PIPE_EMU and its own version before including the sources.
#ifndef PIPE_EMU
#define PIPE_DYN_SMEM(T, name) extern __shared__ T name[]
#endif

#define PIPE_FULL_MASK 0xffffffffu

__device__ __forceinline__ float pipe_sigmoid(float x) {
  return 1.0f / (1.0f + expf(-x));
}

__device__ __forceinline__ float pipe_silu(float x) { return x * pipe_sigmoid(x); }

// d/dx silu(x) = s(x) * (1 + x * (1 - s(x)))
__device__ __forceinline__ float pipe_dsilu(float x) {
  float s = pipe_sigmoid(x);
  return s * (1.0f + x * (1.0f - s));
}

// torch.nn.functional.softplus with beta=1, threshold=20: identity above 20.
__device__ __forceinline__ float pipe_softplus(float x) {
  return x > 20.0f ? x : log1pf(expf(x));
}

__device__ __forceinline__ float pipe_dsoftplus(float x) {
  return x > 20.0f ? 1.0f : pipe_sigmoid(x);
}

__device__ __forceinline__ float pipe_warp_sum(float v) {
#pragma unroll
  for (int o = 16; o >= 1; o >>= 1) v += __shfl_xor_sync(PIPE_FULL_MASK, v, o);
  return v;
}

// Block-wide sum; every thread gets the result. blockDim.x must be a
// multiple of 32 and at most 1024. scratch: >= 32 floats of shared memory.
// Must be called by every thread of the block.
__device__ __forceinline__ float pipe_block_sum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int nwarps = (blockDim.x + 31) >> 5;
  v = pipe_warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float r = lane < nwarps ? scratch[lane] : 0.0f;
  return pipe_warp_sum(r);
}

// Grid-stride loop over n elements.
#define PIPE_FOR(i, n) \
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)
