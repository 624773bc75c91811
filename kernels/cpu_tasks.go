package kernels

import "fmt"

// tasks holds each op's arguments, reused across calls so that
// dispatching work allocates nothing.
type tasks struct {
	scanFwd scanFwdTask
	scanBwd scanBwdTask

	fn    fnTask
	lin   linArgs
	conv  convArgs
	dw    dwArgs
	wn    wnArgs
	ln    lnArgs
	rms   rmsArgs
	el    elArgs
	graph graphArgs
}

// fnTask runs a plain function (no closure, so storing it allocates
// nothing) whose arguments sit in c.tasks.
type fnTask struct {
	c *CPU
	f func(c *CPU, w, i int)
}

func (t *fnTask) run(w, i int) { t.f(t.c, w, i) }

// do runs f(c, w, i) for i in [0, n) on the workers.
func (c *CPU) do(n int, f func(c *CPU, w, i int)) {
	c.tasks.fn = fnTask{c: c, f: f}
	c.parallel(n, &c.tasks.fn)
	c.tasks.fn = fnTask{}
}

// nSlots is the number of partial sums of a reduction over n items. It
// does not depend on the number of workers, so results are bit-identical
// on every machine.
func nSlots(n int) int { return max(1, min(n, 8)) }

// slotRange returns the items [lo, hi) of slot s of n items.
func slotRange(s, n int) (lo, hi int) {
	k := nSlots(n)
	return s * n / k, (s + 1) * n / k
}

func errorf(format string, a ...any) error { return fmt.Errorf("cpu: "+format, a...) }
