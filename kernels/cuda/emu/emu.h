// emu.h: just enough of CUDA's device environment to run pipe's .cu sources
// on the CPU, one thread block at a time, every CUDA thread a ucontext fiber
// so that __syncthreads and warp shuffles have their real semantics.
// Used only by the cudaemu build (tests); never by the GPU build.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ucontext.h>

#define PIPE_EMU 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __shared__ static
#define PIPE_DYN_SMEM(T, name) T* name = reinterpret_cast<T*>(emu::dyn_smem())

struct dim3 {
  unsigned x, y, z;
};

namespace emu {

enum State { RUN, WAIT_BLOCK, WAIT_WARP, DONE };

struct Thread {
  ucontext_t ctx;
  dim3 tid;
  int linear;
  State state;
  float shfl;
};

struct Block {
  dim3 bid, bdim, gdim;
  Thread* threads;
  int nthreads;
  ucontext_t sched;
  unsigned char* dyn;
  const char* err;  // first error, static string
};

extern thread_local Thread* cur;
extern thread_local Block* blk;

inline void* dyn_smem() { return blk->dyn; }

inline void fail(const char* msg) {
  if (blk->err == nullptr) blk->err = msg;
}

inline void wait(State s) {
  cur->state = s;
  swapcontext(&cur->ctx, &blk->sched);
}

inline float shfl(float v, int src, bool inrange) {
  cur->shfl = v;
  wait(WAIT_WARP);
  const int base = cur->linear & ~31;
  float r = v;
  if (inrange) {
    const int s = base + src;
    if (s >= blk->nthreads || blk->threads[s].state == DONE)
      fail("shuffle from a lane that does not exist or has exited");
    else
      r = blk->threads[s].shfl;
  }
  wait(WAIT_WARP);
  return r;
}

}  // namespace emu

#define threadIdx (emu::cur->tid)
#define blockIdx (emu::blk->bid)
#define blockDim (emu::blk->bdim)
#define gridDim (emu::blk->gdim)

inline void __syncthreads() { emu::wait(emu::WAIT_BLOCK); }

inline float __shfl_xor_sync(unsigned, float v, int o) {
  return emu::shfl(v, (emu::cur->linear & 31) ^ o, true);
}
inline float __shfl_up_sync(unsigned, float v, unsigned o) {
  const int lane = emu::cur->linear & 31;
  return emu::shfl(v, lane - (int)o, lane >= (int)o);
}

// One OS thread runs every fiber, so plain read-modify-write is atomic.
inline float atomicAdd(float* p, float v) {
  const float old = *p;
  *p = old + v;
  return old;
}

using std::isfinite;
using std::isnan;
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
