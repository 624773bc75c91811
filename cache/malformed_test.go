package cache

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipeml/pipe/cache/cachetest"
)

// edfField returns the byte offset of field k (0 label … 8 samples per
// record) of signal i in the header of a file with ns signals.
func edfField(ns, k, i int) int {
	widths := []int{16, 80, 8, 8, 8, 8, 8, 80, 8}
	off := 256
	for j := range k {
		off += widths[j] * ns
	}
	return off + i*widths[k]
}

// setField overwrites width bytes at off with v, space-padded.
func setField(b []byte, off, width int, v string) []byte {
	b = bytes.Clone(b)
	copy(b[off:off+width], []byte(v + strings.Repeat(" ", width))[:width])
	return b
}

// TestPopulateMalformed is the malformed-input set at the level of a
// populate run: damaged EDF headers and data, files that are not EDF at
// all, a recording lacking channels and bad csv_bi rows. Each bad recording
// must be reported with its file and cause (quarantined with on_error =
// "skip", stopping the run with on_error = "fail"), nothing may panic, and
// no cache file, partial or temporary, may be left for it.
func TestPopulateMalformed(t *testing.T) {
	const ns = 20 // cachetest recordings: 19 EEG channels and IBI
	csv := func(rows string) string {
		return "# version = csv_v1.0.0\n# bname = x\n# duration = 70.00 secs\n#\nchannel,start_time,stop_time,label,confidence\n" + rows
	}
	tests := []struct {
		name  string
		edf   func([]byte) []byte // damages the EDF bytes
		csvbi string              // replaces the csv_bi
		drop  int                 // channels left out
		want  string              // in the reason
	}{
		{name: "zero length", edf: func([]byte) []byte { return nil }, want: "empty"},
		{name: "not EDF", edf: func([]byte) []byte { return bytes.Repeat([]byte("PK\x03\x04 this is a zip file, not EDF\n"), 100) }, want: "version"},
		{name: "cut in header", edf: func(b []byte) []byte { return b[:700] }, want: "header"},
		{name: "truncated data", edf: func(b []byte) []byte { return b[:len(b)-7000] }, want: "truncated"},
		{name: "bad signal count", edf: func(b []byte) []byte { return setField(b, 252, 4, "x9") }, want: "number of signals"},
		{name: "bad record count", edf: func(b []byte) []byte { return setField(b, 236, 8, "7O") }, want: "number of data records"},
		{name: "bad header bytes", edf: func(b []byte) []byte { return setField(b, 184, 8, "256") }, want: "header"},
		{name: "bad samples per record", edf: func(b []byte) []byte { return setField(b, edfField(ns, 8, 3), 8, "-250") }, want: "samples"},
		{name: "NaN physical maximum", edf: func(b []byte) []byte { return setField(b, edfField(ns, 4, 0), 8, "nan") }, want: "physical maximum"},
		{name: "infinite scaling", edf: func(b []byte) []byte {
			return setField(setField(b, edfField(ns, 3, 2), 8, "-1e308"), edfField(ns, 4, 2), 8, "1e308")
		}, want: "no finite scale"},
		{name: "digital min = max", edf: func(b []byte) []byte {
			return setField(setField(b, edfField(ns, 5, 1), 8, "5"), edfField(ns, 6, 1), 8, "5")
		}, want: "digital"},
		{name: "wrong montage", drop: 8, want: "missing channels"},
		{name: "csv_bi bad time", csvbi: csv("TERM,1.0,abc,seiz,1.0000\n"), want: "stop_time"},
		{name: "csv_bi reversed", csvbi: csv("TERM,30.0,20.0,seiz,1.0000\n"), want: "before start_time"},
		{name: "csv_bi short row", csvbi: csv("TERM,1.0,2.0\n"), want: "3 comma-separated fields"},
		{name: "csv_bi empty", csvbi: " ", want: "version"},
	}
	good := cachetest.Rec{Split: "train", Patient: "aaaaaaaa", Session: "s001", Token: "t000", Seconds: 70, Seizures: [][2]float64{{20, 40}}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := cachetest.MakeCorpus(t, []cachetest.Rec{good})
			bad := cachetest.Rec{Split: "train", Patient: "aaaaaaab", Session: "s001", Token: "t000", Seconds: 70, DropChannels: tc.drop, CSVBI: tc.csvbi}
			path := cachetest.WriteRec(t, src, bad)
			if tc.edf != nil {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, tc.edf(b), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			dir := filepath.Join(t.TempDir(), "cache")
			res, err := Populate(context.Background(), testPopulateConfig(src, dir), nil, nil)
			if err != nil {
				t.Fatalf("skip mode: %v", err)
			}
			if len(res.Quarantine) != 1 || len(res.Manifest.Recordings) != 1 {
				t.Fatalf("%d quarantined, %d cached; want 1 and 1", len(res.Quarantine), len(res.Manifest.Recordings))
			}
			q := res.Quarantine[0]
			t.Logf("quarantined %s: %s", q.EDF, q.Reason)
			if q.ID != bad.Base() || !strings.HasSuffix(q.EDF, bad.Base()+".edf") || !strings.Contains(q.Reason, tc.want) {
				t.Errorf("quarantine %+v: want %s and a reason with %q", q, bad.Base(), tc.want)
			}
			noLeftovers(t, dir, bad.Base())

			cfg := testPopulateConfig(src, filepath.Join(t.TempDir(), "cache"))
			cfg.OnError = OnErrorFail
			_, err = Populate(context.Background(), cfg, nil, nil)
			var re *RecordingError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), bad.Base()) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("fail mode: %v; want the file and %q", err, tc.want)
			}
			noLeftovers(t, cfg.Dir, bad.Base())
		})
	}
}

// noLeftovers fails when dir holds a temporary file or anything of the
// recording id.
func noLeftovers(t *testing.T, dir, id string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && (strings.Contains(d.Name(), ".tmp-") || strings.Contains(d.Name(), id)) {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

// TestRecordingErrorNamesFileOnce: the path is not repeated when the
// underlying error already starts with it.
func TestRecordingErrorNamesFileOnce(t *testing.T) {
	for _, tc := range []struct{ err, want string }{
		{"/d/a.edf: byte 0: version: bad", "/d/a.edf: byte 0: version: bad"},
		{"truncated", "/d/a.edf: truncated"},
	} {
		if got := (&RecordingError{EDF: "/d/a.edf", Err: errors.New(tc.err)}).Error(); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}
