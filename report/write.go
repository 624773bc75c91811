package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pipeml/pipe/internal/atomicfile"
	"github.com/pipeml/pipe/scoring"
)

// Files written by Write, relative to its directory.
const (
	JSONFile   = "report.json"
	MDFile     = "report.md"
	ROCFile    = "roc.png"
	SensFAFile = "sensitivity_vs_fa.png"
	TracesFile = "traces.png"
)

// Write writes report.json, report.md and the PNG plots into dir (created
// if needed). Each file is written atomically; report.json is written last,
// so its presence means the report is complete.
func Write(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	plots := []struct {
		name string
		draw func(io.Writer) error
	}{{ROCFile, r.plotROC}, {SensFAFile, r.plotSensFA}, {TracesFile, r.plotTraces}}
	for _, p := range plots {
		if err := atomicfile.Write(filepath.Join(dir, p.name), 0o644, p.draw); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	if err := atomicfile.Write(filepath.Join(dir, MDFile), 0o644, r.writeMarkdown); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("report: encode %s: %w", JSONFile, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, JSONFile), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func (r *Report) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	title := r.Title
	if title == "" {
		title = "Seizure detection report"
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	fmt.Fprintf(&b, "%d recordings, %.1f h in total.\n\n", r.Recordings, r.TotalDuration/3600)
	fmt.Fprintf(&b, "## Threshold-free (per sample, stitched traces)\n\n")
	fmt.Fprintf(&b, "| AUROC | PR-AUC | seizure samples | background samples |\n|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %s | %s | %d | %d |\n\n", optional(r.AUROC), optional(r.PRAUC), r.PositiveSamples, r.NegativeSamples)
	fmt.Fprintf(&b, "## Sensitivity at K false alarms per 24 h (%s events)\n\n", strings.ToUpper(r.SweepMethod))
	fmt.Fprintf(&b, "Thresholds: %s.\n\n", r.ThresholdSource)
	fmt.Fprintf(&b, "| K (FA/24h) | sensitivity (%%) | FA/24h achieved | threshold | hits / targets | false alarms |\n|---|---|---|---|---|---|\n")
	for _, k := range r.sortedBudgets() {
		p := r.SensitivityAtFA[BudgetKey(k)]
		th := "none (no events)"
		if p.Threshold != nil {
			th = fmt.Sprintf("%.3f", *p.Threshold)
		}
		fmt.Fprintf(&b, "| %s | %.2f | %.2f | %s | %.0f / %.0f | %.0f |\n", BudgetKey(k), p.Sensitivity, p.FAPer24h, th, p.Hits, p.Targets, p.FalseAlarms)
	}
	fmt.Fprintf(&b, "\n## All methods at threshold %.3f\n\n", r.OperatingThreshold)
	b.WriteString(Table(r.Scores))
	fmt.Fprintf(&b, "\nEpoch FA/24h is seconds of false alarm per 24 h (NEDC); szcore_sample FA/24h counts samples.\n\n")
	fmt.Fprintf(&b, "## Plots\n\n![ROC](%s)\n\n![Sensitivity vs FA/24h](%s)\n\n![Traces](%s)\n", ROCFile, SensFAFile, TracesFile)
	_, err := io.WriteString(w, b.String())
	return err
}

// Table formats results as a Markdown table (also pipe score's human
// output).
func Table(results []scoring.Result) string {
	var b strings.Builder
	b.WriteString("| method | targets | hits | misses | false alarms | sensitivity (%) | specificity (%) | FA/24h | duration (s) |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.4f | %s | %.4f | %.1f |\n", r.Method, count(r.Targets), count(r.Hits),
			count(r.Misses), count(r.FalseAlarms), r.Sensitivity, optional4(r.Specificity), r.FAPer24h, r.TotalDuration)
	}
	return b.String()
}

// count prints whole counts without decimals and TAES's fractional ones
// with two.
func count(x float64) string {
	if x == float64(int64(x)) {
		return fmt.Sprintf("%d", int64(x))
	}
	return fmt.Sprintf("%.2f", x)
}

func optional(x *float64) string {
	if x == nil {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", *x)
}

func optional4(x *float64) string {
	if x == nil {
		return "–"
	}
	return fmt.Sprintf("%.4f", *x)
}
