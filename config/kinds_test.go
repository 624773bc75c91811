package config

import (
	"context"
	"errors"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/pipeml/pipe/stages"
)

// testKind is a stage kind for tests: name, optional config spec, outputs.
type testKind struct {
	name    string
	spec    hcldec.Spec
	outputs map[string]cty.Type
}

func (k *testKind) Name() string                 { return k.name }
func (k *testKind) Version() string              { return "1" }
func (k *testKind) ConfigSpec() hcldec.Spec      { return k.spec }
func (k *testKind) Outputs() map[string]cty.Type { return k.outputs }
func (k *testKind) Paths(cty.Value, string) (stages.Paths, error) {
	return stages.Paths{}, nil
}
func (k *testKind) Run(context.Context, *stages.Run) (*stages.Result, error) {
	return nil, errors.New("test kind does not run")
}

// testRegistry holds exec (no config, no outputs), train (config with a
// required number and an optional string, outputs model and loss) and
// cache (config dir, output dir).
func testRegistry() *stages.Registry {
	reg, err := stages.NewRegistry(
		&testKind{name: "exec"},
		&testKind{
			name: "train",
			spec: &hcldec.ObjectSpec{
				"epochs":   &hcldec.AttrSpec{Name: "epochs", Type: cty.Number, Required: true},
				"data":     &hcldec.AttrSpec{Name: "data", Type: cty.String},
				"password": &hcldec.AttrSpec{Name: "password", Type: cty.String},
			},
			outputs: map[string]cty.Type{"model": cty.String, "loss": cty.Number},
		},
		&testKind{
			name:    "cache",
			spec:    &hcldec.ObjectSpec{"dir": &hcldec.AttrSpec{Name: "dir", Type: cty.String, Required: true}},
			outputs: map[string]cty.Type{"dir": cty.String},
		},
	)
	if err != nil {
		panic(err)
	}
	return reg
}

func parseExpr(t *testing.T, src string) hcl.Expression {
	t.Helper()
	e, diags := hclsyntax.ParseExpression([]byte(src), "expr.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return e
}
