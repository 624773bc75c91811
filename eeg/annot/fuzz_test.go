package annot

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"unicode"
)

// The seed corpus lives in testdata/fuzz/Fuzz*; run for minutes by hand:
//
//	go test ./eeg/annot -run '^$' -fuzz FuzzReadCSVBI -fuzztime 5m
//	go test ./eeg/annot -run '^$' -fuzz FuzzReadEventsTSV -fuzztime 5m

// FuzzReadCSVBI: the reader never panics, fails only with a *ParseError,
// and what it accepts (with writable names) is written and read back to the
// same bytes.
func FuzzReadCSVBI(f *testing.F) {
	f.Add([]byte(sampleCSVBI))
	f.Add([]byte("# version = csv_v1.0.0\r# duration = 1 secs\rTERM,0,1,seiz,1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ReadCSVBI(bytes.NewReader(data), "fuzz")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a *ParseError: %v", err)
			}
			return
		}
		for _, e := range file.Events {
			if strings.IndexFunc(e.Channel+e.Label, unicode.IsSpace) >= 0 {
				return // tabs and odd spaces survive reading but are not written
			}
		}
		var w1, w2 bytes.Buffer
		if err := WriteCSVBI(&w1, file); err != nil {
			t.Fatalf("write of a file just read: %v\n%+v", err, file)
		}
		back, err := ReadCSVBI(bytes.NewReader(w1.Bytes()), "rewritten")
		if err != nil {
			t.Fatalf("reread: %v\n%s", err, w1.Bytes())
		}
		if len(back.Events) != len(file.Events) {
			t.Fatalf("reread %d events, wrote %d", len(back.Events), len(file.Events))
		}
		if err := WriteCSVBI(&w2, back); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(w1.Bytes(), w2.Bytes()) {
			t.Fatalf("write/read/write not stable:\n%s\n---\n%s", w1.Bytes(), w2.Bytes())
		}
	})
}

// FuzzReadEventsTSV: the reader never panics, fails only with a
// *ParseError, and what it accepts is written and read back with the same
// labels, channels and (to 4 decimals) times.
func FuzzReadEventsTSV(f *testing.F) {
	f.Add([]byte("onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n296.00\t40.00\tsz\tn/a\tn/a\t2000-01-01 00:00:00\t3600.00\n"))
	f.Add([]byte("onset\tduration\ttrial_type\trecordingDuration\r\n0\t10\tbckg\t10\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ReadEventsTSV(bytes.NewReader(data), "fuzz.tsv")
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a *ParseError: %v", err)
			}
			return
		}
		var w bytes.Buffer
		if err := WriteEventsTSV(&w, file); err != nil {
			t.Fatalf("write of a file just read: %v\n%+v", err, file)
		}
		back, err := ReadEventsTSV(bytes.NewReader(w.Bytes()), "rewritten.tsv")
		if err != nil {
			t.Fatalf("reread: %v\n%s", err, w.Bytes())
		}
		if len(back.Events) != len(file.Events) || back.DateTime != file.DateTime || !close4(back.Duration, file.Duration) {
			t.Fatalf("reread %+v, wrote %+v", back, file)
		}
		for i, e := range file.Events {
			b := back.Events[i]
			if b.Label != e.Label || b.Channel != e.Channel || !close4(b.Start, e.Start) || !close4(b.Stop, e.Stop) ||
				math.IsNaN(b.Confidence) != math.IsNaN(e.Confidence) {
				t.Fatalf("event %d: reread %+v, wrote %+v", i, b, e)
			}
		}
	})
}

// close4 reports equality up to the 4-decimal rounding of the writers
// (plus the float64 resolution of large values).
func close4(a, b float64) bool {
	return math.Abs(a-b) <= 1.5e-4+1e-12*math.Max(math.Abs(a), math.Abs(b))
}
