// Package data holds the benchmarks of the EEG data path (EDF reading, cache
// population, window reads) against the original project's Python
// preprocessing; run.sh runs them side by side and docs/BENCHMARKS.md
// records the results.
package data
