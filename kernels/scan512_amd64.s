//go:build amd64 && !purego

#include "textflag.h"
#include "scan_amd64.h"

// AVX-512F variants of the scan's N = 16 loops (the node stream): one state
// row of 16 floats in one zmm register, so each row takes half the
// instructions of the AVX2 loops in scan_amd64.s. Same arguments,
// strides and results as scanFwdAVX, scanStepsAVX and scanBwdAVX with
// nb = 64 (N = 16) and P a multiple of 4; only AVX-512F instructions on
// zmm registers (ymm/xmm work stays VEX-encoded on registers 0-15, so
// neither AVX512VL nor DQ is needed). The per-row sums are folded from 16
// to 8 lanes in registers and then reduced as in the AVX2 loops.

#define PFSHIFT 3

// FROW512 updates the row at off(AX) in place, r = a·r + dx·B, and folds
// r·C to 8 lanes into acc (Z15 = a, Z8 = B, Z9 = C; Z13, Y13 scratch).
#define FROW512(off, dx, accz, accy) \
	VMULPS        off(AX), Z15, Z13; \
	VFMADD231PS   Z8, dx, Z13;       \
	VMOVUPS       Z13, off(AX);      \
	VMULPS        Z13, Z9, accz;     \
	VEXTRACTF64X4 $1, accz, Y13;     \
	VADDPS        Y13, accy, accy

// func scanFwd16AVX512(st, x, y, B, C, dec, dts unsafe.Pointer, sx, sb, n, pb, nb int, Dh float32)
// scanFwdAVX for N = 16.
TEXT ·scanFwd16AVX512(SB), NOSPLIT, $24-100
	MOVQ st+0(FP), R8
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ B+24(FP), R9
	MOVQ C+32(FP), R10
	MOVQ dec+40(FP), AX
	MOVQ AX, 0(SP)
	MOVQ dts+48(FP), AX
	MOVQ AX, 8(SP)
	MOVQ n+72(FP), AX
	MOVQ AX, 16(SP)
	VBROADCASTSS Dh+96(FP), Y14

zfstep:
	MOVQ sx+56(FP), CX
	SHLQ $PFSHIFT, CX
	PREFETCHT0 (SI)(CX*1)
	PREFETCHT0 (DI)(CX*1)
	MOVQ sb+64(FP), CX
	SHLQ $PFSHIFT, CX
	PREFETCHT0 (R9)(CX*1)
	PREFETCHT0 (R10)(CX*1)
	MOVQ 0(SP), CX
	VBROADCASTSS (CX), Z15 // a
	ADDQ $4, CX
	MOVQ CX, 0(SP)
	MOVQ 8(SP), CX
	VBROADCASTSS (CX), Z12 // dt
	ADDQ $4, CX
	MOVQ CX, 8(SP)
	XORQ DX, DX            // 4·p
	MOVQ R8, AX            // row p
	VMOVUPS (R9), Z8       // B
	VMOVUPS (R10), Z9      // C

zfquad:
	VBROADCASTSS (SI)(DX*1), Z4
	VMULPS Z4, Z12, Z4
	VBROADCASTSS 4(SI)(DX*1), Z5
	VMULPS Z5, Z12, Z5
	VBROADCASTSS 8(SI)(DX*1), Z6
	VMULPS Z6, Z12, Z6
	VBROADCASTSS 12(SI)(DX*1), Z7
	VMULPS Z7, Z12, Z7
	FROW512(0, Z4, Z0, Y0)
	FROW512(64, Z5, Z1, Y1)
	FROW512(128, Z6, Z2, Y2)
	FROW512(192, Z7, Z3, Y3)
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS (SI)(DX*1), X1
	VFMADD231PS X1, X14, X0 // + Dh·x
	VMOVUPS X0, (DI)(DX*1)
	LEAQ 256(AX), AX
	ADDQ $16, DX
	CMPQ DX, pb+80(FP)
	JLT  zfquad

	ADDQ sx+56(FP), SI
	ADDQ sx+56(FP), DI
	ADDQ sb+64(FP), R9
	ADDQ sb+64(FP), R10
	DECQ 16(SP)
	JNZ  zfstep
	VZEROUPPER
	RET

// func scanSteps16AVX512(src, dst, x, B, dec, dts unsafe.Pointer, ds, sx, sb, n, pb, nb int)
// scanStepsAVX for N = 16: two rows per iteration.
TEXT ·scanSteps16AVX512(SB), NOSPLIT, $0-96
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ x+16(FP), R8
	MOVQ B+24(FP), R9
	MOVQ dec+32(FP), R10
	MOVQ dts+40(FP), R11
	MOVQ n+72(FP), R12

zsstep:
	MOVQ sx+56(FP), AX
	SHLQ $PFSHIFT, AX
	PREFETCHT0 (R8)(AX*1)
	MOVQ sb+64(FP), AX
	SHLQ $PFSHIFT, AX
	PREFETCHT0 (R9)(AX*1)
	VBROADCASTSS (R10), Z15 // a
	VBROADCASTSS (R11), Z14 // dt
	VMOVUPS (R9), Z10       // B
	MOVQ SI, AX
	MOVQ DI, R13
	XORQ DX, DX

zsrow:
	VBROADCASTSS (R8)(DX*1), Z12
	VMULPS Z12, Z14, Z12 // dt·x_p
	VBROADCASTSS 4(R8)(DX*1), Z13
	VMULPS Z13, Z14, Z13 // dt·x_p+1
	VMULPS      (AX), Z15, Z0
	VFMADD231PS Z10, Z12, Z0
	VMOVUPS     Z0, (R13)
	VMULPS      64(AX), Z15, Z1
	VFMADD231PS Z10, Z13, Z1
	VMOVUPS     Z1, 64(R13)
	ADDQ $128, AX
	ADDQ $128, R13
	ADDQ $8, DX
	CMPQ DX, pb+80(FP)
	JLT  zsrow

	MOVQ DI, SI
	ADDQ ds+48(FP), DI
	ADDQ sx+56(FP), R8
	ADDQ sb+64(FP), R9
	ADDQ $4, R10
	ADDQ $4, R11
	DECQ R12
	JNZ  zsstep
	VZEROUPPER
	RET

// func scanBwd16AVX512(gh, cur, x, gy, gx, B, C, gB, gC, dec, dts, out, scr unsafe.Pointer, sx, sb, n, pb, nb int, Dh float32)
// scanBwdAVX for N = 16: two rows per iteration with separate gB, gC and
// gh·h_prev accumulators; sx_p folded to 8 lanes into scr as in the AVX2
// loop, whose per-step sums follow unchanged.
TEXT ·scanBwd16AVX512(SB), NOSPLIT, $88-148
	MOVQ x+16(FP), AX
	MOVQ AX, 0(SP)
	MOVQ gx+32(FP), AX
	MOVQ AX, 8(SP)
	MOVQ B+40(FP), AX
	MOVQ AX, 16(SP)
	MOVQ C+48(FP), AX
	MOVQ AX, 24(SP)
	MOVQ gB+56(FP), AX
	MOVQ AX, 32(SP)
	MOVQ gC+64(FP), AX
	MOVQ AX, 40(SP)
	MOVQ dec+72(FP), AX
	MOVQ AX, 48(SP)
	MOVQ dts+80(FP), AX
	MOVQ AX, 56(SP)
	MOVQ out+88(FP), AX
	MOVQ AX, 64(SP)
	MOVQ n+120(FP), AX
	MOVQ AX, 72(SP)
	MOVQ pb+128(FP), AX
	IMULQ nb+136(FP), AX
	SHRQ $2, AX
	MOVQ AX, 80(SP)        // P·N·4
	MOVQ gh+0(FP), R8
	MOVQ cur+8(FP), R9
	MOVQ R9, R10
	SUBQ AX, R10           // h_prev
	MOVQ gy+24(FP), R11
	MOVQ scr+96(FP), R12   // sx partial sums: P vectors of 8
	MOVQ pb+128(FP), AX
	LEAQ (R12)(AX*8), R13  // dt·x_p: P floats

zbstep:
	MOVQ sx+104(FP), DI
	SHLQ $PFSHIFT, DI
	MOVQ 0(SP), AX
	PREFETCHT0 (AX)(DI*1)
	PREFETCHT0 (R11)(DI*1)
	MOVQ 8(SP), AX
	PREFETCHT0 (AX)(DI*1)
	MOVQ sb+112(FP), DI
	SHLQ $PFSHIFT, DI
	MOVQ 16(SP), AX
	PREFETCHT0 (AX)(DI*1)
	MOVQ 24(SP), AX
	PREFETCHT0 (AX)(DI*1)
	MOVQ 32(SP), AX
	PREFETCHT0 (AX)(DI*1)
	MOVQ 40(SP), AX
	PREFETCHT0 (AX)(DI*1)
	MOVQ 48(SP), AX
	VBROADCASTSS (AX), Z15 // decay
	SUBQ $4, AX
	MOVQ AX, 48(SP)
	MOVQ 56(SP), AX
	VBROADCASTSS (AX), Y12 // dt
	SUBQ $4, AX
	MOVQ AX, 56(SP)
	MOVQ 0(SP), SI
	XORQ DX, DX

zbprep:
	VMULPS  (SI)(DX*1), X12, X5
	VMOVUPS X5, (R13)(DX*1)
	ADDQ $16, DX
	CMPQ DX, pb+128(FP)
	JLT  zbprep

	MOVQ 16(SP), AX
	VMOVUPS (AX), Z0   // B
	MOVQ 24(SP), AX
	VMOVUPS (AX), Z2   // C
	VXORPS Y4, Y4, Y4  // gB (even, odd rows); VEX zeroes the whole zmm
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6  // gC
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8  // Σ gh·h_prev
	VXORPS Y9, Y9, Y9
	XORQ CX, CX
	XORQ DX, DX

zbrow:
	VBROADCASTSS (R11)(DX*1), Z10 // gy_p
	VBROADCASTSS (R13)(DX*1), Z11 // dt·x_p
	VMULPS      Z2, Z10, Z12
	VFMADD231PS (R8)(CX*1), Z15, Z12 // v = decay·gh + gy_p·C
	VMOVUPS     Z12, (R8)(CX*1)
	VFMADD231PS (R9)(CX*1), Z10, Z6  // gC += state·gy_p
	VFMADD231PS Z12, Z11, Z4         // gB += dt·x_p·v
	VFMADD231PS (R10)(CX*1), Z12, Z8 // += v·h_prev
	VMULPS      Z0, Z12, Z14         // sx_p = v·B, folded to 8 lanes
	VEXTRACTF64X4 $1, Z14, Y13
	VADDPS      Y13, Y14, Y14
	VMOVUPS     Y14, (R12)(DX*8)
	VBROADCASTSS 4(R11)(DX*1), Z16   // row p+1
	VBROADCASTSS 4(R13)(DX*1), Z17
	VMULPS      Z2, Z16, Z1
	VFMADD231PS 64(R8)(CX*1), Z15, Z1
	VMOVUPS     Z1, 64(R8)(CX*1)
	VFMADD231PS 64(R9)(CX*1), Z16, Z7
	VFMADD231PS Z1, Z17, Z5
	VFMADD231PS 64(R10)(CX*1), Z1, Z9
	VMULPS      Z0, Z1, Z3
	VEXTRACTF64X4 $1, Z3, Y1
	VADDPS      Y1, Y3, Y3
	VMOVUPS     Y3, 32(R12)(DX*8)
	ADDQ $128, CX
	ADDQ $8, DX
	CMPQ DX, pb+128(FP)
	JLT  zbrow

	VADDPS  Z5, Z4, Z4
	VADDPS  Z7, Z6, Z6
	VADDPS  Z9, Z8, Z8
	MOVQ 32(SP), AX
	VADDPS  (AX), Z4, Z4
	VMOVUPS Z4, (AX)
	MOVQ 40(SP), AX
	VADDPS  (AX), Z6, Z6
	VMOVUPS Z6, (AX)
	VEXTRACTF64X4 $1, Z8, Y9
	VADDPS  Y9, Y8, Y8

	// Per-step sums, as in scanBwdAVX.
	BWD_STEP_SUMS(zbquad, zbstep)
	VZEROUPPER
	RET
