// Package execkind is the `exec` stage kind: it runs the stage's command —
// a string through `sh -c`, a list as argv — in the stage's working
// directory with the stage's env added to pipe's environment, in a process
// group of its own whose leader dies with pipe (Pdeathsig). When the stage
// is cancelled (Ctrl-C, timeout) the whole group gets SIGTERM, then SIGKILL
// after a grace period. When the command exits, whatever it left running
// in its group (background jobs) is killed, so a stage never outlives its
// command and never holds its output open.
package execkind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/stages"
)

// DefaultGrace is the time between SIGTERM and SIGKILL on cancellation.
const DefaultGrace = 10 * time.Second

// drainLimit bounds the wait for the output of processes that left the
// stage's process group (setsid daemons) once the command exited.
const drainLimit = 2 * time.Second

// Kind is the exec kind.
type Kind struct {
	grace time.Duration
	paths sync.Map // PATH + NUL + name -> resolved path: thousands of tiny stages look up once
}

// Option configures New.
type Option func(*Kind)

// WithGrace sets the time between SIGTERM and SIGKILL when a stage is
// cancelled (default DefaultGrace).
func WithGrace(grace time.Duration) Option { return func(k *Kind) { k.grace = grace } }

// New returns the exec kind.
func New(opts ...Option) *Kind {
	k := &Kind{grace: DefaultGrace}
	for _, o := range opts {
		o(k)
	}
	return k
}

// NewWithGrace returns the exec kind with grace between SIGTERM and
// SIGKILL; the same as New(WithGrace(grace)).
func NewWithGrace(grace time.Duration) *Kind { return New(WithGrace(grace)) }

// Name implements stages.Kind.
func (*Kind) Name() string { return "exec" }

// Version implements stages.Kind.
func (*Kind) Version() string { return "1" }

// ConfigSpec implements stages.Kind: exec takes no config block.
func (*Kind) ConfigSpec() hcldec.Spec { return nil }

// Outputs implements stages.Kind: exec publishes nothing beyond the
// stage's attributes.
func (*Kind) Outputs() map[string]cty.Type { return nil }

// Paths implements stages.Kind: exec reads and writes only the stage's
// inputs and outputs.
func (*Kind) Paths(cty.Value, string) (stages.Paths, error) { return stages.Paths{}, nil }

// ExitError is a command that exited with a non-zero status or was killed
// by a signal.
type ExitError struct {
	Code   int
	Signal string
}

// Error implements error.
func (e *ExitError) Error() string {
	if e.Signal != "" {
		return "command killed by " + e.Signal
	}
	return fmt.Sprintf("command exited with status %d", e.Code)
}

// ExitCode returns the exit status (-1 when killed by a signal).
func (e *ExitError) ExitCode() int { return e.Code }

// Run implements stages.Kind.
func (k *Kind) Run(ctx context.Context, r *stages.Run) (*stages.Result, error) {
	var argv []string
	switch {
	case r.Shell != "":
		argv = []string{"/bin/sh", "-c", r.Shell}
	case len(r.Argv) > 0:
		argv = r.Argv
	default:
		return nil, errors.New("an exec stage needs a command")
	}
	path, err := k.lookPath(argv[0])
	if err != nil {
		return nil, err
	}
	out, err := newOutputs(r.Stdout, r.Stderr)
	if err != nil {
		return nil, err
	}
	defer out.abort()
	cmd := &exec.Cmd{
		Path:   path,
		Args:   argv,
		Dir:    r.Workdir,
		Env:    environ(r.Env),
		Stdout: out.stdout,
		Stderr: out.stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Setpgid:   true,
			Pdeathsig: syscall.SIGKILL,
		},
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Pdeathsig fires when the thread that started the child exits: start
	// from a locked thread, which Go then keeps alive.
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	out.started()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", argv[0], err)
	}
	pgid := cmd.Process.Pid
	waited := make(chan struct{})
	go func() {
		select {
		case <-waited:
			return
		case <-ctx.Done():
		}
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(k.grace)
		defer t.Stop()
		select {
		case <-waited:
		case <-t.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}()
	err = cmd.Wait()
	close(waited)
	// The leader exited: what is left of its group (background jobs,
	// children that ignored SIGTERM) goes too, which also closes the
	// output pipes they hold.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	out.drain(drainLimit)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", context.Cause(ctx), err)
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return nil, &ExitError{Code: -1, Signal: ws.Signal().String()}
			}
			return nil, &ExitError{Code: ee.ExitCode()}
		}
		return nil, err
	}
	if err := out.writeErr(); err != nil {
		return nil, fmt.Errorf("writing the command's output: %w", err)
	}
	return &stages.Result{}, nil
}

// outputs connects the command's stdout and stderr to the stage's
// writers. A writer that is a file is handed to the command as it is;
// others are fed from a pipe that pipe reads, shared when stdout and stderr
// are one writer (so their lines keep their order). Unlike exec.Cmd's own
// pipes, waiting for the command does not wait for the pipes: the process
// group is killed first, then the pipes are drained.
type outputs struct {
	stdout, stderr *os.File
	ours           []*os.File // write ends to close once the child has them
	readers        []*os.File
	done           chan struct{}
	n              int
	mu             sync.Mutex
	err            error // first error writing to a stage writer
}

// writeErr returns the first error of writing the command's output.
func (o *outputs) writeErr() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

func newOutputs(stdout, stderr io.Writer) (*outputs, error) {
	o := &outputs{done: make(chan struct{}, 2)}
	var err error
	if o.stdout, err = o.connect(stdout); err != nil {
		o.abort()
		return nil, err
	}
	if stderr == stdout {
		o.stderr = o.stdout
	} else if o.stderr, err = o.connect(stderr); err != nil {
		o.abort()
		return nil, err
	}
	return o, nil
}

// connect returns the file the command writes for w.
func (o *outputs) connect(w io.Writer) (*os.File, error) {
	if w == nil {
		return nil, nil // exec.Cmd: the null device
	}
	if f, ok := w.(*os.File); ok {
		return f, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("output pipe: %w", err)
	}
	o.ours = append(o.ours, pw)
	o.readers = append(o.readers, pr)
	o.n++
	go func() {
		if _, err := io.Copy(w, pr); err != nil {
			// Keep reading: a command blocked on a full pipe would never
			// exit. The error fails the stage once the command is done.
			o.mu.Lock()
			if o.err == nil {
				o.err = err
			}
			o.mu.Unlock()
			_, _ = io.Copy(io.Discard, pr)
		}
		o.done <- struct{}{}
	}()
	return pw, nil
}

// started closes pipe's copies of the write ends (the child has its own).
func (o *outputs) started() {
	for _, f := range o.ours {
		f.Close()
	}
	o.ours = nil
}

// drain waits until every pipe reached end of file (all writers gone), at
// most limit; then it closes the read ends.
func (o *outputs) drain(limit time.Duration) {
	t := time.NewTimer(limit)
	defer t.Stop()
	for ; o.n > 0; o.n-- {
		select {
		case <-o.done:
		case <-t.C:
			o.abort()
			for ; o.n > 0; o.n-- {
				<-o.done
			}
			return
		}
	}
	o.abort()
}

// abort closes every pipe end still open.
func (o *outputs) abort() {
	for _, f := range o.ours {
		f.Close()
	}
	for _, f := range o.readers {
		f.Close()
	}
	o.ours, o.readers = nil, nil
}

// lookPath resolves name like the shell; names with a slash are used as
// they are.
func (k *Kind) lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	key := os.Getenv("PATH") + "\x00" + name
	if p, ok := k.paths.Load(key); ok {
		return p.(string), nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("command %q: %w", name, err)
	}
	k.paths.Store(key, p)
	return p, nil
}

// environ is pipe's environment with env added (env wins), sorted keys
// last so the result is deterministic.
func environ(env map[string]string) []string {
	out := os.Environ()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}
