package check

import (
	"context"
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/pipeml/pipe/kernels"
)

// Suite returns every kernel at the V3 detector's shapes: node stream
// (batch 4 × 19 electrodes, L = 960, d_model 64, expand 2, headdim 8 → 16
// heads, d_state 16), edge stream (4 × 171 electrode pairs, edge_dim 16 →
// 8 heads of 4, d_state 8; and the demo profile's 4-wide edge features),
// graph stream (4 × 960 graphs of 19 nodes, 64 features, top-3, K = 2),
// encoder convs at V3 widths (length shortened so the float64 reference
// stays fast). quick shrinks every length and batch for a check that takes
// seconds.
func Suite(quick bool, seed uint64) []Case {
	g := NewGen(seed)
	B, L, pairs, tEnc, graphs := 76, 960, 684, 3840, 3840
	if quick {
		B, L, pairs, tEnc, graphs = 19, 48, 36, 256, 96
	}
	node := kernels.ScanShape{Batch: B, L: L, H: 16, P: 8, G: 1, N: 16}
	edge := kernels.ScanShape{Batch: pairs, L: L, H: 8, P: 4, G: 1, N: 8}
	rows, erows := B*L, pairs*L
	enc := func(cin, cout, dil int) kernels.ConvShape {
		return kernels.ConvShape{Batch: 1, Cin: cin, Lin: tEnc, Cout: cout, K: 7, Lout: tEnc, Stride: 1, Dil: dil, Pad: 3 * dil}
	}
	cs := []Case{
		Scan(g, node, false, true),
		Scan(g, node, true, true),
		Scan(g, edge, false, true),
		DWConv(g, kernels.DWShape{Batch: B, L: L, C: 160, W: 4}, true),
		DWConv(g, kernels.DWShape{Batch: pairs, L: L, C: 48, W: 4}, true),
		Linear(g, rows, 64, 304),
		Linear(g, rows, 128, 64),
		Linear(g, erows, 4, 36),
		Linear(g, erows, 8, 4),
		BiasSoftplus(g, rows, 16),
		RMSNormGated(g, rows, 128, 128),
		LayerNorm(g, rows, 64),
		Unary(g, kernels.SiLU, rows*128),
		Unary(g, kernels.Sigmoid, erows),
		Unary(g, kernels.ReLU, rows*64),
		Conv(g, enc(64, 128, 2)),
		Conv(g, enc(16, 16, 64)),
		Conv(g, kernels.ConvShape{Batch: 1, Cin: 64, Lin: tEnc * 16 / 16, Cout: 64, K: 16, Lout: tEnc / 16, Stride: 16, Dil: 1}),
		WeightNorm(g, 512, 256*7),
		Cosine(g, kernels.GraphShape{G: graphs, N: 19, F: 64}),
		TopK(g, kernels.GraphShape{G: graphs, N: 19, F: 1}, 3, false),
		SSGConv(g, kernels.GraphShape{G: graphs, N: 19, F: 64}, kernels.SSG{K: 2, Alpha: 0.05, SelfLoops: true}),
		BCEFocal(g, 4*tEnc*4, kernels.BCEFocal{PosWeight: 1, Alpha: 0.25, Gamma: 2}),
		Clamp(g, rows*64, -10, 10),
		Transpose(g, B/19, L, 19, 64),
		TriuGather(g, graphs, 19, true),
		TriuScatter(g, graphs, 19, false),
		Dropout(g, B*16*tEnc, seed, 2, 0.1),
	}
	return cs
}

// RunAll runs cases on b in order, calling progress after each; it stops
// early when ctx is cancelled.
func RunAll(ctx context.Context, b kernels.Backend, cases []Case, o Options, progress func(Result)) ([]Result, error) {
	var out []Result
	for i, c := range cases {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		o2 := o
		o2.Seed = o.Seed + uint64(i)
		r := Run(b, c, o2)
		out = append(out, r)
		if progress != nil {
			progress(r)
		}
	}
	return out, nil
}

// GBps returns the case's memory throughput (forward + backward bytes over
// their time) in GB/s; GFLOPs its arithmetic throughput.
func (r Result) GBps() float64 { return r.Bytes / r.total() / 1e9 }

// GFLOPs returns the case's arithmetic throughput in GFLOP/s.
func (r Result) GFLOPs() float64 { return r.Flops / r.total() / 1e9 }

func (r Result) total() float64 { return math.Max((r.FwdTime + r.BwdTime).Seconds(), 1e-9) }

// WriteTable writes one line per result: errors, times, GB/s, GFLOP/s,
// status.
func WriteTable(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kernel\tfwd err\tbwd err\tfwd ms\tbwd ms\tGB/s\tGFLOP/s\tstatus\t")
	for _, r := range rs {
		st := "ok"
		if r.Err != nil {
			st = "FAIL"
		}
		bwd, bms := "-", "-"
		if r.HasBwd {
			bwd, bms = fmt.Sprintf("%.1e", r.BwdErr), fmt.Sprintf("%.2f", r.BwdTime.Seconds()*1e3)
		}
		fmt.Fprintf(tw, "%s\t%.1e\t%s\t%.2f\t%s\t%.2f\t%.2f\t%s\t\n", r.Name, r.FwdErr, bwd,
			r.FwdTime.Seconds()*1e3, bms, r.GBps(), r.GFLOPs(), st)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rs {
		if r.Err != nil {
			if _, err := fmt.Fprintf(w, "FAIL %s: %v\n", r.Name, r.Err); err != nil {
				return err
			}
		}
	}
	return nil
}
