// scan.cu: Mamba-2 SSD selective scan, forward and backward, chunked.
//
// Shapes (row-major, as in ../shared/golden/mamba2):
//   x, y, gx   (batch, L, H, P)     dt, gdt (batch, L, H), dt > 0 (post-softplus)
//   A, D       (H)                  B, C, gB, gC (batch, L, G, N)
// Head h uses group h / (H/G). Recurrence in *logical* time tau, where the
// physical time is t = tau (forward direction) or t = L-1-tau (rev = 1, the
// time-reversed branch of the bidirectional layer):
//   a_tau = exp(dt_tau * A_h)
//   s_tau = a_tau * s_{tau-1} + dt_tau * x_tau (outer) B_tau,  s_{-1} = 0
//   y_tau = s_tau . C_tau + D_h * x_tau
//
// Work decomposition (forward): the sequence is cut into chunks of T steps.
//   1. ssd_chunk_state_NS (mode 0): every chunk scans from a zero state and
//      writes its local final state S_c and log-decay A*sum(dt) of the chunk.
//   2. ssd_state_pass: per (batch, head, state element) a sequential pass over
//      the chunks turns S_c into the carry-in state of chunk c (in place) and
//      writes the final state.
//   3. ssd_chunk_fwd_NS: every chunk re-scans from its carry-in and writes y.
// A block owns (chunk, batch, group, tile of heads); a thread owns one row
// (head, p) of the state with its N values in registers (NS = N rounded up to
// a compiled size). B and C of the chunk are staged in shared memory once per
// block and shared by all heads of the group.
//
// Backward (no per-step state is stored; see docs/cuda.md for the derivation):
//   with gs_tau = dL/ds_tau = gy_tau (outer) C_tau + a_{tau+1} gs_{tau+1},
//   u_tau = gy_tau . (s_tau C_tau)  (per head), r_tau = sum_ij gs x B (per head),
//   dL/dlog(a_tau) = sum_{tau' >= tau} (u_tau' - dt_tau' r_tau'),
//   gdt = r + A * dL/dlog(a), gA = sum dt * dL/dlog(a),
//   gx = dt * gs.B + D gy,  gB = sum_{h,p} dt x gs,  gC = sum_{h,p} gy s,
//   gD = sum gy x.
//   4. ssd_chunk_state_NS (mode 1) + ssd_state_pass (reverse) give the
//      carry-in Q = a*gs of every chunk, scanning backwards in logical time.
//   5. ssd_chunk_bwd_fwd_NS re-scans forwards (carry-ins from 1.+2.): gC, u, gD.
//   6. ssd_chunk_bwd_rev_NS scans backwards (carry-ins from 4.): gx, gB, r.
//   7. ssd_dt_grad: per (batch, head) a block-wide suffix sum: gdt, gA.
#include "common.cuh"

struct ScanDims {
  int batch, L, H, P, G, N, T, nc, ht, rev;
  int hpg;       // heads per group
  int b, g, c;   // this block's batch, group, chunk
  int hl, row;   // this thread's head (within the tile) and row
  int head;      // global head index
  bool valid;    // thread owns a real (head, row)
  int tau0, len; // logical start of the chunk and its length
  __device__ int phys(int tau) const { return rev ? L - 1 - tau : tau; }
};

__device__ __forceinline__ ScanDims scan_dims(int batch, int L, int H, int P, int G, int N,
                                              int T, int nc, int ht, int rev) {
  ScanDims d;
  d.batch = batch; d.L = L; d.H = H; d.P = P; d.G = G; d.N = N; d.T = T; d.nc = nc;
  d.ht = ht; d.rev = rev;
  d.hpg = H / G;
  d.c = blockIdx.x;
  d.b = blockIdx.z / G;
  d.g = blockIdx.z % G;
  d.hl = threadIdx.x / P;
  d.row = threadIdx.x % P;
  const int hg = blockIdx.y * ht + d.hl;
  d.valid = (threadIdx.x < ht * P) && (hg < d.hpg);
  d.head = d.g * d.hpg + (d.valid ? hg : 0);
  d.tau0 = d.c * T;
  d.len = min(T, L - d.tau0);
  return d;
}

// Stage W (batch, L, G, N) for this chunk into s[T][NS], zero-padded.
template <int NS>
__device__ __forceinline__ void stage_bn(const ScanDims& d, const float* __restrict__ W,
                                         float* s) {
  for (int i = threadIdx.x; i < d.T * NS; i += blockDim.x) {
    const int tl = i / NS, j = i % NS;
    float v = 0.0f;
    if (tl < d.len && j < d.N)
      v = W[((size_t)(d.b * d.L + d.phys(d.tau0 + tl)) * d.G + d.g) * d.N + j];
    s[i] = v;
  }
}

// Stage dt (batch, L, H) of the tile's heads into s[T][ht], zero-padded.
__device__ __forceinline__ void stage_dt(const ScanDims& d, const float* __restrict__ dt,
                                         float* s) {
  for (int i = threadIdx.x; i < d.T * d.ht; i += blockDim.x) {
    const int tl = i / d.ht, h = i % d.ht;
    const int hg = blockIdx.y * d.ht + h;
    float v = 0.0f;
    if (tl < d.len && hg < d.hpg)
      v = dt[(size_t)(d.b * d.L + d.phys(d.tau0 + tl)) * d.H + d.g * d.hpg + hg];
    s[i] = v;
  }
}

__device__ __forceinline__ size_t row_index(const ScanDims& d, int t) {
  return ((size_t)(d.b * d.L + t) * d.H + d.head) * d.P + d.row;
}

__device__ __forceinline__ size_t state_index(const ScanDims& d) {
  return (((size_t)d.b * d.H + d.head) * d.nc + d.c) * (size_t)(d.P * d.N) + (size_t)d.row * d.N;
}

// Sum v[0..NS) over the 32 lanes of the warp and add the totals to dst[0..NS)
// (shared memory) with one atomicAdd per element. Every lane of the warp must
// call it (lanes without data pass zeros).
// One level of the butterfly: lanes exchange half of their CNT values with
// the lane O apart and keep the sum of the other half.
template <int NS, int O>
__device__ __forceinline__ void rs_level(float (&v)[NS], int lane, int& base, int& dup) {
  constexpr int lvl = O == 16 ? 0 : O == 8 ? 1 : O == 4 ? 2 : O == 2 ? 3 : 4;
  constexpr int cnt = NS >> lvl;
  if constexpr (cnt > 1) {
    constexpr int half = cnt / 2;
    const bool up = (lane & O) != 0;
#pragma unroll
    for (int k = 0; k < half; ++k) {
      const float send = up ? v[k] : v[k + half];
      const float keep = up ? v[k + half] : v[k];
      v[k] = keep + __shfl_xor_sync(PIPE_FULL_MASK, send, O);
    }
    if (up) base += half;
  } else {
    v[0] += __shfl_xor_sync(PIPE_FULL_MASK, v[0], O);
    dup |= O;
  }
  if constexpr (O > 1) rs_level<NS, O / 2>(v, lane, base, dup);
}

// Sum v[0..NS) over the 32 lanes of the warp and add the totals to dst[0..NS)
// (shared memory) with one atomicAdd per element. Every lane of the warp must
// call it (lanes without data pass zeros).
template <int NS>
__device__ __forceinline__ void warp_reduce_scatter_add(float (&v)[NS], float* dst) {
  const int lane = threadIdx.x & 31;
  int base = 0, dup = 0;
  rs_level<NS, 16>(v, lane, base, dup);
  constexpr int left = (NS >> 5) > 0 ? (NS >> 5) : 1;
  if ((lane & dup) == 0) {
#pragma unroll
    for (int k = 0; k < left; ++k) atomicAdd(&dst[base + k], v[k]);
  }
}

// ---------------------------------------------------------------------------
// 1./4. chunk-local states from a zero carry.
// mode 0: u = x, W = B, forward in logical time:  s = a*s + dt*u*W
// mode 1: u = gy, W = C, backward in logical time: gs = s + u*W; s = a*gs
// S: (batch, H, nc, P, N) local final carry; ld: (batch, H, nc) = A*sum(dt).
template <int NS>
__device__ void chunk_state(const float* __restrict__ u, const float* __restrict__ dt,
                            const float* __restrict__ A, const float* __restrict__ W,
                            float* __restrict__ S, float* __restrict__ ld, int mode, int batch,
                            int L, int H, int P, int G, int N, int T, int nc, int ht, int rev) {
  PIPE_DYN_SMEM(float, smem);
  const ScanDims d = scan_dims(batch, L, H, P, G, N, T, nc, ht, rev);
  float* sW = smem;             // [T][NS]
  float* sDt = smem + T * NS;   // [T][ht]
  stage_bn<NS>(d, W, sW);
  stage_dt(d, dt, sDt);
  __syncthreads();
  if (!d.valid) return;
  const float Ah = A[d.head];
  float s[NS];
#pragma unroll
  for (int j = 0; j < NS; ++j) s[j] = 0.0f;
  float dtsum = 0.0f;
  // The next step's input is loaded one step ahead (its latency overlaps
  // the current step's arithmetic).
  auto at = [&](int k) { return u[row_index(d, d.phys(d.tau0 + (mode == 0 ? k : d.len - 1 - k)))]; };
  float un = at(0);
  for (int k = 0; k < d.len; ++k) {
    const int tl = mode == 0 ? k : d.len - 1 - k;
    const float dtv = sDt[tl * d.ht + d.hl];
    const float a = expf(dtv * Ah);
    const float uv = un;
    if (k + 1 < d.len) un = at(k + 1);
    const float* w = sW + tl * NS;
    dtsum += dtv;
    if (mode == 0) {
      const float du = dtv * uv;
#pragma unroll
      for (int j = 0; j < NS; ++j) s[j] = fmaf(a, s[j], du * w[j]);
    } else {
#pragma unroll
      for (int j = 0; j < NS; ++j) s[j] = a * fmaf(uv, w[j], s[j]);
    }
  }
  float* out = S + state_index(d);
#pragma unroll
  for (int j = 0; j < NS; ++j)
    if (j < N) out[j] = s[j];
  if (d.row == 0) ld[((size_t)d.b * H + d.head) * nc + d.c] = Ah * dtsum;
}

// 2. carry passing between chunks, in place: S[c] becomes the carry into
// chunk c. reverse = 1 walks the chunks from last to first (gradient pass).
// fin (nullable): (batch*H, P*N) carry after the last chunk (final state).
extern "C" __global__ void ssd_state_pass(float* __restrict__ S, const float* __restrict__ ld,
                                          float* __restrict__ fin, int bh, int nc, int pn,
                                          int reverse) {
  const int e = blockIdx.x * blockDim.x + threadIdx.x;
  const int r = blockIdx.y;
  if (e >= pn || r >= bh) return;
  float run = 0.0f;
  for (int k = 0; k < nc; ++k) {
    const int c = reverse ? nc - 1 - k : k;
    float* p = S + ((size_t)r * nc + c) * pn + e;
    const float local = *p;
    *p = run;
    run = fmaf(expf(ld[(size_t)r * nc + c]), run, local);
  }
  if (fin != nullptr) fin[(size_t)r * pn + e] = run;
}

// 3. forward output from the carry-in states.
template <int NS>
__device__ void chunk_fwd(const float* __restrict__ x, const float* __restrict__ dt,
                          const float* __restrict__ A, const float* __restrict__ Bm,
                          const float* __restrict__ Cm, const float* __restrict__ D,
                          const float* __restrict__ S, float* __restrict__ y, int batch, int L,
                          int H, int P, int G, int N, int T, int nc, int ht, int rev) {
  PIPE_DYN_SMEM(float, smem);
  const ScanDims d = scan_dims(batch, L, H, P, G, N, T, nc, ht, rev);
  float* sB = smem;
  float* sC = sB + T * NS;
  float* sDt = sC + T * NS;
  stage_bn<NS>(d, Bm, sB);
  stage_bn<NS>(d, Cm, sC);
  stage_dt(d, dt, sDt);
  __syncthreads();
  if (!d.valid) return;
  const float Ah = A[d.head];
  const float Dh = D != nullptr ? D[d.head] : 0.0f;
  float s[NS];
  const float* in = S + state_index(d);
#pragma unroll
  for (int j = 0; j < NS; ++j) s[j] = j < N ? in[j] : 0.0f;
  float xn = x[row_index(d, d.phys(d.tau0))];
  for (int tl = 0; tl < d.len; ++tl) {
    const int t = d.phys(d.tau0 + tl);
    const float dtv = sDt[tl * d.ht + d.hl];
    const float a = expf(dtv * Ah);
    const size_t ix = row_index(d, t);
    const float xv = xn;
    if (tl + 1 < d.len) xn = x[row_index(d, d.phys(d.tau0 + tl + 1))];
    const float du = dtv * xv;
    const float* b = sB + tl * NS;
    const float* c = sC + tl * NS;
    float acc = Dh * xv;
#pragma unroll
    for (int j = 0; j < NS; ++j) {
      s[j] = fmaf(a, s[j], du * b[j]);
      acc = fmaf(s[j], c[j], acc);
    }
    y[ix] = acc;
  }
}

// 5. backward, forward-direction pass: gC (atomic), U (per head and step), gD (atomic).
template <int NS>
__device__ void chunk_bwd_fwd(const float* __restrict__ x, const float* __restrict__ dt,
                              const float* __restrict__ A, const float* __restrict__ Bm,
                              const float* __restrict__ Cm, const float* __restrict__ gy,
                              const float* __restrict__ S, float* __restrict__ gC,
                              float* __restrict__ U, float* __restrict__ gD, int batch, int L,
                              int H, int P, int G, int N, int T, int nc, int ht, int rev) {
  PIPE_DYN_SMEM(float, smem);
  const ScanDims d = scan_dims(batch, L, H, P, G, N, T, nc, ht, rev);
  float* sB = smem;
  float* sC = sB + T * NS;
  float* sG = sC + T * NS;      // [T][NS] gC accumulator
  float* sDt = sG + T * NS;     // [T][ht]
  float* sU = sDt + T * ht;     // [T][ht]
  float* sD = sU + T * ht;      // [ht]
  stage_bn<NS>(d, Bm, sB);
  stage_bn<NS>(d, Cm, sC);
  stage_dt(d, dt, sDt);
  for (int i = threadIdx.x; i < T * NS; i += blockDim.x) sG[i] = 0.0f;
  for (int i = threadIdx.x; i < T * ht; i += blockDim.x) sU[i] = 0.0f;
  for (int i = threadIdx.x; i < ht; i += blockDim.x) sD[i] = 0.0f;
  __syncthreads();
  // Every thread runs the loop (warp shuffles need whole warps); threads
  // without a row carry zeros.
  const float Ah = d.valid ? A[d.head] : 0.0f;
  float s[NS];
  const float* in = S + state_index(d);
#pragma unroll
  for (int j = 0; j < NS; ++j) s[j] = (d.valid && j < N) ? in[j] : 0.0f;
  float dacc = 0.0f;
  float xn = 0.0f, gn = 0.0f;  // next step's x and gy, loaded one step ahead
  if (d.valid) {
    const size_t ix = row_index(d, d.phys(d.tau0));
    xn = x[ix];
    gn = gy[ix];
  }
  for (int tl = 0; tl < d.len; ++tl) {
    const float xv = xn, gv = gn;
    if (d.valid && tl + 1 < d.len) {
      const size_t ix = row_index(d, d.phys(d.tau0 + tl + 1));
      xn = x[ix];
      gn = gy[ix];
    }
    const float dtv = d.valid ? sDt[tl * d.ht + d.hl] : 0.0f;
    const float a = expf(dtv * Ah);
    const float du = dtv * xv;
    const float* b = sB + tl * NS;
    const float* c = sC + tl * NS;
    float yst = 0.0f;
    float contrib[NS];
#pragma unroll
    for (int j = 0; j < NS; ++j) {
      s[j] = fmaf(a, s[j], du * b[j]);
      yst = fmaf(s[j], c[j], yst);
      contrib[j] = gv * s[j];
    }
    warp_reduce_scatter_add<NS>(contrib, sG + tl * NS);
    if (d.valid) atomicAdd(&sU[tl * d.ht + d.hl], gv * yst);
    dacc = fmaf(gv, xv, dacc);
  }
  if (d.valid) atomicAdd(&sD[d.hl], dacc);
  __syncthreads();
  for (int i = threadIdx.x; i < d.len * NS; i += blockDim.x) {
    const int tl = i / NS, j = i % NS;
    if (j < N)
      atomicAdd(&gC[((size_t)(d.b * L + d.phys(d.tau0 + tl)) * G + d.g) * N + j], sG[i]);
  }
  for (int i = threadIdx.x; i < d.len * ht; i += blockDim.x) {
    const int tl = i / ht, h = i % ht;
    const int hg = blockIdx.y * ht + h;
    if (hg < d.hpg) U[(size_t)(d.b * L + d.phys(d.tau0 + tl)) * H + d.g * d.hpg + hg] = sU[i];
  }
  for (int h = threadIdx.x; h < ht; h += blockDim.x) {
    const int hg = blockIdx.y * ht + h;
    if (hg < d.hpg && gD != nullptr) atomicAdd(&gD[d.g * d.hpg + hg], sD[h]);
  }
}

// 6. backward, reverse-direction pass from the gradient carry-ins Q:
// gx (written), gB (atomic), R (per head and step).
template <int NS>
__device__ void chunk_bwd_rev(const float* __restrict__ x, const float* __restrict__ dt,
                              const float* __restrict__ A, const float* __restrict__ Bm,
                              const float* __restrict__ Cm, const float* __restrict__ D,
                              const float* __restrict__ gy, const float* __restrict__ Q,
                              float* __restrict__ gx, float* __restrict__ gB,
                              float* __restrict__ R, int batch, int L, int H, int P, int G, int N,
                              int T, int nc, int ht, int rev) {
  PIPE_DYN_SMEM(float, smem);
  const ScanDims d = scan_dims(batch, L, H, P, G, N, T, nc, ht, rev);
  float* sB = smem;
  float* sC = sB + T * NS;
  float* sG = sC + T * NS;
  float* sDt = sG + T * NS;
  float* sR = sDt + T * ht;
  stage_bn<NS>(d, Bm, sB);
  stage_bn<NS>(d, Cm, sC);
  stage_dt(d, dt, sDt);
  for (int i = threadIdx.x; i < T * NS; i += blockDim.x) sG[i] = 0.0f;
  for (int i = threadIdx.x; i < T * ht; i += blockDim.x) sR[i] = 0.0f;
  __syncthreads();
  const float Ah = d.valid ? A[d.head] : 0.0f;
  const float Dh = (d.valid && D != nullptr) ? D[d.head] : 0.0f;
  float s[NS];
  const float* in = Q + state_index(d);
#pragma unroll
  for (int j = 0; j < NS; ++j) s[j] = (d.valid && j < N) ? in[j] : 0.0f;
  float xn = 0.0f, gn = 0.0f;  // next step's x and gy, loaded one step ahead
  if (d.valid) {
    const size_t ix = row_index(d, d.phys(d.tau0 + d.len - 1));
    xn = x[ix];
    gn = gy[ix];
  }
  for (int tl = d.len - 1; tl >= 0; --tl) {
    const size_t ix = d.valid ? row_index(d, d.phys(d.tau0 + tl)) : 0;
    const float xv = xn, gv = gn;
    if (d.valid && tl > 0) {
      const size_t nx = row_index(d, d.phys(d.tau0 + tl - 1));
      xn = x[nx];
      gn = gy[nx];
    }
    const float dtv = d.valid ? sDt[tl * d.ht + d.hl] : 0.0f;
    const float a = expf(dtv * Ah);
    const float* b = sB + tl * NS;
    const float* c = sC + tl * NS;
    const float dx = dtv * xv;
    float gsb = 0.0f;
    float contrib[NS];
#pragma unroll
    for (int j = 0; j < NS; ++j) {
      const float gs = fmaf(gv, c[j], s[j]);
      gsb = fmaf(gs, b[j], gsb);
      contrib[j] = dx * gs;
      s[j] = a * gs;
    }
    warp_reduce_scatter_add<NS>(contrib, sG + tl * NS);
    if (d.valid) {
      gx[ix] = fmaf(dtv, gsb, Dh * gv);
      atomicAdd(&sR[tl * d.ht + d.hl], xv * gsb);
    }
  }
  __syncthreads();
  for (int i = threadIdx.x; i < d.len * NS; i += blockDim.x) {
    const int tl = i / NS, j = i % NS;
    if (j < N)
      atomicAdd(&gB[((size_t)(d.b * L + d.phys(d.tau0 + tl)) * G + d.g) * N + j], sG[i]);
  }
  for (int i = threadIdx.x; i < d.len * ht; i += blockDim.x) {
    const int tl = i / ht, h = i % ht;
    const int hg = blockIdx.y * ht + h;
    if (hg < d.hpg) R[(size_t)(d.b * L + d.phys(d.tau0 + tl)) * H + d.g * d.hpg + hg] = sR[i];
  }
}

// 7. gdt and gA from U and R. One block (blockDim multiple of 32, <= 1024)
// per (batch, head); a block-wide suffix sum in logical time.
extern "C" __global__ void ssd_dt_grad(const float* __restrict__ U, const float* __restrict__ R,
                                       const float* __restrict__ dt, const float* __restrict__ A,
                                       float* __restrict__ gdt, float* __restrict__ gA,
                                       int batch, int L, int H, int rev) {
  __shared__ float warpTot[32];
  __shared__ float red[32];
  const int b = blockIdx.x / H, h = blockIdx.x % H;
  const float Ah = A[h];
  const int nt = blockDim.x;
  const int seg = (L + nt - 1) / nt;
  const int k0 = threadIdx.x * seg, k1 = min(L, k0 + seg);
  // Scan order k = 0, 1, ...: the latest logical time first.
  // rev = 0: t = L-1-k (suffix in physical time); rev = 1: t = k.
  float local = 0.0f;
  for (int k = k0; k < k1; ++k) {
    const int t = rev ? k : L - 1 - k;
    const size_t i = (size_t)(b * L + t) * H + h;
    local += U[i] - dt[i] * R[i];
  }
  // Exclusive scan of the per-thread totals.
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float incl = local;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const float n = __shfl_up_sync(PIPE_FULL_MASK, incl, o);
    if (lane >= o) incl += n;
  }
  if (lane == 31) warpTot[warp] = incl;
  __syncthreads();
  if (warp == 0) {
    const int nw = (nt + 31) >> 5;
    float w = lane < nw ? warpTot[lane] : 0.0f;
    float wi = w;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
      const float n = __shfl_up_sync(PIPE_FULL_MASK, wi, o);
      if (lane >= o) wi += n;
    }
    warpTot[lane] = wi - w;  // exclusive prefix of warp totals
  }
  __syncthreads();
  float run = warpTot[warp] + incl - local;
  float ga = 0.0f;
  for (int k = k0; k < k1; ++k) {
    const int t = rev ? k : L - 1 - k;
    const size_t i = (size_t)(b * L + t) * H + h;
    const float dtv = dt[i];
    run += U[i] - dtv * R[i];
    gdt[i] = fmaf(Ah, run, R[i]);
    ga = fmaf(dtv, run, ga);
  }
  ga = pipe_block_sum(ga, red);
  if (threadIdx.x == 0) atomicAdd(&gA[h], ga);
}

// extern "C" entry points, one per compiled state size NS.
#define PIPE_SCAN_ENTRIES(NS)                                                                   \
  extern "C" __global__ void ssd_chunk_state_##NS(                                              \
      const float* u, const float* dt, const float* A, const float* W, float* S, float* ld,     \
      int mode, int batch, int L, int H, int P, int G, int N, int T, int nc, int ht, int rev) { \
    chunk_state<NS>(u, dt, A, W, S, ld, mode, batch, L, H, P, G, N, T, nc, ht, rev);            \
  }                                                                                             \
  extern "C" __global__ void ssd_chunk_fwd_##NS(                                                \
      const float* x, const float* dt, const float* A, const float* Bm, const float* Cm,        \
      const float* D, const float* S, float* y, int batch, int L, int H, int P, int G, int N,   \
      int T, int nc, int ht, int rev) {                                                         \
    chunk_fwd<NS>(x, dt, A, Bm, Cm, D, S, y, batch, L, H, P, G, N, T, nc, ht, rev);             \
  }                                                                                             \
  extern "C" __global__ void ssd_chunk_bwd_fwd_##NS(                                            \
      const float* x, const float* dt, const float* A, const float* Bm, const float* Cm,        \
      const float* gy, const float* S, float* gC, float* U, float* gD, int batch, int L, int H,  \
      int P, int G, int N, int T, int nc, int ht, int rev) {                                    \
    chunk_bwd_fwd<NS>(x, dt, A, Bm, Cm, gy, S, gC, U, gD, batch, L, H, P, G, N, T, nc, ht,     \
                      rev);                                                                     \
  }                                                                                             \
  extern "C" __global__ void ssd_chunk_bwd_rev_##NS(                                            \
      const float* x, const float* dt, const float* A, const float* Bm, const float* Cm,        \
      const float* D, const float* gy, const float* Q, float* gx, float* gB, float* R,          \
      int batch, int L, int H, int P, int G, int N, int T, int nc, int ht, int rev) {           \
    chunk_bwd_rev<NS>(x, dt, A, Bm, Cm, D, gy, Q, gx, gB, R, batch, L, H, P, G, N, T, nc, ht,  \
                      rev);                                                                     \
  }

PIPE_SCAN_ENTRIES(8)
PIPE_SCAN_ENTRIES(16)
PIPE_SCAN_ENTRIES(32)
PIPE_SCAN_ENTRIES(64)
PIPE_SCAN_ENTRIES(128)
