package check

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/pipeml/pipe/kernels"
)

func TestQuickSuitePasses(t *testing.T) {
	b := kernels.NewCPU(0)
	defer b.Close()
	rs, err := RunAll(context.Background(), b, Suite(true, 1), Options{Seed: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, rs); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Err != nil {
			t.Errorf("%s", buf.String())
			break
		}
	}
	if !strings.Contains(buf.String(), "scan B19 L48") {
		t.Errorf("table lacks the scan:\n%s", buf.String())
	}
}

// brokenBackend wraps the CPU and leaves one output element unwritten (the
// poisoned-output check must catch it) or perturbs one gradient.
type brokenBackend struct {
	*kernels.CPU
	mode string
}

func (b brokenBackend) LayerNormFwd(x, w, bias, y, mean, rstd kernels.Buffer, rows, D int, eps float32) error {
	if err := b.CPU.LayerNormFwd(x, w, bias, y, mean, rstd, rows, D, eps); err != nil {
		return err
	}
	h := y.(*kernels.Host)
	switch b.mode {
	case "unwritten":
		h.Data[len(h.Data)-1] = float32(nan())
	case "wrong":
		h.Data[0] += 1e-2
	}
	return nil
}

func (b brokenBackend) LayerNormBwd(x, w, gy, mean, rstd, gx, gw, gb kernels.Buffer, rows, D int) error {
	if err := b.CPU.LayerNormBwd(x, w, gy, mean, rstd, gx, gw, gb, rows, D); err != nil {
		return err
	}
	if b.mode == "grad" {
		gw.(*kernels.Host).Data[1] *= 1.05
	}
	return nil
}

func nan() float64 { var z float64; return z / z }

func TestCheckerCatchesFaults(t *testing.T) {
	cpu := kernels.NewCPU(1)
	defer cpu.Close()
	for _, mode := range []string{"unwritten", "wrong", "grad"} {
		for _, full := range []bool{false, true} {
			r := Run(brokenBackend{cpu, mode}, LayerNorm(NewGen(1), 5, 8), Options{FullFD: full})
			if r.Err == nil {
				t.Errorf("mode %s full=%v: fault not detected", mode, full)
			}
		}
	}
	if r := Run(brokenBackend{cpu, ""}, LayerNorm(NewGen(1), 5, 8), Options{}); r.Err != nil {
		t.Errorf("intact backend failed: %v", r.Err)
	}
}
