package config

import (
	"bytes"
	"runtime"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// parallelParseMin is the file size from which parse splits the file.
const parallelParseMin = 64 << 10

// topLevelKeywords start the lines where parse may split a file.
var topLevelKeywords = [][]byte{[]byte("stage"), []byte("variable"), []byte("locals"), []byte("pipeline")}

// parse parses a pipeline file. Large files are split before lines that
// start (in column 1) with a top-level block keyword and the pieces are
// parsed in parallel, each with its true start position, so ranges are
// those of a whole-file parse. A piece that does not parse on its own means
// the split fell inside a construct (a heredoc, a comment, an unclosed
// bracket): then, as for any syntax error, the whole file is parsed again in
// one piece, which gives the diagnostics of a plain parse. HCL's parser runs
// at only a few MB/s, so this matters for pipelines of thousands of stages.
func parse(src []byte, filename string) (*hclsyntax.Body, hcl.Diagnostics) {
	if len(src) >= parallelParseMin {
		if body, ok := parseSplit(src, filename); ok {
			return body, nil
		}
	}
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	return f.Body.(*hclsyntax.Body), diags
}

// splitPoints returns the byte offsets of lines starting with a top-level
// keyword followed by a space, a quote or a brace.
func splitPoints(src []byte) []int {
	var pts []int
	for i := 0; i < len(src); {
		if i == 0 || src[i-1] == '\n' {
			for _, kw := range topLevelKeywords {
				if bytes.HasPrefix(src[i:], kw) && len(src) > i+len(kw) {
					switch src[i+len(kw)] {
					case ' ', '\t', '"', '{':
						if i > 0 {
							pts = append(pts, i)
						}
					}
					break
				}
			}
		}
		j := bytes.IndexByte(src[i:], '\n')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return pts
}

// parseSplit parses src in pieces; ok is false when a piece has errors or
// top-level attributes (let a whole-file parse report them).
func parseSplit(src []byte, filename string) (*hclsyntax.Body, bool) {
	pts := splitPoints(src)
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || len(pts) == 0 {
		return nil, false
	}
	// About four pieces per worker, cut at split points.
	target := len(src)/(4*workers) + 1
	starts := []int{0}
	for _, p := range pts {
		if p-starts[len(starts)-1] >= target {
			starts = append(starts, p)
		}
	}
	type piece struct {
		start, end int
		pos        hcl.Pos
		body       *hclsyntax.Body
		bad        bool
	}
	pieces := make([]piece, len(starts))
	line := 1
	for i, s := range starts {
		if i > 0 {
			line += bytes.Count(src[starts[i-1]:s], []byte{'\n'})
		}
		end := len(src)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		pieces[i] = piece{start: s, end: end, pos: hcl.Pos{Line: line, Column: 1, Byte: s}}
	}
	var wg sync.WaitGroup
	next := make(chan int, len(pieces))
	for i := range pieces {
		next <- i
	}
	close(next)
	for w := 0; w < workers && w < len(pieces); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				pc := &pieces[i]
				f, diags := hclsyntax.ParseConfig(src[pc.start:pc.end], filename, pc.pos)
				if diags.HasErrors() {
					pc.bad = true
					continue
				}
				pc.body = f.Body.(*hclsyntax.Body)
				pc.bad = len(pc.body.Attributes) > 0
			}
		}()
	}
	wg.Wait()
	// A piece is trusted only if everything before it parsed: a piece that
	// parses from a true block boundary ends at one (an open heredoc,
	// comment or bracket would be an error). A failed piece is parsed again
	// joined with the following ones, a few at most, before giving up.
	body := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}}
	var lastBody *hclsyntax.Body
	for i := 0; i < len(pieces); i++ {
		pc := pieces[i]
		if !pc.bad {
			body.Blocks = append(body.Blocks, pc.body.Blocks...)
			lastBody = pc.body
			continue
		}
		joined := false
		for j := i + 1; j < len(pieces) && j <= i+2; j++ {
			f, diags := hclsyntax.ParseConfig(src[pc.start:pieces[j].end], filename, pc.pos)
			if diags.HasErrors() {
				continue
			}
			b := f.Body.(*hclsyntax.Body)
			if len(b.Attributes) > 0 {
				return nil, false
			}
			body.Blocks = append(body.Blocks, b.Blocks...)
			lastBody, i, joined = b, j, true
			break
		}
		if !joined {
			return nil, false
		}
	}
	body.SrcRange = hcl.Range{Filename: filename, Start: hcl.InitialPos, End: lastBody.SrcRange.End}
	body.EndRange = lastBody.EndRange
	return body, true
}
