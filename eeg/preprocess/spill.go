package preprocess

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// spill keeps the filtered signal of a statistics pass on disk for the
// output pass: blocks of (uint64 length n, then n float64 per channel),
// little-endian, in an unlinked temporary file.
type spill struct {
	f   *os.File
	w   *bufio.Writer
	buf []byte
}

func newSpill(dir string) (*spill, error) {
	f, err := os.CreateTemp(dir, ".preprocess-spill-*")
	if err != nil {
		return nil, fmt.Errorf("preprocess spill: %w", err)
	}
	// Unlinked at once: nothing is left behind, whatever happens.
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("preprocess spill: %w", err)
	}
	return &spill{f: f, w: bufio.NewWriterSize(f, 1<<20)}, nil
}

func (s *spill) close() { s.f.Close() }

func (s *spill) write(block [][]float64) error {
	if len(block) == 0 || len(block[0]) == 0 {
		return nil
	}
	n := len(block[0])
	need := 8 + 8*n*len(block)
	if cap(s.buf) < need {
		s.buf = make([]byte, need)
	}
	b := s.buf[:need]
	binary.LittleEndian.PutUint64(b, uint64(n))
	off := 8
	for _, x := range block {
		for _, v := range x {
			binary.LittleEndian.PutUint64(b[off:], math.Float64bits(v))
			off += 8
		}
	}
	if _, err := s.w.Write(b); err != nil {
		return fmt.Errorf("preprocess spill: %w", err)
	}
	return nil
}

// replay reads the blocks back and hands them to emit.
func (s *spill) replay(ctx context.Context, nch int, emit func([][]float64) error) error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("preprocess spill: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("preprocess spill: %w", err)
	}
	r := bufio.NewReaderSize(s.f, 1<<20)
	block := make([][]float64, nch)
	var hdr [8]byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("preprocess spill: %w", err)
		}
		n := int(binary.LittleEndian.Uint64(hdr[:]))
		need := 8 * n * nch
		if cap(s.buf) < need {
			s.buf = make([]byte, need)
		}
		b := s.buf[:need]
		if _, err := io.ReadFull(r, b); err != nil {
			return fmt.Errorf("preprocess spill: %w", err)
		}
		for k := range block {
			if cap(block[k]) < n {
				block[k] = make([]float64, n)
			}
			block[k] = block[k][:n]
			for i := range block[k] {
				block[k][i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*(k*n+i):]))
			}
		}
		if err := emit(block); err != nil {
			return err
		}
	}
}
