// Package edf reads EDF, EDF+ (continuous and discontinuous), BDF and BDF+
// files and writes EDF+/BDF+ files.
//
// The reader streams: Open parses the header (and, for EDF+/BDF+, the
// time-keeping annotation of the first data record) and nothing else; samples
// are read on demand, a range of records at a time, through a bounded buffer,
// so reading a signal range costs memory proportional to the range, not to
// the file. A Reader is safe for concurrent use.
//
// Conventions follow the EDF and EDF+ specifications (edfplus.info) and, where
// they leave room, EDFlib, the reference C implementation:
//
//   - Two-digit years 85–99 are 1985–1999, 00–84 are 2000–2084; an EDF+
//     "Startdate dd-MMM-yyyy" in the recording field gives the full year.
//   - A record count of -1 (recording still open, or unknown) is derived from
//     the file size. A file with fewer complete records than its header
//     declares is read up to its last complete record, and the truncation is
//     reported in Header.Truncated and Header.Warnings.
//   - Digital values outside [digital_min, digital_max] are clamped to that
//     range before scaling (EDFlib does the same); physical =
//     gain·(digital + offset) with gain = (pmax−pmin)/(dmax−dmin) and offset
//     = pmax/gain − dmax. A signal whose digital_max equals its digital_min
//     cannot be scaled: its digital samples can be read, its physical
//     samples give an error naming the field.
//   - Annotation signals ("EDF Annotations"/"BDF Annotations") exist only in
//     EDF+/BDF+ files. Annotation onsets are relative to Header.Start, which
//     includes the sub-second offset given by the first record's
//     time-keeping TAL. In EDF+D files the time-keeping TAL of each record
//     gives that record's start (Reader.RecordStarts).
//
// Everything a file can get wrong is reported as an error (a *FormatError
// where the cause is in the file) naming the file, the byte offset and the
// field; nothing a file contains makes the reader panic. Deviations that do not
// stop the file from being read correctly (for example a non-blank
// prefiltering field on an annotation signal, which EDFlib rejects) are
// accepted and listed in Header.Warnings.
package edf

import (
	"fmt"
	"time"
)

// Format is the variant of a file.
type Format int

// The formats this package reads. EDFPlusC and BDFPlusC are continuous (every
// data record follows the previous one without a gap); the D variants may have
// gaps between records, given by each record's time-keeping annotation.
const (
	EDF Format = iota
	EDFPlusC
	EDFPlusD
	BDF
	BDFPlusC
	BDFPlusD
)

// String returns the name used in headers and in `pipe inspect` output:
// "EDF", "EDF+C", "EDF+D", "BDF", "BDF+C" or "BDF+D".
func (f Format) String() string {
	switch f {
	case EDF:
		return "EDF"
	case EDFPlusC:
		return "EDF+C"
	case EDFPlusD:
		return "EDF+D"
	case BDF:
		return "BDF"
	case BDFPlusC:
		return "BDF+C"
	case BDFPlusD:
		return "BDF+D"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// IsBDF reports whether samples are 24-bit (BDF, BDF+) rather than 16-bit.
func (f Format) IsBDF() bool { return f == BDF || f == BDFPlusC || f == BDFPlusD }

// IsPlus reports whether the file is EDF+ or BDF+ (has annotation signals).
func (f Format) IsPlus() bool { return f != EDF && f != BDF }

// IsDiscontinuous reports whether records may have gaps (EDF+D, BDF+D).
func (f Format) IsDiscontinuous() bool { return f == EDFPlusD || f == BDFPlusD }

// bytesPerSample is 2 for EDF and 3 for BDF.
func (f Format) bytesPerSample() int {
	if f.IsBDF() {
		return 3
	}
	return 2
}

// Header is the parsed header of a file.
type Header struct {
	// Format is the file's variant.
	Format Format
	// Version is the version field as stored ("0" for EDF; "\xffBIOSEMI"
	// for BDF), trailing spaces removed.
	Version string
	// Patient and Recording are the local patient and recording
	// identification fields, trailing spaces removed.
	Patient   string
	Recording string
	// Start is the start of the first data record: the header's date and
	// time plus, for EDF+/BDF+, the first record's time-keeping offset
	// (which carries sub-second start times). EDF clock times have no time
	// zone; Start is expressed in UTC.
	Start time.Time
	// HeaderBytes is the size of the header (256 × (signals + 1)).
	HeaderBytes int64
	// DeclaredRecords is the header's record count; -1 when the header
	// says the count is unknown.
	DeclaredRecords int64
	// Records is the number of complete data records the file holds and
	// that are read: the declared count, or fewer when the file is
	// truncated, or the count derived from the file size when the header
	// says -1.
	Records int64
	// RecordDuration is the duration of one data record (0 is allowed only
	// for files holding nothing but annotations).
	RecordDuration time.Duration
	// RecordBytes is the size of one data record in bytes.
	RecordBytes int64
	// Signals lists every signal in file order, annotation signals included
	// (see Signal.Annotation and DataSignals).
	Signals []Signal
	// Reserved is the header's reserved field ("EDF+C", ...), trimmed.
	Reserved string
	// Truncated is true when the file ends before the records its header
	// declares (the partial last record, if any, is not read).
	Truncated bool
	// TrailingBytes is the number of bytes after the last complete record
	// (part of a truncated record, or bytes beyond the declared records).
	TrailingBytes int64
	// Warnings lists deviations from the specification that were accepted.
	Warnings []string
}

// Signal is one signal's header entry.
type Signal struct {
	// Label is the signal's label with surrounding spaces removed.
	Label string
	// Transducer, Unit (physical dimension), Prefilter and Reserved are the
	// corresponding header fields, trimmed.
	Transducer string
	Unit       string
	Prefilter  string
	Reserved   string
	// PhysicalMin/Max and DigitalMin/Max define the linear map from stored
	// integers to physical values. PhysicalMin may exceed PhysicalMax
	// (inverted polarity).
	PhysicalMin float64
	PhysicalMax float64
	DigitalMin  int32
	DigitalMax  int32
	// SamplesPerRecord is the number of samples of this signal in each data
	// record (for annotation signals: bytes / 2 in EDF+, bytes / 3 in BDF+).
	SamplesPerRecord int
	// SampleRate is SamplesPerRecord / record duration in Hz (not
	// necessarily an integer); 0 when the record duration is 0.
	SampleRate float64
	// Annotation is true for EDF+/BDF+ annotation signals, which hold TALs
	// rather than samples.
	Annotation bool

	// offset is the signal's byte offset within a data record.
	offset int64
	// gain and bias map a clamped digital value d to gain*(d+bias).
	gain, bias float64
	// scaleErr is set when the signal has no valid digital→physical map.
	scaleErr error
}

// Gain returns the physical value of one digital step ((pmax−pmin)/(dmax−dmin)),
// and Bias the value added to a digital value before multiplying by Gain;
// physical = Gain·(digital + Bias). Both are 0 when the signal cannot be
// scaled (see Scalable).
func (s *Signal) Gain() float64 { return s.gain }

// Bias returns the offset added to a digital value before scaling; see Gain.
func (s *Signal) Bias() float64 { return s.bias }

// Scalable returns nil if the signal has a valid digital→physical map, or the
// error that explains why it has none.
func (s *Signal) Scalable() error { return s.scaleErr }

// Physical converts one digital value (clamped to the digital range) to its
// physical value. It returns 0 for a signal that is not Scalable.
func (s *Signal) Physical(d int32) float64 {
	return s.gain * (float64(s.clamp(d)) + s.bias)
}

func (s *Signal) clamp(d int32) int32 {
	lo, hi := s.DigitalMin, s.DigitalMax
	if lo > hi {
		lo, hi = hi, lo
	}
	return max(lo, min(hi, d))
}

// DataSignals returns the indices (into Signals) of the signals that hold
// samples, that is every signal except annotation signals.
func (h *Header) DataSignals() []int {
	idx := make([]int, 0, len(h.Signals))
	for i := range h.Signals {
		if !h.Signals[i].Annotation {
			idx = append(idx, i)
		}
	}
	return idx
}

// AnnotationSignals returns the indices of the annotation signals.
func (h *Header) AnnotationSignals() []int {
	var idx []int
	for i := range h.Signals {
		if h.Signals[i].Annotation {
			idx = append(idx, i)
		}
	}
	return idx
}

// Samples returns the number of samples of signal sig that the file holds.
func (h *Header) Samples(sig int) int64 {
	return int64(h.Signals[sig].SamplesPerRecord) * h.Records
}

// Duration is the recorded duration: Records × RecordDuration. (For EDF+D
// files the time span from the first to the end of the last record can be
// longer; see Reader.RecordStarts.)
func (h *Header) Duration() time.Duration {
	return time.Duration(h.Records) * h.RecordDuration
}

// Annotation is one annotation read from an EDF+/BDF+ annotation signal.
type Annotation struct {
	// Onset is the time from Header.Start.
	Onset time.Duration
	// Duration is the annotation's duration; meaningful only when
	// HasDuration is true (EDF+ durations are optional).
	Duration    time.Duration
	HasDuration bool
	// Text is the annotation text (UTF-8).
	Text string
	// Record and Signal locate the TAL the annotation came from.
	Record int64
	Signal int
}

// FormatError reports something wrong in a file: where it is (byte offset
// from the start of the file) and in which field.
type FormatError struct {
	File   string
	Offset int64
	Field  string
	Msg    string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s: byte %d: %s: %s", e.File, e.Offset, e.Field, e.Msg)
}
