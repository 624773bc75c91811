package cachekinds

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/cache"
	"github.com/pipeml/pipe/demo"
	"github.com/pipeml/pipe/eeg/edf/edftest"
)

func TestDemoData(t *testing.T) {
	work := t.TempDir()
	k := NewDemoData()
	cfg, diags := decode(t, k, `
out          = "demo"
patients     = { train = 2, dev = 1, eval = 1 }
recordings   = 1
minutes      = 1
seizure_rate = 30
seed         = 5
workers      = 2
`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	paths, err := k.Paths(cfg, work)
	if err != nil || len(paths.Inputs) != 0 || len(paths.Outputs) != 1 || paths.Outputs[0] != filepath.Join(work, "demo") {
		t.Fatalf("paths %+v, %v", paths, err)
	}
	res, out, err := run(t, k, cfg, work)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Outputs["recordings"].Equals(cty.NumberIntVal(4)).True() || res.Outputs["dir"].AsString() != filepath.Join(work, "demo") {
		t.Errorf("outputs %#v", res.Outputs)
	}
	if h, _ := res.Outputs["hours"].AsBigFloat().Float64(); h < 4.0/60-1e-9 || h > 4.0/60+1e-9 {
		t.Errorf("hours %g, want 4 minutes", h)
	}
	if !strings.Contains(out, "4 recordings (4 written, 0 kept)") {
		t.Errorf("report %q", out)
	}
	if _, err := os.Stat(filepath.Join(work, "demo", demo.ParamsName)); err != nil {
		t.Error(err)
	}
	// rerun: everything kept
	res, _, err = run(t, k, cfg, work)
	if err != nil || res.Metrics["kept"] != 4 {
		t.Errorf("rerun: %v, metrics %v", err, res)
	}
}

func TestDemoDataDefaultsAndErrors(t *testing.T) {
	k := NewDemoData()
	cfg, diags := decode(t, k, `out = "/x"`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	c, err := decodeDemo(cfg, "/w")
	want := demo.DefaultConfig()
	want.Out = "/x"
	if err != nil || c != want {
		t.Errorf("defaults: %+v, %v; want %+v", c, err, want)
	}
	for _, tc := range []struct{ src, want string }{
		{`out = "d"` + "\n" + `patients = { train = 1, test = 2 }`, "unknown split"},
		{`out = "d"` + "\n" + `patients = { train = 1.5 }`, "whole number of patients"},
		{`out = "d"` + "\n" + `seed = -1`, "config.seed"},
		{`out = "d"` + "\n" + `minutes = 0`, "minutes per recording"},
		{`out = "d"` + "\n" + `recordings = 2.5`, "whole number"},
		{`out = "d"` + "\n" + `patients = { train = 0 }`, "at least one patient"},
	} {
		cfg, diags := decode(t, k, tc.src)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if _, err := k.Paths(cfg, "/w"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.want)
		}
	}
}

// TestDemoPopulateVerify runs demo_data → populate_cache → verify_cache
// through the kinds' Go API, as a pipeline would.
func TestDemoPopulateVerify(t *testing.T) {
	work := t.TempDir()
	dk, pk, vk := NewDemoData(), NewPopulate(), NewVerify()
	cfg, _ := decode(t, dk, `
out          = "demo"
patients     = { train = 3, dev = 2, eval = 1 }
recordings   = 1
minutes      = 2
seizure_rate = 40
seed         = 11
`)
	dres, _, err := run(t, dk, cfg, work)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ = decode(t, pk, `
source = "`+dres.Outputs["dir"].AsString()+`"
dir    = "cache"
workers = 2
`)
	pres, out, err := run(t, pk, cfg, work)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Log(out)
	if !pres.Outputs["quarantined"].Equals(cty.NumberIntVal(0)).True() {
		t.Errorf("quarantined %#v", pres.Outputs["quarantined"])
	}
	cfg, _ = decode(t, vk, `
cache  = "`+pres.Outputs["dir"].AsString()+`"
expect = { train = 3, dev = 2, eval = 1 }
`)
	vres, out, err := run(t, vk, cfg, work)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if h, _ := vres.Outputs["seizure_hours"].Index(cty.StringVal("dev")).AsBigFloat().Float64(); !(h > 0) {
		t.Errorf("no seizure hours in dev: %#v", vres.Outputs)
	}
}

// TestSharedStubsPopulateVerify runs populate_cache → verify_cache through
// the kinds' Go API on the real TUSZ layout in ../shared, whose EDF files
// are 2 s stubs of recordings their csv_bi files say last minutes: populate
// succeeds (on_error = "skip") and quarantines every recording naming its
// short length; verify then fails with a report, not a crash.
func TestSharedStubsPopulateVerify(t *testing.T) {
	src := edftest.SharedDir(t, "data", "tusz_layout", "tuh")
	work := t.TempDir()
	pk, vk := NewPopulate(), NewVerify()
	cfg, _ := decode(t, pk, `
source   = "`+src+`"
dir      = "cache"
on_error = "skip"
`)
	pres, out, err := run(t, pk, cfg, work)
	if err != nil {
		t.Fatalf("populate: %v\n%s", err, out)
	}
	q, err := cache.ReadQuarantine(filepath.Join(work, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := pres.Outputs["quarantined"].AsBigFloat().Int64()
	if n == 0 || int(n) != len(q) {
		t.Fatalf("quarantined output %d, %d in %s", n, len(q), cache.QuarantineName)
	}
	for _, e := range q {
		if !strings.Contains(e.Reason, "holds 2.00 s of data but") {
			t.Errorf("%s: reason %q does not report the short length", e.EDF, e.Reason)
		}
	}
	if !strings.Contains(out, "holds 2.00 s of data") {
		t.Errorf("populate report does not show the reasons:\n%s", out)
	}
	cfg, _ = decode(t, vk, `cache = "`+pres.Outputs["dir"].AsString()+`"`)
	_, out, err = run(t, vk, cfg, work)
	if err == nil || !strings.Contains(err.Error(), "quarantin") {
		t.Errorf("verify of an empty cache: %v\n%s", err, out)
	}
	t.Logf("verify: %v", err)
}
