package cuda

import (
	"strings"
	"testing"

	"github.com/pipeml/pipe/kernels"
)

// hostBuf is a kernels.Buffer of some other backend.
type hostBuf []float32

func (h hostBuf) Len() int { return len(h) }

func TestBackendAdapter(t *testing.T) {
	f := newFake()
	be := NewBackend(NewDevice(f), "cuda: fake")
	if be.Name() != "cuda: fake" {
		t.Errorf("Name = %q", be.Name())
	}
	x, err := be.Alloc(8)
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != 8 {
		t.Errorf("Len = %d", x.Len())
	}
	s, err := be.Slice(x, 2, 4)
	if err != nil || s.Len() != 4 {
		t.Fatalf("Slice = %v, %v", s, err)
	}
	if _, err := be.Slice(x, 6, 4); err == nil {
		t.Error("slice past the end accepted")
	}
	// Optional buffers may be nil; the launch must carry a null pointer.
	if err := be.Affine(0, nil, 1, x); err != nil {
		t.Fatal(err)
	}
	last := f.launches[len(f.launches)-1]
	if last.Kernel != "affine" || last.Args[1].Bits != 0 {
		t.Errorf("affine launch %+v", last)
	}
	// A buffer of another backend is refused with a clear error.
	err = be.Axpy(1, hostBuf(make([]float32, 8)), x)
	if err == nil || !strings.Contains(err.Error(), "not a buffer of this CUDA backend") {
		t.Errorf("foreign buffer: %v", err)
	}
	// Shapes convert field by field.
	y, _ := be.Alloc(8)
	if err := be.DWConvFwd(kernels.DWShape{Batch: 1, L: 4, C: 2, W: 2}, x, s, nil, y, true); err != nil {
		t.Fatal(err)
	}
	if err := be.Free(x); err != nil {
		t.Fatal(err)
	}
}
