package demo

import (
	"math"
	"math/rand/v2"
)

// kellet holds the pole and gain pairs of Paul Kellet's "pinking" filter: a
// sum of one-pole filters of the same white noise that approximates a 1/f
// power spectrum over about three decades.
var kellet = [6][2]float64{
	{0.99886, 0.0555179}, {0.99332, 0.0750759}, {0.96900, 0.1538520},
	{0.86650, 0.3104856}, {0.55000, 0.5329522}, {-0.7616, -0.0168980},
}

// kelletDirect is the filter's direct white-noise gain.
const kelletDirect = 0.5362

// pinkSigma is the standard deviation of the pinking filter's output for
// unit white noise: Σ_k Σ_l g_k g_l /(1 − p_k p_l) + 2 d Σ_k g_k + d².
func pinkSigma() float64 {
	v := kelletDirect * kelletDirect
	for _, a := range kellet {
		v += 2 * kelletDirect * a[1]
		for _, b := range kellet {
			v += a[1] * b[1] / (1 - a[0]*b[0])
		}
	}
	return math.Sqrt(v)
}

// resonator is a second-order autoregressive process driven by white noise:
// a narrow-band rhythm around a centre frequency with a natural, slowly
// wandering amplitude and phase, scaled to unit variance.
type resonator struct {
	a1, a2, g float64
	y1, y2    float64
}

// newResonator makes a resonator at f Hz with the given bandwidth (Hz).
func newResonator(f, bw, fs float64) resonator {
	r := 1 - math.Pi*bw/fs
	w := 2 * math.Pi * f / fs
	a1, a2 := 2*r*math.Cos(w), -r*r
	// stationary variance of y[n] = a1 y[n-1] + a2 y[n-2] + e[n], Var(e) = 1
	v := (1 - a2) / ((1 + a2) * ((1-a2)*(1-a2) - a1*a1))
	return resonator{a1: a1, a2: a2, g: 1 / math.Sqrt(v)}
}

func (r *resonator) next(e float64) float64 {
	y := r.a1*r.y1 + r.a2*r.y2 + e
	r.y2, r.y1 = r.y1, y
	return y * r.g
}

// event is a transient artefact.
type event struct {
	kind       int
	start, dur float64 // s
	amp        float64 // µV
	w          [nEl]float64
	f, phase   float64
	tau        float64
}

const (
	evBlink = iota
	evSaccade
	evMuscle
	evMove
	evPop
)

// waveTable is the number of points of a seizure waveform table.
const waveTable = 1024

// synth generates the signals of one recording chunk by chunk; its state
// (filters, phases) carries over between chunks, so the output does not
// depend on the chunk size.
type synth struct {
	r   *Recording
	p   *patient
	fs  float64
	rng *rand.Rand

	nb       [nEl][]int
	pinkG    float64
	pink     [nEl][6]float64
	own      [nEl][]float64
	shared   [4][]float64 // alpha, theta, delta, mains of the chunk
	alpha    resonator
	theta    resonator
	delta    resonator
	wAlpha   [nEl]float64
	wTheta   [nEl]float64
	wDelta   [nEl]float64
	wLine    [nEl]float64
	wECG     [nEl]float64
	lineC    float64 // cos/sin of the mains phasor and its step
	lineS    float64
	lineStep [2]float64

	// per-second gains (index = second), linearly interpolated
	gAlpha, gTheta, gDelta []float64

	events []event
	beats  []float64 // heartbeat times (s)
	ecgT   []float64 // heartbeat templates (heartTemplates)
	qrsT   []float64
	wave   []float64 // seizure waveform, one period
	// per seizure and electrode: amplitude factor, onset delay (s), phase lag
	szAtt, szDelay, szLag [][nEl]float64
}

// newSynth prepares the generation of r: it draws the recording's states
// (eyes open/closed, drowsiness), artefacts and heartbeats.
func newSynth(r *Recording) *synth {
	p := r.p
	s := &synth{r: r, p: p, fs: float64(r.Rate), rng: rand.New(rand.NewPCG(r.seed[0], r.seed[1])), nb: neighbours()}
	rng := s.rng
	u := func(a, b float64) float64 { return a + (b-a)*rng.Float64() }
	s.pinkG = bgSigma * p.bgScale / pinkSigma()
	s.alpha = newResonator(p.alphaHz, 0.8, s.fs)
	s.theta = newResonator(u(4.5, 6.5), 2.5, s.fs)
	s.delta = newResonator(u(1, 2), 1.2, s.fs)
	for i, e := range electrodes {
		s.wAlpha[i] = p.alphaAmp * (0.08 + math.Exp(-(e.y+2)*(e.y+2)/2)) * p.chanGain[i]
		s.wTheta[i] = p.thetaAmp * math.Exp(-(e.y-0.5)*(e.y-0.5)/3) * p.chanGain[i]
		s.wLine[i] = p.lineAmp * u(0.2, 1.5)
		if e.name == "A1" || e.name == "A2" || e.name == "T3" || e.name == "T4" {
			s.wECG[i] = p.ecgLeak * u(0.5, 1)
			if e.x > 0 {
				s.wECG[i] = -s.wECG[i]
			}
		}
		s.wDelta[i] = bgSigma * p.bgScale * 1.8 * s.spatial(p.focus, i)
	}
	w := 2 * math.Pi * 60 / s.fs
	s.lineC, s.lineS = math.Cos(u(0, 2*math.Pi)), 0
	s.lineS = math.Sqrt(1 - s.lineC*s.lineC)
	s.lineStep = [2]float64{math.Cos(w), math.Sin(w)}

	n := r.Seconds + 2
	s.gAlpha, s.gTheta, s.gDelta = make([]float64, n), make([]float64, n), make([]float64, n)
	// alternating eyes-closed / eyes-open / drowsy periods
	open := make([]bool, n)
	for t := 0; t < n; {
		d := int(u(15, 90))
		st := rng.Float64()
		for k := t; k < min(n, t+d); k++ {
			switch {
			case st < p.drowsy:
				s.gAlpha[k], s.gTheta[k] = 0.45, 1
			case st < p.drowsy+(1-p.drowsy)*0.5:
				s.gAlpha[k], s.gTheta[k] = 1, 0.25
			default:
				s.gAlpha[k], s.gTheta[k], open[k] = 0.3, 0.25, true
			}
			s.gDelta[k] = 0.05
		}
		t += d
	}
	// seizures: alpha suppressed, then post-ictal slowing
	for _, z := range r.Seizures {
		end := z.Start + z.Duration
		for k := int(z.Start); k < n && float64(k) < end+z.postS; k++ {
			s.gAlpha[k] = 0.15
			if float64(k) >= end {
				s.gDelta[k] = math.Max(s.gDelta[k], math.Exp(-(float64(k)-end)/(z.postS/2.5)))
			}
		}
	}
	smooth(s.gAlpha, 3)
	smooth(s.gTheta, 3)
	smooth(s.gDelta, 2)

	T := float64(r.Seconds)
	poisson := func(perMin float64, fn func(t float64)) {
		if perMin <= 0 {
			return
		}
		for t := rng.ExpFloat64() * 60 / perMin; t < T; t += rng.ExpFloat64() * 60 / perMin {
			fn(t)
		}
	}
	poisson(p.blinkRate, func(t float64) {
		if !open[int(t)] && rng.Float64() > 0.1 {
			return // few blinks with eyes closed
		}
		ev := event{kind: evBlink, start: t, dur: u(0.25, 0.45), amp: p.blinkAmp * u(0.6, 1.3)}
		for i, e := range electrodes {
			ev.w[i] = math.Exp(-(2-e.y)*(2-e.y)/1.1) * p.chanGain[i] * (1 + 0.1*e.x*u(-1, 1))
		}
		s.events = append(s.events, ev)
	})
	poisson(p.saccRate, func(t float64) {
		ev := event{kind: evSaccade, start: t, dur: u(0.6, 2.5), amp: p.saccAmp * u(0.5, 1.2)}
		sign := 1.0
		if rng.Float64() < 0.5 {
			sign = -1
		}
		for i, e := range electrodes {
			ev.w[i] = sign * e.x / 2 * math.Exp(-(2-e.y)*(2-e.y)/1.5)
		}
		s.events = append(s.events, ev)
	})
	poisson(p.muscleRate, func(t float64) {
		ev := event{kind: evMuscle, start: t, dur: u(0.5, 6), amp: p.muscleAmp * u(0.5, 1.5)}
		side := rng.IntN(3) // left, right, both
		for i, e := range electrodes {
			if (side == 0 && e.x > 0) || (side == 1 && e.x < 0) {
				continue
			}
			w := math.Exp(-(math.Abs(e.x) - 2.5) * (math.Abs(e.x) - 2.5) / 0.8)
			if e.y > 1.5 {
				w = math.Max(w, 0.5) // frontalis
			}
			ev.w[i] = w * u(0.6, 1.2)
		}
		s.events = append(s.events, ev)
	})
	poisson(p.moveRate, func(t float64) {
		ev := event{kind: evMove, start: t, dur: u(1, 5), amp: p.moveAmp * u(0.5, 1.5), f: u(0.4, 2.5), phase: u(0, 2*math.Pi)}
		for i := range ev.w {
			ev.w[i] = u(-1, 1)
		}
		s.events = append(s.events, ev)
	})
	poisson(p.popRate, func(t float64) {
		ev := event{kind: evPop, start: t, dur: 3, amp: p.popAmp * u(0.5, 1.3), tau: u(0.15, 0.8)}
		ev.w[rng.IntN(nEl)] = 1
		if rng.Float64() < 0.5 {
			ev.amp = -ev.amp
		}
		s.events = append(s.events, ev)
	})
	for t := u(0, 1/p.heartHz); t < T+1; t += (1 / p.heartHz) * u(0.93, 1.07) {
		s.beats = append(s.beats, t)
	}

	s.heartTemplates()
	s.wave = s.waveform()
	for _, z := range r.Seizures {
		var att, delay, lag [nEl]float64
		for i := range nEl {
			d := dist(z.focus, i)
			if p.generalized {
				att[i] = u(0.6, 1)
				delay[i] = d * u(0.05, 0.25)
			} else {
				att[i] = s.spatial(z.focus, i)
				delay[i] = d * p.spreadS * u(0.8, 1.2)
			}
			att[i] *= p.chanGain[i]
			lag[i] = d * 0.25 * u(0.5, 1.5)
		}
		s.szAtt, s.szDelay, s.szLag = append(s.szAtt, att), append(s.szDelay, delay), append(s.szLag, lag)
	}
	return s
}

// spatial is the amplitude factor of a focal process at electrode i with
// focus f.
func (s *synth) spatial(f, i int) float64 {
	if s.p.generalized {
		return 0.8
	}
	return math.Exp(-dist(f, i) / s.p.lambda)
}

// waveform is one period of the patient's ictal discharge: a few harmonics
// and optionally a spike, zero mean and unit RMS.
func (s *synth) waveform() []float64 {
	p := s.p
	w := make([]float64, waveTable)
	var mean float64
	for i := range w {
		ph := 2 * math.Pi * float64(i) / waveTable
		v := math.Sin(ph) + 0.5*p.harm[0]*math.Sin(2*ph+2*math.Pi*p.harm[1]) + 0.3*p.harm[2]*math.Sin(3*ph+2*math.Pi*p.harm[3])
		d := math.Remainder(ph-math.Pi/2, 2*math.Pi)
		v += p.spike * 2.5 * math.Exp(-d*d/(2*0.12*0.12))
		w[i] = v
		mean += v
	}
	mean /= waveTable
	var ss float64
	for i := range w {
		w[i] -= mean
		ss += w[i] * w[i]
	}
	g := 1 / math.Sqrt(ss/waveTable)
	for i := range w {
		w[i] *= g
	}
	return w
}

// smooth replaces x by its centred moving average over 2h+1 points.
func smooth(x []float64, h int) {
	y := make([]float64, len(x))
	for i := range x {
		var s float64
		var n int
		for j := max(0, i-h); j <= min(len(x)-1, i+h); j++ {
			s += x[j]
			n++
		}
		y[i] = s / float64(n)
	}
	copy(x, y)
}

// gain interpolates a per-second gain at time t.
func gain(g []float64, t float64) float64 {
	k := int(t)
	if k+1 >= len(g) {
		return g[len(g)-1]
	}
	f := t - float64(k)
	return g[k] + (g[k+1]-g[k])*f
}

// fill writes samples [s0, s0+n) of the 21 EEG electrodes (eeg[i][:n]) and
// of the ECG channel (ecg[:n]).
func (s *synth) fill(eeg [][]float64, ecg []float64, s0, n int) {
	fs := s.fs
	rng := s.rng
	for i := range nEl {
		if cap(s.own[i]) < n {
			s.own[i] = make([]float64, n)
		}
		own := s.own[i][:n]
		st := s.pink[i]
		g := s.pinkG * s.p.chanGain[i]
		for j := range own {
			w := rng.NormFloat64()
			st[0] = kellet[0][0]*st[0] + kellet[0][1]*w
			st[1] = kellet[1][0]*st[1] + kellet[1][1]*w
			st[2] = kellet[2][0]*st[2] + kellet[2][1]*w
			st[3] = kellet[3][0]*st[3] + kellet[3][1]*w
			st[4] = kellet[4][0]*st[4] + kellet[4][1]*w
			st[5] = kellet[5][0]*st[5] + kellet[5][1]*w
			own[j] = g * (st[0] + st[1] + st[2] + st[3] + st[4] + st[5] + kelletDirect*w)
		}
		s.pink[i] = st
	}
	// volume conduction: each electrode also sees its neighbours
	for i := range nEl {
		out := eeg[i][:n]
		nb := s.nb[i]
		norm := 1 / math.Sqrt(1+0.36/float64(len(nb)))
		k := 0.6 / float64(len(nb)) * norm
		for j, v := range s.own[i][:n] {
			out[j] = v * norm
		}
		for _, m := range nb {
			for j, v := range s.own[m][:n] {
				out[j] += k * v
			}
		}
	}
	// shared rhythms and mains
	if cap(s.shared[0]) < n {
		for k := range s.shared {
			s.shared[k] = make([]float64, n)
		}
	}
	al, th, de, li := s.shared[0][:n], s.shared[1][:n], s.shared[2][:n], s.shared[3][:n]
	for j := range n {
		t := float64(s0+j) / fs
		al[j] = s.alpha.next(rng.NormFloat64()) * gain(s.gAlpha, t)
		th[j] = s.theta.next(rng.NormFloat64()) * gain(s.gTheta, t)
		de[j] = s.delta.next(rng.NormFloat64()) * gain(s.gDelta, t)
		c, sn := s.lineC, s.lineS
		s.lineC, s.lineS = c*s.lineStep[0]-sn*s.lineStep[1], sn*s.lineStep[0]+c*s.lineStep[1]
		li[j] = c
	}
	for i := range nEl {
		out := eeg[i][:n]
		wa, wt, wd, wl := s.wAlpha[i], s.wTheta[i], s.wDelta[i], s.wLine[i]
		for j := range out {
			out[j] += wa*al[j] + wt*th[j] + wd*de[j] + wl*li[j]
		}
	}
	if m := math.Hypot(s.lineC, s.lineS); m != 0 { // keep the phasor on the unit circle
		s.lineC, s.lineS = s.lineC/m, s.lineS/m
	}
	t0, t1 := float64(s0)/fs, float64(s0+n)/fs
	for e := range s.events {
		ev := &s.events[e]
		if ev.start >= t1 || ev.start+ev.dur <= t0 {
			continue
		}
		s.addEvent(eeg, ev, s0, n)
	}
	s.addHeart(eeg, ecg, s0, n)
	for z := range s.r.Seizures {
		s.addSeizure(eeg, z, s0, n)
	}
}

// span returns the sample range [a, b) of the chunk [s0, s0+n) that lies in
// [start, start+dur) seconds.
func (s *synth) span(start, dur float64, s0, n int) (int, int) {
	a := max(0, int(math.Ceil(start*s.fs))-s0)
	b := min(n, int(math.Ceil((start+dur)*s.fs))-s0)
	return a, b
}

func (s *synth) addEvent(eeg [][]float64, ev *event, s0, n int) {
	a, b := s.span(ev.start, ev.dur, s0, n)
	for j := a; j < b; j++ {
		tau := float64(s0+j)/s.fs - ev.start
		x := tau / ev.dur
		switch ev.kind {
		case evBlink:
			v := math.Sin(math.Pi * x)
			v = ev.amp * v * v
			for i := range nEl {
				eeg[i][j] += ev.w[i] * v
			}
		case evSaccade:
			v := ev.amp * math.Min(1, 3*math.Sin(math.Pi*x))
			for i := range nEl {
				eeg[i][j] += ev.w[i] * v
			}
		case evMuscle:
			env := ev.amp * math.Sqrt(math.Sin(math.Pi*x))
			for i := range nEl {
				if ev.w[i] != 0 {
					eeg[i][j] += ev.w[i] * env * s.rng.NormFloat64()
				}
			}
		case evMove:
			env := ev.amp * math.Sin(math.Pi*x)
			for i := range nEl {
				eeg[i][j] += ev.w[i] * env * math.Sin(2*math.Pi*ev.f*tau+ev.phase+float64(i))
			}
		case evPop:
			v := ev.amp * math.Exp(-tau/ev.tau)
			for i := range nEl {
				if ev.w[i] != 0 {
					eeg[i][j] += v
				}
			}
		}
	}
}

// heartOver is the oversampling of the heartbeat templates.
const heartOver = 8

// heartTemplates tabulates one heartbeat from 0.3 s before to 0.5 s after
// the R peak at heartOver points per sample: the ECG (P, QRS and T waves, in
// µV) and the QRS alone (what leaks into the ear electrodes).
func (s *synth) heartTemplates() {
	n := int(0.8*s.fs*heartOver) + 1
	s.ecgT, s.qrsT = make([]float64, n), make([]float64, n)
	for k := range n {
		d := float64(k)/(s.fs*heartOver) - 0.3
		qrs := math.Exp(-d * d / (2 * 0.012 * 0.012))
		s.qrsT[k] = qrs
		s.ecgT[k] = 120*math.Exp(-(d+0.18)*(d+0.18)/(2*0.03*0.03)) + 1000*qrs - 150*math.Exp(-(d-0.03)*(d-0.03)/(2*0.01*0.01)) +
			300*math.Exp(-(d-0.3)*(d-0.3)/(2*0.06*0.06))
	}
}

// addHeart writes the ECG channel and its leak into the ear and temporal
// electrodes.
func (s *synth) addHeart(eeg [][]float64, ecg []float64, s0, n int) {
	clear(ecg[:n])
	t0, t1 := float64(s0)/s.fs, float64(s0+n)/s.fs
	for _, bt := range s.beats {
		if bt+0.5 < t0 || bt-0.3 > t1 {
			continue
		}
		a, b := s.span(bt-0.3, 0.8, s0, n)
		for j := a; j < b; j++ {
			k := int(math.Round((float64(s0+j)/s.fs - bt + 0.3) * s.fs * heartOver))
			if k < 0 || k >= len(s.ecgT) {
				continue
			}
			ecg[j] += s.ecgT[k]
			for i := range nEl {
				if s.wECG[i] != 0 {
					eeg[i][j] += s.wECG[i] * s.qrsT[k]
				}
			}
		}
	}
}

// addSeizure adds seizure z: a rhythmic discharge whose frequency falls
// from f0 to f1, whose amplitude builds up over the first buildupS seconds,
// and which starts at the focus and reaches other electrodes after a delay
// growing with distance, attenuated with distance.
func (s *synth) addSeizure(eeg [][]float64, z int, s0, n int) {
	sz := &s.r.Seizures[z]
	a, b := s.span(sz.Start, sz.Duration, s0, n)
	if a >= b {
		return
	}
	D := sz.Duration
	sigma := bgSigma * s.p.bgScale * sz.gain
	att, delay, lag := &s.szAtt[z], &s.szDelay[z], &s.szLag[z]
	for j := a; j < b; j++ {
		tau := float64(s0+j)/s.fs - sz.Start
		x := tau / D
		// phase: integral of f(τ) = f0 + (f1 − f0)(τ/D)^0.7, plus a slow jitter
		cyc := sz.f0*tau + (sz.f1-sz.f0)*D/1.7*math.Pow(x, 1.7) + 0.15*math.Sin(2*math.Pi*0.13*tau+sz.jitter)
		env := sigma * (0.35 + 0.65*smoothstep(tau/sz.buildupS)) * smoothstep((D-tau)/1.5)
		for i := range nEl {
			on := smoothstep((tau - delay[i]) / 2)
			if on == 0 {
				continue
			}
			ph := cyc - lag[i]
			ph -= math.Floor(ph)
			eeg[i][j] += env * on * att[i] * s.wave[int(ph*waveTable)&(waveTable-1)]
		}
	}
}

// smoothstep is 0 below 0, 1 above 1, and 3x² − 2x³ between.
func smoothstep(x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	return x * x * (3 - 2*x)
}
