// Package annot reads and writes EEG event annotation files:
//
//   - TUH csv_bi (term-based, channel "TERM") and per-channel .csv files,
//     parsed the way NEDC nedc_eeg_eval v6.0.0 parses them (see
//     ../shared/docs/scoring.md §(i)), but with an error naming the file and
//     line for malformed input instead of a crash;
//   - SzCORE/BIDS events.tsv (onset, duration, eventType, confidence,
//     channels, dateTime, recordingDuration).
//
// Both formats are read into a File: the recording duration plus a list of
// Events. The package only parses and writes; it does not reorder, merge or
// fill events (scoring does that with NEDC's rules).
//
// The TUSZ label vocabulary is exposed through IsSeizure: "bckg" is
// background, the seizure labels are listed in SeizureLabels.
package annot

import (
	"fmt"
	"math"
	"strings"
)

// Term is the channel name of term-based (whole-recording) events in TUH
// files. NEDC's scorer reads only these.
const Term = "TERM"

// Background is the TUSZ background label.
const Background = "bckg"

// Seizure is the generic TUSZ seizure label used in csv_bi files.
const Seizure = "seiz"

// SeizureLabels are the TUSZ labels that denote a seizure: the generic
// "seiz" and the seizure types of TUSZ v2 (focal non-specific, generalised
// non-specific, complex partial, absence, simple partial, tonic-clonic,
// tonic, clonic, atonic, myoclonic). Non-epileptic events (nesz) are not
// seizures.
var SeizureLabels = []string{
	"seiz", "fnsz", "gnsz", "cpsz", "absz", "spsz", "tcsz", "tnsz", "cnsz", "atsz", "mysz",
}

// IsSeizure reports whether label denotes a seizure: one of SeizureLabels
// (case-insensitive), or a SzCORE/BIDS eventType "sz" or "sz_..." (the
// HED-SCORE seizure types such as "sz_foc_a_m"). Everything else, "bckg"
// included, is not a seizure.
func IsSeizure(label string) bool {
	l := strings.ToLower(label)
	switch l {
	case "seiz", "fnsz", "gnsz", "cpsz", "absz", "spsz", "tcsz", "tnsz", "cnsz", "atsz", "mysz":
		return true
	}
	return l == "sz" || strings.HasPrefix(l, "sz_")
}

// Event is one annotated interval [Start, Stop] in seconds from the start of
// the recording.
type Event struct {
	// Channel is "TERM" for term-based events, otherwise a channel or
	// montage name such as "FP1-F7". In events.tsv it is the channels
	// column, "TERM" standing for "n/a".
	Channel string
	// Start and Stop are seconds from the start of the recording.
	Start, Stop float64
	// Label is the event's label, verbatim ("seiz", "bckg", "gnsz", "sz", ...).
	Label string
	// Confidence is the annotator's or detector's confidence; NaN when the
	// file says "n/a". NEDC's scorers never use it.
	Confidence float64
}

// Formats of File.Format.
const (
	FormatCSV = "csv" // TUH csv_bi or per-channel csv
	FormatTSV = "tsv" // SzCORE/BIDS events.tsv
)

// File is the content of one annotation file.
type File struct {
	// Format is FormatCSV or FormatTSV, set by the readers; it decides
	// what TermEvents returns.
	Format string
	// Duration is the recording duration in seconds (the "# duration = X
	// secs" header of csv_bi, the recordingDuration column of events.tsv).
	Duration float64
	// Bname and Montage are the "# bname" and "# montage_file" headers of
	// csv_bi files (empty if absent). events.tsv has neither.
	Bname, Montage string
	// DateTime is the recording start of events.tsv ("YYYY-MM-DD HH:MM:SS"),
	// empty if absent or "n/a". csv_bi has none.
	DateTime string
	// Events in file order.
	Events []Event
}

// TermEvents returns the recording-level events in file order: rows with
// channel "TERM" of a csv_bi/csv file (per-channel rows are left out, as
// NEDC does), every row of an events.tsv (its channels column only says
// where a recording-level event was seen).
func (f *File) TermEvents() []Event {
	var out []Event
	for _, e := range f.Events {
		if e.Channel == Term || f.Format == FormatTSV {
			out = append(out, e)
		}
	}
	return out
}

// SeizureEvents returns the TermEvents whose label IsSeizure, in file
// order.
func (f *File) SeizureEvents() []Event {
	var out []Event
	for _, e := range f.TermEvents() {
		if IsSeizure(e.Label) {
			out = append(out, e)
		}
	}
	return out
}

// ParseError is a malformed annotation file: File and Line (1-based; 0 when
// the problem is not on one line) locate it, Msg says what was expected.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// validate checks what both writers need: finite, ordered times inside a
// finite, non-negative duration, and text fields that survive the format.
func (f *File) validate(forbidden string) error {
	if math.IsNaN(f.Duration) || math.IsInf(f.Duration, 0) || f.Duration < 0 {
		return fmt.Errorf("duration %v is not a finite non-negative number", f.Duration)
	}
	for i, e := range f.Events {
		if !finite(e.Start) || !finite(e.Stop) || e.Start < 0 || e.Stop < e.Start {
			return fmt.Errorf("event %d: times [%v, %v] are not finite with 0 <= start <= stop", i, e.Start, e.Stop)
		}
		if math.IsInf(e.Confidence, 0) {
			return fmt.Errorf("event %d: confidence %v is infinite", i, e.Confidence)
		}
		if e.Label == "" || strings.ContainsAny(e.Label, forbidden) {
			return fmt.Errorf("event %d: label %q is empty or contains one of %q", i, e.Label, forbidden)
		}
		if e.Channel == "" || strings.ContainsAny(e.Channel, forbidden) {
			return fmt.Errorf("event %d: channel %q is empty or contains one of %q", i, e.Channel, forbidden)
		}
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
