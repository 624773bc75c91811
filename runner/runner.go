// Package runner plans and executes a pipeline: it computes each stage's
// fingerprint, decides from the recorded state whether the stage is up to
// date (and says why not), and runs the stages that are not, in parallel
// topological order, with retries, timeouts, cancellation, per-attempt log
// files, terminal streaming and progress.
//
// The runner sees a pipeline through the small Pipeline interface (stage
// names in topological order, dependencies, and late resolution of a
// stage's attributes once its upstream stages are known) and records what
// happens through the Store interface. Stage kinds come resolved inside each
// Stage: the runner knows no kind by name.
package runner

import (
	"io"
	"time"

	"github.com/charmbracelet/log"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/stages"
)

// Pipeline is a loaded pipeline as the runner needs it.
type Pipeline interface {
	// Order returns the stage names in a deterministic topological order:
	// every stage after its dependencies.
	Order() []string
	// Deps returns the names of the stages name depends on.
	Deps(name string) []string
	// Resolve evaluates stage name's attributes. upstream maps each
	// dependency to the value it shows other stages (Stage.Value); a
	// missing dependency counts as unknown. The error may be an
	// hcl.Diagnostics.
	Resolve(name string, upstream map[string]cty.Value) (*Stage, error)
}

// Stage is one stage with every attribute evaluated.
type Stage struct {
	Name string
	Kind stages.Kind
	// Config is the decoded config block (cty.NilVal without a spec).
	Config cty.Value
	// Shell or Argv is the command (both empty when absent).
	Shell string
	Argv  []string
	// Env is the stage's env map.
	Env map[string]string
	// Workdir is absolute; Inputs (globs expanded) and Outputs are absolute.
	Workdir string
	Inputs  []string
	Outputs []string
	// Retries, RetryDelay and Timeout govern attempts (Timeout 0: none).
	Retries    int
	RetryDelay time.Duration
	Timeout    time.Duration
	// Enabled is false for a stage written `enabled = false`.
	Enabled   bool
	Resources stages.Resources
	// Unknown lists attributes not known yet (an upstream stage has not
	// run): such a stage cannot be fingerprinted.
	Unknown []string
	// Value returns what other stages see as stage.NAME, given the outputs
	// the stage published (nil: unknown).
	Value func(outputs map[string]cty.Value) cty.Value

	// fixed holds the fingerprint keys of fixedKeys, as key, hash, key,
	// hash..., when they were computed before (the compiled pipeline
	// stores them); nil otherwise.
	fixed []string
}

// Status is the recorded state of an attempt.
type Status string

// Attempt statuses. A "running" attempt found when a run starts belongs to
// a pipe that was killed: it is reported as interrupted.
const (
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Attempt is one recorded attempt of one stage.
type Attempt struct {
	RunID   string
	Stage   string
	Attempt int
	Status  Status
	Start   time.Time
	End     time.Time
	// ExitCode is the process exit status when the kind reports one
	// (-1 otherwise).
	ExitCode int
	// Fingerprint is the stage's fingerprint (hex) and Keys the per-key
	// hashes it was computed from (see Fingerprint).
	Fingerprint string
	Keys        map[string]string
	// Outputs are the published outputs as JSON (cty JSON with type), nil
	// when the kind publishes none.
	Outputs []byte
	// Files maps each declared output path to its content digest, recorded
	// after success.
	Files map[string]string
	// Error is the failure message of a failed or cancelled attempt.
	Error   string
	Metrics map[string]float64
}

// RunRecord describes one invocation of `pipe run`.
type RunRecord struct {
	ID       string
	Start    time.Time
	End      time.Time
	Status   string // running, succeeded, failed, cancelled
	Pipeline string // path of the pipeline file
	Args     []string
}

// Store is the state the runner reads and writes.
type Store interface {
	// Latest returns the most recent attempt of stage (any status), nil
	// when it never ran.
	Latest(stage string) (*Attempt, error)
	// LastSuccess returns the stage's most recent succeeded attempt, nil
	// when none.
	LastSuccess(stage string) (*Attempt, error)
	// PutAttempt records an attempt (one key per attempt). When it records
	// a succeeded attempt it must be durable on return: downstream stages
	// start right after.
	PutAttempt(a *Attempt) error
	// Keys returns the per-key hashes recorded with fingerprint (for
	// saying what changed), nil if unknown. Attempts returned by Latest and
	// LastSuccess may leave their Keys nil.
	Keys(fingerprint string) (map[string]string, error)
	// PutRun records a run.
	PutRun(r *RunRecord) error
	// LogPath is the log file of one attempt.
	LogPath(runID, stage string, attempt int) string
	// Digest returns the content digest of a file or directory tree; an
	// absent path gives an error satisfying errors.Is(err, fs.ErrNotExist).
	Digest(path string) (string, error)
}

// BatchStore is a Store that can read the latest attempts of many stages at
// once (one read transaction instead of one per stage); the runner uses it
// when the store implements it.
type BatchStore interface {
	Store
	// LatestAll returns Latest of each of stages, in order.
	LatestAll(stages []string) ([]*Attempt, error)
	// WarmDigests prepares Digest for many calls (loads the digest cache
	// at once); an error only means it did not.
	WarmDigests() error
}

// Options control one Plan or Run.
type Options struct {
	// Only restricts the run to these stages (not their dependencies).
	Only []string
	// From restricts the run to this stage and everything downstream of
	// it, all forced.
	From string
	// Force makes these stages run even when up to date; ForceAll forces
	// every stage.
	Force    []string
	ForceAll bool
	// Parallel is the most stages running at once (>= 1).
	Parallel int
	// KeepGoing keeps starting independent stages after a failure.
	KeepGoing bool
	// StateDir holds the per-stage private directories (stages/<name>).
	StateDir string
	// RunID names this run; Args are recorded with it.
	RunID    string
	Pipeline string
	Args     []string
	// Log receives the runner's own messages and, when Stream is set, each
	// line of the stages' output, prefixed with the stage name. Nil
	// discards them.
	Log    *log.Logger
	Stream bool
	// Progress draws progress; nil draws none.
	Progress *Display
	// Decisions is the decision snapshot file ("" none): a plan, or a run
	// that runs nothing, records its decisions there, and the next one
	// takes them from it while nothing they rested on changed (see
	// decisions.go). Used only with a *Compiled pipeline and a
	// GenerationStore, and never with a selection flag.
	Decisions string
}

// Runner plans and runs one pipeline against one store.
type Runner struct {
	p     Pipeline
	store Store
	opts  Options

	// digests remembers Digest results until a stage starts (started).
	digests map[string]digestOf
	started bool

	// rec records what the decisions rest on, for the decision snapshot
	// (nil: not recording); snapStatus says what became of the snapshot.
	rec        *recorder
	snapStatus string
}

// New returns a runner for p recording in store.
func New(p Pipeline, store Store, opts Options) *Runner {
	if opts.Parallel < 1 {
		opts.Parallel = 1
	}
	if opts.Log == nil {
		opts.Log = log.New(io.Discard)
	}
	return &Runner{p: p, store: store, opts: opts}
}
