package edf

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// chunkBytes is the size of the buffer samples are read through: reads of
// long ranges go chunk by chunk, so memory does not grow with the range.
const chunkBytes = 1 << 20

// Reader reads one EDF/EDF+/BDF/BDF+ file. Its methods are safe for
// concurrent use.
type Reader struct {
	name   string
	ra     io.ReaderAt
	closer io.Closer
	h      *Header

	// startOffset is the first record's time-keeping onset (EDF+/BDF+).
	startOffset time.Duration
	// annotations are all annotations, in file order (record, then signal).
	annotations []Annotation
	// starts holds each record's start relative to Header.Start for
	// discontinuous files; nil for continuous ones.
	starts []time.Duration

	pool sync.Pool // *[]byte chunk buffers
}

// Open opens the file at path and parses its header (and, for EDF+/BDF+,
// its annotation signals). Close the Reader when done.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s: is a directory, not an EDF file", path)
	}
	r, err := NewReader(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads a file of size bytes through ra; name is used in errors.
// For EDF+/BDF+ files it reads every record's annotation signals (only
// those bytes) to collect annotations and record start times.
func NewReader(ra io.ReaderAt, size int64, name string) (*Reader, error) {
	h, err := readHeader(name, ra, size)
	if err != nil {
		return nil, err
	}
	r := &Reader{name: name, ra: ra, h: h}
	if h.Format.IsPlus() && len(h.AnnotationSignals()) > 0 && h.Records > 0 {
		if err := r.scanAnnotations(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Close closes the underlying file (when opened with Open).
func (r *Reader) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// Name returns the file name used in errors.
func (r *Reader) Name() string { return r.name }

// Header returns the parsed header. The caller must not modify it.
func (r *Reader) Header() *Header { return r.h }

// Annotations returns the annotations of an EDF+/BDF+ file in file order
// (by record, then by annotation signal), without the time-keeping TALs.
// Onsets are relative to Header.Start.
func (r *Reader) Annotations() []Annotation { return r.annotations }

// RecordStart returns the start of data record i relative to Header.Start:
// i × RecordDuration for continuous files, the record's time-keeping TAL for
// EDF+D/BDF+D files.
func (r *Reader) RecordStart(i int64) time.Duration {
	if r.starts != nil && i >= 0 && i < int64(len(r.starts)) {
		return r.starts[i]
	}
	return time.Duration(i) * r.h.RecordDuration
}

// Discontinuous reports whether the file has gaps between records (an
// EDF+D/BDF+D file whose records do not follow each other exactly).
func (r *Reader) Discontinuous() bool {
	for i, s := range r.starts {
		if s != time.Duration(i)*r.h.RecordDuration {
			return true
		}
	}
	return false
}

// scanAnnotations reads the annotation signals of every record: the
// time-keeping TALs give the sub-second start and, for EDF+D, each record's
// start; the other TALs are annotations.
func (r *Reader) scanAnnotations() error {
	h := r.h
	ann := h.AnnotationSignals()
	lo := h.Signals[ann[0]].offset
	last := &h.Signals[ann[len(ann)-1]]
	hi := last.offset + int64(last.SamplesPerRecord*h.Format.bytesPerSample())
	buf := make([]byte, hi-lo)
	discontinuous := h.Format.IsDiscontinuous()
	if discontinuous {
		r.starts = make([]time.Duration, h.Records)
	}
	warnedTiming := false
	for rec := int64(0); rec < h.Records; rec++ {
		base := h.HeaderBytes + rec*h.RecordBytes
		if _, err := r.ra.ReadAt(buf, base+lo); err != nil {
			return r.readErr(base+lo, err)
		}
		for k, sig := range ann {
			s := &h.Signals[sig]
			off := s.offset - lo
			b := buf[off : off+int64(s.SamplesPerRecord*h.Format.bytesPerSample())]
			field := fmt.Sprintf("record %d annotation signal %d", rec, sig+1)
			tals, err := ParseTALs(b)
			if err != nil {
				var te *TALError
				if errors.As(err, &te) {
					return &FormatError{File: r.name, Offset: base + s.offset + int64(te.Offset), Field: field, Msg: te.Msg}
				}
				return err
			}
			if k == 0 {
				// The first TAL of the first annotation signal keeps time.
				if len(tals) == 0 {
					if discontinuous {
						return &FormatError{File: r.name, Offset: base + s.offset, Field: field, Msg: "no time-keeping TAL: the record's start time is unknown in an EDF+D file"}
					}
					if !warnedTiming {
						h.Warnings = append(h.Warnings, fmt.Sprintf("record %d has no time-keeping TAL; assumed to follow the previous record", rec))
						warnedTiming = true
					}
				} else {
					tk := tals[0]
					if rec == 0 {
						r.startOffset = tk.Onset
						h.Start = h.Start.Add(tk.Onset)
					}
					start := tk.Onset - r.startOffset
					if err := r.checkRecordStart(rec, start, base+s.offset, field, &warnedTiming); err != nil {
						return err
					}
					if len(tk.Texts) > 0 && tk.Texts[0] == "" {
						tk.Texts = tk.Texts[1:]
					}
					tals[0] = tk
				}
			}
			for _, t := range tals {
				for _, text := range t.Texts {
					r.annotations = append(r.annotations, Annotation{
						Onset: t.Onset - r.startOffset, Duration: t.Duration, HasDuration: t.HasDuration,
						Text: text, Record: rec, Signal: sig,
					})
				}
			}
		}
	}
	return nil
}

// checkRecordStart checks record rec's time-keeping start against the
// previous records and stores it for discontinuous files.
func (r *Reader) checkRecordStart(rec int64, start time.Duration, off int64, field string, warned *bool) error {
	h := r.h
	if r.starts == nil {
		if want := time.Duration(rec) * h.RecordDuration; start != want && !*warned {
			h.Warnings = append(h.Warnings, fmt.Sprintf("%s file: record %d's time-keeping TAL says it starts at %v, not %v; samples are timed as continuous", h.Format, rec, start, want))
			*warned = true
		}
		return nil
	}
	if rec > 0 {
		if prevEnd := r.starts[rec-1] + h.RecordDuration; start < prevEnd {
			return &FormatError{File: r.name, Offset: off, Field: field, Msg: fmt.Sprintf("record starts at %v, before the previous record ends (%v)", start, prevEnd)}
		}
	}
	r.starts[rec] = start
	return nil
}

func (r *Reader) readErr(off int64, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &FormatError{File: r.name, Offset: off, Field: "data records", Msg: "file ended early (was it truncated while being read?)"}
	}
	return fmt.Errorf("%s: read at byte %d: %w", r.name, off, err)
}

// checkSignal validates a signal index for sample reading.
func (r *Reader) checkSignal(sig int, physical bool) (*Signal, error) {
	if sig < 0 || sig >= len(r.h.Signals) {
		return nil, fmt.Errorf("%s: signal index %d out of range (the file has %d signals)", r.name, sig, len(r.h.Signals))
	}
	s := &r.h.Signals[sig]
	if s.Annotation {
		return nil, fmt.Errorf("%s: signal %d is an annotation signal and has no samples", r.name, sig+1)
	}
	if physical && s.scaleErr != nil {
		return nil, s.scaleErr
	}
	return s, nil
}

// getBuf returns a chunk buffer of at least n bytes.
func (r *Reader) getBuf(n int) *[]byte {
	if p, ok := r.pool.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n)
	return &b
}

// forChunks reads records [first, first+n) in chunks of whole records and
// calls fn with each chunk.
func (r *Reader) forChunks(first, n int64, fn func(rec0 int64, chunk []byte, nrec int64)) error {
	if n <= 0 {
		return nil
	}
	rb := r.h.RecordBytes
	per := max(1, chunkBytes/rb)
	bp := r.getBuf(int(min(per, n) * rb))
	defer r.pool.Put(bp)
	for done := int64(0); done < n; {
		k := min(per, n-done)
		chunk := (*bp)[:k*rb]
		off := r.h.HeaderBytes + (first+done)*rb
		if _, err := r.ra.ReadAt(chunk, off); err != nil {
			return r.readErr(off, err)
		}
		fn(first+done, chunk, k)
		done += k
	}
	return nil
}

// sampleRange validates [start, start+want) for signal s and returns how many
// samples can be read.
func (r *Reader) sampleRange(sig int, start int64, want int) (int64, error) {
	total := r.h.Samples(sig)
	if start < 0 || start > total {
		return 0, fmt.Errorf("%s: signal %d: sample %d out of range (0..%d)", r.name, sig+1, start, total)
	}
	return min(int64(want), total-start), nil
}

// ReadDigital reads the stored integers of signal sig from sample start on
// into dst (clamped to the signal's digital range). It returns the number of
// samples read; fewer than len(dst) only at the end of the signal, with
// io.EOF.
func (r *Reader) ReadDigital(sig int, start int64, dst []int32) (int, error) {
	return readSignal(r, sig, start, dst, false)
}

// ReadPhysical reads physical values of signal sig from sample start on into
// dst; see ReadDigital for the count returned.
func (r *Reader) ReadPhysical(sig int, start int64, dst []float64) (int, error) {
	return readSignal(r, sig, start, dst, true)
}

// ReadPhysical32 is ReadPhysical with float32 output (computed in float64,
// then rounded).
func (r *Reader) ReadPhysical32(sig int, start int64, dst []float32) (int, error) {
	return readSignal(r, sig, start, dst, true)
}

// ReadRecords reads data records [first, first+n) of the signals sigs as
// physical values: dst[i] receives n × SamplesPerRecord values of signal
// sigs[i] and must be at least that long. All signals are decoded from one
// pass over the records.
func (r *Reader) ReadRecords(first, n int64, sigs []int, dst [][]float64) error {
	return readRecords(r, first, n, sigs, dst)
}

// ReadRecords32 is ReadRecords with float32 output.
func (r *Reader) ReadRecords32(first, n int64, sigs []int, dst [][]float32) error {
	return readRecords(r, first, n, sigs, dst)
}

type sample interface{ int32 | float32 | float64 }

func readSignal[T sample](r *Reader, sig int, start int64, dst []T, physical bool) (int, error) {
	s, err := r.checkSignal(sig, physical)
	if err != nil {
		return 0, err
	}
	n, err := r.sampleRange(sig, start, len(dst))
	if err != nil {
		return 0, err
	}
	if n > 0 {
		spr := int64(s.SamplesPerRecord)
		bps := int64(r.h.Format.bytesPerSample())
		r0, r1 := start/spr, (start+n-1)/spr+1
		bdf := r.h.Format.IsBDF()
		err = r.forChunks(r0, r1-r0, func(rec0 int64, chunk []byte, nrec int64) {
			for k := int64(0); k < nrec; k++ {
				recFirst := (rec0 + k) * spr // first sample index of this record
				a, b := max(start, recFirst), min(start+n, recFirst+spr)
				src := chunk[k*r.h.RecordBytes+s.offset+(a-recFirst)*bps:]
				decode(dst[a-start:b-start], src, bdf, s, physical)
			}
		})
		if err != nil {
			return 0, err
		}
	}
	if int(n) < len(dst) {
		return int(n), io.EOF
	}
	return int(n), nil
}

func readRecords[T float32 | float64](r *Reader, first, n int64, sigs []int, dst [][]T) error {
	if len(dst) != len(sigs) {
		return fmt.Errorf("%s: read records: %d destination slices for %d signals", r.name, len(dst), len(sigs))
	}
	if first < 0 || n < 0 || first+n > r.h.Records {
		return fmt.Errorf("%s: read records %d..%d: out of range (the file has %d records)", r.name, first, first+n, r.h.Records)
	}
	ss := make([]*Signal, len(sigs))
	for i, sig := range sigs {
		s, err := r.checkSignal(sig, true)
		if err != nil {
			return err
		}
		if int64(len(dst[i])) < n*int64(s.SamplesPerRecord) {
			return fmt.Errorf("%s: read records: destination for signal %d holds %d values, %d needed", r.name, sig+1, len(dst[i]), n*int64(s.SamplesPerRecord))
		}
		ss[i] = s
	}
	bdf := r.h.Format.IsBDF()
	return r.forChunks(first, n, func(rec0 int64, chunk []byte, nrec int64) {
		for k := int64(0); k < nrec; k++ {
			rec := chunk[k*r.h.RecordBytes:]
			for i, s := range ss {
				spr := int64(s.SamplesPerRecord)
				at := (rec0 - first + k) * spr
				decode(dst[i][at:at+spr], rec[s.offset:], bdf, s, true)
			}
		}
	})
}

// decode converts len(dst) samples from src.
func decode[T sample](dst []T, src []byte, bdf bool, s *Signal, physical bool) {
	lo, hi := s.DigitalMin, s.DigitalMax
	if lo > hi {
		lo, hi = hi, lo
	}
	if bdf {
		decode24(dst, src, lo, hi, s.gain, s.bias, physical)
	} else {
		decode16(dst, src, lo, hi, s.gain, s.bias, physical)
	}
}

func decode16[T sample](dst []T, src []byte, lo, hi int32, gain, bias float64, physical bool) {
	src = src[:2*len(dst)]
	if !physical {
		for i := range dst {
			d := int32(int16(uint16(src[2*i]) | uint16(src[2*i+1])<<8))
			dst[i] = T(min(max(d, lo), hi))
		}
		return
	}
	for i := range dst {
		d := int32(int16(uint16(src[2*i]) | uint16(src[2*i+1])<<8))
		dst[i] = T(gain * (float64(min(max(d, lo), hi)) + bias))
	}
}

func decode24[T sample](dst []T, src []byte, lo, hi int32, gain, bias float64, physical bool) {
	src = src[:3*len(dst)]
	if !physical {
		for i := range dst {
			d := int32(uint32(src[3*i])|uint32(src[3*i+1])<<8|uint32(src[3*i+2])<<16) << 8 >> 8
			dst[i] = T(min(max(d, lo), hi))
		}
		return
	}
	for i := range dst {
		d := int32(uint32(src[3*i])|uint32(src[3*i+1])<<8|uint32(src[3*i+2])<<16) << 8 >> 8
		dst[i] = T(gain * (float64(min(max(d, lo), hi)) + bias))
	}
}
