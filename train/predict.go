package train

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"sync"

	"github.com/pipeml/pipe/cache"
	"github.com/pipeml/pipe/model"
	"github.com/pipeml/pipe/postproc"
	"github.com/pipeml/pipe/scoring"
)

// Predictor runs a network over every window of a set of recordings in
// eval mode and stitches the predictions into one probability trace per
// recording. Memory is bounded: one batch of windows and the full-rate
// stitchers of the recordings that batch touches.
type Predictor struct {
	Net model.Net
	DS  *cache.Dataset
	// Dir is the cache directory (recordings are read from it directly for
	// the tail window).
	Dir string
	// Batch windows per forward pass; Workers read them.
	Batch, Workers int
	// TraceHz is the rate of the returned traces: the full-rate stitched
	// trace is averaged over blocks of rate/TraceHz samples (a whole
	// number).
	TraceHz float64
	// Loss, when set, is evaluated over every regular window.
	Loss *Loss
	// Step predicts every Step-th window of a recording only (0 or 1:
	// all). Step × stride must not exceed the window length, so that the
	// windows still cover every sample; with Step = window/stride they
	// tile the recording without overlap, the cheapest full coverage.
	Step int
}

// item is one window to predict: a dataset window, or the tail window of a
// recording whose end the regular windows miss (start = samples - length).
type item struct {
	rec    int
	window int // dataset index, -1 for a tail window
	start  int64
}

// PredictResult sums a prediction pass.
type PredictResult struct {
	// LossSum over LossSamples samples (regular windows only).
	LossSum     float64
	LossSamples int64
	// Windows predicted (tail windows included).
	Windows int
	// Short lists recordings shorter than one window: they have no
	// prediction and are left out.
	Short []string
}

// Run predicts the recordings recs (manifest indices, in order) and calls
// emit with each recording's trace, in order, as soon as it is complete.
func (p *Predictor) Run(ctx context.Context, recs []int, emit func(rec int, tr scoring.TracedRecording) error) (*PredictResult, error) {
	m := p.DS.Manifest()
	rate := m.Rate
	dec := rate / p.TraceHz
	if dec < 1 || dec != math.Trunc(dec) {
		return nil, fmt.Errorf("predict: trace rate %g Hz does not divide the cache rate %g Hz", p.TraceHz, rate)
	}
	c, w := len(m.Channels), int(m.WindowSamples)
	res := &PredictResult{}
	step := int64(max(p.Step, 1))
	if step*m.StrideSamples > m.WindowSamples {
		return nil, fmt.Errorf("predict: every %d-th window of %d samples every %d leaves samples uncovered (at most %d)", step, m.WindowSamples, m.StrideSamples, m.WindowSamples/m.StrideSamples)
	}
	var items []item
	for _, k := range recs {
		r := &m.Recordings[k]
		if r.Windows == 0 {
			res.Short = append(res.Short, r.ID)
			continue
		}
		var last int64
		for j := int64(0); j < r.Windows; j += step {
			items = append(items, item{rec: k, window: int(r.FirstWindow + j), start: j * m.StrideSamples})
			last = j*m.StrideSamples + m.WindowSamples
		}
		if last < r.Samples {
			items = append(items, item{rec: k, window: -1, start: r.Samples - m.WindowSamples})
		}
	}
	// remaining counts the items left per recording, to finish a
	// recording's trace as soon as its last window is in.
	remaining := map[int]int{}
	for _, it := range items {
		remaining[it.rec]++
	}
	tails := &tailReader{dir: p.Dir, m: m, open: map[int]*cache.Recording{}}
	defer tails.close()
	stitch := map[int]*postproc.Stitcher{}
	x := make([]float32, p.Batch*c*w)
	y := make([]float32, p.Batch*w)
	probs := make([]float32, w)
	for at := 0; at < len(items); at += p.Batch {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch := items[at:min(at+p.Batch, len(items))]
		n := len(batch)
		err := parallel(ctx, n, p.Workers, func(j int) error {
			it := batch[j]
			if it.window >= 0 {
				if err := p.DS.ReadWindow(it.window, x[j*c*w:(j+1)*c*w]); err != nil {
					return err
				}
				return p.DS.WindowLabels(it.window, y[j*w:(j+1)*w])
			}
			return tails.read(it.rec, it.start, w, x[j*c*w:(j+1)*c*w])
		})
		if err != nil {
			return nil, fmt.Errorf("predict: %w", err)
		}
		logits, err := p.Net.Forward(x[:n*c*w], n, w, false, 0)
		if err != nil {
			return nil, fmt.Errorf("predict: forward: %w", err)
		}
		if len(logits) != n*w {
			return nil, fmt.Errorf("predict: the network returned %d logits for %d windows of %d samples", len(logits), n, w)
		}
		for j, it := range batch {
			lg := logits[j*w : (j+1)*w]
			if it.window >= 0 && p.Loss != nil {
				res.LossSum += p.Loss.Value(lg, y[j*w:(j+1)*w])
				res.LossSamples += int64(w)
			}
			for i, z := range lg {
				if math.IsNaN(float64(z)) {
					r := &m.Recordings[it.rec]
					return nil, fmt.Errorf("predict: %s: window at sample %d: logit %d is NaN", r.ID, it.start, i)
				}
				probs[i] = float32(sigmoid(float64(z)))
			}
			st := stitch[it.rec]
			if st == nil {
				if st, err = postproc.NewStitcher(int(m.Recordings[it.rec].Samples), rate); err != nil {
					return nil, err
				}
				stitch[it.rec] = st
			}
			if err := st.Add(int(it.start), probs); err != nil {
				return nil, fmt.Errorf("predict: %s: %w", m.Recordings[it.rec].ID, err)
			}
			res.Windows++
			if remaining[it.rec]--; remaining[it.rec] == 0 {
				tr, err := st.Trace()
				if err != nil {
					return nil, fmt.Errorf("predict: %s: %w", m.Recordings[it.rec].ID, err)
				}
				delete(stitch, it.rec)
				tails.done(it.rec)
				if err := emit(it.rec, traced(&m.Recordings[it.rec], decimate(tr, int(dec)))); err != nil {
					return nil, err
				}
			}
		}
	}
	return res, nil
}

// traced pairs a recording's trace with its reference seizures (merged).
func traced(r *cache.ManifestRecording, tr postproc.Trace) scoring.TracedRecording {
	return scoring.TracedRecording{Name: r.ID, Duration: r.DurationS, Trace: tr, Ref: RefEvents(r)}
}

// RefEvents returns a recording's seizure intervals as sorted, merged
// events.
func RefEvents(r *cache.ManifestRecording) []scoring.Event {
	evs := make([]scoring.Event, 0, len(r.Seizures))
	for _, s := range r.Seizures {
		if s.Stop > s.Start {
			evs = append(evs, scoring.Event{Start: s.Start, Stop: min(s.Stop, r.DurationS)})
		}
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].Start < evs[j].Start })
	out := evs[:0]
	for _, e := range evs {
		if n := len(out); n > 0 && e.Start <= out[n-1].Stop {
			out[n-1].Stop = max(out[n-1].Stop, e.Stop)
			continue
		}
		if e.Stop > e.Start {
			out = append(out, e)
		}
	}
	return out
}

// decimate averages blocks of d samples (the last block may be short).
func decimate(tr postproc.Trace, d int) postproc.Trace {
	if d == 1 {
		return tr
	}
	out := make([]float64, (len(tr.P)+d-1)/d)
	for i := range out {
		a, b := i*d, min((i+1)*d, len(tr.P))
		var s float64
		for _, v := range tr.P[a:b] {
			s += v
		}
		out[i] = s / float64(b-a)
	}
	return postproc.Trace{Rate: tr.Rate / float64(d), P: out}
}

// tailReader opens recording files for tail windows (one goroutine at a
// time per recording is fine: Recording.Read is safe for concurrent use).
type tailReader struct {
	mu   sync.Mutex
	dir  string
	m    *cache.Manifest
	open map[int]*cache.Recording
}

func (t *tailReader) read(rec int, start int64, n int, dst []float32) error {
	t.mu.Lock()
	r := t.open[rec]
	if r == nil {
		var err error
		r, err = cache.OpenRecording(filepath.Join(t.dir, t.m.Recordings[rec].File))
		if err != nil {
			t.mu.Unlock()
			return err
		}
		t.open[rec] = r
	}
	t.mu.Unlock()
	return r.Read(start, n, dst)
}

// done closes recording rec's file once its windows are all read.
func (t *tailReader) done(rec int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r := t.open[rec]; r != nil {
		r.Close()
		delete(t.open, rec)
	}
}

func (t *tailReader) close() {
	for _, r := range t.open {
		r.Close()
	}
}

// parallel calls fn(0..n-1) on up to workers goroutines and returns the
// first error by index.
func parallel(ctx context.Context, n, workers int, fn func(j int) error) error {
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for k := 0; k < min(max(workers, 1), n); k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				errs[j] = fn(j)
			}
		}()
	}
	var err error
feed:
	for j := 0; j < n; j++ {
		select {
		case next <- j:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err != nil {
		return err
	}
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
