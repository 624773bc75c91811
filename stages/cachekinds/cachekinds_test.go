package cachekinds

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/cache"
	"github.com/pipeml/pipe/cache/cachetest"
	"github.com/pipeml/pipe/stages"
)

// decode parses an HCL config body with the kind's spec, as the runner does.
func decode(t *testing.T, k stages.Kind, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return hcldec.Decode(f.Body, k.ConfigSpec(), nil)
}

func run(t *testing.T, k stages.Kind, cfg cty.Value, workdir string) (*stages.Result, string, error) {
	t.Helper()
	var out bytes.Buffer
	res, err := k.Run(context.Background(), &stages.Run{Stage: "s", Config: cfg, Workdir: workdir, Stdout: &out, Stderr: &out, Progress: stages.NopProgress{}})
	if err == nil {
		for name, ty := range k.Outputs() {
			v, ok := res.Outputs[name]
			if !ok || !v.Type().Equals(ty) {
				t.Errorf("output %s: %#v, want type %s", name, v, ty.FriendlyName())
			}
		}
		if len(res.Outputs) != len(k.Outputs()) {
			t.Errorf("%d outputs, declared %d", len(res.Outputs), len(k.Outputs()))
		}
	}
	return res, out.String(), err
}

func TestPopulateThenVerify(t *testing.T) {
	src := cachetest.MakeCorpus(t, append(cachetest.GoodCorpus(), cachetest.BadCorpus()[0]))
	work := t.TempDir()
	reg, err := stages.NewRegistry(NewPopulate(), NewVerify())
	if err != nil {
		t.Fatal(err)
	}
	pk, _ := reg.Lookup("populate_cache")
	cfg, diags := decode(t, pk, `
source   = "`+src+`"
dir      = "cache"
workers  = 2
on_error = "skip"
notch    = 50
stride_s = 5
`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	paths, err := pk.Paths(cfg, work)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths.Inputs) != 3 || paths.Inputs[0] != filepath.Join(src, "train") || paths.Outputs[0] != filepath.Join(work, "cache") {
		t.Errorf("paths %+v", paths)
	}
	res, out, err := run(t, pk, cfg, work)
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["dir"].AsString() != filepath.Join(work, "cache") || !res.Outputs["quarantined"].Equals(cty.NumberIntVal(1)).True() {
		t.Errorf("outputs %#v", res.Outputs)
	}
	if v := res.Outputs["counts"].Index(cty.StringVal("train")); !v.Equals(cty.NumberIntVal(3)).True() {
		t.Errorf("train count %#v", v)
	}
	if res.Metrics["windows"] == 0 || res.Metrics["seizure_hours"] <= 0 {
		t.Errorf("metrics %v", res.Metrics)
	}
	if !strings.Contains(out, "quarantined") || !strings.Contains(out, "truncated") {
		t.Errorf("report:\n%s", out)
	}
	m, err := cache.ReadManifest(filepath.Join(work, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	if m.StrideS != 5 || !strings.Contains(strings.Join(strings.Fields(string(m.Params)), ""), `"notch":50,`) {
		t.Errorf("config not applied: stride %g params %s", m.StrideS, m.Params)
	}

	vk, _ := reg.Lookup("verify_cache")
	vcfg, diags := decode(t, vk, `
cache = "cache"
expect = {
  train = 3
  dev   = 1
}
`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	vres, vout, err := run(t, vk, vcfg, work)
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, vout)
	}
	if !strings.Contains(vout, "OK: no problems found") || vres.Metrics["recordings"] != 5 {
		t.Errorf("verify report:\n%s\nmetrics %v", vout, vres.Metrics)
	}
	vcfg, _ = decode(t, vk, `
cache  = "cache"
expect = { train = 4667, dev = 1832 }
`)
	_, vout, err = run(t, vk, vcfg, work)
	if err == nil || !strings.Contains(err.Error(), "split train: 3 recordings, expected 4667") || !strings.Contains(vout, "2 problems") {
		t.Errorf("verify with wrong counts: %v\n%s", err, vout)
	}
}

func TestConfigErrors(t *testing.T) {
	pk := NewPopulate()
	for _, c := range []struct{ src, want string }{
		{`dir = "x"`, `"source" is required`},
		{`source = "s"
dir = "x"
notch_q = "high"`, "number is required"},
		{`source = "s"
dir = "x"
bogus = 1`, `Unsupported argument; An argument named "bogus"`},
	} {
		_, diags := decode(t, pk, c.src)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.src, diags, c.want)
		}
	}
	for _, c := range []struct{ src, want string }{
		{`source = "s"
dir = "x"
workers = 1.5`, "workers = 1.5: want a whole number"},
		{`source = "s"
dir = "x"
bandpass_order = 0`, "bandpass_order"},
		{`source = "s"
dir = "x"
rate = 100
bandpass_high = 120`, "notch 60 Hz: must be 0 (off) or in (0, 50)"},
		{`source = "s"
dir = "x"
rate = 100
notch = 0`, ""},
	} {
		cfg, diags := decode(t, pk, c.src)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		_, err := pk.Paths(cfg, t.TempDir())
		if c.want == "" {
			if err != nil {
				t.Errorf("%q: %v", c.src, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.src, err, c.want)
		}
	}
	vk := NewVerify()
	cfg, diags := decode(t, vk, "cache = \"c\"\nexpect = { train = 1.5 }\n")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if _, err := vk.Paths(cfg, "/w"); err == nil || !strings.Contains(err.Error(), "expect.train") {
		t.Errorf("fractional expect: %v", err)
	}
	cfg, _ = decode(t, vk, `cache = "missing"`)
	if _, _, err := run(t, vk, cfg, t.TempDir()); err == nil || !strings.Contains(err.Error(), "manifest") {
		t.Errorf("verify of a missing cache: %v", err)
	}
}
