package cache

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

type testRec struct {
	split, patient, id string
	seconds            int
	seizures           []Interval
}

const testRate = 16 // Hz: small windows keep the tests fast

// makeCache writes recording files and a manifest (windows of 8 s every
// 2 s) the way Populate does, from synthetic signals.
func makeCache(t testing.TB, dir string, recs []testRec) *Manifest {
	t.Helper()
	channels := []string{"Fp1", "F3", "C3"}
	m := &Manifest{Format: "pipe-eeg-cache-manifest", Version: FormatVersion, Source: "synthetic",
		Params: []byte(`{"test":1}`), ParamsHash: "p1", Channels: channels, Rate: testRate, Encoding: EncodingInt16,
		BlockSamples: testRate, WindowS: 8, StrideS: 2, WindowSamples: 8 * testRate, StrideSamples: 2 * testRate}
	for i, r := range recs {
		rel := filepath.Join("rec", r.split, r.patient, r.id+".eegc")
		path := filepath.Join(dir, rel)
		x := testSignal(len(channels), r.seconds*testRate, uint64(i))
		w, err := CreateRecording(path, len(channels), testRate, EncodingInt16)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(x); err != nil {
			t.Fatal(err)
		}
		meta := &RecordingMeta{ID: r.id, Split: r.split, Patient: r.patient, Params: m.Params, ParamsHash: m.ParamsHash,
			Channels: channels, Rate: testRate, Seizures: r.seizures, Events: []Event{{0, float64(r.seconds), "bckg"}}}
		if err := w.Close(meta); err != nil {
			t.Fatal(err)
		}
		_, sum, err := ReadRecordingMeta(path)
		if err != nil {
			t.Fatal(err)
		}
		e := entryFor(m.WindowS, m.StrideS, rel, meta, sum, 0)
		for _, f := range e.SeizureFraction {
			if f > 0 {
				e.SeizureWindows++
			}
		}
		m.Recordings = append(m.Recordings, e.ManifestRecording)
	}
	m.summarise()
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func standardRecs() []testRec {
	return []testRec{
		{"train", "p1", "p1_s001_t000", 60, []Interval{{10, 20}, {18, 25}}},
		{"train", "p2", "p2_s001_t000", 30, nil},
		{"train", "p2", "p2_s001_t001", 5, nil}, // shorter than a window
		{"dev", "p3", "p3_s001_t000", 41, []Interval{{0, 3.5}}},
	}
}

func TestDataset(t *testing.T) {
	dir := t.TempDir()
	m := makeCache(t, dir, standardRecs())
	// windows: (60*16-128)/32+1 = 27, (480-128)/32+1 = 12, 0, (656-128)/32+1 = 17
	if m.Windows != 27+12+0+17 {
		t.Fatalf("%d windows", m.Windows)
	}
	if s := m.Splits["train"]; s.Recordings != 3 || s.Patients != 2 || s.Windows != 39 || math.Abs(s.SeizureHours-15.0/3600) > 1e-12 {
		t.Errorf("train summary %+v", s)
	}
	d, err := OpenDataset(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Len() != 56 || d.WindowSamples() != 128 || len(d.Channels()) != 3 {
		t.Fatalf("len %d, window %d", d.Len(), d.WindowSamples())
	}
	if got := d.Split("dev"); len(got) != 17 || got[0] != 39 {
		t.Errorf("dev windows %v", got)
	}
	// Window 4 of recording 0 starts at 8 s: [8, 16) s holds 6 s of the
	// merged seizure [10, 25).
	w := d.Window(4)
	if w.Recording != 0 || w.Start != 128 || w.SeizureFraction != 0.75 || w.Split != "train" || w.Patient != "p1" {
		t.Errorf("window 4: %+v", w)
	}
	if w := d.Window(39); w.Recording != 3 || w.Start != 0 || math.Abs(float64(w.SeizureFraction)-3.5/8) > 1e-4 {
		t.Errorf("window 39: %+v", w)
	}
	labels := make([]float32, 128)
	if err := d.WindowLabels(4, labels); err != nil {
		t.Fatal(err)
	}
	ones := 0
	for i, v := range labels {
		if v == 1 {
			ones++
			if i < 32 {
				t.Errorf("label at %d before the seizure", i)
			}
		}
	}
	if ones != 96 {
		t.Errorf("%d labelled samples, want 96", ones)
	}
	// Window data equals the recording's samples.
	rec, err := OpenRecording(filepath.Join(dir, m.Recordings[3].File))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	want := make([]float32, 3*128)
	if err := rec.Read(5*32, 128, want); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 3*128)
	if err := d.ReadWindow(39+5, got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("window 44 differs at %d", i)
		}
	}
	if err := d.ReadWindow(56, got); err == nil {
		t.Error("window past the end accepted")
	}
	// Concurrent readers (run with -race).
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			buf := make([]float32, 3*128)
			for i := g; i < d.Len(); i += 3 {
				if err := d.ReadWindow(i, buf); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()

	rep, err := Verify(context.Background(), VerifyConfig{Dir: dir}, NopProgress{})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if rep.Recordings != 4 || rep.Windows != 56 || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "1 recordings are shorter") {
		t.Errorf("report %+v", rep)
	}
}

// TestVerifyProblems damages caches in every way Verify must notice.
func TestVerifyProblems(t *testing.T) {
	cases := []struct {
		name   string
		recs   []testRec
		expect map[string]int
		damage func(t *testing.T, dir string, m *Manifest)
		want   []string
	}{
		{name: "expected counts", expect: map[string]int{"train": 4667, "dev": 1, "eval": 3},
			want: []string{"split train: 3 recordings, expected 4667", "split eval: 0 recordings, expected 3", "split eval: no window contains a seizure"}},
		{name: "no seizures", recs: []testRec{{"train", "p1", "a", 30, nil}, {"dev", "p2", "b", 30, []Interval{{1, 2}}}},
			want: []string{"split train: no window contains a seizure"}},
		{name: "leak", recs: []testRec{{"train", "p1", "a", 30, []Interval{{1, 9}}}, {"dev", "p1", "b", 30, []Interval{{1, 2}}}},
			want: []string{"not patient-disjoint: 1 patients in more than one split: p1 (train, dev)"}},
		{name: "data corrupted", damage: func(t *testing.T, dir string, m *Manifest) {
			p := filepath.Join(dir, m.Recordings[1].File)
			b, _ := os.ReadFile(p)
			b[preambleSize+77] ^= 0x40
			os.WriteFile(p, b, 0o644)
		}, want: []string{"p2_s001_t000: " + "", "data checksum"}},
		{name: "file missing", damage: func(t *testing.T, dir string, m *Manifest) {
			os.Remove(filepath.Join(dir, m.Recordings[0].File))
		}, want: []string{"p1_s001_t000: open", "no such file"}},
		{name: "file replaced", damage: func(t *testing.T, dir string, m *Manifest) {
			// another recording's file in its place
			b, _ := os.ReadFile(filepath.Join(dir, m.Recordings[1].File))
			os.WriteFile(filepath.Join(dir, m.Recordings[0].File), b, 0o644)
		}, want: []string{"was replaced after the manifest was written", "file holds train/p2/p2_s001_t000"}},
		{name: "fractions edited", damage: func(t *testing.T, dir string, m *Manifest) {
			m.Recordings[0].SeizureFraction[0] = 0.5
			WriteManifest(dir, m)
		}, want: []string{"window 0 seizure fraction 0.5 in the manifest, 0 from the file's labels"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			recs := c.recs
			if recs == nil {
				recs = standardRecs()
			}
			m := makeCache(t, dir, recs)
			if c.damage != nil {
				c.damage(t, dir, m)
			}
			rep, err := Verify(context.Background(), VerifyConfig{Dir: dir, Expect: c.expect}, NopProgress{})
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v, want a VerifyError", err)
			}
			all := strings.Join(rep.Problems, "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems do not mention %q:\n%s", w, all)
				}
			}
		})
	}
	if _, err := Verify(context.Background(), VerifyConfig{Dir: t.TempDir()}, NopProgress{}); err == nil || !strings.Contains(err.Error(), "manifest") {
		t.Errorf("empty dir: %v", err)
	}
}

// TestVerifyEmpty: a cache without recordings (everything quarantined) is
// reported as such, not as a malformed manifest.
func TestVerifyEmpty(t *testing.T) {
	dir := t.TempDir()
	m := makeCache(t, dir, nil)
	m.Channels, m.Quarantined = []string{}, 7
	if err := WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(context.Background(), VerifyConfig{Dir: dir}, NopProgress{})
	if err == nil || !strings.Contains(err.Error(), "the cache holds no recordings (7 quarantined by populate") || rep.Recordings != 0 {
		t.Errorf("error %v", err)
	}
}
