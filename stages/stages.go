// Package stages defines what a stage kind is: the contract between the
// runner, which schedules, fingerprints and records stages, and the code that
// does a stage's work.
//
// A kind is a value implementing Kind. Kinds are collected in a Registry that
// the command line builds explicitly (see cmd/pipe); the runner looks kinds up
// by the name written in a pipeline's `kind` attribute and knows none of them
// by name itself. There is no package-level registry: two registries in one
// process (tests) never see each other's kinds.
package stages

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/charmbracelet/log"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// Kind is one kind of stage (exec, populate_cache, train, ...).
//
// Implementations must be safe for concurrent use: the runner may run several
// stages of the same kind at once, each with its own Run.
type Kind interface {
	// Name is the value of a stage's `kind` attribute that selects this kind.
	Name() string

	// Version enters the fingerprint of every stage of this kind. Change it
	// whenever a change of the kind's code changes what it produces, so that
	// up-to-date stages of this kind run again.
	Version() string

	// ConfigSpec is the hcldec specification of the stage's `config { }`
	// block. The runner decodes the block with it (references and functions
	// already evaluated) and passes the result as Run.Config. A nil spec means
	// the kind takes no config block, and writing one is an error.
	ConfigSpec() hcldec.Spec

	// Outputs declares the values this kind publishes after a successful run.
	// Other stages read them as stage.NAME.KEY, which also makes them
	// depend on this stage. Run must return exactly these keys.
	Outputs() map[string]cty.Type

	// Paths returns the files and directories that a stage with this config
	// reads and writes, beyond the stage's own `inputs` and `outputs`
	// attributes. Inputs enter the fingerprint by content; outputs are
	// recorded after success and checked before a skip. Relative paths are
	// resolved against workdir. cfg is the decoded config (cty.NilVal when
	// the kind has no spec). The result must depend on cfg and workdir
	// only (no file system or environment reads): the runner's decision
	// snapshot and compiled pipeline rely on it.
	Paths(cfg cty.Value, workdir string) (Paths, error)

	// Run does the stage's work. It must return promptly with ctx.Err()
	// (possibly wrapped) once ctx is cancelled, and must leave its outputs
	// so that a later Run of the same stage resumes or redoes the work
	// safely: a Run may be killed at any instant, even with SIGKILL.
	Run(ctx context.Context, r *Run) (*Result, error)
}

// Paths lists files or directories a stage reads (Inputs) and writes
// (Outputs). Directories stand for their whole tree.
type Paths struct {
	Inputs  []string
	Outputs []string
}

// Run is everything one attempt of one stage receives.
type Run struct {
	// Stage is the stage's name in the pipeline.
	Stage string
	// RunID identifies the pipeline run; Attempt counts from 1 within it.
	RunID   string
	Attempt int
	// Fingerprint is the stage's fingerprint for this run (hex). Kinds that
	// resume partial work (checkpoints, per-file caches) use it to tell
	// whether leftovers belong to the same configuration.
	Fingerprint string

	// Config is the decoded config block (cty.NilVal when the kind has no spec).
	Config cty.Value

	// Command is the stage's `command`: Shell is set when it was a string
	// (run with `sh -c`), Argv when it was a list. Both empty when absent.
	Shell string
	Argv  []string
	// Env holds the stage's `env` map only; kinds that start processes add
	// it to the runner's own environment.
	Env map[string]string
	// Workdir is the absolute working directory of the stage.
	Workdir string
	// Inputs and Outputs are the stage's `inputs` (globs expanded) and
	// `outputs` attributes, as absolute paths.
	Inputs  []string
	Outputs []string
	// Resources is the stage's `resources` block.
	Resources Resources
	// StateDir is a directory private to this stage that persists across
	// attempts and runs (created by the runner), for resumable bookkeeping.
	StateDir string

	// Log is a logger prefixed with the stage name.
	Log *log.Logger
	// Stdout and Stderr receive the attempt's output: they go to the
	// attempt's log file and, prefixed with the stage name, to the terminal.
	Stdout io.Writer
	Stderr io.Writer
	// Progress reports how far the stage has come. Never nil.
	Progress Progress
}

// Resources is a stage's `resources { }` block. Zero values mean "not said".
type Resources struct {
	CPUs    int
	Memory  int64 // bytes
	GPUs    int
	GPUType string
}

// Result is what a successful Run returns.
type Result struct {
	// Outputs holds one value per key of Kind.Outputs, of that type.
	Outputs map[string]cty.Value
	// Metrics are numbers worth recording in the state (hours of data,
	// final loss, ...). May be nil.
	Metrics map[string]float64
}

// Progress is how a kind reports progress; the runner draws it (a bar with
// ETA on a terminal, periodic log lines otherwise). Implementations are safe
// for concurrent use.
type Progress interface {
	// Total sets the amount of work and its unit ("files", "steps"); n <= 0
	// means unknown. It may be called again when the estimate changes.
	Total(n int64, unit string)
	// Add records n more units done.
	Add(n int64)
	// Status sets a short text shown beside the progress.
	Status(text string)
}

// NopProgress is a Progress that ignores everything.
type NopProgress struct{}

// Total implements Progress.
func (NopProgress) Total(int64, string) {}

// Add implements Progress.
func (NopProgress) Add(int64) {}

// Status implements Progress.
func (NopProgress) Status(string) {}

// Registry maps kind names to kinds.
type Registry struct {
	kinds map[string]Kind
}

// NewRegistry returns a registry holding kinds. Two kinds with one name are
// an error.
func NewRegistry(kinds ...Kind) (*Registry, error) {
	r := &Registry{kinds: make(map[string]Kind, len(kinds))}
	for _, k := range kinds {
		if err := r.Register(k); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Register adds k; a second kind with the same name is an error.
func (r *Registry) Register(k Kind) error {
	if r.kinds == nil {
		r.kinds = make(map[string]Kind)
	}
	name := k.Name()
	if name == "" {
		return fmt.Errorf("register stage kind %T: empty name", k)
	}
	if _, dup := r.kinds[name]; dup {
		return fmt.Errorf("register stage kind %q: already registered", name)
	}
	r.kinds[name] = k
	return nil
}

// Lookup returns the kind called name.
func (r *Registry) Lookup(name string) (Kind, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// Names returns the registered kind names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
