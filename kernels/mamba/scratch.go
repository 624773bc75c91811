package mamba

import (
	"errors"
	"fmt"

	"github.com/pipeml/pipe/kernels"
)

// Scratch is gradient scratch memory shared by several blocks and layers.
// Only one layer's Backward runs at a time and its gradient scratch is dead
// once it returns, so the layers of a model can share one Scratch instead
// of each holding a set of gradient buffers as large as its activations.
// Buffers grow to the largest request. Not safe for concurrent use.
type Scratch struct {
	be   kernels.Backend
	bufs map[string]kernels.Buffer
}

// NewScratch returns an empty Scratch on be.
func NewScratch(be kernels.Backend) *Scratch {
	return &Scratch{be: be, bufs: map[string]kernels.Buffer{}}
}

// get returns the buffer called name with at least n values.
func (s *Scratch) get(name string, n int) (kernels.Buffer, error) {
	if b, ok := s.bufs[name]; ok {
		if b.Len() >= n {
			return b, nil
		}
		if err := s.be.Free(b); err != nil {
			return nil, err
		}
		delete(s.bufs, name)
	}
	b, err := s.be.Alloc(n)
	if err != nil {
		return nil, fmt.Errorf("mamba2 gradient scratch %s: %w", name, err)
	}
	s.bufs[name] = b
	return b, nil
}

// Close frees the scratch buffers.
func (s *Scratch) Close() error {
	var errs []error
	for _, b := range s.bufs {
		errs = append(errs, s.be.Free(b))
	}
	s.bufs = map[string]kernels.Buffer{}
	return errors.Join(errs...)
}

// scratchBuf is one gradient buffer of a block or layer: its field and
// its width per row.
type scratchBuf struct {
	name string
	b    *kernels.Buffer
	n    int
}

// fill points every field at rows·n values: from s when it is not nil,
// else freshly allocated and appended to *own.
func fill(be kernels.Backend, s *Scratch, bufs []scratchBuf, rows int, own *[]kernels.Buffer) error {
	for _, a := range bufs {
		var b kernels.Buffer
		var err error
		if s != nil {
			b, err = s.get(a.name, rows*a.n)
		} else {
			b, err = be.Alloc(rows * a.n)
			if err == nil {
				*own = append(*own, b)
			}
		}
		if err != nil {
			return err
		}
		*a.b = b
	}
	return nil
}
