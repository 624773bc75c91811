package edf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pipeml/pipe/internal/atomicfile"
)

// FileSpec describes a file to write.
type FileSpec struct {
	// Format is EDFPlusC (the usual choice), EDFPlusD, BDFPlusC, BDFPlusD,
	// or plain EDF/BDF (no annotations, whole-second start).
	Format Format
	// Patient is the local patient identification field. For EDF+/BDF+ it
	// must follow the EDF+ subfields "code sex birthdate name" (each "X"
	// when unknown); empty means "X X X X".
	Patient string
	// Recording is, for EDF+/BDF+, what follows "Startdate dd-MMM-yyyy "
	// in the recording field: "admincode technician equipment ..." (empty
	// means "X X X"); for plain EDF/BDF the whole field.
	Recording string
	// Start is the start of the first record. A sub-second part is stored
	// in the first record's time-keeping TAL (EDF+/BDF+ only).
	Start time.Time
	// RecordDuration is the duration of one data record (> 0).
	RecordDuration time.Duration
	// Signals are the data signals; the annotation signal is added after
	// them for EDF+/BDF+.
	Signals []SignalSpec
	// AnnotationBytes is the size of the annotation signal in each record
	// (EDF+/BDF+); 0 means 128. Annotations that do not fit in the record
	// holding their onset go into the following records.
	AnnotationBytes int
}

// SignalSpec describes one data signal to write.
type SignalSpec struct {
	Label      string // at most 16 characters, printable ASCII
	Transducer string // at most 80
	Unit       string // at most 8
	Prefilter  string // at most 80
	// PhysicalMin/Max and DigitalMin/Max define the scaling. Physical
	// values are stored as round(value/gain − bias), clamped to the
	// digital range. The physical limits are written with at most 8
	// characters; the values as written are the ones used.
	PhysicalMin, PhysicalMax float64
	DigitalMin, DigitalMax   int32
	SamplesPerRecord         int
}

// Writer writes an EDF/EDF+/BDF/BDF+ file record by record.
type Writer struct {
	spec      FileSpec
	h         *Header
	dst       io.WriteSeeker
	bw        *bufio.Writer
	data      []int // indices of data signals in h.Signals
	annSig    int   // index of the annotation signal, -1 if none
	annBytes  int64
	subsecond time.Duration
	records   int64
	starts    []time.Duration // record starts (relative to Start)
	nextStart time.Duration
	annots    []Annotation
	rec       []byte
	err       error
	closed    bool

	// set by Create
	tmp  *os.File
	path string
}

// Create starts writing the file path. The data goes to a temporary file in
// the same directory, renamed over path by Close (fsynced), so path never
// holds a partial file; Abort discards it.
func Create(path string, spec FileSpec) (*Writer, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	w, err := NewWriter(tmp, spec)
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	w.tmp, w.path = tmp, path
	return w, nil
}

// NewWriter writes a file to dst, which must be empty and positioned at its
// start. Close patches the header (record count) and the annotations, so dst
// must support Seek.
func NewWriter(dst io.WriteSeeker, spec FileSpec) (*Writer, error) {
	h, err := buildHeader(&spec)
	if err != nil {
		return nil, err
	}
	w := &Writer{spec: spec, h: h, dst: dst, bw: bufio.NewWriterSize(dst, 1<<20), annSig: -1}
	w.subsecond = spec.Start.Sub(spec.Start.Truncate(time.Second))
	for i := range h.Signals {
		if h.Signals[i].Annotation {
			w.annSig = i
			w.annBytes = int64(h.Signals[i].SamplesPerRecord * h.Format.bytesPerSample())
		} else {
			w.data = append(w.data, i)
		}
	}
	w.rec = make([]byte, h.RecordBytes)
	if _, err := w.bw.Write(encodeHeader(h)); err != nil {
		return nil, err
	}
	return w, nil
}

// Header returns the header being written (Records counts the records
// written so far).
func (w *Writer) Header() *Header { return w.h }

// Annotate adds an annotation (onset relative to FileSpec.Start). It may be
// called at any time before Close.
func (w *Writer) Annotate(a Annotation) error {
	if w.annSig < 0 {
		return fmt.Errorf("annotate: %s files have no annotation signal", w.h.Format)
	}
	if strings.ContainsAny(a.Text, "\x00\x14\x15") {
		return fmt.Errorf("annotate %q: text contains a TAL delimiter (0x00, 0x14 or 0x15)", a.Text)
	}
	if a.HasDuration && a.Duration < 0 {
		return fmt.Errorf("annotate %q: negative duration %v", a.Text, a.Duration)
	}
	if n := int64(len(encodeTAL(a.Onset+w.subsecond, a.Duration, a.HasDuration, []string{a.Text}))); n > w.annBytes-w.maxTimekeeping() {
		return fmt.Errorf("annotate %q: TAL of %d bytes does not fit in the %d-byte annotation signal (raise FileSpec.AnnotationBytes)", a.Text, n, w.annBytes)
	}
	w.annots = append(w.annots, a)
	return nil
}

// maxTimekeeping bounds the size of a time-keeping TAL.
func (w *Writer) maxTimekeeping() int64 {
	return int64(len(encodeTAL(-(1 << 62), 0, false, []string{""})))
}

// WritePhysical appends records holding the physical values data[i] of data
// signal i (in FileSpec.Signals order). Every data[i] must hold the same
// number k ≥ 1 of records' worth of samples (k × SamplesPerRecord). Values
// are rounded to the nearest digital step and clamped to the digital range;
// NaN and infinite values are an error.
func (w *Writer) WritePhysical(data [][]float64) error {
	return w.write(-1, data, nil)
}

// WritePhysicalAt is WritePhysical for EDF+D/BDF+D files: the records start
// at start (relative to FileSpec.Start), which must not be before the end of
// the previous record.
func (w *Writer) WritePhysicalAt(start time.Duration, data [][]float64) error {
	if !w.h.Format.IsDiscontinuous() {
		return fmt.Errorf("write records at %v: only EDF+D/BDF+D files may have gaps", start)
	}
	return w.write(start, data, nil)
}

// WriteDigital appends records of stored integers (see WritePhysical for the
// layout); values outside the digital range are an error.
func (w *Writer) WriteDigital(data [][]int32) error {
	return w.write(-1, nil, data)
}

func (w *Writer) write(start time.Duration, phys [][]float64, dig [][]int32) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("write: writer is closed")
	}
	n := len(phys) + len(dig)
	if n != len(w.data) {
		return fmt.Errorf("write: %d signals given, the file has %d", n, len(w.data))
	}
	k := int64(-1)
	for i, sig := range w.data {
		var l int
		if phys != nil {
			l = len(phys[i])
		} else {
			l = len(dig[i])
		}
		spr := int64(w.h.Signals[sig].SamplesPerRecord)
		if int64(l)%spr != 0 || l == 0 || (k >= 0 && int64(l)/spr != k) {
			return fmt.Errorf("write: signal %d (%s) has %d samples; every signal needs the same whole number of records (%d samples per record)", i+1, w.h.Signals[sig].Label, l, spr)
		}
		k = int64(l) / spr
	}
	if start < 0 {
		start = w.nextStart
	} else if start < w.nextStart {
		return fmt.Errorf("write records at %v: before the end of the previous record (%v)", start, w.nextStart)
	}
	bps := int64(w.h.Format.bytesPerSample())
	for r := int64(0); r < k; r++ {
		recStart := start + time.Duration(r)*w.h.RecordDuration
		for i, sig := range w.data {
			s := &w.h.Signals[sig]
			spr := int64(s.SamplesPerRecord)
			out := w.rec[s.offset : s.offset+spr*bps]
			for j := int64(0); j < spr; j++ {
				var d int32
				if phys != nil {
					v := phys[i][r*spr+j]
					if math.IsNaN(v) || math.IsInf(v, 0) {
						return fmt.Errorf("write: signal %d (%s) sample %d is %v", i+1, s.Label, (w.records+r)*spr+j, v)
					}
					d = s.clamp(int32(math.Max(-1<<31, math.Min(1<<31-1, math.Round(v/s.gain-s.bias)))))
				} else {
					d = dig[i][r*spr+j]
					if d < min(s.DigitalMin, s.DigitalMax) || d > max(s.DigitalMin, s.DigitalMax) {
						return fmt.Errorf("write: signal %d (%s) sample %d: digital value %d outside %d..%d", i+1, s.Label, (w.records+r)*spr+j, d, s.DigitalMin, s.DigitalMax)
					}
				}
				putSample(out[j*bps:], d, bps)
			}
		}
		if w.annSig >= 0 {
			s := &w.h.Signals[w.annSig]
			slot := w.rec[s.offset : s.offset+w.annBytes]
			clear(slot)
			copy(slot, encodeTAL(recStart+w.subsecond, 0, false, []string{""}))
		}
		if _, err := w.bw.Write(w.rec); err != nil {
			w.err = err
			return err
		}
		w.starts = append(w.starts, recStart)
	}
	w.records += k
	w.h.Records = w.records
	w.nextStart = start + time.Duration(k)*w.h.RecordDuration
	return nil
}

func putSample(b []byte, d int32, bps int64) {
	b[0] = byte(d)
	b[1] = byte(d >> 8)
	if bps == 3 {
		b[2] = byte(d >> 16)
	}
}

// Close places the annotations, writes the record count into the header and,
// for a Writer from Create, renames the file into place. A file needs at
// least one record.
func (w *Writer) Close() error {
	if w.closed {
		return errors.New("close: writer already closed")
	}
	err := w.finish()
	w.closed = true
	if w.tmp == nil {
		return err
	}
	if err != nil {
		w.tmp.Close()
		os.Remove(w.tmp.Name())
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	if err := w.tmp.Sync(); err != nil {
		w.tmp.Close()
		os.Remove(w.tmp.Name())
		return fmt.Errorf("write %s: sync: %w", w.path, err)
	}
	if err := w.tmp.Close(); err != nil {
		os.Remove(w.tmp.Name())
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	if err := os.Rename(w.tmp.Name(), w.path); err != nil {
		os.Remove(w.tmp.Name())
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	return atomicfile.SyncDir(filepath.Dir(w.path))
}

// Abort discards a file started with Create (a no-op after Close).
func (w *Writer) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	if w.tmp != nil {
		w.tmp.Close()
		os.Remove(w.tmp.Name())
	}
}

func (w *Writer) finish() error {
	if w.err != nil {
		return w.err
	}
	if w.records == 0 {
		return errors.New("no data records written")
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	count := []byte(fmt.Sprintf("%-8d", w.records))
	if len(count) > 8 {
		return fmt.Errorf("%d records do not fit the 8-character record count", w.records)
	}
	if _, err := w.dst.Seek(offRecords, io.SeekStart); err != nil {
		return err
	}
	if _, err := w.dst.Write(count); err != nil {
		return err
	}
	return w.placeAnnotations()
}

// placeAnnotations writes the annotations into the records' annotation
// signals: each goes into the record holding its onset or, when that is
// full, the next record with room, keeping onset order.
func (w *Writer) placeAnnotations() error {
	if len(w.annots) == 0 {
		return nil
	}
	sort.SliceStable(w.annots, func(i, j int) bool { return w.annots[i].Onset < w.annots[j].Onset })
	s := &w.h.Signals[w.annSig]
	slot := make([]byte, w.annBytes)
	rec := int64(0)
	used := int64(-1) // bytes used in slot for record rec; -1: not loaded
	flush := func() error {
		if used < 0 {
			return nil
		}
		if _, err := w.dst.Seek(w.h.HeaderBytes+rec*w.h.RecordBytes+s.offset, io.SeekStart); err != nil {
			return err
		}
		_, err := w.dst.Write(slot)
		return err
	}
	for _, a := range w.annots {
		tal := encodeTAL(a.Onset+w.subsecond, a.Duration, a.HasDuration, []string{a.Text})
		target := sort.Search(len(w.starts), func(i int) bool { return w.starts[i] > a.Onset }) - 1
		target = max(target, 0)
		if int64(target) > rec {
			if err := flush(); err != nil {
				return err
			}
			rec, used = int64(target), -1
		}
		for {
			if used < 0 {
				clear(slot)
				tk := encodeTAL(w.starts[rec]+w.subsecond, 0, false, []string{""})
				copy(slot, tk)
				used = int64(len(tk))
			}
			if used+int64(len(tal)) <= w.annBytes {
				copy(slot[used:], tal)
				used += int64(len(tal))
				break
			}
			if err := flush(); err != nil {
				return err
			}
			rec, used = rec+1, -1
			if rec >= w.records {
				return fmt.Errorf("annotations do not fit in the %d records' %d-byte annotation signals (raise FileSpec.AnnotationBytes)", w.records, w.annBytes)
			}
		}
	}
	return flush()
}

// encodeTAL formats one TAL: "+onset[\x15duration]\x14text\x14...\x00".
func encodeTAL(onset, dur time.Duration, hasDur bool, texts []string) []byte {
	b := []byte(formatSeconds(onset, true))
	if hasDur {
		b = append(b, talDuration)
		b = append(b, formatSeconds(dur, false)...)
	}
	b = append(b, talSep)
	for _, t := range texts {
		b = append(b, t...)
		b = append(b, talSep)
	}
	return append(b, 0)
}

// formatSeconds writes d as decimal seconds with no trailing zeros, exactly.
func formatSeconds(d time.Duration, sign bool) string {
	var sb strings.Builder
	if d < 0 {
		sb.WriteByte('-')
		d = -d
	} else if sign {
		sb.WriteByte('+')
	}
	sb.WriteString(strconv.FormatInt(int64(d/time.Second), 10))
	if frac := int64(d % time.Second); frac != 0 {
		f := strings.TrimRight(fmt.Sprintf("%09d", frac), "0")
		sb.WriteByte('.')
		sb.WriteString(f)
	}
	return sb.String()
}

// buildHeader validates spec and turns it into the Header to write.
func buildHeader(spec *FileSpec) (*Header, error) {
	f := spec.Format
	if f < EDF || f > BDFPlusD {
		return nil, fmt.Errorf("file spec: unknown format %d", int(f))
	}
	if spec.RecordDuration <= 0 {
		return nil, fmt.Errorf("file spec: record duration %v must be positive", spec.RecordDuration)
	}
	if len(formatSeconds(spec.RecordDuration, false)) > 8 {
		return nil, fmt.Errorf("file spec: record duration %v does not fit in 8 characters", spec.RecordDuration)
	}
	if len(spec.Signals) == 0 {
		return nil, errors.New("file spec: no signals")
	}
	start := spec.Start
	if start.IsZero() {
		return nil, errors.New("file spec: start time not set")
	}
	if y := start.Year(); y < 1985 || y > 2084 {
		return nil, fmt.Errorf("file spec: start year %d outside 1985..2084 (two-digit header years)", y)
	}
	if !f.IsPlus() && start.Nanosecond() != 0 {
		return nil, fmt.Errorf("file spec: sub-second start %v needs EDF+/BDF+", start)
	}
	h := &Header{Format: f, Start: start, RecordDuration: spec.RecordDuration, DeclaredRecords: -1}
	if f.IsBDF() {
		h.Version = "\xffBIOSEMI"
	} else {
		h.Version = "0"
	}
	h.Patient, h.Recording = spec.Patient, spec.Recording
	if f.IsPlus() {
		if h.Patient == "" {
			h.Patient = "X X X X"
		}
		rest := spec.Recording
		if rest == "" {
			rest = "X X X"
		}
		h.Recording = fmt.Sprintf("Startdate %02d-%s-%04d %s", start.Day(), months[start.Month()-1], start.Year(), rest)
		h.Reserved = f.String()
	}
	if err := checkText("patient", h.Patient, 80); err != nil {
		return nil, err
	}
	if err := checkText("recording", h.Recording, 80); err != nil {
		return nil, err
	}
	bps := int64(f.bytesPerSample())
	digLo, digHi := int32(-32768), int32(32767)
	if f.IsBDF() {
		digLo, digHi = -8388608, 8388607
	}
	var off int64
	for i, ss := range spec.Signals {
		s := Signal{Label: ss.Label, Transducer: ss.Transducer, Unit: ss.Unit, Prefilter: ss.Prefilter,
			DigitalMin: ss.DigitalMin, DigitalMax: ss.DigitalMax, SamplesPerRecord: ss.SamplesPerRecord}
		for _, c := range []struct {
			name, v string
			w       int
		}{{"label", s.Label, 16}, {"transducer", s.Transducer, 80}, {"unit", s.Unit, 8}, {"prefilter", s.Prefilter, 80}} {
			if err := checkText(fmt.Sprintf("signal %d %s", i+1, c.name), c.v, c.w); err != nil {
				return nil, err
			}
		}
		if s.Label == "EDF Annotations" || s.Label == "BDF Annotations" {
			return nil, fmt.Errorf("file spec: signal %d: the annotation signal is added by the writer", i+1)
		}
		if s.DigitalMin >= s.DigitalMax || s.DigitalMin < digLo || s.DigitalMax > digHi {
			return nil, fmt.Errorf("file spec: signal %d (%s): digital range %d..%d must be increasing within %d..%d", i+1, s.Label, s.DigitalMin, s.DigitalMax, digLo, digHi)
		}
		var err error
		if s.PhysicalMin, err = fitNumber(ss.PhysicalMin); err != nil {
			return nil, fmt.Errorf("file spec: signal %d (%s) physical minimum: %w", i+1, s.Label, err)
		}
		if s.PhysicalMax, err = fitNumber(ss.PhysicalMax); err != nil {
			return nil, fmt.Errorf("file spec: signal %d (%s) physical maximum: %w", i+1, s.Label, err)
		}
		if s.PhysicalMin == s.PhysicalMax {
			return nil, fmt.Errorf("file spec: signal %d (%s): physical minimum equals maximum (%g) as written", i+1, s.Label, s.PhysicalMin)
		}
		if s.SamplesPerRecord < 1 || len(strconv.Itoa(s.SamplesPerRecord)) > 8 {
			return nil, fmt.Errorf("file spec: signal %d (%s): samples per record %d out of range", i+1, s.Label, s.SamplesPerRecord)
		}
		s.gain = (s.PhysicalMax - s.PhysicalMin) / float64(s.DigitalMax-s.DigitalMin)
		s.bias = s.PhysicalMax/s.gain - float64(s.DigitalMax)
		s.SampleRate = float64(s.SamplesPerRecord) / spec.RecordDuration.Seconds()
		s.offset = off
		off += int64(s.SamplesPerRecord) * bps
		h.Signals = append(h.Signals, s)
	}
	if f.IsPlus() {
		nb := int64(spec.AnnotationBytes)
		if nb == 0 {
			nb = 128
		}
		if nb < 32 {
			return nil, fmt.Errorf("file spec: annotation bytes %d too small (at least 32)", nb)
		}
		spr := (nb + bps - 1) / bps
		label := "EDF Annotations"
		if f.IsBDF() {
			label = "BDF Annotations"
		}
		h.Signals = append(h.Signals, Signal{Label: label, Annotation: true, PhysicalMin: -1, PhysicalMax: 1,
			DigitalMin: digLo, DigitalMax: digHi, SamplesPerRecord: int(spr), offset: off})
		off += spr * bps
	}
	if off > MaxRecordBytes {
		return nil, fmt.Errorf("file spec: data records of %d bytes exceed %d", off, MaxRecordBytes)
	}
	h.RecordBytes = off
	h.HeaderBytes = int64(256 * (len(h.Signals) + 1))
	return h, nil
}

func checkText(field, v string, width int) error {
	if len(v) > width {
		return fmt.Errorf("file spec: %s %q is longer than %d characters", field, v, width)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return fmt.Errorf("file spec: %s %q: byte 0x%02x at %d is not printable ASCII", field, v, v[i], i)
		}
	}
	return nil
}

// fitNumber returns v as it will read back from an 8-character field.
func fitNumber(v float64) (float64, error) {
	s, err := formatNumber(v)
	if err != nil {
		return 0, err
	}
	return strconv.ParseFloat(s, 64)
}

// formatNumber formats v in at most 8 characters, as precisely as fits.
func formatNumber(v float64) (string, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "", fmt.Errorf("%v is not a finite number", v)
	}
	if s := strconv.FormatFloat(v, 'f', -1, 64); len(s) <= 8 {
		return s, nil
	}
	for prec := 7; prec >= 0; prec-- {
		s := strconv.FormatFloat(v, 'f', prec, 64)
		if len(s) <= 8 {
			if strings.Contains(s, ".") {
				s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
			}
			if s == "-0" {
				s = "0"
			}
			return s, nil
		}
	}
	return "", fmt.Errorf("%g does not fit in 8 characters", v)
}

// encodeHeader lays out the header bytes (record count -1 until Close).
func encodeHeader(h *Header) []byte {
	b := make([]byte, 0, h.HeaderBytes)
	pad := func(s string, w int) {
		b = append(b, s...)
		for i := len(s); i < w; i++ {
			b = append(b, ' ')
		}
	}
	pad(h.Version, 8)
	pad(h.Patient, 80)
	pad(h.Recording, 80)
	st := h.Start
	pad(fmt.Sprintf("%02d.%02d.%02d", st.Day(), int(st.Month()), st.Year()%100), 8)
	pad(fmt.Sprintf("%02d.%02d.%02d", st.Hour(), st.Minute(), st.Second()), 8)
	pad(strconv.FormatInt(h.HeaderBytes, 10), 8)
	pad(h.Reserved, 44)
	pad("-1", 8)
	pad(formatSeconds(h.RecordDuration, false), 8)
	pad(strconv.Itoa(len(h.Signals)), 4)
	for k := range signalFields {
		for i := range h.Signals {
			s := &h.Signals[i]
			var v string
			switch k {
			case 0:
				v = s.Label
			case 1:
				v = s.Transducer
			case 2:
				v = s.Unit
			case 3:
				v, _ = formatNumber(s.PhysicalMin)
			case 4:
				v, _ = formatNumber(s.PhysicalMax)
			case 5:
				v = strconv.Itoa(int(s.DigitalMin))
			case 6:
				v = strconv.Itoa(int(s.DigitalMax))
			case 7:
				v = s.Prefilter
			case 8:
				v = strconv.Itoa(s.SamplesPerRecord)
			case 9:
				v = s.Reserved
			}
			pad(v, signalFields[k].width)
		}
	}
	return b
}
