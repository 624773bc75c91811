package edf

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Layout of the fixed part of the header (256 bytes).
const (
	fixedHeaderBytes = 256
	offVersion       = 0
	offPatient       = 8
	offRecording     = 88
	offStartDate     = 168
	offStartTime     = 176
	offHeaderBytes   = 184
	offReserved      = 192
	offRecords       = 236
	offDuration      = 244
	offSignals       = 252
)

// Per-signal fields: name and width, in file order. Each field holds one
// entry per signal, back to back.
var signalFields = [...]struct {
	name  string
	width int
}{
	{"label", 16},
	{"transducer type", 80},
	{"physical dimension", 8},
	{"physical minimum", 8},
	{"physical maximum", 8},
	{"digital minimum", 8},
	{"digital maximum", 8},
	{"prefiltering", 80},
	{"samples per record", 8},
	{"reserved", 32},
}

// MaxRecordBytes bounds the size of one data record. The reader holds at
// least one record in memory while reading; larger records are refused
// rather than allocated.
const MaxRecordBytes = 64 << 20

// maxSignals bounds the signal count (the header-size field has 8 digits).
const maxSignals = 99999999/256 - 1

// headerParser collects the state of one header parse.
type headerParser struct {
	name string
	h    *Header
	// nonASCII is set once a text field with non-ASCII bytes was seen.
	nonASCII bool
	comma    bool
}

func (p *headerParser) errf(off int64, field, format string, args ...any) error {
	return &FormatError{File: p.name, Offset: off, Field: field, Msg: fmt.Sprintf(format, args...)}
}

func (p *headerParser) warnf(format string, args ...any) {
	p.h.Warnings = append(p.h.Warnings, fmt.Sprintf(format, args...))
}

func (p *headerParser) text(b []byte) string {
	s, ascii := textField(b)
	if !ascii {
		p.nonASCII = true
	}
	return s
}

// readHeader parses the header of the file r (size bytes long, called name
// in errors).
func readHeader(name string, r io.ReaderAt, size int64) (*Header, error) {
	p := &headerParser{name: name, h: &Header{}}
	h := p.h
	if size == 0 {
		return nil, p.errf(0, "version", "file is empty (0 bytes), not an EDF or BDF file")
	}
	fixed := make([]byte, fixedHeaderBytes)
	if n, err := r.ReadAt(fixed, 0); n < fixedHeaderBytes {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, p.errf(int64(n), "header", "file is %d bytes, shorter than the 256-byte fixed header (truncated, or not an EDF/BDF file)", size)
		}
		return nil, fmt.Errorf("%s: read header: %w", name, err)
	}
	if err := p.parseFixed(fixed); err != nil {
		return nil, err
	}
	ns := len(h.Signals)
	if h.HeaderBytes > size {
		return nil, p.errf(offHeaderBytes, "number of bytes in header", "header is %d bytes (%d signals) but the file is only %d bytes (truncated)", h.HeaderBytes, ns, size)
	}
	sigHdr := make([]byte, h.HeaderBytes-fixedHeaderBytes)
	if _, err := r.ReadAt(sigHdr, fixedHeaderBytes); err != nil {
		return nil, fmt.Errorf("%s: read signal headers: %w", name, err)
	}
	if err := p.parseSignals(sigHdr); err != nil {
		return nil, err
	}
	if err := p.countRecords(size); err != nil {
		return nil, err
	}
	if p.nonASCII {
		p.warnf("header text fields contain bytes outside printable ASCII (read as Latin-1)")
	}
	if p.comma {
		p.warnf("header numbers use ',' as the decimal separator")
	}
	return h, nil
}

// parseFixed parses the first 256 bytes.
func (p *headerParser) parseFixed(b []byte) error {
	h := p.h
	bdf := false
	switch {
	case b[0] == 0xff && string(b[1:8]) == "BIOSEMI":
		bdf = true
		h.Version = "\xffBIOSEMI"
	case trimField(b[0:8]) == "0":
		h.Version = "0"
	default:
		return p.errf(offVersion, "version", "%q is neither \"0\" (EDF) nor \"\\xffBIOSEMI\" (BDF): not an EDF or BDF file", clip(b[0:8]))
	}
	h.Patient = p.text(b[offPatient : offPatient+80])
	h.Recording = p.text(b[offRecording : offRecording+80])

	ns, msg := parseIntField(b[offSignals : offSignals+4])
	if msg != "" {
		return p.errf(offSignals, "number of signals", "%s", msg)
	}
	if ns < 1 || ns > maxSignals {
		return p.errf(offSignals, "number of signals", "%d is out of range (1..%d)", ns, maxSignals)
	}
	hb, msg := parseIntField(b[offHeaderBytes : offHeaderBytes+8])
	if msg != "" {
		return p.errf(offHeaderBytes, "number of bytes in header", "%s", msg)
	}
	if hb != 256*(ns+1) {
		return p.errf(offHeaderBytes, "number of bytes in header", "%d, but %d signals need 256×(%d+1) = %d", hb, ns, ns, 256*(ns+1))
	}
	h.HeaderBytes = hb
	h.Signals = make([]Signal, ns)

	h.Reserved = p.text(b[offReserved : offReserved+44])
	h.Format = EDF
	if bdf {
		h.Format = BDF
	}
	switch {
	case strings.HasPrefix(h.Reserved, "EDF+C"), strings.HasPrefix(h.Reserved, "BDF+C"):
		h.Format++
	case strings.HasPrefix(h.Reserved, "EDF+D"), strings.HasPrefix(h.Reserved, "BDF+D"):
		h.Format += 2
	}
	if h.Format.IsPlus() && (bdf != strings.HasPrefix(h.Reserved, "BDF")) {
		p.warnf("reserved field %q does not match the %s sample format", h.Reserved, map[bool]string{true: "BDF", false: "EDF"}[bdf])
	}

	recs, msg := parseIntField(b[offRecords : offRecords+8])
	if msg != "" {
		return p.errf(offRecords, "number of data records", "%s", msg)
	}
	if recs < -1 {
		return p.errf(offRecords, "number of data records", "%d is negative (only -1, \"unknown\", is allowed)", recs)
	}
	h.DeclaredRecords = recs

	dur, comma, msg := parseRecordDuration(b[offDuration : offDuration+8])
	if msg != "" {
		return p.errf(offDuration, "duration of a data record", "%s", msg)
	}
	p.comma = p.comma || comma
	h.RecordDuration = dur

	return p.parseStart(b)
}

// parseStart reads the start date and time. The year comes from the EDF+
// recording field when that holds a consistent "Startdate dd-MMM-yyyy";
// otherwise two-digit years 85–99 mean 1985–1999 and 00–84 mean 2000–2084.
func (p *headerParser) parseStart(b []byte) error {
	h := p.h
	dateField := b[offStartDate : offStartDate+8]
	day, month, yy, okDate := parseClock(dateField)
	pd, pm, py, okPlus := plusStartdate(h.Recording)
	if !okDate {
		// EDF+ writes "dd.mm.yy" with the letters "yy" after 2084.
		if okPlus && len(dateField) == 8 && strings.EqualFold(string(dateField[6:8]), "yy") {
			day, month, yy, okDate = pd, pm, py%100, true
		}
		if !okDate {
			return p.errf(offStartDate, "start date", "%q is not dd.mm.yy", clip(dateField))
		}
	}
	year := 1900 + yy
	if yy <= 84 {
		year = 2000 + yy
	}
	if okPlus && h.Format.IsPlus() {
		if pd == day && pm == month && py%100 == yy {
			year = py
		} else {
			p.warnf("EDF+ recording field start date %02d-%s-%04d differs from the header start date %q; using the header's", pd, months[pm-1], py, string(dateField))
		}
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) {
		return p.errf(offStartDate, "start date", "%q is not a valid date", string(dateField))
	}
	hour, minute, sec, ok := parseClock(b[offStartTime : offStartTime+8])
	if !ok {
		return p.errf(offStartTime, "start time", "%q is not hh.mm.ss", clip(b[offStartTime:offStartTime+8]))
	}
	if hour > 23 || minute > 59 || sec > 59 {
		return p.errf(offStartTime, "start time", "%q is not a valid time of day", string(b[offStartTime:offStartTime+8]))
	}
	h.Start = time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	return nil
}

func daysIn(month, year int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseSignals parses the per-signal part of the header (ns × 256 bytes
// starting at file offset 256).
func (p *headerParser) parseSignals(b []byte) error {
	h := p.h
	ns := len(h.Signals)
	bps := int64(h.Format.bytesPerSample())
	digLo, digHi := int64(-32768), int64(32767)
	if h.Format.IsBDF() {
		digLo, digHi = -8388608, 8388607
	}
	var fieldStart [len(signalFields)]int
	off := 0
	for k, f := range signalFields {
		fieldStart[k] = off
		off += f.width * ns
	}
	field := func(k, i int) ([]byte, int64, string) {
		w := signalFields[k].width
		start := fieldStart[k] + i*w
		return b[start : start+w], int64(fixedHeaderBytes + start), fmt.Sprintf("signal %d %s", i+1, signalFields[k].name)
	}
	var recBytes int64
	annotations := 0
	for i := range h.Signals {
		s := &h.Signals[i]
		raw, _, _ := field(0, i)
		s.Label = p.text(raw)
		raw, _, _ = field(1, i)
		s.Transducer = p.text(raw)
		raw, _, _ = field(2, i)
		s.Unit = p.text(raw)
		raw, _, _ = field(7, i)
		s.Prefilter = p.text(raw)
		raw, _, _ = field(9, i)
		s.Reserved = p.text(raw)
		if h.Format.IsPlus() && (s.Label == "EDF Annotations" || s.Label == "BDF Annotations") {
			s.Annotation = true
			annotations++
			if s.Transducer != "" || s.Prefilter != "" {
				p.warnf("annotation signal %d has a non-blank transducer or prefiltering field (EDF+ requires spaces); ignored", i+1)
			}
		} else if !h.Format.IsPlus() && (s.Label == "EDF Annotations" || s.Label == "BDF Annotations") {
			p.warnf("signal %d is labelled %q but the file is not EDF+/BDF+; read as an ordinary signal", i+1, s.Label)
		}

		physical := func(k int) (float64, error) {
			raw, o, name := field(k, i)
			v, comma, msg := parseFloatField(raw)
			if msg != "" {
				return 0, p.errf(o, name, "%s", msg)
			}
			p.comma = p.comma || comma
			return v, nil
		}
		digital := func(k int) (int64, error) {
			raw, o, name := field(k, i)
			v, msg := parseIntField(raw)
			if msg != "" {
				return 0, p.errf(o, name, "%s", msg)
			}
			if v < digLo || v > digHi {
				return 0, p.errf(o, name, "%d is outside the %d-bit range %d..%d", v, 8*bps, digLo, digHi)
			}
			return v, nil
		}
		var err error
		if s.PhysicalMin, err = physical(3); err != nil {
			return err
		}
		if s.PhysicalMax, err = physical(4); err != nil {
			return err
		}
		dmin, err := digital(5)
		if err != nil {
			return err
		}
		dmax, err := digital(6)
		if err != nil {
			return err
		}
		s.DigitalMin, s.DigitalMax = int32(dmin), int32(dmax)
		raw, o, name := field(8, i)
		spr, msg := parseIntField(raw)
		if msg != "" {
			return p.errf(o, name, "%s", msg)
		}
		if spr < 1 || spr > MaxRecordBytes {
			return p.errf(o, name, "%d is out of range (1..%d)", spr, MaxRecordBytes)
		}
		s.SamplesPerRecord = int(spr)
		s.offset = recBytes
		recBytes += spr * bps
		if recBytes > MaxRecordBytes {
			return p.errf(o, name, "data records would be %d+ bytes, more than the %d this reader accepts", recBytes, MaxRecordBytes)
		}
		if h.RecordDuration > 0 {
			s.SampleRate = float64(spr) / h.RecordDuration.Seconds()
		}
		if !s.Annotation {
			p.setScale(s, i)
		}
	}
	h.RecordBytes = recBytes
	if h.Format.IsPlus() && annotations == 0 {
		p.warnf("%s file has no annotation signal; read as continuous", h.Format)
	}
	if h.RecordDuration == 0 && annotations < ns {
		return p.errf(offDuration, "duration of a data record", "0, but the file has signals with samples (only annotation-only files may have 0)")
	}
	return nil
}

// setScale computes a signal's digital→physical map, or records why there is
// none.
func (p *headerParser) setScale(s *Signal, i int) {
	base := int64(fixedHeaderBytes + signalFieldOffset(5, len(p.h.Signals), i))
	switch {
	case s.DigitalMax == s.DigitalMin:
		s.scaleErr = p.errf(base, fmt.Sprintf("signal %d digital maximum", i+1), "equals the digital minimum (%d): physical values cannot be computed", s.DigitalMin)
		return
	case s.PhysicalMax == s.PhysicalMin:
		s.scaleErr = p.errf(int64(fixedHeaderBytes+signalFieldOffset(4, len(p.h.Signals), i)), fmt.Sprintf("signal %d physical maximum", i+1), "equals the physical minimum (%s): physical values cannot be computed", strconv.FormatFloat(s.PhysicalMin, 'g', -1, 64))
		return
	case s.DigitalMax < s.DigitalMin:
		p.warnf("signal %d (%s): digital maximum %d is below digital minimum %d", i+1, s.Label, s.DigitalMax, s.DigitalMin)
	}
	gain := (s.PhysicalMax - s.PhysicalMin) / float64(int64(s.DigitalMax)-int64(s.DigitalMin))
	bias := s.PhysicalMax/gain - float64(s.DigitalMax)
	if gain == 0 || math.IsInf(gain, 0) || math.IsNaN(gain) || math.IsInf(bias, 0) || math.IsNaN(bias) {
		s.scaleErr = p.errf(base, fmt.Sprintf("signal %d physical range", i+1), "physical %g..%g over digital %d..%d gives no finite scale", s.PhysicalMin, s.PhysicalMax, s.DigitalMin, s.DigitalMax)
		return
	}
	s.gain, s.bias = gain, bias
}

// signalFieldOffset is the offset, relative to the start of the per-signal
// header, of field k of signal i when there are ns signals.
func signalFieldOffset(k, ns, i int) int {
	off := 0
	for j := 0; j < k; j++ {
		off += signalFields[j].width * ns
	}
	return off + i*signalFields[k].width
}

// countRecords sets Records, Truncated and TrailingBytes from the declared
// count and the file size.
func (p *headerParser) countRecords(size int64) error {
	h := p.h
	data := size - h.HeaderBytes
	complete := data / h.RecordBytes
	switch {
	case h.DeclaredRecords == -1:
		h.Records = complete
		h.TrailingBytes = data - complete*h.RecordBytes
		if h.TrailingBytes > 0 {
			p.warnf("record count unknown (-1): %d complete records, then %d bytes of an incomplete record (ignored)", complete, h.TrailingBytes)
		}
	case h.DeclaredRecords > complete:
		h.Records = complete
		h.Truncated = true
		h.TrailingBytes = data - complete*h.RecordBytes
		p.warnf("truncated: header declares %d data records but the file holds %d complete records and %d more bytes (%d bytes missing)",
			h.DeclaredRecords, complete, h.TrailingBytes, h.DeclaredRecords*h.RecordBytes-data)
	default:
		h.Records = h.DeclaredRecords
		h.TrailingBytes = data - h.Records*h.RecordBytes
		if h.TrailingBytes > 0 {
			p.warnf("%d bytes after the last declared data record (ignored)", h.TrailingBytes)
		}
	}
	return nil
}
