package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pipeml/pipe/config"
)

func newGraphCmd(g *globals) *cobra.Command {
	var pf pipelineFlags
	var format string
	cmd := &cobra.Command{
		Use:   "graph [FILE]",
		Short: "Print the stage graph as Graphviz dot or Mermaid",
		Long: `Print the pipeline's stages and their dependencies (depends_on and
implicit references) in Graphviz dot (pipe graph | dot -Tsvg > graph.svg) or
Mermaid flowchart syntax. Each node shows the stage name and its kind; an
edge A -> B means B runs after A. FILE defaults to pipeline.hcl.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "dot" && format != "mermaid" {
				return usageErr(fmt.Errorf("graph: --format must be dot or mermaid, not %q", format))
			}
			p, err := loadPipeline(g, pipelineFile(args), &pf)
			if err != nil {
				return err
			}
			w := &errWriter{w: g.stdout}
			if format == "dot" {
				writeDot(w, p)
			} else {
				writeMermaid(w, p)
			}
			if w.err != nil {
				return fmt.Errorf("graph: %w", w.err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "dot", "output format: dot or mermaid")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"dot", "mermaid"}, cobra.ShellCompDirectiveNoFileComp))
	pf.register(cmd)
	return cmd
}

// writeDot prints the graph in Graphviz dot, stages in topological order.
func writeDot(w *errWriter, p *config.Pipeline) {
	w.printf("digraph pipeline {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n")
	for _, st := range p.Order {
		w.printf("  %s [label=%s];\n", dotQuote(st.Name), dotQuote(st.Name+"\n"+st.Kind.Name()))
	}
	for _, st := range p.Order {
		for _, d := range st.Deps {
			w.printf("  %s -> %s;\n", dotQuote(d), dotQuote(st.Name))
		}
	}
	w.printf("}\n")
}

func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// writeMermaid prints the graph as a Mermaid flowchart. Node ids are s0,
// s1, ... (in topological order) so any stage name is safe.
func writeMermaid(w *errWriter, p *config.Pipeline) {
	w.printf("flowchart LR\n")
	for _, st := range p.Order {
		w.printf("  s%d[\"%s<br/><small>%s</small>\"]\n", st.Index, mermaidEscape(st.Name), mermaidEscape(st.Kind.Name()))
	}
	for _, st := range p.Order {
		for _, d := range st.Deps {
			w.printf("  s%d --> s%d\n", p.Stages[d].Index, st.Index)
		}
	}
}

func mermaidEscape(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;").Replace(s)
}
