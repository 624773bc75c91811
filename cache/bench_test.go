package cache

import (
	"path/filepath"
	"testing"
)

// BenchmarkEncodeBlock measures encoding one second of 19 channels at 256 Hz.
func BenchmarkEncodeBlock(b *testing.B) {
	for _, enc := range []string{EncodingInt16, EncodingFloat16, EncodingFloat32} {
		b.Run(enc, func(b *testing.B) {
			lay, _ := newLayout(19, 256, enc)
			x := testSignal(19, 256, 1)
			dst := make([]byte, lay.blockBytes())
			b.SetBytes(19 * 256 * 4)
			for b.Loop() {
				if err := lay.encodeBlock(dst, x, 256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadWindow measures reading one 60 s window of 19 channels at
// 256 Hz from a recording file (page cache warm).
func BenchmarkReadWindow(b *testing.B) {
	for _, enc := range []string{EncodingInt16, EncodingFloat16, EncodingFloat32} {
		b.Run(enc, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "r.eegc")
			writeTestRecording(b, path, testSignal(19, 600*256, 3), 256, enc)
			r, err := OpenRecording(path)
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			dst := make([]float32, 19*60*256)
			b.SetBytes(int64(len(dst) * 4))
			i := int64(0)
			for b.Loop() {
				start := (i * 2560 * 7) % (540 * 256)
				if err := r.Read(start, 60*256, dst); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
