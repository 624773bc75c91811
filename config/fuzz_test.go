package config

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// FuzzLoad feeds arbitrary pipeline text and one -var argument through the
// whole front end: parse, decode (variables, locals, pipeline, stages),
// references, the graph and its order, then resolution of every stage with
// unknown upstream outputs and again with the outputs known. Nothing may
// panic; a pipeline that loads must have a consistent order.
// Seeds: testdata/fuzz/FuzzLoad (every example and diagnostics case).
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`stage "a" { command = "true" }`), "")
	f.Add([]byte("variable \"n\" {\n type = number\n}\nstage \"a\" {\n retries = var.n\n}\n"), "n=2")
	f.Add([]byte(chainPipeline(5)), "out=o")
	cwd := f.TempDir()
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, src []byte, v string) {
		if strings.Contains(string(src), "**") || strings.Contains(string(src), "/dev/") {
			t.Skip("recursive globs could walk the whole file system; /dev files may never end")
		}
		// A watchdog: Go's fuzzer has no per-input time limit, so an input
		// that hangs would stall the run without saying which it is.
		// Crashing makes the fuzzer record it, with every goroutine's stack.
		watchdog := time.AfterFunc(20*time.Second, func() {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			os.WriteFile(filepath.Join(os.TempDir(), "pipe-fuzzload-hang.txt"), append([]byte(fmt.Sprintf("%q\n", src)), buf[:n]...), 0o644)
			panic(fmt.Sprintf("input took over 20 s:\n%s", buf[:n]))
		})
		defer watchdog.Stop()
		in := Inputs{Cwd: cwd}
		if v != "" {
			in.Vars = []string{v}
		}
		p, diags := LoadSource("fuzz.hcl", src, in, reg)
		if diags.HasErrors() {
			if p != nil {
				t.Fatal("errors but a pipeline")
			}
			for _, d := range diags {
				if d.Severity == 0 || d.Summary == "" {
					t.Fatalf("malformed diagnostic %#v", d)
				}
			}
			return
		}
		pos := map[string]int{}
		for i, st := range p.Order {
			pos[st.Name] = i
			if st.Index != i || p.Stages[st.Name] != st {
				t.Fatalf("stage %s: index %d at %d", st.Name, st.Index, i)
			}
			for _, d := range st.Deps {
				if j, ok := pos[d]; !ok || j >= i {
					t.Fatalf("stage %s before its dependency %s", st.Name, d)
				}
			}
		}
		if len(p.Order) != len(p.Stages) || p.Graph.Len() != len(p.Stages) {
			t.Fatalf("%d ordered, %d stages, %d nodes", len(p.Order), len(p.Stages), p.Graph.Len())
		}
		p.ResolveAll(nil)
		p.ResolveAll(func(string) map[string]cty.Value {
			return map[string]cty.Value{"model": cty.StringVal("m"), "loss": cty.Zero, "dir": cty.StringVal("d")}
		})
	})
}

// FuzzParseSplit checks that the parallel split parse of large files gives
// exactly the whole-file parse, or falls back to it.
func FuzzParseSplit(f *testing.F) {
	f.Add([]byte(chainPipeline(3)))
	f.Add([]byte("stage \"a\" {\n  command = <<EOT\nstage \"b\" {\nEOT\n}\nstage \"c\" {}\n"))
	f.Add([]byte("/*\nstage \"a\" {}\n*/\nlocals {\n  x = [\n1]\n}\nvariable \"v\" {}\n"))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	f.Fuzz(func(t *testing.T, src []byte) {
		watchdog := time.AfterFunc(20*time.Second, func() {
			panic(fmt.Sprintf("input took over 20 s: %q", src))
		})
		defer watchdog.Stop()
		checkSplitParse(t, src)
	})
}
