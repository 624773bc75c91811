//go:build amd64 && !purego

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// scanSIMDAvailable reports whether the scan's AVX2+FMA assembly can run
// on this CPU (and OS: x/sys/cpu checks that the YMM state is saved).
var scanSIMDAvailable = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// scanAVX512Available reports whether the AVX-512F variants of the N = 16
// loops (scan512_amd64.s) can run: the AVX2 path's features and AVX-512F
// (x/sys/cpu also checks that the OS saves the ZMM state).
var scanAVX512Available = scanSIMDAvailable && cpu.X86.HasAVX512F

//go:noescape
func scanFwdAVX(st, x, y, B, C, dec, dts unsafe.Pointer, sx, sb, n, pb, nb int, Dh float32)

//go:noescape
func scanStepsAVX(src, dst, x, B, dec, dts unsafe.Pointer, ds, sx, sb, n, pb, nb int)

//go:noescape
func scanBwdAVX(gh, cur, x, gy, gx, B, C, gB, gC, dec, dts, out, scr unsafe.Pointer, sx, sb, n, pb, nb int, Dh float32)

//go:noescape
func expScaleAVX(dst, src unsafe.Pointer, a float32, n int)

//go:noescape
func scanFwd16AVX512(st, x, y, B, C, dec, dts unsafe.Pointer, sx, sb, n, pb, nb int, Dh float32)

//go:noescape
func scanSteps16AVX512(src, dst, x, B, dec, dts unsafe.Pointer, ds, sx, sb, n, pb, nb int)

//go:noescape
func scanBwd16AVX512(gh, cur, x, gy, gx, B, C, gB, gC, dec, dts, out, scr unsafe.Pointer, sx, sb, n, pb, nb int, Dh float32)

// scanLanesAvailable reports whether the lanes-layout kernels
// (scanlanes_amd64.s, AVX-512F) can run.
var scanLanesAvailable = scanAVX512Available

//go:noescape
func scanDtALanes512(dst, dt, A unsafe.Pointer, sdt, n, m int)

//go:noescape
func scanFwdLanes512(st, x, y, B, C, dec, dt, De unsafe.Pointer, sx, sb, sdt, n, nb int)

//go:noescape
func scanStepsLanes512(src, dst, x, B, dec, dt unsafe.Pointer, ds, sx, sb, sdt, n, nb int)

//go:noescape
func scanBwdLanes512(gh, cur, x, gy, gx, B, C, gB, gC, dec, dt, gdt, A, scr, acc unsafe.Pointer, sx, sb, sdt, n, nb int)

//go:noescape
func scanFwdLanes4x512(st, x, y, B, C, dec, dt, De unsafe.Pointer, sx, sb, sdt, n int)

//go:noescape
func scanStepsLanes4x512(src, dst, x, B, dec, dt unsafe.Pointer, ds, sx, sb, sdt, n int)

//go:noescape
func scanBwdLanes4x512(gh, cur, x, gy, gx, B, C, gB, gC, dec, dt, gdt, A, scr, acc unsafe.Pointer, sx, sb, sdt, n int)
