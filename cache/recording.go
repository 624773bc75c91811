package cache

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/zeebo/xxh3"

	"github.com/pipeml/pipe/internal/atomicfile"
)

// RecordingMeta is the metadata of one recording file.
type RecordingMeta struct {
	// Format is "pipe-eeg-cache"; Version is FormatVersion.
	Format  string `json:"format"`
	Version int    `json:"version"`
	// ID, Split, Patient, Session and Montage identify the recording in
	// the corpus (Montage is the TUSZ montage directory, e.g. "01_tcp_ar").
	ID      string `json:"id"`
	Split   string `json:"split"`
	Patient string `json:"patient"`
	Session string `json:"session"`
	Montage string `json:"montage"`
	// Source fingerprints the EDF and annotation files it was made from.
	Source Source `json:"source"`
	// Params are the parameters the signal was made with (preprocessing,
	// encoding, block size) and ParamsHash their hash; a cache file is
	// reused only when both its source and its ParamsHash match.
	Params     json.RawMessage `json:"params"`
	ParamsHash string          `json:"params_hash"`
	// Channels, Rate and Samples describe the stored signal.
	Channels []string `json:"channels"`
	Rate     float64  `json:"rate"`
	Samples  int64    `json:"samples"`
	// DurationS is Samples / Rate.
	DurationS float64 `json:"duration_s"`
	// Start is the recording's start (RFC 3339) from the EDF header.
	Start string `json:"start"`
	// Encoding and BlockSamples give the data layout (see the package
	// documentation); DataBytes its size and DataXXH3 its XXH3-128 (hex).
	Encoding     string `json:"encoding"`
	BlockSamples int    `json:"block_samples"`
	DataBytes    int64  `json:"data_bytes"`
	DataXXH3     string `json:"data_xxh3"`
	// Seizures are the recording's seizure intervals in seconds (merged,
	// sorted), Events all its term-based annotation events.
	Seizures []Interval `json:"seizures"`
	Events   []Event    `json:"events"`
	// Notes are remarks of the preprocessing (interpolated channels,
	// approximated rates, ...).
	Notes []string `json:"notes,omitempty"`
}

// Source fingerprints the files a recording was made from.
type Source struct {
	// EDF and Annotations are paths relative to the corpus root.
	EDF         string `json:"edf"`
	Annotations string `json:"annotations"`
	// Sizes and modification times (RFC 3339 with nanoseconds) give a
	// cheap check; XXH3 is the XXH3-128 of the EDF bytes followed by the
	// annotation bytes, the real identity.
	EDFSize      int64  `json:"edf_size"`
	EDFModTime   string `json:"edf_mtime"`
	AnnotSize    int64  `json:"annotations_size"`
	AnnotModTime string `json:"annotations_mtime"`
	XXH3         string `json:"xxh3"`
}

// Interval is a time interval [Start, Stop) in seconds from the start of the
// recording.
type Interval struct {
	Start float64 `json:"start_s"`
	Stop  float64 `json:"stop_s"`
}

// Event is one term-based annotation event.
type Event struct {
	Start float64 `json:"start_s"`
	Stop  float64 `json:"stop_s"`
	Label string  `json:"label"`
}

// RecordingWriter writes one recording file: signal chunks in, blocks out,
// through a temporary file that Close renames into place.
type RecordingWriter struct {
	path    string
	tmp     *os.File
	bw      *bufio.Writer
	lay     layout
	buf     [][]float32 // one block being filled
	fill    int
	blk     []byte
	hash    *xxh3.Hasher
	samples int64
	done    bool
}

// CreateRecording starts the recording file path for a signal of the given
// number of channels, stored in blocks of block samples with encoding enc.
func CreateRecording(path string, channels, block int, enc string) (*RecordingWriter, error) {
	lay, err := newLayout(channels, block, enc)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	w := &RecordingWriter{path: path, tmp: tmp, lay: lay, hash: xxh3.New(),
		buf: make([][]float32, channels), blk: make([]byte, lay.blockBytes())}
	for c := range w.buf {
		w.buf[c] = make([]float32, block)
	}
	if _, err := tmp.Seek(preambleSize, io.SeekStart); err != nil {
		w.Abort()
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	w.bw = bufio.NewWriterSize(tmp, 1<<20)
	return w, nil
}

// Write appends chunk[c] to channel c; every channel must get the same
// number of samples.
func (w *RecordingWriter) Write(chunk [][]float32) error {
	if w.done {
		return errors.New("write: recording writer is closed")
	}
	if len(chunk) != w.lay.channels {
		return fmt.Errorf("write %s: %d channels, want %d", w.path, len(chunk), w.lay.channels)
	}
	n := len(chunk[0])
	for c := range chunk {
		if len(chunk[c]) != n {
			return fmt.Errorf("write %s: channel %d has %d samples, channel 0 has %d", w.path, c, len(chunk[c]), n)
		}
	}
	for at := 0; at < n; {
		k := min(n-at, w.lay.block-w.fill)
		for c := range chunk {
			copy(w.buf[c][w.fill:], chunk[c][at:at+k])
		}
		w.fill += k
		at += k
		if w.fill == w.lay.block {
			if err := w.flushBlock(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *RecordingWriter) flushBlock() error {
	if err := w.lay.encodeBlock(w.blk, w.buf, w.fill); err != nil {
		return fmt.Errorf("write %s: samples %d..%d: %w", w.path, w.samples, w.samples+int64(w.fill), err)
	}
	w.hash.Write(w.blk)
	if _, err := w.bw.Write(w.blk); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	w.samples += int64(w.fill)
	w.fill = 0
	return nil
}

// Samples returns the number of samples written so far.
func (w *RecordingWriter) Samples() int64 { return w.samples + int64(w.fill) }

// Close completes the file: it fills in meta's layout fields (Format,
// Version, Samples, DurationS, Encoding, BlockSamples, DataBytes, DataXXH3),
// writes it, and renames the file into place atomically.
func (w *RecordingWriter) Close(meta *RecordingMeta) (err error) {
	if w.done {
		return errors.New("close: recording writer already closed")
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	if w.fill > 0 {
		if err := w.flushBlock(); err != nil {
			return err
		}
	}
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	nblocks := (w.samples + int64(w.lay.block) - 1) / int64(w.lay.block)
	dataBytes := nblocks * w.lay.blockBytes()
	meta.Format, meta.Version = "pipe-eeg-cache", FormatVersion
	meta.Samples = w.samples
	if meta.Rate > 0 {
		meta.DurationS = float64(w.samples) / meta.Rate
	}
	meta.Encoding, meta.BlockSamples = w.lay.enc, w.lay.block
	meta.DataBytes = dataBytes
	sum := w.hash.Sum128().Bytes()
	meta.DataXXH3 = hex.EncodeToString(sum[:])
	if len(meta.Channels) != w.lay.channels {
		return fmt.Errorf("write %s: metadata names %d channels, the data has %d", w.path, len(meta.Channels), w.lay.channels)
	}
	js, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	metaOff := int64(preambleSize) + dataBytes
	if _, err := w.tmp.WriteAt(js, metaOff); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	pre := encodePreamble(preamble{dataOffset: preambleSize, dataBytes: dataBytes, metaOffset: metaOff, metaBytes: int64(len(js)), metaXXH3: xxh3.Hash(js)})
	if _, err := w.tmp.WriteAt(pre, 0); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	if err := w.tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", w.path, err)
	}
	if err := w.tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	if err := os.Rename(w.tmp.Name(), w.path); err != nil {
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	w.done = true
	return atomicfile.SyncDir(filepath.Dir(w.path))
}

// Abort discards the file being written (a no-op after Close).
func (w *RecordingWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.tmp.Close()
	os.Remove(w.tmp.Name())
}

// preamble is the fixed header of a recording file.
type preamble struct {
	dataOffset, dataBytes int64
	metaOffset, metaBytes int64
	metaXXH3              uint64
}

func encodePreamble(p preamble) []byte {
	b := make([]byte, preambleSize)
	copy(b, recordingMagic)
	binary.LittleEndian.PutUint32(b[8:], FormatVersion)
	binary.LittleEndian.PutUint64(b[16:], uint64(p.dataOffset))
	binary.LittleEndian.PutUint64(b[24:], uint64(p.dataBytes))
	binary.LittleEndian.PutUint64(b[32:], uint64(p.metaOffset))
	binary.LittleEndian.PutUint64(b[40:], uint64(p.metaBytes))
	binary.LittleEndian.PutUint64(b[48:], p.metaXXH3)
	binary.LittleEndian.PutUint64(b[56:], xxh3.Hash(b[:56]))
	return b
}

// readPreamble reads and checks the preamble and the metadata of a recording
// file of the given size.
func readPreamble(name string, r io.ReaderAt, size int64) (preamble, *RecordingMeta, error) {
	var p preamble
	b := make([]byte, preambleUsed)
	if size < preambleSize {
		return p, nil, fmt.Errorf("%s: %d bytes, too short for a cache recording file (truncated?)", name, size)
	}
	if _, err := r.ReadAt(b, 0); err != nil {
		return p, nil, fmt.Errorf("%s: %w", name, err)
	}
	if string(b[:8]) != recordingMagic {
		return p, nil, fmt.Errorf("%s: byte 0: not a cache recording file (magic %q)", name, b[:8])
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != FormatVersion {
		return p, nil, fmt.Errorf("%s: byte 8: format version %d, this pipe reads version %d (repopulate the cache)", name, v, FormatVersion)
	}
	if binary.LittleEndian.Uint64(b[56:]) != xxh3.Hash(b[:56]) {
		return p, nil, fmt.Errorf("%s: byte 56: preamble checksum mismatch (file corrupted)", name)
	}
	p.dataOffset = int64(binary.LittleEndian.Uint64(b[16:]))
	p.dataBytes = int64(binary.LittleEndian.Uint64(b[24:]))
	p.metaOffset = int64(binary.LittleEndian.Uint64(b[32:]))
	p.metaBytes = int64(binary.LittleEndian.Uint64(b[40:]))
	p.metaXXH3 = binary.LittleEndian.Uint64(b[48:])
	if p.dataOffset != preambleSize || p.dataBytes < 0 || p.metaOffset != p.dataOffset+p.dataBytes || p.metaBytes <= 0 || p.metaBytes > 64<<20 || p.metaOffset+p.metaBytes != size {
		return p, nil, fmt.Errorf("%s: byte 16: layout (data %d+%d, metadata %d+%d) does not match the file size %d (truncated or corrupted)", name, p.dataOffset, p.dataBytes, p.metaOffset, p.metaBytes, size)
	}
	js := make([]byte, p.metaBytes)
	if _, err := r.ReadAt(js, p.metaOffset); err != nil {
		return p, nil, fmt.Errorf("%s: %w", name, err)
	}
	if xxh3.Hash(js) != p.metaXXH3 {
		return p, nil, fmt.Errorf("%s: byte %d: metadata checksum mismatch (file corrupted)", name, p.metaOffset)
	}
	var m RecordingMeta
	if err := json.Unmarshal(js, &m); err != nil {
		return p, nil, fmt.Errorf("%s: byte %d: metadata: %w", name, p.metaOffset, err)
	}
	lay, err := newLayout(len(m.Channels), m.BlockSamples, m.Encoding)
	if err != nil {
		return p, nil, fmt.Errorf("%s: metadata: %w", name, err)
	}
	nblocks := (m.Samples + int64(m.BlockSamples) - 1) / int64(m.BlockSamples)
	if m.Samples < 0 || nblocks*lay.blockBytes() != p.dataBytes || m.DataBytes != p.dataBytes || !(m.Rate > 0) {
		return p, nil, fmt.Errorf("%s: metadata: %d samples of %d channels (%s, blocks of %d) at %g Hz do not match %d data bytes", name, m.Samples, len(m.Channels), m.Encoding, m.BlockSamples, m.Rate, p.dataBytes)
	}
	return p, &m, nil
}

// ReadRecordingMeta reads the metadata of the recording file at path,
// checking its preamble and metadata checksum (not the data checksum), and
// returns it with that checksum (hex XXH3-64 of the metadata bytes).
func ReadRecordingMeta(path string) (*RecordingMeta, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", err
	}
	p, m, err := readPreamble(path, f, st.Size())
	if err != nil {
		return nil, "", err
	}
	return m, fmt.Sprintf("%016x", p.metaXXH3), nil
}

// Recording reads one recording file. It is safe for concurrent use.
type Recording struct {
	path string
	f    *os.File
	pre  preamble
	meta *RecordingMeta
	lay  layout
	pool sync.Pool
}

// OpenRecording opens a recording file and checks its preamble and metadata.
func OpenRecording(path string) (*Recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	p, m, err := readPreamble(path, f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	lay, _ := newLayout(len(m.Channels), m.BlockSamples, m.Encoding)
	return &Recording{path: path, f: f, pre: p, meta: m, lay: lay}, nil
}

// Meta returns the recording's metadata; the caller must not modify it.
func (r *Recording) Meta() *RecordingMeta { return r.meta }

// MetaXXH3 returns the checksum of the metadata (hex XXH3-64), which
// identifies the file's content together with the data checksum inside it.
func (r *Recording) MetaXXH3() string { return fmt.Sprintf("%016x", r.pre.metaXXH3) }

// Close closes the file.
func (r *Recording) Close() error { return r.f.Close() }

// maxReadBlocks bounds the blocks one read call holds in memory.
const maxReadBlocks = 64

// Read decodes samples [start, start+n) of every channel into dst, channel
// after channel: channel c lands in dst[c*n : (c+1)*n]. dst must hold
// channels × n values.
func (r *Recording) Read(start int64, n int, dst []float32) error {
	m := r.meta
	if start < 0 || n < 0 || start+int64(n) > m.Samples {
		return fmt.Errorf("%s: read samples %d..%d: out of range (0..%d)", r.path, start, start+int64(n), m.Samples)
	}
	if len(dst) < r.lay.channels*n {
		return fmt.Errorf("%s: read %d samples of %d channels into %d values", r.path, n, r.lay.channels, len(dst))
	}
	if n == 0 {
		return nil
	}
	b := int64(r.lay.block)
	bb := r.lay.blockBytes()
	first, last := start/b, (start+int64(n)-1)/b
	bufp, _ := r.pool.Get().(*[]byte)
	if bufp == nil {
		bufp = new([]byte)
	}
	defer r.pool.Put(bufp)
	for b0 := first; b0 <= last; b0 += maxReadBlocks {
		b1 := min(last, b0+maxReadBlocks-1)
		need := int((b1 - b0 + 1) * bb)
		if cap(*bufp) < need {
			*bufp = make([]byte, need)
		}
		buf := (*bufp)[:need]
		if _, err := r.f.ReadAt(buf, preambleSize+b0*bb); err != nil {
			return fmt.Errorf("%s: read blocks %d..%d: %w", r.path, b0, b1, err)
		}
		for blk := b0; blk <= b1; blk++ {
			from := max(start, blk*b) - blk*b
			to := min(start+int64(n), (blk+1)*b) - blk*b
			at := int(blk*b + from - start)
			r.lay.decodeBlock(dst, n, at, buf[(blk-b0)*bb:(blk-b0+1)*bb], int(from), int(to))
		}
	}
	return nil
}

// VerifyData reads the whole data section and compares its checksum with
// the metadata.
func (r *Recording) VerifyData() error {
	h := xxh3.New()
	if _, err := io.Copy(h, io.NewSectionReader(r.f, preambleSize, r.meta.DataBytes)); err != nil {
		return fmt.Errorf("%s: %w", r.path, err)
	}
	sum := h.Sum128().Bytes()
	if got := hex.EncodeToString(sum[:]); got != r.meta.DataXXH3 {
		return fmt.Errorf("%s: data checksum %s, metadata says %s (file corrupted)", r.path, got, r.meta.DataXXH3)
	}
	return nil
}
