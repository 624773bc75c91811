package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"

	"github.com/zclconf/go-cty/cty"
)

// Read is one thing a pipeline read from outside its file and its Inputs'
// var flags while it was loaded or resolved: an environment variable (env()),
// a file's content (file(), -var-file), whether a path exists (fileexists()),
// or the matches of a glob (glob(), globs in `inputs`). Result is a digest
// of what was seen, so that CheckReads can tell cheaply whether the same
// read would now give the same answer. A cache of evaluated stages is valid
// only while every Read it depended on still holds.
type Read struct {
	// Func is "env", "file", "stat" or "glob".
	Func string
	// Arg is the variable name, or the absolute path or pattern.
	Arg string
	// Result digests what the read gave ("unset", "missing", "sha256:...",
	// "file", "dir", "error: ...").
	Result string
}

// readLog records the reads of one pipeline; Resolve may run on many
// goroutines, hence the mutex.
type readLog struct {
	mu   sync.Mutex
	seen map[[2]string]string
}

func (l *readLog) add(fn, arg, result string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[[2]string]string{}
	}
	l.seen[[2]string{fn, arg}] = result
}

// readFile reads path and records the read.
func (l *readLog) readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	l.add("file", path, fileResult(b, err))
	return b, err
}

// stat stats path and records the kind of answer.
func (l *readLog) stat(path string) (fs.FileInfo, error) {
	fi, err := os.Stat(path)
	l.add("stat", path, statResult(fi, err))
	return fi, err
}

// glob expands an absolute pattern and records the matches.
func (l *readLog) glob(pattern string) ([]string, error) {
	m, err := expandGlob(pattern)
	l.add("glob", pattern, globResult(m, err))
	return m, err
}

// env looks a variable up and records whether and to what it was set.
func (l *readLog) env(env map[string]string, name string) (string, bool) {
	v, ok := env[name]
	l.add("env", name, envResult(v, ok))
	return v, ok
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write([]byte(p))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func fileResult(b []byte, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "missing"
	case err != nil:
		return "error: " + err.Error()
	}
	return digest(string(b))
}

func statResult(fi fs.FileInfo, err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "missing"
	case err != nil:
		return "error: " + err.Error()
	case fi.IsDir():
		return "dir"
	}
	return "file"
}

func globResult(m []string, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return digest(m...)
}

func envResult(v string, ok bool) string {
	if !ok {
		return "unset"
	}
	return digest(v)
}

// Reads returns every outside read made so far by Load and Resolve on p,
// sorted by Func and Arg.
func (p *Pipeline) Reads() []Read {
	l := p.reads
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Read, 0, len(l.seen))
	for k, r := range l.seen {
		out = append(out, Read{Func: k[0], Arg: k[1], Result: r})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Func != out[j].Func {
			return out[i].Func < out[j].Func
		}
		return out[i].Arg < out[j].Arg
	})
	return out
}

// CheckReads repeats reads (env lookups in env, given as os.Environ()
// strings; file reads; stats; glob expansions) and returns an error naming
// the first one whose answer changed, nil when all still hold.
func CheckReads(reads []Read, env []string) error {
	var em map[string]string
	for _, r := range reads {
		var got string
		switch r.Func {
		case "env":
			if em == nil {
				em = envMap(env)
			}
			v, ok := em[r.Arg]
			got = envResult(v, ok)
		case "file":
			b, err := os.ReadFile(r.Arg)
			got = fileResult(b, err)
		case "stat":
			fi, err := os.Stat(r.Arg)
			got = statResult(fi, err)
		case "glob":
			got = globResult(expandGlob(r.Arg))
		default:
			return fmt.Errorf("unknown read %q of %s", r.Func, r.Arg)
		}
		if got != r.Result {
			return fmt.Errorf("%s %s changed", r.Func, r.Arg)
		}
	}
	return nil
}

// ValueTemplate returns what Value is made of: the attributes other stages
// read, with their values (static), and the kind's outputs they read, with
// their types (outputs). Value(o) is the object of static plus, for each
// name in outputs, o[name] or an unknown value of its type. A cache of
// resolved stages stores these to rebuild Value without the pipeline.
func (r *Resolved) ValueTemplate() (static map[string]cty.Value, outputs map[string]cty.Type) {
	static, outputs = map[string]cty.Value{}, map[string]cty.Type{}
	st := r.stage
	if st != nil && !st.refAll {
		for k := range st.refs {
			if ty, isOut := r.outputs[k]; isOut {
				outputs[k] = ty
			} else if v, ok := r.attrs[k]; ok {
				static[k] = v
			}
		}
		return static, outputs
	}
	for k, v := range r.attrs {
		if _, isOut := r.outputs[k]; !isOut {
			static[k] = v
		}
	}
	for k, ty := range r.outputs {
		outputs[k] = ty
	}
	return static, outputs
}
