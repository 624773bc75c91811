package state

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func TestAttemptCodec(t *testing.T) {
	t.Parallel()
	now := time.Unix(1764355200, 123456789).UTC()
	tests := []*Attempt{
		{Run: "r", Stage: "s", Attempt: 1, Status: StatusRunning, Start: now, ExitCode: -1},
		{Run: "20260101T000000Z-beef", Stage: "train", Attempt: 3, Status: StatusSucceeded, Start: now, End: now.Add(time.Hour),
			Fingerprint: "ff00", Error: "", Outputs: json.RawMessage(`{"value":{"n":1},"type":["object",{"n":"number"}]}`),
			Files: map[string]string{"/a": "d1", "/b": "d2"}, Metrics: map[string]float64{"loss": 0.25, "hours": 1e9}},
		{Run: "r", Stage: "s", Attempt: 2, Status: StatusFailed, Start: now, End: now, ExitCode: 3, Error: "exit 3\nline two"},
	}
	for _, a := range tests {
		v := encodeAttempt(a)
		got, err := decodeAttemptRecord(v)
		if err != nil || !reflect.DeepEqual(got, a) {
			t.Errorf("round trip of %+v: %+v, %v", a, got, err)
		}
		// Every truncation and a trailing byte are errors, never panics.
		for i := range len(v) {
			if _, err := decodeAttemptRecord(v[:i]); err == nil {
				t.Errorf("%s: truncated to %d bytes decoded", a.Stage, i)
			}
		}
		if _, err := decodeAttemptRecord(append(v, 0)); err == nil {
			t.Errorf("%s: trailing byte decoded", a.Stage)
		}
	}
	// Records of databases written before (JSON) are still read.
	old := []byte(`{"run":"r1","stage":"a","attempt":2,"status":"succeeded","start":"2026-01-01T00:00:00Z","exit_code":0,"fingerprint":"fp"}`)
	if a, err := decodeAttemptRecord(old); err != nil || a.Run != "r1" || a.Attempt != 2 || a.Fingerprint != "fp" {
		t.Errorf("JSON record: %+v, %v", a, err)
	}
}

func FuzzAttemptRecord(f *testing.F) {
	f.Add(encodeAttempt(&Attempt{Run: "r", Stage: "s", Attempt: 1, Status: StatusSucceeded, Files: map[string]string{"a": "b"}, Metrics: map[string]float64{"m": 1}}))
	f.Add([]byte(`{"run":"r"}`))
	f.Fuzz(func(t *testing.T, v []byte) {
		a, err := decodeAttemptRecord(v)
		if err != nil || len(v) == 0 || v[0] == '{' {
			return
		}
		if b, err := decodeAttemptRecord(encodeAttempt(a)); err != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("re-encoding %+v: %+v, %v", a, b, err)
		}
	})
}
