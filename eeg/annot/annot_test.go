package annot

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const sampleCSVBI = `# version = csv_v1.0.0
# bname = aaaaaasf_s001_t000
# duration = 1289.0000 secs
# montage_file = nedc_eas_default_montage.txt
#
channel,start_time,stop_time,label,confidence
TERM,42.2786,81.7760,seiz,1.0000
TERM,133.8040,162.1105,seiz,0.5000
`

func TestReadCSVBI(t *testing.T) {
	f, err := ReadCSVBI(strings.NewReader(sampleCSVBI), "x.csv_bi")
	if err != nil {
		t.Fatal(err)
	}
	want := &File{
		Format: FormatCSV, Duration: 1289, Bname: "aaaaaasf_s001_t000", Montage: "nedc_eas_default_montage.txt",
		Events: []Event{
			{Channel: "TERM", Start: 42.2786, Stop: 81.7760, Label: "seiz", Confidence: 1},
			{Channel: "TERM", Start: 133.8040, Stop: 162.1105, Label: "seiz", Confidence: 0.5},
		},
	}
	if !reflect.DeepEqual(f, want) {
		t.Fatalf("got %+v\nwant %+v", f, want)
	}
}

func TestReadCSVBIQuirks(t *testing.T) {
	tests := []struct {
		name, in string
		dur      float64
		events   []Event
	}{
		{"per-channel rows, spaces deleted, CRLF",
			"# version = csv_v1.0.0\r\n# duration = 10.5 secs\r\nFP1 - F7, 1.0 , 2.0, gn sz ,1\r\nTERM,0,10,bckg,1\r\n",
			10.5, []Event{{"FP1-F7", 1, 2, "gnsz", 1}, {"TERM", 0, 10, "bckg", 1}}},
		{"bare CR line ends, header anywhere in line, no final newline",
			"version=\"csv_v1.0.0\"\r#duration=3 secs\rxx channel,start_time,stop_time,label,confidence\rTERM,1,2,seiz,1",
			3, []Event{{"TERM", 1, 2, "seiz", 1}}},
		{"key with odd characters is not a header, later duration wins",
			"# VERSION = CSV_V1.0.0 extra\n# dur@tion = 5\n# duration = 4 secs\n# duration = 7.25 secs\n",
			7.25, nil},
		{"BOM, blank lines, comments without =",
			"\xef\xbb\xbf# version = csv_v1.0.0\n\n   \n# just a comment\n# duration = 1 secs\n#\n",
			1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ReadCSVBI(strings.NewReader(tt.in), "q")
			if err != nil {
				t.Fatal(err)
			}
			if f.Duration != tt.dur || !reflect.DeepEqual(f.Events, tt.events) {
				t.Fatalf("got dur %v events %+v, want %v %+v", f.Duration, f.Events, tt.dur, tt.events)
			}
		})
	}
}

func TestReadCSVBIErrors(t *testing.T) {
	hdr := "# version = csv_v1.0.0\n# duration = 10 secs\n"
	tests := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"no version", "# duration = 10 secs\n", 0, "no version line"},
		{"wrong version", "# version = csv_v2.0.0\n", 1, `"csv_v2.0.0" is not csv_v1.0.0`},
		{"no duration", "# version = csv_v1.0.0\nTERM,1,2,seiz,1\n", 0, "no duration header"},
		{"bad duration", "# version = csv_v1.0.0\n# duration = abc secs\n", 2, `"abc" is not a decimal number`},
		{"four fields", hdr + "TERM,1,2,seiz\n", 3, "has 4 comma-separated fields, want 5"},
		{"six fields", hdr + "\nTERM,1,2,seiz,1,1\n", 4, "has 6 comma-separated fields"},
		{"bad start", hdr + "TERM,x,2,seiz,1\n", 3, "start_time"},
		{"nan stop", hdr + "TERM,1,nan,seiz,1\n", 3, "stop_time"},
		{"inf conf", hdr + "TERM,1,2,seiz,inf\n", 3, "confidence"},
		{"hex", hdr + "TERM,0x1p1,2,seiz,1\n", 3, "not a decimal number"},
		{"reversed", hdr + "TERM,3,2,seiz,1\n", 3, "before start_time"},
		{"negative", hdr + "TERM,-1,2,seiz,1\n", 3, "negative start_time"},
		{"empty label", hdr + "TERM,1,2,,1\n", 3, "empty label"},
		{"empty channel", hdr + ",1,2,seiz,1\n", 3, "empty channel"},
		{"bad utf8", hdr + "TERM,1,2,s\xffz,1\n", 3, "UTF-8"},
		{"long line", hdr + strings.Repeat("x", maxLine+10) + "\n", 3, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCSVBI(strings.NewReader(tt.in), "bad.csv_bi")
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.File != "bad.csv_bi" || pe.Line != tt.line || !strings.Contains(pe.Msg, tt.msg) {
				t.Fatalf("err = %v (line %d), want line %d and %q", err, pe.Line, tt.line, tt.msg)
			}
			if tt.line > 0 && !strings.HasPrefix(err.Error(), "bad.csv_bi:") {
				t.Fatalf("error %q does not start with file:line", err)
			}
		})
	}
}

func TestCSVBIRoundTrip(t *testing.T) {
	f := &File{Format: FormatCSV, Duration: 301, Bname: "b", Montage: "m.txt", Events: []Event{
		{"TERM", 0, 12.5, "bckg", 1}, {"TERM", 12.5, 40.125, "seiz", math.NaN()}, {"FP1-F7", 1, 2, "gnsz", 0.25},
	}}
	var buf bytes.Buffer
	if err := WriteCSVBI(&buf, f); err != nil {
		t.Fatal(err)
	}
	g, err := ReadCSVBI(&buf, "rt")
	if err != nil {
		t.Fatal(err)
	}
	f.Events[1].Confidence = 1 // NaN is written as 1.0000
	if !reflect.DeepEqual(f, g) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", g, f)
	}
}

func TestWriteRejects(t *testing.T) {
	bad := []File{
		{Duration: math.NaN()},
		{Duration: -1},
		{Duration: 10, Events: []Event{{"TERM", 2, 1, "seiz", 1}}},
		{Duration: 10, Events: []Event{{"TERM", math.Inf(1), 1, "seiz", 1}}},
		{Duration: 10, Events: []Event{{"TERM", 1, 2, "se,iz", 1}}},
		{Duration: 10, Events: []Event{{"TERM", 1, 2, "se iz", 1}}},
		{Duration: 10, Events: []Event{{"#TERM", 1, 2, "seiz", 1}}},
		{Duration: 10, Events: []Event{{"", 1, 2, "seiz", 1}}},
		{Duration: 10, Bname: "a\nb"},
	}
	for i, f := range bad {
		if err := WriteCSVBI(&bytes.Buffer{}, &f); err == nil {
			t.Errorf("case %d: WriteCSVBI accepted %+v", i, f)
		}
	}
}

func TestIsSeizure(t *testing.T) {
	for _, l := range append(SeizureLabels, "SEIZ", "Gnsz", "sz", "sz_foc_a_m", "SZ_GEN") {
		if !IsSeizure(l) {
			t.Errorf("IsSeizure(%q) = false", l)
		}
	}
	for _, l := range []string{"bckg", "BCKG", "nesz", "artf", "", "seizure", "szx", "eyem"} {
		if IsSeizure(l) {
			t.Errorf("IsSeizure(%q) = true", l)
		}
	}
}

func TestEventsTSV(t *testing.T) {
	in := "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n" +
		"296.00\t40.00\tsz\tn/a\tn/a\t2000-01-01 00:00:00\t3600.00\n" +
		"1000.5\t10\tsz_foc_a\t0.9\tF7,T3\t2000-01-01 00:00:00\t3600\n"
	f, err := ReadEventsTSV(strings.NewReader(in), "e.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if f.Duration != 3600 || f.DateTime != "2000-01-01 00:00:00" || len(f.Events) != 2 {
		t.Fatalf("got %+v", f)
	}
	e0, e1 := f.Events[0], f.Events[1]
	if e0.Start != 296 || e0.Stop != 336 || e0.Label != "sz" || e0.Channel != Term || !math.IsNaN(e0.Confidence) {
		t.Fatalf("event 0: %+v", e0)
	}
	if e1.Start != 1000.5 || e1.Stop != 1010.5 || e1.Channel != "F7,T3" || e1.Confidence != 0.9 {
		t.Fatalf("event 1: %+v", e1)
	}
	if len(f.SeizureEvents()) != 2 || f.Format != FormatTSV {
		t.Fatalf("every events.tsv row is a recording-level event: %+v", f.SeizureEvents())
	}
	var buf bytes.Buffer
	if err := WriteEventsTSV(&buf, f); err != nil {
		t.Fatal(err)
	}
	g, err := ReadEventsTSV(bytes.NewReader(buf.Bytes()), "rt.tsv")
	if err != nil {
		t.Fatal(err)
	}
	if g.Duration != f.Duration || g.DateTime != f.DateTime || len(g.Events) != 2 || g.Events[1] != f.Events[1] {
		t.Fatalf("round trip: got %+v want %+v", g, f)
	}

	// Seizure-free recordings keep their duration through a bckg row.
	buf.Reset()
	if err := WriteEventsTSV(&buf, &File{Duration: 12.5}); err != nil {
		t.Fatal(err)
	}
	g, err = ReadEventsTSV(&buf, "empty.tsv")
	if err != nil || g.Duration != 12.5 || len(g.Events) != 1 || g.Events[0].Label != "bckg" || g.Events[0].Stop != 12.5 {
		t.Fatalf("empty round trip: %+v, %v", g, err)
	}

	// BIDS trial_type works as eventType, extra columns are ignored.
	g, err = ReadEventsTSV(strings.NewReader("onset\tduration\ttrial_type\textra\trecordingDuration\n1\t2\tsz\tq\t10\n"), "b.tsv")
	if err != nil || g.Events[0].Label != "sz" || g.Events[0].Stop != 3 {
		t.Fatalf("trial_type: %+v %v", g, err)
	}
}

func TestEventsTSVErrors(t *testing.T) {
	h := "onset\tduration\teventType\trecordingDuration\n"
	tests := []struct {
		name, in string
		line     int
		msg      string
	}{
		{"empty", "", 0, "no column header"},
		{"no rows", h, 0, "no rows"},
		{"missing column", "onset\tduration\trecordingDuration\n", 1, `lacks the "eventType" column`},
		{"dup column", "onset\tonset\n", 1, "appears twice"},
		{"field count", h + "1\t2\tsz\n", 2, "has 3 tab-separated fields, header has 4"},
		{"bad onset", h + "x\t2\tsz\t10\n", 2, "onset"},
		{"negative", h + "1\t-2\tsz\t10\n", 2, "must not be negative"},
		{"inconsistent duration", h + "1\t2\tsz\t10\n\n3\t1\tsz\t11\n", 4, "differs"},
		{"empty type", h + "1\t2\tn/a\t10\n", 2, "empty eventType"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadEventsTSV(strings.NewReader(tt.in), "bad.tsv")
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line != tt.line || !strings.Contains(pe.Msg, tt.msg) {
				t.Fatalf("err = %v, want line %d and %q", err, tt.line, tt.msg)
			}
		})
	}
}

func TestReadWriteFile(t *testing.T) {
	dir := t.TempDir()
	f := &File{Duration: 20, Events: []Event{{Term, 1, 5, "seiz", 1}}}
	for _, name := range []string{"a.csv_bi", "a_events.tsv"} {
		p := filepath.Join(dir, name)
		if err := WriteFile(p, f); err != nil {
			t.Fatal(err)
		}
		g, err := ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if g.Duration != 20 || len(g.SeizureEvents()) != 1 || g.SeizureEvents()[0].Stop != 5 {
			t.Fatalf("%s: %+v", name, g)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.csv_bi")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// TestNEDCExamples reads every example file shipped with the NEDC examples.
func TestNEDCExamples(t *testing.T) {
	dir := sharedDir(t, "data/nedc_examples")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.csv_bi"))
	if len(files) == 0 {
		t.Skipf("no csv_bi files under %s", dir)
	}
	for _, p := range files {
		f, err := ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if f.Duration <= 0 || len(f.TermEvents()) == 0 {
			t.Fatalf("%s: %+v", p, f)
		}
	}
}

// sharedDir returns ../shared/<rel> beside the module root, or skips.
func sharedDir(t *testing.T, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found above the test directory")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data absent (%s): %v", p, err)
	}
	return p
}
