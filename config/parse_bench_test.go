package config

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

func BenchmarkParseOnly5000(b *testing.B) {
	src := []byte(chainPipeline(5000))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		hclsyntax.ParseConfig(src, "x.hcl", hcl.InitialPos)
	}
}

func BenchmarkLexOnly5000(b *testing.B) {
	src := []byte(chainPipeline(5000))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		hclsyntax.LexConfig(src, "x.hcl", hcl.InitialPos)
	}
}

func BenchmarkLexOnly500(b *testing.B) {
	src := []byte(chainPipeline(500))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		hclsyntax.LexConfig(src, "x.hcl", hcl.InitialPos)
	}
}
