package cache

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/pipeml/pipe/eeg/tusz"
)

// VerifyConfig configures Verify.
type VerifyConfig struct {
	// Dir is the cache directory.
	Dir string
	// Expect, when set, gives the number of recordings each split must
	// have (e.g. TUSZ v2.0: train 4667, dev 1832). Splits named here must
	// also contain seizure windows; without Expect every split present
	// must.
	Expect map[string]int
	// Workers is the number of files checked at once (default: CPUs).
	Workers int
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Recordings int
	Windows    int64
	Bytes      int64
	Splits     map[string]SplitSummary
	// Problems lists everything wrong, one line each; empty when the cache
	// is sound.
	Problems []string
	// Notes are observations that are not problems (recording files not
	// in the manifest, short recordings).
	Notes []string
}

// VerifyError is returned by Verify when it found problems.
type VerifyError struct{ Report *VerifyReport }

func (e *VerifyError) Error() string {
	p := e.Report.Problems
	const show = 20
	msg := fmt.Sprintf("cache verification found %d problems:\n  %s", len(p), strings.Join(p[:min(len(p), show)], "\n  "))
	if len(p) > show {
		msg += fmt.Sprintf("\n  ... and %d more", len(p)-show)
	}
	return msg
}

// Verify checks a cache directory: the manifest is consistent; every
// recording file opens, its metadata matches the manifest entry and its
// checksums match its content; parameters, channels, rate and layout are
// the same everywhere; the window fractions agree with the seizure
// intervals; the expected splits hold the expected number of recordings and
// contain seizures; and no patient appears in two splits. It returns the
// report, and a *VerifyError listing the problems if there are any. A nil
// prog reports nowhere.
func Verify(ctx context.Context, cfg VerifyConfig, prog Progress) (*VerifyReport, error) {
	if prog == nil {
		prog = NopProgress{}
	}
	m, err := ReadManifest(cfg.Dir)
	if err != nil {
		return nil, err
	}
	rep := &VerifyReport{Recordings: len(m.Recordings), Windows: m.Windows, Splits: map[string]SplitSummary{}}
	var mu sync.Mutex
	problem := func(format string, args ...any) {
		mu.Lock()
		rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}

	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	prog.Total(int64(len(m.Recordings)), "files")
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if ctx.Err() == nil {
					size := verifyRecording(cfg.Dir, m, i, problem)
					mu.Lock()
					rep.Bytes += size
					mu.Unlock()
				}
				prog.Add(1)
			}
		}()
	}
	for i := range m.Recordings {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	if len(m.Recordings) == 0 {
		problem("the cache holds no recordings (%d quarantined by populate: see %s)", m.Quarantined, filepath.Join(cfg.Dir, QuarantineName))
	}
	// Summaries recomputed from the entries, not trusted from the file.
	check := *m
	check.summarise()
	rep.Splits = check.Splits
	for _, s := range sortedSplits(check.Splits) {
		if got, want := m.Splits[s], check.Splits[s]; got != want {
			problem("manifest: split %s summary %+v, recordings add up to %+v", s, got, want)
		}
	}
	splitsWithSeizures := cfg.Expect
	if len(splitsWithSeizures) == 0 {
		splitsWithSeizures = map[string]int{}
		for s := range check.Splits {
			splitsWithSeizures[s] = -1
		}
	}
	var names []string
	for s := range splitsWithSeizures {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		want := splitsWithSeizures[s]
		got := check.Splits[s]
		if want >= 0 && got.Recordings != want {
			problem("split %s: %d recordings, expected %d", s, got.Recordings, want)
		}
		if got.SeizureWindows == 0 {
			problem("split %s: no window contains a seizure (labels missing?)", s)
		}
	}
	split := make([]tusz.Recording, len(m.Recordings))
	for i, r := range m.Recordings {
		split[i] = tusz.Recording{Split: r.Split, Patient: r.Patient}
	}
	if err := tusz.CheckPatientDisjoint(split); err != nil {
		problem("%v", err)
	}
	rep.Notes = append(rep.Notes, orphanFiles(cfg.Dir, m)...)
	short := 0
	for _, r := range m.Recordings {
		if r.Windows == 0 {
			short++
		}
	}
	if short > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d recordings are shorter than one window (%gs) and contribute no windows", short, m.WindowS))
	}
	sort.Strings(rep.Problems)
	if len(rep.Problems) > 0 {
		return rep, &VerifyError{Report: rep}
	}
	return rep, nil
}

// verifyRecording checks recording i of m and returns its file size.
func verifyRecording(dir string, m *Manifest, i int, problem func(string, ...any)) int64 {
	e := &m.Recordings[i]
	path := filepath.Join(dir, filepath.FromSlash(e.File))
	r, err := OpenRecording(path)
	if err != nil {
		problem("%s: %v", e.ID, err)
		return 0
	}
	defer r.Close()
	st, _ := r.f.Stat()
	md := r.Meta()
	if err := r.VerifyData(); err != nil {
		problem("%s: %v", e.ID, err)
	}
	if r.MetaXXH3() != e.MetaXXH3 {
		problem("%s: %s was replaced after the manifest was written (metadata checksum %s, manifest %s)", e.ID, e.File, r.MetaXXH3(), e.MetaXXH3)
	}
	if md.ParamsHash != m.ParamsHash {
		problem("%s: made with parameters %s, the manifest says %s", e.ID, md.ParamsHash, m.ParamsHash)
	}
	if !slices.Equal(md.Channels, m.Channels) || md.Rate != m.Rate || md.Encoding != m.Encoding || md.BlockSamples != m.BlockSamples {
		problem("%s: channels %v at %g Hz (%s, blocks of %d), the manifest says %v at %g Hz (%s, %d)", e.ID, md.Channels, md.Rate, md.Encoding, md.BlockSamples, m.Channels, m.Rate, m.Encoding, m.BlockSamples)
	}
	if md.ID != e.ID || md.Split != e.Split || md.Patient != e.Patient || md.Samples != e.Samples {
		problem("%s: file holds %s/%s/%s with %d samples, the manifest says %s/%s/%s with %d", e.ID, md.Split, md.Patient, md.ID, md.Samples, e.Split, e.Patient, e.ID, e.Samples)
	}
	ranges := seizureSamples(md.Seizures, md.Rate, md.Samples)
	fr := windowFractions(ranges, md.Samples, m.WindowSamples, m.StrideSamples)
	if len(fr) != len(e.SeizureFraction) {
		problem("%s: %d windows from the file, %d in the manifest", e.ID, len(fr), len(e.SeizureFraction))
	} else {
		for k := range fr {
			if fr[k] != e.SeizureFraction[k] {
				problem("%s: window %d seizure fraction %g in the manifest, %g from the file's labels", e.ID, k, e.SeizureFraction[k], fr[k])
				break
			}
		}
	}
	if md.DurationS > 0 && len(md.Events) == 0 {
		problem("%s: no annotation events (labels missing)", e.ID)
	}
	return st.Size()
}

// orphanFiles lists recording files in dir/rec that the manifest does not
// name.
func orphanFiles(dir string, m *Manifest) []string {
	named := map[string]bool{}
	for _, r := range m.Recordings {
		named[filepath.ToSlash(r.File)] = true
	}
	var out []string
	root := filepath.Join(dir, "rec")
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".eegc") {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if !named[filepath.ToSlash(rel)] {
			out = append(out, fmt.Sprintf("%s is not in the manifest (left from an earlier run with other settings)", filepath.ToSlash(rel)))
		}
		return nil
	})
	return out
}

// WriteReport prints a verification report.
func (rep *VerifyReport) WriteReport(w io.Writer, dir string) {
	fmt.Fprintf(w, "verify %s: %d recordings, %d windows, %.1f MB\n", dir, rep.Recordings, rep.Windows, float64(rep.Bytes)/1e6)
	for _, s := range sortedSplits(rep.Splits) {
		sp := rep.Splits[s]
		fmt.Fprintf(w, "  %-5s %5d recordings %4d patients %8.2f h (%.2f h seizure) %7d windows (%d with seizure)\n",
			s, sp.Recordings, sp.Patients, sp.Hours, sp.SeizureHours, sp.Windows, sp.SeizureWindows)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if len(rep.Problems) == 0 {
		fmt.Fprintln(w, "  OK: no problems found")
		return
	}
	fmt.Fprintf(w, "  %d problems:\n", len(rep.Problems))
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "    %s\n", p)
	}
}
