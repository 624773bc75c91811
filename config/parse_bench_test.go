package config

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// BenchmarkParseOnly5000 is the peer of BenchmarkLoadChain5000: HCL's own
// sequential whole-file parse of the same 5000-stage chain (what Terraform
// and a plain hclsyntax user do), without any decoding.
func BenchmarkParseOnly5000(b *testing.B) {
	src := []byte(chainPipeline(5000))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		hclsyntax.ParseConfig(src, "x.hcl", hcl.InitialPos)
	}
}

// BenchmarkSplitParse5000 is parse's split, parallel parse of the same file.
func BenchmarkSplitParse5000(b *testing.B) {
	src := []byte(chainPipeline(5000))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if _, diags := parse(src, "x.hcl"); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}
