// norm.cu: LayerNorm and Mamba-2's gated RMSNorm, forward and backward.
// One warp per normalised row (segment); blockDim = (32, WARPS).
#include "common.cuh"

// LayerNorm over the last dim D: y = (x - mean) * rstd * w + b.
// mean, rstd (rows) saved for the backward. w, b nullable (no affine).
extern "C" __global__ void layernorm_fwd(const float* __restrict__ x, const float* __restrict__ w,
                                         const float* __restrict__ b, float* __restrict__ y,
                                         float* __restrict__ mean, float* __restrict__ rstd,
                                         int rows, int D, float eps) {
  const int r = blockIdx.x * blockDim.y + threadIdx.y;
  if (r >= rows) return;  // whole warp leaves together
  const float* xr = x + (size_t)r * D;
  float s = 0.0f;
  for (int i = threadIdx.x; i < D; i += 32) s += xr[i];
  const float mu = pipe_warp_sum(s) / D;
  float v = 0.0f;
  for (int i = threadIdx.x; i < D; i += 32) {
    const float d = xr[i] - mu;
    v = fmaf(d, d, v);
  }
  const float rs = rsqrtf(pipe_warp_sum(v) / D + eps);
  float* yr = y + (size_t)r * D;
  for (int i = threadIdx.x; i < D; i += 32) {
    float o = (xr[i] - mu) * rs;
    if (w != nullptr) o *= w[i];
    if (b != nullptr) o += b[i];
    yr[i] = o;
  }
  if (threadIdx.x == 0) {
    mean[r] = mu;
    rstd[r] = rs;
  }
}

// gx = rstd * (gh - mean(gh) - xh * mean(gh * xh)), gh = gy * w, xh = (x-mean)*rstd.
extern "C" __global__ void layernorm_bwd_dx(const float* __restrict__ x,
                                            const float* __restrict__ w,
                                            const float* __restrict__ gy,
                                            const float* __restrict__ mean,
                                            const float* __restrict__ rstd,
                                            float* __restrict__ gx, int rows, int D) {
  const int r = blockIdx.x * blockDim.y + threadIdx.y;
  if (r >= rows) return;
  const float* xr = x + (size_t)r * D;
  const float* gr = gy + (size_t)r * D;
  const float mu = mean[r], rs = rstd[r];
  float s1 = 0.0f, s2 = 0.0f;
  for (int i = threadIdx.x; i < D; i += 32) {
    const float gh = w != nullptr ? gr[i] * w[i] : gr[i];
    s1 += gh;
    s2 = fmaf(gh, (xr[i] - mu) * rs, s2);
  }
  const float m1 = pipe_warp_sum(s1) / D, m2 = pipe_warp_sum(s2) / D;
  float* o = gx + (size_t)r * D;
  for (int i = threadIdx.x; i < D; i += 32) {
    const float gh = w != nullptr ? gr[i] * w[i] : gr[i];
    const float xh = (xr[i] - mu) * rs;
    o[i] = rs * (gh - m1 - xh * m2);
  }
}

// gw[i] += sum_r gy * xh, gb[i] += sum_r gy. Block (32, 8), grid
// (ceil(D/32), S). gw, gb zeroed by the caller; either may be null.
extern "C" __global__ void layernorm_bwd_wb(const float* __restrict__ x,
                                            const float* __restrict__ gy,
                                            const float* __restrict__ mean,
                                            const float* __restrict__ rstd,
                                            float* __restrict__ gw, float* __restrict__ gb,
                                            int rows, int D) {
  __shared__ float rw[8][33], rb[8][33];
  const int c = blockIdx.x * 32 + threadIdx.x;
  const int per = (rows + gridDim.y - 1) / gridDim.y;
  const int r0 = blockIdx.y * per, r1 = min(rows, r0 + per);
  float aw = 0.0f, ab = 0.0f;
  if (c < D)
    for (int r = r0 + threadIdx.y; r < r1; r += blockDim.y) {
      const float g = gy[(size_t)r * D + c];
      aw = fmaf(g, (x[(size_t)r * D + c] - mean[r]) * rstd[r], aw);
      ab += g;
    }
  rw[threadIdx.y][threadIdx.x] = aw;
  rb[threadIdx.y][threadIdx.x] = ab;
  __syncthreads();
  if (threadIdx.y == 0 && c < D) {
    float sw = 0.0f, sb = 0.0f;
    for (int y = 0; y < blockDim.y; ++y) {
      sw += rw[y][threadIdx.x];
      sb += rb[y][threadIdx.x];
    }
    if (gw != nullptr) atomicAdd(&gw[c], sw);
    if (gb != nullptr) atomicAdd(&gb[c], sb);
  }
}

// Gated RMSNorm (Mamba-2, norm_before_gate = False): rows of D channels cut
// into segments of gs channels (D/gs = ngroups), per segment
//   v = y * silu(z)   (z nullable: v = y)
//   out = w * v * rstd,  rstd = 1/sqrt(mean(v^2) + eps)
// rstd: (rows * D/gs) saved for the backward.
extern "C" __global__ void rmsnorm_gated_fwd(const float* __restrict__ y,
                                             const float* __restrict__ z,
                                             const float* __restrict__ w,
                                             float* __restrict__ out, float* __restrict__ rstd,
                                             int rows, int D, int gs, float eps) {
  const int nseg = rows * (D / gs);
  const int sg = blockIdx.x * blockDim.y + threadIdx.y;
  if (sg >= nseg) return;
  const size_t off = (size_t)sg * gs;  // segments are contiguous
  const int c0 = (sg % (D / gs)) * gs;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < gs; i += 32) {
    float v = y[off + i];
    if (z != nullptr) v *= pipe_silu(z[off + i]);
    ss = fmaf(v, v, ss);
  }
  const float rs = rsqrtf(pipe_warp_sum(ss) / gs + eps);
  for (int i = threadIdx.x; i < gs; i += 32) {
    float v = y[off + i];
    if (z != nullptr) v *= pipe_silu(z[off + i]);
    out[off + i] = v * rs * (w != nullptr ? w[c0 + i] : 1.0f);
  }
  if (threadIdx.x == 0) rstd[sg] = rs;
}

// Backward of rmsnorm_gated_fwd: gy, gz (gz ignored when z is null).
// gh = gout * w; gv = rstd * (gh - v * rstd^2 * mean(gh * v));
// gy = gv * silu(z); gz = gv * y * silu'(z).
extern "C" __global__ void rmsnorm_gated_bwd_dx(const float* __restrict__ y,
                                                const float* __restrict__ z,
                                                const float* __restrict__ w,
                                                const float* __restrict__ gout,
                                                const float* __restrict__ rstd,
                                                float* __restrict__ gy, float* __restrict__ gz,
                                                int rows, int D, int gs) {
  const int nseg = rows * (D / gs);
  const int sg = blockIdx.x * blockDim.y + threadIdx.y;
  if (sg >= nseg) return;
  const size_t off = (size_t)sg * gs;
  const int c0 = (sg % (D / gs)) * gs;
  const float rs = rstd[sg];
  float dot = 0.0f;
  for (int i = threadIdx.x; i < gs; i += 32) {
    float v = y[off + i];
    if (z != nullptr) v *= pipe_silu(z[off + i]);
    const float gh = gout[off + i] * (w != nullptr ? w[c0 + i] : 1.0f);
    dot = fmaf(gh, v, dot);
  }
  const float m = pipe_warp_sum(dot) / gs;
  for (int i = threadIdx.x; i < gs; i += 32) {
    const float yv = y[off + i];
    const float zv = z != nullptr ? z[off + i] : 0.0f;
    const float sz = z != nullptr ? pipe_silu(zv) : 1.0f;
    const float v = yv * sz;
    const float gh = gout[off + i] * (w != nullptr ? w[c0 + i] : 1.0f);
    const float gv = rs * (gh - v * rs * rs * m);
    gy[off + i] = gv * sz;
    if (z != nullptr) gz[off + i] = gv * yv * pipe_dsilu(zv);
  }
}

// gw[c] += sum_rows gout * v * rstd. Block (32, 8), grid (ceil(D/32), S);
// gw zeroed by the caller.
extern "C" __global__ void rmsnorm_gated_bwd_w(const float* __restrict__ y,
                                               const float* __restrict__ z,
                                               const float* __restrict__ gout,
                                               const float* __restrict__ rstd,
                                               float* __restrict__ gw, int rows, int D, int gs) {
  __shared__ float red[8][33];
  const int c = blockIdx.x * 32 + threadIdx.x;
  const int per = (rows + gridDim.y - 1) / gridDim.y;
  const int r0 = blockIdx.y * per, r1 = min(rows, r0 + per);
  float acc = 0.0f;
  if (c < D)
    for (int r = r0 + threadIdx.y; r < r1; r += blockDim.y) {
      const size_t i = (size_t)r * D + c;
      float v = y[i];
      if (z != nullptr) v *= pipe_silu(z[i]);
      acc = fmaf(gout[i], v * rstd[(size_t)r * (D / gs) + c / gs], acc);
    }
  red[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < D) {
    float s = 0.0f;
    for (int q = 0; q < blockDim.y; ++q) s += red[q][threadIdx.x];
    atomicAdd(&gw[c], s);
  }
}

// Weight norm (torch.nn.utils.weight_norm, dim 0): for v (rows, cols) and
// g (rows), w[o,:] = g[o] * v[o,:] / |v[o,:]|; norm (rows) saves |v[o,:]|.
// One warp per row; blockDim = (32, WARPS).
extern "C" __global__ void weightnorm_fwd(const float* __restrict__ v, const float* __restrict__ g,
                                          float* __restrict__ w, float* __restrict__ norm, int rows,
                                          int cols) {
  const int r = blockIdx.x * blockDim.y + threadIdx.y;
  if (r >= rows) return;
  const float* vr = v + (size_t)r * cols;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < cols; i += 32) ss = fmaf(vr[i], vr[i], ss);
  const float n = sqrtf(pipe_warp_sum(ss));
  const float s = n > 0.0f ? g[r] / n : 0.0f;
  for (int i = threadIdx.x; i < cols; i += 32) w[(size_t)r * cols + i] = s * vr[i];
  if (threadIdx.x == 0) norm[r] = n;
}

// Backward: with vh = v/|v|, gg[o] = vh . gw[o,:] and
// gv[o,:] = g[o]/|v| * (gw[o,:] - vh * (vh . gw[o,:])). gg nullable.
extern "C" __global__ void weightnorm_bwd(const float* __restrict__ v, const float* __restrict__ g,
                                          const float* __restrict__ norm,
                                          const float* __restrict__ gw, float* __restrict__ gv,
                                          float* __restrict__ gg, int rows, int cols) {
  const int r = blockIdx.x * blockDim.y + threadIdx.y;
  if (r >= rows) return;
  const float* vr = v + (size_t)r * cols;
  const float* gr = gw + (size_t)r * cols;
  const float n = norm[r];
  const float inv = n > 0.0f ? 1.0f / n : 0.0f;
  float dot = 0.0f;
  for (int i = threadIdx.x; i < cols; i += 32) dot = fmaf(vr[i] * inv, gr[i], dot);
  dot = pipe_warp_sum(dot);
  const float s = g[r] * inv;
  for (int i = threadIdx.x; i < cols; i += 32)
    gv[(size_t)r * cols + i] = s * (gr[i] - vr[i] * inv * dot);
  if (threadIdx.x == 0 && gg != nullptr) gg[r] = dot;
}
