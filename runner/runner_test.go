package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/stages"
)

// memStore is an in-memory Store.
type memStore struct {
	mu       sync.Mutex
	attempts map[string][]*Attempt
	runs     map[string]*RunRecord
	dir      string
}

func newMemStore(dir string) *memStore {
	return &memStore{attempts: map[string][]*Attempt{}, runs: map[string]*RunRecord{}, dir: dir}
}

func (m *memStore) Latest(stage string) (*Attempt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	as := m.attempts[stage]
	if len(as) == 0 {
		return nil, nil
	}
	a := *as[len(as)-1]
	return &a, nil
}

func (m *memStore) LastSuccess(stage string) (*Attempt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	as := m.attempts[stage]
	for i := len(as) - 1; i >= 0; i-- {
		if as[i].Status == StatusSucceeded {
			a := *as[i]
			return &a, nil
		}
	}
	return nil, nil
}

func (m *memStore) PutAttempt(a *Attempt) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *a
	as := m.attempts[a.Stage]
	if n := len(as); n > 0 && as[n-1].RunID == a.RunID && as[n-1].Attempt == a.Attempt {
		as[n-1] = &c
		return nil
	}
	m.attempts[a.Stage] = append(as, &c)
	return nil
}

func (m *memStore) Keys(fp string) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, as := range m.attempts {
		for _, a := range as {
			if a.Fingerprint == fp {
				return a.Keys, nil
			}
		}
	}
	return nil, nil
}

func (m *memStore) PutRun(r *RunRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := *r
	m.runs[r.ID] = &c
	return nil
}

func (m *memStore) LogPath(runID, stage string, attempt int) string {
	return filepath.Join(m.dir, "logs", runID, fmt.Sprintf("%s.%d.log", stage, attempt))
}

func (m *memStore) Digest(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// fakeKind runs a Go function.
type fakeKind struct {
	outputs map[string]cty.Type
	run     func(ctx context.Context, r *stages.Run) (*stages.Result, error)
}

func (k *fakeKind) Name() string                 { return "fake" }
func (k *fakeKind) Version() string              { return "1" }
func (k *fakeKind) ConfigSpec() hcldec.Spec      { return nil }
func (k *fakeKind) Outputs() map[string]cty.Type { return k.outputs }
func (k *fakeKind) Paths(cty.Value, string) (stages.Paths, error) {
	return stages.Paths{}, nil
}
func (k *fakeKind) Run(ctx context.Context, r *stages.Run) (*stages.Result, error) {
	return k.run(ctx, r)
}

// fakeStage describes one stage of a fakePipeline.
type fakeStage struct {
	name    string
	deps    []string
	command string // enters the fingerprint
	enabled *bool
	retries int
	delay   time.Duration
	timeout time.Duration
	outputs []string
	inputs  []string
	run     func(ctx context.Context, r *stages.Run, up map[string]cty.Value) (*stages.Result, error)
	publish map[string]cty.Type
}

// fakePipeline is a Pipeline over fakeStages; every stage's value is an
// object of its published outputs.
type fakePipeline struct {
	stages []*fakeStage
	byName map[string]*fakeStage
	runs   sync.Map // name -> *int64 count of Run calls
}

func newFake(ss ...*fakeStage) *fakePipeline {
	p := &fakePipeline{stages: ss, byName: map[string]*fakeStage{}}
	for _, s := range ss {
		p.byName[s.name] = s
		p.runs.Store(s.name, new(int64))
	}
	return p
}

func (p *fakePipeline) count(name string) int64 {
	v, _ := p.runs.Load(name)
	return atomic.LoadInt64(v.(*int64))
}

func (p *fakePipeline) Order() []string {
	var out []string
	for _, s := range p.stages {
		out = append(out, s.name)
	}
	return out
}

func (p *fakePipeline) Deps(name string) []string { return p.byName[name].deps }

func (p *fakePipeline) Resolve(name string, up map[string]cty.Value) (*Stage, error) {
	fs := p.byName[name]
	k := &fakeKind{outputs: fs.publish, run: func(ctx context.Context, r *stages.Run) (*stages.Result, error) {
		v, _ := p.runs.Load(name)
		atomic.AddInt64(v.(*int64), 1)
		if fs.run == nil {
			return &stages.Result{}, nil
		}
		return fs.run(ctx, r, up)
	}}
	st := &Stage{
		Name: name, Kind: k, Shell: fs.command, Workdir: "/", Enabled: fs.enabled == nil || *fs.enabled,
		Retries: fs.retries, RetryDelay: fs.delay, Timeout: fs.timeout,
		Outputs: fs.outputs, Inputs: fs.inputs,
		Value: func(outs map[string]cty.Value) cty.Value {
			obj := map[string]cty.Value{"name": cty.StringVal(name)}
			for k, ty := range fs.publish {
				if v, ok := outs[k]; ok {
					obj[k] = v
				} else {
					obj[k] = cty.UnknownVal(ty)
				}
			}
			return cty.ObjectVal(obj)
		},
	}
	for _, d := range fs.deps {
		if v, ok := up[d]; ok && !v.IsWhollyKnown() {
			st.Unknown = append(st.Unknown, "command")
		}
	}
	return st, nil
}

func testRunner(t *testing.T, p Pipeline, store Store, opts Options) *Runner {
	t.Helper()
	if opts.StateDir == "" {
		opts.StateDir = t.TempDir()
	}
	if opts.RunID == "" {
		opts.RunID = fmt.Sprintf("run-%d", time.Now().UnixNano())
	}
	if opts.Parallel == 0 {
		opts.Parallel = 4
	}
	return New(p, store, opts)
}

func runOnce(t *testing.T, p Pipeline, store Store, opts Options) *Report {
	t.Helper()
	rep, err := testRunner(t, p, store, opts).Run(context.Background())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return rep
}

func statuses(rep *Report) string {
	var b []string
	for _, r := range rep.Results {
		b = append(b, r.Stage+"="+r.Status)
	}
	return strings.Join(b, " ")
}

func planOf(t *testing.T, p Pipeline, store Store, opts Options) string {
	t.Helper()
	res, err := testRunner(t, p, store, opts).Plan()
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	var b []string
	for _, r := range res {
		b = append(b, fmt.Sprintf("%s=%s(%s)", r.Stage, r.Action, r.Reason))
	}
	return strings.Join(b, " ")
}

func diamond() *fakePipeline {
	str := map[string]cty.Type{"v": cty.String}
	pub := func(s string) func(context.Context, *stages.Run, map[string]cty.Value) (*stages.Result, error) {
		return func(_ context.Context, _ *stages.Run, up map[string]cty.Value) (*stages.Result, error) {
			v := s
			for _, d := range []string{"a", "b", "c"} {
				if u, ok := up[d]; ok {
					v += "+" + u.GetAttr("v").AsString()
				}
			}
			return &stages.Result{Outputs: map[string]cty.Value{"v": cty.StringVal(v)}}, nil
		}
	}
	return newFake(
		&fakeStage{name: "a", command: "a", publish: str, run: pub("a")},
		&fakeStage{name: "b", deps: []string{"a"}, command: "b", publish: str, run: pub("b")},
		&fakeStage{name: "c", deps: []string{"a"}, command: "c", publish: str, run: pub("c")},
		&fakeStage{name: "d", deps: []string{"b", "c"}, command: "d", publish: str, run: pub("d")},
	)
}

func TestDiamondRunsThenSkips(t *testing.T) {
	t.Parallel()
	store := newMemStore(t.TempDir())
	p := diamond()
	if got, want := planOf(t, p, store, Options{}), "a=run(never ran) b=run(upstream changed (a will run)) c=run(upstream changed (a will run)) d=run(upstream changed (b, c will run))"; got != want {
		t.Errorf("plan:\n got %s\nwant %s", got, want)
	}
	rep := runOnce(t, p, store, Options{})
	if got, want := statuses(rep), "a=succeeded b=succeeded c=succeeded d=succeeded"; got != want {
		t.Fatalf("first run: %s, want %s", got, want)
	}
	last, _ := store.LastSuccess("d")
	outs, _ := unmarshalOutputs(last.Outputs)
	if got := outs["v"].AsString(); got != "d+b+a+c+a" {
		t.Errorf("d published %q", got)
	}
	if got, want := planOf(t, p, store, Options{}), "a=skip(up to date) b=skip(up to date) c=skip(up to date) d=skip(up to date)"; got != want {
		t.Errorf("plan after run:\n got %s\nwant %s", got, want)
	}
	rep = runOnce(t, p, store, Options{})
	if got, want := statuses(rep), "a=skipped b=skipped c=skipped d=skipped"; got != want {
		t.Errorf("second run: %s, want %s", got, want)
	}
	for _, s := range []string{"a", "b", "c", "d"} {
		if n := p.count(s); n != 1 {
			t.Errorf("stage %s ran %d times", s, n)
		}
	}
	// A changed command reruns c and, as c's fingerprint changed, d.
	p.byName["c"].command = "c2"
	if got, want := planOf(t, p, store, Options{}), "a=skip(up to date) b=skip(up to date) c=run(config changed (command)) d=run(upstream changed (c will run))"; got != want {
		t.Errorf("plan after change:\n got %s\nwant %s", got, want)
	}
	rep = runOnce(t, p, store, Options{})
	if got, want := statuses(rep), "a=skipped b=skipped c=succeeded d=succeeded"; got != want {
		t.Errorf("run after change: %s, want %s", got, want)
	}
	// Forcing a reruns a only: its fingerprint and published outputs are
	// the same, so b and c are skipped although the plan says they run.
	// --from b reruns b and d.
	rep = runOnce(t, p, store, Options{Force: []string{"a"}})
	if got, want := statuses(rep), "a=succeeded b=skipped c=skipped d=skipped"; got != want {
		t.Errorf("--force a: %s, want %s", got, want)
	}
	rep = runOnce(t, p, store, Options{From: "b"})
	if got, want := statuses(rep), "a=skipped b=succeeded c=skipped d=succeeded"; got != want {
		t.Errorf("--from b: %s, want %s", got, want)
	}
	// d forced alone sees b's and c's published outputs from their
	// recorded attempts.
	rep = runOnce(t, p, store, Options{Force: []string{"d"}})
	if got, want := statuses(rep), "a=skipped b=skipped c=skipped d=succeeded"; got != want {
		t.Errorf("--force d: %s, want %s", got, want)
	}
	last, _ = store.LastSuccess("d")
	outs, _ = unmarshalOutputs(last.Outputs)
	if got := outs["v"].AsString(); got != "d+b+a+c+a" {
		t.Errorf("d published %q from recorded upstream outputs", got)
	}
	if got, want := planOf(t, p, store, Options{Only: []string{"d"}, ForceAll: true}), "a=skip(not selected) b=skip(not selected) c=skip(not selected) d=run(forced)"; got != want {
		t.Errorf("plan --only d --force-all:\n got %s\nwant %s", got, want)
	}
}

func TestUpstreamOutputChangeReruns(t *testing.T) {
	t.Parallel()
	store := newMemStore(t.TempDir())
	val := "x"
	str := map[string]cty.Type{"v": cty.String}
	p := newFake(
		&fakeStage{name: "a", command: "a", publish: str, run: func(context.Context, *stages.Run, map[string]cty.Value) (*stages.Result, error) {
			return &stages.Result{Outputs: map[string]cty.Value{"v": cty.StringVal(val)}}, nil
		}},
		&fakeStage{name: "b", deps: []string{"a"}},
	)
	runOnce(t, p, store, Options{})
	val = "y"
	rep := runOnce(t, p, store, Options{Force: []string{"a"}})
	if got, want := statuses(rep), "a=succeeded b=succeeded"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	if r := rep.Results[1]; r.Reason != "upstream changed (a)" {
		t.Errorf("b reason %q", r.Reason)
	}
}

func TestFailureBlocksAndResumes(t *testing.T) {
	t.Parallel()
	for _, keepGoing := range []bool{false, true} {
		store := newMemStore(t.TempDir())
		fail := true
		p := newFake(
			&fakeStage{name: "a"},
			&fakeStage{name: "bad", deps: []string{"a"}, run: func(context.Context, *stages.Run, map[string]cty.Value) (*stages.Result, error) {
				if fail {
					return nil, errors.New("boom")
				}
				return &stages.Result{}, nil
			}},
			&fakeStage{name: "after", deps: []string{"bad"}},
			&fakeStage{name: "other", deps: []string{"a"}, run: func(context.Context, *stages.Run, map[string]cty.Value) (*stages.Result, error) {
				time.Sleep(20 * time.Millisecond)
				return &stages.Result{}, nil
			}},
			&fakeStage{name: "late", deps: []string{"other"}},
		)
		rep := runOnce(t, p, store, Options{KeepGoing: keepGoing, Parallel: 2})
		want := "a=succeeded bad=failed after=blocked other=succeeded late=not run"
		if keepGoing {
			want = "a=succeeded bad=failed after=blocked other=succeeded late=succeeded"
		}
		if got := statuses(rep); got != want || !rep.Failed {
			t.Errorf("keep-going=%v: %s (failed %v), want %s", keepGoing, got, rep.Failed, want)
		}
		if !strings.Contains(rep.Results[1].Error, "boom") {
			t.Errorf("error %q", rep.Results[1].Error)
		}
		fail = false
		got := planOf(t, p, store, Options{})
		wantPlan := "a=skip(up to date) bad=run(previously failed) after=run(upstream changed (bad will run)) other=skip(up to date) late=run(never ran)"
		if keepGoing {
			wantPlan = strings.Replace(wantPlan, "late=run(never ran)", "late=skip(up to date)", 1)
		}
		if got != wantPlan {
			t.Errorf("plan after failure:\n got %s\nwant %s", got, wantPlan)
		}
		rep = runOnce(t, p, store, Options{})
		if rep.Failed {
			t.Errorf("resume failed: %s", statuses(rep))
		}
		if n := p.count("a"); n != 1 {
			t.Errorf("a ran %d times", n)
		}
	}
}

func TestRetriesAndTimeout(t *testing.T) {
	t.Parallel()
	store := newMemStore(t.TempDir())
	var calls int
	p := newFake(
		&fakeStage{name: "flaky", retries: 2, delay: 10 * time.Millisecond, run: func(context.Context, *stages.Run, map[string]cty.Value) (*stages.Result, error) {
			calls++
			if calls < 3 {
				return nil, errors.New("flake")
			}
			return &stages.Result{}, nil
		}},
		&fakeStage{name: "slow", timeout: 30 * time.Millisecond, retries: 1, run: func(ctx context.Context, _ *stages.Run, _ map[string]cty.Value) (*stages.Result, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}},
	)
	start := time.Now()
	rep := runOnce(t, p, store, Options{KeepGoing: true})
	if got, want := statuses(rep), "flaky=succeeded slow=failed"; got != want {
		t.Fatalf("%s, want %s", got, want)
	}
	if rep.Results[0].Attempts != 3 || rep.Results[1].Attempts != 2 {
		t.Errorf("attempts %d, %d", rep.Results[0].Attempts, rep.Results[1].Attempts)
	}
	if !strings.Contains(rep.Results[1].Error, "timed out after 30ms") {
		t.Errorf("timeout error %q", rep.Results[1].Error)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("retry delay not honoured: %v", d)
	}
	if rep.Cancelled {
		t.Error("a timeout is not a cancellation")
	}
}

func TestDisabledDoesNotBlock(t *testing.T) {
	t.Parallel()
	store := newMemStore(t.TempDir())
	off := false
	var seen cty.Value
	p := newFake(
		&fakeStage{name: "off", enabled: &off, publish: map[string]cty.Type{"v": cty.String}},
		&fakeStage{name: "down", deps: []string{"off"}, run: func(_ context.Context, _ *stages.Run, up map[string]cty.Value) (*stages.Result, error) {
			seen = up["off"].GetAttr("v")
			return &stages.Result{}, nil
		}},
	)
	if got, want := planOf(t, p, store, Options{}), "off=disabled(disabled) down=run(never ran)"; got != want {
		t.Errorf("plan %s, want %s", got, want)
	}
	rep := runOnce(t, p, store, Options{})
	if got, want := statuses(rep), "off=disabled down=succeeded"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	if !seen.IsNull() {
		t.Errorf("downstream saw %#v, want null", seen)
	}
}

func TestCancelRecordsCancelled(t *testing.T) {
	t.Parallel()
	store := newMemStore(t.TempDir())
	started := make(chan struct{})
	p := newFake(
		&fakeStage{name: "long", run: func(ctx context.Context, _ *stages.Run, _ map[string]cty.Value) (*stages.Result, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		}},
		&fakeStage{name: "next", deps: []string{"long"}},
	)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	rep, err := testRunner(t, p, store, Options{}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := statuses(rep), "long=cancelled next=not run"; got != want || !rep.Cancelled {
		t.Errorf("%s (cancelled %v), want %s", got, rep.Cancelled, want)
	}
	if a, _ := store.Latest("long"); a == nil || a.Status != StatusCancelled {
		t.Errorf("recorded %+v", a)
	}
	if got := planOf(t, p, store, Options{}); !strings.HasPrefix(got, "long=run(cancelled)") {
		t.Errorf("plan %s", got)
	}
}

func TestInterruptedAndOutputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store := newMemStore(dir)
	out := filepath.Join(dir, "out.txt")
	p := newFake(&fakeStage{name: "w", outputs: []string{out}, run: func(_ context.Context, r *stages.Run, _ map[string]cty.Value) (*stages.Result, error) {
		fmt.Fprintln(r.Stdout, "writing")
		return &stages.Result{}, os.WriteFile(out, []byte("hi"), 0o644)
	}})
	rep := runOnce(t, p, store, Options{RunID: "r1"})
	if statuses(rep) != "w=succeeded" {
		t.Fatal(statuses(rep))
	}
	if b, err := os.ReadFile(store.LogPath("r1", "w", 1)); err != nil || string(b) != "writing\n" {
		t.Errorf("log %q, %v", b, err)
	}
	os.WriteFile(out, []byte("changed"), 0o644)
	if got := planOf(t, p, store, Options{}); got != "w=run(output changed ("+out[1:]+"))" {
		t.Errorf("plan %s", got)
	}
	os.Remove(out)
	if got := planOf(t, p, store, Options{}); got != "w=run(output missing ("+out[1:]+"))" {
		t.Errorf("plan %s", got)
	}
	store.PutAttempt(&Attempt{RunID: "r2", Stage: "w", Attempt: 1, Status: StatusRunning})
	if got := planOf(t, p, store, Options{}); got != "w=run(interrupted)" {
		t.Errorf("plan %s", got)
	}
}

func TestSelectionErrors(t *testing.T) {
	t.Parallel()
	store := newMemStore(t.TempDir())
	for _, o := range []Options{{Only: []string{"dd"}}, {From: "x"}, {Force: []string{"e"}}} {
		_, err := testRunner(t, diamond(), store, o).Plan()
		if err == nil || !strings.Contains(err.Error(), "no stage named") {
			t.Errorf("%+v: %v", o, err)
		}
	}
	_, err := testRunner(t, diamond(), store, Options{Only: []string{"dd"}}).Plan()
	if !strings.Contains(err.Error(), `did you mean "d"`) {
		t.Errorf("no suggestion: %v", err)
	}
	// --only a stage whose upstream never succeeded blocks it.
	if got, want := planOf(t, diamond(), store, Options{Only: []string{"b"}}), "a=skip(not selected (never succeeded)) b=blocked(upstream a did not succeed) c=skip(not selected (never succeeded)) d=skip(not selected (never succeeded))"; got != want {
		t.Errorf("plan:\n got %s\nwant %s", got, want)
	}
}

func TestParallelLimit(t *testing.T) {
	t.Parallel()
	var cur, peak int64
	work := func(context.Context, *stages.Run, map[string]cty.Value) (*stages.Result, error) {
		c := atomic.AddInt64(&cur, 1)
		for {
			p := atomic.LoadInt64(&peak)
			if c <= p || atomic.CompareAndSwapInt64(&peak, p, c) {
				break
			}
		}
		// Hold the slot until three stages overlap (or long enough for a
		// loaded machine to start them).
		for i := 0; i < 100 && atomic.LoadInt64(&peak) < 3; i++ {
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(time.Millisecond)
		atomic.AddInt64(&cur, -1)
		return &stages.Result{}, nil
	}
	var ss []*fakeStage
	for i := range 12 {
		ss = append(ss, &fakeStage{name: fmt.Sprint("s", i), run: work})
	}
	runOnce(t, newFake(ss...), newMemStore(t.TempDir()), Options{Parallel: 3})
	if peak != 3 {
		t.Errorf("peak parallelism %d, want 3", peak)
	}
}
