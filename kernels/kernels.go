// Package kernels is the numerics of the V3 detector behind one Go API: a
// Backend owns float32 buffers (on the host for the CPU backend, in device
// memory for the CUDA backend in kernels/cuda) and runs every op forward and
// backward on them. Model code written against Backend runs unchanged on
// either; data moves between host and backend only through Upload and
// Download.
//
// Conventions shared by every op:
//   - all arrays are row-major float32; shapes are given per op;
//   - outputs are overwritten (never accumulated into) unless a doc comment
//     says otherwise, and every element of an output is written;
//   - an optional buffer is passed as nil ("absent");
//   - sizes are checked and a bad call returns an error naming the op, the
//     array and the expected size; no op panics on bad input;
//   - a Backend is not safe for concurrent use (each goroutine that runs ops
//     needs its own); ops may use several goroutines internally.
//
// The CPU backend (NewCPU) is pure Go, parallel across batch × heads or
// channels with a fixed pool of workers sized to the machine, and
// allocation-free in steady state. Float64 references live in kernels/ref,
// the Mamba-2 block and bidirectional layer in kernels/mamba, device
// selection in kernels/device.
package kernels

import (
	"fmt"
	"math"
)

// Buffer is an array of float32 owned by one Backend. Buffers of one
// backend must not be passed to another. The CPU backend's buffers are
// *Host.
type Buffer interface {
	// Len returns the number of float32 values.
	Len() int
}

// Memory is buffer management.
type Memory interface {
	// Name describes the backend ("cpu (2 workers)", "cuda: NVIDIA H100 ...").
	Name() string
	// Alloc returns a new buffer of n values (n >= 1), zeroed.
	Alloc(n int) (Buffer, error)
	// Free releases b (nil is a no-op). b must not be used afterwards.
	Free(b Buffer) error
	// Slice returns elements [from, from+n) of b sharing b's memory.
	Slice(b Buffer, from, n int) (Buffer, error)
	// Upload copies src into b; len(src) must equal b.Len().
	Upload(b Buffer, src []float32) error
	// Download copies b into dst; len(dst) must equal b.Len().
	Download(dst []float32, b Buffer) error
	// Zero sets every value of b to 0 (nil is a no-op).
	Zero(b Buffer) error
	// Sync waits until every op issued so far has finished (a no-op on
	// the CPU, whose ops are synchronous).
	Sync() error
	// Close releases the backend's resources (workers, scratch memory).
	Close() error
}

// Dense is matrix multiplication and linear layers.
type Dense interface {
	// Gemm computes, for z in [0, batch), C[z] = alpha·op(A[z])·op(B[z]) +
	// beta·C[z] with row-major matrices: op(A) is m×k, op(B) k×n, C m×n;
	// lda, ldb, ldc are leading dimensions (elements per row of the stored
	// matrix), sA, sB, sC the element strides between batch entries (0
	// broadcasts one matrix). With beta = 0, C is overwritten (NaNs in C
	// do not propagate).
	Gemm(transA, transB bool, m, n, k int, alpha float32, A Buffer, lda, sA int,
		B Buffer, ldb, sB int, beta float32, C Buffer, ldc, sC int, batch int) error
	// LinearFwd computes y (rows, out) = x (rows, in)·Wᵀ + bias, W (out,
	// in), bias (out) optional.
	LinearFwd(x, W, bias, y Buffer, rows, in, out int) error
	// LinearBwd computes gx = gy·W (rows, in), gW = gyᵀ·x (out, in) and
	// gbias = column sums of gy (out); each optional and overwritten.
	LinearBwd(x, W, gy, gx, gW, gbias Buffer, rows, in, out int) error
	// SumCols overwrites out (cols) with the column sums of g (rows, cols).
	SumCols(g, out Buffer, rows, cols int) error
}

// Conv is the convolutions.
type Conv interface {
	// ConvFwd computes the dense conv1d y = conv(x, w) + bias (bias (Cout)
	// optional), channel-first: x (Batch, Cin, Lin), w (Cout, Cin, K), y
	// (Batch, Cout, Lout), y[b,o,t] = bias[o] + Σ_{c,k} w[o,c,k]·x[b, c,
	// t·Stride + k·Dil − Pad] (zero outside [0, Lin)). Weight norm is
	// WeightNormFwd applied to w beforehand.
	ConvFwd(s ConvShape, x, w, bias, y Buffer) error
	// ConvBwd computes gx, gw, gbias of ConvFwd (each optional, overwritten).
	ConvBwd(s ConvShape, x, w, gy, gx, gw, gbias Buffer) error
	// DWConvFwd is Mamba's depthwise causal conv, channel-last: x, y
	// (Batch, L, C), w (C, W), bias (C) optional: y[b,t,c] = act(bias[c] +
	// Σ_k w[c,k]·x[b, t−(W−1)+k, c]) with zero history; act is SiLU when
	// silu, else the identity.
	DWConvFwd(s DWShape, x, w, bias, y Buffer, silu bool) error
	// DWConvBwd computes gx, gw and gbias (optional) of DWConvFwd.
	DWConvBwd(s DWShape, x, w, bias, gy, gx, gw, gbias Buffer, silu bool) error
	// WeightNormFwd computes w[o,:] = g[o]·v[o,:]/‖v[o,:]‖ for v (rows,
	// cols), g (rows); norm (rows) saves ‖v[o,:]‖ for the backward.
	WeightNormFwd(v, g, w, norm Buffer, rows, cols int) error
	// WeightNormBwd computes gv (rows, cols) and gg (rows) from gw.
	WeightNormBwd(v, g, norm, gw, gv, gg Buffer, rows, cols int) error
}

// Norm is normalisation.
type Norm interface {
	// LayerNormFwd normalises rows of D values: y = (x−mean)·rstd·w + b (w,
	// b (D) optional); mean and rstd (rows) are saved for the backward.
	LayerNormFwd(x, w, b, y, mean, rstd Buffer, rows, D int, eps float32) error
	// LayerNormBwd computes gx (overwritten) and gw, gb (optional,
	// overwritten).
	LayerNormBwd(x, w, gy, mean, rstd, gx, gw, gb Buffer, rows, D int) error
	// RMSNormGatedFwd computes Mamba-2's gated RMSNorm (norm_before_gate =
	// False): out = w·v/sqrt(mean(v²) + eps) with v = y·SiLU(z), the mean
	// taken per group of gs consecutive channels (gs = D for one group); y,
	// z, out (rows, D); z and w (D) optional; rstd (rows·D/gs) is saved.
	RMSNormGatedFwd(y, z, w, out, rstd Buffer, rows, D, gs int, eps float32) error
	// RMSNormGatedBwd computes gy, gz (when z is given; gz must then be
	// given too) and gw (optional).
	RMSNormGatedBwd(y, z, w, gout, rstd, gy, gz, gw Buffer, rows, D, gs int) error
}

// Elementwise is activations, losses and small vector ops.
type Elementwise interface {
	// Unary computes y = f(x) elementwise for an activation (SiLU, ...).
	Unary(act Activation, x, y Buffer) error
	// UnaryBwd computes gx = gy·f'(x).
	UnaryBwd(act Activation, x, gy, gx Buffer) error
	// BiasSoftplusFwd computes y = softplus(x + bias[i mod C]) (Mamba-2's
	// dt; bias (C) optional; torch's softplus: identity above 20).
	BiasSoftplusFwd(x, bias, y Buffer, C int) error
	// BiasSoftplusBwd computes gx and gbias (optional) of BiasSoftplusFwd.
	BiasSoftplusBwd(x, bias, gy, gx, gbias Buffer, C int) error
	// BCEFocalFwd computes, for logits x and targets y (same length),
	// per-element losses (loss, optional), their sum (sum, one value,
	// optional) and d loss/d x · gscale (grad, optional); weight
	// (per element) optional. See BCEFocal for the formula.
	BCEFocalFwd(cfg BCEFocal, x, y, weight, loss, grad, sum Buffer, gscale float32) error
	// SumAll overwrites out (one value) with the sum of x.
	SumAll(x, out Buffer) error
	// Axpy computes y += a·x.
	Axpy(a float32, x, y Buffer) error
	// Mul computes out = a·b elementwise (out may be a or b).
	Mul(a, b, out Buffer) error
	// Affine computes y = a·x + c (x nil: y = c).
	Affine(a float32, x Buffer, c float32, y Buffer) error
	// ClampFwd computes y = clamp(nan_to_num(x), lo, hi) (NaN → 0, ±Inf →
	// ±MaxFloat32, as torch.nan_to_num).
	ClampFwd(x, y Buffer, lo, hi float32) error
	// ClampBwd computes gx = gy where x is finite and lo ≤ x ≤ hi, else 0.
	ClampBwd(x, gy, gx Buffer, lo, hi float32) error
	// FlipTime reverses the time axis of x (batch, L, C) into y (y ≠ x).
	FlipTime(x, y Buffer, batch, L, C int) error
	// Transpose swaps the two middle axes: x (A, M, N, D) → y (A, N, M,
	// D), y[a,n,m,:] = x[a,m,n,:] (y ≠ x). D = 1 is a batched matrix
	// transpose; its backward is Transpose(gy, gx, A, N, M, D).
	Transpose(x, y Buffer, A, M, N, D int) error
	// DropoutMask fills mask with inverted-dropout factors: 1/(1−p) where
	// element i is kept, else 0. Element i of stream is kept when
	// DropoutKeep(seed, stream, i, p): a pure function of (seed, stream,
	// i), the same on every backend. 0 <= p < 1; stream in [0, 2^24).
	DropoutMask(mask Buffer, seed uint64, stream int, p float64) error
}

// Graph is the graph stream's ops, batched over G graphs (batch × time).
type Graph interface {
	// CosineFwd computes S (G, N, N) = the cosine similarity of every node
	// pair of X (G, N, F): S_ij = x_i·x_j/(n_i n_j), n_i = sqrt(|x_i|² +
	// eps); nrm (G, N) saves n for the backward.
	CosineFwd(s GraphShape, X, S, nrm Buffer, eps float32) error
	// CosineBwd computes gX of CosineFwd.
	CosineBwd(s GraphShape, X, nrm, gS, gX Buffer, eps float32) error
	// TopKSym keeps, in every row i of S (G, N, N), the k largest entries
	// (ties: lower j first; the diagonal only when self) and symmetrises by
	// union: keep_ij = 1 when row i kept j or row j kept i; A = S·keep.
	// k must be in [0, N] (N−1 without self): a larger k is an error. The
	// backward is Mul(gA, keep, gS).
	TopKSym(s GraphShape, S, A, keep Buffer, k int, self bool) error
	// SSGConvFwd computes Out (G, N, F) = α·X + (1−α)/K·Σ_{k=1..K} Âᵏ·X
	// with Â = D^−½ (A + I) D^−½ (I only with SelfLoops; D the row sums;
	// rows with zero degree give zero) for adjacency A (G, N, N).
	SSGConvFwd(s GraphShape, c SSG, A, X, Out Buffer) error
	// SSGConvBwd computes gX and gA (both overwritten) of SSGConvFwd.
	SSGConvBwd(s GraphShape, c SSG, A, X, gOut, gX, gA Buffer) error
	// TriuGather reads the strict upper triangle of every N×N matrix of S
	// (G, N, N) into out (G, P), P = N(N−1)/2, pairs (i < j) in row-major
	// order: out[g,p] = S[g,i,j], or S[g,i,j] + S[g,j,i] with sym. It is
	// the adjoint of TriuScatter with the same sym (each is the other's
	// backward).
	TriuGather(G, N int, S, out Buffer, sym bool) error
	// TriuScatter writes in (G, P) into S (G, N, N): S[g,i,j] = in[g,p]
	// for the pair p = (i < j), and with sym also S[g,j,i]; every other
	// element (the diagonal; the lower triangle without sym) is 0.
	TriuScatter(G, N int, in, S Buffer, sym bool) error
}

// Scan is the Mamba-2 selective scan (SSD recurrence).
type Scan interface {
	// ScanFwd runs, per batch b and head h (group g = h / (H/G)),
	//   state_t = exp(dt_t·A_h)·state_{t−1} + dt_t·x_t ⊗ B_t   (P×N, state_{−1} = 0)
	//   y_t     = state_t·C_t + D_h·x_t
	// for t = 0..L−1 (rev: t = L−1..0, the time-reversed sequence). x, y
	// (Batch, L, H, P); dt (Batch, L, H), already positive (softplus
	// applied); A, D (H) with A < 0 (A = −exp(A_log)); B, C (Batch, L, G,
	// N). D and final (the last state, (Batch, H, P, N)) are optional.
	ScanFwd(s ScanShape, x, dt, A, B, C, D, y, final Buffer, rev bool) error
	// ScanBwd computes the gradients of Σ y·gy for every input of ScanFwd
	// (overwritten; g.D optional, and only with D).
	ScanBwd(s ScanShape, x, dt, A, B, C, D, gy Buffer, g ScanGrads, rev bool) error
}

// Backend is every op on one device.
type Backend interface {
	Memory
	Dense
	Conv
	Norm
	Elementwise
	Graph
	Scan
}

// Activation selects the function of Unary and UnaryBwd.
type Activation int

// The activations; the values match kernels/cuda's Act* constants.
const (
	SiLU     Activation = 0 // x·sigmoid(x)
	Softplus Activation = 1 // log(1+eˣ), identity above 20 (torch)
	Sigmoid  Activation = 2 // 1/(1+e⁻ˣ)
	ReLU     Activation = 3 // max(x, 0)
)

// String names the activation.
func (a Activation) String() string {
	switch a {
	case SiLU:
		return "silu"
	case Softplus:
		return "softplus"
	case Sigmoid:
		return "sigmoid"
	case ReLU:
		return "relu"
	}
	return fmt.Sprintf("activation(%d)", int(a))
}

// ScanShape is the shape of an SSD scan: x (Batch, L, H, P), dt (Batch, L,
// H), A and D (H), B and C (Batch, L, G, N). H must be a multiple of G.
type ScanShape struct {
	Batch, L, H, P, G, N int
}

// Check reports a shape no scan can run.
func (s ScanShape) Check() error {
	if s.Batch < 1 || s.L < 1 || s.H < 1 || s.P < 1 || s.G < 1 || s.N < 1 {
		return fmt.Errorf("scan shape %+v: every size must be >= 1", s)
	}
	if s.H%s.G != 0 {
		return fmt.Errorf("scan shape %+v: heads %d not a multiple of groups %d", s, s.H, s.G)
	}
	return fits("scan", s.Batch, s.L, s.H, s.P, s.N)
}

// ScanGrads are the gradient outputs of ScanBwd (shapes as the inputs).
type ScanGrads struct {
	X, DT, A, B, C, D Buffer
}

// ConvShape is a dense conv1d, channel-first: x (Batch, Cin, Lin), w (Cout,
// Cin, K), y (Batch, Cout, Lout) with y[t] reading x[t·Stride + k·Dil − Pad].
type ConvShape struct {
	Batch, Cin, Lin, Cout, K, Lout, Stride, Dil, Pad int
}

// Check reports an impossible conv shape.
func (s ConvShape) Check() error {
	if s.Batch < 1 || s.Cin < 1 || s.Lin < 1 || s.Cout < 1 || s.K < 1 || s.Lout < 1 || s.Stride < 1 || s.Dil < 1 || s.Pad < 0 {
		return fmt.Errorf("conv shape %+v: sizes must be >= 1 (pad >= 0)", s)
	}
	for _, n := range [][]int{{s.Batch, s.Cin, s.Lin}, {s.Cout, s.Cin, s.K}, {s.Batch, s.Cout, s.Lout}, {s.Batch, s.Cin * s.K, s.Lout}} {
		if err := fits("conv", n...); err != nil {
			return err
		}
	}
	return nil
}

// OutLen returns the output length of a conv of input length lin.
func OutLen(lin, k, stride, dil, pad int) int {
	return (lin+2*pad-dil*(k-1)-1)/stride + 1
}

// DWShape is the depthwise causal conv: x, y (Batch, L, C), w (C, W).
type DWShape struct{ Batch, L, C, W int }

// Check reports an impossible depthwise conv shape.
func (s DWShape) Check() error {
	if s.Batch < 1 || s.L < 1 || s.C < 1 || s.W < 1 || s.W > 16 {
		return fmt.Errorf("depthwise conv shape %+v: sizes must be >= 1 and width <= 16", s)
	}
	return fits("depthwise conv", s.Batch, s.L, s.C)
}

// GraphShape is a batch of G graphs of N nodes with F features per node:
// X (G, N, F), adjacency and similarity matrices (G, N, N).
type GraphShape struct{ G, N, F int }

// Check reports an impossible graph shape.
func (s GraphShape) Check() error {
	if s.G < 1 || s.N < 1 || s.F < 1 || s.N > 64 {
		return fmt.Errorf("graph shape %+v: sizes must be >= 1 and nodes <= 64", s)
	}
	return fits("graph", s.G, s.N, s.N, s.F)
}

// SSG is the configuration of SSGConv: K propagation steps (1..16), the
// teleport weight Alpha, and whether self loops are added before
// normalising.
type SSG struct {
	K         int
	Alpha     float32
	SelfLoops bool
}

// Check reports an impossible configuration.
func (c SSG) Check() error {
	if c.K < 1 || c.K > 16 {
		return fmt.Errorf("ssgconv: K = %d (want 1..16)", c.K)
	}
	return nil
}

// BCEFocal is the loss of BCEFocalFwd: with p = sigmoid(x),
// bce = PosWeight·y·softplus(−x) + (1−y)·softplus(x),
// p_t = y·p + (1−y)(1−p), α_t = Alpha·y + (1−Alpha)(1−y) (1 when Alpha <
// 0), loss = weight·α_t·(1−p_t)^Gamma·bce.
type BCEFocal struct {
	PosWeight float32 // pos_weight (1 = none)
	Alpha     float32 // focal alpha; < 0 disables the alpha weighting
	Gamma     float32 // focal gamma; 0 = plain BCE
}

// Mix64 is splitmix64's finaliser, the hash of DropoutKeep.
func Mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// DropoutKeep reports whether dropout with probability p keeps element i
// of stream: h = Mix64(seed ^ Mix64(stream<<40 ^ i)), kept when the 53
// high bits of h, as a fraction of 2^53, are >= p.
func DropoutKeep(seed uint64, stream, i int, p float64) bool {
	h := Mix64(seed ^ Mix64(uint64(stream)<<40^uint64(i)))
	return float64(h>>11)/(1<<53) >= p
}

// dropoutThreshold is the integer form of DropoutKeep's test: the 53 high
// bits of h are >= it exactly when their fraction of 2^53 is >= p.
func dropoutThreshold(p float64) uint64 { return uint64(math.Ceil(p * (1 << 53))) }

// DropoutThreshold exports dropoutThreshold for the CUDA backend.
func DropoutThreshold(p float64) uint64 { return dropoutThreshold(p) }

// CheckDropout reports an impossible DropoutMask call.
func CheckDropout(n, stream int, p float64) error {
	if !(p >= 0 && p < 1) {
		return fmt.Errorf("dropout: p = %v: want 0 <= p < 1", p)
	}
	if stream < 0 || stream >= 1<<24 {
		return fmt.Errorf("dropout: stream %d: want 0 <= stream < 2^24", stream)
	}
	return fits("dropout", n)
}

// fits checks that a product of sizes fits int32 indexing (the CUDA
// kernels' limit, kept on the CPU so both accept the same calls).
func fits(what string, ns ...int) error {
	p := 1
	for _, n := range ns {
		if n < 0 {
			return fmt.Errorf("%s: negative size %d", what, n)
		}
		if n != 0 && p > math.MaxInt32/n {
			return fmt.Errorf("%s: sizes %v overflow int32 indexing", what, append([]int(nil), ns...))
		}
		p *= n
	}
	return nil
}
