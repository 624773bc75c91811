// Package tusz walks the directory layout of the TUH EEG Seizure Corpus
// (TUSZ v2):
//
//	<root>/{train,dev,eval}/<patient>/<session>/<montage>/<patient>_<session>_<token>.edf
//
// with the term-based annotations <name>.csv_bi (and the per-channel <name>.csv)
// beside each EDF file. The patient id is taken from the file name (the
// directory name must agree). Walk lists recordings in a stable order and
// reports files that do not fit the layout; CheckPatientDisjoint verifies
// that no patient appears in two splits. Parsing the annotation files is
// package annot's job.
package tusz

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/pipeml/pipe/eeg/annot"
)

// Splits are the TUSZ splits in their canonical order.
var Splits = []string{"train", "dev", "eval"}

// Recording is one EDF file of the corpus and its annotation files.
type Recording struct {
	// Split is "train", "dev" or "eval".
	Split string
	// Patient, Session and Token come from the file name
	// <patient>_<session>_<token>.edf, e.g. "aaaaaool", "s004", "t001".
	Patient string
	Session string
	Token   string
	// SessionDir is the session directory's name (e.g. "s004_2013") and
	// Montage the montage directory's (e.g. "01_tcp_ar").
	SessionDir string
	Montage    string
	// EDF is the path of the EDF file; CSVBI and CSV those of the
	// term-based and per-channel annotation files, empty when absent.
	EDF   string
	CSVBI string
	CSV   string
}

// ID returns the recording's name without extension
// (<patient>_<session>_<token>), unique within a corpus.
func (r *Recording) ID() string { return r.Patient + "_" + r.Session + "_" + r.Token }

// Rel returns the EDF path relative to root (for reports and manifests).
func (r *Recording) Rel(root string) string {
	if rel, err := filepath.Rel(root, r.EDF); err == nil {
		return filepath.ToSlash(rel)
	}
	return r.EDF
}

// Annotations reads the recording's csv_bi file.
func (r *Recording) Annotations() (*annot.File, error) {
	if r.CSVBI == "" {
		return nil, fmt.Errorf("%s: no .csv_bi annotation file beside it", r.EDF)
	}
	return annot.ReadFile(r.CSVBI)
}

// Problem is a file or directory that does not fit the layout.
type Problem struct {
	Path string
	Msg  string
}

func (p Problem) String() string { return p.Path + ": " + p.Msg }

// Corpus is the result of Walk.
type Corpus struct {
	Root string
	// Recordings are ordered by split (train, dev, eval), patient, session,
	// token and montage.
	Recordings []Recording
	// Problems lists what did not fit the layout (misnamed or misplaced
	// files, EDF files without csv_bi, annotation files without EDF).
	Problems []Problem
}

// nameRE matches <patient>_<session>_<token>.
var nameRE = regexp.MustCompile(`^([A-Za-z0-9]+)_(s[0-9]+)_(t[0-9]+)$`)

// Walk lists the recordings of the given splits (all three when splits is
// empty) under root. A missing split directory is an error; files that do
// not fit the layout are listed in Corpus.Problems and otherwise skipped.
func Walk(root string, splits []string) (*Corpus, error) {
	if len(splits) == 0 {
		splits = Splits
	}
	order := map[string]int{}
	for i, s := range Splits {
		order[s] = i
	}
	c := &Corpus{Root: root}
	for _, split := range splits {
		if _, ok := order[split]; !ok {
			return nil, fmt.Errorf("tusz: unknown split %q (want one of %s)", split, strings.Join(Splits, ", "))
		}
		dir := filepath.Join(root, split)
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("tusz: split directory %s missing (is %s a TUSZ root?)", dir, root)
		}
		if err := c.walkSplit(split, dir); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(c.Recordings, func(i, j int) bool {
		a, b := &c.Recordings[i], &c.Recordings[j]
		if a.Split != b.Split {
			return order[a.Split] < order[b.Split]
		}
		if a.Patient != b.Patient {
			return a.Patient < b.Patient
		}
		if a.Session != b.Session {
			return a.Session < b.Session
		}
		if a.Token != b.Token {
			return a.Token < b.Token
		}
		return a.Montage < b.Montage
	})
	sort.Slice(c.Problems, func(i, j int) bool { return c.Problems[i].Path < c.Problems[j].Path })
	return c, nil
}

// subdirs lists the directories in dir (following symbolic links) and
// reports the files found where only directories belong.
func (c *Corpus) subdirs(dir, want string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("tusz: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		st, err := os.Stat(p)
		if err != nil {
			c.Problems = append(c.Problems, Problem{p, err.Error()})
			continue
		}
		if st.IsDir() {
			dirs = append(dirs, e.Name())
		} else {
			c.Problems = append(c.Problems, Problem{p, "file where a " + want + " directory was expected"})
		}
	}
	return dirs, nil
}

func (c *Corpus) walkSplit(split, dir string) error {
	patients, err := c.subdirs(dir, "patient")
	if err != nil {
		return err
	}
	for _, patient := range patients {
		sessions, err := c.subdirs(filepath.Join(dir, patient), "session")
		if err != nil {
			return err
		}
		for _, session := range sessions {
			montages, err := c.subdirs(filepath.Join(dir, patient, session), "montage")
			if err != nil {
				return err
			}
			for _, montage := range montages {
				if err := c.walkMontage(split, patient, session, montage, filepath.Join(dir, patient, session, montage)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// walkMontage pairs the EDF files of one montage directory with their
// annotation files.
func (c *Corpus) walkMontage(split, patientDir, sessionDir, montage, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("tusz: %w", err)
	}
	files := map[string]bool{}
	for _, e := range entries {
		files[e.Name()] = true
	}
	used := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if !strings.EqualFold(ext, ".edf") || strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		base := strings.TrimSuffix(name, ext)
		m := nameRE.FindStringSubmatch(base)
		if m == nil {
			c.Problems = append(c.Problems, Problem{path, "name is not <patient>_<session>_<token>.edf"})
			continue
		}
		used[name] = true
		rec := Recording{Split: split, Patient: m[1], Session: m[2], Token: m[3], SessionDir: sessionDir, Montage: montage, EDF: path}
		if m[1] != patientDir {
			c.Problems = append(c.Problems, Problem{path, fmt.Sprintf("patient %q in the file name differs from the directory %q (the file name is used)", m[1], patientDir)})
		}
		if !strings.HasPrefix(sessionDir, m[2]) {
			c.Problems = append(c.Problems, Problem{path, fmt.Sprintf("session %q in the file name differs from the directory %q", m[2], sessionDir)})
		}
		if files[base+".csv_bi"] {
			rec.CSVBI = filepath.Join(dir, base+".csv_bi")
			used[base+".csv_bi"] = true
		} else {
			c.Problems = append(c.Problems, Problem{path, "no " + base + ".csv_bi beside it"})
		}
		if files[base+".csv"] {
			rec.CSV = filepath.Join(dir, base+".csv")
			used[base+".csv"] = true
		}
		c.Recordings = append(c.Recordings, rec)
	}
	for _, e := range entries {
		name := e.Name()
		if used[name] || strings.HasPrefix(name, ".") {
			continue
		}
		if ext := filepath.Ext(name); ext == ".csv_bi" || ext == ".csv" {
			c.Problems = append(c.Problems, Problem{filepath.Join(dir, name), "annotation file without a matching .edf"})
		}
	}
	return nil
}

// CheckPatientDisjoint returns an error naming every patient whose
// recordings are in more than one split (a leak between training and
// evaluation data), or nil.
func CheckPatientDisjoint(recs []Recording) error {
	splits := map[string]map[string]bool{}
	for _, r := range recs {
		if splits[r.Patient] == nil {
			splits[r.Patient] = map[string]bool{}
		}
		splits[r.Patient][r.Split] = true
	}
	var leaks []string
	for p, s := range splits {
		if len(s) > 1 {
			var names []string
			for _, split := range Splits {
				if s[split] {
					names = append(names, split)
				}
			}
			leaks = append(leaks, fmt.Sprintf("%s (%s)", p, strings.Join(names, ", ")))
		}
	}
	if len(leaks) == 0 {
		return nil
	}
	sort.Strings(leaks)
	return fmt.Errorf("splits are not patient-disjoint: %d patients in more than one split: %s", len(leaks), strings.Join(leaks, "; "))
}
