package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/pipeml/pipe/cache"
)

// mix is splitmix64's finaliser: a well-spread 64-bit hash.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// SeedFor derives a seed from the run seed and a position (epoch, step,
// micro-batch, purpose), so that every random choice is reproducible from
// the position alone.
func SeedFor(seed uint64, parts ...uint64) uint64 {
	h := mix(seed)
	for _, p := range parts {
		h = mix(h ^ mix(p))
	}
	return h
}

// Seed purposes.
const (
	purposeFull uint64 = iota + 1
	purposeBackground
	purposeShuffle
	purposeDropout
)

// Recordings returns the indices (into the manifest's recordings) of the
// recordings of split, in manifest order, the first limit of them when
// limit > 0.
func Recordings(m *cache.Manifest, split string, limit int) []int {
	var out []int
	for i, r := range m.Recordings {
		if r.Split == split {
			if limit > 0 && len(out) == limit {
				break
			}
			out = append(out, i)
		}
	}
	return out
}

// Pool is the windows of a split by kind: partly inside a seizure, wholly
// inside one, and seizure-free (dataset window indices, ascending).
type Pool struct {
	Partial, Full, Background []int
}

// NewPool sorts the windows of the given recordings by seizure fraction.
func NewPool(m *cache.Manifest, recs []int) Pool {
	var p Pool
	for _, k := range recs {
		r := &m.Recordings[k]
		for j, f := range r.SeizureFraction {
			i := int(r.FirstWindow) + j
			switch {
			case f >= 1:
				p.Full = append(p.Full, i)
			case f > 0:
				p.Partial = append(p.Partial, i)
			default:
				p.Background = append(p.Background, i)
			}
		}
	}
	return p
}

// Counts returns how many windows of each kind an epoch takes: every
// partial window, round(fullRatio·P) full ones and round(bgRatio·P)
// background ones, where P is the number of partial windows (each capped
// by what exists). A split without partial windows uses the full-seizure
// windows as the base instead (all of them). A split without any seizure
// window is an error: there is nothing to learn from.
func (p Pool) Counts(fullRatio, bgRatio float64) (partial, full, bg int, err error) {
	base := len(p.Partial)
	full = min(len(p.Full), int(math.Round(fullRatio*float64(base))))
	if base == 0 {
		base, full = len(p.Full), len(p.Full)
	}
	if base == 0 {
		return 0, 0, 0, fmt.Errorf("no window touches a seizure (%d seizure-free windows): nothing to train on", len(p.Background))
	}
	bg = min(len(p.Background), int(math.Round(bgRatio*float64(base))))
	return len(p.Partial), full, bg, nil
}

// Plan returns the shuffled window indices of one epoch (from 0): all
// partial windows, a random subset of the full and background windows
// sized by Counts, drawn afresh each epoch. The result depends only on
// the pool, the ratios, seed and epoch.
func (p Pool) Plan(fullRatio, bgRatio float64, seed uint64, epoch int) ([]int, error) {
	np, nf, nb, err := p.Counts(fullRatio, bgRatio)
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, np+nf+nb)
	out = append(out, p.Partial...)
	out = append(out, subset(p.Full, nf, SeedFor(seed, uint64(epoch), purposeFull))...)
	out = append(out, subset(p.Background, nb, SeedFor(seed, uint64(epoch), purposeBackground))...)
	rng := rand.New(rand.NewPCG(SeedFor(seed, uint64(epoch), purposeShuffle), 0))
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}

// subset draws n of xs without replacement (a partial Fisher-Yates
// shuffle of a copy).
func subset(xs []int, n int, seed uint64) []int {
	if n >= len(xs) {
		return append([]int(nil), xs...)
	}
	c := append([]int(nil), xs...)
	rng := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < n; i++ {
		j := i + rng.IntN(len(c)-i)
		c[i], c[j] = c[j], c[i]
	}
	return c[:n]
}
