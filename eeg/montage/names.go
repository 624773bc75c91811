// Package montage maps the channels of an EEG recording onto a fixed
// montage: label normalisation, selection of the 19 referential channels of
// the 10-20 system in a fixed order, spherical-spline interpolation of
// missing interior channels, and the 22-channel TUH TCP bipolar montage.
//
// A Plan is built once per recording from its channel labels (Build) and
// then applied to blocks of samples at a common rate (Plan.Apply). Each
// output channel is a fixed linear combination of input channels, so the
// plan can be applied to a stream in chunks.
package montage

import (
	"strings"
)

// Standard19 lists the 19 referential channels of the 10-20 system in the
// order of the output (the original project's order).
var Standard19 = []string{
	"Fp1", "F3", "C3", "P3", "F7", "T3", "T5", "O1", "Fz", "Cz", "Pz",
	"Fp2", "F4", "C4", "P4", "F8", "T4", "T6", "O2",
}

// TCP lists the 22 derivations (first minus second) of the TUH temporal
// central parasagittal bipolar montage, in NEDC's order (the montage of the
// TUSZ 01_tcp_ar recordings). Derivations 8 and 13 need the ear electrodes
// A1 and A2, which the 03_tcp_ar_a recordings lack.
var TCP = [][2]string{
	{"Fp1", "F7"}, {"F7", "T3"}, {"T3", "T5"}, {"T5", "O1"},
	{"Fp2", "F8"}, {"F8", "T4"}, {"T4", "T6"}, {"T6", "O2"},
	{"A1", "T3"}, {"T3", "C3"}, {"C3", "Cz"}, {"Cz", "C4"}, {"C4", "T4"}, {"T4", "A2"},
	{"Fp1", "F3"}, {"F3", "C3"}, {"C3", "P3"}, {"P3", "O1"},
	{"Fp2", "F4"}, {"F4", "C4"}, {"C4", "P4"}, {"P4", "O2"},
}

// TCPNames returns the names of the TCP derivations in TUH's style
// ("FP1-F7", ...).
func TCPNames() []string {
	out := make([]string, len(TCP))
	for i, d := range TCP {
		out[i] = strings.ToUpper(d[0]) + "-" + strings.ToUpper(d[1])
	}
	return out
}

// TUHLabel returns the label a TUH recording gives a referential channel:
// "EEG FP1-REF" for "Fp1".
func TUHLabel(name string) string { return "EEG " + strings.ToUpper(name) + "-REF" }

// synonyms maps the 10-10 names of the temporal and parietal-temporal
// electrodes to the 10-20 names used in the output (same positions).
var synonyms = map[string]string{"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}

// referenceSuffixes are the reference markers removed from labels
// (compared case-insensitively): TUH's -REF (common reference), -LE (linked
// ears) and -AR (average reference), and -AVG seen in other EDF exports.
var referenceSuffixes = []string{"-REF", "-LE", "-AR", "-AVG"}

// electrodes maps the upper-case names of the electrodes this package knows
// to their canonical spelling.
var electrodes = func() map[string]string {
	m := map[string]string{}
	for _, n := range append(append([]string{}, Standard19...), "A1", "A2") {
		m[strings.ToUpper(n)] = n
	}
	return m
}()

// Normalize returns the canonical name of a channel label: surrounding
// space and trailing dots (PhysioNet's "C3.." style) are removed, then an
// "EEG" prefix (with or without a space) and one reference suffix (-REF,
// -LE, -AR, -AVG; any case). Electrodes of the 10-20 system and the ears
// come out in their canonical spelling ("Fp1", "Cz", "A1"), the 10-10
// names T7, T8, P7, P8 as T3, T4, T5, T6. Anything else comes out
// upper-cased ("EEG EKG1-REF" -> "EKG1", "PHOTIC-REF" -> "PHOTIC").
//
// Examples: "EEG FP1-REF" -> "Fp1", "EEG Fp1-Ref" -> "Fp1", "T7-Avg" -> "T3",
// "EEG FZ-LE" -> "Fz", "Fc5." -> "FC5".
func Normalize(label string) string {
	up := strip(label)
	if n, ok := electrodes[up]; ok {
		return n
	}
	if n, ok := synonyms[up]; ok {
		return n
	}
	return up
}

// strip removes what Normalize removes and returns the rest upper-cased,
// spaces deleted: "EEG Fp1-Ref" -> "FP1".
func strip(label string) string {
	s := strings.TrimRight(strings.TrimSpace(label), ". ")
	if len(s) > 3 && strings.EqualFold(s[:3], "EEG") {
		s = strings.TrimSpace(s[3:])
	}
	up := strings.ToUpper(s)
	for _, suf := range referenceSuffixes {
		if strings.HasSuffix(up, suf) && len(up) > len(suf) {
			up = up[:len(up)-len(suf)]
			break
		}
	}
	return strings.ReplaceAll(up, " ", "")
}
