// Package traintest holds what the tests of package train and of the
// train/evaluate stage kinds share: a small real network (per-sample
// logistic regression on locally averaged signal power, with dropout) and
// small populated caches. It is test support, not a detector: the
// pipeline's model is package model's V3 detector.
package traintest

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pipeml/pipe/cache"
	"github.com/pipeml/pipe/cache/cachetest"
	"github.com/pipeml/pipe/eeg/preprocess"
	"github.com/pipeml/pipe/model"
)

// Logistic is a per-sample logistic model: for window b, channel c and
// sample t, the feature f[c,t] is the mean of x[c,·]² over the Smooth
// samples on either side of t, and
//
//	logit[b,t] = Σ_c w_c · drop_c · f[c,t] + u · Σ_c f[c,t] + bias
//
// where drop_c is inverted channel dropout (training only) drawn from the
// Forward seed. Parameters: "w" (decayed), "u" (decayed), "bias" (not).
type Logistic struct {
	Channels, Smooth int
	Dropout          float64
	w, u, bias       *model.Param
	// last forward
	feat  []float64
	drop  []float64
	batch int
	n     int
	out   []float32
	debug bool
}

var _ model.Net = (*Logistic)(nil)

// NewLogistic returns a model for windows of the given channels,
// initialised from seed.
func NewLogistic(channels, smooth int, dropout float64, seed uint64) *Logistic {
	rng := rand.New(rand.NewPCG(seed, 7))
	l := &Logistic{Channels: channels, Smooth: smooth, Dropout: dropout,
		w:    &model.Param{Name: "w", Shape: []int{channels}, W: make([]float32, channels), G: make([]float32, channels), Decay: true},
		u:    &model.Param{Name: "u", Shape: []int{1}, W: make([]float32, 1), G: make([]float32, 1), Decay: true},
		bias: &model.Param{Name: "bias", Shape: []int{1}, W: make([]float32, 1), G: make([]float32, 1)},
	}
	for i := range l.w.W {
		l.w.W[i] = float32(rng.NormFloat64() * 0.1)
	}
	return l
}

// Params implements model.Net.
func (l *Logistic) Params() []*model.Param { return []*model.Param{l.w, l.u, l.bias} }

// SetDebugFinite implements train.FiniteDebugger: Forward then fails on a
// non-finite feature, naming it.
func (l *Logistic) SetDebugFinite(on bool) { l.debug = on }

// Forward implements model.Net.
func (l *Logistic) Forward(x []float32, batch, n int, train bool, seed uint64) ([]float32, error) {
	C := l.Channels
	if len(x) != batch*C*n {
		return nil, fmt.Errorf("logistic: %d inputs for (%d, %d, %d)", len(x), batch, C, n)
	}
	l.batch, l.n = batch, n
	l.feat = resize(l.feat, batch*C*n)
	l.drop = resize(l.drop, batch*C)
	if cap(l.out) < batch*n {
		l.out = make([]float32, batch*n)
	}
	l.out = l.out[:batch*n]
	rng := rand.New(rand.NewPCG(seed, 11))
	pre := make([]float64, n+1)
	for b := 0; b < batch; b++ {
		for c := 0; c < C; c++ {
			xs := x[(b*C+c)*n : (b*C+c+1)*n]
			for t, v := range xs {
				pre[t+1] = pre[t] + float64(v)*float64(v)
			}
			f := l.feat[(b*C+c)*n : (b*C+c+1)*n]
			for t := range f {
				a, e := max(0, t-l.Smooth), min(n, t+l.Smooth+1)
				f[t] = (pre[e] - pre[a]) / float64(e-a)
				if l.debug && (math.IsNaN(f[t]) || math.IsInf(f[t], 0)) {
					return nil, fmt.Errorf("logistic: feature of window %d channel %d sample %d is %v", b, c, t, f[t])
				}
			}
			d := 1.0
			if train && l.Dropout > 0 {
				if rng.Float64() < l.Dropout {
					d = 0
				} else {
					d = 1 / (1 - l.Dropout)
				}
			}
			l.drop[b*C+c] = d
		}
		for t := 0; t < n; t++ {
			z := float64(l.bias.W[0])
			for c := 0; c < C; c++ {
				f := l.feat[(b*C+c)*n+t]
				z += float64(l.w.W[c])*l.drop[b*C+c]*f + float64(l.u.W[0])*f
			}
			l.out[b*n+t] = float32(z)
		}
	}
	return l.out, nil
}

// Backward implements model.Net.
func (l *Logistic) Backward(d []float32) error {
	C, n := l.Channels, l.n
	if len(d) != l.batch*n {
		return fmt.Errorf("logistic: %d gradients for %d logits", len(d), l.batch*n)
	}
	gw := make([]float64, C)
	var gu, gb float64
	for b := 0; b < l.batch; b++ {
		for t := 0; t < n; t++ {
			g := float64(d[b*n+t])
			gb += g
			for c := 0; c < C; c++ {
				f := l.feat[(b*C+c)*n+t]
				gw[c] += g * l.drop[b*C+c] * f
				gu += g * f
			}
		}
	}
	for c := range gw {
		l.w.G[c] += float32(gw[c])
	}
	l.u.G[0] += float32(gu)
	l.bias.G[0] += float32(gb)
	return nil
}

// ZeroGrad implements model.Net.
func (l *Logistic) ZeroGrad() {
	for _, p := range l.Params() {
		clear(p.G)
	}
}

func resize(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// Corpus is a small corpus: three training patients, two dev patients and
// one eval patient, each recording 60-80 s with seizures.
func Corpus() []cachetest.Rec {
	return []cachetest.Rec{
		{Split: "train", Patient: "aaaaaaaa", Session: "s001", Token: "t000", Seconds: 80, Seizures: [][2]float64{{20, 38}}},
		{Split: "train", Patient: "aaaaaaab", Session: "s001", Token: "t000", Seconds: 70, Seizures: [][2]float64{{10, 22}, {45, 60}}},
		{Split: "train", Patient: "aaaaaaac", Session: "s001", Token: "t000", Seconds: 60},
		{Split: "dev", Patient: "aaaaaaad", Session: "s001", Token: "t000", Seconds: 75, Seizures: [][2]float64{{30, 50}}},
		{Split: "dev", Patient: "aaaaaaae", Session: "s001", Token: "t000", Seconds: 63},
		{Split: "eval", Patient: "aaaaaaaf", Session: "s001", Token: "t000", Seconds: 66, Seizures: [][2]float64{{12, 30}}},
	}
}

// MakeCache writes recs as a TUSZ corpus and populates a cache of 4 s
// windows every 2 s at 64 Hz from it; it returns the cache directory.
func MakeCache(t testing.TB, recs []cachetest.Rec) string {
	t.Helper()
	src := cachetest.MakeCorpus(t, recs)
	dir := t.TempDir()
	pre := preprocess.DefaultConfig()
	pre.Rate, pre.BandpassHigh, pre.Notch = 64, 30, 0
	cfg := cache.PopulateConfig{Source: src, Dir: dir, Workers: 2, WindowS: 4, StrideS: 2, Preprocess: pre}
	if _, err := cache.Populate(context.Background(), cfg, cache.NopProgress{}, io.Discard); err != nil {
		t.Fatal(err)
	}
	return dir
}
