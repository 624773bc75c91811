package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/pipeml/pipe/config"
	"github.com/pipeml/pipe/stages"
)

// pipelineFlags are the flags of every command that loads a pipeline.
type pipelineFlags struct {
	vars     []string
	varFiles []string
}

// register adds --var and --var-file (also written -var, -var-file) to cmd.
func (f *pipelineFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.vars, "var", nil, "set a variable: NAME=VALUE (repeatable; a later one wins)")
	cmd.Flags().StringArrayVar(&f.varFiles, "var-file", nil, "read variables from an HCL file of NAME = VALUE lines (repeatable; a later one wins)")
}

// pipelineFile returns the pipeline file named by args, or the default.
func pipelineFile(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return config.DefaultFile
}

// loadPipeline loads the pipeline file with the kinds of newRegistry and
// the variables of f and the environment. Diagnostics (warnings included)
// are printed to stderr with their source lines; errors come back as an
// already reported usage error (exit status 2).
func loadPipeline(g *globals, path string, f *pipelineFlags) (*config.Pipeline, error) {
	reg, err := newRegistry()
	if err != nil {
		return nil, fmt.Errorf("stage kinds: %w", err)
	}
	// Parsing a large pipeline allocates a lot of short-lived garbage
	// (HCL tokens and syntax trees): collecting less often while loading
	// saves about a third of the CPU time. Nothing else runs yet.
	gc := debug.SetGCPercent(400)
	p, diags := config.Load(path, config.Inputs{Vars: f.vars, VarFiles: f.varFiles, Env: os.Environ()}, reg)
	debug.SetGCPercent(gc)
	if err := reportDiags(g, diags); err != nil {
		return nil, err
	}
	return p, nil
}

// loadPipelineSource is loadPipeline with the file's bytes already read
// and the registry made; cacheable is false when Load gave warnings (a
// cached pipeline would not show them again).
func loadPipelineSource(g *globals, path string, src []byte, f *pipelineFlags, reg *stages.Registry) (p *config.Pipeline, cacheable bool, err error) {
	gc := debug.SetGCPercent(400)
	p, diags := config.LoadSource(path, src, config.Inputs{Vars: f.vars, VarFiles: f.varFiles, Env: os.Environ()}, reg)
	debug.SetGCPercent(gc)
	if err := reportDiags(g, diags); err != nil {
		return nil, false, err
	}
	return p, len(diags) == 0, nil
}

// reportDiags prints diags to stderr and turns errors among them into a
// reported usage error.
func reportDiags(g *globals, diags hcl.Diagnostics) error {
	if len(diags) == 0 {
		return nil
	}
	width, color := uint(0), false
	if fd, ok := g.stderr.(interface{ Fd() uintptr }); ok && term.IsTerminal(int(fd.Fd())) {
		color = !g.noColor
		if w, _, err := term.GetSize(int(fd.Fd())); err == nil && w > 0 {
			width = uint(w)
		}
	}
	if err := config.WriteDiagnostics(g.stderr, diags, width, color); err != nil {
		return fmt.Errorf("print diagnostics: %w", err)
	}
	if diags.HasErrors() {
		n := 0
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				n++
			}
		}
		return &exitError{code: 2, err: fmt.Errorf("%d error(s) in the pipeline", n), reported: true}
	}
	return nil
}

// normalizeArgs lets the Terraform spellings -var and -var-file stand for
// --var and --var-file (pflag reads single-dash words as shorthand flags).
func normalizeArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "--" {
			copy(out[i:], args[i:])
			break
		}
		switch {
		case a == "-var" || a == "-var-file",
			len(a) > 5 && a[:5] == "-var=",
			len(a) > 10 && a[:10] == "-var-file=":
			a = "-" + a
		}
		out[i] = a
	}
	return out
}

// errWriter remembers the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

var errNotFormatted = errors.New("some files are not formatted")
