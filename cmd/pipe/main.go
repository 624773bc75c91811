// Command pipe runs declarative, resumable, reproducible ML pipelines.
//
// Each subcommand lives in a file of its own in this directory and is added
// to the root in newRootCmd. Errors reach main as values; exitCode maps them
// to the documented exit status (0 ok, 1 a stage failed, 2 usage or pipeline
// error).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if path := os.Getenv("PIPE_CPUPROFILE"); path != "" {
		// Profiling hook for bench/: PIPE_CPUPROFILE=cpu.prof pipe run ...
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				code := run(os.Args[1:], os.Stdout, os.Stderr)
				pprof.StopCPUProfile()
				f.Close()
				os.Exit(code)
			}
		}
	}
	if path := os.Getenv("PIPE_MEMPROFILE"); path != "" {
		// Allocation profile for bench/: PIPE_MEMPROFILE=mem.prof pipe plan ...
		runtime.MemProfileRate = 4096
		code := run(os.Args[1:], os.Stdout, os.Stderr)
		if f, err := os.Create(path); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(stdout, stderr)
	root.SetArgs(normalizeArgs(args))
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var silent *exitError
	if !errors.As(err, &silent) || !silent.reported {
		fmt.Fprintln(stderr, "Error:", err)
	}
	return exitCode(err)
}

// globals are the flags every subcommand shares.
type globals struct {
	stdout, stderr io.Writer
	stateDir       string
	logLevel       string
	logFormat      string
	noColor        bool
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "pipe",
		Short:         "Run declarative, resumable, reproducible ML pipelines",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr(err) })
	pf := root.PersistentFlags()
	pf.StringVar(&g.stateDir, "state", ".pipe", "directory holding the state database, lock and logs")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.StringVar(&g.logFormat, "log-format", "text", "log format: text or json")
	pf.BoolVar(&g.noColor, "no-color", false, "disable colours in terminal output")

	for _, newCmd := range []func(*globals) *cobra.Command{
		newVersionCmd,
		newRunCmd,
		newPlanCmd,
		newUnlockCmd,
		newStatusCmd,
		newRunsCmd,
		newShowCmd,
		newLogsCmd,
		newInspectCmd,
		newScoreCmd,
		newValidateCmd,
		newFmtCmd,
		newGraphCmd,
		newDemoDataCmd,
		newTestKernelsCmd,
	} {
		root.AddCommand(newCmd(g))
	}
	return root
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print pipe's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(g.stdout, "pipe %s\n", version)
			return nil
		},
	}
}

// exitError carries an exit status through cobra. reported is true when the
// message was already shown to the user (e.g. as HCL diagnostics).
type exitError struct {
	code     int
	err      error
	reported bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr marks err as a usage or pipeline error (exit status 2).
func usageErr(err error) error { return &exitError{code: 2, err: err} }

// stageErr marks err as a stage failure (exit status 1).
func stageErr(err error) error { return &exitError{code: 1, err: err} }

// exitCode maps an error to pipe's exit status. Errors not marked otherwise
// are usage or pipeline errors.
func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 2
}
