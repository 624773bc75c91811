package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/pipeml/pipe/config"
	"github.com/pipeml/pipe/runner"
	"github.com/pipeml/pipe/stages"
)

// compiledDir is the directory under the state directory that holds the
// compiled-pipeline caches, one file per pipeline file path.
const compiledDir = "compiled"

// noCompiledEnv turns the compiled-pipeline cache off when set to "off".
const noCompiledEnv = "PIPE_COMPILED_CACHE"

// noDecisionsEnv turns the decision snapshot off when set to "off" (it is
// off as well when the compiled-pipeline cache is).
const noDecisionsEnv = "PIPE_DECISION_CACHE"

// decisionsFile is the decision snapshot file (runner.Options.Decisions)
// of the pipeline named by args: beside its compiled pipeline. "" when
// either cache is turned off, or there is no state directory (a plan
// creates none).
func decisionsFile(g *globals, args []string) string {
	if os.Getenv(noCompiledEnv) == "off" || os.Getenv(noDecisionsEnv) == "off" {
		return ""
	}
	if _, err := os.Stat(g.stateDir); err != nil {
		return ""
	}
	return compiledFile(g.stateDir, pipelineFile(args)) + ".decisions"
}

// openPipeline loads the pipeline for run and plan through the compiled-
// pipeline cache (runner.Compiled) in the state directory: a valid cache
// serves the stages without parsing the file; otherwise the file is loaded
// and what this invocation resolves is saved for the next one by
// (*runner.Compiled).Save. PIPE_COMPILED_CACHE=off loads the file every time
// and writes no cache.
func openPipeline(g *globals, path string, f *pipelineFlags) (*runner.Compiled, error) {
	reg, err := newRegistry()
	if err != nil {
		return nil, fmt.Errorf("stage kinds: %w", err)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		// Let Load report it as it does.
		src = nil
	}
	env := os.Environ()
	load := func() (*config.Pipeline, bool, error) {
		if src == nil {
			p, err := loadPipeline(g, path, f)
			return p, false, err
		}
		return loadPipelineSource(g, path, src, f, reg)
	}
	file, key := "", ""
	if src != nil && os.Getenv(noCompiledEnv) != "off" {
		file, key = compiledFile(g.stateDir, path), compiledKey(path, src, f, env, reg)
	}
	if key == "" {
		file = ""
	}
	return runner.OpenCompiled(file, key, env, reg, load)
}

// compiledFile is the cache file of the pipeline at path: named after a
// hash of its absolute path, so that pipelines sharing a state directory
// do not evict each other.
func compiledFile(stateDir, path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	h := sha256.Sum256([]byte(abs))
	return filepath.Join(stateDir, compiledDir, hex.EncodeToString(h[:8]))
}

// compiledKey is the key of a compiled pipeline: a hash of everything Load
// reads besides what it records as config.Read (env(), file(), -var-file
// contents, globs): this binary (version, and the size, modification time
// and inode of the executable, so that any rebuild invalidates), the
// pipeline file's path and bytes, the working directory, -var and -var-file
// arguments in order, the PIPE_VAR_* environment in order, and each kind's
// name and version. "" when the binary cannot be identified (no cache).
func compiledKey(path string, src []byte, f *pipelineFlags, env []string, reg *stages.Registry) string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return ""
	}
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	cwd, err := os.Getwd()
	if err != nil {
		return ""
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	h := sha256.New()
	put := func(s string) { // "%d:%s\n", without fmt's copy of big strings
		h.Write(strconv.AppendInt(nil, int64(len(s)), 10))
		h.Write([]byte{':'})
		io.WriteString(h, s)
		h.Write([]byte{'\n'})
	}
	put("pipe compiled key v1")
	put(version)
	put(fmt.Sprintf("%s %d %d %d", exe, fi.Size(), fi.ModTime().UnixNano(), ino))
	put(abs)
	put(string(src))
	put(cwd)
	put(fmt.Sprint(len(f.vars)))
	for _, v := range f.vars {
		put(v)
	}
	put(fmt.Sprint(len(f.varFiles)))
	for _, v := range f.varFiles {
		put(v)
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, config.EnvPrefix) {
			put(kv)
		}
	}
	put("kinds")
	for _, name := range reg.Names() {
		k, _ := reg.Lookup(name)
		put(name)
		put(k.Version())
	}
	return hex.EncodeToString(h.Sum(nil))
}
