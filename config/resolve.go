package config

import (
	"fmt"
	"math/big"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Resolve evaluates every attribute of stage name. upstream maps the name of
// each of the stage's dependencies (Stage.Deps) to the object that stage
// shows (Resolved.Value with its outputs, or with nil outputs at plan time);
// a dependency missing from upstream counts as wholly unknown. Errors
// (wrong types, failed functions, a config block that does not fit the
// kind's schema) come back as diagnostics with source ranges.
func (p *Pipeline) Resolve(name string, upstream map[string]cty.Value) (*Resolved, hcl.Diagnostics) {
	st := p.Stages[name]
	if st == nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown stage",
			Detail:   fmt.Sprintf("The pipeline has no stage named %q.%s", name, didYouMean(name, keysOf(p.Stages))),
		}}
	}
	up := make(map[string]cty.Value, len(st.Deps))
	for _, d := range st.Deps {
		if v, ok := upstream[d]; ok && v != cty.NilVal {
			up[d] = v
		} else {
			up[d] = cty.DynamicVal
		}
	}
	ctx := p.ctx.NewChild()
	ctx.Variables = map[string]cty.Value{"stage": cty.ObjectVal(up)}
	rs := &resolver{p: p, st: st, ctx: ctx, r: &Resolved{
		Name:    name,
		Kind:    st.Kind,
		Enabled: true,
		Workdir: p.Cwd,
		attrs:   make(map[string]cty.Value, st.nrefs()),
		outputs: p.specs[st.Kind.Name()].outputs,
		stage:   st,
	}}
	rs.resolve()
	r := rs.r
	sort.Strings(r.Unknown)
	sort.Strings(r.Sensitive)
	if rs.diags.HasErrors() {
		return nil, rs.diags
	}
	return r, rs.diags
}

// ResolveAll resolves every stage in Order, each with the values of its
// resolved dependencies. outputs returns the outputs a stage published, or
// nil when they are not known (as at plan time for stages that will run);
// outputs itself may be nil. A stage whose dependency failed to resolve sees
// that dependency as unknown. The map holds every stage that resolved; the
// diagnostics hold every stage's problems.
func (p *Pipeline) ResolveAll(outputs func(stage string) map[string]cty.Value) (map[string]*Resolved, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	out := make(map[string]*Resolved, len(p.Order))
	values := make(map[string]cty.Value, len(p.Order))
	for _, st := range p.Order {
		up := make(map[string]cty.Value, len(st.Deps))
		for _, d := range st.Deps {
			if v, ok := values[d]; ok {
				up[d] = v
			}
		}
		r, d := p.Resolve(st.Name, up)
		diags = append(diags, d...)
		if r != nil {
			out[st.Name] = r
			var o map[string]cty.Value
			if outputs != nil && len(p.Graph.Successors(st.Name)) > 0 {
				o = outputs(st.Name)
			}
			values[st.Name] = r.Value(o)
		}
	}
	return out, diags
}

// resolver evaluates one stage.
type resolver struct {
	p     *Pipeline
	st    *Stage
	ctx   *hcl.EvalContext
	r     *Resolved
	diags hcl.Diagnostics
}

func (rs *resolver) resolve() {
	r, st := rs.r, rs.st
	rs.set("name", cty.StringVal(st.Name))
	rs.set("kind", cty.StringVal(st.Kind.Name()))

	if v, ok := rs.eval("description", cty.String, "a string"); ok {
		r.Description = v.AsString()
	}
	rs.command()
	if v, ok := rs.eval("env", cty.Map(cty.String), "a map of strings"); ok {
		r.Env = make(map[string]string, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if e.IsNull() {
				rs.errorAt("env", fmt.Sprintf("env %q is null; give it a string value", k.AsString()))
				continue
			}
			r.Env[k.AsString()] = e.AsString()
		}
	}
	if v, ok := rs.eval("workdir", cty.String, "a string"); ok {
		r.Workdir = rs.abs(v.AsString())
		rs.set("workdir", rs.remark("workdir", cty.StringVal(r.Workdir)))
	} else if !contains(r.Unknown, "workdir") {
		rs.set("workdir", cty.StringVal(r.Workdir))
	}
	if v, ok := rs.eval("inputs", cty.List(cty.String), "a list of strings"); ok {
		r.Inputs = rs.inputs(v)
		rs.set("inputs", rs.remark("inputs", stringList(r.Inputs)))
	}
	if v, ok := rs.eval("outputs", cty.List(cty.String), "a list of strings"); ok {
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				rs.errorAt("outputs", "an output path is null")
				continue
			}
			r.Outputs = append(r.Outputs, rs.abs(e.AsString()))
		}
		rs.set("outputs", rs.remark("outputs", stringList(r.Outputs)))
	}
	if v, ok := rs.eval("retries", cty.Number, "a number"); ok {
		n, err := wholeNumber(v, 0)
		if err != nil {
			rs.errorAt("retries", err.Error())
		}
		r.Retries = n
	}
	if v, ok := rs.eval("retry_delay", cty.String, "a duration such as \"10s\""); ok {
		r.RetryDelay = rs.duration("retry_delay", v)
	}
	if v, ok := rs.eval("timeout", cty.String, "a duration such as \"90m\""); ok {
		r.Timeout = rs.duration("timeout", v)
	}
	if v, ok := rs.eval("enabled", cty.Bool, "a bool"); ok {
		r.Enabled = v.True()
	}
	if rs.st.refs != nil || rs.st.refAll {
		for name, def := range rs.p.defaults {
			if _, ok := r.attrs[name]; !ok && rs.st.needs(name) {
				r.attrs[name] = def
			}
		}
	}
	rs.resources()
	rs.config()
}

// eval evaluates attribute name, converts it to ty and records it in attrs.
// ok is true when the attribute is present, known, not null and of the
// right type; the returned value carries no marks.
func (rs *resolver) eval(name string, ty cty.Type, what string) (cty.Value, bool) {
	a := rs.st.attrs[name]
	if a == nil {
		return cty.NilVal, false
	}
	return rs.evalExpr(name, a.Expr, ty, what)
}

func (rs *resolver) evalExpr(name string, expr hcl.Expression, ty cty.Type, what string) (cty.Value, bool) {
	v, d := expr.Value(rs.ctx)
	rs.diags = append(rs.diags, d...)
	if d.HasErrors() {
		return cty.NilVal, false
	}
	c, err := convert.Convert(v, ty)
	if err != nil {
		rs.diags = append(rs.diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Incorrect attribute value type",
			Detail:      fmt.Sprintf("Inappropriate value for attribute %q: %s.", name, convertMsg(err, what)),
			Subject:     expr.Range().Ptr(),
			Expression:  expr,
			EvalContext: rs.ctx,
		})
		return cty.NilVal, false
	}
	rs.set(name, c)
	plain := rs.unmark(name, c)
	if !plain.IsWhollyKnown() {
		rs.r.Unknown = append(rs.r.Unknown, name)
		return cty.NilVal, false
	}
	if plain.IsNull() {
		return cty.NilVal, false
	}
	return plain, true
}

// set records the value stage.NAME.name shows, if any stage reads it.
func (rs *resolver) set(name string, v cty.Value) {
	if rs.st.needs(name) {
		rs.r.attrs[name] = v
	}
}

// unmark removes marks from v, recording sensitive paths under prefix.
func (rs *resolver) unmark(prefix string, v cty.Value) cty.Value {
	if !v.ContainsMarked() {
		return v
	}
	plain, pvm := v.UnmarkDeepWithPaths()
	for _, pm := range pvm {
		if _, ok := pm.Marks[sensitiveMark{}]; ok {
			rs.r.Sensitive = append(rs.r.Sensitive, prefix+formatPath(pm.Path))
		}
	}
	return plain
}

// remark marks v sensitive when attribute name was.
func (rs *resolver) remark(name string, v cty.Value) cty.Value {
	for _, s := range rs.r.Sensitive {
		if s == name || strings.HasPrefix(s, name+".") || strings.HasPrefix(s, name+"[") {
			return v.Mark(sensitiveMark{})
		}
	}
	return v
}

func formatPath(p cty.Path) string {
	var b strings.Builder
	for _, s := range p {
		switch s := s.(type) {
		case cty.GetAttrStep:
			b.WriteString("." + s.Name)
		case cty.IndexStep:
			if s.Key.Type() == cty.String {
				b.WriteString("." + s.Key.AsString())
			} else if s.Key.Type() == cty.Number {
				b.WriteString("[" + s.Key.AsBigFloat().Text('f', -1) + "]")
			}
		}
	}
	return b.String()
}

func (rs *resolver) errorAt(name, msg string) {
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid value for attribute %q", name),
		Detail:   msg + ".",
		Subject:  rs.st.DeclRange.Ptr(),
	}
	if a := rs.st.attrs[name]; a != nil {
		d.Subject = a.Expr.Range().Ptr()
	}
	rs.diags = append(rs.diags, d)
}

func (rs *resolver) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(rs.p.Cwd, p)
}

// command evaluates `command`: a string (sh -c) or a list of strings (argv).
func (rs *resolver) command() {
	a := rs.st.attrs["command"]
	if a == nil {
		return
	}
	v, d := a.Expr.Value(rs.ctx)
	rs.diags = append(rs.diags, d...)
	if d.HasErrors() {
		return
	}
	rs.set("command", v)
	plain := rs.unmark("command", v)
	if !plain.IsKnown() {
		rs.r.Unknown = append(rs.r.Unknown, "command")
		return
	}
	if plain.IsNull() {
		return
	}
	ty := plain.Type()
	switch {
	case ty == cty.String:
		rs.r.Shell = plain.AsString()
		if strings.TrimSpace(rs.r.Shell) == "" {
			rs.errorAt("command", "the command is empty")
		}
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		l, err := convert.Convert(plain, cty.List(cty.String))
		if err != nil {
			rs.errorAt("command", fmt.Sprintf("a command list must hold strings (%s)", err))
			return
		}
		if !l.IsWhollyKnown() {
			rs.r.Unknown = append(rs.r.Unknown, "command")
			return
		}
		for it := l.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if e.IsNull() {
				rs.errorAt("command", "a command list element is null")
				return
			}
			rs.r.Argv = append(rs.r.Argv, e.AsString())
		}
		if len(rs.r.Argv) == 0 {
			rs.errorAt("command", "the command list is empty")
		}
	default:
		if s, err := convert.Convert(plain, cty.String); err == nil && !s.IsNull() {
			rs.r.Shell = s.AsString()
			return
		}
		rs.errorAt("command", fmt.Sprintf("a string (run with sh -c) or a list of strings (argv) is required, not %s", ty.FriendlyName()))
	}
}

// inputs resolves input paths and expands globs.
func (rs *resolver) inputs(v cty.Value) []string {
	var out []string
	seen := map[string]bool{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			rs.errorAt("inputs", "an input path is null")
			continue
		}
		p := rs.abs(e.AsString())
		if !hasMeta(p) {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			continue
		}
		m, err := rs.p.reads.glob(p)
		if err != nil {
			rs.errorAt("inputs", err.Error())
			continue
		}
		for _, x := range m {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	return out
}

// duration parses "90m", "1h30m", "10s" (or a number of seconds).
func (rs *resolver) duration(name string, v cty.Value) time.Duration {
	d, err := parseDuration(v.AsString())
	if err != nil {
		rs.errorAt(name, err.Error())
	}
	return d
}

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 {
			return 0, fmt.Errorf("duration %q is negative", s)
		}
		if f > 100*365*24*3600 {
			return 0, fmt.Errorf("duration %q is more than 100 years", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: write a number and a unit, e.g. \"90s\", \"15m\", \"1h30m\"", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return d, nil
}

// wholeNumber converts a known number to an int ≥ lo.
func wholeNumber(v cty.Value, lo int) (int, error) {
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, fmt.Errorf("a whole number is required, not %s", bf.Text('g', -1))
	}
	i, acc := bf.Int64()
	if acc != big.Exact || i < int64(lo) || i > 1<<31 {
		return 0, fmt.Errorf("a whole number ≥ %d is required, not %s", lo, bf.Text('g', -1))
	}
	return int(i), nil
}

// resources evaluates the resources block.
func (rs *resolver) resources() {
	b := rs.st.resources
	if b == nil {
		rs.set("resources", rs.p.noResources)
		return
	}
	obj := map[string]cty.Value{
		"cpus":     cty.NumberIntVal(0),
		"memory":   cty.NumberIntVal(0),
		"gpus":     cty.NumberIntVal(0),
		"gpu_type": cty.StringVal(""),
	}
	{
		content, d := b.Body.Content(resourcesSchema)
		rs.diags = append(rs.diags, d...)
		res := &rs.r.Resources
		for _, name := range []string{"cpus", "gpus"} {
			if a := content.Attributes[name]; a != nil {
				if v, ok := rs.evalExpr("resources."+name, a.Expr, cty.Number, "a number"); ok {
					n, err := wholeNumber(v, 0)
					if err != nil {
						rs.diags = append(rs.diags, attrTypeDiag(a, err.Error()))
					}
					if name == "cpus" {
						res.CPUs = n
					} else {
						res.GPUs = n
					}
					obj[name] = v
				}
			}
		}
		if a := content.Attributes["memory"]; a != nil {
			if v, ok := rs.evalExpr("resources.memory", a.Expr, cty.String, "a size such as \"16GiB\" or a number of bytes"); ok {
				n, err := parseBytes(v.AsString())
				if err != nil {
					rs.diags = append(rs.diags, attrTypeDiag(a, err.Error()))
				}
				res.Memory = n
				obj["memory"] = cty.NumberIntVal(n)
			}
		}
		if a := content.Attributes["gpu_type"]; a != nil {
			if v, ok := rs.evalExpr("resources.gpu_type", a.Expr, cty.String, "a string"); ok {
				res.GPUType = v.AsString()
				obj["gpu_type"] = v
			}
		}
	}
	if rs.st.needs("resources") {
		rs.set("resources", cty.ObjectVal(obj))
	}
}

// parseBytes reads a size: a number of bytes, or a number with a unit: k, M,
// G, T (also kB, MB, ...: powers of 1000) or Ki, Mi, Gi, Ti (also KiB, ...:
// powers of 1024).
func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("%q is not a size: write e.g. \"512MiB\", \"16GiB\", \"2G\" or a number of bytes", s)
	}
	mult := map[string]float64{
		"": 1, "B": 1,
		"k": 1e3, "K": 1e3, "kB": 1e3, "KB": 1e3,
		"M": 1e6, "MB": 1e6, "G": 1e9, "GB": 1e9, "T": 1e12, "TB": 1e12,
		"Ki": 1 << 10, "KiB": 1 << 10, "Mi": 1 << 20, "MiB": 1 << 20,
		"Gi": 1 << 30, "GiB": 1 << 30, "Ti": 1 << 40, "TiB": 1 << 40,
	}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("%q: unknown unit %q (use B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)", s, unit)
	}
	v := f * mult
	if v > 1<<62 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(v), nil
}

// config decodes the config block with the kind's spec.
func (rs *resolver) config() {
	ks := rs.p.specs[rs.st.Kind.Name()]
	if ks == nil || ks.spec == nil {
		rs.r.Config = cty.NilVal
		rs.set("config", cty.NullVal(cty.DynamicPseudoType))
		return
	}
	var body hcl.Body = hcl.EmptyBody()
	if rs.st.config != nil {
		body = rs.st.config.Body
	}
	v, d := hcldec.Decode(body, ks.spec, rs.ctx)
	for _, diag := range d {
		if diag.Subject == nil || diag.Subject.Filename == "" {
			diag.Subject = rs.st.DeclRange.Ptr()
			if rs.st.config == nil {
				diag.Detail += fmt.Sprintf(" Stages of kind %q need a config block.", rs.st.Kind.Name())
			}
		}
	}
	rs.diags = append(rs.diags, d...)
	if d.HasErrors() {
		return
	}
	rs.set("config", v)
	plain := rs.unmark("config", v)
	if !plain.IsWhollyKnown() {
		rs.r.Unknown = append(rs.r.Unknown, "config")
	}
	rs.r.Config = plain
}

// stringList is a cty list of strings (empty list when none).
func stringList(ss []string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vs := make([]cty.Value, len(ss))
	for i, s := range ss {
		vs[i] = cty.StringVal(s)
	}
	return cty.ListVal(vs)
}

// convertMsg is the message of a conversion error, or "WHAT is required".
func convertMsg(err error, what string) string {
	if msg := err.Error(); msg != "" {
		return msg
	}
	return what + " is required"
}
