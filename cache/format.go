// Package cache is the window cache of preprocessed EEG: one file per
// recording holding its continuous preprocessed signal (no overlapping
// copies), a manifest indexing every training window, a reader returning any
// window as float32, and the populate and verify logic behind the
// populate_cache and verify_cache stage kinds.
//
// # Recording files (<dir>/rec/<split>/<patient>/<id>.eegc)
//
// A little-endian binary file in three parts:
//
//	[0, 4096)        preamble: magic "PIPEEEGC", format version (uint32),
//	                 reserved (uint32), data offset, data bytes, metadata
//	                 offset, metadata bytes (uint64 each), XXH3-64 of the
//	                 metadata, XXH3-64 of the preamble's first 56 bytes
//	[4096, +data)    the signal in blocks of BlockSamples samples per channel
//	[meta, +bytes)   metadata: JSON (RecordingMeta)
//
// Each block holds BlockSamples samples of every channel, channel after
// channel, in the file's encoding:
//
//	int16    C float32 scales, then C×B int16: value = q × scale (the scale
//	         is the block's largest magnitude on that channel / 32767, so
//	         the rounding error is at most half a step of that block)
//	float16  C×B IEEE 754 half-precision values
//	float32  C×B float32 values
//
// The last block is zero-padded; RecordingMeta.Samples says how many samples
// are real. The data starts on a page boundary and has a fixed stride, so the
// file can be memory-mapped (numpy.memmap with offset 4096 and a structured
// dtype reads it directly). The metadata holds the source fingerprint, the
// preprocessing parameters and their hash, channels, rate, duration, the
// seizure intervals and the XXH3-128 checksum of the data.
//
// # Manifest (<dir>/manifest.json)
//
// Lists every recording with its split, patient, sample count, seizure
// intervals and, for every window (WindowSamples long, every StrideSamples),
// the fraction of the window inside a seizure; see Manifest.
package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
)

// Format constants of recording files.
const (
	recordingMagic = "PIPEEEGC"
	// FormatVersion is the version of the recording file and manifest
	// layout this package writes and reads.
	FormatVersion = 1
	preambleSize  = 4096
	preambleUsed  = 64
)

// Encodings of the signal.
const (
	EncodingInt16   = "int16"
	EncodingFloat16 = "float16"
	EncodingFloat32 = "float32"
)

// maxFloat16 is the largest finite half-precision value.
const maxFloat16 = 65504

// layout describes the blocks of a recording file.
type layout struct {
	channels int
	block    int // samples per channel per block
	enc      string
}

func newLayout(channels, block int, enc string) (layout, error) {
	if channels < 1 || channels > 4096 {
		return layout{}, fmt.Errorf("cache: %d channels out of range (1..4096)", channels)
	}
	if block < 1 || block > 1<<20 {
		return layout{}, fmt.Errorf("cache: block of %d samples out of range (1..%d)", block, 1<<20)
	}
	switch enc {
	case EncodingInt16, EncodingFloat16, EncodingFloat32:
	default:
		return layout{}, fmt.Errorf("cache: unknown encoding %q (want %q, %q or %q)", enc, EncodingInt16, EncodingFloat16, EncodingFloat32)
	}
	return layout{channels: channels, block: block, enc: enc}, nil
}

// blockBytes is the size of one block.
func (l layout) blockBytes() int64 {
	c, b := int64(l.channels), int64(l.block)
	switch l.enc {
	case EncodingInt16:
		return 4*c + 2*c*b
	case EncodingFloat16:
		return 2 * c * b
	}
	return 4 * c * b
}

// encodeBlock writes src[c][:n] (n ≤ block; the rest zero) into dst, which
// is blockBytes long. Values must be finite (and within ±65504 for float16).
func (l layout) encodeBlock(dst []byte, src [][]float32, n int) error {
	b := l.block
	switch l.enc {
	case EncodingInt16:
		data := dst[4*l.channels:]
		for c := 0; c < l.channels; c++ {
			in := src[c][:n]
			// NaN fails every comparison: it never raises peak, and the
			// sum below carries it to the check.
			peak, sum := float32(0), float32(0)
			for _, v := range in {
				if v > peak {
					peak = v
				} else if -v > peak {
					peak = -v
				}
				sum += v
			}
			if sum != sum && !math.IsInf(float64(peak), 0) {
				return errors.New("NaN value")
			}
			if math.IsInf(float64(peak), 0) {
				return errors.New("infinite value")
			}
			scale := peak / 32767
			binary.LittleEndian.PutUint32(dst[4*c:], math.Float32bits(scale))
			out := data[2*c*b : 2*(c+1)*b]
			inv := 0.0
			if scale > 0 {
				inv = 1 / float64(scale)
			}
			o := out[:2*n]
			for i, v := range in {
				// Round half away from zero; |f| ≤ 32767 up to rounding.
				f := float64(v) * inv
				var q int32
				if f >= 0 {
					q = int32(f + 0.5)
				} else {
					q = int32(f - 0.5)
				}
				q = max(-32767, min(32767, q))
				o[2*i] = byte(q)
				o[2*i+1] = byte(q >> 8)
			}
			clear(out[2*n:])
		}
	case EncodingFloat16:
		for c := 0; c < l.channels; c++ {
			out := dst[2*c*b : 2*(c+1)*b]
			for i, v := range src[c][:n] {
				if v != v || v > maxFloat16 || v < -maxFloat16 {
					return fmt.Errorf("value %g is not representable in float16 (use encoding %q)", v, EncodingInt16)
				}
				binary.LittleEndian.PutUint16(out[2*i:], float32ToHalf(v))
			}
			clear(out[2*n:])
		}
	default:
		for c := 0; c < l.channels; c++ {
			out := dst[4*c*b : 4*(c+1)*b]
			for i, v := range src[c][:n] {
				if v != v || math.IsInf(float64(v), 0) {
					return fmt.Errorf("value %g is not finite", v)
				}
				binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
			}
			clear(out[4*n:])
		}
	}
	return nil
}

// decodeBlock converts samples [from, to) of every channel of one block into
// dst: channel c goes to dst[c*stride+at : c*stride+at+(to-from)].
func (l layout) decodeBlock(dst []float32, stride, at int, blk []byte, from, to int) {
	b := l.block
	n := to - from
	switch l.enc {
	case EncodingInt16:
		data := blk[4*l.channels:]
		for c := 0; c < l.channels; c++ {
			scale := math.Float32frombits(binary.LittleEndian.Uint32(blk[4*c:]))
			in := data[2*(c*b+from) : 2*(c*b+to)]
			out := dst[c*stride+at : c*stride+at+n]
			for i := range out {
				out[i] = float32(int16(binary.LittleEndian.Uint16(in[2*i:]))) * scale
			}
		}
	case EncodingFloat16:
		tab := halfTable()
		for c := 0; c < l.channels; c++ {
			in := blk[2*(c*b+from) : 2*(c*b+to)]
			out := dst[c*stride+at : c*stride+at+n]
			for i := range out {
				out[i] = tab[binary.LittleEndian.Uint16(in[2*i:])]
			}
		}
	default:
		for c := 0; c < l.channels; c++ {
			in := blk[4*(c*b+from) : 4*(c*b+to)]
			out := dst[c*stride+at : c*stride+at+n]
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(in[4*i:]))
			}
		}
	}
}

// float32ToHalf rounds a finite float32 within ±65504 to the nearest
// half-precision value (ties to even).
func float32ToHalf(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case exp >= 31:
		return sign | 0x7c00 // not reached for |f| ≤ 65504
	case exp <= 0:
		if exp < -10 {
			return sign // underflows to ±0
		}
		// Subnormal: shift the mantissa with its implicit bit.
		m := mant | 0x800000
		shift := uint32(14 - exp)
		half := m >> shift
		rem := m & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, which is correct rounding
	}
	return sign | uint16(half)
}

// halfToFloat32 converts a half-precision value exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		v := float32(mant) / (1 << 24)
		if sign != 0 {
			v = -v
		}
		return v
	case exp == 31:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	}
	return math.Float32frombits(sign | (exp-15+127)<<23 | mant<<13)
}

// halfTable maps every half-precision bit pattern to its float32 value.
var halfTable = sync.OnceValue(func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = halfToFloat32(uint16(i))
	}
	return &t
})
