package main

import (
	"github.com/pipeml/pipe/stages"
	"github.com/pipeml/pipe/stages/cachekinds"
)

// newRegistry gathers every stage kind this binary knows. It is the only
// place that names kinds: the runner looks them up by the pipeline's `kind`
// attribute. Add one line per kind.
func newRegistry() (*stages.Registry, error) {
	return stages.NewRegistry(
		cachekinds.NewPopulate(),
		cachekinds.NewVerify(),
		cachekinds.NewDemoData(),
	)
}
