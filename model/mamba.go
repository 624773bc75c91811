package model

import (
	"math"
)

// scanChunk is the number of steps between stored scan states; the
// backward pass recomputes the states inside a chunk from its start.
const scanChunk = 64

// mamba2 is one Mamba-2 block (mamba_ssm's Mamba2Simple with ngroups = 1):
// in_proj → causal depthwise conv + SiLU on (x, B, C) → selective scan with
// D skip → gated RMSNorm with z → out_proj.
type mamba2 struct {
	dm                                   mambaDims
	inProj, convW, convB, dtBias, aLog   *Param
	dSkip, normW, outProj                *Param
	n, l                                 int
	in                                   []float32 // (R, dModel), not owned
	zx, pre, xbc, dt, y, g, rinv, yn     []float32
	sgPre, sgZ, decay                    []float32 // σ(conv pre), σ(z), exp(dt·A)
	ckpt                                 []float32 // (n, chunks, H·P·S)
	dzx, dxbc, dyn, dy, dseqA, dseqD, dB []float32
	sb                                   slotBufs
	recomp                               [][]float32
}

func newMamba2(ps *paramSet, prefix string, dm mambaDims) *mamba2 {
	m := &mamba2{dm: dm}
	b := 1 / math.Sqrt(float64(dm.dModel))
	m.inProj = ps.uniform(prefix+".in_proj.weight", []int{dm.projDim(), dm.dModel}, b, true)
	cb := 1 / math.Sqrt(float64(dm.dConv))
	m.convW = ps.uniform(prefix+".conv1d.weight", []int{dm.convDim(), dm.dConv}, cb, true)
	m.convB = ps.uniform(prefix+".conv1d.bias", []int{dm.convDim()}, cb, false)
	m.dtBias = ps.add(prefix+".dt_bias", []int{dm.nHeads}, false)
	m.aLog = ps.add(prefix+".A_log", []int{dm.nHeads}, false)
	for h := 0; h < dm.nHeads; h++ {
		// dt log-uniform in [1e-3, 1e-1]; dt_bias = softplus⁻¹(dt).
		dt := math.Exp(ps.rng.Float64()*(math.Log(0.1)-math.Log(0.001)) + math.Log(0.001))
		m.dtBias.W[h] = float32(dt + math.Log(-math.Expm1(-dt)))
		m.aLog.W[h] = float32(math.Log(1 + 15*ps.rng.Float64()))
	}
	m.dSkip = ps.fill(prefix+".D", []int{dm.nHeads}, 1, false)
	m.normW = ps.fill(prefix+".norm.weight", []int{dm.dInner}, 1, false)
	m.outProj = ps.uniform(prefix+".out_proj.weight", []int{dm.dModel, dm.dInner}, 1/math.Sqrt(float64(dm.dInner)), true)
	return m
}

func (m *mamba2) alloc(n, l int) {
	m.n, m.l = n, l
	d := m.dm
	r := n * l
	m.zx = grow(m.zx, r*d.projDim())
	m.pre = grow(m.pre, r*d.convDim())
	m.xbc = grow(m.xbc, r*d.convDim())
	m.dt = grow(m.dt, r*d.nHeads)
	m.decay = grow(m.decay, r*d.nHeads)
	m.sgPre = grow(m.sgPre, r*d.convDim())
	m.sgZ = grow(m.sgZ, r*d.dInner)
	m.y = grow(m.y, r*d.dInner)
	m.g = grow(m.g, r*d.dInner)
	m.rinv = grow(m.rinv, r)
	m.yn = grow(m.yn, r*d.dInner)
	chunks := (l + scanChunk - 1) / scanChunk
	m.ckpt = grow(m.ckpt, n*chunks*d.dInner*d.dState)
}

// forward maps in (n sequences × l steps × dModel) to out (same shape).
func (m *mamba2) forward(out, in []float32, n, l int) {
	m.alloc(n, l)
	m.in = in
	d := m.dm
	r := n * l
	pd, cd, di, H, P, S := d.projDim(), d.convDim(), d.dInner, d.nHeads, d.headDim, d.dState
	linearFwd(m.zx, in, m.inProj.W, nil, r, d.dModel, pd)
	K := d.dConv
	cw, cbias := m.convW.W, m.convB.W
	dtb, alog, dsk := m.dtBias.W, m.aLog.W, m.dSkip.W
	chunks := (l + scanChunk - 1) / scanChunk
	parFor(n, func(lo, hi int) {
		state := make([]float32, H*P*S)
		for s := lo; s < hi; s++ {
			// causal depthwise conv + SiLU on the xBC part.
			for t := 0; t < l; t++ {
				row := (s*l + t)
				pr := m.pre[row*cd : (row+1)*cd]
				xr := m.xbc[row*cd : (row+1)*cd]
				for c := 0; c < cd; c++ {
					acc := cbias[c]
					for k := 0; k < K; k++ {
						tt := t - (K - 1) + k
						if tt >= 0 {
							acc += cw[c*K+k] * m.zx[(s*l+tt)*pd+di+c]
						}
					}
					pr[c] = acc
					sg := sigmoid(acc)
					m.sgPre[row*cd+c] = sg
					xr[c] = acc * sg
				}
				dtr := m.zx[row*pd+di+cd : row*pd+pd]
				dto := m.dt[row*H : (row+1)*H]
				for h := 0; h < H; h++ {
					dto[h] = softplus(dtr[h] + dtb[h])
					m.decay[row*H+h] = exp32(-dto[h] * exp32(alog[h]))
				}
			}
			// selective scan.
			clear(state)
			for t := 0; t < l; t++ {
				if t%scanChunk == 0 {
					copy(m.ckpt[(s*chunks+t/scanChunk)*H*P*S:], state)
				}
				row := s*l + t
				xr := m.xbc[row*cd : (row+1)*cd]
				x, B, C := xr[:di], xr[di:di+S], xr[di+S:di+2*S]
				yr := m.y[row*di : (row+1)*di]
				for h := 0; h < H; h++ {
					dt := m.dt[row*H+h]
					a := m.decay[row*H+h]
					for p := 0; p < P; p++ {
						xv := x[h*P+p]
						coef := dt * xv
						st := state[(h*P+p)*S : (h*P+p+1)*S]
						var acc float32
						for j := 0; j < S; j++ {
							v := a*st[j] + coef*B[j]
							st[j] = v
							acc += C[j] * v
						}
						yr[h*P+p] = acc + dsk[h]*xv
					}
				}
			}
			// gated RMSNorm.
			nw := m.normW.W
			for t := 0; t < l; t++ {
				row := s*l + t
				yr := m.y[row*di : (row+1)*di]
				z := m.zx[row*pd : row*pd+di]
				gr := m.g[row*di : (row+1)*di]
				var ss float64
				sz := m.sgZ[row*di : (row+1)*di]
				for i := 0; i < di; i++ {
					sz[i] = sigmoid(z[i])
					gv := yr[i] * z[i] * sz[i]
					gr[i] = gv
					ss += float64(gv * gv)
				}
				ri := float32(1 / math.Sqrt(ss/float64(di)+1e-5))
				m.rinv[row] = ri
				yo := m.yn[row*di : (row+1)*di]
				for i := 0; i < di; i++ {
					yo[i] = gr[i] * ri * nw[i]
				}
			}
		}
	})
	linearFwd(out, m.yn, m.outProj.W, nil, r, di, d.dModel)
}

// backward sets din from dout (both n × l × dModel) and accumulates the
// parameter gradients.
func (m *mamba2) backward(din, dout []float32) {
	d := m.dm
	n, l := m.n, m.l
	r := n * l
	pd, cd, di, H, P, S, K := d.projDim(), d.convDim(), d.dInner, d.nHeads, d.headDim, d.dState, d.dConv
	m.dyn = grow(m.dyn, r*di)
	linearBwd(m.dyn, dout, m.yn, m.outProj.W, m.outProj.G, nil, r, di, d.dModel, false)
	m.dzx = grow(m.dzx, r*pd)
	m.dxbc = grow(m.dxbc, r*cd)
	m.dy = grow(m.dy, r*di)
	m.dseqA = grow(m.dseqA, n*2*H)
	clear(m.dxbc)
	chunks := (l + scanChunk - 1) / scanChunk
	alog, dsk, nw := m.aLog.W, m.dSkip.W, m.normW.W
	cw := m.convW.W
	gbufs := m.sb.get(n, di+cd*K+cd+H)
	for len(m.recomp) < nSlots(n) {
		m.recomp = append(m.recomp, nil)
	}
	slotFor(n, func(slot, s int) {
		acc := gbufs[slot]
		dnw, dcw, dcb, ddtb := acc[:di], acc[di:di+cd*K], acc[di+cd*K:di+cd*K+cd], acc[di+cd*K+cd:]
		// gated RMSNorm backward → dy, dz.
		for t := 0; t < l; t++ {
			row := s*l + t
			gr := m.g[row*di : (row+1)*di]
			dyo := m.dyn[row*di : (row+1)*di]
			ri := m.rinv[row]
			var dot float64
			for i := 0; i < di; i++ {
				dnw[i] += dyo[i] * gr[i] * ri
				dot += float64(nw[i] * dyo[i] * gr[i])
			}
			c := float32(dot) * ri * ri * ri / float32(di)
			yr := m.y[row*di : (row+1)*di]
			z := m.zx[row*pd : row*pd+di]
			dz := m.dzx[row*pd : row*pd+di]
			dyr := m.dy[row*di : (row+1)*di]
			for i := 0; i < di; i++ {
				dg := ri*nw[i]*dyo[i] - gr[i]*c
				sg := m.sgZ[row*di+i]
				dyr[i] = dg * z[i] * sg
				dz[i] = dg * yr[i] * sg * (1 + z[i]*(1-sg))
			}
		}
		// scan backward, chunk by chunk from the end.
		buf := grow(m.recomp[slot], (scanChunk+1)*H*P*S)
		m.recomp[slot] = buf
		dstate := make([]float32, H*P*S)
		dA := m.dseqA[s*2*H : s*2*H+H]
		dD := m.dseqA[s*2*H+H : (s+1)*2*H]
		clear(dA)
		clear(dD)
		hps := H * P * S
		for ch := chunks - 1; ch >= 0; ch-- {
			t0, t1 := ch*scanChunk, min((ch+1)*scanChunk, l)
			copy(buf[:hps], m.ckpt[(s*chunks+ch)*hps:(s*chunks+ch+1)*hps])
			for t := t0; t < t1; t++ {
				row := s*l + t
				xr := m.xbc[row*cd : (row+1)*cd]
				x, B := xr[:di], xr[di:di+S]
				prev := buf[(t-t0)*hps : (t-t0+1)*hps]
				cur := buf[(t-t0+1)*hps : (t-t0+2)*hps]
				for h := 0; h < H; h++ {
					dt := m.dt[row*H+h]
					a := m.decay[row*H+h]
					for p := 0; p < P; p++ {
						coef := dt * x[h*P+p]
						o := (h*P + p) * S
						for j := 0; j < S; j++ {
							cur[o+j] = a*prev[o+j] + coef*B[j]
						}
					}
				}
			}
			for t := t1 - 1; t >= t0; t-- {
				row := s*l + t
				xr := m.xbc[row*cd : (row+1)*cd]
				x, B, C := xr[:di], xr[di:di+S], xr[di+S:di+2*S]
				dxr := m.dxbc[row*cd : (row+1)*cd]
				dx, dB, dC := dxr[:di], dxr[di:di+S], dxr[di+S:di+2*S]
				prev := buf[(t-t0)*hps : (t-t0+1)*hps]
				cur := buf[(t-t0+1)*hps : (t-t0+2)*hps]
				dyr := m.dy[row*di : (row+1)*di]
				ddtr := m.dzx[row*pd+di+cd : row*pd+pd]
				for h := 0; h < H; h++ {
					dt := m.dt[row*H+h]
					A := -exp32(alog[h])
					a := m.decay[row*H+h]
					var da, ddt float32
					for p := 0; p < P; p++ {
						xv := x[h*P+p]
						dyv := dyr[h*P+p]
						dD[h] += dyv * xv
						dxv := dsk[h] * dyv
						o := (h*P + p) * S
						var dxs, dbx float32
						for j := 0; j < S; j++ {
							ds := dstate[o+j] + dyv*C[j]
							dC[j] += dyv * cur[o+j]
							da += ds * prev[o+j]
							dB[j] += ds * dt * xv
							dxs += ds * B[j]
							dstate[o+j] = a * ds
						}
						dbx = dxs
						dx[h*P+p] += dxv + dt*dxs
						ddt += dbx * xv
					}
					ddt += da * a * A
					dA[h] += da * a * dt
					// dt = softplus(raw + bias): d raw = ddt·σ(raw + bias).
					sg := 1 - exp32(-dt) // σ(u) = 1 − exp(−softplus(u))
					ddtr[h] = ddt * sg
					ddtb[h] += ddt * sg
				}
			}
		}
		// conv + SiLU backward into dzx's xBC part.
		for t := 0; t < l; t++ {
			row := s*l + t
			pr := m.pre[row*cd : (row+1)*cd]
			dxr := m.dxbc[row*cd : (row+1)*cd]
			sp := m.sgPre[row*cd : (row+1)*cd]
			for c := 0; c < cd; c++ {
				sg := sp[c]
				dxr[c] *= sg * (1 + pr[c]*(1-sg))
			}
		}
		for t := 0; t < l; t++ {
			row := s*l + t
			dst := m.dzx[row*pd+di : row*pd+di+cd]
			clear(dst)
		}
		for t := 0; t < l; t++ {
			row := s*l + t
			dp := m.dxbc[row*cd : (row+1)*cd]
			for c := 0; c < cd; c++ {
				dcb[c] += dp[c]
				for k := 0; k < K; k++ {
					tt := t - (K - 1) + k
					if tt >= 0 {
						dcw[c*K+k] += dp[c] * m.zx[(s*l+tt)*pd+di+c]
						m.dzx[(s*l+tt)*pd+di+c] += cw[c*K+k] * dp[c]
					}
				}
			}
		}
	})
	for _, b := range gbufs {
		add(m.normW.G, b[:di])
		add(m.convW.G, b[di:di+cd*K])
		add(m.convB.G, b[di+cd*K:di+cd*K+cd])
		add(m.dtBias.G, b[di+cd*K+cd:])
	}
	for s := 0; s < n; s++ {
		for h := 0; h < H; h++ {
			// A = −exp(A_log): dA_log = dA · A.
			m.aLog.G[h] += m.dseqA[s*2*H+h] * -exp32(alog[h])
			m.dSkip.G[h] += m.dseqA[s*2*H+H+h]
		}
	}
	linearBwd(din, m.dzx, m.in, m.inProj.W, m.inProj.G, nil, r, d.dModel, pd, false)
}

func add(dst, src []float32) {
	for i, v := range src {
		dst[i] += v
	}
}

// biMamba is one bidirectional layer: forward and time-reversed Mamba-2,
// concatenated, projected back to dModel, residual, LayerNorm.
type biMamba struct {
	fwd, bwd                    *mamba2
	proj, projB, lnG, lnB       *Param
	dModel, n, l                int
	in                          []float32
	xr, yf, ybr, cat, res, mean []float32
	rstd, dcat, dres, dyf, dybr []float32
	dxr                         []float32
	sb                          slotBufs
}

func newBiMamba(ps *paramSet, prefix string, dm mambaDims) *biMamba {
	b := &biMamba{dModel: dm.dModel}
	b.fwd = newMamba2(ps, prefix+".fwd", dm)
	b.bwd = newMamba2(ps, prefix+".bwd", dm)
	bound := 1 / math.Sqrt(float64(2*dm.dModel))
	b.proj = ps.uniform(prefix+".proj.weight", []int{dm.dModel, 2 * dm.dModel}, bound, true)
	b.projB = ps.uniform(prefix+".proj.bias", []int{dm.dModel}, bound, false)
	b.lnG = ps.fill(prefix+".norm.weight", []int{dm.dModel}, 1, false)
	b.lnB = ps.fill(prefix+".norm.bias", []int{dm.dModel}, 0, false)
	return b
}

// reverseSeq writes src with each sequence's steps in reverse order.
func reverseSeq(dst, src []float32, n, l, d int) {
	parFor(n, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			for t := 0; t < l; t++ {
				copy(dst[(s*l+t)*d:(s*l+t+1)*d], src[(s*l+l-1-t)*d:(s*l+l-t)*d])
			}
		}
	})
}

func (b *biMamba) forward(out, in []float32, n, l int) {
	d := b.dModel
	r := n * l
	b.n, b.l, b.in = n, l, in
	b.xr = grow(b.xr, r*d)
	b.yf = grow(b.yf, r*d)
	b.ybr = grow(b.ybr, r*d)
	b.cat = grow(b.cat, r*2*d)
	b.res = grow(b.res, r*d)
	b.mean = grow(b.mean, r)
	b.rstd = grow(b.rstd, r)
	reverseSeq(b.xr, in, n, l, d)
	b.fwd.forward(b.yf, in, n, l)
	b.bwd.forward(b.ybr, b.xr, n, l)
	parFor(n, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			for t := 0; t < l; t++ {
				row := s*l + t
				copy(b.cat[row*2*d:], b.yf[row*d:(row+1)*d])
				copy(b.cat[row*2*d+d:], b.ybr[(s*l+l-1-t)*d:(s*l+l-t)*d])
			}
		}
	})
	linearFwd(b.res, b.cat, b.proj.W, b.projB.W, r, 2*d, d)
	for i := range b.res {
		b.res[i] += in[i]
	}
	layerNormFwd(out, b.res, b.lnG.W, b.lnB.W, b.mean, b.rstd, r, d)
}

func (b *biMamba) backward(din, dout []float32) {
	d := b.dModel
	n, l := b.n, b.l
	r := n * l
	b.dres = grow(b.dres, r*d)
	b.dcat = grow(b.dcat, r*2*d)
	b.dyf = grow(b.dyf, r*d)
	b.dybr = grow(b.dybr, r*d)
	b.dxr = grow(b.dxr, r*d)
	layerNormBwd(b.dres, dout, b.res, b.lnG.W, b.mean, b.rstd, b.lnG.G, b.lnB.G, r, d, false, &b.sb)
	linearBwd(b.dcat, b.dres, b.cat, b.proj.W, b.proj.G, b.projB.G, r, 2*d, d, false)
	parFor(n, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			for t := 0; t < l; t++ {
				row := s*l + t
				copy(b.dyf[row*d:(row+1)*d], b.dcat[row*2*d:row*2*d+d])
				copy(b.dybr[(s*l+l-1-t)*d:(s*l+l-t)*d], b.dcat[row*2*d+d:(row+1)*2*d])
			}
		}
	})
	b.fwd.backward(din, b.dyf)
	b.bwd.backward(b.dxr, b.dybr)
	parFor(n, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			for t := 0; t < l; t++ {
				o := din[(s*l+t)*d : (s*l+t+1)*d]
				rv := b.dxr[(s*l+l-1-t)*d : (s*l+l-t)*d]
				res := b.dres[(s*l+t)*d : (s*l+t+1)*d]
				for i := range o {
					o[i] += rv[i] + res[i]
				}
			}
		}
	})
}
