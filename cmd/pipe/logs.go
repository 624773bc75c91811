package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pipeml/pipe/state"
)

func newLogsCmd(g *globals) *cobra.Command {
	var (
		runID  string
		follow bool
	)
	cmd := &cobra.Command{
		Use:   "logs STAGE",
		Short: "Print the log of a stage's latest attempt",
		Long: `Print the output (stdout and stderr) of the latest attempt of STAGE, from
<state>/logs/<run>/<stage>.<attempt>.log. Without --run: the newest run that
has a log of STAGE. --run takes a run id, a unique prefix of one, or "last".
-f follows the log while the pipe that writes it runs, moving on to the next
attempt when the stage is retried; it ends when that pipe has finished (or
on Ctrl-C). logs reads only the log files, so it works during a run.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			stage := args[0]
			run, err := logRun(g.stateDir, runID, stage)
			if err != nil {
				return usageErr(err)
			}
			n := lastLogAttempt(g.stateDir, run, stage)
			if n == 0 {
				return usageErr(fmt.Errorf("stage %s has no log in run %s (it did not get as far as running)", stage, run))
			}
			if !follow {
				return catFile(g.stdout, state.LogPath(g.stateDir, run, stage, n))
			}
			return followLog(cmd.Context(), g, run, stage, n)
		},
	}
	cmd.Flags().StringVar(&runID, "run", "", "the run whose log to print (id, unique prefix, or last; default: the newest run with a log of STAGE)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing what is appended while the run goes on")
	return cmd
}

// logRuns lists the run directories under <dir>/logs, oldest first (run
// ids sort by time).
func logRuns(dir string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(dir, "logs"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	var runs []string
	for _, e := range ents {
		if e.IsDir() {
			runs = append(runs, e.Name())
		}
	}
	sort.Strings(runs)
	return runs, nil
}

// logRun picks the run whose log of stage to show.
func logRun(dir, id, stage string) (string, error) {
	runs, err := logRuns(dir)
	if err != nil {
		return "", err
	}
	if len(runs) == 0 {
		return "", fmt.Errorf("no logs in %s", filepath.Join(dir, "logs"))
	}
	switch id {
	case "":
		for i := len(runs) - 1; i >= 0; i-- {
			if lastLogAttempt(dir, runs[i], stage) > 0 {
				return runs[i], nil
			}
		}
		return "", fmt.Errorf("no run has a log of stage %s (in %s)", stage, filepath.Join(dir, "logs"))
	case "last":
		return runs[len(runs)-1], nil
	}
	var match []string
	for _, r := range runs {
		if r == id {
			return r, nil
		}
		if strings.HasPrefix(r, id) {
			match = append(match, r)
		}
	}
	switch len(match) {
	case 0:
		return "", fmt.Errorf("no logs of run %q in %s", id, filepath.Join(dir, "logs"))
	case 1:
		return match[0], nil
	}
	return "", fmt.Errorf("run %q is ambiguous: %s", id, strings.Join(match, ", "))
}

// lastLogAttempt returns the highest attempt of stage with a log in run,
// 0 when none.
func lastLogAttempt(dir, run, stage string) int {
	base := filepath.Base(state.LogPath(dir, run, stage, 0))
	prefix := strings.TrimSuffix(base, "0.log")
	ents, err := os.ReadDir(filepath.Dir(state.LogPath(dir, run, stage, 0)))
	if err != nil {
		return 0
	}
	best := 0
	for _, e := range ents {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, ".log") {
			continue
		}
		if n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, prefix), ".log")); err == nil && n > best {
			best = n
		}
	}
	return best
}

// catFile copies the file at path to w.
func catFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return usageErr(fmt.Errorf("log: %w", err))
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("log %s: %w", path, err)
	}
	return nil
}

// followLog prints the log of attempt n of stage in run and what is
// appended to it, moving on to later attempts, until the pipe writing it
// is gone (or ctx ends).
func followLog(ctx context.Context, g *globals, run, stage string, n int) error {
	const poll = 200 * time.Millisecond
	for {
		path := state.LogPath(g.stateDir, run, stage, n)
		f, err := os.Open(path)
		if err != nil {
			return usageErr(fmt.Errorf("log: %w", err))
		}
		next := 0
		for next == 0 {
			if _, err := io.Copy(g.stdout, f); err != nil {
				f.Close()
				return fmt.Errorf("log %s: %w", path, err)
			}
			if m := lastLogAttempt(g.stateDir, run, stage); m > n {
				next = m
				break
			}
			if !runLive(g.stateDir, run) {
				_, err := io.Copy(g.stdout, f) // what came since the last read
				f.Close()
				return err
			}
			select {
			case <-ctx.Done():
				f.Close()
				return nil
			case <-time.After(poll):
			}
		}
		if _, err := io.Copy(g.stdout, f); err != nil { // the rest of this attempt
			f.Close()
			return err
		}
		f.Close()
		fmt.Fprintf(g.stderr, "==> %s attempt %d <==\n", stage, next)
		n = next
	}
}

// runLive reports whether run may still be writing: a live pipe holds the
// state's lock and run is the newest run with logs.
func runLive(dir, run string) bool {
	if _, live := state.LockHolder(dir); !live {
		return false
	}
	runs, err := logRuns(dir)
	return err == nil && len(runs) > 0 && runs[len(runs)-1] == run
}
