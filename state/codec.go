package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"time"
)

// Attempt records are binary: a plan of thousands of stages decodes one
// per stage, and encoding/json takes several microseconds for each. The
// first byte tells the format: attemptV1, or '{' for the JSON of databases
// written before (still read).
//
//	attemptV1
//	uvarint attempt, string status, string run, string stage,
//	varint start, varint end (Unix ns; 0: unknown), varint exit code,
//	string fingerprint, string error, string outputs (cty JSON),
//	uvarint n, n × (string path, string digest),
//	uvarint n, n × (string name, 8 bytes float64 bits, big-endian)
//
// where string is a uvarint length and the bytes.
const attemptV1 = 1

// errShort reports a truncated or malformed attempt record.
var errShort = errors.New("malformed attempt record")

// encodeAttempt returns the record of a (without a.Keys, stored apart).
func encodeAttempt(a *Attempt) []byte {
	n := 64 + len(a.Run) + len(a.Stage) + len(a.Status) + len(a.Fingerprint) + len(a.Error) + len(a.Outputs)
	for k, v := range a.Files {
		n += len(k) + len(v) + 4
	}
	b := make([]byte, 0, n+len(a.Metrics)*16)
	b = append(b, attemptV1)
	b = binary.AppendUvarint(b, uint64(max(a.Attempt, 0)))
	b = appendString(b, a.Status)
	b = appendString(b, a.Run)
	b = appendString(b, a.Stage)
	b = binary.AppendVarint(b, unixNano(a.Start))
	b = binary.AppendVarint(b, unixNano(a.End))
	b = binary.AppendVarint(b, int64(a.ExitCode))
	b = appendString(b, a.Fingerprint)
	b = appendString(b, a.Error)
	b = appendString(b, string(a.Outputs))
	b = binary.AppendUvarint(b, uint64(len(a.Files)))
	for _, k := range sortedKeys(a.Files) {
		b = appendString(b, k)
		b = appendString(b, a.Files[k])
	}
	b = binary.AppendUvarint(b, uint64(len(a.Metrics)))
	for _, k := range sortedKeys(a.Metrics) {
		b = appendString(b, k)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(a.Metrics[k]))
	}
	return b
}

// decodeAttemptRecord decodes a record of either format.
func decodeAttemptRecord(v []byte) (*Attempt, error) {
	a := new(Attempt)
	if len(v) > 0 && v[0] == '{' {
		return a, json.Unmarshal(v, a)
	}
	if len(v) == 0 || v[0] != attemptV1 {
		return nil, errShort
	}
	r := reader{b: v[1:]}
	a.Attempt = int(r.uvarint())
	a.Status = r.string()
	a.Run = r.string()
	a.Stage = r.string()
	a.Start = fromUnixNano(r.varint())
	a.End = fromUnixNano(r.varint())
	a.ExitCode = int(r.varint())
	a.Fingerprint = r.string()
	a.Error = r.string()
	if out := r.string(); out != "" {
		a.Outputs = json.RawMessage(out)
	}
	if n := r.uvarint(); n > 0 && n <= uint64(len(r.b)) {
		a.Files = make(map[string]string, n)
		for range n {
			k := r.string()
			a.Files[k] = r.string()
		}
	} else if n > 0 {
		r.bad = true
	}
	if n := r.uvarint(); n > 0 && n <= uint64(len(r.b)) {
		a.Metrics = make(map[string]float64, n)
		for range n {
			k := r.string()
			a.Metrics[k] = math.Float64frombits(r.uint64())
		}
	} else if n > 0 {
		r.bad = true
	}
	if r.bad || len(r.b) != 0 {
		return nil, errShort
	}
	return a, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// reader decodes a record; bad is set at the first malformed field, after
// which every field reads as zero.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uvarint() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.bad {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) uint64() uint64 {
	if r.bad || len(r.b) < 8 {
		r.bad = true
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// sortedKeys returns the keys of m in order (deterministic records).
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
