package tusz_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pipeml/pipe/eeg/edf"
	"github.com/pipeml/pipe/eeg/edf/edftest"
	"github.com/pipeml/pipe/eeg/tusz"
)

// TestSharedLayout walks the real TUSZ v2 tree in ../shared.
func TestSharedLayout(t *testing.T) {
	root := edftest.SharedDir(t, "data", "tusz_layout", "tuh")
	c, err := tusz.Walk(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	var edfs int
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".edf") {
			edfs++
		}
		return nil
	})
	if len(c.Recordings) != edfs || edfs == 0 {
		t.Fatalf("%d recordings, %d EDF files in the tree", len(c.Recordings), edfs)
	}
	if len(c.Problems) != 0 {
		t.Errorf("problems: %v", c.Problems)
	}
	if err := tusz.CheckPatientDisjoint(c.Recordings); err != nil {
		t.Error(err)
	}
	perSplit := map[string]int{}
	seizures := 0
	for i, r := range c.Recordings {
		perSplit[r.Split]++
		if !strings.HasPrefix(filepath.Base(r.EDF), r.ID()) || !strings.Contains(r.EDF, string(filepath.Separator)+r.Patient+string(filepath.Separator)) {
			t.Errorf("recording %+v: id %s", r, r.ID())
		}
		if i > 0 {
			p := c.Recordings[i-1]
			if p.Split == r.Split && p.ID() >= r.ID() && p.Montage >= r.Montage {
				t.Errorf("order: %s before %s", p.ID(), r.ID())
			}
		}
		f, err := r.Annotations()
		if err != nil {
			t.Fatal(err)
		}
		if f.Duration <= 0 {
			t.Errorf("%s: duration %g", r.CSVBI, f.Duration)
		}
		seizures += len(f.SeizureEvents())
	}
	for _, s := range tusz.Splits {
		if perSplit[s] == 0 {
			t.Errorf("no recordings in %s", s)
		}
	}
	if seizures == 0 {
		t.Error("no seizure events in the whole tree")
	}
	t.Logf("%v recordings per split, %d seizure events", perSplit, seizures)

	dev, err := tusz.Walk(root, []string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	if len(dev.Recordings) != perSplit["dev"] {
		t.Errorf("dev only: %d recordings, want %d", len(dev.Recordings), perSplit["dev"])
	}
	// The real headers say what the recordings are: 2 s stubs.
	r, err := edf.Open(c.Recordings[0].EDF)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Header().Duration().Seconds() != 2 {
		t.Errorf("stub duration %v", r.Header().Duration())
	}
}

func touch(t *testing.T, root string, rel ...string) {
	t.Helper()
	for _, r := range rel {
		p := filepath.Join(root, filepath.FromSlash(r))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLayoutProblems builds a small tree with every kind of misfit.
func TestLayoutProblems(t *testing.T) {
	root := t.TempDir()
	touch(t, root,
		"train/aaaaaaab/s001_2015/01_tcp_ar/aaaaaaab_s001_t000.edf",
		"train/aaaaaaab/s001_2015/01_tcp_ar/aaaaaaab_s001_t000.csv_bi",
		"train/aaaaaaab/s001_2015/01_tcp_ar/aaaaaaab_s001_t000.csv",
		"train/aaaaaaab/s001_2015/01_tcp_ar/aaaaaaab_s001_t001.edf", // no csv_bi
		"train/aaaaaaab/s001_2015/01_tcp_ar/notes.edf",              // misnamed
		"train/aaaaaaab/s001_2015/01_tcp_ar/aaaaaaab_s001_t009.csv_bi",
		"train/aaaaaaab/s002_2015/02_tcp_le/aaaaaaac_s002_t000.edf", // patient mismatch
		"train/aaaaaaab/s002_2015/02_tcp_le/aaaaaaac_s002_t000.csv_bi",
		"train/README.txt",
		"dev/aaaaaaab/s009_2016/01_tcp_ar/aaaaaaab_s009_t000.edf", // leak
		"dev/aaaaaaab/s009_2016/01_tcp_ar/aaaaaaab_s009_t000.csv_bi",
		"eval/aaaaaaad/s001_2016/01_tcp_ar/aaaaaaad_s001_t000.edf",
		"eval/aaaaaaad/s001_2016/01_tcp_ar/aaaaaaad_s001_t000.csv_bi",
	)
	c, err := tusz.Walk(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range c.Recordings {
		ids = append(ids, r.Split+":"+r.ID())
	}
	want := "train:aaaaaaab_s001_t000 train:aaaaaaab_s001_t001 train:aaaaaaac_s002_t000 dev:aaaaaaab_s009_t000 eval:aaaaaaad_s001_t000"
	if strings.Join(ids, " ") != want {
		t.Errorf("recordings %v\nwant %s", ids, want)
	}
	if c.Recordings[0].CSV == "" || c.Recordings[1].CSVBI != "" {
		t.Errorf("annotation pairing: %+v %+v", c.Recordings[0], c.Recordings[1])
	}
	var probs []string
	for _, p := range c.Problems {
		rel, _ := filepath.Rel(root, p.Path)
		probs = append(probs, filepath.ToSlash(rel)+": "+p.Msg)
	}
	for _, w := range []string{
		"train/README.txt: file where a patient directory was expected",
		"aaaaaaab_s001_t001.edf: no aaaaaaab_s001_t001.csv_bi beside it",
		"notes.edf: name is not <patient>_<session>_<token>.edf",
		"aaaaaaab_s001_t009.csv_bi: annotation file without a matching .edf",
		`aaaaaaac_s002_t000.edf: patient "aaaaaaac" in the file name differs from the directory "aaaaaaab"`,
	} {
		found := false
		for _, p := range probs {
			found = found || strings.Contains(p, w)
		}
		if !found {
			t.Errorf("problem %q not reported; got %q", w, probs)
		}
	}
	err = tusz.CheckPatientDisjoint(c.Recordings)
	if err == nil || !strings.Contains(err.Error(), "aaaaaaab (train, dev)") {
		t.Errorf("leak not found: %v", err)
	}
	if _, err := tusz.Walk(root, []string{"test"}); err == nil {
		t.Error("unknown split accepted")
	}
	if _, err := tusz.Walk(filepath.Join(root, "train"), nil); err == nil || !strings.Contains(err.Error(), "split directory") {
		t.Errorf("missing split dir: %v", err)
	}
}
