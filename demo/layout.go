package demo

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// electrode is one scalp electrode of the generated recordings, with a
// position on a flat 10-20 grid (x: left −2 … right 2, y: back −2 … front
// 2; one unit between neighbouring electrodes) used for spatial spread.
type electrode struct {
	name string // TUH spelling, upper case ("FP1")
	x, y float64
}

// electrodes lists the EEG electrodes in TUH file order: the 19 of the 10-20
// system interleaved as TUH stores them, with the ear electrodes A1 and A2
// after T6 (as in the 01_tcp_ar recordings).
var electrodes = [...]electrode{
	{"FP1", -1, 2}, {"FP2", 1, 2}, {"F3", -1, 1}, {"F4", 1, 1},
	{"C3", -1, 0}, {"C4", 1, 0}, {"P3", -1, -1}, {"P4", 1, -1},
	{"O1", -1, -2}, {"O2", 1, -2}, {"F7", -2, 1}, {"F8", 2, 1},
	{"T3", -2, 0}, {"T4", 2, 0}, {"T5", -2, -1}, {"T6", 2, -1},
	{"A1", -3, 0}, {"A2", 3, 0},
	{"FZ", 0, 1}, {"CZ", 0, 0}, {"PZ", 0, -1},
}

// nEl is the number of EEG electrodes written.
const nEl = len(electrodes)

// scalp reports whether electrode i is one of the 19 scalp electrodes (a
// seizure focus candidate), i.e. not an ear electrode.
func scalp(i int) bool { return electrodes[i].name != "A1" && electrodes[i].name != "A2" }

// dist is the grid distance between electrodes i and j.
func dist(i, j int) float64 {
	return math.Hypot(electrodes[i].x-electrodes[j].x, electrodes[i].y-electrodes[j].y)
}

// neighbours returns, for each electrode, the electrodes at most 1.5 grid
// units away (direct and diagonal neighbours).
func neighbours() [nEl][]int {
	var nb [nEl][]int
	for i := range nEl {
		for j := range nEl {
			if i != j && dist(i, j) <= 1.5 {
				nb[i] = append(nb[i], j)
			}
		}
	}
	return nb
}

// montageStyle is how a recording's EEG channels are labelled and which
// TUSZ montage directory it sits in.
type montageStyle struct {
	dir    string // "01_tcp_ar"
	suffix string // "-REF"
}

var (
	montageAR = montageStyle{"01_tcp_ar", "-REF"}
	montageLE = montageStyle{"02_tcp_le", "-LE"}
)

// patientID returns the 8-letter TUSZ-style id of patient n (0-based) for
// a given seed: consecutive base-26 numbers from a seed-dependent offset, so
// ids are distinct within one tree.
func patientID(seed uint64, n int) string {
	const space = 26 * 26 * 26 * 26 * 26 * 26 // ids "aa" + 6 letters
	v := (splitmix(seed^0x5eed1d5) % (space - 1<<16)) + uint64(n)
	b := []byte("aaaaaaaa")
	for i := len(b) - 1; i >= 2 && v > 0; i-- {
		b[i] = byte('a' + v%26)
		v /= 26
	}
	return string(b)
}

// splitmix is the SplitMix64 mixing function: a fixed, well-spread map of
// 64-bit values used to derive independent seeds.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// writeCSVBI writes a recording's csv_bi in the exact layout of TUSZ v2
// (see ../shared/data/tusz_layout/tuh): the version, bname, duration (two
// decimals) and montage_file comments, then one TERM row per seizure
// labelled seiz, or a single bckg row covering the recording when it has
// none. Times have four decimals.
func writeCSVBI(w io.Writer, bname string, duration float64, seizures []Seizure) error {
	var b strings.Builder
	b.WriteString("# version = csv_v1.0.0\n")
	fmt.Fprintf(&b, "# bname = %s\n", bname)
	fmt.Fprintf(&b, "# duration = %s secs\n", strconv.FormatFloat(duration, 'f', 2, 64))
	b.WriteString("# montage_file = $NEDC_NFC/lib/nedc_eas_default_montage.txt\n#\n")
	b.WriteString("channel,start_time,stop_time,label,confidence\n")
	row := func(start, stop float64, label string) {
		fmt.Fprintf(&b, "TERM,%s,%s,%s,1.0000\n", strconv.FormatFloat(start, 'f', 4, 64), strconv.FormatFloat(stop, 'f', 4, 64), label)
	}
	if len(seizures) == 0 {
		row(0, duration, "bckg")
	}
	for _, s := range seizures {
		row(s.Start, s.Start+s.Duration, "seiz")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
