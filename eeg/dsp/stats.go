package dsp

import (
	"math"
)

// momentsBlock is the block size of Moments: values are summed in blocks of
// this many, whatever the sizes of the slices passed to Add, so the result
// does not depend on how a stream is chunked.
const momentsBlock = 4096

// Moments accumulates the count, mean and population standard deviation of
// a stream of values (numpy's x.mean(), x.std()): each block of 4096 values
// is summed in two passes and the blocks are merged with Chan et al.'s
// pairwise update, accurate to about 1e-13 relative however long the stream,
// and bit-for-bit independent of how the stream is cut into slices for Add.
// Non-finite values are counted by NonFinite and otherwise ignored. The
// zero value is empty.
type Moments struct {
	n         int64
	mean      float64
	m2        float64 // sum of squared deviations from mean
	nonFinite int64
	pending   []float64
}

// Add accumulates x.
func (m *Moments) Add(x []float64) {
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			m.nonFinite++
			continue
		}
		if m.pending == nil {
			m.pending = make([]float64, 0, momentsBlock)
		}
		m.pending = append(m.pending, v)
		if len(m.pending) == momentsBlock {
			m.n, m.mean, m.m2 = merge(m.n, m.mean, m.m2, m.pending)
			m.pending = m.pending[:0]
		}
	}
}

// merge adds the block x to the accumulated (n, mean, m2).
func merge(n int64, mean, m2 float64, x []float64) (int64, float64, float64) {
	if len(x) == 0 {
		return n, mean, m2
	}
	sum := 0.0
	for _, v := range x {
		sum += v
	}
	bn := int64(len(x))
	bmean := sum / float64(bn)
	bm2, comp := 0.0, 0.0
	for _, v := range x {
		d := v - bmean
		bm2 += d * d
		comp += d
	}
	bm2 -= comp * comp / float64(bn) // corrects the rounding of bmean
	bmean += comp / float64(bn)
	if n == 0 {
		return bn, bmean, bm2
	}
	tot := n + bn
	d := bmean - mean
	return tot, mean + d*float64(bn)/float64(tot), m2 + bm2 + d*d*float64(n)*float64(bn)/float64(tot)
}

func (m *Moments) total() (int64, float64, float64) {
	return merge(m.n, m.mean, m.m2, m.pending)
}

// N returns the number of finite values seen.
func (m *Moments) N() int64 { return m.n + int64(len(m.pending)) }

// NonFinite returns the number of NaN and infinite values seen (ignored).
func (m *Moments) NonFinite() int64 { return m.nonFinite }

// Mean returns the mean; 0 when empty.
func (m *Moments) Mean() float64 {
	_, mean, _ := m.total()
	return mean
}

// Std returns the population standard deviation (ddof = 0); 0 when empty.
func (m *Moments) Std() float64 {
	n, _, m2 := m.total()
	if n == 0 {
		return 0
	}
	return math.Sqrt(math.Max(m2, 0) / float64(n))
}

// quantileBins is the number of histogram bins of Quantiles: one per value
// of the top 16 bits of a float32 (sign, exponent, 7 mantissa bits).
const quantileBins = 1 << 16

// QuantileRelErr bounds the error of Quantiles.Quantile relative to the
// quantile's magnitude: the width of a bin (7 mantissa bits).
const QuantileRelErr = 1.0 / 128

// Quantiles estimates quantiles of a stream in fixed memory (512 KiB): a
// histogram over the 65536 leading-bit patterns of float32 values, i.e.
// logarithmically spaced bins 2^-7 (0.8 %) wide in relative terms, with
// linear interpolation inside a bin. Quantile(q) is numpy's
// np.percentile(x, 100*q) (linear method) to within QuantileRelErr of its
// magnitude (plus the float32 rounding of the inputs); in practice the
// interpolation makes it much closer. Non-finite values are ignored. Use
// NewQuantiles.
type Quantiles struct {
	counts []uint64
	n      int64
}

// NewQuantiles returns an empty quantile estimator.
func NewQuantiles() *Quantiles { return &Quantiles{counts: make([]uint64, quantileBins)} }

// orderedKey maps a float32 to a uint32 that sorts like the float.
func orderedKey(f float32) uint32 {
	u := math.Float32bits(f)
	if u&0x80000000 != 0 {
		return ^u
	}
	return u | 0x80000000
}

func keyValue(k uint32) float64 {
	if k&0x80000000 != 0 {
		return float64(math.Float32frombits(k &^ 0x80000000))
	}
	return float64(math.Float32frombits(^k))
}

// Add accumulates x.
func (q *Quantiles) Add(x []float64) {
	c := q.counts
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		c[orderedKey(float32(v))>>16]++
	}
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			q.n++
		}
	}
}

// N returns the number of finite values seen.
func (q *Quantiles) N() int64 { return q.n }

// orderStat estimates the k-th smallest value (0-based).
func (q *Quantiles) orderStat(k int64) float64 {
	var before int64
	for b, c := range q.counts {
		if c == 0 {
			continue
		}
		if k < before+int64(c) {
			lo := keyValue(uint32(b) << 16)
			hi := keyValue(uint32(b)<<16 | 0xffff)
			if math.IsInf(lo, 0) || math.IsNaN(lo) {
				lo = hi
			}
			if math.IsInf(hi, 0) || math.IsNaN(hi) {
				hi = lo
			}
			frac := (float64(k-before) + 0.5) / float64(c)
			return lo + (hi-lo)*frac
		}
		before += int64(c)
	}
	return math.NaN()
}

// Quantile returns the estimated q-quantile (0 <= q <= 1) with numpy's
// linear interpolation between order statistics; NaN when empty.
func (q *Quantiles) Quantile(p float64) float64 {
	if q.n == 0 || math.IsNaN(p) {
		return math.NaN()
	}
	p = math.Min(1, math.Max(0, p))
	h := float64(q.n-1) * p
	k := int64(math.Floor(h))
	lo := q.orderStat(k)
	if k+1 >= q.n || h == float64(k) {
		return lo
	}
	return lo + (h-float64(k))*(q.orderStat(k+1)-lo)
}
