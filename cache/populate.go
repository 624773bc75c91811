package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/pipeml/pipe/eeg/annot"
	"github.com/pipeml/pipe/eeg/edf"
	"github.com/pipeml/pipe/eeg/montage"
	"github.com/pipeml/pipe/eeg/preprocess"
	"github.com/pipeml/pipe/eeg/tusz"
	"github.com/pipeml/pipe/internal/atomicfile"
)

// On-error policies of Populate.
const (
	OnErrorFail = "fail"
	OnErrorSkip = "skip"
)

// QuarantineName is the file, inside the cache directory, listing the
// recordings Populate left out.
const QuarantineName = "quarantine.json"

// PopulateConfig configures Populate.
type PopulateConfig struct {
	// Source is the TUSZ root (holding train/, dev/, eval/); Dir the cache
	// directory to fill.
	Source string
	Dir    string
	// Splits to include (default all three).
	Splits []string
	// Workers is the number of recordings processed at once (default: the
	// number of CPUs).
	Workers int
	// WindowS and StrideS are the window length and stride in seconds
	// (defaults 60 and 10); they must be whole numbers of samples.
	WindowS, StrideS float64
	// Encoding is EncodingInt16 (default), EncodingFloat16 or
	// EncodingFloat32; BlockS the block length in seconds (default 1).
	Encoding string
	BlockS   float64
	// LimitFiles, when > 0, takes only the first LimitFiles recordings of
	// each split (in corpus order).
	LimitFiles int
	// OnError is OnErrorFail (default: the first bad recording fails the
	// run) or OnErrorSkip (bad recordings are quarantined and listed).
	OnError string
	// Preprocess configures the preprocessing.
	Preprocess preprocess.Config
	// NoSpill makes the preprocessing read and filter each recording twice
	// (statistics, then output) instead of keeping the filtered signal in
	// an unlinked temporary file beside the cache (8 bytes per sample and
	// channel, 140 MB per recording-hour per worker) between the passes.
	// Same output; twice the filtering work, no temporary disk.
	NoSpill bool
}

// withDefaults fills in defaults and validates.
func (c PopulateConfig) withDefaults() (PopulateConfig, error) {
	if c.Source == "" || c.Dir == "" {
		return c, errors.New("populate: source and dir must be set")
	}
	if len(c.Splits) == 0 {
		c.Splits = tusz.Splits
	}
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.WindowS == 0 {
		c.WindowS = 60
	}
	if c.StrideS == 0 {
		c.StrideS = 10
	}
	if c.Encoding == "" {
		c.Encoding = EncodingInt16
	}
	if c.BlockS == 0 {
		c.BlockS = 1
	}
	if c.OnError == "" {
		c.OnError = OnErrorFail
	}
	if c.OnError != OnErrorFail && c.OnError != OnErrorSkip {
		return c, fmt.Errorf("populate: on_error %q: want %q or %q", c.OnError, OnErrorFail, OnErrorSkip)
	}
	if err := c.Preprocess.Validate(); err != nil {
		return c, fmt.Errorf("populate: %w", err)
	}
	rate := c.Preprocess.Rate
	for _, v := range []struct {
		name string
		s    float64
	}{{"window_s", c.WindowS}, {"stride_s", c.StrideS}, {"block_s", c.BlockS}} {
		n := v.s * rate
		if !(v.s > 0) || math.Abs(n-math.Round(n)) > 1e-9*n || n < 1 {
			return c, fmt.Errorf("populate: %s = %g s is not a positive whole number of samples at %g Hz", v.name, v.s, rate)
		}
	}
	if _, err := newLayout(1, int(math.Round(c.BlockS*rate)), c.Encoding); err != nil {
		return c, fmt.Errorf("populate: %w", err)
	}
	if c.LimitFiles < 0 {
		return c, fmt.Errorf("populate: limit_files %d is negative", c.LimitFiles)
	}
	return c, nil
}

// recordingParams is what a recording file's content depends on besides its
// source; its hash decides whether an existing file can be reused.
type recordingParams struct {
	Format       string          `json:"format"`
	Preprocess   json.RawMessage `json:"preprocess"`
	Encoding     string          `json:"encoding"`
	BlockSamples int             `json:"block_samples"`
}

func (c PopulateConfig) params() (json.RawMessage, string) {
	p := recordingParams{
		Format:       fmt.Sprintf("pipe-eeg-cache/%d", FormatVersion),
		Preprocess:   c.Preprocess.Canonical(),
		Encoding:     c.Encoding,
		BlockSamples: int(math.Round(c.BlockS * c.Preprocess.Rate)),
	}
	b, _ := json.Marshal(p)
	h := sha256.Sum256(b)
	return b, hex.EncodeToString(h[:])
}

// QuarantineEntry is one recording Populate left out.
type QuarantineEntry struct {
	Split  string `json:"split"`
	ID     string `json:"id"`
	EDF    string `json:"edf"`
	Reason string `json:"reason"`
}

// PopulateResult summarises a Populate run.
type PopulateResult struct {
	Manifest *Manifest
	// Built counts recordings processed now, Reused those whose existing
	// file matched, Short those shorter than one window (no windows).
	Built, Reused, Short int
	// Quarantine lists the recordings left out (OnErrorSkip).
	Quarantine []QuarantineEntry
	// SourceBytes is the size of the EDF files processed now; CacheBytes
	// the size of all recording files in the manifest.
	SourceBytes, CacheBytes int64
	// Warnings are layout problems that did not stop the run.
	Warnings []string
}

// RecordingError is a recording that could not be processed.
type RecordingError struct {
	Split, ID, EDF string
	Err            error
}

// Error names the EDF file once: readers' errors that already start with
// the path are not prefixed again.
func (e *RecordingError) Error() string {
	msg := e.Err.Error()
	if strings.HasPrefix(msg, e.EDF) {
		return msg
	}
	return e.EDF + ": " + msg
}
func (e *RecordingError) Unwrap() error { return e.Err }

// Populate fills cfg.Dir from the corpus at cfg.Source: one recording file
// per EDF file (reusing files whose source fingerprint and parameters match),
// then the manifest and the quarantine report. Each recording file is
// written atomically, so a run killed at any point leaves complete files
// that the next run reuses. Memory is bounded by Workers, independently of
// recording length. A nil prog reports nowhere; a nil log writes no report.
func Populate(ctx context.Context, cfg PopulateConfig, prog Progress, log io.Writer) (*PopulateResult, error) {
	if prog == nil {
		prog = NopProgress{}
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	corpus, err := tusz.Walk(cfg.Source, cfg.Splits)
	if err != nil {
		return nil, fmt.Errorf("populate: %w", err)
	}
	if err := tusz.CheckPatientDisjoint(corpus.Recordings); err != nil {
		return nil, fmt.Errorf("populate %s: %w", cfg.Source, err)
	}
	res := &PopulateResult{}
	missingAnnot := map[string]bool{}
	for _, p := range corpus.Problems {
		if strings.HasSuffix(p.Msg, ".csv_bi beside it") {
			missingAnnot[p.Path] = true // reported per recording below
			continue
		}
		res.Warnings = append(res.Warnings, p.String())
	}
	recs := limitPerSplit(corpus.Recordings, cfg.LimitFiles)
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("populate: %w", err)
	}
	removeStaleTemps(filepath.Join(cfg.Dir, "rec"))

	params, hash := cfg.params()
	prog.Total(int64(len(recs)), "files")
	entries := make([]*builtEntry, len(recs))
	errs := make([]error, len(recs))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var hours float64
	for w := 0; w < min(cfg.Workers, max(1, len(recs))); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				e, built, err := processRecording(ctx, &cfg, corpus.Root, &recs[i], params, hash)
				mu.Lock()
				if err != nil {
					errs[i] = &RecordingError{Split: recs[i].Split, ID: recs[i].ID(), EDF: recs[i].EDF, Err: err}
					if cfg.OnError == OnErrorFail && !errors.Is(err, montage.ErrSkip) && ctx.Err() == nil {
						cancel()
					}
				} else {
					entries[i] = e
					hours += e.DurationS / 3600
					if built > 0 {
						res.Built++
						res.SourceBytes += built
					} else {
						res.Reused++
					}
				}
				prog.Add(1)
				prog.Status(fmt.Sprintf("%.1f h cached, %d built, %d reused, %d failed", hours, res.Built, res.Reused, countErrs(errs)))
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range recs {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()

	man := &Manifest{Format: "pipe-eeg-cache-manifest", Version: FormatVersion, Source: cfg.Source,
		Params: params, ParamsHash: hash, Channels: nil, Rate: cfg.Preprocess.Rate, Encoding: cfg.Encoding,
		BlockSamples: int(math.Round(cfg.BlockS * cfg.Preprocess.Rate)),
		WindowS:      cfg.WindowS, StrideS: cfg.StrideS,
		WindowSamples: int64(math.Round(cfg.WindowS * cfg.Preprocess.Rate)), StrideSamples: int64(math.Round(cfg.StrideS * cfg.Preprocess.Rate)),
		Recordings: []ManifestRecording{}}
	for i, e := range entries {
		if err := errs[i]; err != nil {
			var re *RecordingError
			errors.As(err, &re)
			if cfg.OnError == OnErrorFail && !errors.Is(err, montage.ErrSkip) && !errors.Is(err, context.Canceled) {
				return nil, fmt.Errorf("populate: %w (on_error = \"fail\"; set on_error = \"skip\" to quarantine bad recordings)", err)
			}
			if !errors.Is(err, context.Canceled) {
				res.Quarantine = append(res.Quarantine, QuarantineEntry{Split: re.Split, ID: re.ID, EDF: recs[i].Rel(corpus.Root), Reason: re.Err.Error()})
			}
			continue
		}
		if e == nil {
			continue // not reached: cancelled before it started
		}
		if man.Channels == nil {
			man.Channels = e.channels
		} else if !slices.Equal(man.Channels, e.channels) {
			return nil, fmt.Errorf("populate: %s has channels %v, other recordings %v", e.File, e.channels, man.Channels)
		}
		if e.Windows == 0 {
			res.Short++
		}
		res.CacheBytes += e.fileBytes
		man.Recordings = append(man.Recordings, e.ManifestRecording)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("populate: %w", err)
	}
	if man.Channels == nil {
		man.Channels = []string{}
	}
	for i := range man.Recordings {
		r := &man.Recordings[i]
		r.SeizureWindows = 0
		for _, f := range r.SeizureFraction {
			if f > 0 {
				r.SeizureWindows++
			}
		}
	}
	man.Quarantined = len(res.Quarantine)
	man.summarise()
	if err := writeQuarantine(cfg.Dir, res.Quarantine); err != nil {
		return nil, err
	}
	if err := WriteManifest(cfg.Dir, man); err != nil {
		return nil, err
	}
	res.Manifest = man
	if log != nil {
		writePopulateReport(log, cfg, res)
	}
	return res, nil
}

func countErrs(errs []error) int {
	n := 0
	for _, e := range errs {
		if e != nil {
			n++
		}
	}
	return n
}

// limitPerSplit keeps the first n recordings of each split (all if n ≤ 0).
func limitPerSplit(recs []tusz.Recording, n int) []tusz.Recording {
	if n <= 0 {
		return recs
	}
	count := map[string]int{}
	var out []tusz.Recording
	for _, r := range recs {
		if count[r.Split] < n {
			out = append(out, r)
			count[r.Split]++
		}
	}
	return out
}

// removeStaleTemps deletes temporary recording files left by a killed run.
func removeStaleTemps(dir string) {
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), ".eegc.tmp-") {
			os.Remove(p)
		}
		return nil
	})
}

func writeQuarantine(dir string, q []QuarantineEntry) error {
	if q == nil {
		q = []QuarantineEntry{}
	}
	b, err := json.MarshalIndent(q, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, QuarantineName), append(b, '\n'), 0o644)
}

// ReadQuarantine reads the quarantine report of a cache directory.
func ReadQuarantine(dir string) ([]QuarantineEntry, error) {
	b, err := os.ReadFile(filepath.Join(dir, QuarantineName))
	if err != nil {
		return nil, err
	}
	var q []QuarantineEntry
	if err := json.Unmarshal(b, &q); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, QuarantineName), err)
	}
	return q, nil
}

func writePopulateReport(w io.Writer, cfg PopulateConfig, res *PopulateResult) {
	m := res.Manifest
	fmt.Fprintf(w, "cache %s: %d recordings (%d built, %d reused), %d windows of %gs every %gs, %d quarantined\n",
		cfg.Dir, len(m.Recordings), res.Built, res.Reused, m.Windows, m.WindowS, m.StrideS, len(res.Quarantine))
	for _, s := range tusz.Splits {
		if sp, ok := m.Splits[s]; ok {
			fmt.Fprintf(w, "  %-5s %5d recordings %4d patients %8.2f h (%.2f h seizure) %7d windows (%d with seizure)\n",
				s, sp.Recordings, sp.Patients, sp.Hours, sp.SeizureHours, sp.Windows, sp.SeizureWindows)
		}
	}
	if res.Short > 0 {
		fmt.Fprintf(w, "  %d recordings are shorter than one window (%gs) and have no windows\n", res.Short, m.WindowS)
	}
	const show = 20
	for i, q := range res.Quarantine {
		if i == show {
			fmt.Fprintf(w, "  ... and %d more quarantined (all listed in %s)\n", len(res.Quarantine)-show, filepath.Join(cfg.Dir, QuarantineName))
			break
		}
		fmt.Fprintf(w, "  quarantined %s: %s\n", q.EDF, q.Reason)
	}
	for _, warn := range res.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
}

// annotationTolerance is how far (in seconds) annotations may extend past
// the end of the EDF data, and how much the csv_bi duration may differ from
// it (TUSZ rounds durations to 0.01 s).
const annotationTolerance = 1.0

// processRecording makes (or reuses) the cache file of one recording. It
// returns the manifest entry and the number of EDF bytes processed (0 when
// the existing file was reused).
func processRecording(ctx context.Context, cfg *PopulateConfig, root string, rec *tusz.Recording, params json.RawMessage, hash string) (*builtEntry, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if rec.CSVBI == "" {
		return nil, 0, errors.New("no .csv_bi annotation file beside it")
	}
	rel := filepath.FromSlash(filepath.Join("rec", rec.Split, rec.Patient, rec.ID()+".eegc"))
	out := filepath.Join(cfg.Dir, rel)
	src, err := statSource(root, rec)
	if err != nil {
		return nil, 0, err
	}
	// Reuse: same parameters and same source (by size and time, else by content).
	if old, sum, err := ReadRecordingMeta(out); err == nil && old.ParamsHash == hash {
		same := old.Source.EDFSize == src.EDFSize && old.Source.EDFModTime == src.EDFModTime &&
			old.Source.AnnotSize == src.AnnotSize && old.Source.AnnotModTime == src.AnnotModTime
		if !same {
			if src.XXH3, err = contentHash(rec); err != nil {
				return nil, 0, err
			}
			same = src.XXH3 == old.Source.XXH3
		}
		if same {
			st, _ := os.Stat(out)
			return entryFor(cfg.WindowS, cfg.StrideS, rel, old, sum, st.Size()), 0, nil
		}
	}
	if src.XXH3 == "" {
		if src.XXH3, err = contentHash(rec); err != nil {
			return nil, 0, err
		}
	}

	af, err := annot.ReadFile(rec.CSVBI)
	if err != nil {
		return nil, 0, err
	}
	r, err := edf.Open(rec.EDF)
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	h := r.Header()
	if h.Truncated {
		return nil, 0, fmt.Errorf("truncated: the header declares %d data records, the file holds %d complete ones (%d bytes missing)",
			h.DeclaredRecords, h.Records, h.DeclaredRecords*h.RecordBytes-h.Records*h.RecordBytes-h.TrailingBytes)
	}
	if h.Records == 0 {
		return nil, 0, errors.New("the EDF file holds no data records")
	}
	if r.Discontinuous() {
		return nil, 0, fmt.Errorf("%s file with gaps between data records (record starts from its TALs): the cache stores continuous signals only", h.Format)
	}
	edfDur := h.Duration().Seconds()
	if math.Abs(af.Duration-edfDur) > annotationTolerance {
		return nil, 0, fmt.Errorf("the EDF file holds %.2f s of data but %s says the recording lasts %.2f s", edfDur, filepath.Base(rec.CSVBI), af.Duration)
	}
	var events []Event
	var seiz []Interval
	for _, ev := range af.TermEvents() {
		if ev.Stop > edfDur+annotationTolerance {
			return nil, 0, fmt.Errorf("annotation %q at %.4f–%.4f s in %s lies outside the recording (%.2f s)", ev.Label, ev.Start, ev.Stop, filepath.Base(rec.CSVBI), edfDur)
		}
		events = append(events, Event{Start: ev.Start, Stop: ev.Stop, Label: ev.Label})
		if annot.IsSeizure(ev.Label) {
			seiz = append(seiz, Interval{Start: ev.Start, Stop: min(ev.Stop, edfDur)})
		}
	}
	if events == nil {
		events = []Event{}
	}
	seiz = mergeIntervals(seiz)

	inputs, sigs := preprocess.EDFInputs(h)
	p, err := preprocess.New(cfg.Preprocess, inputs)
	if err != nil {
		return nil, 0, err
	}
	block := int(math.Round(cfg.BlockS * cfg.Preprocess.Rate))
	w, err := CreateRecording(out, len(p.Channels()), block, cfg.Encoding)
	if err != nil {
		return nil, 0, err
	}
	var opt preprocess.RunOptions
	if !cfg.NoSpill {
		opt.SpillDir = filepath.Dir(out)
	}
	sum, err := p.RunWith(ctx, preprocess.EDFSource(r, sigs, p), w.Write, opt)
	if err != nil {
		w.Abort()
		return nil, 0, err
	}
	meta := &RecordingMeta{
		ID: rec.ID(), Split: rec.Split, Patient: rec.Patient, Session: rec.Session, Montage: rec.Montage,
		Source: src, Params: params, ParamsHash: hash,
		Channels: p.Channels(), Rate: p.Rate(), Start: h.Start.Format(time.RFC3339Nano),
		Seizures: seiz, Events: events, Notes: append(sum.Notes, h.Warnings...),
	}
	if meta.Seizures == nil {
		meta.Seizures = []Interval{}
	}
	if err := w.Close(meta); err != nil {
		return nil, 0, err
	}
	st, err := os.Stat(out)
	if err != nil {
		return nil, 0, err
	}
	_, msum, err := ReadRecordingMeta(out)
	if err != nil {
		return nil, 0, err
	}
	return entryFor(cfg.WindowS, cfg.StrideS, rel, meta, msum, st.Size()), h.HeaderBytes + h.Records*h.RecordBytes, nil
}

// statSource fingerprints a recording's files by size and modification time.
func statSource(root string, rec *tusz.Recording) (Source, error) {
	var s Source
	st, err := os.Stat(rec.EDF)
	if err != nil {
		return s, err
	}
	at, err := os.Stat(rec.CSVBI)
	if err != nil {
		return s, err
	}
	s.EDF = rec.Rel(root)
	s.Annotations = filepath.ToSlash(strings.TrimSuffix(s.EDF, filepath.Ext(s.EDF)) + ".csv_bi")
	s.EDFSize, s.EDFModTime = st.Size(), st.ModTime().UTC().Format(time.RFC3339Nano)
	s.AnnotSize, s.AnnotModTime = at.Size(), at.ModTime().UTC().Format(time.RFC3339Nano)
	return s, nil
}

// contentHash is the XXH3-128 of the EDF bytes followed by the csv_bi bytes.
func contentHash(rec *tusz.Recording) (string, error) {
	h := xxh3.New()
	for _, p := range []string{rec.EDF, rec.CSVBI} {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
	}
	sum := h.Sum128().Bytes()
	return hex.EncodeToString(sum[:]), nil
}
