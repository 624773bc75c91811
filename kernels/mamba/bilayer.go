package mamba

import (
	"errors"
	"fmt"

	"github.com/pipeml/pipe/kernels"
)

// BiLayer is the original project's BiMamba2Layer (eval mode):
//
//	x1  = clamp(nan_to_num(x), −10, 10)          (Clamp only; else x1 = x)
//	f   = Fwd(x1);  b = flip_t(Bwd(flip_t(x1)))
//	p   = [f | b]·ProjWᵀ + ProjB;  p = clamp(p, −5, 5)   (clamp with Clamp)
//	out = LayerNorm(x1 + p);  out = clamp(out, −10, 10) (clamp with Clamp)
//
// Clamp reproduces the original layer (and its golden vectors); pipe's
// model runs with Clamp off. x and out are (batch, L, DModel).
type BiLayer struct {
	be       kernels.Backend
	Fwd, Bwd *Block
	// ProjW (DModel, 2·DModel), ProjB, LnW, LnB (DModel); gradients in
	// GProjW, ... (overwritten by Backward).
	ProjW, ProjB, LnW, LnB     kernels.Buffer
	GProjW, GProjB, GLnW, GLnB kernels.Buffer
	// Clamp switches the original project's clamps on.
	Clamp bool

	rows, batch, L                                  int
	ws                                              []kernels.Buffer
	x, x1, xr, f, bo, b, p, s, ln, mean, rstd, ones kernels.Buffer
	gs, gp, gf, gb, gbo, gx1, gxr, tmp, gln         kernels.Buffer
	scratch                                         *Scratch
	acts                                            *Scratch
}

// NewBiLayer allocates a layer (parameters zeroed).
func NewBiLayer(be kernels.Backend, cfg Config) (*BiLayer, error) {
	l := &BiLayer{be: be}
	var err error
	if l.Fwd, err = NewBlock(be, cfg); err != nil {
		return nil, err
	}
	if l.Bwd, err = NewBlock(be, cfg); err != nil {
		return nil, err
	}
	dm := cfg.DModel
	for _, a := range []struct {
		b *kernels.Buffer
		n int
	}{{&l.ProjW, 2 * dm * dm}, {&l.ProjB, dm}, {&l.LnW, dm}, {&l.LnB, dm},
		{&l.GProjW, 2 * dm * dm}, {&l.GProjB, dm}, {&l.GLnW, dm}, {&l.GLnB, dm}} {
		if *a.b, err = be.Alloc(a.n); err != nil {
			return nil, fmt.Errorf("bimamba2 layer: %w", err)
		}
	}
	return l, nil
}

// Params lists the layer's parameters with the original state_dict names
// (forward_mamba_real.*, backward_mamba_real.*, output_proj.*,
// layer_norm.*); grads the gradients in the same order.
func (l *BiLayer) Params() (params, grads []Named) {
	for _, blk := range []struct {
		prefix string
		m      *Block
	}{{"forward_mamba_real.", l.Fwd}, {"backward_mamba_real.", l.Bwd}} {
		for _, n := range blk.m.W.List() {
			params = append(params, Named{blk.prefix + n.Name, n.Buf})
		}
		for _, n := range blk.m.G.List() {
			grads = append(grads, Named{blk.prefix + n.Name, n.Buf})
		}
	}
	params = append(params, Named{"output_proj.weight", l.ProjW}, Named{"output_proj.bias", l.ProjB},
		Named{"layer_norm.weight", l.LnW}, Named{"layer_norm.bias", l.LnB})
	grads = append(grads, Named{"output_proj.weight", l.GProjW}, Named{"output_proj.bias", l.GProjB},
		Named{"layer_norm.weight", l.GLnW}, Named{"layer_norm.bias", l.GLnB})
	return params, grads
}

func (l *BiLayer) grow(rows int) error {
	if l.acts != nil {
		if err := fill(l.be, l.acts, l.actBufs(), rows, nil); err != nil {
			return fmt.Errorf("bimamba2 layer activations: %w", err)
		}
	}
	if rows > l.rows {
		for _, b := range l.ws {
			if err := l.be.Free(b); err != nil {
				return err
			}
		}
		l.ws = l.ws[:0]
		l.rows = rows
		if l.acts == nil {
			if err := fill(l.be, nil, l.actBufs(), rows, &l.ws); err != nil {
				return fmt.Errorf("bimamba2 layer activations: %w", err)
			}
		}
		if l.scratch == nil {
			if err := fill(l.be, nil, l.gradBufs(), rows, &l.ws); err != nil {
				return fmt.Errorf("bimamba2 layer: %w", err)
			}
		}
	}
	return l.be.Affine(0, nil, 1, l.ones)
}

// actBufs lists the layer's saved activations (its blocks' are their own).
func (l *BiLayer) actBufs() []scratchBuf {
	dm := l.Fwd.cfg.DModel
	return []scratchBuf{{"bi.x", &l.x, dm}, {"bi.x1", &l.x1, dm}, {"bi.xr", &l.xr, dm}, {"bi.f", &l.f, dm},
		{"bi.bo", &l.bo, dm}, {"bi.b", &l.b, dm}, {"bi.p", &l.p, dm}, {"bi.s", &l.s, dm}, {"bi.ln", &l.ln, dm},
		{"bi.mean", &l.mean, 1}, {"bi.rstd", &l.rstd, 1}, {"bi.ones", &l.ones, 1}}
}

// ShareActivations makes the layer and its blocks keep their saved
// activations in s (nil: their own). Layers sharing s overwrite each
// other's: rerun a layer's Forward (same input) right before its Backward
// (activation checkpointing: memory of one layer's activations for all,
// one more forward per layer). Call it before the first Forward.
func (l *BiLayer) ShareActivations(s *Scratch) {
	l.acts = s
	l.Fwd.ShareActivations(s, "fwd.")
	l.Bwd.ShareActivations(s, "bwd.")
}

// gradBufs lists the layer's gradient scratch (its blocks' are their own).
func (l *BiLayer) gradBufs() []scratchBuf {
	dm := l.Fwd.cfg.DModel
	return []scratchBuf{{"bi.gs", &l.gs, dm}, {"bi.gp", &l.gp, dm}, {"bi.gf", &l.gf, dm}, {"bi.gb", &l.gb, dm},
		{"bi.gbo", &l.gbo, dm}, {"bi.gx1", &l.gx1, dm}, {"bi.gxr", &l.gxr, dm}, {"bi.tmp", &l.tmp, dm}, {"bi.gln", &l.gln, dm}}
}

// ShareScratch makes the layer and its two blocks take their gradient
// buffers from s (nil: their own). Call it before the first Forward.
func (l *BiLayer) ShareScratch(s *Scratch) {
	l.scratch = s
	l.Fwd.ShareScratch(s)
	l.Bwd.ShareScratch(s)
}

// Close frees the layer's buffers and its blocks' (not a shared Scratch).
func (l *BiLayer) Close() error {
	var errs []error
	for _, b := range append(l.ws, l.ProjW, l.ProjB, l.LnW, l.LnB, l.GProjW, l.GProjB, l.GLnW, l.GLnB) {
		errs = append(errs, l.be.Free(b))
	}
	l.ws = nil
	errs = append(errs, l.Fwd.Close(), l.Bwd.Close())
	return errors.Join(errs...)
}

func (l *BiLayer) view(b kernels.Buffer, n int) kernels.Buffer {
	rows := l.batch * l.L
	if b.Len() == rows*n {
		return b
	}
	s, err := l.be.Slice(b, 0, rows*n)
	if err != nil {
		panic(err) // cannot happen: grow sized b for at least rows
	}
	return s
}

// Forward computes out from x (both (batch, L, DModel)).
func (l *BiLayer) Forward(x, out kernels.Buffer, batch, L int) error {
	if batch < 1 || L < 1 {
		return fmt.Errorf("bimamba2 layer: batch %d, length %d", batch, L)
	}
	rows := batch * L
	if err := l.grow(rows); err != nil {
		return err
	}
	l.batch, l.L = batch, L
	be, dm := l.be, l.Fwd.cfg.DModel
	v := func(b kernels.Buffer) kernels.Buffer { return l.view(b, dm) }
	x1 := v(l.x1)
	steps := []func() error{
		func() error { return be.Affine(1, x, 0, v(l.x)) },
		func() error {
			if l.Clamp {
				return be.ClampFwd(x, x1, -10, 10)
			}
			return be.Affine(1, x, 0, x1)
		},
		func() error { return l.Fwd.Forward(x1, v(l.f), batch, L) },
		func() error { return be.FlipTime(x1, v(l.xr), batch, L, dm) },
		func() error { return l.Bwd.Forward(v(l.xr), v(l.bo), batch, L) },
		func() error { return be.FlipTime(v(l.bo), v(l.b), batch, L, dm) },
		func() error {
			return be.Gemm(false, true, rows, dm, dm, 1, v(l.f), dm, 0, l.ProjW, 2*dm, 0, 0, v(l.p), dm, 0, 1)
		},
		func() error {
			wb, err := be.Slice(l.ProjW, dm, 2*dm*dm-dm)
			if err != nil {
				return err
			}
			return be.Gemm(false, true, rows, dm, dm, 1, v(l.b), dm, 0, wb, 2*dm, 0, 1, v(l.p), dm, 0, 1)
		},
		func() error {
			return be.Gemm(false, false, rows, dm, 1, 1, l.view(l.ones, 1), 1, 0, l.ProjB, dm, 0, 1, v(l.p), dm, 0, 1)
		},
		func() error {
			if l.Clamp {
				return be.ClampFwd(v(l.p), v(l.s), -5, 5)
			}
			return be.Affine(1, v(l.p), 0, v(l.s))
		},
		func() error { return be.Axpy(1, x1, v(l.s)) },
		func() error {
			return be.LayerNormFwd(v(l.s), l.LnW, l.LnB, v(l.ln), l.view(l.mean, 1), l.view(l.rstd, 1), rows, dm, 1e-5)
		},
		func() error {
			if l.Clamp {
				return be.ClampFwd(v(l.ln), out, -10, 10)
			}
			return be.Affine(1, v(l.ln), 0, out)
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("bimamba2 layer forward: %w", err)
		}
	}
	return nil
}

// Backward computes gx (overwritten) and every parameter gradient
// (overwritten) from gout, the gradient of the loss at the last Forward's
// out.
func (l *BiLayer) Backward(gout, gx kernels.Buffer) error {
	if l.batch == 0 {
		return fmt.Errorf("bimamba2 layer: Backward before Forward")
	}
	be, dm := l.be, l.Fwd.cfg.DModel
	batch, L, rows := l.batch, l.L, l.batch*l.L
	if l.scratch != nil {
		if err := fill(be, l.scratch, l.gradBufs(), rows, nil); err != nil {
			return fmt.Errorf("bimamba2 layer backward: %w", err)
		}
	}
	v := func(b kernels.Buffer) kernels.Buffer { return l.view(b, dm) }
	wb, err := be.Slice(l.ProjW, dm, 2*dm*dm-dm)
	if err != nil {
		return err
	}
	gwb, err := be.Slice(l.GProjW, dm, 2*dm*dm-dm)
	if err != nil {
		return err
	}
	steps := []func() error{
		func() error {
			if l.Clamp {
				return be.ClampBwd(v(l.ln), gout, v(l.gln), -10, 10)
			}
			return be.Affine(1, gout, 0, v(l.gln))
		},
		func() error {
			return be.LayerNormBwd(v(l.s), l.LnW, v(l.gln), l.view(l.mean, 1), l.view(l.rstd, 1), v(l.gs), l.GLnW, l.GLnB, rows, dm)
		},
		func() error {
			if l.Clamp {
				return be.ClampBwd(v(l.p), v(l.gs), v(l.gp), -5, 5)
			}
			return be.Affine(1, v(l.gs), 0, v(l.gp))
		},
		func() error { return be.SumCols(v(l.gp), l.GProjB, rows, dm) },
		func() error {
			return be.Gemm(true, false, dm, dm, rows, 1, v(l.gp), dm, 0, v(l.f), dm, 0, 0, l.GProjW, 2*dm, 0, 1)
		},
		func() error {
			return be.Gemm(true, false, dm, dm, rows, 1, v(l.gp), dm, 0, v(l.b), dm, 0, 0, gwb, 2*dm, 0, 1)
		},
		func() error {
			return be.Gemm(false, false, rows, dm, dm, 1, v(l.gp), dm, 0, l.ProjW, 2*dm, 0, 0, v(l.gf), dm, 0, 1)
		},
		func() error {
			return be.Gemm(false, false, rows, dm, dm, 1, v(l.gp), dm, 0, wb, 2*dm, 0, 0, v(l.gb), dm, 0, 1)
		},
		func() error { return l.Fwd.Backward(v(l.gf), v(l.gx1)) },
		func() error { return be.FlipTime(v(l.gb), v(l.gbo), batch, L, dm) },
		func() error { return l.Bwd.Backward(v(l.gbo), v(l.gxr)) },
		func() error { return be.FlipTime(v(l.gxr), v(l.tmp), batch, L, dm) },
		func() error { return be.Axpy(1, v(l.tmp), v(l.gx1)) },
		func() error { return be.Axpy(1, v(l.gs), v(l.gx1)) },
		func() error {
			if l.Clamp {
				return be.ClampBwd(v(l.x), v(l.gx1), gx, -10, 10)
			}
			return be.Affine(1, v(l.gx1), 0, gx)
		},
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("bimamba2 layer backward: %w", err)
		}
	}
	return nil
}
