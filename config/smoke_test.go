package config

import (
	"os"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestSmoke(t *testing.T) {
	src := `
pipeline {
 description = "d"
 max_parallel = 3
}
variable "n" {
  type = number
  default = 2
  validation {
    condition = var.n > 0
    error_message = "n must be positive"
  }
}
variable "secret" {
  type = string
  default = "hunter2"
  sensitive = true
}
locals {
  b = "${local.a}-x"
  a = upper("v${var.n}")
}
stage "cache" {
  kind = "cache"
  config { dir = "out/${local.b}" }
}
stage "train" {
  kind = "train"
  command = ["echo", stage.cache.dir]
  env = { PW = var.secret, N = var.n }
  inputs = ["*.go"]
  outputs = ["model.bin"]
  retries = 2
  retry_delay = "3s"
  timeout = 60
  config {
    epochs = var.n * 10
    data = stage.cache.dir
    password = var.secret
  }
  resources {
    cpus = 4
    memory = "2GiB"
  }
}
stage "report" {
  command = "cat ${stage.train.model} > report.txt"
  depends_on = [stage.cache]
  enabled = stage.train.retries > 1
}
`
	p, diags := LoadSource("p.hcl", []byte(src), Inputs{Cwd: "/tmp/x", Env: os.Environ()}, testRegistry())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, st := range p.Order {
		t.Logf("%s deps=%v", st.Name, st.Deps)
	}
	res, diags := p.ResolveAll(nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, st := range p.Order {
		t.Logf("%+v", *res[st.Name])
	}
	res, diags = p.ResolveAll(func(s string) map[string]cty.Value {
		if s == "cache" {
			return map[string]cty.Value{"dir": cty.StringVal("/abs/cache")}
		}
		return map[string]cty.Value{"model": cty.StringVal("m.bin"), "loss": cty.NumberFloatVal(0.5)}
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, st := range p.Order {
		t.Logf("%+v", *res[st.Name])
	}
}
