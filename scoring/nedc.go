package scoring

import "math"

// lev is one event of an NEDC event list: [s, e] with its label.
type lev struct {
	s, e float64
	seiz bool
}

const (
	bckg = 0
	seiz = 1
)

func (l lev) label() int {
	if l.seiz {
		return seiz
	}
	return bckg
}

// nedcList builds NEDC's event list of one file from its sorted seizure
// events (../shared/docs/scoring.md §(i).6): background fillers at
// 4-decimal-rounded boundaries between the events, then runs of the same
// label merged (so touching seizures become one). The list tiles
// [0, r4(duration)] with alternating labels.
func nedcList(seizures []Event, duration float64) []lev {
	if len(seizures) == 0 {
		return []lev{{0, duration, false}}
	}
	raw := make([]lev, 0, 2*len(seizures)+1)
	c := 0.0
	for _, ev := range seizures {
		if s := r4(ev.Start); c != s {
			raw = append(raw, lev{c, s, false})
		}
		raw = append(raw, lev{ev.Start, ev.Stop, true})
		c = r4(ev.Stop)
	}
	if d := r4(duration); c != d {
		raw = append(raw, lev{c, d, false})
	}
	out := raw[:1]
	for _, l := range raw[1:] {
		if last := &out[len(out)-1]; last.seiz == l.seiz {
			last.e = l.e
			continue
		}
		out = append(out, l)
	}
	return out
}

// nedcPair is one recording as NEDC sees it.
type nedcPair struct{ ref, hyp []lev }

// nedcPairs validates recs and builds their event lists; total is NEDC's
// T, the sum over files of the stop time of the last reference event.
func nedcPairs(method string, recs []Recording) (pairs []nedcPair, total float64, err error) {
	pairs = make([]nedcPair, len(recs))
	for i, r := range recs {
		ref, hyp, err := r.validate()
		if err != nil {
			return nil, 0, err
		}
		pairs[i] = nedcPair{nedcList(ref, r.Duration), nedcList(hyp, r.Duration)}
		total += pairs[i].ref[len(pairs[i].ref)-1].e
	}
	return pairs, total, checkTotal(method, total)
}

// strictOverlap is NEDC's overlap test: d > a and c < b for [a,b], [c,d].
func strictOverlap(a, b lev) bool { return b.e > a.s && b.s < a.e }

// counts accumulates per-label NEDC counts.
type counts struct {
	targets, hits, misses, fa [2]float64
}

// eventResult turns per-label event counts into the seizure-class Result.
// Specificity is NEDC's: its true negatives of the seizure class are the
// hits of the background class, so specificity = bckg hits / (bckg hits +
// seiz false alarms).
func (c *counts) eventResult(method string, total float64) Result {
	tn, fp := c.hits[bckg], c.fa[seiz]
	return Result{
		Method: method, Targets: c.targets[seiz], Hits: c.hits[seiz], Misses: c.misses[seiz],
		FalseAlarms: c.fa[seiz], Sensitivity: pct(c.hits[seiz], c.hits[seiz]+c.misses[seiz]),
		Specificity: ptr(pct(tn, tn+fp)), FAPer24h: perDay(c.fa[seiz], total), TotalDuration: total,
	}
}

// OVLP is NEDC's any-overlap scoring (../shared/docs/scoring.md §(ii)). Per
// recording and per label (seizure and background alike), a reference event
// is a hit if at least one hypothesis event of the same label strictly
// overlaps it (touching is not overlap; there is no guard band) and a miss
// otherwise; a hypothesis event that strictly overlaps no reference event
// of its label is a false alarm. For the seizure class, summed over
// recordings: sensitivity = hits / (hits + misses), FA/24h = false alarms *
// 86400 / T, T the summed recording durations. Specificity is NEDC's
// (background hits / (background hits + seizure false alarms)), printed by
// NEDC but not a clinical specificity.
func OVLP(recs []Recording) (Result, error) {
	pairs, total, err := nedcPairs(MethodOVLP, recs)
	if err != nil {
		return Result{}, err
	}
	var c counts
	for _, p := range pairs {
		c.ovlp(p.ref, p.hyp)
	}
	return c.eventResult(MethodOVLP, total), nil
}

// ovlp scores one file. Both lists are sorted tilings, so the hypothesis
// events overlapping a reference event form a run found with a cursor.
func (c *counts) ovlp(ref, hyp []lev) {
	matched := make([]bool, len(hyp))
	j := 0
	for _, r := range ref {
		l := r.label()
		c.targets[l]++
		for j < len(hyp) && hyp[j].e <= r.s {
			j++
		}
		hit := false
		for k := j; k < len(hyp) && hyp[k].s < r.e; k++ {
			if hyp[k].seiz == r.seiz && strictOverlap(r, hyp[k]) {
				hit = true
				matched[k] = true
			}
		}
		if hit {
			c.hits[l]++
		} else {
			c.misses[l]++
		}
	}
	for k, h := range hyp {
		if !matched[k] {
			c.fa[h.label()]++
		}
	}
}

// TAES is NEDC's time-aligned event scoring (../shared/docs/scoring.md
// §(iii)): fractional hits, misses and false alarms from the time overlap
// of matched events, with NEDC's matching rules kept verbatim — including
// its whole-second "anyovlp" test and the rule that a long hypothesis
// spanning several reference events is credited only to the first one.
// Sensitivity = hits / (hits + misses) (not hits / targets: NEDC can score
// one reference twice), FA/24h = seizure false alarms * 86400 / T.
// Specificity is NEDC's, as for OVLP.
func TAES(recs []Recording) (Result, error) {
	pairs, total, err := nedcPairs(MethodTAES, recs)
	if err != nil {
		return Result{}, err
	}
	var c counts
	for _, p := range pairs {
		c.taes(p.ref, p.hyp)
	}
	return c.eventResult(MethodTAES, total), nil
}

// anyovlp is NEDC's TAES overlap test on whole seconds.
func anyovlp(r, h lev) bool {
	return math.Floor(h.s) <= math.Floor(r.e) && math.Floor(r.s) <= math.Floor(h.e)
}

// taesPartial scores reference r against hypothesis h (first case wins).
func taesPartial(r, h lev) (hit, fa float64) {
	d := r.e - r.s
	switch {
	case h.s <= r.s && h.e <= r.e:
		return (h.e - r.s) / d, math.Min(1, (r.s-h.s)/d)
	case h.s >= r.s && h.e >= r.e:
		return (r.e - h.s) / d, math.Min(1, (h.e-r.e)/d)
	case h.s < r.s && h.e > r.e:
		return 1, math.Min(1, ((h.e-r.e)+(r.s-h.s))/d)
	}
	return (h.e - h.s) / d, 0
}

func (c *counts) taes(ref, hyp []lev) {
	refUsed := make([]bool, len(ref))
	hypUsed := make([]bool, len(hyp))
	for i, r := range ref {
		l := r.label()
		c.targets[l]++
		if refUsed[i] {
			continue
		}
		overlapped := false
		for _, h := range hyp {
			if h.seiz == r.seiz && strictOverlap(r, h) {
				overlapped = true
				break
			}
		}
		if !overlapped {
			continue
		}
		for j, h := range hyp {
			if h.seiz != r.seiz || hypUsed[j] || !anyovlp(r, h) {
				continue
			}
			hit, fa := taesPartial(r, h)
			miss := 1 - hit
			refUsed[i], hypUsed[j] = true, true
			if h.e >= r.e {
				for k := i + 1; k < len(ref); k++ {
					if ref[k].seiz == r.seiz && anyovlp(ref[k], h) {
						refUsed[k] = true
						miss++
					}
				}
			} else {
				for m := j + 1; m < len(hyp); m++ {
					if hyp[m].seiz == r.seiz && anyovlp(r, hyp[m]) {
						hypUsed[m] = true
						h2, f2 := taesPartial(r, hyp[m])
						hit += h2
						miss -= h2
						fa += f2
					}
				}
			}
			c.hits[l] += hit
			c.misses[l] += miss
			c.fa[l] += fa
		}
	}
	for i, r := range ref {
		if !refUsed[i] {
			c.misses[r.label()]++
		}
	}
	for j, h := range hyp {
		if !hypUsed[j] {
			c.fa[h.label()]++
		}
	}
}

// EpochDuration is NEDC's epoch length in seconds.
const EpochDuration = 0.25

// Epoch is NEDC's epoch-based scoring (../shared/docs/scoring.md §(iv)).
// Per recording, with S the end of the last reference event, the labels of
// reference and hypothesis are sampled at t_k = 0.125 + 0.25 k for every
// t_k <= S; the label at t is that of the first event with start <= t <=
// stop. Each sample adds one to the confusion cell [ref][hyp]. For the
// seizure class: hits = TP, misses = FN, false alarms = FP (epochs),
// sensitivity = TP / (TP + FN), specificity = TN / (TN + FP), and FA/24h =
// FP * 0.25 * 86400 / T, i.e. seconds of false alarm per 24 h (NEDC's
// "False Alarm Rate" for this method), not events.
func Epoch(recs []Recording) (Result, error) {
	pairs, total, err := nedcPairs(MethodEpoch, recs)
	if err != nil {
		return Result{}, err
	}
	var conf [2][2]float64 // [ref][hyp]
	for _, p := range pairs {
		epochCount(p.ref, p.hyp, &conf)
	}
	tp, fn, fp, tn := conf[seiz][seiz], conf[seiz][bckg], conf[bckg][seiz], conf[bckg][bckg]
	return Result{
		Method: MethodEpoch, Targets: tp + fn, Hits: tp, Misses: fn, FalseAlarms: fp,
		Sensitivity: pct(tp, tp+fn), Specificity: ptr(pct(tn, tn+fp)),
		FAPer24h: perDay(fp*EpochDuration, total), TotalDuration: total,
	}, nil
}

// epochCount adds one file's epochs to conf. Between two consecutive
// event stops of either list both labels are constant (an epoch on a stop
// belongs to the event ending there: the earlier event wins), so epochs are
// counted per segment. epochCountSlow is the literal per-epoch definition;
// tests check that both agree.
func epochCount(ref, hyp []lev, conf *[2][2]float64) {
	stop := ref[len(ref)-1].e
	lo := math.Inf(-1)
	for i, j := 0, 0; i < len(ref); {
		hi := ref[i].e
		hl := hyp[len(hyp)-1].label() // past the hypothesis' end NEDC uses its last event
		if j < len(hyp) {
			hi = math.Min(hi, hyp[j].e)
			hl = hyp[j].label()
		}
		hi = math.Min(hi, stop)
		conf[ref[i].label()][hl] += float64(epochsUpTo(hi) - epochsUpTo(lo))
		lo = hi
		if j < len(hyp) && hyp[j].e <= hi {
			j++
		}
		if ref[i].e <= hi {
			i++
		}
	}
}

// epochsUpTo is the number of epoch times 0.125 + 0.25 k (k >= 0) that are
// <= x. (x - 0.125) / 0.25 is exact for the durations of EEG recordings.
func epochsUpTo(x float64) int {
	if !(x >= 0.125) {
		return 0
	}
	return int(math.Floor((x-0.125)/EpochDuration)) + 1
}

func epochCountSlow(ref, hyp []lev, conf *[2][2]float64) {
	stop := ref[len(ref)-1].e
	var ri, hi int
	for k := 0; ; k++ {
		t := 0.125 + EpochDuration*float64(k)
		if t > stop {
			break
		}
		conf[labelAt(ref, &ri, t)][labelAt(hyp, &hi, t)]++
	}
}

// labelAt returns the label of the first event of the sorted tiling l that
// contains t (closed on both sides), advancing the cursor *i; when no event
// contains t it falls back to the last event, as NEDC does.
func labelAt(l []lev, i *int, t float64) int {
	for *i < len(l) && l[*i].e < t {
		*i++
	}
	if *i < len(l) && l[*i].s <= t {
		return l[*i].label()
	}
	return l[len(l)-1].label()
}

// DPAlign is NEDC's dynamic-programming alignment scoring
// (../shared/docs/scoring.md, "DP alignment"): the label sequences of
// reference and hypothesis, padded with a null symbol at both ends, are
// aligned by Levenshtein distance (insertion, deletion and substitution
// cost 1, match 0; ties prefer the diagonal, then an insertion, then a
// deletion, each only when strictly cheaper). Aligned pairs count as hits
// (equal labels), substitutions and deletions (misses of the reference
// label) and insertions (false alarms of the hypothesis label).
// Sensitivity = hits / (hits + misses); FA/24h = seizure insertions *
// 86400 / T. Specificity is NEDC's, as for OVLP.
func DPAlign(recs []Recording) (Result, error) {
	pairs, total, err := nedcPairs(MethodDPAlign, recs)
	if err != nil {
		return Result{}, err
	}
	var c counts
	for _, p := range pairs {
		c.dpalign(p.ref, p.hyp)
	}
	return c.eventResult(MethodDPAlign, total), nil
}

func (c *counts) dpalign(ref, hyp []lev) {
	const null = -1
	seq := func(l []lev) []int {
		s := make([]int, len(l)+2)
		s[0], s[len(s)-1] = null, null
		for i, e := range l {
			s[i+1] = e.label()
		}
		return s
	}
	a, b := seq(ref), seq(hyp)
	n, m := len(a), len(b)
	const (
		diag = iota
		ins
		del
	)
	cost := make([][]int, n+1)
	move := make([][]int8, n+1)
	for i := range cost {
		cost[i] = make([]int, m+1)
		move[i] = make([]int8, m+1)
		cost[i][0], move[i][0] = i, del
	}
	for j := 1; j <= m; j++ {
		cost[0][j], move[0][j] = j, ins
	}
	for i := 1; i <= n; i++ {
		for j := 1; j <= m; j++ {
			sub := 1
			if a[i-1] == b[j-1] {
				sub = 0
			}
			best, mv := cost[i-1][j-1]+sub, int8(diag)
			if x := cost[i][j-1] + 1; x < best {
				best, mv = x, ins
			}
			if x := cost[i-1][j] + 1; x < best {
				best, mv = x, del
			}
			cost[i][j], move[i][j] = best, mv
		}
	}
	for i, j := n, m; i > 0 || j > 0; {
		switch move[i][j] {
		case diag:
			ra, hb := a[i-1], b[j-1]
			switch {
			case ra == null && hb == null:
			case ra == null:
				c.fa[hb]++
			case hb == null:
				c.targets[ra]++
				c.misses[ra]++
			case ra == hb:
				c.targets[ra]++
				c.hits[ra]++
			default:
				c.targets[ra]++
				c.misses[ra]++
			}
			i, j = i-1, j-1
		case ins:
			if hb := b[j-1]; hb != null {
				c.fa[hb]++
			}
			j--
		case del:
			if ra := a[i-1]; ra != null {
				c.targets[ra]++
				c.misses[ra]++
			}
			i--
		}
	}
}
