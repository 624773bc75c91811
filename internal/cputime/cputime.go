// Package cputime reads the CPU time of the process, for benchmarks that
// report throughput per CPU second: on a shared machine wall-clock time
// depends on the load, CPU time much less.
package cputime

import (
	"syscall"
	"time"
)

// Process returns the user plus system CPU time of the process so far (0 if
// the system does not say).
func Process() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
