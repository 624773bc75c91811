package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/config"
	"github.com/pipeml/pipe/internal/atomicfile"
	"github.com/pipeml/pipe/stages"
)

// Compiled is a Pipeline served from a cache file of pre-evaluated stages
// (the "compiled pipeline"), so that an up-to-date run or a plan need not
// parse and evaluate the pipeline file again.
//
// The file holds a key (computed by the caller from everything Load reads
// directly: the pipe binary, the pipeline file's bytes, -var and -var-file
// arguments, PIPE_VAR_* variables, the working directory, the kinds and
// their versions), the reads the pipeline made from outside (config.Read:
// env(), file(), fileexists(), glob() and `inputs` globs, -var-file
// contents), the stage order and dependencies, and for each stage up to
// two resolved forms, each keyed by a hash of the upstream values it was
// resolved with. The cache is used only when the key matches and every
// recorded read gives the same answer again (config.CheckReads); a stage
// whose upstream values hash differently from every cached form — an
// upstream stage published new outputs, or will run — is resolved by the
// real pipeline, loaded then (once). Stages with unknown or sensitive
// attributes are never cached.
type Compiled struct {
	file, key string
	reg       *stages.Registry
	load      func() (*config.Pipeline, bool, error)

	fromCache bool   // the file was valid
	why       string // why not, when it was not
	path      string
	maxPar    int
	reads     []config.Read
	order     []string
	index     map[string]int
	deps      [][]string

	mu      sync.Mutex
	entries [][]cacheEntry // per stage, newest first
	dirty   bool
	p       *config.Pipeline
	loadErr error
	loaded  bool
	noSave  bool
}

// cacheEntry is one resolved form of a stage.
type cacheEntry struct {
	up   [32]byte // hash of the upstream values
	data []byte   // encodeStage
}

// cacheMagic starts a cache file; bump the version with any format change.
const cacheMagic = "pipe compiled pipeline v2\n"

// castagnoli is the CRC-32C table of the checksum that ends a cache file
// (the body after the magic line), so that a damaged file is not used.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entriesPerStage is how many resolved forms of a stage the cache keeps.
const entriesPerStage = 2

// OpenCompiled returns the pipeline cached in file (none when file is "")
// when the file holds key
// and every read recorded in it still gives the same answer (env is the
// environment, as os.Environ()); otherwise it calls load at once and
// returns a Compiled that serves load's pipeline and records what it
// resolves, for Save. load reports whether its pipeline may be cached (a
// pipeline loaded with warnings is not, so that they are shown every time);
// its error (diagnostics) is returned as it is. A missing, stale or
// unreadable cache file is not an error. load is also what a cache miss
// calls later, at most once.
func OpenCompiled(file, key string, env []string, reg *stages.Registry, load func() (*config.Pipeline, bool, error)) (*Compiled, error) {
	c := &Compiled{file: file, key: key, reg: reg, load: load}
	if file == "" {
		c.why = "off"
	} else if err := c.readFile(env); err != nil {
		c.why = err.Error()
	} else {
		c.fromCache = true
		return c, nil
	}
	p, err := c.config()
	if err != nil {
		return nil, err
	}
	c.path, c.maxPar = p.Path, p.MaxParallel
	c.order = make([]string, len(p.Order))
	c.index = make(map[string]int, len(p.Order))
	c.deps = make([][]string, len(p.Order))
	for i, s := range p.Order {
		c.order[i] = s.Name
		c.index[s.Name] = i
		c.deps[i] = s.Deps
	}
	c.entries = make([][]cacheEntry, len(c.order))
	c.dirty = true
	return c, nil
}

// FromCache reports whether the pipeline came from a valid cache file.
func (c *Compiled) FromCache() bool { return c.fromCache }

// Status says how the pipeline was served, for debug logs and tests:
// "cached" (every stage from the cache), "cached, loaded on a miss", or
// "loaded (REASON)" where REASON says why the cache file was not used.
func (c *Compiled) Status() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.fromCache && !c.loaded:
		return "cached"
	case c.fromCache:
		return "cached, loaded on a miss"
	}
	return "loaded (" + c.why + ")"
}

// Loaded reports whether the pipeline file was loaded (a cache miss).
func (c *Compiled) Loaded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loaded
}

// Path is the pipeline file's absolute path.
func (c *Compiled) Path() string { return c.path }

// MaxParallel is the pipeline's pipeline { max_parallel } (0: not set).
func (c *Compiled) MaxParallel() int { return c.maxPar }

// Order implements Pipeline.
func (c *Compiled) Order() []string { return append([]string(nil), c.order...) }

// Deps implements Pipeline.
func (c *Compiled) Deps(name string) []string {
	if i, ok := c.index[name]; ok {
		return c.deps[i]
	}
	return nil
}

// config loads the pipeline once.
func (c *Compiled) config() (*config.Pipeline, error) {
	if !c.loaded {
		c.loaded = true
		var cacheable bool
		c.p, cacheable, c.loadErr = c.load()
		if !cacheable {
			c.noSave = true
		}
		if c.p != nil && c.fromCache {
			// The file may have changed between the check and the load:
			// then the entries read from the cache are not trusted.
			old := make(map[[2]string]string, len(c.reads))
			for _, r := range c.reads {
				old[[2]string{r.Func, r.Arg}] = r.Result
			}
			for _, r := range c.p.Reads() {
				if res, ok := old[[2]string{r.Func, r.Arg}]; ok && res != r.Result {
					c.noSave = true
				}
			}
		}
	}
	return c.p, c.loadErr
}

// Resolve implements Pipeline.
func (c *Compiled) Resolve(name string, upstream map[string]cty.Value) (*Stage, error) {
	i, ok := c.index[name]
	if !ok {
		return nil, fmt.Errorf("no stage named %q", name)
	}
	up, hashable := upstreamKey(c.deps[i], upstream)
	c.mu.Lock()
	defer c.mu.Unlock()
	if hashable {
		for _, e := range c.entries[i] {
			if e.up == up {
				if st, err := c.decodeStage(e.data); err == nil {
					return st, nil
				}
				break
			}
		}
	}
	p, err := c.config()
	if err != nil {
		return nil, err
	}
	r, diags := p.Resolve(name, upstream)
	if diags.HasErrors() {
		return nil, diags
	}
	if hashable {
		if data, ok := encodeStage(r); ok {
			es := []cacheEntry{{up: up, data: data}}
			for _, e := range c.entries[i] {
				if e.up != up && len(es) < entriesPerStage {
					es = append(es, e)
				}
			}
			c.entries[i] = es
			c.dirty = true
		}
	}
	return stageFromResolved(r), nil
}

// upstreamKey hashes the upstream values of a stage's dependencies, as
// config's Resolve sees them (missing or nil: unknown). ok is false when a
// value cannot be encoded (unknown parts, sensitive marks).
func upstreamKey(deps []string, upstream map[string]cty.Value) (key [32]byte, ok bool) {
	var e encoder
	for _, d := range deps {
		e.str(d)
		v, ok := upstream[d]
		if !ok || v == cty.NilVal {
			return key, false
		}
		if err := e.value(v); err != nil {
			return key, false
		}
	}
	return sha256.Sum256(e.b), true
}

// encodeStage encodes a resolved stage for the cache; ok is false for a
// stage that cannot be cached (unknown or sensitive attributes, values the
// codec does not take).
func encodeStage(r *config.Resolved) ([]byte, bool) {
	if len(r.Unknown) > 0 || len(r.Sensitive) > 0 {
		return nil, false
	}
	static, outs := r.ValueTemplate()
	var e encoder
	e.str(r.Name)
	e.str(r.Kind.Name())
	if err := e.value(r.Config); err != nil {
		return nil, false
	}
	e.str(r.Shell)
	e.strs(r.Argv)
	e.bool(r.Env != nil)
	e.uvarint(uint64(len(r.Env)))
	for _, k := range sortedKeys(r.Env) {
		e.str(k)
		e.str(r.Env[k])
	}
	e.str(r.Workdir)
	e.strs(r.Inputs)
	e.strs(r.Outputs)
	e.int(int64(r.Retries))
	e.int(int64(r.RetryDelay))
	e.int(int64(r.Timeout))
	e.bool(r.Enabled)
	e.int(int64(r.Resources.CPUs))
	e.int(r.Resources.Memory)
	e.int(int64(r.Resources.GPUs))
	e.str(r.Resources.GPUType)
	e.uvarint(uint64(len(static)))
	for _, k := range sortedKeys(static) {
		e.str(k)
		if err := e.value(static[k]); err != nil {
			return nil, false
		}
	}
	e.uvarint(uint64(len(outs)))
	for _, k := range sortedKeys(outs) {
		e.str(k)
		if err := e.typ(outs[k]); err != nil {
			return nil, false
		}
	}
	fixed := map[string]string{}
	if err := fixedKeys(stageFromResolved(r), fixed); err != nil {
		return nil, false
	}
	e.uvarint(uint64(len(fixed)))
	for _, k := range sortedKeys(fixed) {
		e.str(k)
		e.str(fixed[k])
	}
	return e.b, true
}

// decodeStage reads what encodeStage wrote.
func (c *Compiled) decodeStage(b []byte) (*Stage, error) {
	d := decoder{b: b, noCopy: true}
	st := &Stage{Name: d.str()}
	kind := d.str()
	st.Config = d.value()
	st.Shell = d.str()
	st.Argv = d.strs()
	hasEnv := d.bool()
	n := d.count(2)
	if hasEnv {
		st.Env = make(map[string]string, n)
	}
	for range n {
		k := d.str()
		st.Env[k] = d.str()
	}
	st.Workdir = d.str()
	st.Inputs = d.strs()
	st.Outputs = d.strs()
	st.Retries = int(d.int())
	st.RetryDelay = time.Duration(d.int())
	st.Timeout = time.Duration(d.int())
	st.Enabled = d.bool()
	st.Resources.CPUs = int(d.int())
	st.Resources.Memory = d.int()
	st.Resources.GPUs = int(d.int())
	st.Resources.GPUType = d.str()
	n = d.count(2)
	var static map[string]cty.Value
	if n > 0 {
		static = make(map[string]cty.Value, n)
	}
	for range n {
		k := d.str()
		static[k] = d.value()
	}
	n = d.count(2)
	var outs map[string]cty.Type
	if n > 0 {
		outs = make(map[string]cty.Type, n)
	}
	for range n {
		k := d.str()
		outs[k] = d.typ(0)
	}
	n = d.count(2)
	st.fixed = make([]string, 0, 2*n)
	for range n {
		st.fixed = append(st.fixed, d.str(), d.str())
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil, d.err
	}
	k, ok := c.reg.Lookup(kind)
	if !ok {
		return nil, fmt.Errorf("cached stage %s: unknown kind %q", st.Name, kind)
	}
	st.Kind = k
	if len(outs) == 0 {
		// Other stages read no output of this one: its value is constant.
		v := cty.ObjectVal(static)
		st.Value = func(map[string]cty.Value) cty.Value { return v }
		return st, nil
	}
	st.Value = func(outputs map[string]cty.Value) cty.Value {
		obj := make(map[string]cty.Value, len(static)+len(outs))
		for k, v := range static {
			obj[k] = v
		}
		for k, ty := range outs {
			if v, ok := outputs[k]; ok {
				obj[k] = v
			} else {
				obj[k] = cty.UnknownVal(ty)
			}
		}
		return cty.ObjectVal(obj)
	}
	return st, nil
}

// readFile reads the cache file; an error means it is absent, stale or
// corrupt.
func (c *Compiled) readFile(env []string) error {
	b, err := os.ReadFile(c.file)
	if errors.Is(err, os.ErrNotExist) {
		return errors.New("no cache file")
	} else if err != nil {
		return err
	}
	if !bytes.HasPrefix(b, []byte(cacheMagic)) || len(b) < len(cacheMagic)+4 {
		return errCorrupt
	}
	body, sum := b[len(cacheMagic):len(b)-4], b[len(b)-4:]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(sum) {
		return errCorrupt
	}
	d := decoder{b: body, noCopy: true} // b is kept: the entries share it too
	if key := d.str(); d.err != nil || key != c.key {
		return errors.New("key changed: pipe binary, pipeline file, variables, working directory or kinds")
	}
	c.path = d.str()
	c.maxPar = int(d.int())
	n := d.count(3)
	c.reads = make([]config.Read, n)
	for i := range c.reads {
		c.reads[i] = config.Read{Func: d.str(), Arg: d.str(), Result: d.str()}
	}
	n = d.count(1)
	c.order = make([]string, n)
	c.index = make(map[string]int, n)
	c.deps = make([][]string, n)
	c.entries = make([][]cacheEntry, n)
	for i := range c.order {
		c.order[i] = d.str()
		c.index[c.order[i]] = i
	}
	for i := range c.deps {
		m := d.count(1)
		if m > 0 {
			c.deps[i] = make([]string, m)
		}
		for j := range c.deps[i] {
			k := int(d.uvarint())
			if k >= i { // dependencies come first in the order
				d.fail()
				break
			}
			c.deps[i][j] = c.order[k]
		}
		m = d.count(33)
		for range m {
			var e cacheEntry
			if len(d.b) < 32 {
				d.fail()
				break
			}
			copy(e.up[:], d.b)
			d.b = d.b[32:]
			e.data = d.bytes()
			c.entries[i] = append(c.entries[i], e)
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil || len(c.index) != len(c.order) {
		return errCorrupt
	}
	return config.CheckReads(c.reads, env)
}

// Save writes the cache file (atomically) when this process resolved
// stages the file did not hold. A pipeline loaded with warnings, or one
// whose outside reads changed while pipe ran, is not saved. The error is
// for logging: a cache that cannot be written only costs speed.
func (c *Compiled) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file == "" || !c.dirty || c.noSave || (c.loaded && c.p == nil) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(c.file), 0o755); err != nil {
		return fmt.Errorf("compiled pipeline cache: %w", err)
	}
	reads := c.allReads()
	var e encoder
	e.str(c.key)
	e.str(c.path)
	e.int(int64(c.maxPar))
	e.uvarint(uint64(len(reads)))
	for _, r := range reads {
		e.str(r.Func)
		e.str(r.Arg)
		e.str(r.Result)
	}
	e.uvarint(uint64(len(c.order)))
	for _, s := range c.order {
		e.str(s)
	}
	for i := range c.order {
		e.uvarint(uint64(len(c.deps[i])))
		for _, d := range c.deps[i] {
			e.uvarint(uint64(c.index[d]))
		}
		e.uvarint(uint64(len(c.entries[i])))
		for _, en := range c.entries[i] {
			e.b = append(e.b, en.up[:]...)
			e.bytes(en.data)
		}
	}
	e.b = binary.BigEndian.AppendUint32(e.b, crc32.Checksum(e.b, castagnoli))
	return atomicfile.Write(c.file, 0o644, func(w io.Writer) error {
		if _, err := io.WriteString(w, cacheMagic); err != nil {
			return err
		}
		_, err := w.Write(e.b)
		return err
	})
}

// allReads is what Save records as the pipeline's outside reads: those of
// the loaded pipeline, if any, then those of the cache file it lacks.
// Called with c.mu held.
func (c *Compiled) allReads() []config.Read {
	reads := c.reads
	if c.p != nil {
		seen := map[[2]string]bool{}
		var all []config.Read
		for _, r := range c.p.Reads() {
			seen[[2]string{r.Func, r.Arg}] = true
			all = append(all, r)
		}
		for _, r := range reads {
			if !seen[[2]string{r.Func, r.Arg}] {
				all = append(all, r)
			}
		}
		reads = all
	}
	return reads
}

// decisionKey is the key of the decisions made with this pipeline: the
// SHA-256 of the compiled key and of every outside read with its result
// (sorted), since a read that changed makes the same key resolve
// differently. With forUse the pipeline must come from its cache file
// (its reads checked); otherwise it must be one Save may record. "" (and
// why) when there is none.
func (c *Compiled) decisionKey(forUse bool) (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.key == "":
		return "", "pipeline not compiled"
	case forUse && !c.fromCache:
		return "", "compiled pipeline not from its cache"
	case !forUse && (c.noSave || c.loaded && c.p == nil):
		return "", "compiled pipeline not cacheable"
	}
	reads := c.allReads()
	lines := make([]string, len(reads))
	for i, r := range reads {
		var e encoder
		e.str(r.Func)
		e.str(r.Arg)
		e.str(r.Result)
		lines[i] = string(e.b)
	}
	sort.Strings(lines)
	h := sha256.New()
	var e encoder
	e.str(c.key)
	e.uvarint(uint64(len(lines)))
	h.Write(e.b)
	for _, l := range lines {
		h.Write([]byte(l))
	}
	return fmt.Sprintf("%x", h.Sum(nil)), ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
