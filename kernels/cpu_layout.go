package kernels

// Transpose implements Elementwise.
func (c *CPU) Transpose(x, y Buffer, A, M, N, D int) error {
	var a args
	if A < 1 || M < 1 || N < 1 || D < 1 {
		return errorf("transpose: sizes (%d, %d, %d, %d) must be >= 1", A, M, N, D)
	}
	a.check(fits("transpose", A, M, N, D))
	xs := a.need("transpose x", x, A*M*N*D)
	ys := a.need("transpose y", y, A*M*N*D)
	if a.err != nil {
		return a.err
	}
	if &xs[0] == &ys[0] {
		return errorf("transpose: x and y must differ")
	}
	if D == 1 {
		for b := 0; b < A; b++ {
			xb, yb := xs[b*M*N:(b+1)*M*N], ys[b*M*N:(b+1)*M*N]
			for m := 0; m < M; m++ {
				for n, v := range xb[m*N : (m+1)*N] {
					yb[n*M+m] = v
				}
			}
		}
		return nil
	}
	for b := 0; b < A; b++ {
		for m := 0; m < M; m++ {
			for n := 0; n < N; n++ {
				src := ((b*M+m)*N + n) * D
				dst := ((b*N+n)*M + m) * D
				copy(ys[dst:dst+D], xs[src:src+D])
			}
		}
	}
	return nil
}

func triuCheck(op string, G, N int) error {
	if G < 1 || N < 2 {
		return errorf("%s: G %d, N %d: want G >= 1, N >= 2", op, G, N)
	}
	return fits(op, G, N, N)
}

// TriuGather implements Graph.
func (c *CPU) TriuGather(G, N int, S, out Buffer, sym bool) error {
	if err := triuCheck("triu gather", G, N); err != nil {
		return err
	}
	var a args
	P := N * (N - 1) / 2
	ss := a.need("triu gather S", S, G*N*N)
	os := a.need("triu gather out", out, G*P)
	if a.err != nil {
		return a.err
	}
	for g := 0; g < G; g++ {
		m, o := ss[g*N*N:(g+1)*N*N], os[g*P:(g+1)*P]
		p := 0
		for i := 0; i < N; i++ {
			for j := i + 1; j < N; j++ {
				v := m[i*N+j]
				if sym {
					v += m[j*N+i]
				}
				o[p] = v
				p++
			}
		}
	}
	return nil
}

// TriuScatter implements Graph.
func (c *CPU) TriuScatter(G, N int, in, S Buffer, sym bool) error {
	if err := triuCheck("triu scatter", G, N); err != nil {
		return err
	}
	var a args
	P := N * (N - 1) / 2
	is := a.need("triu scatter in", in, G*P)
	ss := a.need("triu scatter S", S, G*N*N)
	if a.err != nil {
		return a.err
	}
	for g := 0; g < G; g++ {
		m, v := ss[g*N*N:(g+1)*N*N], is[g*P:(g+1)*P]
		p := 0
		for i := 0; i < N; i++ {
			m[i*N+i] = 0
			for j := i + 1; j < N; j++ {
				m[i*N+j] = v[p]
				if sym {
					m[j*N+i] = v[p]
				} else {
					m[j*N+i] = 0
				}
				p++
			}
		}
	}
	return nil
}

// DropoutMask implements Elementwise.
func (c *CPU) DropoutMask(mask Buffer, seed uint64, stream int, p float64) error {
	var a args
	m := a.need("dropout mask", mask, -1)
	if a.err != nil {
		return a.err
	}
	if err := CheckDropout(len(m), stream, p); err != nil {
		return errorf("%v", err)
	}
	e := &c.tasks.el
	e.z, e.n, e.seed, e.stream, e.thresh, e.a = m, len(m), seed, uint64(stream)<<40, dropoutThreshold(p), float32(1/(1-p))
	c.elems(e.n, func(c *CPU, _, i int) {
		e := &c.tasks.el
		lo, hi := blk(i, e.n)
		for j := lo; j < hi; j++ {
			if Mix64(e.seed^Mix64(e.stream^uint64(j)))>>11 >= e.thresh {
				e.z[j] = e.a
			} else {
				e.z[j] = 0
			}
		}
	})
	return nil
}
