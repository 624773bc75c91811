package runner

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pipeml/pipe/internal/atomicfile"
)

// The decision snapshot (Options.Decisions) is a cache of whole decisions:
// after a plan, or a run in which nothing ran, the runner writes every
// stage's result (action, reason, fingerprint) together with everything
// those decisions rested on besides the pipeline itself:
//
//   - the stat (size, mtime, ctime, inode, device, mode; or "missing") of
//     every path whose content digest entered a decision — each input and
//     output, and every file, directory and link inside a tree — as the
//     digest took it (filehash.SeenFunc);
//   - the state's generation (Store Generation): it changes whenever an
//     attempt record is written, and covers the latest-attempt index;
//   - the key of the compiled pipeline (binary, pipeline file, variables,
//     working directory, kinds) with every outside read of the pipeline
//     and its result (env(), file(), globs...: Compiled.decisionKey); the
//     snapshot is used only with a compiled pipeline served from its cache
//     file, whose reads were just checked (Compiled.FromCache).
//
// The next plan or run with the same key and generation stats every
// recorded path again (as make does) and, when every stat is the same,
// takes the recorded results without resolving any stage, reading any
// attempt or computing any fingerprint. A run takes them only when no stage
// would run. Anything else — a selection flag (--only, --from, --force,
// --force-all), a different stat, a missing, corrupt or foreign snapshot —
// takes the normal path, and a snapshot is written only when its
// observations are sound: none of the stats is of a path modified within
// racyWindow before the decisions began, coarseWindow for times in whole
// seconds (a second write within the file system's timestamp granularity
// could leave a stat unchanged), no digest failed, and the generation did
// not change while deciding.

// decisionsMagic starts a snapshot file; bump the version with any format
// change.
const decisionsMagic = "pipe decision snapshot v2\n"

// racyWindow: a path whose mtime or ctime is this close to the start of
// the decisions (or later) makes the decisions unfit for a snapshot (the
// file-hash cache's rule, applied to ctime as well).
const racyWindow = 100 * time.Millisecond

// coarseWindow replaces racyWindow for a time in whole seconds, the mark of
// a file system whose timestamps are that coarse.
const coarseWindow = 3 * time.Second

// GenerationStore is a Store that can tell when what the decisions read
// from it may have changed.
type GenerationStore interface {
	Store
	// Generation returns a token that changes whenever an attempt record
	// is written or the latest-attempt index changes.
	Generation() (string, error)
	// DigestSeen is Digest, telling seen of every stat the digest rests on.
	DigestSeen(path string, seen func(path string, follow bool, fi fs.FileInfo)) (string, error)
}

// observation is one stat a decision rested on.
type observation struct {
	path    string
	follow  bool // os.Stat, else os.Lstat
	missing bool
	size    int64
	mtime   int64
	ctime   int64
	ino     uint64
	dev     uint64
	mode    uint32
}

// observe fills o from fi (nil: missing); ok is false when fi carries no
// syscall.Stat_t.
func observe(path string, follow bool, fi fs.FileInfo) (o observation, ok bool) {
	o = observation{path: path, follow: follow}
	if fi == nil {
		o.missing = true
		return o, true
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return o, false
	}
	o.setStat(st)
	return o, true
}

// setStat fills o's stat fields from st (mode as the raw st_mode).
func (o *observation) setStat(st *syscall.Stat_t) {
	o.size = st.Size
	o.mtime = st.Mtim.Sec*1e9 + st.Mtim.Nsec
	o.ctime = st.Ctim.Sec*1e9 + st.Ctim.Nsec
	o.ino = st.Ino
	o.dev = uint64(st.Dev)
	o.mode = uint32(st.Mode)
}

// recorder collects the observations of one plan or run.
type recorder struct {
	t0   time.Time
	gen  string
	obs  []observation
	fail string // why the observations cannot make a snapshot
}

func (rc *recorder) seen(path string, follow bool, fi fs.FileInfo) {
	o, ok := observe(path, follow, fi)
	if !ok {
		rc.fail = "a stat without inode and times"
		return
	}
	if !o.missing && rc.fail == "" {
		window := racyWindow
		if o.mtime%1e9 == 0 || o.ctime%1e9 == 0 {
			// Whole seconds: a file system with coarse timestamps (1 s;
			// FAT's 2 s).
			window = coarseWindow
		}
		limit := rc.t0.Add(-window).UnixNano()
		if o.mtime >= limit || o.ctime >= limit {
			rc.fail = "racily clean: " + path + " was modified just before"
		}
	}
	rc.obs = append(rc.obs, o)
}

// snapshot is a decoded snapshot file.
type snapshot struct {
	key, gen string
	results  []Result
	obs      []observation
}

// DecisionStatus says what became of the decision snapshot in the last
// Plan or Run, for debug logs and tests: "used", "not used (REASON)",
// "off", optionally followed by "; saved" or "; not saved (REASON)".
func (r *Runner) DecisionStatus() string { return r.snapStatus }

// snapshotKey returns the key decisions are cached under, "" (with why)
// when they cannot be: no snapshot file, a selection flag, a pipeline that
// is not a compiled one with a key. forUse also requires that the compiled
// pipeline came from its (valid) cache file.
func (r *Runner) snapshotKey(forUse bool) (key, why string) {
	o := r.opts
	switch {
	case o.Decisions == "":
		return "", "off"
	case len(o.Only) > 0 || o.From != "" || len(o.Force) > 0 || o.ForceAll:
		return "", "selection flags"
	}
	if _, ok := r.store.(GenerationStore); !ok {
		return "", "store without generation"
	}
	c, ok := r.p.(*Compiled)
	if !ok {
		return "", "pipeline not compiled"
	}
	return c.decisionKey(forUse)
}

// fromSnapshot returns the recorded results when the snapshot holds for
// this invocation; forRun also requires that no stage would run.
func (r *Runner) fromSnapshot(forRun bool) ([]Result, bool) {
	key, why := r.snapshotKey(true)
	if key == "" {
		r.snapStatus = "not used (" + why + ")"
		if why == "off" {
			r.snapStatus = "off"
		}
		return nil, false
	}
	s, err := readSnapshot(r.opts.Decisions)
	if err != nil {
		r.snapStatus = "not used (" + err.Error() + ")"
		return nil, false
	}
	order := r.p.Order()
	gen, err := r.store.(GenerationStore).Generation()
	switch {
	case err != nil:
		r.snapStatus = "not used (state generation: " + err.Error() + ")"
		return nil, false
	case s.key != key:
		r.snapStatus = "not used (key changed)"
		return nil, false
	case s.gen != gen:
		r.snapStatus = "not used (recorded attempts changed)"
		return nil, false
	case len(s.results) != len(order):
		r.snapStatus = "not used (other stages)"
		return nil, false
	}
	for i, res := range s.results {
		if res.Stage != order[i] {
			r.snapStatus = "not used (other stages)"
			return nil, false
		}
		if forRun && res.Action != ActionSkip && res.Action != ActionDisabled {
			r.snapStatus = "not used (stage " + res.Stage + " would run)"
			return nil, false
		}
	}
	if why := checkObservations(s.obs); why != "" {
		r.snapStatus = "not used (" + why + ")"
		return nil, false
	}
	r.snapStatus = "used"
	return s.results, true
}

// checkObservations stats every recorded path again and returns "" when
// every stat is the same, else what differs. The stats are split between
// a few goroutines (they are system calls; a plan of thousands of paths
// spends most of its time in them).
func checkObservations(obs []observation) string {
	workers := min(runtime.GOMAXPROCS(0), 4, max(1, len(obs)/512))
	whys := make([]string, workers)
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(obs) && !failed.Load(); i += workers {
				if why := checkObservation(obs[i]); why != "" {
					whys[w] = why
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, why := range whys {
		if why != "" {
			return why
		}
	}
	return ""
}

// checkObservation stats o's path again: "" when the stat is the same.
// (syscall.Stat rather than os.Stat: no FileInfo to allocate, thousands of
// times.)
func checkObservation(o observation) string {
	var st syscall.Stat_t
	var err error
	for {
		if o.follow {
			err = syscall.Stat(o.path, &st)
		} else {
			err = syscall.Lstat(o.path, &st)
		}
		if err != syscall.EINTR {
			break
		}
	}
	now := observation{path: o.path, follow: o.follow}
	switch {
	case err == syscall.ENOENT:
		now.missing = true
	case err != nil:
		return "stat " + o.path + ": " + err.Error()
	default:
		now.setStat(&st)
	}
	if now != o {
		return o.path + " changed"
	}
	return ""
}

// startRecording prepares the observations of a plan or run that may be
// saved as a snapshot (nil when it may not).
func (r *Runner) startRecording() {
	r.rec = nil
	if key, _ := r.snapshotKey(false); key == "" {
		return
	}
	rc := &recorder{t0: time.Now()}
	gen, err := r.store.(GenerationStore).Generation()
	if err != nil {
		return
	}
	rc.gen = gen
	r.rec = rc
}

// saveSnapshot writes the snapshot of results when the recorded
// observations allow it, noting the outcome in the status.
func (r *Runner) saveSnapshot(results []Result) {
	rc := r.rec
	r.rec = nil
	if rc == nil {
		return
	}
	note := func(s string) { r.snapStatus += "; " + s }
	key, why := r.snapshotKey(false)
	switch {
	case key == "":
		note("not saved (" + why + ")")
		return
	case rc.fail != "":
		note("not saved (" + rc.fail + ")")
		return
	}
	gen, err := r.store.(GenerationStore).Generation()
	if err != nil || gen != rc.gen {
		note("not saved (recorded attempts changed while deciding)")
		return
	}
	s := &snapshot{key: key, gen: gen, obs: rc.obs, results: make([]Result, len(results))}
	for i, res := range results {
		s.results[i] = Result{Stage: res.Stage, Action: res.Action, Reason: res.Reason, Fingerprint: res.Fingerprint}
	}
	if err := writeSnapshot(r.opts.Decisions, s); err != nil {
		note("not saved (" + err.Error() + ")")
		return
	}
	note("saved")
}

// writeSnapshot writes s to file atomically, ending in a CRC-32C of the
// body.
func writeSnapshot(file string, s *snapshot) error {
	var e encoder
	e.str(s.key)
	e.str(s.gen)
	e.uvarint(uint64(len(s.results)))
	for _, res := range s.results {
		e.str(res.Stage)
		e.str(string(res.Action))
		e.str(res.Reason)
		e.str(res.Fingerprint)
	}
	e.uvarint(uint64(len(s.obs)))
	for _, o := range s.obs {
		e.str(o.path)
		e.bool(o.follow)
		e.bool(o.missing)
		e.int(o.size)
		e.int(o.mtime)
		e.int(o.ctime)
		e.uvarint(o.ino)
		e.uvarint(o.dev)
		e.uvarint(uint64(o.mode))
	}
	e.b = binary.BigEndian.AppendUint32(e.b, crc32.Checksum(e.b, castagnoli))
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("decision snapshot: %w", err)
	}
	return atomicfile.Write(file, 0o644, func(w io.Writer) error {
		if _, err := io.WriteString(w, decisionsMagic); err != nil {
			return err
		}
		_, err := w.Write(e.b)
		return err
	})
}

// errSnapshotCorrupt reports a snapshot file that does not decode.
var errSnapshotCorrupt = errors.New("snapshot corrupt or of another version")

// readSnapshot reads a snapshot file; any error means it is not used.
func readSnapshot(file string) (*snapshot, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errors.New("no snapshot")
	} else if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(b, []byte(decisionsMagic)) || len(b) < len(decisionsMagic)+4 {
		return nil, errSnapshotCorrupt
	}
	body, sum := b[len(decisionsMagic):len(b)-4], b[len(b)-4:]
	if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(sum) {
		return nil, errSnapshotCorrupt
	}
	d := decoder{b: body, noCopy: true}
	s := &snapshot{key: d.str(), gen: d.str()}
	n := d.count(4)
	s.results = make([]Result, n)
	for i := range s.results {
		s.results[i] = Result{Stage: d.str(), Action: Action(d.str()), Reason: d.str(), Fingerprint: d.str()}
	}
	n = d.count(10)
	s.obs = make([]observation, n)
	for i := range s.obs {
		o := &s.obs[i]
		o.path = d.str()
		o.follow = d.bool()
		o.missing = d.bool()
		o.size = d.int()
		o.mtime = d.int()
		o.ctime = d.int()
		o.ino = d.uvarint()
		o.dev = d.uvarint()
		o.mode = uint32(d.uvarint())
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt
	}
	if d.err != nil {
		return nil, errSnapshotCorrupt
	}
	return s, nil
}
