package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/pipeml/pipe/state/filehash"
)

// functions returns the functions a pipeline may call. Relative paths given
// to the file functions resolve against cwd; env reads the environment
// given to Load, not the process's.
func functions(cwd string, env map[string]string, log *readLog) map[string]function.Function {
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(cwd, p)
	}
	return map[string]function.Function{
		// go-cty standard library.
		"abs":             stdlib.AbsoluteFunc,
		"ceil":            stdlib.CeilFunc,
		"chomp":           stdlib.ChompFunc,
		"chunklist":       stdlib.ChunklistFunc,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"csvdecode":       stdlib.CSVDecodeFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"floor":           stdlib.FloorFunc,
		"format":          stdlib.FormatFunc,
		"formatdate":      stdlib.FormatDateFunc,
		"formatlist":      stdlib.FormatListFunc,
		"indent":          stdlib.IndentFunc,
		"index":           stdlib.IndexFunc,
		"int":             stdlib.IntFunc,
		"join":            stdlib.JoinFunc,
		"jsondecode":      stdlib.JSONDecodeFunc,
		"jsonencode":      stdlib.JSONEncodeFunc,
		"keys":            stdlib.KeysFunc,
		"length":          stdlib.LengthFunc,
		"log":             stdlib.LogFunc,
		"lookup":          stdlib.LookupFunc,
		"lower":           stdlib.LowerFunc,
		"max":             stdlib.MaxFunc,
		"merge":           stdlib.MergeFunc,
		"min":             stdlib.MinFunc,
		"parseint":        stdlib.ParseIntFunc,
		"pow":             stdlib.PowFunc,
		"range":           stdlib.RangeFunc,
		"regex":           stdlib.RegexFunc,
		"regexall":        stdlib.RegexAllFunc,
		"regex_replace":   stdlib.RegexReplaceFunc,
		"replace":         stdlib.ReplaceFunc,
		"reverse":         stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"signum":          stdlib.SignumFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"split":           stdlib.SplitFunc,
		"strlen":          stdlib.StrlenFunc,
		"strrev":          stdlib.ReverseFunc,
		"substr":          stdlib.SubstrFunc,
		"timeadd":         stdlib.TimeAddFunc,
		"title":           stdlib.TitleFunc,
		"trim":            stdlib.TrimFunc,
		"trimprefix":      stdlib.TrimPrefixFunc,
		"trimspace":       stdlib.TrimSpaceFunc,
		"trimsuffix":      stdlib.TrimSuffixFunc,
		"upper":           stdlib.UpperFunc,
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,
		"tostring":        stdlib.MakeToFunc(cty.String),
		"tonumber":        stdlib.MakeToFunc(cty.Number),
		"tobool":          stdlib.MakeToFunc(cty.Bool),
		"tolist":          stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"toset":           stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tomap":           stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"try":             tryfunc.TryFunc,
		"can":             tryfunc.CanFunc,

		// Files and paths.
		"file":       fileFunc(abs, log),
		"fileexists": fileExistsFunc(abs, log),
		"abspath":    stringFunc("path", abs),
		"basename":   stringFunc("path", filepath.Base),
		"dirname":    stringFunc("path", filepath.Dir),
		"pathjoin":   pathJoinFunc(),
		"glob":       globFunc(cwd, log),
		"env":        envFunc(env, log),
	}
}

// stringFunc makes a function of one string argument.
func stringFunc(param string, f func(string) string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: param, Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(f(args[0].AsString())), nil
		},
	})
}

func fileFunc(abs func(string) string, log *readLog) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := abs(args[0].AsString())
			b, err := log.readFile(p)
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "read %s: %s", p, unwrapPathError(err))
			}
			if !utf8.Valid(b) {
				return cty.NilVal, function.NewArgErrorf(0, "%s is not valid UTF-8 text", p)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

func fileExistsFunc(abs func(string) string, log *readLog) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := abs(args[0].AsString())
			fi, err := log.stat(p)
			if err != nil {
				if os.IsNotExist(err) {
					return cty.False, nil
				}
				return cty.NilVal, function.NewArgErrorf(0, "stat %s: %s", p, unwrapPathError(err))
			}
			if fi.IsDir() {
				return cty.NilVal, function.NewArgErrorf(0, "%s is a directory, not a file", p)
			}
			return cty.True, nil
		},
	})
}

func pathJoinFunc() function.Function {
	return function.New(&function.Spec{
		VarParam: &function.Parameter{Name: "parts", Type: cty.String},
		Type:     function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			parts := make([]string, len(args))
			for i, a := range args {
				parts[i] = a.AsString()
			}
			return cty.StringVal(filepath.Join(parts...)), nil
		},
	})
}

// globFunc returns the sorted matches of a pattern ("**" matches any number
// of directories); relative patterns give paths relative to cwd.
func globFunc(cwd string, log *readLog) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "pattern", Type: cty.String}},
		Type:   function.StaticReturnType(cty.List(cty.String)),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			pat := args[0].AsString()
			rel := !filepath.IsAbs(pat)
			full := pat
			if rel {
				full = filepath.Join(cwd, pat)
			}
			matches, err := log.glob(full)
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			if len(matches) == 0 {
				return cty.ListValEmpty(cty.String), nil
			}
			out := make([]cty.Value, len(matches))
			for i, m := range matches {
				if rel {
					if r, err := filepath.Rel(cwd, m); err == nil {
						m = r
					}
				}
				out[i] = cty.StringVal(m)
			}
			return cty.ListVal(out), nil
		},
	})
}

// envFunc returns env(name[, default]): the variable's value, the default
// when it is unset, or an error naming it when unset without a default.
func envFunc(env map[string]string, log *readLog) function.Function {
	return function.New(&function.Spec{
		Params:   []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam: &function.Parameter{Name: "default", Type: cty.String},
		Type:     function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default")
			}
			name := args[0].AsString()
			if v, ok := log.env(env, name); ok {
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.NilVal, function.NewArgErrorf(0, "environment variable %q is not set (give a default: env(%q, \"\"))", name, name)
		},
	})
}

// hasMeta reports whether p holds glob metacharacters.
func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// expandGlob expands an absolute pattern. Without metacharacters it returns
// the pattern itself when the path exists and nothing otherwise. "**" as a
// whole path element matches zero or more directories; such patterns match
// files, not directories. Results are sorted and unique.
func expandGlob(pattern string) ([]string, error) {
	if !hasMeta(pattern) {
		if _, err := os.Lstat(pattern); err != nil {
			return nil, nil
		}
		return []string{pattern}, nil
	}
	segs := strings.Split(filepath.ToSlash(pattern), "/")
	hasStar2 := false
	for _, s := range segs {
		if s == "**" {
			hasStar2 = true
		} else if strings.Contains(s, "**") {
			return nil, fmt.Errorf("glob %q: ** must be a whole path element (a/**/b)", pattern)
		}
		if _, err := filepath.Match(s, ""); err != nil {
			return nil, fmt.Errorf("glob %q: %w", pattern, err)
		}
	}
	if !hasStar2 {
		m, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("glob %q: %w", pattern, err)
		}
		sort.Strings(m)
		return m, nil
	}
	// Walk from the longest prefix without metacharacters.
	i := 0
	for i < len(segs) && !hasMeta(segs[i]) && segs[i] != "**" {
		i++
	}
	root := filepath.FromSlash(strings.Join(segs[:i], "/"))
	if root == "" {
		root = "/"
	}
	rest := segs[i:]
	root = filehash.WalkRoot(root) // a link to a directory is walked, as inputs are hashed
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if p == root && os.IsNotExist(err) {
				return filepath.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return rerr
		}
		if matchSegs(rest, strings.Split(filepath.ToSlash(rel), "/")) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("glob %q: %w", pattern, err)
	}
	return out, nil
}

// matchSegs matches path elements against pattern elements, "**" matching
// any number of elements.
func matchSegs(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for len(pat) > 0 && pat[0] == "**" {
				pat = pat[1:]
			}
			if len(pat) == 0 {
				return true
			}
			for k := 0; k <= len(name); k++ {
				if matchSegs(pat, name[k:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := filepath.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// unwrapPathError drops the operation and path from an *os.PathError, which
// the callers name themselves.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
