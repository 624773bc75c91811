package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/charmbracelet/log"
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pipeml/pipe/runner"
)

// runFlags are the flags of run and plan.
type runFlags struct {
	pipelineFlags
	only      []string
	from      string
	force     []string
	forceAll  bool
	parallel  int
	keepGoing bool
	dryRun    bool
	json      bool
	fsync     bool
}

func (f *runFlags) register(cmd *cobra.Command, run bool) {
	f.pipelineFlags.register(cmd)
	fl := cmd.Flags()
	fl.StringSliceVar(&f.only, "only", nil, "run only these stages (comma-separated or repeated), not their dependencies")
	fl.StringVar(&f.from, "from", "", "run this stage and everything downstream of it, all forced")
	fl.StringSliceVar(&f.force, "force", nil, "run these stages even when up to date")
	fl.BoolVar(&f.forceAll, "force-all", false, "run every stage even when up to date")
	fl.BoolVar(&f.json, "json", false, "print the plan as JSON (plan and run --dry-run)")
	if run {
		fl.IntVarP(&f.parallel, "parallel", "j", 0, "most stages running at once (default: pipeline.max_parallel, else the number of CPUs)")
		fl.BoolVar(&f.keepGoing, "keep-going", false, "after a failure keep running stages that do not depend on it")
		fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan and run nothing (same as pipe plan)")
		fl.BoolVar(&f.fsync, "fsync", false, "fsync the state after every finished stage, before its downstream stages start (survives power loss; costs a few ms per stage)")
	}
}

func newRunCmd(g *globals) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [FILE]",
		Short: "Run the stages of a pipeline that are not up to date",
		Long: `Run a pipeline: every stage whose fingerprint (kind and version, config,
command, env, input contents, upstream stages) differs from its last
successful run, or whose outputs are missing or changed, runs; the others
are skipped. Stages run in dependency order, up to --parallel at once. After
a failure no new stages start (running ones finish) unless --keep-going;
stages downstream of a failure are blocked. Ctrl-C cancels the running
stages (SIGTERM, then SIGKILL after a grace period) and records them as
cancelled; the next run resumes. Each attempt's output goes to
<state>/logs/<run>/<stage>.<attempt>.log and to the terminal. FILE defaults
to pipeline.hcl. Exit status: 0 all stages succeeded or were up to date, 1 a
stage failed or the run was cancelled, 2 a usage or pipeline error.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.dryRun {
				return planCmd(cmd, g, &f, args)
			}
			return runCmd(cmd, g, &f, args)
		},
	}
	f.register(cmd, true)
	return cmd
}

func newPlanCmd(g *globals) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "plan [FILE]",
		Short: "Print what pipe run would do, and why, without running anything",
		Long: `Print, for every stage, whether pipe run would run it or skip it, and
why: never ran, previously failed, interrupted, cancelled, config changed
(which keys), input changed (which file), upstream changed, output
missing/changed, forced, up to date, not selected, disabled. A stage
downstream of one that runs is shown as running ("upstream changed (X will
run)"); during the run it is skipped after all if X's fingerprint and
published outputs come out the same. --json prints a list of objects
{"stage", "action", "reason", "fingerprint"}; action is run, skip, disabled
or blocked. Same as pipe run --dry-run.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return planCmd(cmd, g, &f, args)
		},
	}
	f.register(cmd, false)
	return cmd
}

// prepare loads the pipeline (through the compiled-pipeline cache) and
// opens the state for run or plan.
func prepare(g *globals, f *runFlags, args []string, lock bool) (*runner.Compiled, *stateHandle, error) {
	// Planning thousands of stages allocates many small short-lived
	// objects; collecting less often halves the time spent in the GC.
	debug.SetGCPercent(400)
	path := pipelineFile(args)
	// A run opens the state (lock, page check, free list: several ms for
	// a big database) while the pipeline loads; errors are reported in
	// the same order as before: pipeline, flags, state.
	type opened struct {
		st  *stateHandle
		err error
	}
	var stc chan opened
	if lock {
		stc = make(chan opened, 1)
		go func() {
			st, err := openState(g, lock, f.fsync)
			stc <- opened{st, err}
		}()
	}
	state := func() (*stateHandle, error) {
		if stc == nil {
			return openState(g, lock, f.fsync)
		}
		o := <-stc
		return o.st, o.err
	}
	fail := func(err error) (*runner.Compiled, *stateHandle, error) {
		if stc != nil {
			if o := <-stc; o.st != nil {
				o.st.Close()
			}
		}
		return nil, nil, err
	}
	p, err := openPipeline(g, path, &f.pipelineFlags)
	if err != nil {
		return fail(err)
	}
	if f.parallel < 0 {
		return fail(usageErr(fmt.Errorf("--parallel must be at least 1, not %d", f.parallel)))
	}
	if f.from != "" && len(f.only) > 0 {
		return fail(usageErr(errors.New("--from and --only cannot be combined")))
	}
	st, err := state()
	if err != nil {
		return nil, nil, err
	}
	return p, st, nil
}

func runnerOptions(g *globals, f *runFlags, p *runner.Compiled, args []string) runner.Options {
	par := f.parallel
	if par == 0 {
		par = p.MaxParallel()
	}
	if par == 0 {
		par = runtime.NumCPU()
	}
	return runner.Options{
		Only: f.only, From: f.from, Force: f.force, ForceAll: f.forceAll,
		Parallel: par, KeepGoing: f.keepGoing, StateDir: g.stateDir,
		Pipeline: p.Path(), Args: args, Decisions: decisionsFile(g, args),
	}
}

func planCmd(cmd *cobra.Command, g *globals, f *runFlags, args []string) error {
	p, st, err := prepare(g, f, args, false)
	if err != nil {
		return err
	}
	defer st.Close()
	r := runner.New(p, st.store, runnerOptions(g, f, p, args))
	results, err := r.Plan()
	logDecisions(g, r)
	if err != nil {
		return pipelineErr(g, err)
	}
	saveCompiled(g, p)
	if f.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		if results == nil {
			results = []runner.Result{}
		}
		return enc.Encode(results)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	counts := map[runner.Action]int{}
	for _, r := range results {
		counts[r.Action]++
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Stage, r.Action, r.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "\nPlan: %d to run, %d to skip", counts[runner.ActionRun], counts[runner.ActionSkip])
	if n := counts[runner.ActionDisabled]; n > 0 {
		fmt.Fprintf(g.stdout, ", %d disabled", n)
	}
	if n := counts[runner.ActionBlocked]; n > 0 {
		fmt.Fprintf(g.stdout, ", %d blocked", n)
	}
	fmt.Fprintln(g.stdout, ".")
	return nil
}

// pipelineErr reports a plan or run error: diagnostics with their source
// lines, anything else as a usage or pipeline error.
func pipelineErr(g *globals, err error) error {
	var diags hcl.Diagnostics
	if errors.As(err, &diags) {
		if rerr := reportDiags(g, diags); rerr != nil {
			return rerr
		}
	}
	return usageErr(err)
}

func runCmd(cmd *cobra.Command, g *globals, f *runFlags, args []string) error {
	p, st, err := prepare(g, f, args, true)
	if err != nil {
		return err
	}
	defer st.Close()
	tty := false
	if fd, ok := g.stderr.(interface{ Fd() uintptr }); ok {
		tty = term.IsTerminal(int(fd.Fd()))
	}
	disp := runner.NewDisplay(g.stderr, tty, 0)
	logger, err := newLogger(g, disp)
	if err != nil {
		return usageErr(err)
	}
	opts := runnerOptions(g, f, p, args)
	opts.RunID = newRunID()
	opts.Log = logger
	opts.Stream = true
	opts.Progress = disp
	r := runner.New(p, st.store, opts)
	start := time.Now()
	disp.Start()
	rep, err := r.Run(cmd.Context())
	disp.Stop()
	logDecisions(g, r)
	if rep == nil {
		return pipelineErr(g, err)
	}
	if err == nil {
		saveCompiled(g, p)
	}
	counts := map[string]int{}
	for _, res := range rep.Results {
		counts[res.Status]++
	}
	var parts []string
	for _, s := range []string{"succeeded", "skipped", "disabled", "failed", "cancelled", "blocked", "not run"} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	for _, res := range rep.Results {
		switch {
		case res.Status != "failed":
		case res.Attempts == 0: // it did not get as far as running
			fmt.Fprintf(g.stderr, "stage %s failed: %s\n", res.Stage, res.Error)
		default:
			fmt.Fprintf(g.stderr, "stage %s failed after %d attempt(s): %s\n  log: %s\n", res.Stage, res.Attempts, res.Error,
				st.store.LogPath(rep.RunID, res.Stage, res.Attempts))
		}
	}
	fmt.Fprintf(g.stderr, "run %s: %s in %s\n", rep.RunID, strings.Join(parts, ", "), time.Since(start).Round(time.Millisecond))
	if err != nil {
		perr := pipelineErr(g, err)
		if rep.Failed || rep.Cancelled {
			return stageErr(perr)
		}
		return perr
	}
	switch {
	case rep.Cancelled:
		return &exitError{code: 1, err: errors.New("run cancelled"), reported: false}
	case rep.Failed:
		return &exitError{code: 1, err: fmt.Errorf("%d stage(s) failed", counts["failed"]), reported: true}
	}
	return nil
}

// saveCompiled writes the compiled-pipeline cache of p when it has new
// stages, into a state directory that exists; a failure costs only speed
// and is logged at debug level.
func saveCompiled(g *globals, p *runner.Compiled) {
	if g.logLevel == "debug" {
		fmt.Fprintln(g.stderr, "compiled pipeline:", p.Status())
	}
	if _, err := os.Stat(g.stateDir); err != nil {
		return
	}
	if err := p.Save(); err != nil && g.logLevel == "debug" {
		fmt.Fprintln(g.stderr, "compiled pipeline cache:", err)
	}
}

// logDecisions prints, at debug level, what became of the decision
// snapshot.
func logDecisions(g *globals, r *runner.Runner) {
	if g.logLevel == "debug" {
		fmt.Fprintln(g.stderr, "decision snapshot:", r.DecisionStatus())
	}
}

// newLogger returns the run's logger writing to w with the global log
// flags.
func newLogger(g *globals, w *runner.Display) (*log.Logger, error) {
	lvl, err := log.ParseLevel(g.logLevel)
	if err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	l := log.NewWithOptions(w, log.Options{Level: lvl, ReportTimestamp: true, TimeFormat: "15:04:05"})
	switch g.logFormat {
	case "text":
	case "json":
		l.SetFormatter(log.JSONFormatter)
	default:
		return nil, fmt.Errorf("--log-format must be text or json, not %q", g.logFormat)
	}
	return l, nil
}

// newRunID returns a sortable run id: UTC time and 4 random hex digits.
func newRunID() string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
