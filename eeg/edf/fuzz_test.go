package edf

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// FuzzHeader opens arbitrary bytes as a file. It must either fail with a
// *FormatError or give a reader whose every signal and annotation can be
// read without panicking. Seeds: testdata/fuzz/FuzzHeader (files made by
// this package's writer, some damaged). Run by hand:
//
//	go test ./eeg/edf -run '^$' -fuzz FuzzHeader -fuzztime 5m
func FuzzHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), int64(len(data)), "fuzz.edf")
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error is %T, not *FormatError: %v", err, err)
			}
			return
		}
		h := r.Header()
		if h.HeaderBytes+h.Records*h.RecordBytes > int64(len(data)) {
			t.Fatalf("%d records of %d bytes after a %d-byte header exceed the %d-byte file", h.Records, h.RecordBytes, h.HeaderBytes, len(data))
		}
		for _, sig := range h.DataSignals() {
			n := h.Samples(sig)
			d := make([]int32, n)
			if k, err := r.ReadDigital(sig, 0, d); int64(k) != n || (err != nil && err != io.EOF) {
				t.Fatalf("signal %d: read %d of %d: %v", sig, k, n, err)
			}
			p := make([]float64, n)
			_, err := r.ReadPhysical(sig, 0, p)
			if (err == nil) != (h.Signals[sig].Scalable() == nil) {
				t.Fatalf("signal %d: physical read error %v, scalable %v", sig, err, h.Signals[sig].Scalable())
			}
		}
		for _, a := range r.Annotations() {
			if a.Record < 0 || a.Record >= h.Records {
				t.Fatalf("annotation from record %d of %d", a.Record, h.Records)
			}
		}
	})
}

// FuzzTAL parses arbitrary annotation-signal bytes. Whatever parses must
// survive encoding and parsing again unchanged. Seeds:
// testdata/fuzz/FuzzTAL. Run by hand:
//
//	go test ./eeg/edf -run '^$' -fuzz FuzzTAL -fuzztime 5m
func FuzzTAL(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		tals, err := ParseTALs(data)
		if err != nil {
			var te *TALError
			if !errors.As(err, &te) || te.Offset < 0 || te.Offset > len(data) {
				t.Fatalf("bad error %T %v", err, err)
			}
			return
		}
		var enc []byte
		for _, tal := range tals {
			enc = append(enc, encodeTAL(tal.Onset, tal.Duration, tal.HasDuration, tal.Texts)...)
		}
		again, err := ParseTALs(enc)
		if err != nil {
			t.Fatalf("re-encoded TALs %q do not parse: %v", enc, err)
		}
		for i := range again {
			again[i].Offset = tals[i].Offset
		}
		if !reflect.DeepEqual(tals, again) && !(len(tals) == 0 && len(again) == 0) {
			t.Fatalf("round trip changed the TALs:\n%+v\n%+v", tals, again)
		}
	})
}
