//go:build amd64 && !purego

#include "textflag.h"
#include "scan_amd64.h"

// AVX2 + FMA kernels of the SSD scan over a whole (b, h) sequence per call
// (see cpu_scan_simd.go). Pointers move by byte strides per step (negative
// strides walk backwards); P is a multiple of 4 and N of 8; pb = 4·P and
// nb = 4·N are byte sizes. State rows are N floats, P rows per state.

// PFSHIFT: the inputs and outputs of the step 2^PFSHIFT steps ahead are
// prefetched (their rows are one cache line apart per step at the V3
// shapes, which the hardware prefetchers follow poorly).
#define PFSHIFT 3

// FROW updates one state row chunk in place and accumulates its product
// with C: r = a·r + dx·B; acc += r·C (Y15 = a, Y8 = B, Y9 = C, BX = the
// chunk's byte offset).
#define FROW(row, dx, acc) \
	VMULPS      (row)(BX*1), Y15, Y10; \
	VFMADD231PS Y8, dx, Y10;           \
	VMOVUPS     Y10, (row)(BX*1);      \
	VFMADD231PS Y9, Y10, acc

// FROW16 is FROW for a whole row of 16 (B in Y8, Y9, C in Y10, Y11): acc
// is set, not accumulated.
#define FROW16(row, dx, acc) \
	VMULPS      (row), Y15, Y13;   \
	VFMADD231PS Y8, dx, Y13;       \
	VMOVUPS     Y13, (row);        \
	VMULPS      Y13, Y10, acc;     \
	VMULPS      32(row), Y15, Y13; \
	VFMADD231PS Y9, dx, Y13;       \
	VMOVUPS     Y13, 32(row);      \
	VFMADD231PS Y13, Y11, acc

// func scanFwdAVX(st, x, y, B, C, dec, dts unsafe.Pointer, sx, sb, n, pb, nb int, Dh float32)
// n steps of y = (a·state + dt·x⊗B)·C + Dh·x, the state (P×N) in place.
TEXT ·scanFwdAVX(SB), NOSPLIT, $24-100
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

fstep:
	MOVQ sx+56(FP), CX // prefetch the rows PF steps ahead
	SHLQ $PFSHIFT, CX
	PREFETCHT0 (SI)(CX*1)
	PREFETCHT0 (DI)(CX*1)
	MOVQ sb+64(FP), CX
	SHLQ $PFSHIFT, CX
	PREFETCHT0 (R9)(CX*1)
	PREFETCHT0 (R10)(CX*1)
	MOVQ 0(SP), CX
	VBROADCASTSS (CX), Y15 // a
	ADDQ $4, CX
	MOVQ CX, 0(SP)
	MOVQ 8(SP), CX
	VBROADCASTSS (CX), Y12 // dt
	ADDQ $4, CX
	MOVQ CX, 8(SP)
	XORQ DX, DX            // 4·p
	MOVQ R8, AX            // row p
	CMPQ nb+88(FP), $64
	JEQ  f16

fquad:
	MOVQ nb+88(FP), CX
	LEAQ (AX)(CX*1), R11   // row p+1
	LEAQ (AX)(CX*2), R12   // row p+2
	LEAQ (R11)(CX*2), R13  // row p+3
	VBROADCASTSS (SI)(DX*1), Y4
	VMULPS Y4, Y12, Y4
	VBROADCASTSS 4(SI)(DX*1), Y5
	VMULPS Y5, Y12, Y5
	VBROADCASTSS 8(SI)(DX*1), Y6
	VMULPS Y6, Y12, Y6
	VBROADCASTSS 12(SI)(DX*1), Y7
	VMULPS Y7, Y12, Y7
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ BX, BX

fn:
	VMOVUPS (R9)(BX*1), Y8
	VMOVUPS (R10)(BX*1), Y9
	FROW(AX, Y4, Y0)
	FROW(R11, Y5, Y1)
	FROW(R12, Y6, Y2)
	FROW(R13, Y7, Y3)
	ADDQ $32, BX
	CMPQ BX, CX
	JLT  fn

	// Row sums of the four accumulators: [Σ0, Σ1, Σ2, Σ3].
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS (SI)(DX*1), X1
	VFMADD231PS X1, X14, X0 // + Dh·x
	VMOVUPS X0, (DI)(DX*1)
	LEAQ (R13)(CX*1), AX
	ADDQ $16, DX
	CMPQ DX, pb+80(FP)
	JLT  fquad

fnext:
	ADDQ sx+56(FP), SI
	ADDQ sx+56(FP), DI
	ADDQ sb+64(FP), R9
	ADDQ sb+64(FP), R10
	DECQ 16(SP)
	JNZ  fstep
	VZEROUPPER
	RET

	// N = 16 (the node stream): B and C in registers, each row in two.
f16:
	VMOVUPS (R9), Y8
	VMOVUPS 32(R9), Y9
	VMOVUPS (R10), Y10
	VMOVUPS 32(R10), Y11

f16quad:
	LEAQ 64(AX), R11
	LEAQ 128(AX), R12
	LEAQ 192(AX), R13
	VBROADCASTSS (SI)(DX*1), Y4
	VMULPS Y4, Y12, Y4
	VBROADCASTSS 4(SI)(DX*1), Y5
	VMULPS Y5, Y12, Y5
	VBROADCASTSS 8(SI)(DX*1), Y6
	VMULPS Y6, Y12, Y6
	VBROADCASTSS 12(SI)(DX*1), Y7
	VMULPS Y7, Y12, Y7
	FROW16(AX, Y4, Y0)
	FROW16(R11, Y5, Y1)
	FROW16(R12, Y6, Y2)
	FROW16(R13, Y7, Y3)
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
	JLT  f16quad
	JMP  fnext

// func scanStepsAVX(src, dst, x, B, dec, dts unsafe.Pointer, ds, sx, sb, n, pb, nb int)
// n steps of dst = a·src + dt·x⊗B; after each step src = dst and dst moves
// by ds bytes (ds = 0 with src = dst: in place).
TEXT ·scanStepsAVX(SB), NOSPLIT, $0-96
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ x+16(FP), R8
	MOVQ B+24(FP), R9
	MOVQ dec+32(FP), R10
	MOVQ dts+40(FP), R11
	MOVQ n+72(FP), R12
	MOVQ nb+88(FP), CX

sstep:
	MOVQ sx+56(FP), AX
	SHLQ $PFSHIFT, AX
	PREFETCHT0 (R8)(AX*1)
	MOVQ sb+64(FP), AX
	SHLQ $PFSHIFT, AX
	PREFETCHT0 (R9)(AX*1)
	VBROADCASTSS (R10), Y15 // a
	VBROADCASTSS (R11), Y14 // dt
	MOVQ SI, AX
	MOVQ DI, R13
	XORQ DX, DX
	CMPQ CX, $64
	JNE  srow

	// N = 16: B in registers, each row in two.
	VMOVUPS (R9), Y10
	VMOVUPS 32(R9), Y11

s16row:
	VBROADCASTSS (R8)(DX*1), Y13
	VMULPS Y13, Y14, Y13 // dt·x_p
	VMULPS      (AX), Y15, Y0
	VFMADD231PS Y10, Y13, Y0
	VMOVUPS     Y0, (R13)
	VMULPS      32(AX), Y15, Y1
	VFMADD231PS Y11, Y13, Y1
	VMOVUPS     Y1, 32(R13)
	ADDQ $64, AX
	ADDQ $64, R13
	ADDQ $4, DX
	CMPQ DX, pb+80(FP)
	JLT  s16row
	JMP  snext

srow:
	VBROADCASTSS (R8)(DX*1), Y13
	VMULPS Y13, Y14, Y13 // dt·x_p
	XORQ BX, BX

sn:
	VMULPS      (AX)(BX*1), Y15, Y0
	VFMADD231PS (R9)(BX*1), Y13, Y0
	VMOVUPS     Y0, (R13)(BX*1)
	ADDQ $32, BX
	CMPQ BX, CX
	JLT  sn
	ADDQ CX, AX
	ADDQ CX, R13
	ADDQ $4, DX
	CMPQ DX, pb+80(FP)
	JLT  srow

snext:
	MOVQ DI, SI
	ADDQ ds+48(FP), DI
	ADDQ sx+56(FP), R8
	ADDQ sb+64(FP), R9
	ADDQ $4, R10
	ADDQ $4, R11
	DECQ R12
	JNZ  sstep
	VZEROUPPER
	RET

// func scanBwdAVX(gh, cur, x, gy, gx, B, C, gB, gC, dec, dts, out, scr unsafe.Pointer, sx, sb, n, pb, nb int, Dh float32)
// n steps of the reverse loop, from the chunk's last step backwards. Per
// step: gh = decay·gh + gy⊗C (decay = *dec, the next step's a), gC += Σ_p
// state·gy_p, gB += Σ_p dt·x_p·gh, sx_p = gh_p·B, gx = dt·sx + Dh·gy,
// out[0] = Σ_p sx_p·x_p, out[1] = Σ gh·h_prev, out[2] = Σ_p gy_p·x_p. cur
// is the step's state, h_prev the P×N floats before it; dec, dts and out
// move back by 4, 4 and 16 bytes per step, cur by P·N·4. scr: 8·P + P
// floats of scratch.
TEXT ·scanBwdAVX(SB), NOSPLIT, $88-148
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
	VBROADCASTSS Dh+144(FP), Y14

bstep:
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
	VBROADCASTSS (AX), Y15 // decay
	SUBQ $4, AX
	MOVQ AX, 48(SP)
	MOVQ 56(SP), AX
	VBROADCASTSS (AX), Y12 // dt
	SUBQ $4, AX
	MOVQ AX, 56(SP)
	MOVQ 0(SP), SI
	VXORPS Y4, Y4, Y4
	XORQ DX, DX

bprep:
	VMULPS  (SI)(DX*1), X12, X5
	VMOVUPS X5, (R13)(DX*1)
	ADDQ $16, DX
	CMPQ DX, pb+128(FP)
	JLT  bprep

	CMPQ nb+136(FP), $64
	JNE  bgeneric

	// N = 16 (the node stream): the whole row in two registers, the sums
	// of B, C, gB, gC in registers, sx_p written once per row.
	MOVQ 16(SP), AX
	VMOVUPS (AX), Y0   // B
	VMOVUPS 32(AX), Y1
	MOVQ 24(SP), AX
	VMOVUPS (AX), Y2   // C
	VMOVUPS 32(AX), Y3
	VXORPS Y4, Y4, Y4  // gB
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6  // gC
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8  // Σ gh·h_prev
	VXORPS Y9, Y9, Y9
	XORQ CX, CX
	XORQ DX, DX

b16row:
	VBROADCASTSS (R11)(DX*1), Y10 // gy_p
	VBROADCASTSS (R13)(DX*1), Y11 // dt·x_p
	VMULPS      Y2, Y10, Y12
	VFMADD231PS (R8)(CX*1), Y15, Y12 // v = decay·gh + gy_p·C
	VMOVUPS     Y12, (R8)(CX*1)
	VMULPS      Y3, Y10, Y13
	VFMADD231PS 32(R8)(CX*1), Y15, Y13
	VMOVUPS     Y13, 32(R8)(CX*1)
	VFMADD231PS (R9)(CX*1), Y10, Y6   // gC += state·gy_p
	VFMADD231PS 32(R9)(CX*1), Y10, Y7
	VFMADD231PS Y12, Y11, Y4          // gB += dt·x_p·v
	VFMADD231PS Y13, Y11, Y5
	VFMADD231PS (R10)(CX*1), Y12, Y8  // += v·h_prev
	VFMADD231PS 32(R10)(CX*1), Y13, Y9
	VMULPS      Y0, Y12, Y14          // sx_p = v·B
	VFMADD231PS Y1, Y13, Y14
	VMOVUPS     Y14, (R12)(DX*8)
	ADDQ $64, CX
	ADDQ $4, DX
	CMPQ DX, pb+128(FP)
	JLT  b16row

	MOVQ 32(SP), AX
	VADDPS  (AX), Y4, Y4
	VMOVUPS Y4, (AX)
	VADDPS  32(AX), Y5, Y5
	VMOVUPS Y5, 32(AX)
	MOVQ 40(SP), AX
	VADDPS  (AX), Y6, Y6
	VMOVUPS Y6, (AX)
	VADDPS  32(AX), Y7, Y7
	VMOVUPS Y7, 32(AX)
	VADDPS  Y9, Y8, Y8
	JMP     bsums

bgeneric:
	XORQ DX, DX

bzero:
	VMOVUPS Y4, (R12)(DX*8)
	VMOVUPS Y4, 32(R12)(DX*8)
	VMOVUPS Y4, 64(R12)(DX*8)
	VMOVUPS Y4, 96(R12)(DX*8)
	ADDQ $16, DX
	CMPQ DX, pb+128(FP)
	JLT  bzero

	VXORPS Y8, Y8, Y8   // Σ gh·h_prev (even rows)
	VXORPS Y13, Y13, Y13 // (odd rows)
	XORQ BX, BX

bblock:
	MOVQ 16(SP), AX
	VMOVUPS (AX)(BX*1), Y0 // B chunk
	MOVQ 24(SP), AX
	VMOVUPS (AX)(BX*1), Y1 // C chunk
	VXORPS Y2, Y2, Y2      // gB chunk (even rows)
	VXORPS Y3, Y3, Y3      // gC chunk (even rows)
	VXORPS Y9, Y9, Y9      // gB chunk (odd rows)
	VXORPS Y11, Y11, Y11   // gC chunk (odd rows)
	MOVQ BX, CX
	XORQ DX, DX

	// Two rows per iteration (P is even), with separate accumulators.
brow:
	MOVQ CX, SI
	ADDQ nb+136(FP), SI
	VBROADCASTSS (R11)(DX*1), Y4 // gy_p
	VBROADCASTSS (R13)(DX*1), Y5 // dt·x_p
	VMULPS      Y1, Y4, Y6
	VFMADD231PS (R8)(CX*1), Y15, Y6 // v = decay·gh + gy_p·C
	VMOVUPS     Y6, (R8)(CX*1)
	VFMADD231PS (R9)(CX*1), Y4, Y3  // gC += state·gy_p
	VFMADD231PS Y6, Y5, Y2          // gB += dt·x_p·v
	VFMADD231PS (R10)(CX*1), Y6, Y8 // += v·h_prev
	VMOVUPS     (R12)(DX*8), Y7
	VFMADD231PS Y0, Y6, Y7          // sx_p += v·B
	VMOVUPS     Y7, (R12)(DX*8)
	VBROADCASTSS 4(R11)(DX*1), Y4   // row p+1
	VBROADCASTSS 4(R13)(DX*1), Y5
	VMULPS      Y1, Y4, Y10
	VFMADD231PS (R8)(SI*1), Y15, Y10
	VMOVUPS     Y10, (R8)(SI*1)
	VFMADD231PS (R9)(SI*1), Y4, Y11
	VFMADD231PS Y10, Y5, Y9
	VFMADD231PS (R10)(SI*1), Y10, Y13
	VMOVUPS     32(R12)(DX*8), Y7
	VFMADD231PS Y0, Y10, Y7
	VMOVUPS     Y7, 32(R12)(DX*8)
	MOVQ SI, CX
	ADDQ nb+136(FP), CX
	ADDQ $8, DX
	CMPQ DX, pb+128(FP)
	JLT  brow

	VADDPS Y9, Y2, Y2
	VADDPS Y11, Y3, Y3
	MOVQ 32(SP), AX
	VADDPS  (AX)(BX*1), Y2, Y2
	VMOVUPS Y2, (AX)(BX*1)
	MOVQ 40(SP), AX
	VADDPS  (AX)(BX*1), Y3, Y3
	VMOVUPS Y3, (AX)(BX*1)
	ADDQ $32, BX
	CMPQ BX, nb+136(FP)
	JLT  bblock

	VADDPS Y13, Y8, Y8

bsums:
	BWD_STEP_SUMS(bquad, bstep)
	VZEROUPPER
	RET

// Constants of expScaleAVX (Cephes' expf), each repeated 8 times.
// log2(e)
DATA expc<>+0(SB)/4, $0x3fb8aa3b
DATA expc<>+4(SB)/4, $0x3fb8aa3b
DATA expc<>+8(SB)/4, $0x3fb8aa3b
DATA expc<>+12(SB)/4, $0x3fb8aa3b
DATA expc<>+16(SB)/4, $0x3fb8aa3b
DATA expc<>+20(SB)/4, $0x3fb8aa3b
DATA expc<>+24(SB)/4, $0x3fb8aa3b
DATA expc<>+28(SB)/4, $0x3fb8aa3b
// upper clamp
DATA expc<>+32(SB)/4, $0x42b0c0a5
DATA expc<>+36(SB)/4, $0x42b0c0a5
DATA expc<>+40(SB)/4, $0x42b0c0a5
DATA expc<>+44(SB)/4, $0x42b0c0a5
DATA expc<>+48(SB)/4, $0x42b0c0a5
DATA expc<>+52(SB)/4, $0x42b0c0a5
DATA expc<>+56(SB)/4, $0x42b0c0a5
DATA expc<>+60(SB)/4, $0x42b0c0a5
// ln(FLT_MIN)
DATA expc<>+64(SB)/4, $0xc2aeac50
DATA expc<>+68(SB)/4, $0xc2aeac50
DATA expc<>+72(SB)/4, $0xc2aeac50
DATA expc<>+76(SB)/4, $0xc2aeac50
DATA expc<>+80(SB)/4, $0xc2aeac50
DATA expc<>+84(SB)/4, $0xc2aeac50
DATA expc<>+88(SB)/4, $0xc2aeac50
DATA expc<>+92(SB)/4, $0xc2aeac50
// C1
DATA expc<>+96(SB)/4, $0x3f318000
DATA expc<>+100(SB)/4, $0x3f318000
DATA expc<>+104(SB)/4, $0x3f318000
DATA expc<>+108(SB)/4, $0x3f318000
DATA expc<>+112(SB)/4, $0x3f318000
DATA expc<>+116(SB)/4, $0x3f318000
DATA expc<>+120(SB)/4, $0x3f318000
DATA expc<>+124(SB)/4, $0x3f318000
// C2
DATA expc<>+128(SB)/4, $0xb95e8083
DATA expc<>+132(SB)/4, $0xb95e8083
DATA expc<>+136(SB)/4, $0xb95e8083
DATA expc<>+140(SB)/4, $0xb95e8083
DATA expc<>+144(SB)/4, $0xb95e8083
DATA expc<>+148(SB)/4, $0xb95e8083
DATA expc<>+152(SB)/4, $0xb95e8083
DATA expc<>+156(SB)/4, $0xb95e8083
// p0
DATA expc<>+160(SB)/4, $0x39506967
DATA expc<>+164(SB)/4, $0x39506967
DATA expc<>+168(SB)/4, $0x39506967
DATA expc<>+172(SB)/4, $0x39506967
DATA expc<>+176(SB)/4, $0x39506967
DATA expc<>+180(SB)/4, $0x39506967
DATA expc<>+184(SB)/4, $0x39506967
DATA expc<>+188(SB)/4, $0x39506967
// p1
DATA expc<>+192(SB)/4, $0x3ab743ce
DATA expc<>+196(SB)/4, $0x3ab743ce
DATA expc<>+200(SB)/4, $0x3ab743ce
DATA expc<>+204(SB)/4, $0x3ab743ce
DATA expc<>+208(SB)/4, $0x3ab743ce
DATA expc<>+212(SB)/4, $0x3ab743ce
DATA expc<>+216(SB)/4, $0x3ab743ce
DATA expc<>+220(SB)/4, $0x3ab743ce
// p2
DATA expc<>+224(SB)/4, $0x3c088908
DATA expc<>+228(SB)/4, $0x3c088908
DATA expc<>+232(SB)/4, $0x3c088908
DATA expc<>+236(SB)/4, $0x3c088908
DATA expc<>+240(SB)/4, $0x3c088908
DATA expc<>+244(SB)/4, $0x3c088908
DATA expc<>+248(SB)/4, $0x3c088908
DATA expc<>+252(SB)/4, $0x3c088908
// p3
DATA expc<>+256(SB)/4, $0x3d2aa9c1
DATA expc<>+260(SB)/4, $0x3d2aa9c1
DATA expc<>+264(SB)/4, $0x3d2aa9c1
DATA expc<>+268(SB)/4, $0x3d2aa9c1
DATA expc<>+272(SB)/4, $0x3d2aa9c1
DATA expc<>+276(SB)/4, $0x3d2aa9c1
DATA expc<>+280(SB)/4, $0x3d2aa9c1
DATA expc<>+284(SB)/4, $0x3d2aa9c1
// p4
DATA expc<>+288(SB)/4, $0x3e2aaaaa
DATA expc<>+292(SB)/4, $0x3e2aaaaa
DATA expc<>+296(SB)/4, $0x3e2aaaaa
DATA expc<>+300(SB)/4, $0x3e2aaaaa
DATA expc<>+304(SB)/4, $0x3e2aaaaa
DATA expc<>+308(SB)/4, $0x3e2aaaaa
DATA expc<>+312(SB)/4, $0x3e2aaaaa
DATA expc<>+316(SB)/4, $0x3e2aaaaa
// p5
DATA expc<>+320(SB)/4, $0x3f000000
DATA expc<>+324(SB)/4, $0x3f000000
DATA expc<>+328(SB)/4, $0x3f000000
DATA expc<>+332(SB)/4, $0x3f000000
DATA expc<>+336(SB)/4, $0x3f000000
DATA expc<>+340(SB)/4, $0x3f000000
DATA expc<>+344(SB)/4, $0x3f000000
DATA expc<>+348(SB)/4, $0x3f000000
// 1
DATA expc<>+352(SB)/4, $0x3f800000
DATA expc<>+356(SB)/4, $0x3f800000
DATA expc<>+360(SB)/4, $0x3f800000
DATA expc<>+364(SB)/4, $0x3f800000
DATA expc<>+368(SB)/4, $0x3f800000
DATA expc<>+372(SB)/4, $0x3f800000
DATA expc<>+376(SB)/4, $0x3f800000
DATA expc<>+380(SB)/4, $0x3f800000
// 127 (int32)
DATA expc<>+384(SB)/4, $0x0000007f
DATA expc<>+388(SB)/4, $0x0000007f
DATA expc<>+392(SB)/4, $0x0000007f
DATA expc<>+396(SB)/4, $0x0000007f
DATA expc<>+400(SB)/4, $0x0000007f
DATA expc<>+404(SB)/4, $0x0000007f
DATA expc<>+408(SB)/4, $0x0000007f
DATA expc<>+412(SB)/4, $0x0000007f
GLOBL expc<>(SB), RODATA|NOPTR, $416

// func expScaleAVX(dst, src unsafe.Pointer, a float32, n int)
// dst[i] = exp(a·src[i]) for i < n (n a multiple of 8): Cephes' expf
// (range reduction by ln 2 in two parts, degree-5 polynomial, scaling by
// 2^k through the exponent bits), about 1 ulp; arguments below
// ln(FLT_MIN) give 0 (no denormals), above 88.376 exp(88.376).
TEXT ·expScaleAVX(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	VBROADCASTSS a+16(FP), Y15
	MOVQ n+24(FP), CX
	VMOVUPS expc<>+0(SB), Y14  // log2(e)
	VMOVUPS expc<>+32(SB), Y13 // upper clamp
	VMOVUPS expc<>+64(SB), Y12 // ln(FLT_MIN)
	VMOVUPS expc<>+96(SB), Y11 // C1
	VMOVUPS expc<>+128(SB), Y10 // C2
	VMOVUPS expc<>+352(SB), Y9 // 1
	VMOVUPS expc<>+384(SB), Y8 // 127

eloop:
	VMULPS  (SI), Y15, Y0        // x
	VCMPPS  $13, Y12, Y0, Y7     // x >= ln(FLT_MIN)
	VMINPS  Y13, Y0, Y0
	VMAXPS  Y12, Y0, Y0
	VMULPS  Y14, Y0, Y1
	VCVTPS2DQ Y1, Y2             // k = round(x·log2(e))
	VCVTDQ2PS Y2, Y1
	VFNMADD231PS Y1, Y11, Y0     // r = x − k·C1 − k·C2
	VFNMADD231PS Y1, Y10, Y0
	VMOVUPS expc<>+160(SB), Y3   // p0
	VFMADD213PS expc<>+192(SB), Y0, Y3
	VFMADD213PS expc<>+224(SB), Y0, Y3
	VFMADD213PS expc<>+256(SB), Y0, Y3
	VFMADD213PS expc<>+288(SB), Y0, Y3
	VFMADD213PS expc<>+320(SB), Y0, Y3
	VMULPS  Y0, Y0, Y4
	VFMADD213PS Y0, Y4, Y3       // p·r² + r
	VADDPS  Y9, Y3, Y3           // + 1
	VPADDD  Y8, Y2, Y2
	VPSLLD  $23, Y2, Y2          // 2^k
	VMULPS  Y2, Y3, Y3
	VANDPS  Y7, Y3, Y3
	VMOVUPS Y3, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  eloop
	VZEROUPPER
	RET
