package config

import (
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics prints diags with file:line:col and the offending source
// lines (read from the files the diagnostics name; values given on the
// command line have no file and are printed without one). width wraps the
// text (0: no wrapping); color adds terminal colours.
func WriteDiagnostics(w io.Writer, diags hcl.Diagnostics, width uint, color bool) error {
	files := map[string]*hcl.File{}
	for _, d := range diags {
		for _, r := range []*hcl.Range{d.Subject, d.Context} {
			if r == nil || r.Filename == "" {
				continue
			}
			if _, done := files[r.Filename]; done {
				continue
			}
			b, err := os.ReadFile(r.Filename)
			if err != nil {
				files[r.Filename] = nil
				continue
			}
			files[r.Filename] = &hcl.File{Bytes: b}
		}
	}
	for k, f := range files {
		if f == nil {
			delete(files, k)
		}
	}
	return hcl.NewDiagnosticTextWriter(w, files, width, color).WriteDiagnostics(diags)
}

// didYouMean returns ` Did you mean "x"?` for the candidate closest to name,
// or "" when none is close.
func didYouMean(name string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := levenshtein(name, c)
		if d < 3 && (bestD < 0 || d < bestD) {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// levenshtein is the edit distance between a and b (by bytes).
func levenshtein(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
