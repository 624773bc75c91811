package config

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// describeBody renders a body's structure with every range, to compare
// parses.
func describeBody(b *hclsyntax.Body, indent string, out *strings.Builder) {
	names := make([]string, 0, len(b.Attributes))
	for n := range b.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := b.Attributes[n]
		fmt.Fprintf(out, "%sattr %s %v expr %v\n", indent, n, a.SrcRange, a.Expr.Range())
	}
	for _, blk := range b.Blocks {
		fmt.Fprintf(out, "%sblock %s %q %v open %v close %v\n", indent, blk.Type, blk.Labels, blk.DefRange(), blk.OpenBraceRange, blk.CloseBraceRange)
		describeBody(blk.Body, indent+"  ", out)
	}
}

// checkSplitParse fails when the split parse of src differs from a
// whole-file parse.
func checkSplitParse(t *testing.T, src []byte) {
	whole, wdiags := hclsyntax.ParseConfig(src, "f.hcl", hcl.InitialPos)
	split, ok := parseSplit(src, "f.hcl")
	if !ok {
		return // falls back to the whole-file parse
	}
	if wdiags.HasErrors() {
		t.Fatalf("split parse accepted a file the whole parse rejects: %v", wdiags)
	}
	var a, b strings.Builder
	describeBody(whole.Body.(*hclsyntax.Body), "", &a)
	describeBody(split, "", &b)
	if a.String() != b.String() {
		t.Fatalf("split parse differs:\n--- whole\n%s\n--- split\n%s", a.String(), b.String())
	}
}

func TestParseSplit(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	chain := chainPipeline(1000)
	tricky := strings.Repeat(`
stage "h%[1]d" {
  command = <<EOT
stage "inside_heredoc" {
EOT
}
/*
stage "inside_comment" {}
*/
stage "x%[1]d" { command = "a" }
locals {
  v%[1]d = [
    1,
  ]
}
`, 1)
	var tr strings.Builder
	for i := 0; i < 500; i++ {
		fmt.Fprintf(&tr, tricky, i)
	}
	for name, src := range map[string]string{
		"chain":             chain,
		"tricky":            tr.String(),
		"unclosed brace":    chain[:len(chain)/2] + "\nstage \"z\" {\n" + chain[len(chain)/2:],
		"top-level attr":    chain + "\nfoo = 1\n",
		"crlf line endings": strings.ReplaceAll(chain, "\n", "\r\n"),
	} {
		t.Run(name, func(t *testing.T) {
			checkSplitParse(t, []byte(src))
		})
	}
	if _, ok := parseSplit([]byte(tr.String()), "f.hcl"); !ok {
		t.Error("tricky file fell back: the split should be able to parse it")
	}
	if _, ok := parseSplit([]byte(chain+"\nfoo = 1\n"), "f.hcl"); ok {
		t.Error("top-level attributes must fall back to the whole-file parse")
	}
}

// TestDeepNesting checks that pathological nesting is refused with a
// diagnostic instead of overflowing the parser's stack.
func TestDeepNesting(t *testing.T) {
	for name, src := range map[string]string{
		"brackets": "stage \"a\" {\n  command = " + strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + "\n}\n",
		"not":      "stage \"a\" {\n  enabled = " + strings.Repeat("!", 200000) + "true\n}\n",
		"blocks":   "stage \"a\" {\n" + strings.Repeat("x {\n", 5000) + strings.Repeat("}\n", 5000) + "}\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, diags := LoadSource("deep.hcl", []byte(src), Inputs{Cwd: t.TempDir()}, testRegistry())
			if !diags.HasErrors() || diags[0].Summary != "Nesting too deep" || diags[0].Subject.Start.Line < 2 {
				t.Errorf("diags %v", diags)
			}
		})
	}
	// Ordinary nesting and many minus signs in strings and comments pass.
	ok := "# " + strings.Repeat("-", 5000) + "\nstage \"a\" {\n  command = [[[[\"x\"]]]]\n  env = { A = \"" + strings.Repeat("-", 900) + "\" }\n}\n"
	if _, diags := LoadSource("ok.hcl", []byte(ok), Inputs{Cwd: t.TempDir()}, testRegistry()); diags.HasErrors() {
		t.Error(diags)
	}
}
