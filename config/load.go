package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/pipeml/pipe/dag"
)

// hcldecSpec is a kind's config spec.
type hcldecSpec = hcldec.Spec

// stageAttrs are the attributes of a stage block (besides the config and
// resources blocks).
var stageSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "kind"},
		{Name: "description"},
		{Name: "command"},
		{Name: "env"},
		{Name: "workdir"},
		{Name: "inputs"},
		{Name: "outputs"},
		{Name: "depends_on"},
		{Name: "retries"},
		{Name: "retry_delay"},
		{Name: "timeout"},
		{Name: "enabled"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "resources"},
		{Type: "config"},
	},
}

var resourcesSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "cpus"},
		{Name: "memory"},
		{Name: "gpus"},
		{Name: "gpu_type"},
	},
}

var pipelineSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "description"},
		{Name: "max_parallel"},
	},
}

// stageObjectAttrs are the attributes of the object stage.NAME, besides the
// kind's outputs.
var stageObjectAttrs = []string{
	"name", "kind", "description", "command", "env", "workdir", "inputs", "outputs",
	"retries", "retry_delay", "timeout", "enabled", "resources", "config",
}

// decodeLocals evaluates the locals blocks in dependency order.
func (l *loader) decodeLocals(blocks []*hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	attrs := map[string]*hcl.Attribute{}
	var order []string
	for _, b := range blocks {
		as, d := b.Body.JustAttributes()
		diags = append(diags, d...)
		for _, a := range sortedAttrs(as) {
			if prev, dup := attrs[a.Name]; dup {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate local value",
					Detail:   fmt.Sprintf("Local value %q was already defined at %s.", a.Name, prev.Range),
					Subject:  a.NameRange.Ptr(),
				})
				continue
			}
			attrs[a.Name] = a
			order = append(order, a.Name)
		}
	}
	g := dag.New[string](len(order))
	for _, name := range order {
		g.Add(name)
	}
	for _, name := range order {
		a := attrs[name]
		for _, tr := range a.Expr.Variables() {
			diags = append(diags, l.checkStaticRef(tr, attrs, order, "a local value")...)
			if tr.RootName() == "local" && len(tr) > 1 {
				if step, ok := tr[1].(hcl.TraverseAttr); ok {
					if _, ok := attrs[step.Name]; ok {
						g.Connect(step.Name, name)
					}
				}
			}
		}
	}
	if diags.HasErrors() {
		for _, name := range order {
			l.p.Locals[name] = cty.DynamicVal
		}
		l.p.ctx.Variables["local"] = cty.ObjectVal(l.p.Locals)
		return diags
	}
	sorted, err := g.TopoSort()
	if ce, ok := err.(*dag.CycleError[string]); ok {
		for _, name := range order {
			l.p.Locals[name] = cty.DynamicVal
		}
		l.p.ctx.Variables["local"] = cty.ObjectVal(l.p.Locals)
		for _, c := range ce.Cycles {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cycle in local values",
				Detail:   fmt.Sprintf("These local values refer to each other: %s.", formatCycle("local.", c)),
				Subject:  attrs[c[0]].NameRange.Ptr(),
			})
		}
		return diags
	}
	vals := make(map[string]cty.Value, len(sorted))
	l.p.ctx.Variables["local"] = cty.EmptyObjectVal
	for _, name := range sorted {
		a := attrs[name]
		v, d := a.Expr.Value(l.p.ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			v = cty.DynamicVal
		}
		vals[name] = v
		// Locals are few; rebuilding the object keeps each evaluation simple.
		l.p.ctx.Variables["local"] = cty.ObjectVal(vals)
	}
	for k, v := range vals {
		l.p.Locals[k], _ = v.UnmarkDeep()
	}
	return diags
}

// checkStaticRef checks a reference made where stages cannot be referred to
// (locals, the pipeline block, kind).
func (l *loader) checkStaticRef(tr hcl.Traversal, locals map[string]*hcl.Attribute, localOrder []string, where string) hcl.Diagnostics {
	switch tr.RootName() {
	case "stage":
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Reference to a stage not allowed here",
			Detail:   fmt.Sprintf("%s is evaluated before any stage runs, so it cannot refer to stages.", capitalize(where)),
			Subject:  tr.SourceRange().Ptr(),
		}}
	case "local":
		if locals == nil {
			return l.checkVarRef(tr, "local", keysOf(l.p.Locals))
		}
		return l.checkVarRef(tr, "local", localOrder)
	}
	return l.checkCommonRef(tr)
}

// checkCommonRef checks var, path and unknown roots.
func (l *loader) checkCommonRef(tr hcl.Traversal) hcl.Diagnostics {
	switch root := tr.RootName(); root {
	case "var":
		return l.checkVarRef(tr, "var", keysOf(l.p.Variables))
	case "local":
		return l.checkVarRef(tr, "local", keysOf(l.p.Locals))
	case "path":
		return l.checkVarRef(tr, "path", []string{"cwd", "pipeline"})
	default:
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unknown variable",
			Detail:   fmt.Sprintf("There is no variable named %q: references start with var., local., stage. or path.%s", root, didYouMean(root, []string{"var", "local", "stage", "path"})),
			Subject:  tr.SourceRange().Ptr(),
		}}
	}
}

// checkVarRef checks that root.NAME names one of names.
func (l *loader) checkVarRef(tr hcl.Traversal, root string, names []string) hcl.Diagnostics {
	name, rng, ok := secondStep(tr)
	if !ok {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid reference",
			Detail:   fmt.Sprintf("A reference to %s must name an attribute: %s.NAME.", root, root),
			Subject:  tr.SourceRange().Ptr(),
		}}
	}
	for _, n := range names {
		if n == name {
			return nil
		}
	}
	what := map[string]string{"var": "variable", "local": "local value", "path": "path"}[root]
	detail := fmt.Sprintf("There is no %s named %q.", what, name)
	switch root {
	case "var":
		detail = fmt.Sprintf("No variable named %q is declared.", name)
	case "path":
		detail = fmt.Sprintf("There is no path.%s: path.pipeline is the directory of the pipeline file, path.cwd the directory pipe runs in.", name)
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Reference to undeclared %s", what),
		Detail:   detail + didYouMean(name, names),
		Subject:  rng.Ptr(),
	}}
}

// secondStep returns the name after the root (root.NAME).
func secondStep(tr hcl.Traversal) (string, hcl.Range, bool) {
	if len(tr) < 2 {
		return "", hcl.Range{}, false
	}
	switch s := tr[1].(type) {
	case hcl.TraverseAttr:
		return s.Name, hcl.RangeBetween(tr[0].SourceRange(), s.SrcRange), true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), hcl.RangeBetween(tr[0].SourceRange(), s.SrcRange), true
		}
	}
	return "", hcl.Range{}, false
}

// decodePipeline decodes the optional pipeline block.
func (l *loader) decodePipeline(blocks []*hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if len(blocks) > 1 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate pipeline block",
			Detail:   fmt.Sprintf("A pipeline file has at most one pipeline block; the first is at %s.", blocks[0].DefRange),
			Subject:  blocks[1].DefRange.Ptr(),
		})
	}
	if len(blocks) == 0 {
		return diags
	}
	content, d := blocks[0].Body.Content(pipelineSchema)
	diags = append(diags, d...)
	if a := content.Attributes["description"]; a != nil {
		v, d := l.staticValue(a, cty.String, "a string")
		diags = append(diags, d...)
		if !d.HasErrors() && !v.IsNull() {
			l.p.Description = v.AsString()
		}
	}
	if a := content.Attributes["max_parallel"]; a != nil {
		v, d := l.staticValue(a, cty.Number, "a number")
		diags = append(diags, d...)
		if !d.HasErrors() && !v.IsNull() {
			n, err := wholeNumber(v, 0)
			if err != nil {
				diags = append(diags, attrTypeDiag(a, err.Error()))
			} else {
				l.p.MaxParallel = n
			}
		}
	}
	return diags
}

// staticValue evaluates an attribute that may refer to variables, locals and
// paths but not to stages, and converts it to ty.
func (l *loader) staticValue(a *hcl.Attribute, ty cty.Type, what string) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	for _, tr := range a.Expr.Variables() {
		diags = append(diags, l.checkStaticRef(tr, nil, nil, fmt.Sprintf("attribute %q", a.Name))...)
	}
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	v, d := a.Expr.Value(l.p.ctx)
	diags = append(diags, d...)
	if d.HasErrors() {
		return cty.NilVal, diags
	}
	v, _ = v.UnmarkDeep()
	c, err := convert.Convert(v, ty)
	if err != nil || !c.IsWhollyKnown() {
		return cty.NilVal, append(diags, attrTypeDiag(a, what+" is required"))
	}
	return c, diags
}

// stageRef is a reference from one stage to another.
type stageRef struct {
	target string
	rng    hcl.Range
}

// decodeStages decodes the stage blocks, checks their references and builds
// the graph.
func (l *loader) decodeStages(blocks []*hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	p := l.p
	var order []*Stage
	for _, b := range blocks {
		name := b.Labels[0]
		if !hclsyntax.ValidIdentifier(name) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid stage name",
				Detail:   fmt.Sprintf("%q is not a valid stage name: use letters, digits, underscores and dashes, starting with a letter.", name),
				Subject:  b.LabelRanges[0].Ptr(),
			})
			continue
		}
		if prev, dup := p.Stages[name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate stage",
				Detail:   fmt.Sprintf("Stage %q was already declared at %s.", name, prev.DeclRange),
				Subject:  b.DefRange.Ptr(),
			})
			continue
		}
		st := &Stage{Name: name, DeclRange: b.DefRange, decl: len(order)}
		p.Stages[name] = st
		order = append(order, st)
		content, d := b.Body.Content(stageSchema)
		diags = append(diags, d...)
		st.attrs = content.Attributes
		for _, blk := range content.Blocks {
			dst := &st.config
			if blk.Type == "resources" {
				dst = &st.resources
			}
			if *dst != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  fmt.Sprintf("Duplicate %s block", blk.Type),
					Detail:   fmt.Sprintf("A stage has at most one %s block; the first is at %s.", blk.Type, (*dst).DefRange),
					Subject:  blk.DefRange.Ptr(),
				})
				continue
			}
			*dst = blk
		}
		diags = append(diags, l.decodeKind(st)...)
		if st.resources != nil {
			_, d := st.resources.Body.Content(resourcesSchema)
			diags = append(diags, d...)
		}
	}

	names := make([]string, len(order))
	for i, st := range order {
		names[i] = st.Name
	}
	// References and dependencies.
	g := dag.New[string](len(order))
	for _, st := range order {
		g.Add(st.Name)
	}
	for _, st := range order {
		refs, d := l.stageRefs(st, names)
		diags = append(diags, d...)
		for _, r := range refs {
			g.Connect(r.target, st.Name)
		}
	}
	if diags.HasErrors() {
		return diags
	}
	sorted, err := g.TopoSort()
	if ce, ok := err.(*dag.CycleError[string]); ok {
		for _, c := range ce.Cycles {
			var where []string
			for _, n := range c {
				where = append(where, fmt.Sprintf("  stage %q at %s", n, p.Stages[n].DeclRange))
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Dependency cycle",
				Detail: fmt.Sprintf("These stages depend on each other: %s.\n%s",
					formatCycle("", c), strings.Join(where, "\n")),
				Subject: p.Stages[c[0]].DeclRange.Ptr(),
			})
		}
		return diags
	}
	p.Order = make([]*Stage, len(sorted))
	for i, n := range sorted {
		st := p.Stages[n]
		st.Index = i
		p.Order[i] = st
	}
	for _, st := range p.Order {
		st.Deps = g.Predecessors(st.Name)
		sort.Slice(st.Deps, func(i, j int) bool { return p.Stages[st.Deps[i]].Index < p.Stages[st.Deps[j]].Index })
	}
	p.Graph = g
	return diags
}

// decodeKind evaluates the kind attribute, looks the kind up and checks the
// config block against its schema.
func (l *loader) decodeKind(st *Stage) hcl.Diagnostics {
	var diags hcl.Diagnostics
	name := DefaultKind
	subject := st.DeclRange
	if a := st.attrs["kind"]; a != nil {
		v, d := l.staticValue(a, cty.String, "a string")
		if d.HasErrors() {
			return d
		}
		if v.IsNull() {
			return hcl.Diagnostics{attrTypeDiag(a, "a string is required")}
		}
		name, subject = v.AsString(), a.Expr.Range()
	}
	ks := l.p.specs[name]
	if ks == nil {
		var k, ok = l.reg.Lookup(name)
		if !ok {
			known := l.reg.Names()
			detail := fmt.Sprintf("There is no stage kind %q. Known kinds: %s.%s", name, strings.Join(known, ", "), didYouMean(name, known))
			if st.attrs["kind"] == nil {
				detail = fmt.Sprintf("The stage has no kind attribute and the default kind %q is not available. Known kinds: %s.", name, strings.Join(known, ", "))
			}
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Unknown stage kind",
				Detail:   detail,
				Subject:  subject.Ptr(),
			}}
		}
		ks = &kindSpec{kind: k, spec: k.ConfigSpec(), outputs: k.Outputs()}
		if ks.spec != nil {
			ks.schema = hcldec.ImpliedSchema(ks.spec)
		}
		l.p.specs[name] = ks
	}
	st.Kind = ks.kind
	if st.config != nil {
		if ks.spec == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unexpected config block",
				Detail:   fmt.Sprintf("Stages of kind %q take no config block.", name),
				Subject:  st.config.DefRange.Ptr(),
			})
		} else {
			_, d := st.config.Body.Content(ks.schema)
			diags = append(diags, d...)
		}
	}
	return diags
}

// stageRefs checks every reference a stage makes and returns its stage
// dependencies (depends_on and implicit references).
func (l *loader) stageRefs(st *Stage, names []string) ([]stageRef, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var refs []stageRef
	if a := st.attrs["depends_on"]; a != nil {
		exprs, d := hcl.ExprList(a.Expr)
		diags = append(diags, d...)
		for _, e := range exprs {
			tr, d := hcl.AbsTraversalForExpr(e)
			if d.HasErrors() || tr.RootName() != "stage" || len(tr) != 2 {
				detail := "Each entry of depends_on must be a stage reference: stage.NAME (not a string)."
				if !d.HasErrors() && tr.RootName() == "stage" && len(tr) > 2 {
					detail = "depends_on names whole stages: write stage.NAME, without an attribute."
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid depends_on entry",
					Detail:   detail,
					Subject:  e.Range().Ptr(),
				})
				continue
			}
			r, d := l.checkStageRef(st, tr, names, false)
			diags = append(diags, d...)
			if r != nil {
				refs = append(refs, *r)
			}
		}
	}
	visit := func(e hcl.Expression) {
		for _, tr := range e.Variables() {
			if tr.RootName() != "stage" {
				diags = append(diags, l.checkCommonRef(tr)...)
				continue
			}
			r, d := l.checkStageRef(st, tr, names, true)
			diags = append(diags, d...)
			if r != nil {
				refs = append(refs, *r)
			}
		}
	}
	for _, a := range sortedAttrs(st.attrs) {
		if a.Name == "depends_on" || a.Name == "kind" {
			continue
		}
		visit(a.Expr)
	}
	for _, b := range []*hcl.Block{st.config, st.resources} {
		if b != nil {
			walkBody(b.Body, visit)
		}
	}
	return refs, diags
}

// walkBody calls f for every expression in a native-syntax body, nested
// blocks included, in source order.
func walkBody(body hcl.Body, f func(hcl.Expression)) {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return
	}
	attrs := make([]*hclsyntax.Attribute, 0, len(sb.Attributes))
	for _, a := range sb.Attributes {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].SrcRange.Start.Byte < attrs[j].SrcRange.Start.Byte })
	for _, a := range attrs {
		f(a.Expr)
	}
	for _, b := range sb.Blocks {
		walkBody(b.Body, f)
	}
}

// checkStageRef checks stage.NAME[.ATTR...]. When reading, it records on the
// target which attribute is read.
func (l *loader) checkStageRef(from *Stage, tr hcl.Traversal, names []string, reading bool) (*stageRef, hcl.Diagnostics) {
	name, rng, ok := secondStep(tr)
	if !ok {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid stage reference",
			Detail:   "A stage reference names a stage: stage.NAME or stage.NAME.ATTRIBUTE.",
			Subject:  tr.SourceRange().Ptr(),
		}}
	}
	target := l.p.Stages[name]
	if target == nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Reference to undeclared stage",
			Detail:   fmt.Sprintf("There is no stage named %q.%s", name, didYouMean(name, names)),
			Subject:  rng.Ptr(),
		}}
	}
	if target == from {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Self-referential stage",
			Detail:   fmt.Sprintf("Stage %q refers to itself; a stage can only use the attributes and outputs of other stages.", name),
			Subject:  tr.SourceRange().Ptr(),
		}}
	}
	if reading && (len(tr) == 2 || target.Kind == nil) {
		target.refAll = true
	}
	if len(tr) > 2 && target.Kind != nil {
		var attr string
		var arng hcl.Range
		switch s := tr[2].(type) {
		case hcl.TraverseAttr:
			attr, arng = s.Name, s.SrcRange
		case hcl.TraverseIndex:
			if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
				attr, arng = s.Key.AsString(), s.SrcRange
			}
		}
		if attr != "" {
			outs := l.p.specs[target.Kind.Name()].outputs
			if _, isOut := outs[attr]; !isOut && !contains(stageObjectAttrs, attr) {
				avail := append(append([]string(nil), stageObjectAttrs...), keysOf(outs)...)
				return nil, hcl.Diagnostics{{
					Severity: hcl.DiagError,
					Summary:  "Unsupported attribute",
					Detail: fmt.Sprintf("Stage %q (kind %q) has no attribute or output named %q.%s Outputs of kind %q: %s.",
						name, target.Kind.Name(), attr, didYouMean(attr, avail), target.Kind.Name(), listOrNone(keysOf(outs))),
					Subject: hcl.RangeBetween(rng, arng).Ptr(),
				}}
			}
			if reading {
				if target.refs == nil {
					target.refs = map[string]struct{}{}
				}
				target.refs[attr] = struct{}{}
			}
		} else if reading {
			target.refAll = true
		}
	}
	return &stageRef{target: name, rng: rng}, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func listOrNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// keysOf returns the sorted keys of a map.
func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// formatCycle writes a cycle "a -> b -> a" with each name prefixed.
func formatCycle(prefix string, c []string) string {
	parts := make([]string, 0, len(c)+1)
	for _, n := range c {
		parts = append(parts, prefix+n)
	}
	parts = append(parts, prefix+c[0])
	return strings.Join(parts, " -> ")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
