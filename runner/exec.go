package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/pipeml/pipe/stages"
)

// Report is the outcome of a run.
type Report struct {
	RunID string
	// Results holds one entry per stage, in topological order.
	Results []Result
	// Failed and Cancelled tell whether a stage failed or the run was
	// cancelled.
	Failed    bool
	Cancelled bool
}

// errTimeout is the cause of an attempt context that hit the stage timeout.
var errTimeout = errors.New("stage timeout")

// done is what a stage goroutine reports to the scheduler.
type done struct {
	n   *node
	err error // pipeline error (does not resolve, unreadable input)
}

// Run runs the pipeline: every selected stage that is not up to date, in
// topological order, at most Options.Parallel at once. It returns the
// report and an error for problems that are not stage failures (the store
// failing, a stage that does not resolve). Cancelling ctx stops starting
// stages and cancels the running ones, which are recorded as cancelled.
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	r.started, r.digests = false, nil
	if ctx.Err() == nil {
		if res, ok := r.fromSnapshot(true); ok {
			return r.runNothing(res)
		}
	}
	nodes, err := r.graph()
	if err != nil {
		return nil, err
	}
	r.startRecording()
	defer func() { r.rec = nil }()
	r.prefetch(nodes)
	rec := &RunRecord{ID: r.opts.RunID, Start: time.Now(), Status: "running", Pipeline: r.opts.Pipeline, Args: r.opts.Args}
	if err := r.store.PutRun(rec); err != nil {
		return nil, err
	}
	if r.opts.Progress != nil {
		r.opts.Progress.SetTotal(len(nodes))
	}
	rep := &Report{RunID: r.opts.RunID}
	waiting := make([]int, len(nodes))
	ready := make([]*node, 0, len(nodes))
	for _, n := range nodes {
		waiting[n.idx] = len(n.deps)
		if waiting[n.idx] == 0 {
			ready = append(ready, n)
		}
	}
	finished := make([]bool, len(nodes))
	doneCh := make(chan done, r.opts.Parallel)
	running := 0
	stop := false // a stage failed (without --keep-going) or ctx is done
	var errs []error
	var diags hcl.Diagnostics

	release := func(n *node) {
		finished[n.idx] = true
		for _, s := range n.succ {
			waiting[s]--
			if waiting[s] == 0 {
				ready = append(ready, nodes[s])
			}
		}
	}
	finish := func(n *node, err error) {
		if err != nil {
			var ds hcl.Diagnostics
			if errors.As(err, &ds) {
				diags = append(diags, ds...)
			} else {
				errs = append(errs, err)
			}
			n.res.Status, n.res.Action = "failed", ActionBlocked
			n.res.Error = err.Error()
			n.usable = false
		}
		switch n.res.Status {
		case "failed":
			rep.Failed = true
			if !r.opts.KeepGoing {
				stop = true
			}
		case "cancelled":
			rep.Cancelled = true
			stop = true
		}
		if r.opts.Progress != nil {
			r.opts.Progress.StageDone(n.res.Status)
		}
		release(n)
	}
	// Decisions are made here, in the scheduler: skipping an up-to-date
	// stage costs a few lookups, and thousands of them in a chain should not
	// each pay a goroutine hand-off. Only stages that run get a goroutine.
	var toRun []*node
	for {
		if ctx.Err() != nil {
			stop = true
		}
		for !stop && len(ready) > 0 {
			n := ready[0]
			ready = ready[1:]
			needsRun, err := r.settle(nodes, n)
			if err != nil || !needsRun {
				finish(n, err)
				continue
			}
			toRun = append(toRun, n)
		}
		for !stop && len(toRun) > 0 && running < r.opts.Parallel {
			n := toRun[0]
			toRun = toRun[1:]
			running++
			r.started, r.digests = true, nil
			go func() { doneCh <- done{n: n, err: r.execute(ctx, n)} }()
		}
		if running == 0 {
			break
		}
		d := <-doneCh
		running--
		finish(d.n, d.err)
	}
	for _, n := range nodes {
		if !finished[n.idx] {
			n.res.Stage = n.name
			n.res.Status = "not run"
			for _, j := range n.deps {
				if s := nodes[j].res.Status; s == "failed" || s == "blocked" {
					n.res.Status, n.res.Action = "blocked", ActionBlocked
					n.res.Reason = "upstream " + nodes[j].name + " did not succeed"
					break
				}
			}
			switch {
			case n.res.Status == "blocked":
			case ctx.Err() != nil:
				n.res.Reason = "run cancelled"
			default:
				n.res.Reason = "stopped after a failure"
			}
		}
		rep.Results = append(rep.Results, n.res)
	}
	if ctx.Err() != nil {
		rep.Cancelled = true
	}
	rec.End = time.Now()
	switch {
	case rep.Cancelled:
		rec.Status = "cancelled"
	case rep.Failed:
		rec.Status = "failed"
	default:
		rec.Status = "succeeded"
	}
	if err := r.store.PutRun(rec); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 && len(diags) == 0 && !r.started && !rep.Failed && !rep.Cancelled && onlySkips(rep.Results) {
		r.saveSnapshot(rep.Results)
	}
	if len(diags) > 0 {
		errs = append([]error{diags}, errs...)
	}
	if len(errs) == 1 {
		return rep, errs[0]
	}
	return rep, errors.Join(errs...)
}

// onlySkips reports whether every result of a run is a skip or disabled
// stage: a run that ran nothing, whose decisions a snapshot may keep.
func onlySkips(results []Result) bool {
	for _, res := range results {
		ok := res.Action == ActionSkip && res.Status == "skipped" ||
			res.Action == ActionDisabled && res.Status == "disabled"
		if !ok {
			return false
		}
	}
	return true
}

// runNothing is a run whose decisions came from the snapshot, every stage
// skipped or disabled: it records the run and reports (and logs) each
// stage as settle would have.
func (r *Runner) runNothing(results []Result) (*Report, error) {
	rec := &RunRecord{ID: r.opts.RunID, Start: time.Now(), Status: "running", Pipeline: r.opts.Pipeline, Args: r.opts.Args}
	if err := r.store.PutRun(rec); err != nil {
		return nil, err
	}
	if r.opts.Progress != nil {
		r.opts.Progress.SetTotal(len(results))
	}
	rep := &Report{RunID: r.opts.RunID, Results: results}
	for i := range results {
		res := &results[i]
		switch res.Action {
		case ActionSkip:
			res.Status = "skipped"
			r.opts.Log.Debug("skip", "stage", res.Stage, "reason", res.Reason)
		default:
			res.Status = "disabled"
			r.opts.Log.Info("disabled", "stage", res.Stage)
		}
		if r.opts.Progress != nil {
			r.opts.Progress.StageDone(res.Status)
		}
	}
	rec.End = time.Now()
	rec.Status = "succeeded"
	if err := r.store.PutRun(rec); err != nil {
		return rep, err
	}
	return rep, nil
}

// settle decides n during a run and reports whether it must run; stages
// that are skipped, disabled or blocked get their final status here.
func (r *Runner) settle(nodes []*node, n *node) (bool, error) {
	if err := r.decide(nodes, n, false); err != nil {
		return false, err
	}
	switch n.res.Action {
	case ActionSkip:
		n.res.Status = "skipped"
		if !n.usable {
			n.res.Status = "blocked"
		}
		r.opts.Log.Debug("skip", "stage", n.name, "reason", n.res.Reason)
		return false, nil
	case ActionDisabled:
		n.res.Status = "disabled"
		r.opts.Log.Info("disabled", "stage", n.name)
		return false, nil
	case ActionBlocked:
		n.res.Status = "blocked"
		r.opts.Log.Warn("blocked", "stage", n.name, "reason", n.res.Reason)
		return false, nil
	}
	n.willRun = false
	return true, nil
}

// execute runs the attempts of n until one succeeds, the retries are used
// up, or ctx is cancelled.
func (r *Runner) execute(ctx context.Context, n *node) error {
	st := n.stage
	r.opts.Log.Info("run", "stage", n.name, "reason", n.res.Reason)
	stateDir := filepath.Join(r.opts.StateDir, "stages", n.name)
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return fmt.Errorf("stage %s: state directory: %w", n.name, err)
	}
	start := time.Now()
	defer func() { n.res.Duration = time.Since(start) }()
	for attempt := 1; ; attempt++ {
		n.res.Attempts = attempt
		a := &Attempt{
			RunID: r.opts.RunID, Stage: n.name, Attempt: attempt,
			Status: StatusRunning, Start: time.Now(), ExitCode: -1,
			Fingerprint: n.fp.Sum, Keys: n.fp.Keys,
		}
		if err := r.store.PutAttempt(a); err != nil {
			return err
		}
		res, err := r.attempt(ctx, n, stateDir, attempt)
		a.End = time.Now()
		if err == nil {
			a.Outputs, err = marshalOutputs(res.Outputs)
		}
		if err == nil {
			a.Files, err = r.outputDigests(n)
		}
		if err == nil {
			a.Status = StatusSucceeded
			a.ExitCode = 0
			a.Metrics = res.Metrics
			if err := r.store.PutAttempt(a); err != nil {
				return err
			}
			n.value = st.Value(res.Outputs)
			n.up = upstreamResult{Fingerprint: a.Fingerprint, Outputs: a.Outputs}
			n.usable = true
			n.res.Status = "succeeded"
			n.res.Error = ""
			r.opts.Log.Info("done", "stage", n.name, "took", time.Since(a.Start).Round(time.Millisecond))
			return nil
		}
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			a.ExitCode = ec.ExitCode()
		}
		a.Error = err.Error()
		n.res.Error = a.Error
		if ctx.Err() != nil {
			a.Status = StatusCancelled
			n.res.Status = "cancelled"
			r.opts.Log.Warn("cancelled", "stage", n.name)
		} else {
			a.Status = StatusFailed
			n.res.Status = "failed"
		}
		if perr := r.store.PutAttempt(a); perr != nil {
			return perr
		}
		if a.Status == StatusCancelled {
			return nil
		}
		if attempt > st.Retries {
			r.opts.Log.Error("failed", "stage", n.name, "attempts", attempt, "err", err,
				"log", r.store.LogPath(r.opts.RunID, n.name, attempt))
			return nil
		}
		r.opts.Log.Warn("attempt failed, retrying", "stage", n.name, "attempt", attempt,
			"of", st.Retries+1, "err", err, "delay", st.RetryDelay)
		if st.RetryDelay > 0 {
			t := time.NewTimer(st.RetryDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				n.res.Status = "cancelled"
				return nil
			case <-t.C:
			}
		}
	}
}

// attempt runs one attempt of n's kind with its log file, terminal
// streaming, progress and timeout.
func (r *Runner) attempt(ctx context.Context, n *node, stateDir string, attempt int) (*stages.Result, error) {
	st := n.stage
	logPath := r.store.LogPath(r.opts.RunID, n.name, attempt)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	defer f.Close()
	slog := r.opts.Log.WithPrefix(n.name)
	// The log never fails the writer in front of it (a full disk must not
	// stop the streaming of the output, nor block the command on a pipe
	// nobody drains); its first error fails the attempt afterwards.
	lf := &logSink{f: f}
	var stdout, stderr io.Writer = lf, lf
	var outLW, errLW *lineWriter
	if r.opts.Stream {
		outLW = newLineWriter(func(line string) { slog.Print(line) })
		errLW = newLineWriter(func(line string) { slog.Print(line) })
		stdout = io.MultiWriter(lf, outLW)
		stderr = io.MultiWriter(lf, errLW)
	}
	defer func() {
		if outLW != nil {
			outLW.Flush()
			errLW.Flush()
		}
	}()
	var prog stages.Progress = stages.NopProgress{}
	if r.opts.Progress != nil {
		sp := r.opts.Progress.Stage(n.name)
		defer r.opts.Progress.Remove(sp)
		prog = sp
	}
	actx, cancel := ctx, context.CancelFunc(func() {})
	if st.Timeout > 0 {
		actx, cancel = context.WithTimeoutCause(ctx, st.Timeout, errTimeout)
	}
	defer cancel()
	run := &stages.Run{
		Stage: n.name, RunID: r.opts.RunID, Attempt: attempt, Fingerprint: n.fp.Sum,
		Config: st.Config, Shell: st.Shell, Argv: st.Argv, Env: st.Env,
		Workdir: st.Workdir, Inputs: st.Inputs, Outputs: st.Outputs,
		Resources: st.Resources, StateDir: stateDir,
		Log: slog, Stdout: stdout, Stderr: stderr, Progress: prog,
	}
	res, err := runKind(actx, st.Kind, run)
	if err != nil {
		if ctx.Err() == nil && errors.Is(context.Cause(actx), errTimeout) {
			return nil, fmt.Errorf("timed out after %s: %w", st.Timeout, err)
		}
		if lerr := lf.Err(); lerr != nil {
			return nil, fmt.Errorf("%w (and writing its log failed: %v)", err, lerr)
		}
		return nil, err
	}
	if err := lf.Err(); err != nil {
		return nil, fmt.Errorf("writing the stage's log: %w (its output is incomplete; free space and run again)", err)
	}
	return checkOutputs(st.Kind, res)
}

// logSink writes an attempt's log file. Its Write never fails: the first
// write error is kept (Err) and later output is dropped, so that the
// streams in front of it (terminal, pipes of the command) keep flowing.
type logSink struct {
	mu  sync.Mutex
	f   *os.File
	err error
}

// Write writes p to the file unless an earlier write failed; it always
// reports success to the caller.
func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		if _, err := l.f.Write(p); err != nil {
			l.err = err
		}
	}
	return len(p), nil
}

// Err returns the first write error, or nil.
func (l *logSink) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// runKind calls k.Run, turning a panic into an error.
func runKind(ctx context.Context, k stages.Kind, run *stages.Run) (res *stages.Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("kind %s panicked: %v", k.Name(), p)
		}
	}()
	return k.Run(ctx, run)
}

// checkOutputs checks that res publishes exactly the kind's declared
// outputs, converting each to its declared type.
func checkOutputs(k stages.Kind, res *stages.Result) (*stages.Result, error) {
	if res == nil {
		res = &stages.Result{}
	}
	decl := k.Outputs()
	out := make(map[string]cty.Value, len(decl))
	var missing []string
	for name, ty := range decl {
		v, ok := res.Outputs[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		c, err := convert.Convert(v, ty)
		if err != nil {
			return nil, fmt.Errorf("kind %s: output %q: %w", k.Name(), name, err)
		}
		out[name] = c
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("kind %s did not publish outputs %s", k.Name(), strings.Join(sortedUnique(missing), ", "))
	}
	for name := range res.Outputs {
		if _, ok := decl[name]; !ok {
			return nil, fmt.Errorf("kind %s published undeclared output %q", k.Name(), name)
		}
	}
	return &stages.Result{Outputs: out, Metrics: res.Metrics}, nil
}

// outputDigests hashes every declared output of n after success; a missing
// output is an error.
func (r *Runner) outputDigests(n *node) (map[string]string, error) {
	if len(n.fp.Outputs) == 0 {
		return nil, nil
	}
	files := make(map[string]string, len(n.fp.Outputs))
	for _, p := range n.fp.Outputs {
		d, err := r.store.Digest(p)
		if err != nil {
			return nil, fmt.Errorf("declared output %s: %w", rel(p, n.stage.Workdir), err)
		}
		files[p] = d
	}
	return files, nil
}
