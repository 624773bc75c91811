package cache

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
)

// Dataset reads windows from a cache directory. Open recordings lazily,
// read a window with one pread of the blocks it spans, and decode it to
// float32; nothing else is touched. It is safe for concurrent use: training
// loaders call ReadWindow from many goroutines.
type Dataset struct {
	dir  string
	man  *Manifest
	recs []lazyRecording
	// recOf maps a window index to its recording (by FirstWindow).
	first []int64
}

type lazyRecording struct {
	once sync.Once
	rec  *Recording
	err  error
}

// WindowInfo describes one window of the dataset.
type WindowInfo struct {
	// Recording indexes Manifest().Recordings.
	Recording int
	// Start is the window's first sample in its recording.
	Start int64
	// SeizureFraction is the fraction of the window inside a seizure.
	SeizureFraction float32
	// Split and Patient are the recording's.
	Split   string
	Patient string
}

// OpenDataset opens the cache directory dir (its manifest; recording files
// are opened on first use).
func OpenDataset(dir string) (*Dataset, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	d := &Dataset{dir: dir, man: m, recs: make([]lazyRecording, len(m.Recordings)), first: make([]int64, len(m.Recordings))}
	for i, r := range m.Recordings {
		d.first[i] = r.FirstWindow
	}
	return d, nil
}

// Manifest returns the manifest; the caller must not modify it.
func (d *Dataset) Manifest() *Manifest { return d.man }

// Len is the number of windows.
func (d *Dataset) Len() int { return int(d.man.Windows) }

// Channels returns the channel names, in storage order.
func (d *Dataset) Channels() []string { return d.man.Channels }

// WindowSamples is the length of a window in samples per channel; a window
// read with ReadWindow has len(Channels())·WindowSamples() values.
func (d *Dataset) WindowSamples() int { return int(d.man.WindowSamples) }

// recording returns the index of the recording holding window i.
func (d *Dataset) recording(i int) int {
	return sort.Search(len(d.first), func(k int) bool { return d.first[k] > int64(i) }) - 1
}

// Window describes window i (0 ≤ i < Len()).
func (d *Dataset) Window(i int) WindowInfo {
	k := d.recording(i)
	r := &d.man.Recordings[k]
	j := int64(i) - r.FirstWindow
	return WindowInfo{Recording: k, Start: j * d.man.StrideSamples, SeizureFraction: r.SeizureFraction[j], Split: r.Split, Patient: r.Patient}
}

// Split returns the indices of the windows of one split, in order.
func (d *Dataset) Split(name string) []int {
	var idx []int
	for _, r := range d.man.Recordings {
		if r.Split == name {
			for j := int64(0); j < r.Windows; j++ {
				idx = append(idx, int(r.FirstWindow+j))
			}
		}
	}
	return idx
}

func (d *Dataset) open(k int) (*Recording, error) {
	lr := &d.recs[k]
	lr.once.Do(func() {
		mr := &d.man.Recordings[k]
		lr.rec, lr.err = OpenRecording(filepath.Join(d.dir, mr.File))
		if lr.err != nil {
			return
		}
		m := lr.rec.meta
		if m.Samples != mr.Samples || m.ParamsHash != d.man.ParamsHash || len(m.Channels) != len(d.man.Channels) || m.Rate != d.man.Rate {
			lr.rec.Close()
			lr.rec, lr.err = nil, fmt.Errorf("%s: does not match the manifest (%d samples, params %s, %d channels at %g Hz; manifest: %d, %s, %d at %g Hz): repopulate the cache",
				mr.File, m.Samples, m.ParamsHash, len(m.Channels), m.Rate, mr.Samples, d.man.ParamsHash, len(d.man.Channels), d.man.Rate)
		}
	})
	return lr.rec, lr.err
}

// ReadWindow decodes window i into dst as float32, channel after channel:
// channel c occupies dst[c*W : (c+1)*W] with W = WindowSamples(). dst must
// hold len(Channels())·W values.
func (d *Dataset) ReadWindow(i int, dst []float32) error {
	if i < 0 || i >= d.Len() {
		return fmt.Errorf("cache: window %d out of range (0..%d)", i, d.Len())
	}
	k := d.recording(i)
	rec, err := d.open(k)
	if err != nil {
		return err
	}
	start := (int64(i) - d.man.Recordings[k].FirstWindow) * d.man.StrideSamples
	return rec.Read(start, int(d.man.WindowSamples), dst)
}

// WindowLabels writes window i's per-sample seizure mask (1 inside a
// seizure, 0 outside) into dst, which must hold WindowSamples() values. It
// reads no file.
func (d *Dataset) WindowLabels(i int, dst []float32) error {
	if i < 0 || i >= d.Len() {
		return fmt.Errorf("cache: window %d out of range (0..%d)", i, d.Len())
	}
	w := d.man.WindowSamples
	if int64(len(dst)) < w {
		return fmt.Errorf("cache: labels of %d samples into %d values", w, len(dst))
	}
	k := d.recording(i)
	r := &d.man.Recordings[k]
	start := (int64(i) - r.FirstWindow) * d.man.StrideSamples
	clear(dst[:w])
	for _, s := range seizureSamples(r.Seizures, d.man.Rate, r.Samples) {
		a, b := max(s[0], start), min(s[1], start+w)
		for j := a; j < b; j++ {
			dst[j-start] = 1
		}
	}
	return nil
}

// Close closes the recording files that were opened.
func (d *Dataset) Close() error {
	var errs []error
	for i := range d.recs {
		// Mark every recording as done so that no later open starts.
		d.recs[i].once.Do(func() { d.recs[i].err = errors.New("cache: dataset closed") })
		if r := d.recs[i].rec; r != nil {
			errs = append(errs, r.Close())
		}
	}
	return errors.Join(errs...)
}
