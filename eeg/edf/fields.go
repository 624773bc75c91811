package edf

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Parsers for the fixed-width ASCII fields of an EDF header. Each returns a
// message describing what is wrong (empty when the field is fine), so that
// the caller can wrap it into a FormatError with the file, offset and field.

// trimField removes the space (and, leniently, NUL) padding around a field.
func trimField(b []byte) string {
	return strings.Trim(string(b), " \x00")
}

// textField returns a text field, trimmed. Bytes outside printable ASCII are
// read as Latin-1 (what most non-conforming writers mean); ok is false when
// any were present.
func textField(b []byte) (s string, ascii bool) {
	ascii = true
	for _, c := range b {
		if c >= 0x80 || (c < 0x20 && c != 0) {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.TrimRight(strings.TrimLeft(string(b), " \x00"), " \x00"), true
	}
	var sb strings.Builder
	for _, c := range b {
		switch {
		case c < 0x20:
			sb.WriteByte(' ')
		case c < 0x80:
			sb.WriteByte(c)
		default:
			sb.WriteRune(rune(c)) // Latin-1 code point
		}
	}
	return strings.Trim(sb.String(), " "), false
}

// parseIntField parses a space-padded decimal integer.
func parseIntField(b []byte) (int64, string) {
	s := trimField(b)
	if s == "" {
		return 0, "empty, expected an integer"
	}
	digits := s
	if digits[0] == '+' || digits[0] == '-' {
		digits = digits[1:]
	}
	if digits == "" {
		return 0, strconv.Quote(s) + " is not an integer"
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, strconv.Quote(s) + " is not an integer"
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, strconv.Quote(s) + " is out of range"
	}
	return v, ""
}

// parseFloatField parses a space-padded decimal number: an optional sign,
// digits with at most one decimal point, and an optional exponent. A comma
// as the decimal separator (written by some localised software) is accepted
// and reported through comma. NaN, infinities and overflowing values are
// rejected.
func parseFloatField(b []byte) (v float64, comma bool, msg string) {
	s := trimField(b)
	if s == "" {
		return 0, false, "empty, expected a number"
	}
	if !strings.ContainsRune(s, '.') && strings.Count(s, ",") == 1 {
		s = strings.Replace(s, ",", ".", 1)
		comma = true
	}
	if !isDecimal(s) {
		return 0, false, strconv.Quote(trimField(b)) + " is not a number"
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false, strconv.Quote(trimField(b)) + " is out of range"
	}
	return v, comma, ""
}

// isDecimal reports whether s is [+-]digits[.digits][(e|E)[+-]digits] with
// at least one mantissa digit.
func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// parseSeconds parses a decimal number of seconds ("1", "0.5", "+12.3456789",
// "-3") exactly into a Duration, truncating digits below a nanosecond. It is
// used for TAL onsets and durations and for the record duration field.
// signed selects whether a leading sign is required (TAL onsets), optional
// (record duration) or forbidden (TAL durations).
func parseSeconds(s string, sign signMode) (time.Duration, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '+' || s[0] == '-') {
		if sign == signForbidden {
			return 0, false
		}
		neg = s[0] == '-'
		s = s[1:]
	} else if sign == signRequired {
		return 0, false
	}
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return 0, false
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if hasDot && strings.ContainsRune(frac, '.') {
		return 0, false
	}
	const maxSeconds = int64(math.MaxInt64 / int64(time.Second))
	var secs int64
	for i := 0; i < len(intPart); i++ {
		c := intPart[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		secs = secs*10 + int64(c-'0')
		if secs > maxSeconds {
			return 0, false
		}
	}
	var ns int64
	scale := int64(time.Second)
	for i := 0; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		scale /= 10
		ns += int64(c-'0') * scale
	}
	if secs == maxSeconds && ns > math.MaxInt64-secs*int64(time.Second) {
		return 0, false
	}
	d := time.Duration(secs*int64(time.Second) + ns)
	if neg {
		d = -d
	}
	return d, true
}

type signMode int

const (
	signOptional signMode = iota
	signRequired
	signForbidden
)

// parseRecordDuration parses the data-record duration field: decimal seconds,
// exactly; an exponent form is accepted and rounded to a nanosecond.
func parseRecordDuration(b []byte) (time.Duration, bool, string) {
	s := trimField(b)
	comma := false
	if !strings.ContainsRune(s, '.') && strings.Count(s, ",") == 1 {
		s = strings.Replace(s, ",", ".", 1)
		comma = true
	}
	if d, ok := parseSeconds(s, signOptional); ok {
		if d < 0 {
			return 0, comma, strconv.Quote(trimField(b)) + " is negative"
		}
		return d, comma, ""
	}
	v, c2, msg := parseFloatField([]byte(s))
	if msg != "" {
		return 0, false, strconv.Quote(trimField(b)) + " is not a number of seconds"
	}
	if v < 0 {
		return 0, comma || c2, strconv.Quote(trimField(b)) + " is negative"
	}
	if v > float64(math.MaxInt64)/1e9 {
		return 0, comma || c2, strconv.Quote(trimField(b)) + " is out of range"
	}
	return time.Duration(math.Round(v * 1e9)), comma || c2, ""
}

// parseClock parses "dd.mm.yy" or "hh.mm.ss": three two-digit numbers
// separated by single non-digit characters ('.' per the specification).
func parseClock(b []byte) (a, m, c int, ok bool) {
	if len(b) != 8 {
		return 0, 0, 0, false
	}
	two := func(i int) (int, bool) {
		if b[i] < '0' || b[i] > '9' || b[i+1] < '0' || b[i+1] > '9' {
			return 0, false
		}
		return int(b[i]-'0')*10 + int(b[i+1]-'0'), true
	}
	if isDigit(b[2]) || isDigit(b[5]) {
		return 0, 0, 0, false
	}
	a, ok1 := two(0)
	m, ok2 := two(3)
	c, ok3 := two(6)
	return a, m, c, ok1 && ok2 && ok3
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

var months = [...]string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}

// plusStartdate extracts day, month and four-digit year from an EDF+
// recording field "Startdate dd-MMM-yyyy ...".
func plusStartdate(recording string) (day, month, year int, ok bool) {
	rest, found := strings.CutPrefix(recording, "Startdate ")
	if !found || len(rest) < 11 || (len(rest) > 11 && rest[11] != ' ') {
		return 0, 0, 0, false
	}
	d := rest[:11]
	if d[2] != '-' || d[6] != '-' {
		return 0, 0, 0, false
	}
	day, err1 := strconv.Atoi(d[:2])
	year, err2 := strconv.Atoi(d[7:])
	if err1 != nil || err2 != nil || !isDigit(d[0]) || !isDigit(d[7]) {
		return 0, 0, 0, false
	}
	mon := strings.ToUpper(d[3:6])
	for i, name := range months {
		if name == mon {
			return day, i + 1, year, true
		}
	}
	return 0, 0, 0, false
}

// validUTF8 returns s with invalid UTF-8 sequences replaced by U+FFFD.
func validUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
