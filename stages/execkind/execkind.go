// Package execkind is the `exec` stage kind: it runs the stage's command —
// a string through `sh -c`, a list as argv — in the stage's working
// directory with the stage's env added to pipe's environment, in a process
// group of its own that dies with pipe (Pdeathsig). When the stage is
// cancelled (Ctrl-C, timeout) the whole group gets SIGTERM, then SIGKILL
// after a grace period.
package execkind

import (
	"context"
	"errors"
	"fmt"
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
const DefaultGrace = 5 * time.Second

// Kind is the exec kind.
type Kind struct {
	grace time.Duration
	paths sync.Map // PATH + NUL + name -> resolved path: thousands of tiny stages look up once
}

// New returns the exec kind with the default grace period.
func New() *Kind { return &Kind{grace: DefaultGrace} }

// NewWithGrace returns the exec kind with grace between SIGTERM and SIGKILL.
func NewWithGrace(grace time.Duration) *Kind { return &Kind{grace: grace} }

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
	cmd := &exec.Cmd{
		Path:   path,
		Args:   argv,
		Dir:    r.Workdir,
		Env:    environ(r.Env),
		Stdout: r.Stdout,
		Stderr: r.Stderr,
		// A background process that keeps stdout open does not hold the
		// stage once the command exited.
		WaitDelay: 2 * time.Second,
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
	if err != nil {
		if ctx.Err() != nil {
			_ = syscall.Kill(-pgid, syscall.SIGKILL) // what ignored SIGTERM
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
	return &stages.Result{}, nil
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
