// elementwise.cu: activations, the dt bias+softplus, BCE/focal loss, and
// small vector helpers.
#include "common.cuh"

// Activation kinds shared by unary_fwd / unary_bwd (kernels/cuda/kernels.go
// mirrors these numbers).
#define ACT_SILU 0
#define ACT_SOFTPLUS 1
#define ACT_SIGMOID 2
#define ACT_RELU 3

__device__ __forceinline__ float act_f(int kind, float x) {
  switch (kind) {
    case ACT_SILU: return pipe_silu(x);
    case ACT_SOFTPLUS: return pipe_softplus(x);
    case ACT_SIGMOID: return pipe_sigmoid(x);
    default: return x > 0.0f ? x : 0.0f;
  }
}

__device__ __forceinline__ float act_df(int kind, float x) {
  switch (kind) {
    case ACT_SILU: return pipe_dsilu(x);
    case ACT_SOFTPLUS: return pipe_dsoftplus(x);
    case ACT_SIGMOID: { const float s = pipe_sigmoid(x); return s * (1.0f - s); }
    default: return x > 0.0f ? 1.0f : 0.0f;
  }
}

// y = f(x)
extern "C" __global__ void unary_fwd(int kind, const float* __restrict__ x, float* __restrict__ y,
                                     int n) {
  PIPE_FOR(i, n) y[i] = act_f(kind, x[i]);
}

// gx = gy * f'(x)   (x is the forward input)
extern "C" __global__ void unary_bwd(int kind, const float* __restrict__ x,
                                     const float* __restrict__ gy, float* __restrict__ gx, int n) {
  PIPE_FOR(i, n) gx[i] = gy[i] * act_df(kind, x[i]);
}

// dt = softplus(x + bias[i % C]) (Mamba-2's dt path; bias nullable).
extern "C" __global__ void bias_softplus_fwd(const float* __restrict__ x,
                                             const float* __restrict__ bias,
                                             float* __restrict__ y, int n, int C) {
  PIPE_FOR(i, n) y[i] = pipe_softplus(x[i] + (bias != nullptr ? bias[i % C] : 0.0f));
}

// gx = gy * softplus'(x + bias); the bias gradient is sum_cols(gx).
extern "C" __global__ void bias_softplus_bwd(const float* __restrict__ x,
                                             const float* __restrict__ bias,
                                             const float* __restrict__ gy,
                                             float* __restrict__ gx, int n, int C) {
  PIPE_FOR(i, n) gx[i] = gy[i] * pipe_dsoftplus(x[i] + (bias != nullptr ? bias[i % C] : 0.0f));
}

// Numerically stable log(1 + exp(x)) without torch's threshold.
__device__ __forceinline__ float log1pexp(float x) {
  return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}

// Per-element BCE-with-logits with pos_weight and focal modulation:
//   p = sigmoid(x), bce = pw*y*log1pexp(-x) + (1-y)*log1pexp(x)
//   pt = y*p + (1-y)*(1-p), at = alpha >= 0 ? alpha*y + (1-alpha)*(1-y) : 1
//   loss = at * (1-pt)^gamma * bce        (gamma = 0, alpha < 0: plain BCE)
// weight (nullable) multiplies the loss per element. grad (nullable):
// dloss/dx * gscale (gscale = 1/n for a mean). sum (nullable, zeroed by
// caller): atomically accumulated sum of the losses.
extern "C" __global__ void bce_focal(const float* __restrict__ x, const float* __restrict__ y,
                                     const float* __restrict__ weight, float* __restrict__ loss,
                                     float* __restrict__ grad, float* __restrict__ sum, int n,
                                     float pw, float alpha, float gamma, float gscale) {
  __shared__ float red[32];
  float local = 0.0f;
  // Every thread of every block runs the same number of iterations so the
  // block reduction below is reached by all of them.
  const int stride = blockDim.x * gridDim.x;
  for (int base = blockIdx.x * blockDim.x; base < n; base += stride) {
    const int i = base + threadIdx.x;
    if (i < n) {
      const float xv = x[i], yv = y[i];
      const float p = pipe_sigmoid(xv);
      const float bce = pw * yv * log1pexp(-xv) + (1.0f - yv) * log1pexp(xv);
      const float dbce = p * (pw * yv + 1.0f - yv) - pw * yv;
      const float pt = yv * p + (1.0f - yv) * (1.0f - p);
      const float at = alpha >= 0.0f ? alpha * yv + (1.0f - alpha) * (1.0f - yv) : 1.0f;
      const float q = 1.0f - pt;
      float mod = 1.0f, dmod = 0.0f;  // (1-pt)^gamma and its x-derivative
      if (gamma != 0.0f) {
        mod = powf(q, gamma);
        const float dpt = (2.0f * yv - 1.0f) * p * (1.0f - p);
        dmod = q > 0.0f ? -gamma * powf(q, gamma - 1.0f) * dpt : 0.0f;
      }
      const float wv = weight != nullptr ? weight[i] : 1.0f;
      const float l = wv * at * mod * bce;
      if (loss != nullptr) loss[i] = l;
      if (grad != nullptr) grad[i] = gscale * wv * at * (mod * dbce + dmod * bce);
      local += l;
    }
  }
  if (sum != nullptr) {
    if (blockIdx.x * blockDim.x >= n) return;  // block had no work: uniform exit
    local = pipe_block_sum(local, red);
    if (threadIdx.x == 0) atomicAdd(sum, local);
  }
}

// out[0] += sum(x) (out zeroed by the caller).
extern "C" __global__ void sum_all(const float* __restrict__ x, float* __restrict__ out, int n) {
  __shared__ float red[32];
  float local = 0.0f;
  PIPE_FOR(i, n) local += x[i];
  local = pipe_block_sum(local, red);
  if (threadIdx.x == 0) atomicAdd(out, local);
}

// y += a * x
extern "C" __global__ void axpy(float a, const float* __restrict__ x, float* __restrict__ y,
                                int n) {
  PIPE_FOR(i, n) y[i] = fmaf(a, x[i], y[i]);
}

// out = a * b (elementwise); also the backward of a 0/1 mask.
extern "C" __global__ void mul(const float* __restrict__ a, const float* __restrict__ b,
                               float* __restrict__ out, int n) {
  PIPE_FOR(i, n) out[i] = a[i] * b[i];
}

// y = a * x + b (scalar affine; a = 0, b = c fills).
extern "C" __global__ void affine(float a, const float* __restrict__ x, float b,
                                  float* __restrict__ y, int n) {
  PIPE_FOR(i, n) y[i] = x != nullptr ? fmaf(a, x[i], b) : b;
}

// y = clamp(nan_to_num(x), lo, hi): NaN -> 0, +-inf -> +-FLT_MAX, then
// clamp (the original project's clamps; a switch in pipe's model).
extern "C" __global__ void clamp_fwd(const float* __restrict__ x, float* __restrict__ y, int n,
                                     float lo, float hi) {
  PIPE_FOR(i, n) {
    float v = x[i];
    if (isnan(v)) v = 0.0f;
    y[i] = fminf(fmaxf(v, lo), hi);
  }
}

// gx = gy where x is finite and lo <= x <= hi (torch's clamp passes the
// gradient at the bounds), else 0.
extern "C" __global__ void clamp_bwd(const float* __restrict__ x, const float* __restrict__ gy,
                                     float* __restrict__ gx, int n, float lo, float hi) {
  PIPE_FOR(i, n) {
    const float v = x[i];
    gx[i] = (isfinite(v) && v >= lo && v <= hi) ? gy[i] : 0.0f;
  }
}

// y[b, L-1-t, :] = x[b, t, :] for x (batch, L, C).
extern "C" __global__ void flip_time(const float* __restrict__ x, float* __restrict__ y,
                                     int batch, int L, int C) {
  const int n = batch * L * C;
  PIPE_FOR(i, n) {
    const int c = i % C, bt = i / C, t = bt % L, b = bt / L;
    y[((size_t)b * L + (L - 1 - t)) * C + c] = x[i];
  }
}

// y[a, n, m, :] = x[a, m, n, :] for x (A, M, N, D): the two middle axes
// swapped. One thread per element of y (reads are strided by D).
extern "C" __global__ void transpose_mid(const float* __restrict__ x, float* __restrict__ y, int A,
                                         int M, int N, int D) {
  const int n = A * M * N * D;
  PIPE_FOR(i, n) {
    const int d = i % D, r = i / D, m = r % M, an = r / M, nn = an % N, a = an / N;
    y[i] = x[(((size_t)a * M + m) * N + nn) * D + d];
  }
}

// splitmix64's finaliser (the hash of kernels.DropoutKeep).
__device__ __forceinline__ unsigned long long pipe_mix64(unsigned long long z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Inverted-dropout mask: mask[i] = scale where element i of stream is kept
// (the 53 high bits of mix64(seed ^ mix64(stream << 40 ^ i)) >= thresh),
// else 0. 64-bit values come as 32-bit halves.
extern "C" __global__ void dropout_mask(float* __restrict__ mask, int n, unsigned seed_lo,
                                        unsigned seed_hi, unsigned stream, unsigned th_lo,
                                        unsigned th_hi, float scale) {
  const unsigned long long seed = ((unsigned long long)seed_hi << 32) | seed_lo;
  const unsigned long long th = ((unsigned long long)th_hi << 32) | th_lo;
  const unsigned long long st = (unsigned long long)stream << 40;
  PIPE_FOR(i, n) {
    const unsigned long long h = pipe_mix64(seed ^ pipe_mix64(st ^ (unsigned long long)i));
    mask[i] = (h >> 11) >= th ? scale : 0.0f;
  }
}
