package annot

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"
)

// tsvColumns are the columns of a SzCORE events.tsv, in the order written.
var tsvColumns = []string{"onset", "duration", "eventType", "confidence", "channels", "dateTime", "recordingDuration"}

// ReadEventsTSV parses a SzCORE/BIDS events.tsv; name is used in errors.
//
// The first non-empty line is the tab-separated column header. Required
// columns: onset, duration (seconds), eventType (or BIDS trial_type) and
// recordingDuration (seconds, the same on every row; SzCORE writes one
// "bckg" row spanning the recording when there is no seizure). Optional:
// confidence and channels ("n/a" reads as NaN and "TERM"), dateTime ("n/a"
// reads as ""). Other columns are ignored. Every row must have as many
// fields as the header. Each row becomes an Event [onset, onset+duration]
// with Label = eventType; filter seizures with IsSeizure. Errors are
// *ParseError values naming the file and line.
func ReadEventsTSV(r io.Reader, name string) (*File, error) {
	var col map[string]int
	var ncol int
	f := &File{Format: FormatTSV, Duration: math.NaN()}
	err := eachLine(r, name, func(line string) error {
		if strings.TrimSpace(line) == "" {
			return nil
		}
		fields := strings.Split(line, "\t")
		if col == nil {
			col = make(map[string]int, len(fields))
			for i, h := range fields {
				h = strings.TrimSpace(h)
				if _, dup := col[h]; dup {
					return fmt.Errorf("column %q appears twice in the header", h)
				}
				col[h] = i
			}
			if _, ok := col["eventType"]; !ok {
				if i, ok := col["trial_type"]; ok {
					col["eventType"] = i
				}
			}
			for _, c := range []string{"onset", "duration", "eventType", "recordingDuration"} {
				if _, ok := col[c]; !ok {
					return fmt.Errorf("header lacks the %q column (have %q)", c, strings.Join(fields, ", "))
				}
			}
			ncol = len(fields)
			return nil
		}
		if len(fields) != ncol {
			return fmt.Errorf("row has %d tab-separated fields, header has %d", len(fields), ncol)
		}
		ev, rec, dateTime, err := parseTSVRow(fields, col)
		if err != nil {
			return err
		}
		if !math.IsNaN(f.Duration) && rec != f.Duration {
			return fmt.Errorf("recordingDuration %v differs from %v on an earlier row", rec, f.Duration)
		}
		f.Duration = rec
		if dateTime != "" {
			f.DateTime = dateTime
		}
		f.Events = append(f.Events, ev)
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case col == nil:
		return nil, &ParseError{File: name, Msg: "empty file: no column header"}
	case math.IsNaN(f.Duration):
		return nil, &ParseError{File: name, Msg: "no rows, so no recordingDuration (SzCORE writes a bckg row for seizure-free recordings)"}
	}
	return f, nil
}

// parseTSVRow decodes one events.tsv row given the column positions.
func parseTSVRow(fields []string, col map[string]int) (ev Event, rec float64, dateTime string, err error) {
	get := func(c string) (string, bool) {
		i, ok := col[c]
		if !ok {
			return "", false
		}
		return strings.TrimSpace(fields[i]), true
	}
	num := func(c string) (float64, error) {
		s, _ := get(c)
		x, err := parseNum(s)
		if err != nil {
			return 0, fmt.Errorf("%s: %v", c, err)
		}
		if x < 0 {
			return 0, fmt.Errorf("%s: %v must not be negative", c, x)
		}
		return x, nil
	}
	onset, err := num("onset")
	if err != nil {
		return ev, 0, "", err
	}
	dur, err := num("duration")
	if err != nil {
		return ev, 0, "", err
	}
	if rec, err = num("recordingDuration"); err != nil {
		return ev, 0, "", err
	}
	ev = Event{Start: onset, Stop: onset + dur, Channel: Term, Confidence: math.NaN()}
	ev.Label, _ = get("eventType")
	if ev.Label == "" || ev.Label == "n/a" {
		return ev, 0, "", fmt.Errorf("empty eventType")
	}
	if s, ok := get("confidence"); ok && s != "n/a" && s != "" {
		if ev.Confidence, err = parseNum(s); err != nil {
			return ev, 0, "", fmt.Errorf("confidence: %v", err)
		}
	}
	if s, ok := get("channels"); ok && s != "n/a" && s != "" {
		ev.Channel = s
	}
	if s, ok := get("dateTime"); ok && s != "n/a" {
		dateTime = s
	}
	return ev, rec, dateTime, nil
}

// WriteEventsTSV writes f as a SzCORE events.tsv: the columns onset,
// duration, eventType, confidence, channels, dateTime, recordingDuration,
// numbers with 4 decimals, "n/a" for a NaN confidence, a "TERM" channel and
// an empty DateTime. A file without events is written as one "bckg" row
// spanning [0, Duration], as SzCORE does, so that the duration survives.
func WriteEventsTSV(w io.Writer, f *File) error {
	if err := f.validate("\t"); err != nil {
		return fmt.Errorf("write events.tsv: %w", err)
	}
	for i, e := range f.Events {
		for _, s := range []string{e.Channel, e.Label} {
			if strings.ContainsAny(s, "\r\n") || s != strings.TrimSpace(s) || s == "n/a" || !utf8.ValidString(s) {
				return fmt.Errorf("write events.tsv: event %d: %q cannot be written as a TSV field", i, s)
			}
		}
	}
	if strings.ContainsAny(f.DateTime, "\t\r\n") {
		return fmt.Errorf("write events.tsv: dateTime %q contains a tab or line break", f.DateTime)
	}
	events := f.Events
	if len(events) == 0 {
		events = []Event{{Channel: Term, Start: 0, Stop: f.Duration, Label: Background, Confidence: math.NaN()}}
	}
	dt := f.DateTime
	if dt == "" {
		dt = "n/a"
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(strings.Join(tsvColumns, "\t") + "\n")
	for _, e := range events {
		conf, ch := "n/a", "n/a"
		if e.Confidence == e.Confidence {
			conf = fmt4(e.Confidence)
		}
		if e.Channel != Term {
			ch = e.Channel
		}
		fmt.Fprintf(bw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			fmt4(e.Start), fmt4(e.Stop-e.Start), e.Label, conf, ch, dt, fmt4(f.Duration))
	}
	return bw.Flush()
}
