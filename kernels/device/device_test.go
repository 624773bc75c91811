package device

import (
	"strings"
	"testing"

	"github.com/pipeml/pipe/kernels/cuda"
)

func TestOpen(t *testing.T) {
	s, err := Open(Options{Device: "cpu"})
	if err != nil || s.GPU || !strings.Contains(s.Note, "not checked") {
		t.Fatalf("cpu: %+v, %v", s, err)
	}
	s.Backend.Close()
	if _, err := Open(Options{Device: "tpu"}); err == nil {
		t.Error("unknown device accepted")
	}
	if _, err := Open(Options{Device: "cpu", RequireGPU: true}); err == nil {
		t.Error("cpu with require_gpu accepted")
	}
	if cuda.Built {
		t.Skip("CUDA build: the remaining cases assume no GPU backend")
	}
	s, err = Open(Options{Device: "auto"})
	if err != nil || s.GPU || !strings.Contains(s.Note, "GPU was not checked") {
		t.Fatalf("auto without CUDA: %+v, %v", s, err)
	}
	s.Backend.Close()
	if _, err := Open(Options{Device: "cuda"}); err == nil || !strings.Contains(err.Error(), "without CUDA") {
		t.Errorf("cuda without CUDA: %v", err)
	}
	if _, err := Open(Options{Device: "auto", RequireGPU: true}); err == nil {
		t.Error("auto with require_gpu and no GPU accepted")
	}
}
