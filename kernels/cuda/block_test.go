//go:build cudaemu || cuda

package cuda_test

import (
	"math"
	"testing"

	"github.com/pipeml/pipe/kernels/cuda"
)

func slice(t *testing.T, b cuda.Buffer, from, n int) cuda.Buffer {
	t.Helper()
	s, err := b.Slice(from, n)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestGoldenMamba2Block composes the kernels into mamba_ssm's Mamba-2 block
// (V3 node-stream settings, see ../shared/golden/mamba2/README.md) and
// checks output, intermediates and every gradient against the golden cases.
// in_proj is applied as five GEMMs on contiguous row slices of its weight
// (z, x, B, C, dt), and the depthwise conv per slice, so no tensor is ever
// split by columns.
func TestGoldenMamba2Block(t *testing.T) {
	for _, c := range goldenCases(t, "mamba2_block") {
		t.Run(c.Name, func(t *testing.T) {
			batch, L := c.cfg(t, "batch"), c.cfg(t, "seqlen")
			dm, di, ns, H, P := c.cfg(t, "d_model"), c.cfg(t, "d_inner"), c.cfg(t, "d_state"), c.cfg(t, "nheads"), c.cfg(t, "headdim")
			W := c.cfg(t, "d_conv")
			rows := batch * L
			d := newDevice(t)
			u := up(t, d, c.load(t, "in__u"))
			inW := up(t, d, c.load(t, "param__in_proj.weight"))
			convW := up(t, d, c.load(t, "param__conv1d.weight"))
			convB := up(t, d, c.load(t, "param__conv1d.bias"))
			dtBias := up(t, d, c.load(t, "param__dt_bias"))
			aLog := c.load(t, "param__A_log")
			av := make([]float32, H)
			for i, v := range aLog {
				av[i] = -float32(math.Exp(float64(v)))
			}
			A := up(t, d, av)
			D := up(t, d, c.load(t, "param__D"))
			normW := up(t, d, c.load(t, "param__norm.weight"))
			outW := up(t, d, c.load(t, "param__out_proj.weight"))

			// Parts of in_proj: (name, first row, rows).
			parts := []struct{ off, n int }{{0, di}, {di, di}, {2 * di, ns}, {2*di + ns, ns}, {2*di + 2*ns, H}}
			pre := make([]cuda.Buffer, 5)
			for i, p := range parts {
				pre[i] = alloc(t, d, rows*p.n)
				if err := d.LinearFwd(u, slice(t, inW, p.off*dm, p.n*dm), cuda.Buffer{}, pre[i], rows, dm, p.n); err != nil {
					t.Fatal(err)
				}
			}
			z := pre[0]
			// Depthwise conv + SiLU on x, B, C (conv channels di, di+ns, ...).
			act := make([]cuda.Buffer, 3)
			for i := 0; i < 3; i++ {
				ch, off := parts[i+1].n, parts[i+1].off-di
				act[i] = alloc(t, d, rows*ch)
				s := cuda.DWShape{Batch: batch, L: L, C: ch, W: W}
				if err := d.DWConvFwd(s, pre[i+1], slice(t, convW, off*W, ch*W), slice(t, convB, off, ch), act[i], true); err != nil {
					t.Fatal(err)
				}
			}
			dt := alloc(t, d, rows*H)
			if err := d.BiasSoftplusFwd(pre[4], dtBias, dt, H); err != nil {
				t.Fatal(err)
			}
			ss := cuda.ScanShape{Batch: batch, L: L, H: H, P: P, G: 1, N: ns}
			y := alloc(t, d, rows*di)
			if err := d.ScanFwd(ss, act[0], dt, A, act[1], act[2], D, y, cuda.Buffer{}, false); err != nil {
				t.Fatal(err)
			}
			yn, rstd := alloc(t, d, rows*di), alloc(t, d, rows)
			if err := d.RMSNormGatedFwd(y, z, normW, yn, rstd, rows, di, di, float32(1e-5)); err != nil {
				t.Fatal(err)
			}
			out := alloc(t, d, rows*dm)
			if err := d.LinearFwd(yn, outW, cuda.Buffer{}, out, rows, di, dm); err != nil {
				t.Fatal(err)
			}
			if tol, ok := c.Tolerances["out__out"]; ok {
				closeTo(t, "out", down(t, d, out), f64(c.load(t, "out__out")), tol.Atol, tol.Rtol)
			}
			if c.has("int__dt_softplus") { // intermediates exist for the small cases only
				closeTo(t, "dt (intermediate)", down(t, d, dt), f64(c.load(t, "int__dt_softplus")), 1e-5, 1e-4)
				closeTo(t, "y_ssd (intermediate)", down(t, d, y), f64(c.load(t, "int__y_ssd")), 1e-4, 1e-3)
			}

			// Backward.
			gout := up(t, d, c.load(t, "cot__out"))
			gyn, gOutW := alloc(t, d, rows*di), alloc(t, d, dm*di)
			if err := d.LinearBwd(yn, outW, gout, gyn, gOutW, cuda.Buffer{}, rows, di, dm); err != nil {
				t.Fatal(err)
			}
			gy, gz, gNormW := alloc(t, d, rows*di), alloc(t, d, rows*di), alloc(t, d, di)
			if err := d.RMSNormGatedBwd(y, z, normW, gyn, rstd, gy, gz, gNormW, rows, di, di); err != nil {
				t.Fatal(err)
			}
			sg := cuda.ScanGrads{X: alloc(t, d, rows*di), DT: alloc(t, d, rows*H), A: alloc(t, d, H),
				B: alloc(t, d, rows*ns), C: alloc(t, d, rows*ns), D: alloc(t, d, H)}
			if err := d.ScanBwd(ss, act[0], dt, A, act[1], act[2], D, gy, sg, false); err != nil {
				t.Fatal(err)
			}
			gpre := make([]cuda.Buffer, 5)
			gpre[0] = gz
			gConvW, gConvB := alloc(t, d, (di+2*ns)*W), alloc(t, d, di+2*ns)
			for i, g := range []cuda.Buffer{sg.X, sg.B, sg.C} {
				ch, off := parts[i+1].n, parts[i+1].off-di
				gpre[i+1] = alloc(t, d, rows*ch)
				s := cuda.DWShape{Batch: batch, L: L, C: ch, W: W}
				if err := d.DWConvBwd(s, pre[i+1], slice(t, convW, off*W, ch*W), slice(t, convB, off, ch), g, gpre[i+1],
					slice(t, gConvW, off*W, ch*W), slice(t, gConvB, off, ch), true); err != nil {
					t.Fatal(err)
				}
			}
			gpre[4] = alloc(t, d, rows*H)
			gDtBias := alloc(t, d, H)
			if err := d.BiasSoftplusBwd(pre[4], dtBias, sg.DT, gpre[4], gDtBias, H); err != nil {
				t.Fatal(err)
			}
			gInW, gu, tmp := alloc(t, d, (2*di+2*ns+H)*dm), alloc(t, d, rows*dm), alloc(t, d, rows*dm)
			if err := d.Zero(gu); err != nil {
				t.Fatal(err)
			}
			for i, p := range parts {
				if err := d.LinearBwd(u, slice(t, inW, p.off*dm, p.n*dm), gpre[i], tmp, slice(t, gInW, p.off*dm, p.n*dm), cuda.Buffer{}, rows, dm, p.n); err != nil {
					t.Fatal(err)
				}
				if err := d.Axpy(1, tmp, gu); err != nil {
					t.Fatal(err)
				}
			}
			gA := down(t, d, sg.A)
			gALog := make([]float32, H)
			for i := range gALog {
				gALog[i] = gA[i] * av[i] // A = -exp(A_log): dA/dA_log = A
			}
			c.check(t, "grad__u", down(t, d, gu), c.load(t, "grad__u"))
			c.check(t, "grad__in_proj.weight", down(t, d, gInW), c.load(t, "grad__in_proj.weight"))
			c.check(t, "grad__conv1d.weight", down(t, d, gConvW), c.load(t, "grad__conv1d.weight"))
			c.check(t, "grad__conv1d.bias", down(t, d, gConvB), c.load(t, "grad__conv1d.bias"))
			c.check(t, "grad__dt_bias", down(t, d, gDtBias), c.load(t, "grad__dt_bias"))
			c.check(t, "grad__A_log", gALog, c.load(t, "grad__A_log"))
			c.check(t, "grad__D", down(t, d, sg.D), c.load(t, "grad__D"))
			c.check(t, "grad__norm.weight", down(t, d, gNormW), c.load(t, "grad__norm.weight"))
			c.check(t, "grad__out_proj.weight", down(t, d, gOutW), c.load(t, "grad__out_proj.weight"))
		})
	}
}
