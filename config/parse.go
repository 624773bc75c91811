package config

import (
	"bytes"
	"fmt"
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
	if diags := checkNesting(src, filename); diags.HasErrors() {
		return nil, diags
	}
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

// maxNesting bounds how deeply brackets and braces nest, maxUnary how long a
// chain of unary operators may be. HCL's parser is recursive: a file of a few
// hundred kilobytes of "[" or "!" would otherwise overflow the goroutine
// stack, which kills the process.
const (
	maxNesting = 1000
	maxUnary   = 10000
)

// CheckSyntax parses src as a pipeline or variable file and returns its
// syntax errors (also for nesting too deep to parse safely), without
// decoding anything. pipe fmt uses it before formatting.
func CheckSyntax(src []byte, filename string) hcl.Diagnostics {
	if diags := checkNesting(src, filename); diags.HasErrors() {
		return diags
	}
	_, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	return diags
}

// checkNesting rejects files whose brackets or braces nest deeper than
// maxNesting or with a chain of unary operators ("!", "-") longer than
// maxUnary on one line. Brackets inside strings count too (an overestimate
// that only matters for absurd files); operators in comments and quoted
// strings do not.
func checkNesting(src []byte, filename string) hcl.Diagnostics {
	depth, unary := 0, 0
	line, col := 1, 1
	inString, inComment := false, false
	for i, c := range src {
		switch {
		case c == '\n':
			unary, inString, inComment = 0, false, false
		case inComment:
		case inString:
			switch c {
			case '"': // \" does not end the string
				if i == 0 || src[i-1] != '\\' {
					inString = false
				}
			case '{', '(', '[':
				depth++
			case '}', ')', ']':
				if depth > 0 {
					depth--
				}
			}
		default:
			switch c {
			case '"':
				inString = true
				unary = 0
			case '#':
				inComment = true
			case '/':
				if i+1 < len(src) && src[i+1] == '/' {
					inComment = true
				}
				unary = 0
			case '(', '[', '{':
				depth++
				unary = 0
			case ')', ']', '}':
				if depth > 0 {
					depth--
				}
				unary = 0
			case '!', '-':
				unary++
			case ' ', '\t', '\r':
			default:
				unary = 0
			}
		}
		if depth > maxNesting || unary > maxUnary {
			pos := hcl.Pos{Line: line, Column: col, Byte: i}
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Nesting too deep",
				Detail:   fmt.Sprintf("Brackets or braces nest more than %d levels deep here, or unary operators are chained more than %d times; pipe refuses such files.", maxNesting, maxUnary),
				Subject:  &hcl.Range{Filename: filename, Start: pos, End: pos},
			}}
		}
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return nil
}
