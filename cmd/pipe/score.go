package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pipeml/pipe/eeg/annot"
	"github.com/pipeml/pipe/postproc"
	"github.com/pipeml/pipe/report"
	"github.com/pipeml/pipe/scoring"
)

// scoreReportRate is the rate (Hz) of the piecewise-constant confidence
// traces that `pipe score --report` builds from hypothesis files.
const scoreReportRate = 4

func newScoreCmd(g *globals) *cobra.Command {
	var ref, hyp, method, reportDir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "score --ref REF --hyp HYP",
		Short: "Score seizure detections (NEDC OVLP/TAES/epoch, SzCORE) against reference annotations",
		Long: `Score hypothesis annotations against reference annotations.

REF and HYP are each a single annotation file (TUH .csv_bi/.csv or SzCORE/BIDS
events.tsv), a directory (annotation files found recursively and paired by
their path without extension; .csv_bi preferred over .tsv over .csv), or a
list file with one path per line (NEDC's convention: the i-th reference goes
with the i-th hypothesis; relative paths resolve against the list file's
directory). Methods: ovlp, taes, epoch, dpalign, szcore (events),
szcore_sample, or all. Only term-based (TERM) events count; FA/24h is over
the summed durations of the reference files. --report DIR also writes
report.json, report.md and plots, sweeping the hypothesis events'
confidence as the detection threshold.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ref == "" || hyp == "" {
				return usageErr(errors.New("score: --ref and --hyp are required"))
			}
			methods, err := scoreMethods(method)
			if err != nil {
				return usageErr(err)
			}
			pairs, err := pairAnnotations(ref, hyp)
			if err != nil {
				return usageErr(fmt.Errorf("score: %w", err))
			}
			recs, hypFiles, err := loadPairs(pairs)
			if err != nil {
				return stageErr(fmt.Errorf("score: %w", err))
			}
			var results []scoring.Result
			for _, m := range methods {
				r, err := scoring.Score(m, recs)
				if err != nil {
					return stageErr(fmt.Errorf("score: %w", err))
				}
				results = append(results, r)
			}
			if reportDir != "" {
				if err := writeScoreReport(cmd, reportDir, recs, hypFiles, results); err != nil {
					return stageErr(fmt.Errorf("score: %w", err))
				}
			}
			if asJSON {
				out := make(map[string]scoring.Result, len(results))
				for _, r := range results {
					out[r.Method] = r
				}
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			printScoreTable(g, len(recs), results)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ref, "ref", "", "reference annotations: file, directory or list file")
	f.StringVar(&hyp, "hyp", "", "hypothesis annotations: file, directory or list file")
	f.StringVar(&method, "method", "all", "ovlp, taes, epoch, dpalign, szcore, szcore_sample or all")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON, one object per method")
	f.StringVar(&reportDir, "report", "", "also write report.json, report.md and PNG plots into this directory")
	return cmd
}

func scoreMethods(method string) ([]string, error) {
	if method == "all" {
		return scoring.Methods, nil
	}
	if slices.Contains(scoring.Methods, method) {
		return []string{method}, nil
	}
	return nil, fmt.Errorf("score: unknown --method %q (want %s or all)", method, strings.Join(scoring.Methods, ", "))
}

func printScoreTable(g *globals, n int, results []scoring.Result) {
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "method\ttargets\thits\tmisses\tfalse alarms\tsens %\tspec %\tFA/24h\tduration s\t")
	for _, r := range results {
		spec := "-"
		if r.Specificity != nil {
			spec = fmt.Sprintf("%.4f", *r.Specificity)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.4f\t%s\t%.4f\t%.1f\t\n", r.Method, num(r.Targets), num(r.Hits), num(r.Misses),
			num(r.FalseAlarms), r.Sensitivity, spec, r.FAPer24h, r.TotalDuration)
	}
	tw.Flush()
	fmt.Fprintf(g.stdout, "%d recordings. Epoch FA/24h: seconds of false alarm per 24 h (NEDC); szcore_sample: samples.\n", n)
}

func num(x float64) string {
	if x == math.Trunc(x) {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

// annotPair is one reference file and its hypothesis.
type annotPair struct{ name, ref, hyp string }

// annotSide is one side (REF or HYP) resolved to files: keyed (from a
// directory) or ordered (from a list or a single file).
type annotSide struct {
	paths []string
	keys  []string // nil unless from a directory
}

// annotExts are the annotation file kinds, most preferred first.
var annotExts = []string{".csv_bi", ".tsv", ".csv"}

func isAnnotFile(path string) bool {
	return slices.Contains(annotExts, strings.ToLower(filepath.Ext(path)))
}

func resolveSide(path string) (annotSide, error) {
	st, err := os.Stat(path)
	if err != nil {
		return annotSide{}, err
	}
	switch {
	case st.IsDir():
		return walkAnnotations(path)
	case isAnnotFile(path):
		return annotSide{paths: []string{path}}, nil
	}
	return readListFile(path)
}

// walkAnnotations finds the annotation files under dir of the most
// preferred kind present, keyed by their path relative to dir without the
// extension (and without "_events" for events.tsv).
func walkAnnotations(dir string) (annotSide, error) {
	byExt := map[string][]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isAnnotFile(p) {
			ext := strings.ToLower(filepath.Ext(p))
			byExt[ext] = append(byExt[ext], p)
		}
		return nil
	})
	if err != nil {
		return annotSide{}, err
	}
	for _, ext := range annotExts {
		paths := byExt[ext]
		if len(paths) == 0 {
			continue
		}
		sort := slices.Clone(paths)
		slices.Sort(sort)
		side := annotSide{paths: sort}
		for _, p := range sort {
			rel, _ := filepath.Rel(dir, p)
			key := strings.TrimSuffix(rel, filepath.Ext(rel))
			side.keys = append(side.keys, strings.TrimSuffix(key, "_events"))
		}
		return side, nil
	}
	return annotSide{}, fmt.Errorf("%s: no .csv_bi, .tsv or .csv files", dir)
}

// readListFile reads NEDC's list format: one path per line, blank lines
// and '#' comments skipped, relative paths against the list's directory.
func readListFile(path string) (annotSide, error) {
	f, err := os.Open(path)
	if err != nil {
		return annotSide{}, err
	}
	defer f.Close()
	var side annotSide
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if !isAnnotFile(s) {
			return annotSide{}, fmt.Errorf("%s:%d: %q is not an annotation file (.csv_bi, .csv or .tsv)", path, line, s)
		}
		if !filepath.IsAbs(s) {
			s = filepath.Join(filepath.Dir(path), s)
		}
		side.paths = append(side.paths, s)
	}
	if err := sc.Err(); err != nil {
		return annotSide{}, fmt.Errorf("%s: %w", path, err)
	}
	if len(side.paths) == 0 {
		return annotSide{}, fmt.Errorf("%s: list file names no annotation file", path)
	}
	return side, nil
}

// pairAnnotations resolves REF and HYP and pairs their files: by key when
// either side is a directory (the other side's files keyed by base name),
// otherwise by position.
func pairAnnotations(refPath, hypPath string) ([]annotPair, error) {
	ref, err := resolveSide(refPath)
	if err != nil {
		return nil, fmt.Errorf("--ref: %w", err)
	}
	hyp, err := resolveSide(hypPath)
	if err != nil {
		return nil, fmt.Errorf("--hyp: %w", err)
	}
	if ref.keys == nil && hyp.keys == nil {
		if len(ref.paths) != len(hyp.paths) {
			return nil, fmt.Errorf("%d reference files but %d hypothesis files", len(ref.paths), len(hyp.paths))
		}
		pairs := make([]annotPair, len(ref.paths))
		for i := range pairs {
			pairs[i] = annotPair{filepath.Base(ref.paths[i]), ref.paths[i], hyp.paths[i]}
		}
		return pairs, nil
	}
	keyed := func(s annotSide) ([]string, map[string]string, error) {
		keys := s.keys
		if keys == nil {
			for _, p := range s.paths {
				b := filepath.Base(p)
				keys = append(keys, strings.TrimSuffix(strings.TrimSuffix(b, filepath.Ext(b)), "_events"))
			}
		}
		m := make(map[string]string, len(keys))
		for i, k := range keys {
			if prev, dup := m[k]; dup {
				return nil, nil, fmt.Errorf("%s and %s have the same name", prev, s.paths[i])
			}
			m[k] = s.paths[i]
		}
		return keys, m, nil
	}
	refKeys, refMap, err := keyed(ref)
	if err != nil {
		return nil, fmt.Errorf("--ref: %w", err)
	}
	_, hypMap, err := keyed(hyp)
	if err != nil {
		return nil, fmt.Errorf("--hyp: %w", err)
	}
	var pairs []annotPair
	var missing []string
	for _, k := range refKeys {
		h, ok := hypMap[k]
		if !ok {
			missing = append(missing, k)
			continue
		}
		pairs = append(pairs, annotPair{filepath.Base(k), refMap[k], h})
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no hypothesis file for %d reference files: %s", len(missing), strings.Join(missing[:min(5, len(missing))], ", "))
	}
	var extra []string
	for k := range hypMap {
		if _, ok := refMap[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return nil, fmt.Errorf("no reference file for %d hypothesis files: %s", len(extra), strings.Join(extra[:min(5, len(extra))], ", "))
	}
	return pairs, nil
}

// loadPairs reads every pair into scoring recordings; it also returns the
// hypothesis files, whose confidences --report uses.
func loadPairs(pairs []annotPair) ([]scoring.Recording, []*annot.File, error) {
	recs := make([]scoring.Recording, len(pairs))
	hyps := make([]*annot.File, len(pairs))
	for i, p := range pairs {
		rf, err := annot.ReadFile(p.ref)
		if err != nil {
			return nil, nil, err
		}
		hf, err := annot.ReadFile(p.hyp)
		if err != nil {
			return nil, nil, err
		}
		if recs[i], err = scoring.RecordingFromFiles(p.name, rf, hf); err != nil {
			return nil, nil, fmt.Errorf("%s vs %s: %w", p.ref, p.hyp, err)
		}
		hyps[i] = hf
	}
	return recs, hyps, nil
}

// writeScoreReport builds a report for annotation-only detectors: each
// hypothesis becomes a piecewise-constant trace at scoreReportRate holding
// the confidence of the seizure event covering each sample (0 outside;
// "n/a" counts as 1), and the sweep runs over the distinct confidences. The
// scores printed in the report are the exact file scores.
func writeScoreReport(cmd *cobra.Command, dir string, recs []scoring.Recording, hyps []*annot.File, results []scoring.Result) error {
	traced := make([]scoring.TracedRecording, len(recs))
	confs := map[float64]bool{}
	for i, r := range recs {
		n := int(math.Ceil(r.Duration * scoreReportRate))
		p := make([]float64, n)
		for _, e := range hyps[i].SeizureEvents() {
			c := e.Confidence
			if math.IsNaN(c) {
				c = 1
			}
			c = math.Min(1, math.Max(c, 0))
			confs[c] = true
			for k := max(0, int(math.Ceil(e.Start*scoreReportRate-0.5))); k < n && (float64(k)+0.5)/scoreReportRate < e.Stop; k++ {
				p[k] = math.Max(p[k], c)
			}
		}
		traced[i] = scoring.TracedRecording{Name: r.Name, Duration: r.Duration,
			Trace: postproc.Trace{Rate: scoreReportRate, P: p}, Ref: r.Ref}
	}
	grid := make([]float64, 0, len(confs))
	for c := range confs {
		grid = append(grid, math.Max(c, math.SmallestNonzeroFloat64))
	}
	slices.Sort(grid)
	op := 1.0
	if len(grid) > 0 {
		op = grid[0]
	}
	in := &report.Input{
		Title:           "pipe score",
		Recordings:      traced,
		Post:            postproc.Threshold(op),
		Grid:            grid,
		ThresholdSource: "oracle: thresholds on the hypothesis events' confidence, chosen on the reported data",
		Scores:          results,
	}
	rep, err := report.Build(cmd.Context(), in)
	if err != nil {
		return err
	}
	return report.Write(dir, rep)
}
