package kernels

import "math"

type graphArgs struct {
	s                          GraphShape
	c                          SSG
	X, S, nrm, gS, gX, A, keep []float32
	out, gOut, gA              []float32
	eps                        float32
	k                          int
	self                       bool
}

// CosineFwd implements Graph.
func (c *CPU) CosineFwd(s GraphShape, X, S, nrm Buffer, eps float32) error {
	if err := s.Check(); err != nil {
		return err
	}
	var a args
	k := &c.tasks.graph
	*k = graphArgs{s: s, eps: eps, X: a.need("cosine X", X, s.G*s.N*s.F), S: a.need("cosine S", S, s.G*s.N*s.N),
		nrm: a.need("cosine norms", nrm, s.G*s.N)}
	if a.err != nil {
		*k = graphArgs{}
		return a.err
	}
	c.do(s.G, func(c *CPU, _, g int) {
		k := &c.tasks.graph
		N, F := k.s.N, k.s.F
		X := k.X[g*N*F : (g+1)*N*F]
		nrm := k.nrm[g*N : (g+1)*N]
		for i := 0; i < N; i++ {
			var ss float64
			for _, v := range X[i*F : (i+1)*F] {
				ss += float64(v) * float64(v)
			}
			nrm[i] = float32(math.Sqrt(ss + float64(k.eps)))
		}
		S := k.S[g*N*N : (g+1)*N*N]
		for i := 0; i < N; i++ {
			xi := X[i*F : (i+1)*F]
			for j := i; j < N; j++ {
				xj := X[j*F : (j+1)*F]
				var d float32
				for f, v := range xi {
					d += v * xj[f]
				}
				v := d / (nrm[i] * nrm[j])
				S[i*N+j], S[j*N+i] = v, v
			}
		}
	})
	*k = graphArgs{}
	return nil
}

// CosineBwd implements Graph.
func (c *CPU) CosineBwd(s GraphShape, X, nrm, gS, gX Buffer, eps float32) error {
	if err := s.Check(); err != nil {
		return err
	}
	var a args
	k := &c.tasks.graph
	*k = graphArgs{s: s, eps: eps, X: a.need("cosine X", X, s.G*s.N*s.F), nrm: a.need("cosine norms", nrm, s.G*s.N),
		gS: a.need("cosine gS", gS, s.G*s.N*s.N), gX: a.need("cosine gX", gX, s.G*s.N*s.F)}
	if a.err != nil {
		*k = graphArgs{}
		return a.err
	}
	c.do(s.G, func(c *CPU, w, g int) {
		k := &c.tasks.graph
		N, F := k.s.N, k.s.F
		X := k.X[g*N*F : (g+1)*N*F]
		nrm := k.nrm[g*N : (g+1)*N]
		gS := k.gS[g*N*N : (g+1)*N*N]
		gX := k.gX[g*N*F : (g+1)*N*F]
		gxh := c.work(w, F)
		for i := 0; i < N; i++ {
			clear(gxh)
			for j := 0; j < N; j++ {
				cf := (gS[i*N+j] + gS[j*N+i]) / nrm[j]
				for f, v := range X[j*F : (j+1)*F] {
					gxh[f] += cf * v
				}
			}
			xi := X[i*F : (i+1)*F]
			ni := nrm[i]
			var d float32
			for f, v := range xi {
				d += v * gxh[f]
			}
			d /= ni * ni
			for f, v := range xi {
				gX[i*F+f] = (gxh[f] - v*d) / ni
			}
		}
	})
	*k = graphArgs{}
	return nil
}

// TopKSym implements Graph.
func (c *CPU) TopKSym(s GraphShape, S, A, keep Buffer, k int, self bool) error {
	if err := s.Check(); err != nil {
		return err
	}
	avail := s.N - 1
	if self {
		avail = s.N
	}
	if k < 0 || k > avail {
		return errorf("top-k: k = %d for graphs of %d nodes (want 0..%d%s)", k, s.N, avail,
			map[bool]string{true: "", false: ", self loops excluded"}[self])
	}
	nn := s.G * s.N * s.N
	var a args
	t := &c.tasks.graph
	*t = graphArgs{s: s, k: k, self: self, S: a.need("top-k S", S, nn), A: a.need("top-k A", A, nn), keep: a.need("top-k keep", keep, nn)}
	if a.err != nil {
		*t = graphArgs{}
		return a.err
	}
	c.do(s.G, func(c *CPU, _, g int) {
		t := &c.tasks.graph
		N := t.s.N
		S := t.S[g*N*N : (g+1)*N*N]
		keep := t.keep[g*N*N : (g+1)*N*N]
		A := t.A[g*N*N : (g+1)*N*N]
		clear(keep)
		for i := 0; i < N; i++ {
			row := S[i*N : (i+1)*N]
			for r := 0; r < t.k; r++ {
				best := -1
				for j, v := range row {
					if (j == i && !t.self) || keep[i*N+j] == 1 {
						continue
					}
					if best < 0 || v > row[best] || (row[best] != row[best] && v == v) {
						best = j
					}
				}
				keep[i*N+best] = 1
			}
		}
		for i := 0; i < N; i++ {
			for j := i + 1; j < N; j++ {
				if keep[i*N+j] == 1 || keep[j*N+i] == 1 {
					keep[i*N+j], keep[j*N+i] = 1, 1
				}
			}
		}
		for i, m := range keep {
			A[i] = S[i] * m
		}
	})
	*t = graphArgs{}
	return nil
}

// normAdj writes Â (N×N) and r (N) of one graph's adjacency A.
func normAdj(A, Ah, r []float32, N int, self bool) {
	for i := 0; i < N; i++ {
		var d float64
		for j := 0; j < N; j++ {
			v := A[i*N+j]
			if self && i == j {
				v++
			}
			d += float64(v)
		}
		if d > 0 {
			r[i] = float32(1 / math.Sqrt(d))
		} else {
			r[i] = 0
		}
	}
	for i := 0; i < N; i++ {
		for j := 0; j < N; j++ {
			v := A[i*N+j]
			if self && i == j {
				v++
			}
			Ah[i*N+j] = r[i] * v * r[j]
		}
	}
}

// SSGConvFwd implements Graph.
func (c *CPU) SSGConvFwd(s GraphShape, cfg SSG, A, X, Out Buffer) error {
	if err := s.Check(); err != nil {
		return err
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	var a args
	k := &c.tasks.graph
	*k = graphArgs{s: s, c: cfg, A: a.need("ssgconv A", A, s.G*s.N*s.N), X: a.need("ssgconv X", X, s.G*s.N*s.F),
		out: a.need("ssgconv out", Out, s.G*s.N*s.F)}
	if a.err != nil {
		*k = graphArgs{}
		return a.err
	}
	c.do(s.G, func(c *CPU, w, g int) {
		k := &c.tasks.graph
		N, F := k.s.N, k.s.F
		buf := c.work(w, N*N+N+2*N*F)
		Ah, r, h, hn := buf[:N*N], buf[N*N:N*N+N], buf[N*N+N:N*N+N+N*F], buf[N*N+N+N*F:]
		normAdj(k.A[g*N*N:(g+1)*N*N], Ah, r, N, k.c.SelfLoops)
		X := k.X[g*N*F : (g+1)*N*F]
		out := k.out[g*N*F : (g+1)*N*F]
		copy(h, X)
		for i, v := range X {
			out[i] = k.c.Alpha * v
		}
		cf := (1 - k.c.Alpha) / float32(k.c.K)
		for step := 0; step < k.c.K; step++ {
			matmulNN(hn, Ah, h, N, F, false)
			for i, v := range hn {
				out[i] += cf * v
			}
			h, hn = hn, h
		}
	})
	*k = graphArgs{}
	return nil
}

// matmulNN sets dst (N×F) = M·src (trans: Mᵀ·src) for M (N×N).
func matmulNN(dst, M, src []float32, N, F int, trans bool) {
	clear(dst)
	for i := 0; i < N; i++ {
		d := dst[i*F : (i+1)*F]
		for j := 0; j < N; j++ {
			m := M[i*N+j]
			if trans {
				m = M[j*N+i]
			}
			if m == 0 {
				continue
			}
			for f, v := range src[j*F : (j+1)*F] {
				d[f] += m * v
			}
		}
	}
}

// SSGConvBwd implements Graph.
func (c *CPU) SSGConvBwd(s GraphShape, cfg SSG, A, X, gOut, gX, gA Buffer) error {
	if err := s.Check(); err != nil {
		return err
	}
	if err := cfg.Check(); err != nil {
		return err
	}
	var a args
	k := &c.tasks.graph
	*k = graphArgs{s: s, c: cfg, A: a.need("ssgconv A", A, s.G*s.N*s.N), X: a.need("ssgconv X", X, s.G*s.N*s.F),
		gOut: a.need("ssgconv gOut", gOut, s.G*s.N*s.F), gX: a.need("ssgconv gX", gX, s.G*s.N*s.F), gA: a.need("ssgconv gA", gA, s.G*s.N*s.N)}
	if a.err != nil {
		*k = graphArgs{}
		return a.err
	}
	c.do(s.G, ssgBwdItem)
	*k = graphArgs{}
	return nil
}

func ssgBwdItem(c *CPU, w, g int) {
	k := &c.tasks.graph
	N, F, K := k.s.N, k.s.F, k.c.K
	buf := c.work(w, 2*N*N+N+(K+2)*N*F)
	Ah, gAh, r := buf[:N*N], buf[N*N:2*N*N], buf[2*N*N:2*N*N+N]
	hs := buf[2*N*N+N : 2*N*N+N+(K+1)*N*F] // h_0..h_K
	gh := buf[2*N*N+N+(K+1)*N*F:]
	A := k.A[g*N*N : (g+1)*N*N]
	normAdj(A, Ah, r, N, k.c.SelfLoops)
	copy(hs[:N*F], k.X[g*N*F:(g+1)*N*F])
	for step := 1; step <= K; step++ {
		matmulNN(hs[step*N*F:(step+1)*N*F], Ah, hs[(step-1)*N*F:step*N*F], N, F, false)
	}
	gout := k.gOut[g*N*F : (g+1)*N*F]
	cf := (1 - k.c.Alpha) / float32(K)
	for i, v := range gout {
		gh[i] = cf * v
	}
	clear(gAh)
	gx := k.gX[g*N*F : (g+1)*N*F]
	for step := K; step >= 1; step-- {
		hp := hs[(step-1)*N*F : step*N*F]
		for i := 0; i < N; i++ {
			gi := gh[i*F : (i+1)*F]
			for j := 0; j < N; j++ {
				var d float32
				for f, v := range hp[j*F : (j+1)*F] {
					d += gi[f] * v
				}
				gAh[i*N+j] += d
			}
		}
		// gh ← Âᵀ·gh (+ c·g unless this was the first step).
		matmulNN(gx, Ah, gh, N, F, true)
		if step > 1 {
			for i, v := range gout {
				gh[i] = gx[i] + cf*v
			}
		}
	}
	for i, v := range gout {
		gx[i] += k.c.Alpha * v
	}
	// Through Â = r_i·At_ij·r_j, r = deg^−½, deg_i = Σ_j At_ij.
	gA := k.gA[g*N*N : (g+1)*N*N]
	gr := gh[:N]
	clear(gr)
	for i := 0; i < N; i++ {
		for j := 0; j < N; j++ {
			at := A[i*N+j]
			if k.c.SelfLoops && i == j {
				at++
			}
			v := gAh[i*N+j] * at
			gr[i] += v * r[j]
			gr[j] += v * r[i]
		}
	}
	for i := 0; i < N; i++ {
		gdeg := -0.5 * r[i] * r[i] * r[i] * gr[i]
		for j := 0; j < N; j++ {
			gA[i*N+j] = gAh[i*N+j]*r[i]*r[j] + gdeg
		}
	}
}
