// Package demo writes deterministic demo data in the layout of the TUH EEG
// Seizure Corpus (TUSZ v2): a tree
//
//	<out>/{train,dev,eval}/<patient>/<session>/<montage>/<patient>_<session>_<token>.edf
//
// of EDF+ files with a .csv_bi seizure annotation beside each, splits
// disjoint by patient, so that the whole EEG pipeline (populate_cache,
// training, evaluation) can run without the real corpus.
//
// The EEG is synthetic but shaped like the real thing: 21 electrodes (the
// 19 of the 10-20 system and the ears, TUH labels such as "EEG FP1-REF")
// plus ECG, photic and 1 Hz channels, at 256 Hz (some patients at 250 or
// 400 Hz, so that resampling is exercised). The background is 1/f noise
// with volume conduction between neighbouring electrodes, a posterior alpha
// rhythm that comes and goes with eyes open/closed and drowsiness (theta),
// mains interference, ECG leaking into the ear electrodes, and artefacts:
// eye blinks and lateral eye movements (frontal, up to 300 µV), muscle
// bursts (temporal, broadband), movement (all electrodes, slow, up to
// 450 µV) and electrode pops. Seizures last 10–120 s: a rhythmic discharge
// with a patient-specific waveform (harmonics, spike-and-wave) whose
// frequency falls from 5–8 Hz to 2.5–4 Hz while its amplitude builds up,
// starting at a focus and spreading to neighbouring electrodes (or
// generalised), followed by post-ictal slowing. Seizure amplitude at the
// focus peaks at 0.6 to 3 times the background σ, so that
// amplitude alone does not separate seizures from the artefact-laden
// background; the rhythm, its evolution and its spread do.
//
// Everything is drawn from random streams derived from the seed, per
// patient and per recording, so the output is byte-identical for the same
// configuration whatever the number of workers (for one build on one
// architecture: the math library and fused multiply-add may round
// differently elsewhere). Files are written atomically; a rerun with the
// same configuration keeps the complete files and writes the rest.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/pipeml/pipe/eeg/edf"
	"github.com/pipeml/pipe/internal/atomicfile"
)

// Version identifies the generator: it changes whenever the same
// configuration would produce different files.
const Version = "2"

// ParamsName is the file, in the output directory, recording the
// configuration the tree was made with.
const ParamsName = "demo.json"

// PatientCounts is the number of patients per split.
type PatientCounts struct {
	Train int `json:"train"`
	Dev   int `json:"dev"`
	Eval  int `json:"eval"`
}

// Total is the number of patients over all splits.
func (p PatientCounts) Total() int { return p.Train + p.Dev + p.Eval }

// Config configures Generate.
type Config struct {
	// Out is the output directory (the TUSZ root).
	Out string `json:"-"`
	// Patients per split.
	Patients PatientCounts `json:"patients"`
	// Recordings per patient (sessions of up to two recordings each).
	Recordings int `json:"recordings_per_patient"`
	// Minutes per recording.
	Minutes float64 `json:"minutes"`
	// SeizureRate is the mean number of seizures per recording-hour
	// (patients vary around it; 0 means no seizures).
	SeizureRate float64 `json:"seizure_rate"`
	// Seed selects the data; the same seed gives the same files.
	Seed uint64 `json:"seed"`
	// Workers is the number of files written at once (default: all CPUs).
	// It does not change the output.
	Workers int `json:"-"`
}

// DefaultConfig is the demo corpus of the example pipelines: 12 train, 6
// dev and 4 eval patients with two 10-minute recordings each (7.3
// recording-hours), about 12 seizures per hour (roughly 15% of the time).
func DefaultConfig() Config {
	return Config{Patients: PatientCounts{Train: 12, Dev: 6, Eval: 4}, Recordings: 2, Minutes: 10, SeizureRate: 12, Seed: 1}
}

// SplitPatients divides n patients between train, dev and eval in the
// proportions of DefaultConfig (12:6:4), each split getting at least one.
func SplitPatients(n int) (PatientCounts, error) {
	if n < 3 {
		return PatientCounts{}, fmt.Errorf("demo: %d patients: need at least 3 (one per split)", n)
	}
	dev := max(1, (n*6+11)/22)
	eval := max(1, (n*4+11)/22)
	return PatientCounts{Train: n - dev - eval, Dev: dev, Eval: eval}, nil
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.Out == "" {
		return errors.New("demo: no output directory")
	}
	p := c.Patients
	if p.Train < 0 || p.Dev < 0 || p.Eval < 0 || p.Total() == 0 {
		return fmt.Errorf("demo: patients %+v: want counts ≥ 0, at least one patient", p)
	}
	if p.Total() > 100000 {
		return fmt.Errorf("demo: %d patients is more than the 100000 this generator names", p.Total())
	}
	if c.Recordings < 1 || c.Recordings > 1998 {
		return fmt.Errorf("demo: %d recordings per patient: want 1..1998", c.Recordings)
	}
	if !(c.Minutes >= 0.5) || c.Minutes > 24*60 {
		return fmt.Errorf("demo: %g minutes per recording: want 0.5 to 1440", c.Minutes)
	}
	if !(c.SeizureRate >= 0) || c.SeizureRate > 120 {
		return fmt.Errorf("demo: seizure rate %g per hour: want 0 to 120", c.SeizureRate)
	}
	return nil
}

// Progress receives progress reports (stages.Progress satisfies it).
type Progress interface {
	Total(n int64, unit string)
	Add(n int64)
	Status(text string)
}

type nopProgress struct{}

func (nopProgress) Total(int64, string) {}
func (nopProgress) Add(int64)           {}
func (nopProgress) Status(string)       {}

// Result summarises a Generate run.
type Result struct {
	// Dir is the output directory.
	Dir string
	// Recordings is the number of recordings in the tree; Written those
	// written now, Kept those a previous run had completed.
	Recordings, Written, Kept int
	// Hours and SeizureHours are recording time and annotated seizure
	// time over the tree; Seizures counts the seizures.
	Hours, SeizureHours float64
	Seizures            int
	// Per split: recordings, hours, seizure hours.
	Splits map[string]SplitSummary
}

// SplitSummary describes one split of the tree.
type SplitSummary struct {
	Patients, Recordings int
	Hours, SeizureHours  float64
}

// Plan lists the recordings cfg describes (without writing anything).
func Plan(cfg Config) ([]*Recording, error) {
	cfg.Out = "."
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return plan(cfg)
}

// Generate writes the tree cfg describes into cfg.Out. A file already
// present from a run with the same configuration is kept; when cfg.Out holds
// a tree made with another configuration, its split directories are removed
// first. A directory holding split directories without the demo's parameter
// file is refused (it is not demo data).
func Generate(ctx context.Context, cfg Config, prog Progress, log io.Writer) (*Result, error) {
	if prog == nil {
		prog = nopProgress{}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	recs, err := plan(cfg)
	if err != nil {
		return nil, err
	}
	if err := prepareOut(cfg); err != nil {
		return nil, err
	}
	res := &Result{Dir: cfg.Out, Recordings: len(recs), Splits: map[string]SplitSummary{}}
	patients := map[string]bool{}
	secs := map[string]int{} // whole seconds per split: hours without rounding drift
	for _, r := range recs {
		sh := r.SeizureSeconds() / 3600
		res.SeizureHours += sh
		res.Seizures += len(r.Seizures)
		s := res.Splits[r.Split]
		s.Recordings++
		s.SeizureHours += sh
		secs[r.Split] += r.Seconds
		if !patients[r.Patient] {
			patients[r.Patient] = true
			s.Patients++
		}
		res.Splits[r.Split] = s
	}
	total := 0
	for sp, n := range secs {
		s := res.Splits[sp]
		s.Hours = float64(n) / 3600
		res.Splits[sp] = s
		total += n
	}
	res.Hours = float64(total) / 3600

	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	prog.Total(int64(len(recs)), "files")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *Recording)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range min(workers, len(recs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range jobs {
				wrote, err := writeRecording(ctx, cfg.Out, r)
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					cancel()
				} else if wrote {
					res.Written++
				} else {
					res.Kept++
				}
				prog.Add(1)
				prog.Status(fmt.Sprintf("%d written, %d kept", res.Written, res.Kept))
				mu.Unlock()
			}
		}()
	}
feed:
	for _, r := range recs {
		select {
		case jobs <- r:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil && !errors.Is(firstErr, context.Canceled) {
		return nil, fmt.Errorf("demo: %w", firstErr)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if firstErr != nil {
		return nil, fmt.Errorf("demo: %w", firstErr)
	}
	if log != nil {
		fmt.Fprintf(log, "demo data %s: %d recordings (%d written, %d kept), %.2f h, %d seizures (%.2f h, %.1f%%)\n",
			cfg.Out, res.Recordings, res.Written, res.Kept, res.Hours, res.Seizures, res.SeizureHours, 100*res.SeizureHours/res.Hours)
		for _, sp := range []string{"train", "dev", "eval"} {
			if s, ok := res.Splits[sp]; ok {
				fmt.Fprintf(log, "  %-5s %3d patients %4d recordings %7.2f h (%.2f h seizure)\n", sp, s.Patients, s.Recordings, s.Hours, s.SeizureHours)
			}
		}
	}
	return res, nil
}

// params is what ParamsName holds.
type params struct {
	Generator string `json:"generator"`
	Config
}

// prepareOut makes cfg.Out ready: it writes the parameter file, clearing a
// tree made with other parameters, and removes temporary files a killed run
// left behind.
func prepareOut(cfg Config) error {
	want, err := json.MarshalIndent(params{Generator: "pipe-demo/" + Version, Config: cfg}, "", "  ")
	if err != nil {
		return err
	}
	want = append(want, '\n')
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	pf := filepath.Join(cfg.Out, ParamsName)
	have, err := os.ReadFile(pf)
	switch {
	case err == nil && string(have) == string(want):
		// same tree: resume
	case err == nil:
		for _, sp := range []string{"train", "dev", "eval"} {
			if err := os.RemoveAll(filepath.Join(cfg.Out, sp)); err != nil {
				return fmt.Errorf("demo: clear the tree made with other parameters: %w", err)
			}
		}
	case errors.Is(err, os.ErrNotExist):
		for _, sp := range []string{"train", "dev", "eval"} {
			if _, err := os.Stat(filepath.Join(cfg.Out, sp)); err == nil {
				return fmt.Errorf("demo: %s already holds %s/ but no %s: not demo data, refusing to write into it", cfg.Out, sp, ParamsName)
			}
		}
	default:
		return fmt.Errorf("demo: %w", err)
	}
	if string(have) != string(want) {
		if err := atomicfile.WriteFile(pf, want, 0o644); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return filepath.WalkDir(cfg.Out, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), ".tmp-") {
			os.Remove(p)
		}
		return nil
	})
}

// chunkSeconds is how much signal is generated and written at a time.
const chunkSeconds = 10

// writeRecording writes the EDF and csv_bi of r unless both exist. It
// reports whether it wrote them.
func writeRecording(ctx context.Context, out string, r *Recording) (bool, error) {
	edfPath := filepath.Join(out, r.Rel())
	csvPath := strings.TrimSuffix(edfPath, ".edf") + ".csv_bi"
	if exists(edfPath) && exists(csvPath) {
		return false, nil
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(edfPath), 0o755); err != nil {
		return false, err
	}
	if err := atomicfile.Write(csvPath, 0o644, func(w io.Writer) error {
		return writeCSVBI(w, r.Base(), float64(r.Seconds), r.Seizures)
	}); err != nil {
		return false, err
	}
	if err := writeEDF(ctx, edfPath, r); err != nil {
		return false, err
	}
	return true, nil
}

// toDigital stores physical values as the digital values of sig: rounded
// to the nearest step and clamped to the digital range (what
// edf.Writer.WritePhysical does, without its per-sample checks).
func toDigital(dst []int32, src []float64, sig *edf.Signal) {
	g, b := 1/sig.Gain(), sig.Bias()
	lo, hi := float64(min(sig.DigitalMin, sig.DigitalMax)), float64(max(sig.DigitalMin, sig.DigitalMax))
	for i, v := range src {
		d := math.Round(v*g - b)
		if d < lo {
			d = lo
		} else if d > hi {
			d = hi
		}
		dst[i] = int32(d)
	}
}

func exists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// writeEDF generates r's signals and writes them as an EDF+C file.
func writeEDF(ctx context.Context, path string, r *Recording) error {
	sfx := r.p.montage.suffix
	eegSig := func(label string) edf.SignalSpec {
		return edf.SignalSpec{Label: label, Transducer: "Ag/AgCl electrode", Unit: "uV", Prefilter: "HP:0.000 Hz LP:0.0 Hz N:0.0",
			PhysicalMin: -4999.84, PhysicalMax: 4999.847, DigitalMin: -32767, DigitalMax: 32767, SamplesPerRecord: r.Rate}
	}
	spec := edf.FileSpec{Format: edf.EDFPlusC, Patient: r.Patient + " X X X", Recording: "X X pipe-demo",
		Start: r.Start, RecordDuration: 1e9}
	for _, e := range electrodes {
		spec.Signals = append(spec.Signals, eegSig("EEG "+e.name+sfx))
	}
	spec.Signals = append(spec.Signals, eegSig("EEG EKG1"+sfx))
	photic := eegSig("PHOTIC" + sfx)
	photic.PhysicalMin, photic.PhysicalMax = -32767, 32767
	spec.Signals = append(spec.Signals, photic)
	for _, l := range []struct{ label, unit string }{{"IBI", "sec"}, {"BURSTS", "brst/min"}, {"SUPPR", "%"}} {
		spec.Signals = append(spec.Signals, edf.SignalSpec{Label: l.label, Unit: l.unit, PhysicalMin: -3276.7, PhysicalMax: 3276.7,
			DigitalMin: -32767, DigitalMax: 32767, SamplesPerRecord: 1})
	}
	w, err := edf.Create(path, spec)
	if err != nil {
		return err
	}
	s := newSynth(r)
	data := make([][]float64, len(spec.Signals))
	dig := make([][]int32, len(spec.Signals))
	for i := range data {
		data[i] = make([]float64, chunkSeconds*spec.Signals[i].SamplesPerRecord)
		dig[i] = make([]int32, len(data[i]))
	}
	sigs := w.Header().Signals
	for sec := 0; sec < r.Seconds; sec += chunkSeconds {
		if err := ctx.Err(); err != nil {
			w.Abort()
			return err
		}
		k := min(chunkSeconds, r.Seconds-sec)
		s.fill(data[:nEl], data[nEl], sec*r.Rate, k*r.Rate)
		chunk := make([][]int32, len(data))
		for i := range data {
			chunk[i] = dig[i][:k*spec.Signals[i].SamplesPerRecord]
			toDigital(chunk[i], data[i], &sigs[i])
		}
		if err := w.WriteDigital(chunk); err != nil {
			w.Abort()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return w.Close()
}
