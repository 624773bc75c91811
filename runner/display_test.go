package runner

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestStageProgressLine(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	d := NewDisplay(&bytes.Buffer{}, false, time.Hour)
	d.now = func() time.Time { return now }
	sp := d.Stage("populate")
	if got := sp.line(now, true); got != "" {
		t.Errorf("no progress yet: %q", got)
	}
	sp.Total(100, "files")
	sp.Add(10) // the ETA measures from the first Add
	now = now.Add(10 * time.Second)
	sp.Add(20) // 20 files in 10 s: 70 left, 35 s
	sp.Status("patient 7")
	tests := []struct {
		bar  bool
		want string
	}{
		{true, "populate [=======>                ] 30/100 files (30%) ETA 35s 10s · patient 7"},
		{false, "populate 30/100 files (30%) ETA 35s 10s · patient 7"},
	}
	for _, tt := range tests {
		if got := sp.line(now, tt.bar); got != tt.want {
			t.Errorf("bar=%v:\n got %q\nwant %q", tt.bar, got, tt.want)
		}
	}
	sp.Total(0, "steps")
	if got := sp.line(now, true); got != "populate 30 steps 10s · patient 7" {
		t.Errorf("unknown total: %q", got)
	}
}

func TestDisplayLogLinesAndTerminal(t *testing.T) {
	t.Parallel()
	var plain bytes.Buffer
	d := NewDisplay(&plain, false, time.Hour)
	sp := d.Stage("train")
	sp.Total(10, "steps")
	sp.Add(5)
	d.tick()
	d.Write([]byte("hello\n"))
	if s := plain.String(); !strings.Contains(s, "progress train 5/10 steps (50%)") || !strings.HasSuffix(s, "hello\n") || strings.Contains(s, "\x1b") {
		t.Errorf("plain output %q", s)
	}

	var tty bytes.Buffer
	d = NewDisplay(&tty, true, time.Hour)
	d.SetTotal(3)
	sp = d.Stage("train")
	sp.Total(10, "steps")
	sp.Add(5)
	d.Write([]byte("line one\n"))
	d.StageDone("succeeded")
	d.Write([]byte("line two\n"))
	d.Remove(sp)
	d.stop = make(chan struct{})
	d.stopped = make(chan struct{})
	close(d.stopped)
	d.Stop()
	s := tty.String()
	// Status lines (a bar and the stage count) are drawn below the output
	// and erased before each new line.
	for _, want := range []string{"line one\ntrain [", "[0/3 stages, 1 running]\n", "\x1b[1A\x1b[2K\x1b[1A\x1b[2K\rline two\n", "[1/3 stages, 1 running]"} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, s)
		}
	}
	if !strings.HasSuffix(s, "\r") {
		t.Errorf("status lines not cleared at the end: %q", s)
	}
}

func TestLineWriter(t *testing.T) {
	t.Parallel()
	var lines []string
	w := newLineWriter(func(s string) { lines = append(lines, s) })
	w.Write([]byte("a\r\nb"))
	w.Write([]byte("c\n\nd"))
	w.Flush()
	if got := strings.Join(lines, "|"); got != "a|bc||d" {
		t.Errorf("lines %q", got)
	}
}
