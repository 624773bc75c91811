// graph.cu: the graph stream. Graphs are batched over (batch x time): G
// graphs of N nodes (electrodes, N <= 64) with F features each.
//   X (G, N, F)   S, A, mask (G, N, N)
#include "common.cuh"

// Cosine similarity per graph: S[g,i,j] = xh_i . xh_j, xh = x / n,
// n = sqrt(|x|^2 + eps) (smooth at 0, as the model's CPU path).
// nrm (G, N) saved. One block per graph; dynamic shared
// memory N*F floats.
extern "C" __global__ void cosine_fwd(const float* __restrict__ X, float* __restrict__ S,
                                      float* __restrict__ nrm, int G, int N, int F, float eps) {
  PIPE_DYN_SMEM(float, sx);  // [N][F] normalised rows
  const int g = blockIdx.x;
  const float* x = X + (size_t)g * N * F;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  for (int i = warp; i < N; i += nw) {
    float s = 0.0f;
    for (int f = lane; f < F; f += 32) s = fmaf(x[i * F + f], x[i * F + f], s);
    const float n = sqrtf(pipe_warp_sum(s) + eps);
    for (int f = lane; f < F; f += 32) sx[i * F + f] = x[i * F + f] / n;
    if (lane == 0) nrm[(size_t)g * N + i] = n;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < N * N; e += blockDim.x) {
    const int i = e / N, j = e % N;
    float d = 0.0f;
    for (int f = 0; f < F; ++f) d = fmaf(sx[i * F + f], sx[j * F + f], d);
    S[(size_t)g * N * N + e] = d;
  }
}

// Backward: gxh_i = sum_j (gS_ij + gS_ji) xh_j;
// gx_i = (gxh_i - xh_i (xh_i . gxh_i)) / n_i  (d(x/n) with n = sqrt(|x|^2 + eps)).
// Dynamic shared memory (N*F + N*N) floats.
extern "C" __global__ void cosine_bwd(const float* __restrict__ X, const float* __restrict__ nrm,
                                      const float* __restrict__ gS, float* __restrict__ gX, int G,
                                      int N, int F, float eps) {
  PIPE_DYN_SMEM(float, sm);
  float* sx = sm;          // [N][F]
  float* sg = sm + N * F;  // [N][N] symmetrised gS
  const int g = blockIdx.x;
  const float* x = X + (size_t)g * N * F;
  const float* gs = gS + (size_t)g * N * N;
  for (int e = threadIdx.x; e < N * F; e += blockDim.x) sx[e] = x[e] / nrm[(size_t)g * N + e / F];
  for (int e = threadIdx.x; e < N * N; e += blockDim.x) {
    const int i = e / N, j = e % N;
    sg[e] = gs[i * N + j] + gs[j * N + i];
  }
  __syncthreads();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  for (int i = warp; i < N; i += nw) {
    const float n = nrm[(size_t)g * N + i];
    float dot = 0.0f;
    for (int f = lane; f < F; f += 32) {
      float gh = 0.0f;
      for (int j = 0; j < N; ++j) gh = fmaf(sg[i * N + j], sx[j * F + f], gh);
      dot = fmaf(gh, sx[i * F + f], dot);
    }
    dot = pipe_warp_sum(dot);
    for (int f = lane; f < F; f += 32) {
      float gh = 0.0f;
      for (int j = 0; j < N; ++j) gh = fmaf(sg[i * N + j], sx[j * F + f], gh);
      gX[((size_t)g * N + i) * F + f] = (gh - sx[i * F + f] * dot) / n;
    }
  }
}

// Top-k per row with symmetrisation: row i keeps its k largest entries
// (ties: lower j first; the diagonal only when self != 0); an entry survives
// when row i or row j kept it (union = max(M, M^T)). A = S * keep, keep
// (G, N, N) 0/1 is saved: the backward is gS = gA * keep (mul).
// One block per graph, dynamic shared memory N*N bytes (rounded up to 4).
extern "C" __global__ void topk_sym(const float* __restrict__ S, float* __restrict__ A,
                                    float* __restrict__ keep, int G, int N, int k, int self) {
  PIPE_DYN_SMEM(unsigned char, msk);  // [N][N]
  const int g = blockIdx.x;
  const float* s = S + (size_t)g * N * N;
  for (int e = threadIdx.x; e < N * N; e += blockDim.x) msk[e] = 0;
  __syncthreads();
  for (int i = threadIdx.x; i < N; i += blockDim.x) {
    // k rounds of "largest not yet taken"; N <= 64 so this is cheap.
    for (int r = 0; r < k; ++r) {
      int best = -1;
      float bv = 0.0f;
      for (int j = 0; j < N; ++j) {
        if ((j == i && !self) || msk[i * N + j]) continue;
        const float v = s[i * N + j];
        if (best < 0 || v > bv) { best = j; bv = v; }
      }
      if (best < 0) break;
      msk[i * N + best] = 1;
    }
  }
  __syncthreads();
  for (int e = threadIdx.x; e < N * N; e += blockDim.x) {
    const int i = e / N, j = e % N;
    const float kv = (msk[i * N + j] | msk[j * N + i]) ? 1.0f : 0.0f;
    A[(size_t)g * N * N + e] = s[e] * kv;
    keep[(size_t)g * N * N + e] = kv;
  }
}

// Symmetric normalisation of one graph into shared memory:
// At = A + I (self != 0), deg_i = sum_j At_ij, r_i = deg_i > 0 ? deg_i^-1/2 : 0,
// Ah_ij = r_i At_ij r_j.
__device__ void ssg_normalise(const float* a, int N, int self, float* sAh, float* sr) {
  for (int i = threadIdx.x; i < N; i += blockDim.x) {
    float d = self ? 1.0f : 0.0f;
    for (int j = 0; j < N; ++j) d += a[i * N + j];
    sr[i] = d > 0.0f ? rsqrtf(d) : 0.0f;
  }
  __syncthreads();
  for (int e = threadIdx.x; e < N * N; e += blockDim.x) {
    const int i = e / N, j = e % N;
    const float at = a[e] + ((self && i == j) ? 1.0f : 0.0f);
    sAh[e] = sr[i] * at * sr[j];
  }
  __syncthreads();
}

// SSGConv: out = alpha x + (1-alpha)/K sum_{k=1..K} Ah^k x, per graph.
// Grid (G, ceil(F/FT)); each block handles FT features of one graph.
// Dynamic shared memory: N*N + N + 3*N*FT floats.
extern "C" __global__ void ssgconv_fwd(const float* __restrict__ Adj, const float* __restrict__ X,
                                       float* __restrict__ Out, int G, int N, int F, int K,
                                       float alpha, int self, int FT) {
  PIPE_DYN_SMEM(float, sm);
  float* sAh = sm;
  float* sr = sAh + N * N;
  float* h0 = sr + N;
  float* h1 = h0 + N * FT;
  float* acc = h1 + N * FT;
  const int g = blockIdx.x, f0 = blockIdx.y * FT;
  const int ft = min(FT, F - f0);
  ssg_normalise(Adj + (size_t)g * N * N, N, self, sAh, sr);
  const float* x = X + (size_t)g * N * F;
  for (int e = threadIdx.x; e < N * ft; e += blockDim.x) {
    const int i = e / ft, f = e % ft;
    h0[i * FT + f] = x[i * F + f0 + f];
    acc[i * FT + f] = 0.0f;
  }
  __syncthreads();
  float* hp = h0;
  float* hn = h1;
  for (int kk = 0; kk < K; ++kk) {
    for (int e = threadIdx.x; e < N * ft; e += blockDim.x) {
      const int i = e / ft, f = e % ft;
      float v = 0.0f;
      for (int j = 0; j < N; ++j) v = fmaf(sAh[i * N + j], hp[j * FT + f], v);
      hn[i * FT + f] = v;
      acc[i * FT + f] += v;
    }
    __syncthreads();
    float* t = hp; hp = hn; hn = t;
  }
  const float c = (1.0f - alpha) / K;
  for (int e = threadIdx.x; e < N * ft; e += blockDim.x) {
    const int i = e / ft, f = e % ft;
    Out[((size_t)g * N + i) * F + f0 + f] = fmaf(alpha, x[i * F + f0 + f], c * acc[i * FT + f]);
  }
}

// Backward of ssgconv_fwd: gX (written) and gAdj (atomically accumulated over
// feature tiles; zeroed by the caller). Reverse mode over h_k = Ah h_{k-1}:
//   gh_K = c g;  gh_k = c g + Ah^T gh_{k+1};  gAh += gh_k h_{k-1}^T;
//   gx = alpha g + Ah^T gh_1
// then through the normalisation: gAt_ij = gAh_ij r_i r_j,
//   gr_i = sum_j (gAh_ij At_ij r_j + gAh_ji At_ji r_j), gdeg_i = -r_i^3/2 gr_i,
//   gA_ij = gAt_ij + gdeg_i.
// Dynamic shared memory: 2*N*N + N + (K+2)*N*FT floats.
extern "C" __global__ void ssgconv_bwd(const float* __restrict__ Adj, const float* __restrict__ X,
                                       const float* __restrict__ gOut, float* __restrict__ gX,
                                       float* __restrict__ gAdj, int G, int N, int F, int K,
                                       float alpha, int self, int FT) {
  PIPE_DYN_SMEM(float, sm);
  float* sAh = sm;
  float* sgA = sAh + N * N;
  float* sr = sgA + N * N;
  float* hs = sr + N;            // [K][N][FT]: h_0 .. h_{K-1}
  float* gh = hs + K * N * FT;   // [N][FT] current gh_k
  float* gt = gh + N * FT;       // [N][FT] scratch
  const int g = blockIdx.x, f0 = blockIdx.y * FT;
  const int ft = min(FT, F - f0);
  const float* a = Adj + (size_t)g * N * N;
  ssg_normalise(a, N, self, sAh, sr);
  const float* x = X + (size_t)g * N * F;
  const float* go = gOut + (size_t)g * N * F;
  for (int e = threadIdx.x; e < N * N; e += blockDim.x) sgA[e] = 0.0f;
  for (int e = threadIdx.x; e < N * ft; e += blockDim.x) {
    const int i = e / ft, f = e % ft;
    hs[i * FT + f] = x[i * F + f0 + f];
  }
  __syncthreads();
  for (int kk = 1; kk < K; ++kk) {  // h_kk = Ah h_{kk-1}
    float* hp = hs + (kk - 1) * N * FT;
    float* hn = hs + kk * N * FT;
    for (int e = threadIdx.x; e < N * ft; e += blockDim.x) {
      const int i = e / ft, f = e % ft;
      float v = 0.0f;
      for (int j = 0; j < N; ++j) v = fmaf(sAh[i * N + j], hp[j * FT + f], v);
      hn[i * FT + f] = v;
    }
    __syncthreads();
  }
  const float c = (1.0f - alpha) / K;
  for (int e = threadIdx.x; e < N * ft; e += blockDim.x) {
    const int i = e / ft, f = e % ft;
    gh[i * FT + f] = c * go[i * F + f0 + f];
  }
  __syncthreads();
  for (int kk = K; kk >= 1; --kk) {
    // gAh += gh_kk h_{kk-1}^T
    const float* hp = hs + (kk - 1) * N * FT;
    for (int e = threadIdx.x; e < N * N; e += blockDim.x) {
      const int i = e / N, j = e % N;
      float v = 0.0f;
      for (int f = 0; f < ft; ++f) v = fmaf(gh[i * FT + f], hp[j * FT + f], v);
      sgA[e] += v;
    }
    // gt = Ah^T gh_kk (+ c g for the next, lower k)
    for (int e = threadIdx.x; e < N * ft; e += blockDim.x) {
      const int i = e / ft, f = e % ft;
      float v = 0.0f;
      for (int j = 0; j < N; ++j) v = fmaf(sAh[j * N + i], gh[j * FT + f], v);
      gt[i * FT + f] = v;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < N * ft; e += blockDim.x) {
      const int i = e / ft, f = e % ft;
      gh[i * FT + f] = kk > 1 ? fmaf(c, go[i * F + f0 + f], gt[i * FT + f]) : gt[i * FT + f];
    }
    __syncthreads();
  }
  // gh now holds Ah^T gh_1.
  for (int e = threadIdx.x; e < N * ft; e += blockDim.x) {
    const int i = e / ft, f = e % ft;
    gX[((size_t)g * N + i) * F + f0 + f] = fmaf(alpha, go[i * F + f0 + f], gh[i * FT + f]);
  }
  // Through the normalisation (gt reused as gr[N]).
  float* gr = gt;
  for (int i = threadIdx.x; i < N; i += blockDim.x) {
    float v = 0.0f;
    for (int j = 0; j < N; ++j) {
      const float atij = a[i * N + j] + ((self && i == j) ? 1.0f : 0.0f);
      const float atji = a[j * N + i] + ((self && i == j) ? 1.0f : 0.0f);
      v += sgA[i * N + j] * atij * sr[j] + sgA[j * N + i] * atji * sr[j];
    }
    gr[i] = -0.5f * sr[i] * sr[i] * sr[i] * v;  // = gdeg_i
  }
  __syncthreads();
  for (int e = threadIdx.x; e < N * N; e += blockDim.x) {
    const int i = e / N, j = e % N;
    atomicAdd(&gAdj[(size_t)g * N * N + e], sgA[e] * sr[i] * sr[j] + gr[i]);
  }
}

// Strict upper triangle of each N x N matrix of S (G, N, N) into out
// (G, P), P = N(N-1)/2, pairs (i < j) row-major; sym adds S[j,i]. One
// thread per element of S; those with i < j write their pair.
extern "C" __global__ void triu_gather(const float* __restrict__ S, float* __restrict__ out, int G,
                                       int N, int sym) {
  const int nn = G * N * N, P = N * (N - 1) / 2;
  PIPE_FOR(e, nn) {
    const int j = e % N, r = e / N, i = r % N, g = r / N;
    if (i < j) {
      float v = S[e];
      if (sym) v += S[((size_t)g * N + j) * N + i];
      out[(size_t)g * P + i * (2 * N - i - 1) / 2 + (j - i - 1)] = v;
    }
  }
}

// The adjoint: S[g,i,j] = in[g,p] for i < j, mirrored to S[g,j,i] with sym;
// every other element 0. One thread per element of S.
extern "C" __global__ void triu_scatter(const float* __restrict__ in, float* __restrict__ S, int G,
                                        int N, int sym) {
  const int nn = G * N * N, P = N * (N - 1) / 2;
  PIPE_FOR(e, nn) {
    const int j = e % N, r = e / N, i = r % N, g = r / N;
    float v = 0.0f;
    if (i < j) {
      v = in[(size_t)g * P + i * (2 * N - i - 1) / 2 + (j - i - 1)];
    } else if (sym && j < i) {
      v = in[(size_t)g * P + j * (2 * N - j - 1) / 2 + (i - j - 1)];
    }
    S[e] = v;
  }
}
