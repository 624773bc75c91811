package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pipeml/pipe/state"
)

// The JSON of pipe status, runs and show (documented in README.md, "CLI
// reference: pipe status, runs, show, logs, unlock"). Fields are only ever
// added, never renamed or removed.

// runJSON is one run.
type runJSON struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end,omitzero"`
	DurationS *float64  `json:"duration_s"`
	Pipeline  string    `json:"pipeline"`
	Args      []string  `json:"args"`
}

// attemptJSON is one attempt of one stage.
type attemptJSON struct {
	Stage       string             `json:"stage"`
	Status      string             `json:"status"`
	Run         string             `json:"run"`
	Attempt     int                `json:"attempt"`
	Start       time.Time          `json:"start,omitzero"`
	End         time.Time          `json:"end,omitzero"`
	DurationS   *float64           `json:"duration_s"`
	ExitCode    *int               `json:"exit_code"`
	Fingerprint string             `json:"fingerprint"`
	Error       string             `json:"error"`
	Outputs     json.RawMessage    `json:"outputs,omitempty"`
	Files       map[string]string  `json:"files,omitempty"`
	Metrics     map[string]float64 `json:"metrics,omitempty"`
	Log         string             `json:"log"`
}

func toRunJSON(r *state.Run) *runJSON {
	if r == nil {
		return nil
	}
	j := &runJSON{ID: r.ID, Status: r.Status, Start: r.Start, End: r.End, Pipeline: r.Pipeline, Args: r.Args}
	if !r.End.IsZero() {
		d := r.End.Sub(r.Start).Seconds()
		j.DurationS = &d
	}
	if j.Args == nil {
		j.Args = []string{}
	}
	return j
}

func toAttemptJSON(dir string, a *state.Attempt, full bool) attemptJSON {
	j := attemptJSON{Stage: a.Stage, Status: a.Status, Run: a.Run, Attempt: a.Attempt, Start: a.Start, End: a.End,
		Fingerprint: a.Fingerprint, Error: a.Error, Log: state.LogPath(dir, a.Run, a.Stage, a.Attempt)}
	if !a.End.IsZero() {
		d := a.End.Sub(a.Start).Seconds()
		j.DurationS = &d
		if a.Status != state.StatusCancelled && a.Status != state.StatusInterrupted {
			code := a.ExitCode
			j.ExitCode = &code
		}
	}
	if full {
		j.Outputs, j.Files, j.Metrics = a.Outputs, a.Files, a.Metrics
	}
	return j
}

// openReadOnly opens the state for reading (no lock taken).
func openReadOnly(g *globals) (*state.DB, error) {
	db, err := state.Open(g.stateDir, state.Options{ReadOnly: true})
	if err != nil {
		return nil, usageErr(fmt.Errorf("state: %w", err))
	}
	return db, nil
}

// writeJSON prints v indented.
func writeJSON(g *globals, v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// when formats a time for tables ("-" when unknown).
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// took formats the duration from start to end ("-" while unknown).
func took(start, end time.Time) string {
	if start.IsZero() || end.IsZero() {
		return "-"
	}
	d := end.Sub(start)
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// oneLine shortens an error text to its first line.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	return s
}

// findRun resolves a run id, a unique prefix of one, or "last".
func findRun(db *state.DB, id string) (*state.Run, error) {
	runs, err := db.Runs()
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("no runs recorded in %s", db.Dir())
	}
	if id == "last" || id == "" {
		return runs[len(runs)-1], nil
	}
	var match []*state.Run
	for _, r := range runs {
		if r.ID == id {
			return r, nil
		}
		if strings.HasPrefix(r.ID, id) {
			match = append(match, r)
		}
	}
	switch len(match) {
	case 0:
		return nil, fmt.Errorf("no run %q in %s (pipe runs lists them)", id, db.Dir())
	case 1:
		return match[0], nil
	}
	ids := make([]string, len(match))
	for i, r := range match {
		ids[i] = r.ID
	}
	return nil, fmt.Errorf("run %q is ambiguous: %s", id, strings.Join(ids, ", "))
}

// latestPerStage keeps the last attempt of each stage, in order of first
// appearance.
func latestPerStage(as []*state.Attempt) []*state.Attempt {
	idx := map[string]int{}
	var out []*state.Attempt
	for _, a := range as {
		if i, ok := idx[a.Stage]; ok {
			if a.Attempt >= out[i].Attempt {
				out[i] = a
			}
			continue
		}
		idx[a.Stage] = len(out)
		out = append(out, a)
	}
	return out
}

func newStatusCmd(g *globals) *cobra.Command {
	var (
		f      pipelineFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status [FILE]",
		Short: "Show the latest state of each stage",
		Long: `Show the latest recorded state of each stage. Without FILE: the stages of
the last run (the last attempt of each in that run). With FILE: every stage
of that pipeline, in order, with its latest attempt in any run ("none" when
it never ran). Statuses: running, succeeded, failed, cancelled, interrupted
(the pipe running it was killed). --json prints {"run": RUN or null,
"stages": [ATTEMPT...]} (see README, CLI reference). Reads the state without
taking the lock; while a pipe run holds the database it waits 1 s and gives
up naming that pipe.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var order []string
			if len(args) > 0 {
				p, err := loadPipeline(g, args[0], &f)
				if err != nil {
					return err
				}
				for _, s := range p.Order {
					order = append(order, s.Name)
				}
			}
			db, err := openReadOnly(g)
			if err != nil {
				return err
			}
			defer db.Close()
			var run *state.Run
			var stages []*state.Attempt
			missing := map[string]bool{}
			if order == nil {
				runs, err := db.Runs()
				if err != nil {
					return usageErr(err)
				}
				if len(runs) == 0 {
					if asJSON {
						return writeJSON(g, map[string]any{"run": nil, "stages": []attemptJSON{}})
					}
					fmt.Fprintf(g.stdout, "no runs recorded in %s\n", g.stateDir)
					return nil
				}
				run = runs[len(runs)-1]
				as, err := db.RunAttempts(run.ID)
				if err != nil {
					return usageErr(err)
				}
				stages = latestPerStage(as)
			} else {
				latest, err := db.LatestAll(order)
				if err != nil {
					return usageErr(err)
				}
				for i, name := range order {
					a := latest[i]
					if a == nil {
						a = &state.Attempt{Stage: name, Status: "none"}
						missing[name] = true
					}
					stages = append(stages, a)
				}
			}
			if asJSON {
				out := struct {
					Run    *runJSON      `json:"run"`
					Stages []attemptJSON `json:"stages"`
				}{Run: toRunJSON(run), Stages: []attemptJSON{}}
				for _, a := range stages {
					j := toAttemptJSON(g.stateDir, a, false)
					if missing[a.Stage] {
						j.Log = ""
					}
					out.Stages = append(out.Stages, j)
				}
				return writeJSON(g, out)
			}
			if run != nil {
				fmt.Fprintf(g.stdout, "run %s: %s, started %s, took %s\n  %s\n\n", run.ID, run.Status, when(run.Start), took(run.Start, run.End), run.Pipeline)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STAGE\tSTATUS\tRUN\tATTEMPT\tFINISHED\tTOOK\tERROR")
			for _, a := range stages {
				if missing[a.Stage] {
					fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t\n", a.Stage, a.Status)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", a.Stage, a.Status, a.Run, a.Attempt, when(a.End), took(a.Start, a.End), oneLine(a.Error))
			}
			return tw.Flush()
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (stable schema, see README)")
	return cmd
}

func newRunsCmd(g *globals) *cobra.Command {
	var (
		asJSON bool
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "runs",
		Short: "List the recorded runs, newest first",
		Long: `List the recorded pipe runs, newest first: id, status (running, succeeded,
failed, cancelled, interrupted), start, duration and pipeline file.
--json prints a list of RUN objects (see README, CLI reference).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 {
				return usageErr(fmt.Errorf("--limit must be at least 0, not %d", limit))
			}
			db, err := openReadOnly(g)
			if err != nil {
				return err
			}
			defer db.Close()
			runs, err := db.Runs()
			if err != nil {
				return usageErr(err)
			}
			newest := make([]*state.Run, 0, len(runs))
			for i := len(runs) - 1; i >= 0 && (limit == 0 || len(newest) < limit); i-- {
				newest = append(newest, runs[i])
			}
			if asJSON {
				out := make([]*runJSON, len(newest))
				for i, r := range newest {
					out[i] = toRunJSON(r)
				}
				return writeJSON(g, out)
			}
			if len(newest) == 0 {
				fmt.Fprintf(g.stdout, "no runs recorded in %s\n", g.stateDir)
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tSTATUS\tSTARTED\tTOOK\tPIPELINE")
			for _, r := range newest {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Status, when(r.Start), took(r.Start, r.End), r.Pipeline)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (stable schema, see README)")
	cmd.Flags().IntVarP(&limit, "limit", "n", 0, "show at most this many runs (0: all)")
	return cmd
}

func newShowCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show RUN",
		Short: "Show the attempts of one run",
		Long: `Show every stage attempt of one run, in start order: status, attempt number,
start, duration, exit code, error and log file. RUN is a run id, a unique
prefix of one, or "last". --json prints {"run": RUN, "attempts":
[ATTEMPT...]} with the published outputs, output digests and metrics of
each attempt (see README, CLI reference).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openReadOnly(g)
			if err != nil {
				return err
			}
			defer db.Close()
			run, err := findRun(db, args[0])
			if err != nil {
				return usageErr(err)
			}
			as, err := db.RunAttempts(run.ID)
			if err != nil {
				return usageErr(err)
			}
			if asJSON {
				out := struct {
					Run      *runJSON      `json:"run"`
					Attempts []attemptJSON `json:"attempts"`
				}{Run: toRunJSON(run), Attempts: []attemptJSON{}}
				for _, a := range as {
					out.Attempts = append(out.Attempts, toAttemptJSON(g.stateDir, a, true))
				}
				return writeJSON(g, out)
			}
			fmt.Fprintf(g.stdout, "run %s: %s, started %s, took %s\n  %s %s\n\n", run.ID, run.Status, when(run.Start), took(run.Start, run.End),
				run.Pipeline, strings.Join(run.Args, " "))
			tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STAGE\tATTEMPT\tSTATUS\tSTARTED\tTOOK\tEXIT\tERROR")
			for _, a := range as {
				j := toAttemptJSON(g.stateDir, a, false)
				exit := "-"
				if j.ExitCode != nil {
					exit = fmt.Sprint(*j.ExitCode)
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", a.Stage, a.Attempt, a.Status, when(a.Start), took(a.Start, a.End), exit, oneLine(a.Error))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(as) == 0 {
				fmt.Fprintln(g.stdout, "(no stage ran)")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON (stable schema, see README)")
	return cmd
}
