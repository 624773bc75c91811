package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pipeml/pipe/eeg/edf"
)

func newInspectCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show what data files hold",
	}
	cmd.AddCommand(newInspectEDFCmd(g))
	return cmd
}

func newInspectEDFCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "edf FILE...",
		Short: "Show the header, signals and annotations of EDF/EDF+/BDF/BDF+ files",
		Long: `Show the header, signals and annotations of EDF, EDF+, BDF and BDF+ files.

With --json, print one JSON object per file (one per line, in argument order):
format, start (RFC 3339, UTC, sub-seconds kept), records, record_duration_s,
duration_s, signals (annotation signals excluded; with the sum, the sum of
squares and the first and last 8 physical values of each), annotations
(onset_s, duration_s or null, text). Header warnings go to stderr.
Files that cannot be read are reported on stderr; the exit status is then 1.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := 0
			for _, path := range args {
				if err := cmd.Context().Err(); err != nil {
					return err
				}
				if err := inspectEDF(g.stdout, g.stderr, path, asJSON); err != nil {
					fmt.Fprintln(g.stderr, "Error:", err)
					failed++
				}
			}
			if failed > 0 {
				return &exitError{code: 1, err: fmt.Errorf("%d of %d files could not be read", failed, len(args)), reported: false}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per file")
	return cmd
}

// edfJSON is the --json schema of `pipe inspect edf`.
type edfJSON struct {
	Format          string          `json:"format"`
	Start           string          `json:"start"`
	Records         int64           `json:"records"`
	RecordDurationS float64         `json:"record_duration_s"`
	DurationS       float64         `json:"duration_s"`
	Signals         []edfSignalJSON `json:"signals"`
	Annotations     []edfAnnotJSON  `json:"annotations"`
}

type edfSignalJSON struct {
	Label            string    `json:"label"`
	Unit             string    `json:"unit"`
	PhysicalMin      float64   `json:"physical_min"`
	PhysicalMax      float64   `json:"physical_max"`
	DigitalMin       int32     `json:"digital_min"`
	DigitalMax       int32     `json:"digital_max"`
	SamplesPerRecord int       `json:"samples_per_record"`
	SampleRateHz     float64   `json:"sample_rate_hz"`
	Samples          int64     `json:"samples"`
	Sum              *float64  `json:"sum"`
	SumSq            *float64  `json:"sum_sq"`
	First            []float64 `json:"first"`
	Last             []float64 `json:"last"`
}

type edfAnnotJSON struct {
	OnsetS    float64  `json:"onset_s"`
	DurationS *float64 `json:"duration_s"`
	Text      string   `json:"text"`
}

func inspectEDF(stdout, stderr io.Writer, path string, asJSON bool) error {
	r, err := edf.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	h := r.Header()
	for _, w := range h.Warnings {
		fmt.Fprintf(stderr, "Warning: %s: %s\n", path, w)
	}
	if !asJSON {
		printEDF(stdout, path, r)
		return nil
	}
	stats, err := signalStats(r, 8)
	if err != nil {
		return err
	}
	out := edfJSON{
		Format:          h.Format.String(),
		Start:           h.Start.Format(time.RFC3339Nano),
		Records:         h.Records,
		RecordDurationS: seconds(h.RecordDuration),
		DurationS:       seconds(h.Duration()),
		Signals:         []edfSignalJSON{},
		Annotations:     []edfAnnotJSON{},
	}
	for i, sig := range h.DataSignals() {
		s := &h.Signals[sig]
		js := edfSignalJSON{
			Label: s.Label, Unit: s.Unit, PhysicalMin: s.PhysicalMin, PhysicalMax: s.PhysicalMax,
			DigitalMin: s.DigitalMin, DigitalMax: s.DigitalMax, SamplesPerRecord: s.SamplesPerRecord,
			SampleRateHz: s.SampleRate, Samples: h.Samples(sig), First: []float64{}, Last: []float64{},
		}
		if st := stats[i]; st.ok {
			js.Sum, js.SumSq, js.First, js.Last = &st.sum, &st.sumSq, st.first, st.last
		}
		out.Signals = append(out.Signals, js)
	}
	for _, a := range r.Annotations() {
		ja := edfAnnotJSON{OnsetS: seconds(a.Onset), Text: a.Text}
		if a.HasDuration {
			d := seconds(a.Duration)
			ja.DurationS = &d
		}
		out.Annotations = append(out.Annotations, ja)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}

// seconds converts d to seconds with one rounding (Duration.Seconds rounds
// twice, turning 1.9511719 s into 1.9511718999999998).
func seconds(d time.Duration) float64 { return float64(d) / 1e9 }

// signalStat accumulates one signal's physical values.
type signalStat struct {
	ok         bool // false when the signal cannot be scaled
	sum, sumSq float64
	first      []float64
	last       []float64 // ring of the last k values, in order once done
	seen       int64
}

// signalStats reads every data signal once, records in order, and returns
// per-signal sums and first/last k values (in DataSignals order).
func signalStats(r *edf.Reader, k int) ([]signalStat, error) {
	h := r.Header()
	data := h.DataSignals()
	stats := make([]signalStat, len(data))
	var sigs []int
	var idx []int
	for i, sig := range data {
		if h.Signals[sig].Scalable() == nil {
			stats[i] = signalStat{ok: true, first: []float64{}, last: make([]float64, 0, k)}
			sigs = append(sigs, sig)
			idx = append(idx, i)
		}
	}
	if len(sigs) == 0 || h.Records == 0 {
		return stats, nil
	}
	per := max(1, (1<<20)/h.RecordBytes)
	bufs := make([][]float64, len(sigs))
	for j, sig := range sigs {
		bufs[j] = make([]float64, per*int64(h.Signals[sig].SamplesPerRecord))
	}
	for first := int64(0); first < h.Records; first += per {
		n := min(per, h.Records-first)
		if err := r.ReadRecords(first, n, sigs, bufs); err != nil {
			return nil, err
		}
		for j, sig := range sigs {
			st := &stats[idx[j]]
			for _, v := range bufs[j][:n*int64(h.Signals[sig].SamplesPerRecord)] {
				st.sum += v
				st.sumSq += v * v
				if len(st.first) < k {
					st.first = append(st.first, v)
				}
				if len(st.last) < k {
					st.last = append(st.last, v)
				} else {
					st.last[st.seen%int64(k)] = v
				}
				st.seen++
			}
		}
	}
	for i := range stats {
		st := &stats[i]
		if st.ok && st.seen > int64(k) {
			rot := st.seen % int64(k)
			st.last = append(append([]float64{}, st.last[rot:]...), st.last[:rot]...)
		}
	}
	return stats, nil
}

// printEDF writes the human-readable description of a file.
func printEDF(w io.Writer, path string, r *edf.Reader) {
	h := r.Header()
	fmt.Fprintf(w, "%s\n", path)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  format\t%s\n", h.Format)
	fmt.Fprintf(tw, "  start\t%s\n", h.Start.Format("2006-01-02 15:04:05.999999999"))
	fmt.Fprintf(tw, "  duration\t%s (%d records × %s)\n", h.Duration(), h.Records, h.RecordDuration)
	if h.Truncated {
		fmt.Fprintf(tw, "  truncated\theader declares %d records\n", h.DeclaredRecords)
	}
	fmt.Fprintf(tw, "  patient\t%s\n", h.Patient)
	fmt.Fprintf(tw, "  recording\t%s\n", h.Recording)
	tw.Flush()
	data := h.DataSignals()
	fmt.Fprintf(w, "  signals (%d):\n", len(data))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "    #\tlabel\tunit\trate Hz\tsamples\tphysical range\tdigital range\t\n")
	for i, sig := range data {
		s := &h.Signals[sig]
		fmt.Fprintf(tw, "    %d\t%s\t%s\t%g\t%d\t%g..%g\t%d..%d\t\n", i+1, s.Label, s.Unit, s.SampleRate, h.Samples(sig), s.PhysicalMin, s.PhysicalMax, s.DigitalMin, s.DigitalMax)
	}
	tw.Flush()
	ann := r.Annotations()
	if !h.Format.IsPlus() {
		return
	}
	fmt.Fprintf(w, "  annotations (%d):\n", len(ann))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, a := range ann {
		dur := "-"
		if a.HasDuration {
			dur = a.Duration.String()
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\n", a.Onset, dur, strings.ReplaceAll(a.Text, "\n", " "))
	}
	tw.Flush()
}
