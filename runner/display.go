package runner

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Display is the terminal (or log) end of a run: stage output and log lines
// pass through it as an io.Writer, and it draws the progress of the run and
// of each stage that reports progress. On a terminal it keeps a block of
// status lines (one per stage with progress: a bar, counts and ETA) below
// the scrolling output and redraws it; elsewhere it writes one progress
// line per stage every Interval. Safe for concurrent use.
type Display struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	interval time.Duration
	width    int
	now      func() time.Time

	stages   []*StageProgress
	total    int
	finished int
	failed   int
	drawn    int // status lines on screen (tty)
	lastLog  time.Time
	stop     chan struct{}
	stopped  chan struct{}
}

// NewDisplay returns a display writing to w. tty selects the terminal
// drawing; interval is the period of progress lines (non-terminal) or of
// redraws (terminal). Call Start and Stop around a run.
func NewDisplay(w io.Writer, tty bool, interval time.Duration) *Display {
	if interval <= 0 {
		interval = 10 * time.Second
		if tty {
			interval = 200 * time.Millisecond
		}
	}
	return &Display{w: w, tty: tty, interval: interval, width: 100, now: time.Now}
}

// Start begins periodic drawing.
func (d *Display) Start() {
	d.mu.Lock()
	d.stop, d.stopped = make(chan struct{}), make(chan struct{})
	d.lastLog = d.now()
	d.mu.Unlock()
	go func() {
		defer close(d.stopped)
		t := time.NewTicker(d.interval)
		defer t.Stop()
		for {
			select {
			case <-d.stop:
				return
			case <-t.C:
				d.tick()
			}
		}
	}()
}

// Stop ends periodic drawing and clears the status lines.
func (d *Display) Stop() {
	if d.stop == nil {
		return
	}
	close(d.stop)
	<-d.stopped
	d.mu.Lock()
	d.clear()
	d.stop = nil
	d.mu.Unlock()
}

// Write writes p (whole lines, as loggers do) above the status lines.
func (d *Display) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clear()
	n, err := d.w.Write(p)
	if d.tty {
		d.draw()
	}
	return n, err
}

// SetTotal sets the number of stages in the run.
func (d *Display) SetTotal(n int) {
	d.mu.Lock()
	d.total = n
	d.mu.Unlock()
}

// StageDone counts one more stage finished with the given status.
func (d *Display) StageDone(status string) {
	d.mu.Lock()
	d.finished++
	if status == "failed" {
		d.failed++
	}
	d.mu.Unlock()
}

// Stage returns the progress of a running stage; Remove it when it ends.
func (d *Display) Stage(name string) *StageProgress {
	sp := &StageProgress{d: d, name: name, start: d.now()}
	d.mu.Lock()
	d.stages = append(d.stages, sp)
	d.mu.Unlock()
	return sp
}

// Remove drops a stage's progress from the display.
func (d *Display) Remove(sp *StageProgress) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, s := range d.stages {
		if s == sp {
			d.stages = append(d.stages[:i], d.stages[i+1:]...)
			break
		}
	}
	if d.tty {
		d.clear()
		d.draw()
	}
}

func (d *Display) tick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tty {
		d.clear()
		d.draw()
		return
	}
	now := d.now()
	for _, s := range d.stages {
		if line := s.line(now, false); line != "" {
			fmt.Fprintf(d.w, "%s progress %s\n", now.Format("15:04:05"), line)
		}
	}
	d.lastLog = now
}

// clear erases the status lines (tty). Called with mu held.
func (d *Display) clear() {
	if !d.tty || d.drawn == 0 {
		return
	}
	var b strings.Builder
	for i := 0; i < d.drawn; i++ {
		b.WriteString("\x1b[1A\x1b[2K")
	}
	b.WriteString("\r")
	io.WriteString(d.w, b.String())
	d.drawn = 0
}

// draw writes the status lines (tty). Called with mu held.
func (d *Display) draw() {
	if d.total == 0 && len(d.stages) == 0 {
		return
	}
	now := d.now()
	var b strings.Builder
	lines := 0
	const maxLines = 8
	for _, s := range d.stages {
		if lines == maxLines-1 {
			break
		}
		if line := s.line(now, true); line != "" {
			b.WriteString(truncate(line, d.width))
			b.WriteByte('\n')
			lines++
		}
	}
	if d.total > 0 {
		fmt.Fprintf(&b, "[%d/%d stages", d.finished, d.total)
		if d.failed > 0 {
			fmt.Fprintf(&b, ", %d failed", d.failed)
		}
		fmt.Fprintf(&b, ", %d running]\n", len(d.stages))
		lines++
	}
	io.WriteString(d.w, b.String())
	d.drawn = lines
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// StageProgress is one stage's stages.Progress.
type StageProgress struct {
	d     *Display
	name  string
	start time.Time

	// Guarded by d.mu.
	total, done int64
	unit        string
	status      string
	first       time.Time // first Add: the ETA measures from here
	firstDone   int64
}

// Total implements stages.Progress.
func (s *StageProgress) Total(n int64, unit string) {
	s.d.mu.Lock()
	s.total, s.unit = n, unit
	s.d.mu.Unlock()
}

// Add implements stages.Progress.
func (s *StageProgress) Add(n int64) {
	s.d.mu.Lock()
	s.done += n
	if s.first.IsZero() {
		// The ETA measures the rate from here: how long the units of the
		// first Add took (setup included) is unknown.
		s.first = s.d.now()
		s.firstDone = s.done
	}
	s.d.mu.Unlock()
}

// Status implements stages.Progress.
func (s *StageProgress) Status(text string) {
	s.d.mu.Lock()
	s.status = text
	s.d.mu.Unlock()
}

// line formats the progress; "" when the stage reported nothing.
func (s *StageProgress) line(now time.Time, bar bool) string {
	if s.total <= 0 && s.done == 0 && s.status == "" {
		return ""
	}
	var b strings.Builder
	b.WriteString(s.name)
	unit := s.unit
	if unit != "" {
		unit = " " + unit
	}
	if s.total > 0 {
		frac := float64(s.done) / float64(s.total)
		frac = max(0, min(frac, 1))
		if bar {
			const w = 24
			full := int(frac * w)
			b.WriteString(" [")
			b.WriteString(strings.Repeat("=", full))
			if full < w {
				b.WriteString(">")
				b.WriteString(strings.Repeat(" ", w-full-1))
			}
			b.WriteString("]")
		}
		fmt.Fprintf(&b, " %d/%d%s (%.0f%%)", s.done, s.total, unit, 100*frac)
		if eta, ok := s.eta(now); ok {
			fmt.Fprintf(&b, " ETA %s", eta)
		}
	} else if s.done > 0 {
		fmt.Fprintf(&b, " %d%s", s.done, unit)
	}
	fmt.Fprintf(&b, " %s", now.Sub(s.start).Round(time.Second))
	if s.status != "" {
		b.WriteString(" · ")
		b.WriteString(s.status)
	}
	return b.String()
}

// eta estimates the remaining time from the rate since the first Add.
func (s *StageProgress) eta(now time.Time) (time.Duration, bool) {
	if s.first.IsZero() || s.total <= 0 || s.done <= s.firstDone {
		return 0, false
	}
	el := now.Sub(s.first)
	if el <= 0 {
		return 0, false
	}
	rate := float64(s.done-s.firstDone) / el.Seconds()
	left := float64(s.total-s.done) / rate
	if left < 0 {
		left = 0
	}
	return (time.Duration(left) * time.Second).Round(time.Second), true
}

// lineWriter passes each complete line written to it to emit; Flush passes
// a trailing partial line. Safe for concurrent use.
type lineWriter struct {
	mu   sync.Mutex
	emit func(line string)
	buf  []byte
}

func newLineWriter(emit func(string)) *lineWriter {
	return &lineWriter{emit: emit}
}

// Write implements io.Writer.
func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(string(bytes.TrimRight(l.buf[:i], "\r")))
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 { // a very long line: pass it on in pieces
		l.emit(string(l.buf))
		l.buf = l.buf[:0]
	}
	return len(p), nil
}

// Flush passes on a pending partial line.
func (l *lineWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(string(l.buf))
		l.buf = nil
	}
}
