// gorgonia's CUDA engine (compiled by -tags cuda) needs cuDNN: the oracle
// runs in the default build only.

//go:build !cuda

package check

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/pipeml/pipe/kernels"
)

// An independent gradient oracle for the dense and norm ops: the same
// functions written as gorgonia expression graphs in float64 and
// differentiated by gorgonia's symbolic autodiff, compared with the CPU
// backend's backward.

type gg struct {
	t *testing.T
	g *G.ExprGraph
}

func (o gg) must(n *G.Node, err error) *G.Node {
	o.t.Helper()
	if err != nil {
		o.t.Fatal(err)
	}
	return n
}

func (o gg) leaf(name string, d []float32, shape ...int) *G.Node {
	v := make([]float64, len(d))
	for i, x := range d {
		v[i] = float64(x)
	}
	t := tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
	if len(shape) == 1 {
		return G.NewVector(o.g, tensor.Float64, G.WithShape(shape...), G.WithName(name), G.WithValue(t))
	}
	return G.NewMatrix(o.g, tensor.Float64, G.WithShape(shape...), G.WithName(name), G.WithValue(t))
}

func (o gg) ones(n int) *G.Node {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return G.NewConstant(tensor.New(tensor.WithShape(n), tensor.WithBacking(v)))
}

// rows broadcasts vector v (d) to rows × d; cols broadcasts v (rows) to rows × d.
// (Reshape + Concat: gorgonia differentiates these reliably.)
func (o gg) rows(v *G.Node, rows int) *G.Node {
	r := o.must(G.Reshape(v, tensor.Shape{1, v.Shape()[0]}))
	rs := make([]*G.Node, rows)
	for i := range rs {
		rs[i] = r
	}
	if rows == 1 {
		return r
	}
	return o.must(G.Concat(0, rs...))
}

func (o gg) cols(v *G.Node, d int) *G.Node {
	c := o.must(G.Reshape(v, tensor.Shape{v.Shape()[0], 1}))
	cs := make([]*G.Node, d)
	for i := range cs {
		cs[i] = c
	}
	if d == 1 {
		return c
	}
	return o.must(G.Concat(1, cs...))
}

// run differentiates Σ out ⊙ cot with respect to leaves and returns the
// gradients.
func (o gg) run(out *G.Node, cot []float32, rows, cols int, leaves ...*G.Node) [][]float64 {
	c := o.leaf("cot", cot, rows, cols)
	loss := o.must(G.Sum(o.must(G.HadamardProd(out, c))))
	if _, err := G.Grad(loss, leaves...); err != nil {
		o.t.Fatal(err)
	}
	vm := G.NewTapeMachine(o.g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		o.t.Fatal(err)
	}
	res := make([][]float64, len(leaves))
	for i, l := range leaves {
		gv, err := l.Grad()
		if err != nil {
			o.t.Fatal(err)
		}
		res[i] = append([]float64(nil), gv.Data().([]float64)...)
	}
	return res
}

func host(b kernels.Buffer) []float32 { return b.(*kernels.Host).Data }

func closeGrad(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	e, err := relErr(got, want)
	if err != nil || e > 1e-5 {
		t.Errorf("%s: error %.3g against gorgonia (%v)", what, e, err)
	}
}

func TestGorgoniaOracleLinear(t *testing.T) {
	cpu := kernels.NewCPU(2)
	defer cpu.Close()
	g := NewGen(11)
	for _, d := range [][3]int{{7, 4, 36}, {33, 64, 20}, {5, 1, 3}} {
		rows, in, out := d[0], d[1], d[2]
		x, w, b, cot := g.U(rows*in, -1, 1), g.U(out*in, -1, 1), g.U(out, -1, 1), g.U(rows*out, -1, 1)
		gx, gw, gb := make([]float32, rows*in), make([]float32, out*in), make([]float32, out)
		if err := cpu.LinearBwd(kernels.Wrap(x), kernels.Wrap(w), kernels.Wrap(cot), kernels.Wrap(gx), kernels.Wrap(gw), kernels.Wrap(gb), rows, in, out); err != nil {
			t.Fatal(err)
		}
		o := gg{t: t, g: G.NewGraph()}
		X, W, B := o.leaf("x", x, rows, in), o.leaf("w", w, out, in), o.leaf("b", b, out)
		y := o.must(G.Add(o.must(G.Mul(X, o.must(G.Transpose(W)))), o.rows(B, rows)))
		want := o.run(y, cot, rows, out, X, W, B)
		closeGrad(t, "linear gx", gx, want[0])
		closeGrad(t, "linear gW", gw, want[1])
		closeGrad(t, "linear gbias", gb, want[2])
	}
}

func TestGorgoniaOracleLayerNorm(t *testing.T) {
	cpu := kernels.NewCPU(2)
	defer cpu.Close()
	g := NewGen(12)
	for _, d := range [][2]int{{9, 64}, {3, 5}} {
		rows, D := d[0], d[1]
		x, w, b, cot := g.U(rows*D, -2, 2), g.U(D, 0.5, 1.5), g.U(D, -0.5, 0.5), g.U(rows*D, -1, 1)
		y, mean, rstd := make([]float32, rows*D), make([]float32, rows), make([]float32, rows)
		if err := cpu.LayerNormFwd(kernels.Wrap(x), kernels.Wrap(w), kernels.Wrap(b), kernels.Wrap(y), kernels.Wrap(mean), kernels.Wrap(rstd), rows, D, 1e-5); err != nil {
			t.Fatal(err)
		}
		gx, gw, gb := make([]float32, rows*D), make([]float32, D), make([]float32, D)
		if err := cpu.LayerNormBwd(kernels.Wrap(x), kernels.Wrap(w), kernels.Wrap(cot), kernels.Wrap(mean), kernels.Wrap(rstd),
			kernels.Wrap(gx), kernels.Wrap(gw), kernels.Wrap(gb), rows, D); err != nil {
			t.Fatal(err)
		}
		o := gg{t: t, g: G.NewGraph()}
		X, W, B := o.leaf("x", x, rows, D), o.leaf("w", w, D), o.leaf("b", b, D)
		inv := G.NewConstant(1 / float64(D))
		mu := o.must(G.Mul(o.must(G.Mul(X, o.ones(D))), inv))
		c := o.must(G.Sub(X, o.cols(mu, D)))
		v := o.must(G.Mul(o.must(G.Mul(o.must(G.Square(c)), o.ones(D))), inv))
		rs := o.must(G.Inverse(o.must(G.Sqrt(o.must(G.Add(v, G.NewConstant(1e-5)))))))
		xh := o.must(G.HadamardProd(c, o.cols(rs, D)))
		out := o.must(G.Add(o.must(G.HadamardProd(xh, o.rows(W, rows))), o.rows(B, rows)))
		want := o.run(out, cot, rows, D, X, W, B)
		closeGrad(t, "layernorm gx", gx, want[0])
		closeGrad(t, "layernorm gw", gw, want[1])
		closeGrad(t, "layernorm gb", gb, want[2])
		if math.IsNaN(float64(y[0])) {
			t.Error("forward not written")
		}
	}
}
