package annot

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pipeml/pipe/internal/atomicfile"
)

// CSVVersion is the only csv_bi/csv file type NEDC accepts.
const CSVVersion = "csv_v1.0.0"

// csvHeader is the column header line; any line containing it is skipped.
const csvHeader = "channel,start_time,stop_time,label,confidence"

// maxLine bounds one line of an annotation file.
const maxLine = 1 << 20

// ReadCSVBI parses a TUH csv_bi or per-channel csv file; name is used in
// errors. It follows NEDC v6.0.0 (../shared/docs/scoring.md §(i)):
//
//   - the first line that, lower-cased, starts with "version" or "# version"
//     gives the type, which must be csv_v1.0.0;
//   - lines starting with '#' are comments; "#key = value" comments set
//     headers, of which "duration" (first token of the value, in seconds;
//     required), "bname" and "montage_file" are kept;
//   - empty lines and lines containing the column header
//     "channel,start_time,stop_time,label,confidence" are skipped;
//   - every other line is a record: all spaces are deleted, and splitting on
//     ',' must give exactly 5 fields: channel, start, stop, label,
//     confidence. Labels and channels are kept verbatim (case-sensitive).
//
// Lines end in "\n", "\r\n" or "\r" (Python's universal newlines). Unlike
// NEDC, which crashes or scores garbage, ReadCSVBI rejects with a
// *ParseError naming the file and line: a missing or unknown version, a
// missing duration, a record with the wrong number of fields, a number that
// is not finite, negative times, stop < start, invalid UTF-8. It does not
// check that events lie inside the duration or do not overlap; the scorers
// do. A "# duration" line need not end in a newline (NEDC ignores it then).
func ReadCSVBI(r io.Reader, name string) (*File, error) {
	f := &File{Format: FormatCSV}
	var versionSeen, durationSeen bool
	err := eachLine(r, name, func(line string) error {
		line = strings.TrimLeft(line, " \t")
		lower := strings.ToLower(line)
		if !versionSeen && (strings.HasPrefix(lower, "version") || strings.HasPrefix(lower, "# version")) {
			v := lower[strings.Index(lower, "version")+len("version"):]
			v = strings.TrimSpace(strings.ReplaceAll(v, "=", ""))
			if fs := strings.Fields(v); len(fs) > 0 {
				v = fs[0]
			}
			v = strings.ReplaceAll(v, `"`, "")
			if v != CSVVersion {
				return fmt.Errorf("file type %q is not %s", v, CSVVersion)
			}
			versionSeen = true
			return nil
		}
		if strings.HasPrefix(lower, "version") {
			return nil // a second version line: NEDC reads only the first
		}
		if strings.HasPrefix(line, "#") {
			key, val, ok := headerComment(line)
			if !ok {
				return nil
			}
			switch key {
			case "duration":
				d, err := parseDuration(val)
				if err != nil {
					return fmt.Errorf("duration header: %v", err)
				}
				f.Duration, durationSeen = d, true
			case "bname":
				f.Bname = val
			case "montage_file":
				f.Montage = val
			}
			return nil
		}
		if strings.TrimSpace(line) == "" || strings.Contains(line, csvHeader) {
			return nil
		}
		ev, err := parseRecord(line)
		if err != nil {
			return err
		}
		f.Events = append(f.Events, ev)
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case !versionSeen:
		return nil, &ParseError{File: name, Msg: fmt.Sprintf("no version line (want \"# version = %s\")", CSVVersion)}
	case !durationSeen:
		return nil, &ParseError{File: name, Msg: "no duration header (want \"# duration = SECONDS secs\")"}
	}
	return f, nil
}

// eachLine calls fn with every line of r (without its line end, a leading
// UTF-8 BOM removed), and turns an error of fn, invalid UTF-8 or an
// overlong line into a *ParseError naming the file and line.
func eachLine(r io.Reader, name string, fn func(line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	sc.Split(scanUniversalLines)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		raw := sc.Bytes()
		if lineNo == 1 {
			raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
		}
		if !utf8.Valid(raw) {
			return &ParseError{File: name, Line: lineNo, Msg: "line is not valid UTF-8"}
		}
		if err := fn(string(raw)); err != nil {
			return &ParseError{File: name, Line: lineNo, Msg: err.Error()}
		}
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return &ParseError{File: name, Line: lineNo + 1, Msg: fmt.Sprintf("line longer than %d bytes", maxLine)}
		}
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// headerComment splits "#key = value" where key holds only letters, spaces
// and _ - : ! ? " (NEDC's rule); ok is false for other comments.
func headerComment(line string) (key, val string, ok bool) {
	body := line[1:]
	i := strings.IndexByte(body, '=')
	if i < 0 {
		return "", "", false
	}
	for _, c := range body[:i] {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.ContainsRune(" _-:!?\"", c)) {
			return "", "", false
		}
	}
	key = strings.TrimSpace(body[:i])
	if key == "" {
		return "", "", false
	}
	return key, strings.TrimSpace(body[i+1:]), true
}

func parseDuration(val string) (float64, error) {
	fs := strings.Fields(val)
	if len(fs) == 0 {
		return 0, fmt.Errorf("empty value, want \"SECONDS secs\"")
	}
	d, err := parseNum(fs[0])
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %v", d)
	}
	return d, nil
}

func parseRecord(line string) (Event, error) {
	line = strings.ReplaceAll(line, " ", "")
	fields := strings.Split(line, ",")
	if len(fields) != 5 {
		return Event{}, fmt.Errorf("record has %d comma-separated fields, want 5 (channel,start_time,stop_time,label,confidence)", len(fields))
	}
	ev := Event{Channel: fields[0], Label: fields[3]}
	if ev.Channel == "" {
		return Event{}, fmt.Errorf("empty channel")
	}
	if ev.Label == "" {
		return Event{}, fmt.Errorf("empty label")
	}
	var err error
	if ev.Start, err = parseNum(fields[1]); err != nil {
		return Event{}, fmt.Errorf("start_time: %v", err)
	}
	if ev.Stop, err = parseNum(fields[2]); err != nil {
		return Event{}, fmt.Errorf("stop_time: %v", err)
	}
	if ev.Confidence, err = parseNum(fields[4]); err != nil {
		return Event{}, fmt.Errorf("confidence: %v", err)
	}
	if ev.Start < 0 {
		return Event{}, fmt.Errorf("negative start_time %v", ev.Start)
	}
	if ev.Stop < ev.Start {
		return Event{}, fmt.Errorf("stop_time %v before start_time %v", ev.Stop, ev.Start)
	}
	return ev, nil
}

// parseNum parses a finite decimal number (what Python's float() accepts,
// less inf, nan, hexadecimal and digit-group underscores).
func parseNum(s string) (float64, error) {
	t := strings.TrimSpace(s)
	for _, c := range t {
		if !(c >= '0' && c <= '9' || c == '.' || c == '+' || c == '-' || c == 'e' || c == 'E') {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	x, err := strconv.ParseFloat(t, 64)
	if err != nil || !finite(x) {
		return 0, fmt.Errorf("%q is not a finite decimal number", s)
	}
	return x, nil
}

// scanUniversalLines splits on "\n", "\r\n" or a lone "\r".
func scanUniversalLines(data []byte, atEOF bool) (int, []byte, error) {
	if atEOF && len(data) == 0 {
		return 0, nil, nil
	}
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		if i+1 < len(data) {
			if data[i+1] == '\n' {
				return i + 2, data[:i], nil
			}
			return i + 1, data[:i], nil
		}
		if atEOF {
			return i + 1, data[:i], nil
		}
		return 0, nil, nil // need one more byte to tell "\r" from "\r\n"
	}
	if atEOF {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// WriteCSVBI writes f in the TUH csv_bi/csv layout that ReadCSVBI and NEDC
// read: the version, bname (if set), duration and montage_file (if set)
// headers, a "#" line, the column header, and one record per event in the
// order given, times and confidence with 4 decimals (a NaN confidence is
// written as 1.0000, TUH's value for manual annotations). Channels and
// labels must be non-empty and free of commas and whitespace, channels
// must not start with '#' or "version"; times finite with 0 <= start <= stop.
func WriteCSVBI(w io.Writer, f *File) error {
	if err := f.validate(","); err != nil {
		return fmt.Errorf("write csv_bi: %w", err)
	}
	for i, e := range f.Events {
		for _, s := range []string{e.Channel, e.Label} {
			if strings.IndexFunc(s, unicode.IsSpace) >= 0 || !utf8.ValidString(s) {
				return fmt.Errorf("write csv_bi: event %d: %q cannot be written as a csv_bi field", i, s)
			}
		}
		if strings.HasPrefix(e.Channel, "#") || strings.HasPrefix(strings.ToLower(e.Channel), "version") {
			return fmt.Errorf("write csv_bi: event %d: channel %q would read as a comment or version line", i, e.Channel)
		}
	}
	for _, h := range []string{f.Bname, f.Montage} {
		if strings.ContainsAny(h, "\r\n") {
			return fmt.Errorf("write csv_bi: header value %q contains a line break", h)
		}
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# version = %s\n", CSVVersion)
	if f.Bname != "" {
		fmt.Fprintf(bw, "# bname = %s\n", f.Bname)
	}
	fmt.Fprintf(bw, "# duration = %s secs\n", fmt4(f.Duration))
	if f.Montage != "" {
		fmt.Fprintf(bw, "# montage_file = %s\n", f.Montage)
	}
	bw.WriteString("#\n" + csvHeader + "\n")
	for _, e := range f.Events {
		conf := e.Confidence
		if conf != conf {
			conf = 1
		}
		fmt.Fprintf(bw, "%s,%s,%s,%s,%s\n", e.Channel, fmt4(e.Start), fmt4(e.Stop), e.Label, fmt4(conf))
	}
	return bw.Flush()
}

func fmt4(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }

// ReadFile reads an annotation file, choosing the format by name: files
// ending in ".tsv" are events.tsv, everything else csv_bi/csv.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read annotations: %w", err)
	}
	defer fh.Close()
	if IsTSV(path) {
		return ReadEventsTSV(fh, path)
	}
	return ReadCSVBI(fh, path)
}

// WriteFile writes f atomically to path, as events.tsv when the name ends in
// ".tsv" and as csv_bi otherwise.
func WriteFile(path string, f *File) error {
	write := WriteCSVBI
	if IsTSV(path) {
		write = WriteEventsTSV
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { return write(w, f) })
}

// IsTSV reports whether path names an events.tsv file (by its extension).
func IsTSV(path string) bool { return strings.EqualFold(filepath.Ext(path), ".tsv") }
