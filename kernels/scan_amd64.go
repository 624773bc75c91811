//go:build amd64 && !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// scanSIMDAvailable reports whether the scan's AVX2+FMA assembly can run
// on this CPU (and OS: x/sys/cpu checks that the YMM state is saved).
var scanSIMDAvailable = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func scanFwdAVX(st, x, y, B, C, dec, dts unsafe.Pointer, sx, sb, n, pb, nb int, Dh float32)

//go:noescape
func scanStepsAVX(src, dst, x, B, dec, dts unsafe.Pointer, ds, sx, sb, n, pb, nb int)

//go:noescape
func scanBwdAVX(gh, cur, x, gy, gx, B, C, gB, gC, dec, dts, out, scr unsafe.Pointer, sx, sb, n, pb, nb int, Dh float32)

//go:noescape
func expScaleAVX(dst, src unsafe.Pointer, a float32, n int)
