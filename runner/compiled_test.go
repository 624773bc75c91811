package runner

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/config"
	"github.com/pipeml/pipe/stages"
	"github.com/pipeml/pipe/stages/execkind"
)

func TestCtyCodecRoundTrip(t *testing.T) {
	big, _ := cty.ParseNumberVal("123456789012345678901234567890.000000000000000001")
	for _, v := range []cty.Value{
		cty.NilVal,
		cty.StringVal(""),
		cty.StringVal("héllo\x00wörld"),
		cty.NumberIntVal(-42),
		cty.NumberFloatVal(0.1),
		big,
		cty.True, cty.False,
		cty.NullVal(cty.String),
		cty.NullVal(cty.DynamicPseudoType),
		cty.NullVal(cty.List(cty.Map(cty.Number))),
		cty.ListValEmpty(cty.String),
		cty.ListVal([]cty.Value{cty.StringVal("a"), cty.NullVal(cty.String)}),
		cty.SetVal([]cty.Value{cty.NumberIntVal(3), cty.NumberIntVal(1)}),
		cty.SetValEmpty(cty.Bool),
		cty.MapVal(map[string]cty.Value{"b": cty.NumberIntVal(2), "a": cty.NumberIntVal(1)}),
		cty.MapValEmpty(cty.String),
		cty.EmptyTupleVal,
		cty.TupleVal([]cty.Value{cty.StringVal("x"), cty.NumberIntVal(1), cty.EmptyObjectVal}),
		cty.EmptyObjectVal,
		cty.ObjectVal(map[string]cty.Value{
			"outputs": cty.ListVal([]cty.Value{cty.StringVal("/a/b")}),
			"nested":  cty.ObjectVal(map[string]cty.Value{"n": cty.NullVal(cty.Number), "d": cty.NullVal(cty.DynamicPseudoType)}),
			"m":       cty.MapVal(map[string]cty.Value{"k": cty.ListValEmpty(cty.Number)}),
		}),
	} {
		b, err := encodeValue(v)
		if err != nil {
			t.Fatalf("encode %#v: %v", v, err)
		}
		got, err := decodeValue(b)
		if err != nil {
			t.Fatalf("decode %#v: %v", v, err)
		}
		if v == cty.NilVal {
			if got != cty.NilVal {
				t.Fatalf("NilVal came back as %#v", got)
			}
			continue
		}
		if !got.RawEquals(v) {
			t.Errorf("round trip of %#v gave %#v", v, got)
		}
		// Every truncation is an error, never a panic.
		for i := range len(b) {
			if _, err := decodeValue(b[:i]); err == nil {
				t.Errorf("%#v truncated to %d bytes decoded", v, i)
			}
		}
	}
	for _, v := range []cty.Value{
		cty.UnknownVal(cty.String),
		cty.ListVal([]cty.Value{cty.UnknownVal(cty.String)}),
		cty.StringVal("secret").Mark("sensitive"),
		cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("s").Mark("x")}),
	} {
		if _, err := encodeValue(v); !errors.Is(err, errNotEncodable) {
			t.Errorf("encode %#v: %v, want errNotEncodable", v, err)
		}
	}
}

// pubKind publishes outputs and has a config block.
type pubKind struct{}

func (pubKind) Name() string    { return "pub" }
func (pubKind) Version() string { return "1" }
func (pubKind) ConfigSpec() hcldec.Spec {
	return hcldec.ObjectSpec{
		"n":    &hcldec.AttrSpec{Name: "n", Type: cty.Number, Required: true},
		"tags": &hcldec.AttrSpec{Name: "tags", Type: cty.List(cty.String)},
	}
}
func (pubKind) Outputs() map[string]cty.Type {
	return map[string]cty.Type{"count": cty.Number, "path": cty.String}
}
func (pubKind) Paths(cty.Value, string) (stages.Paths, error) { return stages.Paths{}, nil }
func (pubKind) Run(ctx context.Context, r *stages.Run) (*stages.Result, error) {
	return &stages.Result{}, nil
}

const compiledSrc = `
variable "k" {
  default = 3
}
stage "a" {
  kind = "pub"
  config {
    n    = var.k
    tags = ["x", "y"]
  }
  outputs = ["a.out"]
  env     = { A = "1" }
  retries = 2
  timeout = "5m"
}
stage "b" {
  command = "echo ${stage.a.count} > b.out"
  inputs  = stage.a.outputs
  outputs = ["b.out"]
}
stage "c" {
  command     = ["cat", stage.b.outputs[0]]
  description = jsonencode(stage.a)
  workdir     = "sub"
  inputs      = ["*.in"]
}
`

// resolveAll resolves every stage of p in order, giving stage a the
// outputs outs, and returns the stages.
func resolveAll(t *testing.T, p Pipeline, outs map[string]cty.Value) map[string]*Stage {
	t.Helper()
	got := map[string]*Stage{}
	vals := map[string]cty.Value{}
	for _, name := range p.Order() {
		up := map[string]cty.Value{}
		for _, d := range p.Deps(name) {
			up[d] = vals[d]
		}
		st, err := p.Resolve(name, up)
		if err != nil {
			t.Fatalf("resolve %s: %v", name, err)
		}
		got[name] = st
		var o map[string]cty.Value
		if name == "a" {
			o = outs
		}
		vals[name] = st.Value(o)
	}
	return got
}

// sameStage fails unless a and b agree in every field and in Value.
func sameStage(t *testing.T, a, b *Stage, outs map[string]cty.Value) {
	t.Helper()
	if a.Kind.Name() != b.Kind.Name() {
		t.Errorf("%s: kind %s vs %s", a.Name, a.Kind.Name(), b.Kind.Name())
	}
	if (a.Config == cty.NilVal) != (b.Config == cty.NilVal) || (a.Config != cty.NilVal && !a.Config.RawEquals(b.Config)) {
		t.Errorf("%s: config %#v vs %#v", a.Name, a.Config, b.Config)
	}
	for _, s := range []*Stage{a, b} {
		if s.fixed != nil {
			want := map[string]string{}
			if err := fixedKeys(s, want); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for i := 0; i+1 < len(s.fixed); i += 2 {
				got[s.fixed[i]] = s.fixed[i+1]
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: stored fingerprint keys %v, computed %v", s.Name, s.fixed, want)
			}
		}
	}
	ca, cb := *a, *b
	ca.Kind, cb.Kind, ca.Config, cb.Config, ca.Value, cb.Value = nil, nil, cty.NilVal, cty.NilVal, nil, nil
	ca.fixed, cb.fixed = nil, nil
	if !reflect.DeepEqual(ca, cb) {
		t.Errorf("stages differ:\n%+v\n%+v", ca, cb)
	}
	for _, o := range []map[string]cty.Value{nil, outs} {
		if va, vb := a.Value(o), b.Value(o); !va.RawEquals(vb) {
			t.Errorf("%s: Value(%v) %#v vs %#v", a.Name, o, va, vb)
		}
	}
}

func TestCompiledMatchesConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.in"), nil, 0o644)
	reg, err := stages.NewRegistry(execkind.New(), pubKind{})
	if err != nil {
		t.Fatal(err)
	}
	loads := 0
	load := func() (*config.Pipeline, bool, error) {
		loads++
		p, diags := config.LoadSource(filepath.Join(dir, "pipeline.hcl"), []byte(compiledSrc), config.Inputs{Cwd: dir}, reg)
		if diags.HasErrors() {
			return nil, false, diags
		}
		return p, len(diags) == 0, nil
	}
	p, _, err := load()
	if err != nil {
		t.Fatal(err)
	}
	outs1 := map[string]cty.Value{"count": cty.NumberIntVal(1), "path": cty.StringVal("p")}
	outs2 := map[string]cty.Value{"count": cty.NumberIntVal(2), "path": cty.StringVal("p")}
	want1 := resolveAll(t, FromConfig(p), outs1)
	want2 := resolveAll(t, FromConfig(p), outs2)
	if want1["b"].Shell == want2["b"].Shell {
		t.Fatal("test pipeline: b does not depend on a's outputs")
	}

	file := filepath.Join(dir, "state", "compiled", "x")
	open := func(key string) *Compiled {
		t.Helper()
		c, err := OpenCompiled(file, key, nil, reg, load)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := open("k1")
	if c.FromCache() || !strings.HasPrefix(c.Status(), "loaded (no cache file") {
		t.Fatalf("first open: %s", c.Status())
	}
	got := resolveAll(t, c, outs1)
	for name, st := range want1 {
		sameStage(t, got[name], st, outs1)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}

	loads = 0
	c = open("k1")
	got = resolveAll(t, c, outs1)
	if c.Status() != "cached" || loads != 0 {
		t.Fatalf("second open: %s, %d loads", c.Status(), loads)
	}
	for name, st := range want1 {
		sameStage(t, got[name], st, outs1)
	}
	// New upstream outputs: b and c miss and are resolved by the pipeline.
	got = resolveAll(t, c, outs2)
	if c.Status() != "cached, loaded on a miss" || loads != 1 {
		t.Fatalf("after a miss: %s, %d loads", c.Status(), loads)
	}
	for name, st := range want2 {
		sameStage(t, got[name], st, outs2)
	}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	// Both forms are cached now.
	loads = 0
	c = open("k1")
	for _, tc := range []struct {
		outs map[string]cty.Value
		want map[string]*Stage
	}{{outs1, want1}, {outs2, want2}} {
		got = resolveAll(t, c, tc.outs)
		for name, st := range tc.want {
			sameStage(t, got[name], st, tc.outs)
		}
	}
	if c.Status() != "cached" || loads != 0 {
		t.Fatalf("third open: %s, %d loads", c.Status(), loads)
	}
	// Unknown upstream outputs (a plan where a will run): c's description
	// is unknown, so it is never cached, and b's upstream value cannot be
	// hashed: both come from the pipeline.
	resolveAll(t, c, nil)
	if loads != 1 {
		t.Fatalf("unknown upstream outputs: %d loads", loads)
	}

	// Another key: the file is not used.
	if c := open("k2"); c.FromCache() || !strings.Contains(c.Status(), "key changed") {
		t.Fatalf("other key: %s", c.Status())
	}

	// A changed glob match invalidates the cache (c's inputs glob).
	c = open("k1")
	c.Save() // nothing new: not written
	os.WriteFile(filepath.Join(dir, "y.in"), nil, 0o644)
	if c := open("k1"); c.FromCache() {
		t.Fatal("cache used although nothing changed that c read")
	}

	// Every truncation or flipped byte of the file is a miss (the file
	// carries a checksum), never a panic.
	c = open("k1")
	resolveAll(t, c, outs1)
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if c := open("k1"); !c.FromCache() {
		t.Fatalf("rewritten cache not used: %s", c.Status())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(b); i += 1 + len(b)/300 {
		for _, bad := range [][]byte{b[:i], append(append([]byte(nil), b[:i]...), append([]byte{b[i] ^ 0x5a}, b[i+1:]...)...)} {
			os.WriteFile(file, bad, 0o644)
			if c := open("k1"); c.FromCache() {
				t.Fatalf("corrupt cache file (%d of %d bytes) used", len(bad), len(b))
			}
		}
	}
}
