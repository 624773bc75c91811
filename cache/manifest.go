package cache

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/pipeml/pipe/eeg/tusz"

	"github.com/pipeml/pipe/internal/atomicfile"
)

// ManifestName is the manifest's file name inside a cache directory.
const ManifestName = "manifest.json"

// Manifest indexes a cache directory: its recordings and, per recording,
// every window with the fraction of it that lies inside a seizure.
type Manifest struct {
	// Format is "pipe-eeg-cache-manifest"; Version is FormatVersion.
	Format  string `json:"format"`
	Version int    `json:"version"`
	// Source is the corpus root the cache was built from.
	Source string `json:"source"`
	// Params and ParamsHash are shared by every recording.
	Params     json.RawMessage `json:"params"`
	ParamsHash string          `json:"params_hash"`
	// Channels, Rate, Encoding and BlockSamples are shared by every
	// recording.
	Channels     []string `json:"channels"`
	Rate         float64  `json:"rate"`
	Encoding     string   `json:"encoding"`
	BlockSamples int      `json:"block_samples"`
	// Windows are WindowSamples long and start every StrideSamples
	// (WindowS and StrideS in seconds).
	WindowS       float64 `json:"window_s"`
	StrideS       float64 `json:"stride_s"`
	WindowSamples int64   `json:"window_samples"`
	StrideSamples int64   `json:"stride_samples"`
	// Recordings in corpus order (split, patient, session, token).
	Recordings []ManifestRecording `json:"recordings"`
	// Splits summarises each split.
	Splits map[string]SplitSummary `json:"splits"`
	// Windows is the total number of windows (the sum over recordings).
	Windows int64 `json:"windows"`
	// Quarantined counts the source recordings left out because they could
	// not be processed (listed in quarantine.json).
	Quarantined int `json:"quarantined"`
}

// ManifestRecording is one recording's entry in the manifest.
type ManifestRecording struct {
	ID      string `json:"id"`
	Split   string `json:"split"`
	Patient string `json:"patient"`
	Session string `json:"session"`
	Montage string `json:"montage"`
	// File is the recording file, relative to the cache directory.
	File string `json:"file"`
	// MetaXXH3 identifies the recording file's metadata (its checksum), so
	// that a file replaced after the manifest was written is noticed.
	MetaXXH3  string  `json:"meta_xxh3"`
	Samples   int64   `json:"samples"`
	DurationS float64 `json:"duration_s"`
	// Seizures are the seizure intervals in seconds, SeizureS their total.
	Seizures []Interval `json:"seizures"`
	SeizureS float64    `json:"seizure_s"`
	// FirstWindow is the dataset index of the recording's first window;
	// Windows the number of windows; SeizureFraction the fraction of each
	// window inside a seizure (4 decimals).
	FirstWindow     int64     `json:"first_window"`
	Windows         int64     `json:"windows"`
	SeizureWindows  int64     `json:"seizure_windows"`
	SeizureFraction []float32 `json:"seizure_fraction"`
}

// SplitSummary counts one split.
type SplitSummary struct {
	Recordings     int     `json:"recordings"`
	Patients       int     `json:"patients"`
	Windows        int64   `json:"windows"`
	SeizureWindows int64   `json:"seizure_windows"`
	Hours          float64 `json:"hours"`
	SeizureHours   float64 `json:"seizure_hours"`
}

// windowCount is the number of windows of w samples every s samples in a
// signal of n samples.
func windowCount(n, w, s int64) int64 {
	if n < w {
		return 0
	}
	return (n-w)/s + 1
}

// seizureSamples converts intervals in seconds to disjoint sample ranges
// [a, b) (floor of both ends, as the original project did), clipped to
// [0, n).
func seizureSamples(iv []Interval, rate float64, n int64) [][2]int64 {
	out := make([][2]int64, 0, len(iv))
	for _, v := range mergeIntervals(iv) {
		a := max(0, min(n, int64(math.Floor(v.Start*rate))))
		b := max(0, min(n, int64(math.Floor(v.Stop*rate))))
		if b > a {
			out = append(out, [2]int64{a, b})
		}
	}
	return out
}

// windowFractions returns, for each window, the fraction of its samples
// inside the (sorted, disjoint) sample ranges.
func windowFractions(ranges [][2]int64, n, w, s int64) []float32 {
	nw := windowCount(n, w, s)
	fr := make([]float32, nw)
	for k := range fr {
		a, b := int64(k)*s, int64(k)*s+w
		var in int64
		for _, r := range ranges {
			in += max(0, min(b, r[1])-max(a, r[0]))
		}
		fr[k] = float32(math.Round(float64(in)/float64(w)*1e4) / 1e4)
		if in > 0 && fr[k] == 0 {
			fr[k] = 1e-4 // keep "touches a seizure" visible at 4 decimals
		}
	}
	return fr
}

// mergeIntervals sorts intervals and merges overlapping or touching ones.
func mergeIntervals(iv []Interval) []Interval {
	out := append([]Interval(nil), iv...)
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	merged := out[:0]
	for _, v := range out {
		if n := len(merged); n > 0 && v.Start <= merged[n-1].Stop {
			merged[n-1].Stop = max(merged[n-1].Stop, v.Stop)
			continue
		}
		merged = append(merged, v)
	}
	return merged
}

// summarise fills Splits, Windows and the recordings' FirstWindow fields.
func (m *Manifest) summarise() {
	m.Splits = map[string]SplitSummary{}
	patients := map[string]map[string]bool{}
	m.Windows = 0
	for i := range m.Recordings {
		r := &m.Recordings[i]
		r.FirstWindow = m.Windows
		m.Windows += r.Windows
		s := m.Splits[r.Split]
		s.Recordings++
		s.Windows += r.Windows
		s.SeizureWindows += r.SeizureWindows
		s.Hours += r.DurationS / 3600
		s.SeizureHours += r.SeizureS / 3600
		if patients[r.Split] == nil {
			patients[r.Split] = map[string]bool{}
		}
		patients[r.Split][r.Patient] = true
		s.Patients = len(patients[r.Split])
		m.Splits[r.Split] = s
	}
}

// WriteManifest writes m atomically to dir/manifest.json.
func WriteManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, ManifestName), append(b, '\n'), 0o644)
}

// ReadManifest reads dir/manifest.json and checks that it is consistent
// (window counts and first-window indices agree with the recordings).
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestName)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read cache manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.Format != "pipe-eeg-cache-manifest" || m.Version != FormatVersion {
		return nil, fmt.Errorf("%s: format %q version %d, this pipe reads pipe-eeg-cache-manifest version %d", path, m.Format, m.Version, FormatVersion)
	}
	if m.WindowSamples <= 0 || m.StrideSamples <= 0 || !(m.Rate > 0) || (len(m.Channels) == 0 && len(m.Recordings) > 0) {
		return nil, fmt.Errorf("%s: invalid window (%d every %d samples), rate %g or %d channels", path, m.WindowSamples, m.StrideSamples, m.Rate, len(m.Channels))
	}
	var next int64
	for i, r := range m.Recordings {
		if r.FirstWindow != next || r.Windows != windowCount(r.Samples, m.WindowSamples, m.StrideSamples) || int64(len(r.SeizureFraction)) != r.Windows {
			return nil, fmt.Errorf("%s: recording %d (%s): window index inconsistent (first %d, want %d; %d windows for %d samples; %d fractions)", path, i, r.ID, r.FirstWindow, next, r.Windows, r.Samples, len(r.SeizureFraction))
		}
		if filepath.IsAbs(r.File) || !filepath.IsLocal(r.File) {
			return nil, fmt.Errorf("%s: recording %d (%s): file %q is not inside the cache directory", path, i, r.ID, r.File)
		}
		next += r.Windows
	}
	if next != m.Windows {
		return nil, fmt.Errorf("%s: %d windows listed, recordings hold %d", path, m.Windows, next)
	}
	return &m, nil
}

// builtEntry is a manifest entry plus what Populate needs besides.
type builtEntry struct {
	ManifestRecording
	channels  []string
	fileBytes int64
}

// entryFor builds the manifest entry of a recording file.
func entryFor(windowS, strideS float64, rel string, m *RecordingMeta, metaSum string, size int64) *builtEntry {
	w := int64(math.Round(windowS * m.Rate))
	s := int64(math.Round(strideS * m.Rate))
	ranges := seizureSamples(m.Seizures, m.Rate, m.Samples)
	var seizS float64
	for _, r := range ranges {
		seizS += float64(r[1]-r[0]) / m.Rate
	}
	fr := windowFractions(ranges, m.Samples, w, s)
	return &builtEntry{
		ManifestRecording: ManifestRecording{
			ID: m.ID, Split: m.Split, Patient: m.Patient, Session: m.Session, Montage: m.Montage,
			File: filepath.ToSlash(rel), MetaXXH3: metaSum, Samples: m.Samples, DurationS: m.DurationS,
			Seizures: m.Seizures, SeizureS: seizS, Windows: int64(len(fr)), SeizureFraction: fr,
		},
		channels:  m.Channels,
		fileBytes: size,
	}
}

// sortedSplits lists the splits of a manifest in canonical order, unknown
// ones last.
func sortedSplits(m map[string]SplitSummary) []string {
	order := map[string]int{}
	for i, s := range tusz.Splits {
		order[s] = i
	}
	var out []string
	for s := range m {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		oi, iok := order[out[i]]
		oj, jok := order[out[j]]
		if iok != jok {
			return iok
		}
		if iok {
			return oi < oj
		}
		return out[i] < out[j]
	})
	return out
}
