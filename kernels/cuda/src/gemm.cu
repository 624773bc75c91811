// gemm.cu: batched single-precision GEMM, row-major:
//   C[z] = alpha * op(A[z]) * op(B[z]) + beta * C[z],  op(A) m x k, op(B) k x n
// op(A) = A (lda >= k) or A^T (transA, A stored k x m, lda >= m); same for B.
// Batch strides sA, sB, sC in elements (0 broadcasts one matrix to every z).
// 64x64 block tile, 16-deep k slices in shared memory, 256 threads each
// computing a 4x4 register tile (rows ty+16*i, cols tx+16*j). A reasonable
// tiled kernel (roughly 30-60% of cuBLAS on large squares); pipe's matrices
// are skinny (d_model 64..512), where it is memory-bound anyway.
#include "common.cuh"

#define GEMM_BM 64
#define GEMM_BN 64
#define GEMM_BK 16

extern "C" __global__ void __launch_bounds__(256)
    sgemm_batched(int transA, int transB, int m, int n, int k, float alpha,
                  const float* __restrict__ A, int lda, long long sA,
                  const float* __restrict__ B, int ldb, long long sB, float beta,
                  float* __restrict__ C, int ldc, long long sC) {
  __shared__ float As[GEMM_BK][GEMM_BM + 4];
  __shared__ float Bs[GEMM_BK][GEMM_BN + 4];
  const int z = blockIdx.z;
  A += (size_t)z * sA;
  B += (size_t)z * sB;
  C += (size_t)z * sC;
  const int m0 = blockIdx.y * GEMM_BM, n0 = blockIdx.x * GEMM_BN;
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;

  for (int k0 = 0; k0 < k; k0 += GEMM_BK) {
    // 64x16 = 1024 elements of each tile, 4 per thread. The mapping keeps
    // consecutive threads on consecutive addresses of the stored matrix.
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const int e = tid + r * 256;
      int mm, kk;
      if (transA) { mm = e % GEMM_BM; kk = e / GEMM_BM; }   // A stored k x m
      else { kk = e % GEMM_BK; mm = e / GEMM_BK; }          // A stored m x k
      const int gm = m0 + mm, gk = k0 + kk;
      float v = 0.0f;
      if (gm < m && gk < k) v = transA ? A[(size_t)gk * lda + gm] : A[(size_t)gm * lda + gk];
      As[kk][mm] = v;
      int nn, kb;
      if (transB) { kb = e % GEMM_BK; nn = e / GEMM_BK; }   // B stored n x k
      else { nn = e % GEMM_BN; kb = e / GEMM_BN; }          // B stored k x n
      const int gn = n0 + nn, gk2 = k0 + kb;
      float w = 0.0f;
      if (gn < n && gk2 < k) w = transB ? B[(size_t)gn * ldb + gk2] : B[(size_t)gk2 * ldb + gn];
      Bs[kb][nn] = w;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < GEMM_BK; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = As[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int gm = m0 + ty + 16 * i;
    if (gm >= m) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int gn = n0 + tx + 16 * j;
      if (gn >= n) continue;
      float* c = &C[(size_t)gm * ldc + gn];
      *c = beta == 0.0f ? alpha * acc[i][j] : fmaf(alpha, acc[i][j], beta * *c);
    }
  }
}

// y[(o*C + c)*inner + i] += bias[c]  (linear: outer=rows, inner=1;
// channel-first conv: outer=batch, inner=L).
extern "C" __global__ void bias_add(float* __restrict__ y, const float* __restrict__ bias,
                                    int outer, int C, int inner) {
  const int n = outer * C * inner;
  PIPE_FOR(i, n) y[i] += bias[(i / inner) % C];
}

// gb[c] += sum over rows of g (rows x cols); block (32, 8), grid (ceil(cols/32), S).
// gb must be zeroed by the caller.
extern "C" __global__ void sum_cols(const float* __restrict__ g, float* __restrict__ gb, int rows,
                                    int cols) {
  __shared__ float red[8][33];
  const int c = blockIdx.x * 32 + threadIdx.x;
  const int per = (rows + gridDim.y - 1) / gridDim.y;
  const int r0 = blockIdx.y * per, r1 = min(rows, r0 + per);
  float acc = 0.0f;
  if (c < cols)
    for (int r = r0 + threadIdx.y; r < r1; r += blockDim.y) acc += g[(size_t)r * cols + c];
  red[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    float s = 0.0f;
    for (int y = 0; y < blockDim.y; ++y) s += red[y][threadIdx.x];
    atomicAdd(&gb[c], s);
  }
}

// gb[c] += sum over (o, i) of g[(o*C + c)*inner + i]; one block per c
// (blockDim multiple of 32). gb must be zeroed by the caller.
extern "C" __global__ void sum_mid(const float* __restrict__ g, float* __restrict__ gb, int outer,
                                   int C, int inner) {
  __shared__ float red[32];
  const int c = blockIdx.x;
  float acc = 0.0f;
  const int n = outer * inner;
  for (int e = threadIdx.x; e < n; e += blockDim.x) {
    const int o = e / inner, i = e % inner;
    acc += g[((size_t)o * C + c) * inner + i];
  }
  acc = pipe_block_sum(acc, red);
  if (threadIdx.x == 0) atomicAdd(&gb[c], acc);
}
