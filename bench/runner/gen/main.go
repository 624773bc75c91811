// Command gen writes one benchmark pipeline in three equivalent forms: a pipe
// pipeline (pipeline.hcl), a Makefile and a go-task Taskfile.yml, each with N
// stages that `touch` one file under out/.
//
//	go run ./bench/runner/gen -shape chain -n 1000 -dir /tmp/b/chain-1000
//
// Shapes: chain (stage i depends on stage i-1 and reads its file) and fan (one
// root, N-2 stages that each read the root's file, and a join reading all of
// them). The directory must hold an out/ directory before the first run (the
// script creates it) so that every stage is a bare `touch`.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	shape := flag.String("shape", "chain", "chain or fan")
	n := flag.Int("n", 100, "number of stages (>= 3)")
	dir := flag.String("dir", "", "output directory")
	flag.Parse()
	if *dir == "" || *n < 3 || (*shape != "chain" && *shape != "fan") {
		fmt.Fprintln(os.Stderr, "usage: gen -shape chain|fan -n N (>= 3) -dir DIR")
		os.Exit(2)
	}
	if err := write(*dir, *shape, *n); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// deps returns the stages stage i depends on.
func deps(shape string, n, i int) []int {
	switch {
	case i == 0:
		return nil
	case shape == "chain":
		return []int{i - 1}
	case i < n-1:
		return []int{0}
	default:
		d := make([]int, 0, n-2)
		for j := 1; j < n-1; j++ {
			d = append(d, j)
		}
		return d
	}
}

func write(dir, shape string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]func(*bufio.Writer){
		"pipeline.hcl": func(w *bufio.Writer) {
			for i := 0; i < n; i++ {
				fmt.Fprintf(w, "stage \"s%d\" {\n", i)
				ds := deps(shape, n, i)
				if len(ds) > 0 {
					fmt.Fprintf(w, "  inputs  = concat(")
					for k, d := range ds {
						if k > 0 {
							w.WriteString(", ")
						}
						fmt.Fprintf(w, "stage.s%d.outputs", d)
					}
					w.WriteString(")\n")
				}
				fmt.Fprintf(w, "  outputs = [\"out/s%d\"]\n  command = [\"touch\", \"out/s%d\"]\n}\n", i, i)
			}
		},
		"Makefile": func(w *bufio.Writer) {
			fmt.Fprintf(w, "all: out/s%d\n\n", n-1)
			for i := 0; i < n; i++ {
				fmt.Fprintf(w, "out/s%d:", i)
				for _, d := range deps(shape, n, i) {
					fmt.Fprintf(w, " out/s%d", d)
				}
				w.WriteString("\n\ttouch $@\n")
			}
		},
		"Taskfile.yml": func(w *bufio.Writer) {
			fmt.Fprintf(w, "version: '3'\n\ntasks:\n  default:\n    deps: [s%d]\n", n-1)
			for i := 0; i < n; i++ {
				fmt.Fprintf(w, "  s%d:\n", i)
				ds := deps(shape, n, i)
				if len(ds) > 0 {
					w.WriteString("    deps: [")
					for k, d := range ds {
						if k > 0 {
							w.WriteString(", ")
						}
						fmt.Fprintf(w, "s%d", d)
					}
					w.WriteString("]\n    sources:\n")
					for _, d := range ds {
						fmt.Fprintf(w, "      - out/s%d\n", d)
					}
				} else {
					fmt.Fprintf(w, "    status:\n      - test -f out/s%d\n", i)
				}
				fmt.Fprintf(w, "    generates: [out/s%d]\n    cmds:\n      - touch out/s%d\n", i, i)
			}
		},
	}
	for name, gen := range files {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		gen(w)
		if err := w.Flush(); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", name, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}
