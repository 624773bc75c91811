package demo

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"time"
)

// Seizure is one seizure of a generated recording, in seconds from its
// start.
type Seizure struct {
	Start, Duration float64

	// synthesis parameters (not part of the annotation)
	gain     float64 // peak RMS at the focus, relative to the background σ
	f0, f1   float64 // discharge frequency at onset and at the end (Hz)
	focus    int     // electrode where it starts
	jitter   float64 // phase of the slow frequency jitter
	postS    float64 // post-ictal slowing (s)
	buildupS float64 // time to reach full amplitude (s)
}

// Recording is one planned recording of the demo tree.
type Recording struct {
	Split, Patient, Session, Token string
	// SessionDir and Montage are the directory names ("s001_2013",
	// "01_tcp_ar").
	SessionDir, Montage string
	// Rate is the EEG sample rate (Hz); Seconds the length.
	Rate, Seconds int
	// Start is the recording's start time written to the EDF header.
	Start time.Time
	// Seizures are the annotated seizures, in order.
	Seizures []Seizure

	p    *patient
	seed [2]uint64 // synthesis random stream
}

// Base is the file name without extension: <patient>_<session>_<token>.
func (r *Recording) Base() string { return r.Patient + "_" + r.Session + "_" + r.Token }

// Rel is the EDF file's path relative to the output directory.
func (r *Recording) Rel() string {
	return filepath.Join(r.Split, r.Patient, r.SessionDir, r.Montage, r.Base()+".edf")
}

// SeizureSeconds is the total annotated seizure time.
func (r *Recording) SeizureSeconds() float64 {
	var s float64
	for _, z := range r.Seizures {
		s += z.Duration
	}
	return s
}

// patient holds the traits shared by a patient's recordings.
type patient struct {
	id      string
	rate    int
	montage montageStyle
	year    int

	bgScale  float64      // background amplitude multiplier
	chanGain [nEl]float64 // per-electrode gain (contact impedance, skull)
	alphaHz  float64
	alphaAmp float64 // µV RMS at the occipital electrodes (eyes closed)
	thetaAmp float64 // µV RMS of drowsy theta, fronto-central
	drowsy   float64 // fraction of time drowsy

	blinkRate, blinkAmp   float64 // per minute (eyes open), µV
	saccRate, saccAmp     float64 // lateral eye movements
	muscleRate, muscleAmp float64 // bursts per minute, µV RMS
	moveRate, moveAmp     float64 // movement artefacts per minute, µV
	popRate, popAmp       float64 // electrode pops per minute, µV
	lineAmp               float64 // mains interference, µV
	heartHz, ecgLeak      float64 // heart rate, ECG artefact on the ears (µV)

	// seizure traits
	generalized  bool
	focus        int
	lambda       float64 // spatial decay of focal seizures (grid units)
	spreadS      float64 // onset delay per grid unit (s)
	f0, f1       float64 // typical start and end frequency
	gain         float64 // typical peak amplitude relative to background
	harm         [4]float64
	spike        float64 // spike-and-wave component weight
	seizureProne float64 // multiplier of the seizure rate
}

// background σ of one electrode before bgScale (µV).
const bgSigma = 14.0

// newPatient draws the traits of the n-th patient of the tree.
func newPatient(seed uint64, n int) *patient {
	rng := rand.New(rand.NewPCG(splitmix(seed), splitmix(seed^uint64(n+1)*0x9e3779b97f4a7c15^0xa11ce)))
	u := func(a, b float64) float64 { return a + (b-a)*rng.Float64() }
	p := &patient{id: patientID(seed, n)}
	switch x := rng.Float64(); {
	case x < 0.7:
		p.rate = 256
	case x < 0.9:
		p.rate = 250
	default:
		p.rate = 400
	}
	p.montage = montageAR
	if rng.Float64() < 0.15 {
		p.montage = montageLE
	}
	p.year = 2002 + rng.IntN(16)
	p.bgScale = math.Min(1.7, math.Max(0.6, math.Exp(0.3*rng.NormFloat64())))
	for i := range p.chanGain {
		p.chanGain[i] = u(0.8, 1.25)
	}
	p.alphaHz = u(8.5, 11.5)
	p.alphaAmp = u(6, 20) * p.bgScale
	p.thetaAmp = u(4, 10) * p.bgScale
	p.drowsy = u(0, 0.35)
	p.blinkRate, p.blinkAmp = u(4, 20), u(80, 250)
	p.saccRate, p.saccAmp = u(0.5, 4), u(40, 150)
	p.muscleRate, p.muscleAmp = u(0.5, 4), u(15, 60)
	p.moveRate, p.moveAmp = u(0.1, 0.8), u(80, 300)
	p.popRate, p.popAmp = u(0, 0.5), u(80, 250)
	p.lineAmp = u(0.3, 5)
	p.heartHz, p.ecgLeak = u(55, 95)/60, u(1, 12)

	p.generalized = rng.Float64() < 0.25
	for {
		p.focus = rng.IntN(nEl)
		if scalp(p.focus) {
			break
		}
	}
	p.lambda = u(1, 2.5)
	p.spreadS = u(1, 6)
	p.f0, p.f1 = u(5, 8), u(2.5, 4)
	p.gain = u(0.8, 2.4)
	for i := range p.harm {
		p.harm[i] = rng.Float64()
	}
	p.spike = u(0, 1.2)
	p.seizureProne = u(0.5, 1.5)
	return p
}

// plan lists every recording of the tree cfg describes, in a fixed order
// (split, patient, session, token), with its seizures drawn.
func plan(cfg Config) ([]*Recording, error) {
	var recs []*Recording
	n := 0
	for _, sp := range []struct {
		name  string
		count int
	}{{"train", cfg.Patients.Train}, {"dev", cfg.Patients.Dev}, {"eval", cfg.Patients.Eval}} {
		for range sp.count {
			p := newPatient(cfg.Seed, n)
			for k := range cfg.Recordings {
				session := k/2 + 1
				r := &Recording{
					Split: sp.name, Patient: p.id,
					Session:    fmt.Sprintf("s%03d", session),
					Token:      fmt.Sprintf("t%03d", k%2),
					SessionDir: fmt.Sprintf("s%03d_%d", session, p.year+session/4),
					Montage:    p.montage.dir,
					Rate:       p.rate,
					Seconds:    int(math.Round(cfg.Minutes * 60)),
					Start:      time.Date(p.year+session/4, 1, 1, 9+k%2, 0, 0, 0, time.UTC),
					p:          p,
				}
				stream := splitmix(cfg.Seed ^ uint64(n)<<20 ^ uint64(k)<<4 ^ 0xdead)
				r.seed = [2]uint64{splitmix(stream), splitmix(stream + 1)}
				planSeizures(r, cfg.SeizureRate, rand.New(rand.NewPCG(splitmix(stream+2), splitmix(stream+3))))
				recs = append(recs, r)
			}
			n++
		}
	}
	return recs, nil
}

// planSeizures draws the seizures of r: a renewal process with the given
// mean rate per hour (scaled by the patient's proneness), durations 10–120 s
// skewed towards shorter ones, at least 30 s apart and 5 s from either end.
func planSeizures(r *Recording, ratePerHour float64, rng *rand.Rand) {
	p := r.p
	rate := ratePerHour * p.seizureProne / 3600 // per second
	if rate <= 0 {
		return
	}
	u := func(a, b float64) float64 { return a + (b-a)*rng.Float64() }
	end := float64(r.Seconds) - 5
	t := 5 + rng.ExpFloat64()/rate*0.5
	for {
		d := 10 + 110*math.Pow(rng.Float64(), 1.6)
		if t+d > end {
			break
		}
		s := Seizure{Start: math.Round(t*256) / 256, Duration: math.Round(d*256) / 256,
			gain: p.gain * u(0.75, 1.3), f0: p.f0 * u(0.9, 1.1), f1: p.f1 * u(0.9, 1.1),
			focus: p.focus, jitter: u(0, 2*math.Pi), postS: u(10, 60), buildupS: u(0.25, 0.5) * d}
		if !p.generalized && rng.Float64() < 0.2 {
			// occasionally starts next to the usual focus
			nb := neighbours()[p.focus]
			if c := nb[rng.IntN(len(nb))]; scalp(c) {
				s.focus = c
			}
		}
		r.Seizures = append(r.Seizures, s)
		t += d + 30 + rng.ExpFloat64()/rate
	}
}
