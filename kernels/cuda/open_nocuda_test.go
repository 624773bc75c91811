//go:build !cuda

package cuda

import (
	"errors"
	"testing"
)

func TestOpenWithoutCUDA(t *testing.T) {
	if Built {
		t.Fatal("Built is true without -tags cuda")
	}
	if _, _, err := Open(0); !errors.Is(err, ErrNotBuilt) {
		t.Fatalf("Open = %v, want ErrNotBuilt", err)
	}
}
