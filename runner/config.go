package runner

import (
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/config"
)

// FromConfig adapts a loaded pipeline to the runner's Pipeline.
func FromConfig(p *config.Pipeline) Pipeline { return configPipeline{p} }

type configPipeline struct{ p *config.Pipeline }

// Order implements Pipeline.
func (c configPipeline) Order() []string {
	out := make([]string, len(c.p.Order))
	for i, s := range c.p.Order {
		out[i] = s.Name
	}
	return out
}

// Deps implements Pipeline.
func (c configPipeline) Deps(name string) []string { return c.p.Stages[name].Deps }

// Resolve implements Pipeline.
func (c configPipeline) Resolve(name string, upstream map[string]cty.Value) (*Stage, error) {
	r, diags := c.p.Resolve(name, upstream)
	if diags.HasErrors() {
		return nil, diags
	}
	return stageFromResolved(r), nil
}

// stageFromResolved is the runner's view of a resolved stage.
func stageFromResolved(r *config.Resolved) *Stage {
	return &Stage{
		Name:       r.Name,
		Kind:       r.Kind,
		Config:     r.Config,
		Shell:      r.Shell,
		Argv:       r.Argv,
		Env:        r.Env,
		Workdir:    r.Workdir,
		Inputs:     r.Inputs,
		Outputs:    r.Outputs,
		Retries:    r.Retries,
		RetryDelay: r.RetryDelay,
		Timeout:    r.Timeout,
		Enabled:    r.Enabled,
		Resources:  r.Resources,
		Unknown:    r.Unknown,
		Value:      r.Value,
	}
}
