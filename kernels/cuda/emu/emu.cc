//go:build cudaemu

// emu.cc: the CPU emulator of pipe's CUDA kernels (see emu.h). It compiles
// the real sources (../src/pipe.cu) as C++ and runs a launch block by block.
#include "emu.h"

#include <cstdlib>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <sys/mman.h>
#include <unistd.h>

#include "../src/pipe.cu"

namespace emu {
thread_local Thread* cur = nullptr;
thread_local Block* blk = nullptr;
}  // namespace emu

namespace {

using Fn = void (*)(void**);

template <typename... A, std::size_t... I>
void invoke(void (*k)(A...), void** args, std::index_sequence<I...>) {
  k(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(args[I])...);
}

template <typename... A>
void call(void (*k)(A...), void** args) {
  invoke(k, args, std::index_sequence_for<A...>{});
}

struct Entry {
  const char* name;
  void (*run)(void**);
};

#define K(name) {#name, [](void** a) { call(name, a); }}
#define KS(NS) K(ssd_chunk_state_##NS), K(ssd_chunk_fwd_##NS), K(ssd_chunk_bwd_fwd_##NS), K(ssd_chunk_bwd_rev_##NS)

const Entry kTable[] = {
    K(ssd_state_pass), K(ssd_dt_grad), KS(8), KS(16), KS(32), KS(64), KS(128),
    K(dwconv_causal_fwd), K(dwconv_causal_bwd_pre), K(dwconv_causal_bwd_dx), K(dwconv_causal_bwd_dw),
    K(im2col1d), K(col2im1d),
    K(sgemm_batched), K(bias_add), K(sum_cols), K(sum_mid),
    K(layernorm_fwd), K(layernorm_bwd_dx), K(layernorm_bwd_wb),
    K(rmsnorm_gated_fwd), K(rmsnorm_gated_bwd_dx), K(rmsnorm_gated_bwd_w), K(weightnorm_fwd), K(weightnorm_bwd),
    K(unary_fwd), K(unary_bwd), K(bias_softplus_fwd), K(bias_softplus_bwd), K(bce_focal), K(sum_all),
    K(axpy), K(mul), K(affine), K(clamp_fwd), K(clamp_bwd), K(flip_time), K(transpose_mid), K(dropout_mask),
    K(cosine_fwd), K(cosine_bwd), K(topk_sym), K(ssgconv_fwd), K(ssgconv_bwd), K(triu_gather), K(triu_scatter),
};

constexpr std::size_t kStack = 256 * 1024;

thread_local void (*g_run)(void**) = nullptr;
thread_local unsigned g_launches = 0;  // alternates the thread order between launches
thread_local void** g_args = nullptr;

void trampoline() {
  g_run(g_args);
  emu::cur->state = emu::DONE;
  // uc_link returns to the scheduler.
}

}  // namespace

extern "C" {

// emu_has reports whether the emulator knows kernel name.
int emu_has(const char* name) {
  for (const Entry& e : kTable)
    if (std::string(e.name) == name) return 1;
  return 0;
}

// emu_launch runs kernel name over the grid. It returns nullptr or a static
// error message (deadlock at a barrier, bad shuffle, unknown kernel).
const char* emu_launch(const char* name, int gx, int gy, int gz, int bx, int by, int bz, int shared,
                       void** args) {
  const Entry* ent = nullptr;
  for (const Entry& e : kTable)
    if (std::string(e.name) == name) ent = &e;
  if (ent == nullptr) return "unknown kernel";
  const int nt = bx * by * bz;
  emu::Thread* threads = new emu::Thread[nt];
  char* stacks = static_cast<char*>(std::malloc(kStack * (size_t)nt));
  unsigned char* dyn = static_cast<unsigned char*>(std::malloc(shared > 0 ? shared : 1));
  if (stacks == nullptr || dyn == nullptr) {
    delete[] threads;
    std::free(stacks);
    std::free(dyn);
    return "out of memory for fiber stacks";
  }
  const char* err = nullptr;
  g_run = ent->run;
  g_args = args;
  const unsigned launchNo = g_launches++;
  for (int z = 0; z < gz && err == nullptr; ++z)
    for (int y = 0; y < gy && err == nullptr; ++y)
      for (int x = 0; x < gx && err == nullptr; ++x) {
        emu::Block b;
        b.bid = dim3{(unsigned)x, (unsigned)y, (unsigned)z};
        b.bdim = dim3{(unsigned)bx, (unsigned)by, (unsigned)bz};
        b.gdim = dim3{(unsigned)gx, (unsigned)gy, (unsigned)gz};
        b.threads = threads;
        b.nthreads = nt;
        b.dyn = dyn;
        b.err = nullptr;
        // Poison shared memory: kernels must not read what they did not write.
        std::memset(dyn, 0xff, shared > 0 ? shared : 1);
        emu::blk = &b;
        for (int i = 0; i < nt; ++i) {
          emu::Thread& t = threads[i];
          t.linear = i;
          t.tid = dim3{(unsigned)(i % bx), (unsigned)((i / bx) % by), (unsigned)(i / (bx * by))};
          t.state = emu::RUN;
          getcontext(&t.ctx);
          t.ctx.uc_stack.ss_sp = stacks + kStack * (size_t)i;
          t.ctx.uc_stack.ss_size = kStack;
          t.ctx.uc_link = &b.sched;
          makecontext(&t.ctx, trampoline, 0);
        }
        // Every other block (and launch) runs its threads in reverse order:
        // a missing __syncthreads between a shared-memory write and another
        // thread's read then shows up (NaN poison or a stale value) in one
        // of the orders.
        const bool reverse = ((x + y + z + launchNo) & 1) != 0;
        for (;;) {
          for (int k = 0; k < nt; ++k) {
            const int i = reverse ? nt - 1 - k : k;
            if (threads[i].state != emu::RUN) continue;
            emu::cur = &threads[i];
            swapcontext(&b.sched, &threads[i].ctx);
          }
          int alive = 0, atBlock = 0;
          for (int i = 0; i < nt; ++i) {
            if (threads[i].state != emu::DONE) alive++;
            if (threads[i].state == emu::WAIT_BLOCK) atBlock++;
          }
          if (alive == 0) break;
          bool released = false;
          for (int w = 0; w < nt; w += 32) {
            const int end = w + 32 < nt ? w + 32 : nt;
            int waiting = 0, live = 0;
            for (int i = w; i < end; ++i) {
              if (threads[i].state != emu::DONE) live++;
              if (threads[i].state == emu::WAIT_WARP) waiting++;
            }
            if (waiting > 0 && waiting == live) {
              if (live != end - w) b.err = "warp shuffle after some lanes of the warp exited";
              for (int i = w; i < end; ++i)
                if (threads[i].state == emu::WAIT_WARP) threads[i].state = emu::RUN;
              released = true;
            }
          }
          if (released) continue;
          if (atBlock == alive) {
            for (int i = 0; i < nt; ++i)
              if (threads[i].state == emu::WAIT_BLOCK) threads[i].state = emu::RUN;
            continue;
          }
          b.err = "deadlock: threads wait at different barriers (divergent __syncthreads or shuffle)";
          break;
        }
        err = b.err;
        emu::blk = nullptr;
        emu::cur = nullptr;
      }
  delete[] threads;
  std::free(stacks);
  std::free(dyn);
  return err;
}

// emu_alloc maps n bytes (n > 0) so that the byte after the last one is the
// start of an inaccessible guard page: an out-of-bounds read or write past
// the end faults. The contents start as NaN (0xff bytes).
void* emu_alloc(size_t n) {
  const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  const size_t body = (n + pg - 1) / pg * pg;
  void* base = mmap(nullptr, body + pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return nullptr;
  char* b = static_cast<char*>(base);
  if (mprotect(b + body, pg, PROT_NONE) != 0) {
    munmap(base, body + pg);
    return nullptr;
  }
  char* p = b + body - n;
  std::memset(p, 0xff, n);
  return p;
}

// emu_free unmaps an emu_alloc allocation of n bytes.
void emu_free(void* p, size_t n) {
  const size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  const size_t body = (n + pg - 1) / pg * pg;
  char* base = static_cast<char*>(p) - (body - n);
  munmap(base, body + pg);
}

}  // extern "C"
