package dsp

import (
	"math"
)

// Moments accumulates count, mean and the sum of squared deviations of a
// stream of values (Chan et al.'s pairwise update, chunk by chunk), giving
// mean and population standard deviation (numpy's x.mean(), x.std()) to
// about 1e-13 relative however long the stream. The zero value is empty.
// Non-finite values are counted in NonFinite and otherwise ignored.
type Moments struct {
	N         int64
	Mean      float64
	M2        float64 // sum of squared deviations from Mean
	NonFinite int64
}

// Add accumulates x.
func (m *Moments) Add(x []float64) {
	// Two passes over the chunk, then merge.
	var n int64
	sum := 0.0
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			m.NonFinite++
			continue
		}
		sum += v
		n++
	}
	if n == 0 {
		return
	}
	mean := sum / float64(n)
	m2, comp := 0.0, 0.0
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		d := v - mean
		m2 += d * d
		comp += d
	}
	m2 -= comp * comp / float64(n) // corrects the rounding of mean
	mean += comp / float64(n)
	m.merge(n, mean, m2)
}

func (m *Moments) merge(n int64, mean, m2 float64) {
	if m.N == 0 {
		m.N, m.Mean, m.M2 = n, mean, m2
		return
	}
	tot := m.N + n
	d := mean - m.Mean
	m.Mean += d * float64(n) / float64(tot)
	m.M2 += m2 + d*d*float64(m.N)*float64(n)/float64(tot)
	m.N = tot
}

// Std returns the population standard deviation (ddof = 0); 0 when empty.
func (m *Moments) Std() float64 {
	if m.N == 0 {
		return 0
	}
	return math.Sqrt(math.Max(m.M2, 0) / float64(m.N))
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
