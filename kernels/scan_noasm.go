//go:build !amd64 || purego

package kernels

import "unsafe"

// scanSIMDAvailable is false: this build has no scan assembly (not amd64,
// or the purego tag), and every scan runs the Go path.
const scanSIMDAvailable = false

// scanAVX512Available is false for the same reason.
const scanAVX512Available = false

// The assembly entry points do not exist in this build; CPU.scanSIMD and
// CPU.scanAVX512 are never true here, so these are never called.

func scanFwdAVX(st, x, y, B, C, dec, dts unsafe.Pointer, sx, sb, n, pb, nb int, Dh float32) {
	panic("kernels: scan assembly called in a build without it")
}

func scanStepsAVX(src, dst, x, B, dec, dts unsafe.Pointer, ds, sx, sb, n, pb, nb int) {
	panic("kernels: scan assembly called in a build without it")
}

func scanBwdAVX(gh, cur, x, gy, gx, B, C, gB, gC, dec, dts, out, scr unsafe.Pointer, sx, sb, n, pb, nb int, Dh float32) {
	panic("kernels: scan assembly called in a build without it")
}

func expScaleAVX(dst, src unsafe.Pointer, a float32, n int) {
	panic("kernels: scan assembly called in a build without it")
}

func scanFwd16AVX512(st, x, y, B, C, dec, dts unsafe.Pointer, sx, sb, n, pb, nb int, Dh float32) {
	panic("kernels: scan assembly called in a build without it")
}

func scanSteps16AVX512(src, dst, x, B, dec, dts unsafe.Pointer, ds, sx, sb, n, pb, nb int) {
	panic("kernels: scan assembly called in a build without it")
}

func scanBwd16AVX512(gh, cur, x, gy, gx, B, C, gB, gC, dec, dts, out, scr unsafe.Pointer, sx, sb, n, pb, nb int, Dh float32) {
	panic("kernels: scan assembly called in a build without it")
}

// scanLanesAvailable is false for the same reason.
const scanLanesAvailable = false

func scanDtALanes512(dst, dt, A unsafe.Pointer, sdt, n, m int) {
	panic("kernels: scan assembly called in a build without it")
}

func scanFwdLanes512(st, x, y, B, C, dec, dt, De unsafe.Pointer, sx, sb, sdt, n, nb int) {
	panic("kernels: scan assembly called in a build without it")
}

func scanStepsLanes512(src, dst, x, B, dec, dt unsafe.Pointer, ds, sx, sb, sdt, n, nb int) {
	panic("kernels: scan assembly called in a build without it")
}

func scanBwdLanes512(gh, cur, x, gy, gx, B, C, gB, gC, dec, dt, gdt, A, scr, acc unsafe.Pointer, sx, sb, sdt, n, nb int) {
	panic("kernels: scan assembly called in a build without it")
}

func scanFwdLanes4x512(st, x, y, B, C, dec, dt, De unsafe.Pointer, sx, sb, sdt, n int) {
	panic("kernels: scan assembly called in a build without it")
}

func scanStepsLanes4x512(src, dst, x, B, dec, dt unsafe.Pointer, ds, sx, sb, sdt, n int) {
	panic("kernels: scan assembly called in a build without it")
}

func scanBwdLanes4x512(gh, cur, x, gy, gx, B, C, gB, gC, dec, dt, gdt, A, scr, acc unsafe.Pointer, sx, sb, sdt, n int) {
	panic("kernels: scan assembly called in a build without it")
}
