package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newValidateCmd(g *globals) *cobra.Command {
	var pf pipelineFlags
	cmd := &cobra.Command{
		Use:   "validate [FILE]",
		Short: "Check a pipeline file (syntax, kinds, references, variables, cycles, attribute types)",
		Long: `Check a pipeline file without running anything: syntax, blocks and
attributes, stage kinds and their config blocks, variable values (defaults,
PIPE_VAR_name, -var-file, -var) and validation rules, locals, references
(var., local., stage., path.), dependency cycles, and the types of every
stage attribute, evaluated with the outputs of upstream stages unknown.
FILE defaults to pipeline.hcl. Errors are printed with file:line:col and the
source line; the exit status is 2 when there are any.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := pipelineFile(args)
			p, err := loadPipeline(g, path, &pf)
			if err != nil {
				return err
			}
			_, diags := p.ResolveAll(nil)
			if err := reportDiags(g, diags); err != nil {
				return err
			}
			noun := "stages"
			if len(p.Order) == 1 {
				noun = "stage"
			}
			fmt.Fprintf(g.stdout, "%s: valid (%d %s)\n", path, len(p.Order), noun)
			return nil
		},
	}
	pf.register(cmd)
	return cmd
}
