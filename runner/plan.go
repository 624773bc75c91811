package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Action is what a plan decides for a stage.
type Action string

// Plan actions.
const (
	// ActionRun: the stage runs.
	ActionRun Action = "run"
	// ActionSkip: the stage is up to date, or not selected.
	ActionSkip Action = "skip"
	// ActionDisabled: `enabled = false`; it does not run and does not block
	// its downstream (its outputs are null).
	ActionDisabled Action = "disabled"
	// ActionBlocked: an upstream stage failed, or is not selected and never
	// succeeded.
	ActionBlocked Action = "blocked"
)

// Result is what happened to (or, in a plan, what will happen to) one
// stage.
type Result struct {
	// Stage is the stage name.
	Stage string `json:"stage"`
	// Action is run, skip, disabled or blocked.
	Action Action `json:"action"`
	// Reason says why: "never ran", "previously failed", "interrupted",
	// "config changed (config.epochs)", "input changed (data.csv)",
	// "upstream changed (prep)", "output missing (out.txt)", "forced",
	// "up to date", "not selected", ...
	Reason string `json:"reason"`
	// Fingerprint is the stage's fingerprint when it could be computed.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Status is the outcome after a run: succeeded, failed, cancelled,
	// skipped, disabled, blocked or "not run" (stopped after a failure).
	// Empty in a plan.
	Status string `json:"status,omitempty"`
	// Attempts is how many attempts ran; Duration their total time.
	Attempts int           `json:"attempts,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"`
	// Error is the last attempt's error.
	Error string `json:"error,omitempty"`
}

// node is one stage during a plan or run.
type node struct {
	name string
	idx  int
	deps []int
	succ []int

	selected bool
	forced   bool

	// Filled by decide.
	res    Result
	stage  *Stage
	fp     *fingerprint
	value  cty.Value      // what downstream stages see
	up     upstreamResult // what enters downstream fingerprints
	usable bool           // downstream may use value/up
	// willRun: a plan decided to run it (its outputs are unknown).
	willRun bool

	// latest is the stage's latest recorded attempt, read ahead by
	// prefetch (fetched says it was).
	latest    *Attempt
	latestErr error
	fetched   bool
}

// prefetch reads every stage's latest attempt ahead of the decisions (which
// run in dependency order, while these reads do not depend on each other):
// in one read transaction when the store can (BatchStore), else with a few
// goroutines.
func (r *Runner) prefetch(nodes []*node) {
	if len(nodes) < 64 {
		return
	}
	if b, ok := r.store.(BatchStore); ok {
		names := make([]string, len(nodes))
		for i, n := range nodes {
			names[i] = n.name
		}
		_ = b.WarmDigests() // without it each Digest reads the cache itself
		all, err := b.LatestAll(names)
		if err != nil || len(all) != len(nodes) {
			return // each decision reads its own attempt and reports the error
		}
		for i, n := range nodes {
			n.latest, n.fetched = all[i], true
		}
		return
	}
	workers := min(runtime.GOMAXPROCS(0), 8)
	if workers < 2 {
		return
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(nodes); i += workers {
				n := nodes[i]
				n.latest, n.latestErr = r.store.Latest(n.name)
				n.fetched = true
			}
		}()
	}
	wg.Wait()
}

// graph builds the nodes of p with the selection and forcing of opts.
func (r *Runner) graph() ([]*node, error) {
	order := r.p.Order()
	idx := make(map[string]int, len(order))
	nodes := make([]*node, len(order))
	for i, name := range order {
		idx[name] = i
		nodes[i] = &node{name: name, idx: i, selected: true}
	}
	for i, name := range order {
		for _, d := range r.p.Deps(name) {
			j, ok := idx[d]
			if !ok {
				return nil, fmt.Errorf("stage %s depends on unknown stage %s", name, d)
			}
			nodes[i].deps = append(nodes[i].deps, j)
			nodes[j].succ = append(nodes[j].succ, i)
		}
	}
	lookup := func(flag, name string) (*node, error) {
		j, ok := idx[name]
		if !ok {
			return nil, fmt.Errorf("%s: no stage named %q%s", flag, name, suggest(name, order))
		}
		return nodes[j], nil
	}
	if len(r.opts.Only) > 0 || r.opts.From != "" {
		for _, n := range nodes {
			n.selected = false
		}
	}
	for _, s := range r.opts.Only {
		n, err := lookup("--only", s)
		if err != nil {
			return nil, err
		}
		n.selected = true
	}
	if r.opts.From != "" {
		n, err := lookup("--from", r.opts.From)
		if err != nil {
			return nil, err
		}
		// n and its descendants, all forced. Nodes are in topological
		// order, so one forward pass finds the descendants.
		mark := make([]bool, len(nodes))
		mark[n.idx] = true
		for _, m := range nodes[n.idx:] {
			if !mark[m.idx] {
				continue
			}
			m.selected, m.forced = true, true
			for _, s := range m.succ {
				mark[s] = true
			}
		}
	}
	for _, s := range r.opts.Force {
		n, err := lookup("--force", s)
		if err != nil {
			return nil, err
		}
		n.forced = true
	}
	if r.opts.ForceAll {
		for _, n := range nodes {
			n.forced = true
		}
	}
	return nodes, nil
}

// suggest returns " (did you mean X?)" for the closest name, or "".
func suggest(name string, names []string) string {
	best, bestD := "", max(1, len(name)/3)+1
	for _, n := range names {
		if d := editDistance(name, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// decide resolves n and decides its action, given that every dependency
// has been decided (plan) or has finished (run). It fills n.res, n.stage,
// n.fp, n.value, n.up and n.usable. A non-nil error is a pipeline error
// (a stage that does not resolve, an unreadable input).
func (r *Runner) decide(nodes []*node, n *node, plan bool) error {
	n.res = Result{Stage: n.name}
	upVals := make(map[string]cty.Value, len(n.deps))
	ups := make(map[string]upstreamResult, len(n.deps))
	var pending, blocked []string
	for _, j := range n.deps {
		d := nodes[j]
		if !d.usable {
			blocked = append(blocked, d.name)
			continue
		}
		upVals[d.name] = d.value
		ups[d.name] = d.up
		if d.willRun {
			pending = append(pending, d.name)
		}
	}
	if len(blocked) > 0 && n.selected {
		n.res.Action = ActionBlocked
		n.res.Reason = "upstream " + listNames(blocked) + " did not succeed"
		return nil
	}
	st, err := r.p.Resolve(n.name, upVals)
	if err != nil {
		return err
	}
	n.stage = st
	if !st.Enabled {
		n.res.Action, n.res.Reason = ActionDisabled, "disabled"
		nulls := make(map[string]cty.Value)
		for k, ty := range st.Kind.Outputs() {
			nulls[k] = cty.NullVal(ty)
		}
		n.value = st.Value(nulls)
		n.up = upstreamResult{Disabled: true}
		n.usable = true
		return nil
	}
	if !n.selected {
		last, err := r.store.LastSuccess(n.name)
		if err != nil {
			return fmt.Errorf("stage %s: %w", n.name, err)
		}
		n.res.Action = ActionSkip
		if last == nil {
			n.res.Reason = "not selected (never succeeded)"
			return nil
		}
		n.res.Reason = "not selected"
		return r.useRecord(n, st, last)
	}
	if len(pending) > 0 && plan {
		n.res.Action = ActionRun
		if n.forced {
			n.res.Reason = "forced"
		} else {
			n.res.Reason = "upstream changed (" + listNames(pending) + " will run)"
		}
		n.willRun, n.usable = true, true
		n.value = st.Value(nil)
		return nil
	}
	if len(st.Unknown) > 0 {
		return fmt.Errorf("stage %s: attributes %s are unknown after its upstream stages ran", n.name, strings.Join(st.Unknown, ", "))
	}
	fp, err := computeFingerprint(st, ups, r.digest)
	if err != nil {
		return fmt.Errorf("stage %s: %w", n.name, err)
	}
	n.fp = fp
	n.res.Fingerprint = fp.Sum
	run := func(reason string) error {
		n.res.Action, n.res.Reason = ActionRun, reason
		n.willRun, n.usable = true, plan
		n.value = st.Value(nil)
		return nil
	}
	if n.forced {
		return run("forced")
	}
	last, err := n.latest, n.latestErr
	if !n.fetched {
		last, err = r.store.Latest(n.name)
	}
	if err != nil {
		return fmt.Errorf("stage %s: %w", n.name, err)
	}
	switch {
	case last == nil:
		return run("never ran")
	case last.Status == StatusRunning || last.Status == "interrupted":
		return run("interrupted")
	case last.Status == StatusFailed:
		return run("previously failed")
	case last.Status == StatusCancelled:
		return run("cancelled")
	case last.Status != StatusSucceeded:
		return run("last attempt " + string(last.Status))
	case last.Fingerprint != fp.Sum:
		old := last.Keys
		if old == nil {
			if old, err = r.store.Keys(last.Fingerprint); err != nil {
				return fmt.Errorf("stage %s: %w", n.name, err)
			}
		}
		return run(diffReason(old, fp.Keys, st.Workdir))
	}
	for _, p := range fp.Outputs {
		want, ok := last.Files[p]
		if !ok {
			return run("output not recorded (" + rel(p, st.Workdir) + ")")
		}
		got, err := r.digest(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return run("output missing (" + rel(p, st.Workdir) + ")")
		case err != nil:
			return fmt.Errorf("stage %s: hash output %s: %w", n.name, p, err)
		case got != want:
			return run("output changed (" + rel(p, st.Workdir) + ")")
		}
	}
	n.res.Action, n.res.Reason = ActionSkip, "up to date"
	return r.useRecord(n, st, last)
}

// digestOf is a remembered Digest result.
type digestOf struct {
	sum string
	err error
}

// digest is the store's Digest for decide, remembered per path while no
// stage has started in this process: in a plan, and in a run until the
// first stage runs (a running stage may change any file). A chain's plan
// thus stats each file once, although it is one stage's output and the
// next one's input. Called from the scheduler goroutine only.
func (r *Runner) digest(path string) (string, error) {
	if r.started {
		return r.store.Digest(path)
	}
	if d, ok := r.digests[path]; ok {
		return d.sum, d.err
	}
	var sum string
	var err error
	if gs, ok := r.store.(GenerationStore); ok && r.rec != nil {
		missing := false
		sum, err = gs.DigestSeen(path, func(p string, follow bool, fi fs.FileInfo) {
			missing = missing || p == path && follow && fi == nil
			r.rec.seen(p, follow, fi)
		})
		if err != nil && !missing && r.rec.fail == "" {
			// It rests on more than stats (a tree changing while read).
			r.rec.fail = "digest of " + path + " failed"
		}
	} else {
		sum, err = r.store.Digest(path)
	}
	if r.digests == nil {
		r.digests = make(map[string]digestOf)
	}
	r.digests[path] = digestOf{sum, err}
	return sum, err
}

// useRecord makes n's published outputs those of a recorded success.
func (r *Runner) useRecord(n *node, st *Stage, last *Attempt) error {
	outs, err := unmarshalOutputs(last.Outputs)
	if err != nil {
		return fmt.Errorf("stage %s, run %s attempt %d: %w", n.name, last.RunID, last.Attempt, err)
	}
	n.value = st.Value(outs)
	n.up = upstreamResult{Fingerprint: last.Fingerprint, Outputs: last.Outputs}
	n.usable = true
	if n.res.Fingerprint == "" {
		n.res.Fingerprint = last.Fingerprint
	}
	return nil
}

// Plan decides every stage without running any. Stages downstream of one
// that will run are reported as running too ("upstream changed"): their
// inputs are not known yet. During a run the decision is made again once
// the upstream stages finished, so a stage whose upstream reran without
// changing what it produced is skipped.
func (r *Runner) Plan() ([]Result, error) {
	r.started, r.digests = false, nil
	if res, ok := r.fromSnapshot(false); ok {
		return res, nil
	}
	nodes, err := r.graph()
	if err != nil {
		return nil, err
	}
	r.startRecording()
	r.prefetch(nodes)
	out := make([]Result, len(nodes))
	var errs []error
	for i, n := range nodes {
		if err := r.decide(nodes, n, true); err != nil {
			errs = append(errs, err)
			n.res.Action, n.res.Reason = ActionBlocked, "does not resolve"
		}
		out[i] = n.res
	}
	if len(errs) == 0 {
		r.saveSnapshot(out)
	}
	r.rec = nil
	return out, errors.Join(errs...)
}
