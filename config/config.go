// Package config is pipe's pipeline language: it parses a pipeline file
// (HCL), decodes it in phases — the pipeline block, variables (with their
// values from defaults, the environment, variable files and -var), locals,
// then stages — checks every reference, builds the stage graph, and later
// evaluates each stage's attributes once its upstream stages are known.
//
// The phases follow Terraform's internal/configs: Load does everything that
// does not depend on what stages produce (syntax, schemas, kinds, variable
// values, locals, references, the graph and its cycles) and reports every
// problem as an hcl.Diagnostic with a source range. Stage attributes are
// evaluated late by (*Pipeline).Resolve, because `stage.X.KEY` may name an
// output that kind X publishes only after X ran.
//
// The runner uses it as
//
//	p, diags := config.Load(path, config.Inputs{Vars: ..., VarFiles: ..., Env: os.Environ()}, reg)
//	for _, st := range p.Order {                 // deterministic topological order
//		up := map[string]cty.Value{}
//		for _, d := range st.Deps { up[d] = resolved[d].Value(outputsOf(d)) } // nil outputs: unknown (plan)
//		r, diags := p.Resolve(st.Name, up)
//		...
//	}
package config

import (
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/pipeml/pipe/dag"
	"github.com/pipeml/pipe/stages"
)

// DefaultFile is the pipeline file commands use when none is named.
const DefaultFile = "pipeline.hcl"

// DefaultKind is the kind of a stage without a `kind` attribute.
const DefaultKind = "exec"

// EnvPrefix starts the names of environment variables that set pipeline
// variables: PIPE_VAR_name.
const EnvPrefix = "PIPE_VAR_"

// Inputs are the values a pipeline is loaded with besides its file.
type Inputs struct {
	// Vars are -var arguments, "name=value", in command-line order; a later
	// one wins.
	Vars []string
	// VarFiles are -var-file paths (HCL attributes), in command-line order;
	// a later file wins. Relative paths resolve against Cwd.
	VarFiles []string
	// Env is the environment as "KEY=value" strings (os.Environ()). It
	// provides PIPE_VAR_name variable values and what env() returns.
	Env []string
	// Cwd is the directory pipe runs in: relative paths in the pipeline
	// resolve against it and it is path.cwd. Empty means os.Getwd().
	Cwd string
}

// Pipeline is a loaded pipeline: every stage checked, the graph built and
// acyclic. Stage attributes are evaluated by Resolve.
type Pipeline struct {
	// Path is the absolute path of the pipeline file; Dir its directory
	// (path.pipeline). Cwd is path.cwd.
	Path, Dir, Cwd string
	// Description and MaxParallel come from the pipeline block (zero when
	// absent; MaxParallel 0 means "not set").
	Description string
	MaxParallel int
	// Variables holds every declared variable with its final value.
	Variables map[string]*Variable
	// Locals holds every local value.
	Locals map[string]cty.Value
	// Stages maps stage names to stages.
	Stages map[string]*Stage
	// Order lists the stages in a deterministic topological order: each
	// stage after all of its dependencies, ties in declaration order.
	Order []*Stage
	// Graph has one node per stage name and an edge from each dependency to
	// its dependent.
	Graph *dag.Graph[string]

	ctx         *hcl.EvalContext // var, local, path and functions
	reads       *readLog         // what Load and Resolve read from outside
	specs       map[string]*kindSpec
	noResources cty.Value            // stage.X.resources of a stage without the block
	defaults    map[string]cty.Value // stage.X.ATTR of an absent attribute
}

// Variable is a declared variable and its final value.
type Variable struct {
	Name        string
	Description string
	// Type is the declared type constraint (cty.DynamicPseudoType when the
	// block has no type).
	Type cty.Type
	// Default is cty.NilVal for a required variable.
	Default cty.Value
	// Sensitive variables are never printed; values derived from them are
	// listed in Resolved.Sensitive.
	Sensitive bool
	// Value is the final value after precedence, conversion and validation.
	Value cty.Value
	// Source says where Value came from: "default", "env PIPE_VAR_x",
	// "file F" or "-var".
	Source    string
	DeclRange hcl.Range
}

// Stage is one stage block as loaded: its kind, dependencies and unevaluated
// attributes.
type Stage struct {
	Name string
	Kind stages.Kind
	// Deps are the names of the stages this one depends on — its explicit
	// depends_on plus every stage it references — without duplicates, in
	// the order of Pipeline.Order.
	Deps []string
	// Index is the position of the stage in Pipeline.Order.
	Index int
	// DeclRange is the range of the block header (`stage "name"`).
	DeclRange hcl.Range

	attrs     hcl.Attributes
	config    *hcl.Block
	resources *hcl.Block
	decl      int // declaration order

	// refs holds the attributes and outputs other stages read
	// (stage.NAME.ATTR); refAll is set when one reads the whole object.
	refs   map[string]struct{}
	refAll bool
}

// needs reports whether another stage reads attribute or output name.
func (s *Stage) needs(name string) bool {
	if s.refAll {
		return true
	}
	_, ok := s.refs[name]
	return ok
}

// nrefs is how many attributes other stages read (all when refAll).
func (s *Stage) nrefs() int {
	if s.refAll {
		return len(stageObjectAttrs)
	}
	return len(s.refs)
}

// Resolved is a stage with every attribute evaluated.
//
// At plan time upstream outputs may be unknown; an attribute that depends on
// an unknown value is listed in Unknown and its Go field is left at its zero
// value (Config keeps the unknown parts as cty unknowns). A stage with
// unknown attributes must be treated as "upstream changed".
type Resolved struct {
	Name string
	Kind stages.Kind
	// Description is the stage's `description`.
	Description string
	// Config is the `config` block decoded with the kind's ConfigSpec, with
	// no cty marks; cty.NilVal when the kind has no spec.
	Config cty.Value
	// Shell is set when `command` is a string (run with sh -c), Argv when it
	// is a list.
	Shell string
	Argv  []string
	// Env is the `env` map (nil when absent).
	Env map[string]string
	// Workdir is the absolute working directory (default: path.cwd).
	Workdir string
	// Inputs are the `inputs`, absolute, globs expanded (sorted matches;
	// a literal path is kept even when it does not exist). Outputs are the
	// `outputs`, absolute. Relative paths resolve against path.cwd.
	Inputs  []string
	Outputs []string
	// Retries is how many times a failed attempt is retried; RetryDelay
	// the pause between attempts; Timeout limits one attempt (0: none).
	Retries    int
	RetryDelay time.Duration
	Timeout    time.Duration
	// Enabled is false when `enabled` evaluated to false: the stage is
	// skipped.
	Enabled bool
	// Resources is the `resources` block.
	Resources stages.Resources
	// Unknown lists the attributes ("command", "config", "env", ...) whose
	// values are not known yet, sorted.
	Unknown []string
	// Sensitive lists the attributes whose values derive from sensitive
	// variables, as paths: "command", "env.TOKEN", "config.password". Store
	// and print them only hashed.
	Sensitive []string

	attrs   map[string]cty.Value // what stage.NAME shows, marks kept
	outputs map[string]cty.Type  // the kind's Outputs
	stage   *Stage
}

// Known reports whether every attribute is known.
func (r *Resolved) Known() bool { return len(r.Unknown) == 0 }

// Value returns the object that other stages see as stage.NAME: the stage's
// attributes (name, kind, description, command, env, workdir, inputs,
// outputs, retries, retry_delay, timeout, enabled, resources, config) and the
// kind's published outputs, which override attributes of the same name.
// outputs holds the values the stage published; a declared output missing
// from outputs (all of them when outputs is nil, as at plan time) is unknown.
//
// To stay cheap on large pipelines the object holds only what the pipeline
// reads: when every reference names an attribute (stage.NAME.ATTR), only
// those attributes are present; a reference to the whole object (stage.NAME)
// brings all of them. Build it once per stage and give the same value to
// every dependent. It may carry cty marks: pass it to Resolve, do not store
// it.
func (r *Resolved) Value(outputs map[string]cty.Value) cty.Value {
	st := r.stage
	if st != nil && !st.refAll {
		obj := make(map[string]cty.Value, len(st.refs))
		for k := range st.refs {
			if ty, isOut := r.outputs[k]; isOut {
				if v, ok := outputs[k]; ok {
					obj[k] = v
				} else {
					obj[k] = cty.UnknownVal(ty)
				}
			} else if v, ok := r.attrs[k]; ok {
				obj[k] = v
			}
		}
		return cty.ObjectVal(obj)
	}
	obj := make(map[string]cty.Value, len(r.attrs)+len(r.outputs))
	for k, v := range r.attrs {
		obj[k] = v
	}
	for k, ty := range r.outputs {
		if v, ok := outputs[k]; ok {
			obj[k] = v
		} else {
			obj[k] = cty.UnknownVal(ty)
		}
	}
	return cty.ObjectVal(obj)
}

// Stage returns the stage called name, or nil.
func (p *Pipeline) Stage(name string) *Stage { return p.Stages[name] }

// kindSpec caches what Load and Resolve need from a kind.
type kindSpec struct {
	kind    stages.Kind
	spec    hcldecSpec
	schema  *hcl.BodySchema
	outputs map[string]cty.Type
}

// Load reads, decodes and checks the pipeline at path. The diagnostics hold
// every problem found (with source ranges) and warnings; when they have
// errors the pipeline is nil. reg supplies the stage kinds (nil: none).
//
// A loaded Pipeline is read-only: Resolve and ResolveAll may be called from
// many goroutines at once.
func Load(path string, in Inputs, reg *stages.Registry) (*Pipeline, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read pipeline file",
			Detail:   err.Error(),
		}}
	}
	return LoadSource(path, src, in, reg)
}

// LoadSource is Load with the file's content already read; path names the
// file in diagnostics and gives path.pipeline (a relative path is taken
// relative to the process's working directory, like os.ReadFile).
func LoadSource(path string, src []byte, in Inputs, reg *stages.Registry) (*Pipeline, hcl.Diagnostics) {
	cwd := in.Cwd
	if cwd == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot find the working directory", Detail: err.Error()}}
		}
		cwd = wd
	}
	cwd, _ = filepath.Abs(cwd)
	abs, err := filepath.Abs(path) // relative to the process, as os.ReadFile
	if err != nil {
		abs = path
	}
	body, diags := parse(src, path)
	if diags.HasErrors() {
		return nil, diags
	}
	if reg == nil {
		reg, _ = stages.NewRegistry()
	}
	env := envMap(in.Env)
	p := &Pipeline{
		Path:      abs,
		Dir:       filepath.Dir(abs),
		Cwd:       cwd,
		Variables: map[string]*Variable{},
		Locals:    map[string]cty.Value{},
		Stages:    map[string]*Stage{},
		specs:     map[string]*kindSpec{},
		reads:     &readLog{},
		noResources: cty.ObjectVal(map[string]cty.Value{
			"cpus":     cty.NumberIntVal(0),
			"memory":   cty.NumberIntVal(0),
			"gpus":     cty.NumberIntVal(0),
			"gpu_type": cty.StringVal(""),
		}),
		defaults: map[string]cty.Value{
			"description": cty.StringVal(""),
			"command":     cty.NullVal(cty.DynamicPseudoType),
			"env":         cty.MapValEmpty(cty.String),
			"inputs":      cty.ListValEmpty(cty.String),
			"outputs":     cty.ListValEmpty(cty.String),
			"retries":     cty.NumberIntVal(0),
			"retry_delay": cty.StringVal("0s"),
			"timeout":     cty.StringVal("0s"),
			"enabled":     cty.True,
		},
	}
	l := &loader{p: p, reg: reg, in: in, env: env, funcs: functions(cwd, env, p.reads)}
	diags = append(diags, l.load(body)...)
	if diags.HasErrors() {
		return nil, diags
	}
	return p, diags
}

// loader carries the state of one Load.
type loader struct {
	p     *Pipeline
	reg   *stages.Registry
	in    Inputs
	env   map[string]string
	funcs map[string]function.Function
}

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "pipeline"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "stage", LabelNames: []string{"name"}},
	},
}

func (l *loader) load(body *hclsyntax.Body) hcl.Diagnostics {
	content, diags := body.Content(fileSchema)
	var pipelineBlocks, varBlocks, localBlocks, stageBlocks []*hcl.Block
	for _, b := range content.Blocks {
		switch b.Type {
		case "pipeline":
			pipelineBlocks = append(pipelineBlocks, b)
		case "variable":
			varBlocks = append(varBlocks, b)
		case "locals":
			localBlocks = append(localBlocks, b)
		case "stage":
			stageBlocks = append(stageBlocks, b)
		}
	}
	p := l.p
	p.ctx = &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"path": cty.ObjectVal(map[string]cty.Value{
				"pipeline": cty.StringVal(p.Dir),
				"cwd":      cty.StringVal(p.Cwd),
			}),
		},
		Functions: l.funcs,
	}
	// Phase 1: variables and their values.
	diags = append(diags, l.decodeVariables(varBlocks)...)
	if diags.HasErrors() {
		return diags
	}
	// Phase 2: locals.
	// Errors in locals do not stop the later phases, so that one run
	// reports as many problems as it can; failed locals are unknown.
	diags = append(diags, l.decodeLocals(localBlocks)...)
	// Phase 3: the pipeline block.
	diags = append(diags, l.decodePipeline(pipelineBlocks)...)
	// Phase 4: stages, references and the graph.
	diags = append(diags, l.decodeStages(stageBlocks)...)
	return diags
}

// envMap turns KEY=value strings into a map; later entries win.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				m[kv[:i]] = kv[i+1:]
				break
			}
		}
	}
	return m
}
