package edf_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pipeml/pipe/eeg/edf"
)

// baseFile returns the bytes of a small valid file: format f, two data
// signals (4 and 2 samples per 1 s record) and, for EDF+/BDF+, an
// annotation signal; 5 records.
func baseFile(t testing.TB, f edf.Format) []byte {
	t.Helper()
	spec := edf.FileSpec{Format: f, Start: time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC), RecordDuration: time.Second,
		Signals: []edf.SignalSpec{
			{Label: "EEG FP1-REF", Unit: "uV", PhysicalMin: -100, PhysicalMax: 100, DigitalMin: -1000, DigitalMax: 1000, SamplesPerRecord: 4},
			{Label: "EEG FP2-REF", Unit: "uV", PhysicalMin: -100, PhysicalMax: 100, DigitalMin: -1000, DigitalMax: 1000, SamplesPerRecord: 2},
		}}
	path := filepath.Join(t.TempDir(), "base.edf")
	w, err := edf.Create(path, spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WritePhysical([][]float64{make([]float64, 20), make([]float64, 10)}); err != nil {
		t.Fatal(err)
	}
	if f.IsPlus() {
		if err := w.Annotate(edf.Annotation{Onset: 2 * time.Second, Text: "event"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Offsets of header fields in a file with ns signals.
func sigField(ns, k, i int) int {
	widths := []int{16, 80, 8, 8, 8, 8, 8, 80, 8, 32}
	off := 256
	for j := 0; j < k; j++ {
		off += widths[j] * ns
	}
	return off + i*widths[k]
}

// put writes v, space-padded to width, at off.
func put(b []byte, off, width int, v string) []byte {
	b = bytes.Clone(b)
	copy(b[off:off+width], []byte(v + strings.Repeat(" ", width))[:width])
	return b
}

func openBytes(name string, b []byte) (*edf.Reader, error) {
	return edf.NewReader(bytes.NewReader(b), int64(len(b)), name)
}

// TestMalformed feeds broken files to the reader: each must give an error
// that names the file, the byte offset and the cause, and never panic.
func TestMalformed(t *testing.T) {
	plain := baseFile(t, edf.EDF)
	plus := baseFile(t, edf.EDFPlusC)
	const ns = 2                 // plain
	const nsPlus = 3             // plus (with annotation signal)
	recPlus := 2 * (4 + 2 + 64)  // record bytes of plus (annotation signal 128 bytes)
	annOff := 256 * (nsPlus + 1) // first record
	annOff += 2 * (4 + 2)        // annotation signal offset within the record
	cases := []struct {
		name string
		data []byte
		want []string // substrings of the error
	}{
		{"zero-length", nil, []string{"byte 0", "empty"}},
		{"short", plain[:100], []string{"shorter than the 256-byte"}},
		{"png", append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 300)...), []string{"byte 0", "version", "not an EDF or BDF file"}},
		{"text", []byte(strings.Repeat("hello world, this is not EEG. ", 20)), []string{"byte 0", "version"}},
		{"header truncated", plain[:400], []string{"byte 184", "truncated"}},
		{"signals not a number", put(plain, 252, 4, "ab"), []string{"byte 252", "number of signals", `"ab" is not an integer`}},
		{"signals zero", put(plain, 252, 4, "0"), []string{"byte 252", "out of range"}},
		{"signals negative", put(plain, 252, 4, "-2"), []string{"byte 252", "out of range"}},
		{"header bytes wrong", put(plain, 184, 8, "1024"), []string{"byte 184", "number of bytes in header", "need"}},
		{"records garbage", put(plain, 236, 8, "1O"), []string{"byte 236", "number of data records", "not an integer"}},
		{"records negative", put(plain, 236, 8, "-7"), []string{"byte 236", "negative"}},
		{"duration garbage", put(plain, 244, 8, "one"), []string{"byte 244", "duration of a data record"}},
		{"duration nan", put(plain, 244, 8, "nan"), []string{"byte 244", "duration of a data record"}},
		{"duration negative", put(plain, 244, 8, "-1"), []string{"byte 244", "negative"}},
		{"duration zero", put(plain, 244, 8, "0"), []string{"byte 244", "only annotation-only files"}},
		{"date", put(plain, 168, 8, "32.01.20"), []string{"byte 168", "start date", "not a valid date"}},
		{"date letters", put(plain, 168, 8, "aa.bb.cc"), []string{"byte 168", "not dd.mm.yy"}},
		{"feb 30", put(plain, 168, 8, "30.02.20"), []string{"byte 168", "not a valid date"}},
		{"time", put(plain, 176, 8, "25.00.00"), []string{"byte 176", "start time", "not a valid time"}},
		{"time format", put(plain, 176, 8, "1:2:3"), []string{"byte 176", "not hh.mm.ss"}},
		{"physical min nan", put(plain, sigField(ns, 3, 1), 8, "NaN"), []string{"byte 472", "signal 2 physical minimum", "not a number"}},
		{"physical max inf", put(plain, sigField(ns, 4, 0), 8, "Inf"), []string{"signal 1 physical maximum", "not a number"}},
		{"physical max overflow", put(plain, sigField(ns, 4, 0), 8, "1e999"), []string{"signal 1 physical maximum", "out of range"}},
		{"physical empty", put(plain, sigField(ns, 3, 0), 8, ""), []string{"signal 1 physical minimum", "empty"}},
		{"digital fraction", put(plain, sigField(ns, 5, 0), 8, "-1000.5"), []string{"signal 1 digital minimum", "not an integer"}},
		{"digital overflow", put(plain, sigField(ns, 6, 1), 8, "40000"), []string{"signal 2 digital maximum", "outside the 16-bit range"}},
		{"spr zero", put(plain, sigField(ns, 8, 0), 8, "0"), []string{"signal 1 samples per record", "out of range"}},
		{"spr huge", put(plain, sigField(ns, 8, 0), 8, "99999999"), []string{"signal 1 samples per record", "out of range"}},
		{"spr garbage", put(plain, sigField(ns, 8, 1), 8, "4x"), []string{"signal 2 samples per record", "not an integer"}},
		{"tal onset garbage", putTAL(plus, annOff, 6, "+x\x14\x14\x00"), []string{"record 0 annotation signal 3", "TAL onset"}},
		{"tal unterminated", putTAL(plus, annOff+recPlus, 128, strings.Repeat("+1\x14abc", 30)), []string{"record 1 annotation signal 3"}},
		{"tal garbage after padding", put(plus, annOff+2*recPlus+100, 4, "junk"), []string{"record 2 annotation signal 3", "after the end of the TALs"}},
		{"tal duration signed", putTAL(plus, annOff+3*recPlus, 16, "+3\x15-1\x14x\x14\x00"), []string{"record 3", "TAL duration"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "bad/" + strings.ReplaceAll(c.name, " ", "_") + ".edf"
			r, err := openBytes(name, c.data)
			if err == nil {
				r.Close()
				t.Fatalf("no error; want %q", c.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, name+": ") {
				t.Errorf("error does not start with the file name: %s", msg)
			}
			var fe *edf.FormatError
			if !errors.As(err, &fe) {
				t.Errorf("error is %T, not *FormatError: %s", err, msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

// TestEDFPlusDOrder: an EDF+D record starting before the previous one ends
// is an error naming the record.
func TestEDFPlusDOrder(t *testing.T) {
	b := baseFile(t, edf.EDFPlusD)
	rec := 2 * (4 + 2 + 64)
	annOff := 256*4 + 2*(4+2)
	b = putTAL(b, annOff+2*rec, 128, "+1.5\x14\x14\x00")
	_, err := openBytes("d.edf", b)
	if err == nil || !strings.Contains(err.Error(), "record 2 annotation signal 3") || !strings.Contains(err.Error(), "before the previous record ends") {
		t.Fatalf("error %v", err)
	}
}

// TestTruncatedData: a file cut inside its data is read up to the last
// complete record and reported as truncated; a record count of -1 is
// derived from the size.
func TestTruncatedData(t *testing.T) {
	b := baseFile(t, edf.EDF)
	const rec = 12
	hdr := 256 * 3
	cut := b[:hdr+3*rec+5]
	r, err := openBytes("cut.edf", cut)
	if err != nil {
		t.Fatal(err)
	}
	h := r.Header()
	if !h.Truncated || h.Records != 3 || h.DeclaredRecords != 5 || h.TrailingBytes != 5 {
		t.Fatalf("truncated=%v records=%d declared=%d trailing=%d", h.Truncated, h.Records, h.DeclaredRecords, h.TrailingBytes)
	}
	if len(h.Warnings) != 1 || !strings.Contains(h.Warnings[0], "declares 5 data records but the file holds 3 complete records") {
		t.Errorf("warnings %q", h.Warnings)
	}
	x := make([]float64, 20)
	n, err := r.ReadPhysical(0, 0, x)
	if n != 12 || err != io.EOF {
		t.Errorf("read %d, %v; want 12, EOF", n, err)
	}

	unknown := put(b, 236, 8, "-1")
	r, err = openBytes("unknown.edf", unknown[:hdr+4*rec+1])
	if err != nil {
		t.Fatal(err)
	}
	if h := r.Header(); h.Records != 4 || h.DeclaredRecords != -1 || h.Truncated {
		t.Errorf("records %d declared %d truncated %v", h.Records, h.DeclaredRecords, h.Truncated)
	}
}

// TestHeaderFields covers header conventions: two-digit years, EDF+
// Startdate years, decimal commas, non-integer sample rates, scaling guards.
func TestHeaderFields(t *testing.T) {
	plain := baseFile(t, edf.EDF)
	plus := baseFile(t, edf.EDFPlusC)
	year := func(b []byte) int {
		r, err := openBytes("y.edf", b)
		if err != nil {
			t.Fatal(err)
		}
		return r.Header().Start.Year()
	}
	for _, c := range []struct {
		yy   string
		want int
	}{{"84", 2084}, {"85", 1985}, {"99", 1999}, {"00", 2000}} {
		if got := year(put(plain, 168, 8, "03.02."+c.yy)); got != c.want {
			t.Errorf("yy=%s: year %d, want %d", c.yy, got, c.want)
		}
	}
	// EDF+: the recording field's four-digit year wins when consistent.
	rec := put(plus, 88, 80, "Startdate 03-FEB-1976 X X X")
	if got := year(put(rec, 168, 8, "03.02.76")); got != 1976 {
		t.Errorf("EDF+ Startdate 1976: year %d", got)
	}
	// "yy" in the header date (years after 2084).
	rec = put(plus, 88, 80, "Startdate 03-FEB-2090 X X X")
	if got := year(put(rec, 168, 8, "03.02.yy")); got != 2090 {
		t.Errorf("EDF+ yy: year %d", got)
	}

	// Decimal comma, non-integer rate, record of 0.13 s.
	b := put(plain, 244, 8, "0,13")
	b = put(b, sigField(2, 3, 0), 8, "-100,5")
	r, err := openBytes("comma.edf", b)
	if err != nil {
		t.Fatal(err)
	}
	h := r.Header()
	if h.RecordDuration != 130*time.Millisecond || h.Signals[0].PhysicalMin != -100.5 || math.Abs(h.Signals[0].SampleRate-4/0.13) > 1e-9 {
		t.Errorf("duration %v pmin %g rate %g", h.RecordDuration, h.Signals[0].PhysicalMin, h.Signals[0].SampleRate)
	}
	if len(h.Warnings) != 1 || !strings.Contains(h.Warnings[0], "','") {
		t.Errorf("warnings %q", h.Warnings)
	}

	// digital max = digital min: digital samples readable, physical refused.
	b = put(plain, sigField(2, 5, 1), 8, "7")
	b = put(b, sigField(2, 6, 1), 8, "7")
	r, err = openBytes("flat.edf", b)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Header().Signals[1].Scalable(); err == nil {
		t.Error("signal with digital max = min reported scalable")
	}
	if _, err := r.ReadDigital(1, 0, make([]int32, 10)); err != nil {
		t.Errorf("digital read: %v", err)
	}
	_, err = r.ReadPhysical(1, 0, make([]float64, 10))
	if err == nil || !strings.Contains(err.Error(), "flat.edf: byte") || !strings.Contains(err.Error(), "signal 2 digital maximum") {
		t.Errorf("physical read error %v", err)
	}
	if _, err := r.ReadPhysical(0, 0, make([]float64, 10)); err != nil {
		t.Errorf("other signal: %v", err)
	}
	// Physical range that overflows the scale.
	b = put(plain, sigField(2, 3, 0), 8, "-1e308")
	b = put(b, sigField(2, 4, 0), 8, "1e308")
	r, err = openBytes("huge.edf", b)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Header().Signals[0].Scalable(); err == nil || !strings.Contains(err.Error(), "no finite scale") {
		t.Errorf("overflowing scale: %v", err)
	}
	// Asymmetric digital range maps dmin→pmin and dmax→pmax.
	b = put(plain, sigField(2, 5, 0), 8, "-2048")
	b = put(b, sigField(2, 6, 0), 8, "1023")
	b = put(b, sigField(2, 3, 0), 8, "-10")
	b = put(b, sigField(2, 4, 0), 8, "50")
	r, err = openBytes("asym.edf", b)
	if err != nil {
		t.Fatal(err)
	}
	s := r.Header().Signals[0]
	if math.Abs(s.Physical(-2048)-(-10)) > 1e-12 || math.Abs(s.Physical(1023)-50) > 1e-12 || s.Physical(5000) != s.Physical(1023) {
		t.Errorf("asymmetric scale: %g %g %g", s.Physical(-2048), s.Physical(1023), s.Physical(5000))
	}
}

// TestReadRanges reads arbitrary ranges and compares them with a full read.
func TestReadRanges(t *testing.T) {
	dir := t.TempDir()
	c := writeCases()[0]
	path, _ := writeCaseFile(t, dir, c)
	r, err := edf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, sig := range r.Header().DataSignals() {
		n := r.Header().Samples(sig)
		all := make([]float32, n)
		if _, err := r.ReadPhysical32(sig, 0, all); err != nil {
			t.Fatal(err)
		}
		for _, rg := range [][2]int64{{0, 1}, {3, 300}, {n - 1, 1}, {n / 2, n / 3}, {n, 0}} {
			part := make([]float32, min(rg[1], n-rg[0]))
			if k, err := r.ReadPhysical32(sig, rg[0], part); err != nil || k != len(part) {
				t.Fatalf("range %v: %d %v", rg, k, err)
			}
			for i := range part {
				if part[i] != all[rg[0]+int64(i)] {
					t.Fatalf("signal %d range %v differs at %d", sig, rg, i)
				}
			}
		}
		if _, err := r.ReadPhysical32(sig, n+1, make([]float32, 1)); err == nil {
			t.Error("read past the end accepted")
		}
	}
	if _, err := r.ReadPhysical(len(r.Header().Signals)-1, 0, make([]float64, 1)); err == nil || !strings.Contains(err.Error(), "annotation signal") {
		t.Errorf("read of annotation signal: %v", err)
	}
	if err := r.ReadRecords(5, 100, []int{0}, [][]float64{make([]float64, 100*256)}); err == nil {
		t.Error("ReadRecords past the end accepted")
	}
}

// putTAL writes v, NUL-padded to width, at off.
func putTAL(b []byte, off, width int, v string) []byte {
	b = bytes.Clone(b)
	copy(b[off:off+width], []byte(v + strings.Repeat("\x00", width))[:width])
	return b
}
