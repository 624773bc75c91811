package edf

import (
	"fmt"
	"time"
)

// TAL is one time-stamped annotation list from an EDF+ annotation signal:
// an onset, an optional duration and zero or more annotation texts.
type TAL struct {
	// Onset is the TAL's onset as written: seconds from the header's start
	// date and time (not yet corrected by the first record's time-keeping
	// offset).
	Onset time.Duration
	// Duration is valid when HasDuration is true.
	Duration    time.Duration
	HasDuration bool
	// Texts are the annotation texts. The first TAL of a record's first
	// annotation signal (the time-keeping TAL) normally has one empty text.
	Texts []string
	// Offset is the TAL's byte offset within the buffer it was parsed from.
	Offset int
}

// TALError reports a malformed TAL: the byte offset within the parsed
// buffer and what was wrong.
type TALError struct {
	Offset int
	Msg    string
}

func (e *TALError) Error() string { return fmt.Sprintf("byte %d: %s", e.Offset, e.Msg) }

const (
	talSep      = 0x14 // ends the onset/duration and each annotation text
	talDuration = 0x15 // starts the duration
)

// ParseTALs parses the bytes of one annotation signal in one data record:
// a sequence of TALs, each "+onset[\x15duration]\x14[text\x14]...\x00",
// followed by NUL padding to the end of the buffer. Onsets need a sign,
// durations must not have one; both are decimal seconds. Texts are UTF-8
// (invalid sequences are replaced by U+FFFD).
func ParseTALs(b []byte) ([]TAL, error) {
	var tals []TAL
	pos := 0
	for pos < len(b) {
		if b[pos] == 0 {
			for i := pos; i < len(b); i++ {
				if b[i] != 0 {
					return tals, &TALError{Offset: i, Msg: fmt.Sprintf("byte 0x%02x after the end of the TALs (only NUL padding may follow)", b[i])}
				}
			}
			return tals, nil
		}
		t, next, err := parseTAL(b, pos)
		if err != nil {
			return tals, err
		}
		tals = append(tals, t)
		pos = next
	}
	// The last TAL's terminating NUL was the buffer's last byte.
	return tals, nil
}

// parseTAL parses the TAL starting at b[start] and returns it with the
// offset just after its terminating NUL.
func parseTAL(b []byte, start int) (TAL, int, error) {
	t := TAL{Offset: start}
	pos := start
	end := pos
	for end < len(b) && b[end] != talSep && b[end] != talDuration && b[end] != 0 {
		end++
	}
	if end == len(b) || b[end] == 0 {
		return t, 0, &TALError{Offset: start, Msg: fmt.Sprintf("TAL onset %q is not followed by 0x14", clip(b[start:end]))}
	}
	onset, ok := parseSeconds(string(b[pos:end]), signRequired)
	if !ok {
		return t, 0, &TALError{Offset: start, Msg: fmt.Sprintf("TAL onset %q is not a signed decimal number of seconds", clip(b[pos:end]))}
	}
	t.Onset = onset
	pos = end
	if b[pos] == talDuration {
		pos++
		end = pos
		for end < len(b) && b[end] != talSep && b[end] != talDuration && b[end] != 0 {
			end++
		}
		if end == len(b) || b[end] != talSep {
			return t, 0, &TALError{Offset: pos, Msg: fmt.Sprintf("TAL duration %q is not followed by 0x14", clip(b[pos:end]))}
		}
		d, ok := parseSeconds(string(b[pos:end]), signForbidden)
		if !ok {
			return t, 0, &TALError{Offset: pos, Msg: fmt.Sprintf("TAL duration %q is not an unsigned decimal number of seconds", clip(b[pos:end]))}
		}
		t.Duration, t.HasDuration = d, true
		pos = end
	}
	pos++ // the 0x14 after onset/duration
	for {
		if pos >= len(b) {
			return t, 0, &TALError{Offset: start, Msg: "TAL is not terminated by 0x00 before the end of the annotation signal"}
		}
		if b[pos] == 0 {
			return t, pos + 1, nil
		}
		end = pos
		for end < len(b) && b[end] != talSep && b[end] != 0 {
			end++
		}
		if end == len(b) || b[end] != talSep {
			return t, 0, &TALError{Offset: pos, Msg: fmt.Sprintf("annotation text %q is not terminated by 0x14", clip(b[pos:end]))}
		}
		t.Texts = append(t.Texts, validUTF8(b[pos:end]))
		pos = end + 1
	}
}

// clip shortens b for error messages.
func clip(b []byte) string {
	const max = 40
	if len(b) > max {
		return validUTF8(b[:max]) + "..."
	}
	return validUTF8(b)
}
