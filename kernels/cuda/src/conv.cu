// conv.cu: depthwise causal conv1d (Mamba's d_conv, channel-last) and the
// im2col / col2im pair that turns a dense dilated/strided conv1d
// (channel-first, the temporal encoder) into SGEMMs (gemm.cu).
#include "common.cuh"

// Depthwise causal conv, x and y (batch, L, C), w (C, W), bias (C) nullable.
// y[b,t,c] = act(bias[c] + sum_k w[c,k] * x[b, t-(W-1)+k, c]), zero history.
// act: 0 none, 1 SiLU.
__device__ __forceinline__ float dw_pre(const float* __restrict__ x, const float* __restrict__ w,
                                        const float* __restrict__ bias, int b, int t, int c,
                                        int L, int C, int W) {
  float acc = bias != nullptr ? bias[c] : 0.0f;
  for (int k = 0; k < W; ++k) {
    const int s = t - (W - 1) + k;
    if (s >= 0) acc = fmaf(w[c * W + k], x[((size_t)b * L + s) * C + c], acc);
  }
  return acc;
}

extern "C" __global__ void dwconv_causal_fwd(const float* __restrict__ x,
                                             const float* __restrict__ w,
                                             const float* __restrict__ bias, float* __restrict__ y,
                                             int batch, int L, int C, int W, int act) {
  const int n = batch * L * C;
  PIPE_FOR(i, n) {
    const int c = i % C, bt = i / C, t = bt % L, b = bt / L;
    const float p = dw_pre(x, w, bias, b, t, c, L, C, W);
    y[i] = act == 1 ? pipe_silu(p) : p;
  }
}

// gpre = gy * act'(pre), pre recomputed.
extern "C" __global__ void dwconv_causal_bwd_pre(const float* __restrict__ x,
                                                 const float* __restrict__ w,
                                                 const float* __restrict__ bias,
                                                 const float* __restrict__ gy,
                                                 float* __restrict__ gpre, int batch, int L, int C,
                                                 int W, int act) {
  const int n = batch * L * C;
  PIPE_FOR(i, n) {
    const int c = i % C, bt = i / C, t = bt % L, b = bt / L;
    float g = gy[i];
    if (act == 1) g *= pipe_dsilu(dw_pre(x, w, bias, b, t, c, L, C, W));
    gpre[i] = g;
  }
}

// gx[b,s,c] = sum_k w[c,k] * gpre[b, s+(W-1)-k, c].
extern "C" __global__ void dwconv_causal_bwd_dx(const float* __restrict__ gpre,
                                                const float* __restrict__ w,
                                                float* __restrict__ gx, int batch, int L, int C,
                                                int W) {
  const int n = batch * L * C;
  PIPE_FOR(i, n) {
    const int c = i % C, bs = i / C, s = bs % L, b = bs / L;
    float acc = 0.0f;
    for (int k = 0; k < W; ++k) {
      const int t = s + (W - 1) - k;
      if (t < L) acc = fmaf(w[c * W + k], gpre[((size_t)b * L + t) * C + c], acc);
    }
    gx[i] = acc;
  }
}

// gw[c,k] += sum_{b,t} gpre[b,t,c] * x[b,t-(W-1)+k,c]; gbias[c] += sum gpre.
// Block (32, 8): threadIdx.x = channel within a 32-channel tile, threadIdx.y
// strides over the (b,t) rows of this block's row range (blockIdx.y).
// W <= 16. gw and gbias must be zeroed by the caller (atomic accumulation).
extern "C" __global__ void dwconv_causal_bwd_dw(const float* __restrict__ gpre,
                                                const float* __restrict__ x,
                                                float* __restrict__ gw, float* __restrict__ gbias,
                                                int batch, int L, int C, int W) {
  const int c = blockIdx.x * 32 + threadIdx.x;
  const int rows = batch * L;
  const int per = (rows + gridDim.y - 1) / gridDim.y;
  const int r0 = blockIdx.y * per, r1 = min(rows, r0 + per);
  float acc[16];
#pragma unroll
  for (int k = 0; k < 16; ++k) acc[k] = 0.0f;
  float gb = 0.0f;
  if (c < C) {
    for (int r = r0 + threadIdx.y; r < r1; r += blockDim.y) {
      const int t = r % L;
      const float g = gpre[(size_t)r * C + c];
      gb += g;
#pragma unroll
      for (int k = 0; k < 16; ++k) {
        const int s = t - (W - 1) + k;
        if (k < W && s >= 0) acc[k] = fmaf(g, x[((size_t)r - (W - 1) + k) * C + c], acc[k]);
      }
    }
    for (int k = 0; k < W; ++k) atomicAdd(&gw[c * W + k], acc[k]);
    if (gbias != nullptr) atomicAdd(&gbias[c], gb);
  }
}

// im2col for conv1d, x (batch, Cin, Lin) -> col (batch, Cin*K, Lout):
// col[b, i*K+k, t] = x[b, i, t*stride + k*dil - pad] (0 outside).
extern "C" __global__ void im2col1d(const float* __restrict__ x, float* __restrict__ col,
                                    int batch, int cin, int lin, int K, int lout, int stride,
                                    int dil, int pad) {
  const int n = batch * cin * K * lout;
  PIPE_FOR(i, n) {
    const int t = i % lout, rest = i / lout, k = rest % K, bi = rest / K;  // bi = b*cin + i
    const int s = t * stride + k * dil - pad;
    col[i] = (s >= 0 && s < lin) ? x[(size_t)bi * lin + s] : 0.0f;
  }
}

// col2im (the adjoint of im2col1d), gathering so every gx element is written
// exactly once: gx[b,i,s] = sum over (k,t) with t*stride + k*dil - pad == s.
extern "C" __global__ void col2im1d(const float* __restrict__ col, float* __restrict__ gx,
                                    int batch, int cin, int lin, int K, int lout, int stride,
                                    int dil, int pad) {
  const int n = batch * cin * lin;
  PIPE_FOR(i, n) {
    const int s = i % lin, bi = i / lin;
    float acc = 0.0f;
    for (int k = 0; k < K; ++k) {
      const int num = s + pad - k * dil;
      if (num < 0 || num % stride != 0) continue;
      const int t = num / stride;
      if (t < lout) acc += col[((size_t)bi * K + k) * lout + t];
    }
    gx[i] = acc;
  }
}
