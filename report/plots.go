package report

import (
	"cmp"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/pipeml/pipe/scoring"
)

var (
	blue  = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	red   = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	grey  = color.RGBA{R: 127, G: 127, B: 127, A: 255}
	shade = color.NRGBA{R: 255, G: 152, B: 150, A: 140}
)

// savePNG renders p at w x h into out.
func savePNG(p *plot.Plot, w, h vg.Length, out io.Writer) error {
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(out)
	return err
}

func line(xys plotter.XYs, c color.Color, dashed bool) (*plotter.Line, error) {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	l.Color = c
	l.Width = vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		l.Width = vg.Points(1)
	}
	return l, nil
}

// plotROC draws the sample-level ROC curve with the chance diagonal.
func (r *Report) plotROC(out io.Writer) error {
	p := plot.New()
	p.Title.Text = "ROC (per sample)"
	if r.AUROC != nil {
		p.Title.Text = fmt.Sprintf("ROC (per sample), AUROC = %.4f", *r.AUROC)
	}
	p.X.Label.Text = "false positive rate"
	p.Y.Label.Text = "true positive rate"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(plotter.NewGrid())
	diag, err := line(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}}, grey, true)
	if err != nil {
		return err
	}
	p.Add(diag)
	if len(r.ROC) > 0 {
		xys := make(plotter.XYs, len(r.ROC))
		for i, pt := range r.ROC {
			xys[i] = plotter.XY{X: pt.X, Y: pt.Y}
		}
		l, err := line(xys, blue, false)
		if err != nil {
			return err
		}
		p.Add(l)
	}
	return savePNG(p, 5*vg.Inch, 5*vg.Inch, out)
}

// plotSensFA draws every sweep point, the best sensitivity reachable
// within each FA/24h (the staircase AtFA reads), and the budgets.
func (r *Report) plotSensFA(out io.Writer) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Sensitivity vs FA/24h (%s events, threshold sweep)", r.SweepMethod)
	p.X.Label.Text = "false alarms per 24 h"
	p.Y.Label.Text = "sensitivity (%)"
	xmax := 1.0
	for _, k := range r.budgets {
		xmax = math.Max(xmax, 2*k)
	}
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, xmax, 0, 100
	p.Add(plotter.NewGrid())
	pts := slices.Clone(r.Sweep)
	slices.SortFunc(pts, func(a, b scoring.OperatingPoint) int { return cmp.Compare(a.FAPer24h, b.FAPer24h) })
	var raw, front plotter.XYs
	best := 0.0
	for _, pt := range pts {
		if pt.FAPer24h > xmax {
			continue
		}
		raw = append(raw, plotter.XY{X: pt.FAPer24h, Y: pt.Sensitivity})
		if pt.Sensitivity >= best {
			if len(front) > 0 {
				front = append(front, plotter.XY{X: pt.FAPer24h, Y: best})
			}
			best = pt.Sensitivity
			front = append(front, plotter.XY{X: pt.FAPer24h, Y: best})
		}
	}
	if len(front) > 0 {
		front = append(front, plotter.XY{X: xmax, Y: best})
		l, err := line(front, blue, false)
		if err != nil {
			return err
		}
		p.Add(l)
	}
	if len(raw) > 0 {
		s, err := plotter.NewScatter(raw)
		if err != nil {
			return err
		}
		s.GlyphStyle.Color = grey
		s.GlyphStyle.Radius = vg.Points(1.5)
		p.Add(s)
	}
	for _, k := range r.budgets {
		l, err := line(plotter.XYs{{X: k, Y: 0}, {X: k, Y: 100}}, red, true)
		if err != nil {
			return err
		}
		p.Add(l)
	}
	return savePNG(p, 7*vg.Inch, 4.5*vg.Inch, out)
}

// plotTraces draws the probability traces of the recordings with the most
// reference seizure time, reference seizures shaded, the operating
// threshold dashed.
func (r *Report) plotTraces(out io.Writer) error {
	n := r.input.TracePlots
	if n <= 0 {
		n = 6
	}
	order := make([]int, len(r.input.Recordings))
	for i := range order {
		order[i] = i
	}
	seizureTime := func(i int) float64 {
		var s float64
		for _, e := range r.input.Recordings[i].Ref {
			s += e.Duration()
		}
		return s
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(seizureTime(b), seizureTime(a)) })
	order = order[:min(n, len(order))]
	rows := make([][]*plot.Plot, len(order))
	for row, i := range order {
		rec := r.input.Recordings[i]
		p := plot.New()
		p.Title.Text = rec.Name
		p.X.Label.Text = "time (s)"
		p.Y.Label.Text = "p(seizure)"
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, math.Max(rec.Duration, 1e-9), 0, 1
		for _, e := range rec.Ref {
			poly, err := plotter.NewPolygon(plotter.XYs{{X: e.Start, Y: 0}, {X: e.Stop, Y: 0}, {X: e.Stop, Y: 1}, {X: e.Start, Y: 1}})
			if err != nil {
				return err
			}
			poly.Color = shade
			poly.LineStyle.Width = 0
			p.Add(poly)
		}
		if xys := downsample(rec.Trace.P, rec.Trace.Rate, 2000); len(xys) > 0 {
			l, err := line(xys, blue, false)
			if err != nil {
				return err
			}
			l.Width = vg.Points(0.8)
			p.Add(l)
		}
		th, err := line(plotter.XYs{{X: 0, Y: r.OperatingThreshold}, {X: rec.Duration, Y: r.OperatingThreshold}}, red, true)
		if err != nil {
			return err
		}
		p.Add(th)
		rows[row] = []*plot.Plot{p}
	}
	const w, rowH = 10 * vg.Inch, 2 * vg.Inch
	img := vgimg.New(w, rowH*vg.Length(max(1, len(rows))))
	dc := draw.New(img)
	if len(rows) > 0 {
		canvases := plot.Align(rows, draw.Tiles{Rows: len(rows), Cols: 1, PadY: vg.Points(6)}, dc)
		for i := range rows {
			rows[i][0].Draw(canvases[i][0])
		}
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(out)
	return err
}

// downsample keeps at most about n points of a trace, the maximum of each
// bucket so that short peaks stay visible.
func downsample(p []float64, rate float64, n int) plotter.XYs {
	step := max(1, (len(p)+n-1)/n)
	xys := make(plotter.XYs, 0, len(p)/step+1)
	for i := 0; i < len(p); i += step {
		m := p[i]
		for _, x := range p[i:min(i+step, len(p))] {
			m = math.Max(m, x)
		}
		xys = append(xys, plotter.XY{X: float64(i) / rate, Y: m})
	}
	return xys
}
