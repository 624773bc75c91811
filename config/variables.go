package config

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// sensitiveMark marks values derived from sensitive variables.
type sensitiveMark struct{}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
		{Name: "sensitive"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message", Required: true},
	},
}

// varDecl is a variable block being decoded.
type varDecl struct {
	v           *Variable
	defaults    *typeexpr.Defaults
	validations []*hcl.BodyContent
	valueRange  hcl.Range
}

// decodeVariables decodes the variable blocks and sets each variable's value:
// default < PIPE_VAR_name < -var-file (in order) < -var (in order).
func (l *loader) decodeVariables(blocks []*hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	decls := map[string]*varDecl{}
	var order []string
	for _, b := range blocks {
		name := b.Labels[0]
		if !hclsyntax.ValidIdentifier(name) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid variable name",
				Detail:   fmt.Sprintf("%q is not a valid name: use letters, digits, underscores and dashes, starting with a letter.", name),
				Subject:  b.LabelRanges[0].Ptr(),
			})
			continue
		}
		if prev, dup := decls[name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate variable",
				Detail:   fmt.Sprintf("Variable %q was already declared at %s.", name, prev.v.DeclRange),
				Subject:  b.DefRange.Ptr(),
			})
			continue
		}
		content, d := b.Body.Content(variableSchema)
		diags = append(diags, d...)
		v := &Variable{Name: name, Type: cty.DynamicPseudoType, DeclRange: b.DefRange}
		decl := &varDecl{v: v}
		if a := content.Attributes["type"]; a != nil {
			ty, defs, d := typeexpr.TypeConstraintWithDefaults(a.Expr)
			diags = append(diags, d...)
			if !d.HasErrors() {
				v.Type, decl.defaults = ty, defs
			}
		}
		if a := content.Attributes["description"]; a != nil {
			s, d := staticString(a)
			diags = append(diags, d...)
			v.Description = s
		}
		if a := content.Attributes["sensitive"]; a != nil {
			val, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			if !d.HasErrors() {
				if c, err := convert.Convert(val, cty.Bool); err != nil || c.IsNull() || !c.IsKnown() {
					diags = append(diags, attrTypeDiag(a, "a bool is required"))
				} else {
					v.Sensitive = c.True()
				}
			}
		}
		if a := content.Attributes["default"]; a != nil {
			val, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			if !d.HasErrors() {
				v.Default = val
				v.Value, v.Source = val, "default"
				decl.valueRange = a.Expr.Range()
			}
		}
		for _, vb := range content.Blocks {
			vc, d := vb.Body.Content(validationSchema)
			diags = append(diags, d...)
			if !d.HasErrors() {
				decl.validations = append(decl.validations, vc)
			}
		}
		decls[name] = decl
		order = append(order, name)
	}
	if diags.HasErrors() {
		return diags
	}

	// Environment, sorted for deterministic diagnostics.
	var envNames []string
	for k := range l.env {
		if strings.HasPrefix(k, EnvPrefix) {
			envNames = append(envNames, k)
		}
	}
	sort.Strings(envNames)
	for _, k := range envNames {
		name := strings.TrimPrefix(k, EnvPrefix)
		decl, ok := decls[name]
		if !ok {
			continue // like Terraform: undeclared TF_VAR_ values are ignored
		}
		rng := hcl.Range{Filename: fmt.Sprintf("<environment variable %s>", k), Start: hcl.InitialPos, End: hcl.InitialPos}
		val, d := parseRawValue(l.env[k], decl.v.Type, rng)
		diags = append(diags, d...)
		if !d.HasErrors() {
			decl.v.Value, decl.v.Source, decl.valueRange = val, "env "+k, rng
		}
	}

	// Variable files.
	for _, f := range l.in.VarFiles {
		path := f
		if !filepath.IsAbs(path) {
			path = filepath.Join(l.p.Cwd, path)
		}
		src, err := l.p.reads.readFile(path)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read variable file",
				Detail:   err.Error(),
			})
			continue
		}
		if d := checkNesting(src, f); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		file, d := hclsyntax.ParseConfig(src, f, hcl.InitialPos)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		attrs, d := file.Body.JustAttributes()
		diags = append(diags, d...)
		for _, a := range sortedAttrs(attrs) {
			decl, ok := decls[a.Name]
			if !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagWarning,
					Summary:  "Value for undeclared variable",
					Detail:   fmt.Sprintf("The pipeline declares no variable %q; this value is ignored.%s", a.Name, didYouMean(a.Name, order)),
					Subject:  a.NameRange.Ptr(),
				})
				continue
			}
			val, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			if !d.HasErrors() {
				decl.v.Value, decl.v.Source, decl.valueRange = val, "file "+f, a.Expr.Range()
			}
		}
	}

	// -var arguments.
	for _, kv := range l.in.Vars {
		name, raw, ok := strings.Cut(kv, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid -var option",
				Detail:   fmt.Sprintf("The option -var %q is not of the form NAME=VALUE.", kv),
			})
			continue
		}
		decl, ok := decls[name]
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("The pipeline declares no variable %q (set with -var %q).%s", name, kv, didYouMean(name, order)),
			})
			continue
		}
		rng := hcl.Range{Filename: fmt.Sprintf("<value for var.%s>", name), Start: hcl.InitialPos, End: hcl.InitialPos}
		val, d := parseRawValue(raw, decl.v.Type, rng)
		diags = append(diags, d...)
		if !d.HasErrors() {
			decl.v.Value, decl.v.Source, decl.valueRange = val, "-var", rng
		}
	}
	if diags.HasErrors() {
		return diags
	}

	// Conversion, defaults of optional attributes, required variables.
	vars := make(map[string]cty.Value, len(decls))
	for _, name := range order {
		decl := decls[name]
		v := decl.v
		if v.Value == cty.NilVal {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail:   fmt.Sprintf("Variable %q has no default: set it with -var %s=VALUE, a -var-file, or the environment variable %s%s.", name, name, EnvPrefix, name),
				Subject:  v.DeclRange.Ptr(),
			})
			continue
		}
		val := v.Value
		if decl.defaults != nil {
			val = decl.defaults.Apply(val)
		}
		conv, err := convert.Convert(val, v.Type)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Invalid value for variable %q", name),
				Detail:   fmt.Sprintf("The value%s (from %s) is not suitable for variable %q declared at %s: %s.", quoteValue(v), v.Source, name, v.DeclRange, err),
				Subject:  decl.subject(v.DeclRange),
			})
			continue
		}
		v.Value = conv
		l.p.Variables[name] = v
		if v.Sensitive {
			conv = conv.Mark(sensitiveMark{})
		}
		vars[name] = conv
	}
	if diags.HasErrors() {
		return diags
	}
	l.p.ctx.Variables["var"] = cty.ObjectVal(vars)

	// Validation rules see every variable.
	for _, name := range order {
		decl := decls[name]
		for _, vc := range decl.validations {
			diags = append(diags, l.checkValidation(decl, vc)...)
		}
	}
	return diags
}

// subject is where a diagnostic about the variable's value points: the value
// in its file, or, for values from the command line or the environment,
// which have no file, the fallback range in the pipeline.
func (d *varDecl) subject(fallback hcl.Range) *hcl.Range {
	if strings.HasPrefix(d.valueRange.Filename, "<") {
		return fallback.Ptr()
	}
	return d.valueRange.Ptr()
}

// checkValidation evaluates one validation block of a variable.
func (l *loader) checkValidation(decl *varDecl, vc *hcl.BodyContent) hcl.Diagnostics {
	name := decl.v.Name
	cond := vc.Attributes["condition"]
	msgAttr := vc.Attributes["error_message"]
	var diags hcl.Diagnostics
	for _, tr := range cond.Expr.Variables() {
		if tr.RootName() != "var" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid reference in variable validation",
				Detail:   fmt.Sprintf("The condition of variable %q may refer only to variables (var.NAME), not to %q.", name, tr.RootName()),
				Subject:  tr.SourceRange().Ptr(),
			})
		}
	}
	if diags.HasErrors() {
		return diags
	}
	val, d := cond.Expr.Value(l.p.ctx)
	diags = append(diags, d...)
	if d.HasErrors() {
		return diags
	}
	val, _ = val.UnmarkDeep()
	val, err := convert.Convert(val, cty.Bool)
	if err != nil || val.IsNull() || !val.IsKnown() {
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid validation condition",
			Detail:   fmt.Sprintf("The condition of a validation rule of variable %q must be a bool.", name),
			Subject:  cond.Expr.Range().Ptr(),
		})
	}
	if val.True() {
		return diags
	}
	msgVal, d := msgAttr.Expr.Value(l.p.ctx)
	diags = append(diags, d...)
	msg := "(the error message could not be evaluated)"
	if !d.HasErrors() {
		msgVal, _ = msgVal.UnmarkDeep()
		if s, err := convert.Convert(msgVal, cty.String); err == nil && s.IsKnown() && !s.IsNull() {
			msg = s.AsString()
		}
	}
	return append(diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid value for variable %q", name),
		Detail:   fmt.Sprintf("%s\n\nThe value comes from %s; the rule is at %s.", msg, decl.v.Source, cond.Expr.Range()),
		Subject:  decl.subject(cond.Expr.Range()),
	})
}

// parseRawValue reads a -var or environment value: a raw string for
// primitive (and unconstrained) types, an HCL expression otherwise, as
// Terraform does.
func parseRawValue(raw string, ty cty.Type, rng hcl.Range) (cty.Value, hcl.Diagnostics) {
	if ty.IsPrimitiveType() || ty == cty.DynamicPseudoType {
		return cty.StringVal(raw), nil
	}
	if diags := checkNesting([]byte(raw), rng.Filename); diags.HasErrors() {
		return cty.NilVal, diags
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), rng.Filename, rng.Start)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	return expr.Value(nil)
}

// staticString evaluates an attribute that may use no references as a
// string.
func staticString(a *hcl.Attribute) (string, hcl.Diagnostics) {
	val, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return "", diags
	}
	s, err := convert.Convert(val, cty.String)
	if err != nil || s.IsNull() || !s.IsKnown() {
		return "", hcl.Diagnostics{attrTypeDiag(a, "a string is required")}
	}
	return s.AsString(), nil
}

// attrTypeDiag is the diagnostic for an attribute of the wrong type.
func attrTypeDiag(a *hcl.Attribute, what string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Incorrect attribute value type",
		Detail:   fmt.Sprintf("Inappropriate value for attribute %q: %s.", a.Name, what),
		Subject:  a.Expr.Range().Ptr(),
	}
}

// sortedAttrs returns attributes in source order.
func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Range.Start.Byte < out[j].Range.Start.Byte })
	return out
}

// quoteValue returns ` "text"` for a non-sensitive string value, else "".
func quoteValue(v *Variable) string {
	if v.Sensitive || !v.Value.IsKnown() || v.Value.IsNull() || v.Value.Type() != cty.String || len(v.Value.AsString()) > 80 {
		return ""
	}
	return fmt.Sprintf(" %q", v.Value.AsString())
}
