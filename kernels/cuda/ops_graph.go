package cuda

import "fmt"

// GraphShape is a batch of G graphs of N nodes with F features per node:
// X (G, N, F), adjacency and similarity matrices (G, N, N).
type GraphShape struct{ G, N, F int }

func (s GraphShape) check() error {
	if s.G < 1 || s.N < 1 || s.F < 1 || s.N > 64 {
		return fmt.Errorf("cuda: graph shape %+v: sizes must be >= 1 and nodes <= 64", s)
	}
	return fits32("graph", s.G, s.N, s.N*s.F)
}

// CosineFwd computes S = cosine similarity of every node pair per graph
// with norms n_i = sqrt(|x_i|^2 + eps) (the model uses eps = 1e-6); nrm
// (G, N) is saved for the backward.
func (d *Device) CosineFwd(s GraphShape, X, S, nrm Buffer, eps float32) error {
	if err := s.check(); err != nil {
		return err
	}
	for _, c := range []error{need("cosine X", X, s.G*s.N*s.F), need("cosine S", S, s.G*s.N*s.N), need("cosine norms", nrm, s.G*s.N)} {
		if c != nil {
			return c
		}
	}
	sh := 4 * s.N * s.F
	if sh > maxShared {
		return fmt.Errorf("cuda: cosine: %d nodes x %d features exceed shared memory", s.N, s.F)
	}
	return d.launch(Launch{Kernel: "cosine_fwd", Grid: Dim3{s.G, 1, 1}, Block: Dim3{128, 1, 1}, Shared: sh,
		Args: []Arg{ptr(X), ptr(S), ptr(nrm), i32(s.G), i32(s.N), i32(s.F), f32(eps)}})
}

// CosineBwd computes gX of CosineFwd.
func (d *Device) CosineBwd(s GraphShape, X, nrm, gS, gX Buffer, eps float32) error {
	if err := s.check(); err != nil {
		return err
	}
	for _, c := range []error{need("cosine X", X, s.G*s.N*s.F), need("cosine norms", nrm, s.G*s.N),
		need("cosine gS", gS, s.G*s.N*s.N), need("cosine gX", gX, s.G*s.N*s.F)} {
		if c != nil {
			return c
		}
	}
	sh := 4 * (s.N*s.F + s.N*s.N)
	if sh > maxShared {
		return fmt.Errorf("cuda: cosine: %d nodes x %d features exceed shared memory", s.N, s.F)
	}
	return d.launch(Launch{Kernel: "cosine_bwd", Grid: Dim3{s.G, 1, 1}, Block: Dim3{128, 1, 1}, Shared: sh,
		Args: []Arg{ptr(X), ptr(nrm), ptr(gS), ptr(gX), i32(s.G), i32(s.N), i32(s.F), f32(eps)}})
}

// TopKSym keeps the k largest entries of every row of S (the diagonal only
// when self), symmetrised by union: A = S * keep, keep in {0, 1}. The
// backward is Mul(gA, keep, gS).
func (d *Device) TopKSym(s GraphShape, S, A, keep Buffer, k int, self bool) error {
	if err := s.check(); err != nil {
		return err
	}
	maxK := s.N - 1
	if self {
		maxK = s.N
	}
	if k < 0 || k > maxK {
		return fmt.Errorf("cuda: top-k: k = %d, want 0..%d for %d nodes (self loops %v)", k, maxK, s.N, self)
	}
	nn := s.G * s.N * s.N
	for _, c := range []error{need("top-k S", S, nn), need("top-k A", A, nn), need("top-k keep", keep, nn)} {
		if c != nil {
			return c
		}
	}
	return d.launch(Launch{Kernel: "topk_sym", Grid: Dim3{s.G, 1, 1}, Block: Dim3{64, 1, 1}, Shared: (s.N*s.N + 3) &^ 3,
		Args: []Arg{ptr(S), ptr(A), ptr(keep), i32(s.G), i32(s.N), i32(k), i32(b2i(self))}})
}

// SSG is the configuration of SSGConv: out = Alpha x + (1-Alpha)/K sum_{k=1..K} Ah^k x
// with Ah = D^-1/2 (A + I) D^-1/2 (SelfLoops adds I).
type SSG struct {
	K         int
	Alpha     float32
	SelfLoops bool
}

func (c SSG) check() error {
	if c.K < 1 || c.K > 16 {
		return fmt.Errorf("cuda: ssgconv: K = %d (1..16)", c.K)
	}
	return nil
}

// ssgTile picks the feature tile so the kernel's shared memory fits.
func ssgTile(s GraphShape, fixed, perFT int) (int, error) {
	ft := s.F
	if ft > 64 {
		ft = 64
	}
	for ft > 1 && 4*(fixed+perFT*ft) > maxShared {
		ft /= 2
	}
	if 4*(fixed+perFT*ft) > maxShared {
		return 0, fmt.Errorf("cuda: ssgconv: graph of %d nodes exceeds shared memory", s.N)
	}
	return ft, nil
}

// SSGConvFwd computes Out from adjacency A and features X.
func (d *Device) SSGConvFwd(s GraphShape, c SSG, A, X, Out Buffer) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	for _, e := range []error{need("ssgconv A", A, s.G*s.N*s.N), need("ssgconv X", X, s.G*s.N*s.F), need("ssgconv out", Out, s.G*s.N*s.F)} {
		if e != nil {
			return e
		}
	}
	fixed := s.N*s.N + s.N
	ft, err := ssgTile(s, fixed, 3*s.N)
	if err != nil {
		return err
	}
	if cdiv(s.F, ft) > maxGridYZ {
		return fmt.Errorf("cuda: ssgconv: %d features", s.F)
	}
	return d.launch(Launch{Kernel: "ssgconv_fwd", Grid: Dim3{s.G, cdiv(s.F, ft), 1}, Block: Dim3{128, 1, 1}, Shared: 4 * (fixed + 3*s.N*ft),
		Args: []Arg{ptr(A), ptr(X), ptr(Out), i32(s.G), i32(s.N), i32(s.F), i32(c.K), f32(c.Alpha), i32(b2i(c.SelfLoops)), i32(ft)}})
}

// SSGConvBwd computes gX (overwritten) and gA (overwritten) of SSGConvFwd.
func (d *Device) SSGConvBwd(s GraphShape, c SSG, A, X, gOut, gX, gA Buffer) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	for _, e := range []error{need("ssgconv A", A, s.G*s.N*s.N), need("ssgconv X", X, s.G*s.N*s.F), need("ssgconv gOut", gOut, s.G*s.N*s.F),
		need("ssgconv gX", gX, s.G*s.N*s.F), need("ssgconv gA", gA, s.G*s.N*s.N)} {
		if e != nil {
			return e
		}
	}
	fixed := 2*s.N*s.N + s.N
	ft, err := ssgTile(s, fixed, (c.K+2)*s.N)
	if err != nil {
		return err
	}
	if err := d.Zero(gA); err != nil {
		return err
	}
	return d.launch(Launch{Kernel: "ssgconv_bwd", Grid: Dim3{s.G, cdiv(s.F, ft), 1}, Block: Dim3{128, 1, 1}, Shared: 4 * (fixed + (c.K+2)*s.N*ft),
		Args: []Arg{ptr(A), ptr(X), ptr(gOut), ptr(gX), ptr(gA), i32(s.G), i32(s.N), i32(s.F), i32(c.K), f32(c.Alpha), i32(b2i(c.SelfLoops)), i32(ft)}})
}

func triuCheck(op string, G, N int) error {
	if G < 1 || N < 2 {
		return fmt.Errorf("cuda: %s: G %d, N %d: want G >= 1, N >= 2", op, G, N)
	}
	return fits32(op, G, N, N)
}

// TriuGather reads the strict upper triangle of every N×N matrix of S
// (G, N, N) into out (G, N(N−1)/2), adding the lower triangle with sym.
func (d *Device) TriuGather(G, N int, S, out Buffer, sym bool) error {
	if err := triuCheck("triu gather", G, N); err != nil {
		return err
	}
	for _, c := range []error{need("triu gather S", S, G*N*N), need("triu gather out", out, G*N*(N-1)/2)} {
		if c != nil {
			return c
		}
	}
	g, b := grid1(G * N * N)
	return d.launch(Launch{Kernel: "triu_gather", Grid: g, Block: b, Args: []Arg{ptr(S), ptr(out), i32(G), i32(N), i32(b2i(sym))}})
}

// TriuScatter writes in (G, N(N−1)/2) into the strict upper triangle of S
// (G, N, N) (mirrored with sym), zeroing every other element.
func (d *Device) TriuScatter(G, N int, in, S Buffer, sym bool) error {
	if err := triuCheck("triu scatter", G, N); err != nil {
		return err
	}
	for _, c := range []error{need("triu scatter in", in, G*N*(N-1)/2), need("triu scatter S", S, G*N*N)} {
		if c != nil {
			return c
		}
	}
	g, b := grid1(G * N * N)
	return d.launch(Launch{Kernel: "triu_scatter", Grid: g, Block: b, Args: []Arg{ptr(in), ptr(S), i32(G), i32(N), i32(b2i(sym))}})
}
