package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/spf13/cobra"

	"github.com/pipeml/pipe/config"
	"github.com/pipeml/pipe/internal/atomicfile"
)

// fmtExtensions are the file name endings pipe fmt formats in directories.
var fmtExtensions = []string{".hcl", ".pipevars"}

func newFmtCmd(g *globals) *cobra.Command {
	var check, recursive bool
	cmd := &cobra.Command{
		Use:   "fmt [PATH...]",
		Short: "Rewrite pipeline and variable files in canonical HCL style",
		Long: `Rewrite pipeline files (.hcl) and variable files (.pipevars) in the
canonical HCL layout (indentation, aligned equals signs), like terraform fmt.
PATH is a file or a directory (its .hcl and .pipevars files; -r descends
into subdirectories); the default is the current directory; "-" formats
standard input to standard output. The names of rewritten files are printed.
With --check nothing is written: the files that need formatting are listed
and the exit status is 1 when there are any. A file with syntax errors is
reported with file:line:col (exit status 2) and left alone.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"."}
			}
			if len(args) == 1 && args[0] == "-" {
				src, err := io.ReadAll(cmd.InOrStdin())
				if err != nil {
					return fmt.Errorf("fmt: read standard input: %w", err)
				}
				out, err := formatHCL(g, "<stdin>", src)
				if err != nil {
					return err
				}
				if check {
					if !bytes.Equal(out, src) {
						fmt.Fprintln(g.stdout, "<stdin>")
						return &exitError{code: 1, err: errNotFormatted, reported: true}
					}
					return nil
				}
				_, err = g.stdout.Write(out)
				return err
			}
			files, err := fmtFiles(args, recursive)
			if err != nil {
				return usageErr(fmt.Errorf("fmt: %w", err))
			}
			var firstErr error
			unformatted := 0
			for _, f := range files {
				changed, err := fmtFile(g, f, check)
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				if changed {
					unformatted++
					fmt.Fprintln(g.stdout, f)
				}
			}
			if firstErr != nil {
				return firstErr
			}
			if check && unformatted > 0 {
				return &exitError{code: 1, err: errNotFormatted, reported: true}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only list files that need formatting; exit status 1 when there are any")
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "also format files in subdirectories")
	return cmd
}

// fmtFiles expands paths: files as given, directories to their .hcl and
// .pipevars files (sorted).
func fmtFiles(paths []string, recursive bool) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && (!recursive || strings.HasPrefix(d.Name(), ".")) {
					return filepath.SkipDir
				}
				return nil
			}
			for _, ext := range fmtExtensions {
				if strings.HasSuffix(d.Name(), ext) {
					found = append(found, path)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// fmtFile formats one file in place (atomically) and reports whether it
// changed; with check it only reports.
func fmtFile(g *globals, path string, check bool) (bool, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return false, usageErr(fmt.Errorf("fmt: %w", err))
	}
	out, err := formatHCL(g, path, src)
	if err != nil {
		return false, err
	}
	if bytes.Equal(out, src) {
		return false, nil
	}
	if check {
		return true, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return false, fmt.Errorf("fmt: %w", err)
	}
	if err := atomicfile.WriteFile(path, out, fi.Mode().Perm()); err != nil {
		return false, fmt.Errorf("fmt: write %s: %w", path, err)
	}
	return true, nil
}

// formatHCL checks the syntax of src (printing diagnostics) and returns it
// in canonical layout.
func formatHCL(g *globals, name string, src []byte) ([]byte, error) {
	if diags := config.CheckSyntax(src, name); diags.HasErrors() {
		return nil, reportDiags(g, diags)
	}
	return hclwrite.Format(src), nil
}
