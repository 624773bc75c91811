package main

import (
	"github.com/pipeml/pipe/model"
	"github.com/pipeml/pipe/stages"
	"github.com/pipeml/pipe/stages/cachekinds"
	"github.com/pipeml/pipe/stages/execkind"
	"github.com/pipeml/pipe/stages/kernelcheck"
	"github.com/pipeml/pipe/stages/trainkinds"
)

// newRegistry gathers every stage kind this binary knows. It is the only
// place that names kinds: the runner looks them up by the pipeline's `kind`
// attribute. Add one line per kind.
func newRegistry() (*stages.Registry, error) {
	return stages.NewRegistry(
		execkind.New(),
		cachekinds.NewPopulate(),
		cachekinds.NewVerify(),
		cachekinds.NewDemoData(),
		kernelcheck.New(),
		trainkinds.NewTrain(model.Builder{}),
		trainkinds.NewEvaluate(model.Builder{}),
	)
}
