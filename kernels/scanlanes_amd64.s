//go:build amd64 && !purego

#include "textflag.h"

// The scan in the lanes layout (AVX-512F): for one (batch, group) item and
// a block of 16 heads of headdim P = 8, a step's x row (16 heads × 8 = 128
// floats, contiguous in memory) is 8 zmm registers, and the state is kept
// n-major: st[n][j] is the zmm of state element n for lanes j·16 … j·16+15
// (lane = head·8 + p). A state element's update is then one vertical
// multiply-add over 16 (head, p) pairs with B[n] and C[n] broadcast, and
// y = C·state accumulates vertically over n: no horizontal sums in the
// forward. The backward sums gB and gC over all 128 lanes (16 vertical
// accumulators per step, reduced by one transpose tree each) and gdt over
// each head's 8 lanes (a three-level tree). Every kernel takes:
//
//   dec  pass-order decay rows, 16 floats per step: exp(dt·A) of the
//        block's heads (scanDtALanes512 + expScaleAVX), one zero row after
//        the last step
//   dt   the dt row of the first step, at the block's first head (16
//        floats read), moving by sdt bytes per step
//   x…   rows of the first step, moving by sx (x-like) or sb (B-like)
//        bytes per step (negative for the reverse direction)
//   nb   4·N (N a multiple of 16 in the backward, any N ≥ 1 elsewhere)
//
// Registers: Z0-Z7 per-lane-vector decays or gy, Z8-Z15 dt·x or sums over
// n, Z16-Z23 y or Σ gh·h_prev, Z24/Z25 B[n]/C[n] broadcast, Z26-Z31
// scratch. EVEX encoding throughout (AVX-512F only).

// lidx<>: the lane index vectors of the lanes layout (P = 8): vector j,
// lane l takes head 2j + l/8 of a 16-head row (VPERMPS).
DATA lidx<>+0(SB)/4, $0
DATA lidx<>+4(SB)/4, $0
DATA lidx<>+8(SB)/4, $0
DATA lidx<>+12(SB)/4, $0
DATA lidx<>+16(SB)/4, $0
DATA lidx<>+20(SB)/4, $0
DATA lidx<>+24(SB)/4, $0
DATA lidx<>+28(SB)/4, $0
DATA lidx<>+32(SB)/4, $1
DATA lidx<>+36(SB)/4, $1
DATA lidx<>+40(SB)/4, $1
DATA lidx<>+44(SB)/4, $1
DATA lidx<>+48(SB)/4, $1
DATA lidx<>+52(SB)/4, $1
DATA lidx<>+56(SB)/4, $1
DATA lidx<>+60(SB)/4, $1
DATA lidx<>+64(SB)/4, $2
DATA lidx<>+68(SB)/4, $2
DATA lidx<>+72(SB)/4, $2
DATA lidx<>+76(SB)/4, $2
DATA lidx<>+80(SB)/4, $2
DATA lidx<>+84(SB)/4, $2
DATA lidx<>+88(SB)/4, $2
DATA lidx<>+92(SB)/4, $2
DATA lidx<>+96(SB)/4, $3
DATA lidx<>+100(SB)/4, $3
DATA lidx<>+104(SB)/4, $3
DATA lidx<>+108(SB)/4, $3
DATA lidx<>+112(SB)/4, $3
DATA lidx<>+116(SB)/4, $3
DATA lidx<>+120(SB)/4, $3
DATA lidx<>+124(SB)/4, $3
DATA lidx<>+128(SB)/4, $4
DATA lidx<>+132(SB)/4, $4
DATA lidx<>+136(SB)/4, $4
DATA lidx<>+140(SB)/4, $4
DATA lidx<>+144(SB)/4, $4
DATA lidx<>+148(SB)/4, $4
DATA lidx<>+152(SB)/4, $4
DATA lidx<>+156(SB)/4, $4
DATA lidx<>+160(SB)/4, $5
DATA lidx<>+164(SB)/4, $5
DATA lidx<>+168(SB)/4, $5
DATA lidx<>+172(SB)/4, $5
DATA lidx<>+176(SB)/4, $5
DATA lidx<>+180(SB)/4, $5
DATA lidx<>+184(SB)/4, $5
DATA lidx<>+188(SB)/4, $5
DATA lidx<>+192(SB)/4, $6
DATA lidx<>+196(SB)/4, $6
DATA lidx<>+200(SB)/4, $6
DATA lidx<>+204(SB)/4, $6
DATA lidx<>+208(SB)/4, $6
DATA lidx<>+212(SB)/4, $6
DATA lidx<>+216(SB)/4, $6
DATA lidx<>+220(SB)/4, $6
DATA lidx<>+224(SB)/4, $7
DATA lidx<>+228(SB)/4, $7
DATA lidx<>+232(SB)/4, $7
DATA lidx<>+236(SB)/4, $7
DATA lidx<>+240(SB)/4, $7
DATA lidx<>+244(SB)/4, $7
DATA lidx<>+248(SB)/4, $7
DATA lidx<>+252(SB)/4, $7
DATA lidx<>+256(SB)/4, $8
DATA lidx<>+260(SB)/4, $8
DATA lidx<>+264(SB)/4, $8
DATA lidx<>+268(SB)/4, $8
DATA lidx<>+272(SB)/4, $8
DATA lidx<>+276(SB)/4, $8
DATA lidx<>+280(SB)/4, $8
DATA lidx<>+284(SB)/4, $8
DATA lidx<>+288(SB)/4, $9
DATA lidx<>+292(SB)/4, $9
DATA lidx<>+296(SB)/4, $9
DATA lidx<>+300(SB)/4, $9
DATA lidx<>+304(SB)/4, $9
DATA lidx<>+308(SB)/4, $9
DATA lidx<>+312(SB)/4, $9
DATA lidx<>+316(SB)/4, $9
DATA lidx<>+320(SB)/4, $10
DATA lidx<>+324(SB)/4, $10
DATA lidx<>+328(SB)/4, $10
DATA lidx<>+332(SB)/4, $10
DATA lidx<>+336(SB)/4, $10
DATA lidx<>+340(SB)/4, $10
DATA lidx<>+344(SB)/4, $10
DATA lidx<>+348(SB)/4, $10
DATA lidx<>+352(SB)/4, $11
DATA lidx<>+356(SB)/4, $11
DATA lidx<>+360(SB)/4, $11
DATA lidx<>+364(SB)/4, $11
DATA lidx<>+368(SB)/4, $11
DATA lidx<>+372(SB)/4, $11
DATA lidx<>+376(SB)/4, $11
DATA lidx<>+380(SB)/4, $11
DATA lidx<>+384(SB)/4, $12
DATA lidx<>+388(SB)/4, $12
DATA lidx<>+392(SB)/4, $12
DATA lidx<>+396(SB)/4, $12
DATA lidx<>+400(SB)/4, $12
DATA lidx<>+404(SB)/4, $12
DATA lidx<>+408(SB)/4, $12
DATA lidx<>+412(SB)/4, $12
DATA lidx<>+416(SB)/4, $13
DATA lidx<>+420(SB)/4, $13
DATA lidx<>+424(SB)/4, $13
DATA lidx<>+428(SB)/4, $13
DATA lidx<>+432(SB)/4, $13
DATA lidx<>+436(SB)/4, $13
DATA lidx<>+440(SB)/4, $13
DATA lidx<>+444(SB)/4, $13
DATA lidx<>+448(SB)/4, $14
DATA lidx<>+452(SB)/4, $14
DATA lidx<>+456(SB)/4, $14
DATA lidx<>+460(SB)/4, $14
DATA lidx<>+464(SB)/4, $14
DATA lidx<>+468(SB)/4, $14
DATA lidx<>+472(SB)/4, $14
DATA lidx<>+476(SB)/4, $14
DATA lidx<>+480(SB)/4, $15
DATA lidx<>+484(SB)/4, $15
DATA lidx<>+488(SB)/4, $15
DATA lidx<>+492(SB)/4, $15
DATA lidx<>+496(SB)/4, $15
DATA lidx<>+500(SB)/4, $15
DATA lidx<>+504(SB)/4, $15
DATA lidx<>+508(SB)/4, $15
GLOBL lidx<>(SB), RODATA|NOPTR, $512

// tidx<>: the 4 × 4 transpose that puts the reduction trees' results in
// order (lane 4k+m of a tree holds item k+4m).
DATA tidx<>+0(SB)/4, $0
DATA tidx<>+4(SB)/4, $4
DATA tidx<>+8(SB)/4, $8
DATA tidx<>+12(SB)/4, $12
DATA tidx<>+16(SB)/4, $1
DATA tidx<>+20(SB)/4, $5
DATA tidx<>+24(SB)/4, $9
DATA tidx<>+28(SB)/4, $13
DATA tidx<>+32(SB)/4, $2
DATA tidx<>+36(SB)/4, $6
DATA tidx<>+40(SB)/4, $10
DATA tidx<>+44(SB)/4, $14
DATA tidx<>+48(SB)/4, $3
DATA tidx<>+52(SB)/4, $7
DATA tidx<>+56(SB)/4, $11
DATA tidx<>+60(SB)/4, $15
GLOBL tidx<>(SB), RODATA|NOPTR, $64

// l4idx<>: the lane index vectors of the edge geometry (P = 4): vector j,
// lane l takes head 4j + l/4 of an 8-head row (VPERMPS).
DATA l4idx<>+0(SB)/4, $0
DATA l4idx<>+4(SB)/4, $0
DATA l4idx<>+8(SB)/4, $0
DATA l4idx<>+12(SB)/4, $0
DATA l4idx<>+16(SB)/4, $1
DATA l4idx<>+20(SB)/4, $1
DATA l4idx<>+24(SB)/4, $1
DATA l4idx<>+28(SB)/4, $1
DATA l4idx<>+32(SB)/4, $2
DATA l4idx<>+36(SB)/4, $2
DATA l4idx<>+40(SB)/4, $2
DATA l4idx<>+44(SB)/4, $2
DATA l4idx<>+48(SB)/4, $3
DATA l4idx<>+52(SB)/4, $3
DATA l4idx<>+56(SB)/4, $3
DATA l4idx<>+60(SB)/4, $3
DATA l4idx<>+64(SB)/4, $4
DATA l4idx<>+68(SB)/4, $4
DATA l4idx<>+72(SB)/4, $4
DATA l4idx<>+76(SB)/4, $4
DATA l4idx<>+80(SB)/4, $5
DATA l4idx<>+84(SB)/4, $5
DATA l4idx<>+88(SB)/4, $5
DATA l4idx<>+92(SB)/4, $5
DATA l4idx<>+96(SB)/4, $6
DATA l4idx<>+100(SB)/4, $6
DATA l4idx<>+104(SB)/4, $6
DATA l4idx<>+108(SB)/4, $6
DATA l4idx<>+112(SB)/4, $7
DATA l4idx<>+116(SB)/4, $7
DATA l4idx<>+120(SB)/4, $7
DATA l4idx<>+124(SB)/4, $7
GLOBL l4idx<>(SB), RODATA|NOPTR, $128

// FLANE advances lane vector j of state element n (AX) in the forward and
// accumulates C[n]·state into y.
#define FLANE(off, Dj, Xj, Yj) \
	VMULPS      off(AX), Dj, Z26; \
	VFMADD231PS Z24, Xj, Z26;     \
	VMOVUPS     Z26, off(AX);     \
	VFMADD231PS Z25, Z26, Yj

// SLANE advances lane vector j of state element n from AX into R10.
#define SLANE(off, Dj, Xj) \
	VMULPS      off(AX), Dj, Z26; \
	VFMADD231PS Z24, Xj, Z26;     \
	VMOVUPS     Z26, off(R10)


// BLOCALS and BADVANCE are shared by the two reverse loops (same
// arguments up to n at 144(FP); locals: x, gy, gx, gB, gC, dec, dt, gdt
// row pointers at 0…56(SP), steps left at 64(SP)): BLOCALS copies the
// pointers to the locals, BADVANCE moves them (and B at SI, C at DI) to
// the previous step.
#define BLOCALS \
	MOVQ x+16(FP), AX;   \
	MOVQ AX, 0(SP);      \
	MOVQ gy+24(FP), AX;  \
	MOVQ AX, 8(SP);      \
	MOVQ gx+32(FP), AX;  \
	MOVQ AX, 16(SP);     \
	MOVQ gB+56(FP), AX;  \
	MOVQ AX, 24(SP);     \
	MOVQ gC+64(FP), AX;  \
	MOVQ AX, 32(SP);     \
	MOVQ dec+72(FP), AX; \
	MOVQ AX, 40(SP);     \
	MOVQ dt+80(FP), AX;  \
	MOVQ AX, 48(SP);     \
	MOVQ gdt+88(FP), AX; \
	MOVQ AX, 56(SP);     \
	MOVQ n+144(FP), AX;  \
	MOVQ AX, 64(SP)

#define BADVANCE \
	MOVQ sx+120(FP), AX;  \
	ADDQ AX, 0(SP);       \
	ADDQ AX, 8(SP);       \
	ADDQ AX, 16(SP);      \
	MOVQ sb+128(FP), AX;  \
	ADDQ AX, SI;          \
	ADDQ AX, DI;          \
	ADDQ AX, 24(SP);      \
	ADDQ AX, 32(SP);      \
	MOVQ sdt+136(FP), AX; \
	ADDQ AX, 48(SP);      \
	ADDQ AX, 56(SP);      \
	SUBQ $64, 40(SP)

// func scanDtALanes512(dst, dt, A unsafe.Pointer, sdt, n, m int)
// dst[16i+l] = dt[i·sdt/4 + l]·A[l] for i < n and l < m (m = 16 or 8
// heads; lanes from m on are 0 and nothing past m floats is read): the
// exponents of the block's decays, gathered into contiguous rows
// (expScaleAVX with a = 1 then takes the exp in place).
TEXT ·scanDtALanes512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ dt+8(FP), SI
	MOVQ A+16(FP), AX
	MOVQ sdt+24(FP), DX
	MOVQ m+40(FP), CX
	MOVQ $1, R8
	SHLQ CX, R8
	DECQ R8
	KMOVW R8, K1
	MOVQ n+32(FP), CX
	VMOVUPS.Z (AX), K1, Z0

dtaloop:
	VMOVUPS.Z (SI), K1, Z1
	VMULPS  Z1, Z0, Z1
	VMOVUPS Z1, (DI)
	ADDQ DX, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  dtaloop
	VZEROUPPER
	RET

// LPREP loads lane vector j's decay (Dj) and dt·x (Xj) for this step
// (R9: decay row, R8: dt row, BX: x row).
#define LPREP(off, Dj, Xj) \
	VMOVUPS lidx<>+off(SB), Z27; \
	VPERMPS (R9), Z27, Dj;       \
	VPERMPS (R8), Z27, Z28;      \
	VMULPS  off(BX), Z28, Xj

// LPREP8 is LPREP for the 8 lane vectors: decays in Z0-Z7, dt·x in
// Z8-Z15.
#define LPREP8 \
	LPREP(0, Z0, Z8);    \
	LPREP(64, Z1, Z9);   \
	LPREP(128, Z2, Z10); \
	LPREP(192, Z3, Z11); \
	LPREP(256, Z4, Z12); \
	LPREP(320, Z5, Z13); \
	LPREP(384, Z6, Z14); \
	LPREP(448, Z7, Z15)

// func scanFwdLanes512(st, x, y, B, C, dec, dt, De unsafe.Pointer, sx, sb, sdt, n, nb int)
// The forward over n steps: st = dec·st + (dt·x)·B, y = C·st + D·x, with
// De the block's D broadcast per lane (8 zmm).
TEXT ·scanFwdLanes512(SB), NOSPLIT, $0-104
	MOVQ st+0(FP), R11
	MOVQ x+8(FP), BX
	MOVQ y+16(FP), DX
	MOVQ B+24(FP), SI
	MOVQ C+32(FP), DI
	MOVQ dec+40(FP), R9
	MOVQ dt+48(FP), R8
	MOVQ De+56(FP), R10
	MOVQ n+88(FP), R12
	MOVQ nb+96(FP), R13

lfstep:
	LPREP8
	VMOVUPS 0(BX), Z28
	VMULPS  0(R10), Z28, Z16
	VMOVUPS 64(BX), Z28
	VMULPS  64(R10), Z28, Z17
	VMOVUPS 128(BX), Z28
	VMULPS  128(R10), Z28, Z18
	VMOVUPS 192(BX), Z28
	VMULPS  192(R10), Z28, Z19
	VMOVUPS 256(BX), Z28
	VMULPS  256(R10), Z28, Z20
	VMOVUPS 320(BX), Z28
	VMULPS  320(R10), Z28, Z21
	VMOVUPS 384(BX), Z28
	VMULPS  384(R10), Z28, Z22
	VMOVUPS 448(BX), Z28
	VMULPS  448(R10), Z28, Z23
	MOVQ R11, AX
	XORQ CX, CX

lfn:
	VBROADCASTSS (SI)(CX*1), Z24
	VBROADCASTSS (DI)(CX*1), Z25
	FLANE(0, Z0, Z8, Z16)
	FLANE(64, Z1, Z9, Z17)
	FLANE(128, Z2, Z10, Z18)
	FLANE(192, Z3, Z11, Z19)
	FLANE(256, Z4, Z12, Z20)
	FLANE(320, Z5, Z13, Z21)
	FLANE(384, Z6, Z14, Z22)
	FLANE(448, Z7, Z15, Z23)
	ADDQ $512, AX
	ADDQ $4, CX
	CMPQ CX, R13
	JLT  lfn

	VMOVUPS Z16, 0(DX)
	VMOVUPS Z17, 64(DX)
	VMOVUPS Z18, 128(DX)
	VMOVUPS Z19, 192(DX)
	VMOVUPS Z20, 256(DX)
	VMOVUPS Z21, 320(DX)
	VMOVUPS Z22, 384(DX)
	VMOVUPS Z23, 448(DX)
	ADDQ sx+64(FP), BX
	ADDQ sx+64(FP), DX
	ADDQ sb+72(FP), SI
	ADDQ sb+72(FP), DI
	ADDQ sdt+80(FP), R8
	ADDQ $64, R9
	DECQ R12
	JNZ  lfstep
	VZEROUPPER
	RET

// PF8 prefetches the 8 cache lines of a 512-byte row at reg.
#define PF8(reg) \
	PREFETCHT0 0(reg);   \
	PREFETCHT0 64(reg);  \
	PREFETCHT0 128(reg); \
	PREFETCHT0 192(reg); \
	PREFETCHT0 256(reg); \
	PREFETCHT0 320(reg); \
	PREFETCHT0 384(reg); \
	PREFETCHT0 448(reg)

// func scanStepsLanes512(src, dst, x, B, dec, dt unsafe.Pointer, ds, sx, sb, sdt, n, nb int)
// n steps of the state without outputs: dst = dec·src + (dt·x)·B, then
// src = dst and dst moves by ds bytes (0: in place; N·512: keep every
// state).
TEXT ·scanStepsLanes512(SB), NOSPLIT, $0-96
	MOVQ src+0(FP), SI
	MOVQ dst+8(FP), DI
	MOVQ x+16(FP), BX
	MOVQ B+24(FP), DX
	MOVQ dec+32(FP), R9
	MOVQ dt+40(FP), R8
	MOVQ n+80(FP), R12
	MOVQ nb+88(FP), R13

lsstep:
	MOVQ sx+56(FP), AX
	SHLQ $2, AX
	ADDQ BX, AX
	PF8(AX)
	LPREP8
	MOVQ SI, AX
	MOVQ DI, R10
	XORQ CX, CX

lsn:
	VBROADCASTSS (DX)(CX*1), Z24
	SLANE(0, Z0, Z8)
	SLANE(64, Z1, Z9)
	SLANE(128, Z2, Z10)
	SLANE(192, Z3, Z11)
	SLANE(256, Z4, Z12)
	SLANE(320, Z5, Z13)
	SLANE(384, Z6, Z14)
	SLANE(448, Z7, Z15)
	ADDQ $512, AX
	ADDQ $512, R10
	ADDQ $4, CX
	CMPQ CX, R13
	JLT  lsn

	MOVQ DI, SI
	ADDQ ds+48(FP), DI
	ADDQ sx+56(FP), BX
	ADDQ sb+64(FP), DX
	ADDQ sdt+72(FP), R8
	ADDQ $64, R9
	DECQ R12
	JNZ  lsstep
	VZEROUPPER
	RET

// LOADZ16 and STOREZ16 move the 16 vectors at reg to and from Z0…Z15
// (the reductions' accumulators, the edge geometry's state).
#define LOADZ16(reg) \
	VMOVUPS 0(reg), Z0;    \
	VMOVUPS 64(reg), Z1;   \
	VMOVUPS 128(reg), Z2;  \
	VMOVUPS 192(reg), Z3;  \
	VMOVUPS 256(reg), Z4;  \
	VMOVUPS 320(reg), Z5;  \
	VMOVUPS 384(reg), Z6;  \
	VMOVUPS 448(reg), Z7;  \
	VMOVUPS 512(reg), Z8;  \
	VMOVUPS 576(reg), Z9;  \
	VMOVUPS 640(reg), Z10; \
	VMOVUPS 704(reg), Z11; \
	VMOVUPS 768(reg), Z12; \
	VMOVUPS 832(reg), Z13; \
	VMOVUPS 896(reg), Z14; \
	VMOVUPS 960(reg), Z15

#define STOREZ16(reg) \
	VMOVUPS Z0, 0(reg);    \
	VMOVUPS Z1, 64(reg);   \
	VMOVUPS Z2, 128(reg);  \
	VMOVUPS Z3, 192(reg);  \
	VMOVUPS Z4, 256(reg);  \
	VMOVUPS Z5, 320(reg);  \
	VMOVUPS Z6, 384(reg);  \
	VMOVUPS Z7, 448(reg);  \
	VMOVUPS Z8, 512(reg);  \
	VMOVUPS Z9, 576(reg);  \
	VMOVUPS Z10, 640(reg); \
	VMOVUPS Z11, 704(reg); \
	VMOVUPS Z12, 768(reg); \
	VMOVUPS Z13, 832(reg); \
	VMOVUPS Z14, 896(reg); \
	VMOVUPS Z15, 960(reg)

// PAIRF folds two vectors into a: 128-bit quarters 0 and 2 of a and b
// plus quarters 1 and 3 (a's in the low half, b's in the high half).
#define PAIRF(a, b, t0, t1) \
	VSHUFF32X4 $0x88, b, a, t0; \
	VSHUFF32X4 $0xDD, b, a, t1; \
	VADDPS     t1, t0, a

// PAIRS folds two vectors into a within each 128-bit quarter: elements 0
// and 2 of a and b plus elements 1 and 3.
#define PAIRS(a, b, t0, t1) \
	VSHUFPS $0x88, b, a, t0; \
	VSHUFPS $0xDD, b, a, t1; \
	VADDPS  t1, t0, a

// TREE8 sums each head's 8 lanes of a0…a7 (a_j: heads 2j and 2j+1) into
// out, lane h = head h; a0…a7, t0 and t1 are clobbered. After the PAIRF
// level quarter k of a0 holds head k (a2, a4, a6: heads 4…15); after the
// PAIRS levels lane 4k+m holds head k+4m, put in order by tidx.
#define TREE8(a0, a1, a2, a3, a4, a5, a6, a7, t0, t1, out) \
	PAIRF(a0, a1, t0, t1); \
	PAIRF(a2, a3, t0, t1); \
	PAIRF(a4, a5, t0, t1); \
	PAIRF(a6, a7, t0, t1); \
	PAIRS(a0, a2, t0, t1); \
	PAIRS(a4, a6, t0, t1); \
	PAIRS(a0, a4, t0, t1); \
	VMOVUPS tidx<>(SB), t0; \
	VPERMPS a0, t0, out

// TREE16 sums the 16 lanes of each of Z0…Z15 into Z18, lane n = Σ Z_n
// (Z0…Z15, Z16, Z17 clobbered): two PAIRF levels leave quarter k of Z0
// (Z4, Z8, Z12) holding vector k (4…15), two PAIRS levels lane 4k+m
// holding vector k+4m.
#define TREE16 \
	PAIRF(Z0, Z1, Z16, Z17);   \
	PAIRF(Z2, Z3, Z16, Z17);   \
	PAIRF(Z4, Z5, Z16, Z17);   \
	PAIRF(Z6, Z7, Z16, Z17);   \
	PAIRF(Z8, Z9, Z16, Z17);   \
	PAIRF(Z10, Z11, Z16, Z17); \
	PAIRF(Z12, Z13, Z16, Z17); \
	PAIRF(Z14, Z15, Z16, Z17); \
	PAIRF(Z0, Z2, Z16, Z17);   \
	PAIRF(Z4, Z6, Z16, Z17);   \
	PAIRF(Z8, Z10, Z16, Z17);  \
	PAIRF(Z12, Z14, Z16, Z17); \
	PAIRS(Z0, Z4, Z16, Z17);   \
	PAIRS(Z8, Z12, Z16, Z17);  \
	PAIRS(Z0, Z8, Z16, Z17);   \
	VMOVUPS tidx<>(SB), Z16;   \
	VPERMPS Z0, Z16, Z18

// BPREP sets up lane vector j for a step of the reverse loop: the next
// step's decay (scr+512) and dt·x (scr+1024) into scratch, gy into GYj,
// the sums over n zeroed (AX: decay row, BX: dt row, R13: x, DX: gy).
#define BPREP(off, offD, offX, GYj, SXj, SAj) \
	VMOVUPS lidx<>+off(SB), Z27; \
	VPERMPS 64(AX), Z27, Z28;    \
	VMOVUPS Z28, offD(R11);      \
	VPERMPS (BX), Z27, Z28;      \
	VMULPS  off(R13), Z28, Z28;  \
	VMOVUPS Z28, offX(R11);      \
	VMOVUPS off(DX), GYj;        \
	VPXORD  SXj, SXj, SXj;       \
	VPXORD  SAj, SAj, SAj

// BLANE is lane vector j of state element n in the reverse loop (gh at
// R8, the state after the step at R9, before it at R10; no index
// registers, so that the memory operands stay micro-fused):
// gh = decay·gh + gy·C[n], then gC[n] += state·gy, gB[n] += dt·x·gh (the
// accumulators aC, aB), Σn B[n]·gh and Σn gh·h_prev.
#define BLANE(off, offD, offX, GYj, SXj, SAj, aB, aC) \
	VMOVUPS     off(R8), Z26;         \
	VMULPS      offD(R11), Z26, Z26;  \
	VFMADD231PS Z25, GYj, Z26;        \
	VMOVUPS     Z26, off(R8);         \
	VFMADD231PS off(R9), GYj, aC;     \
	VFMADD231PS offX(R11), Z26, aB;   \
	VFMADD231PS Z24, Z26, SXj;        \
	VFMADD231PS off(R10), Z26, SAj

// BGX ends lane vector j of a step: gx = dt·Σn B·gh + D·gy, the gD lane
// sums (R13) += gy·x, and SXj = x·Σn B·gh for the gdt tree (BX: dt row,
// AX: x, DX: gx).
#define BGX(off, GYj, SXj) \
	VMOVUPS     lidx<>+off(SB), Z27; \
	VPERMPS     (BX), Z27, Z28;      \
	VMULPS      SXj, Z28, Z28;       \
	VFMADD231PS off(R11), GYj, Z28;  \
	VMOVUPS     Z28, off(DX);        \
	VMOVUPS     off(AX), Z29;        \
	VMOVUPS     off(R13), Z30;       \
	VFMADD231PS Z29, GYj, Z30;       \
	VMOVUPS     Z30, off(R13);       \
	VMULPS      Z29, SXj, SXj

// func scanBwdLanes512(gh, cur, x, gy, gx, B, C, gB, gC, dec, dt, gdt, A, scr, acc unsafe.Pointer, sx, sb, sdt, n, nb int)
// The reverse loop over n steps, latest first: cur is the state after the
// latest step (the states before it at −N·512 bytes each), the row
// pointers and dec are at the latest step and move by the given (negated)
// strides; dec's next row (+64 bytes) is the following step's decay.
// Writes gx and gdt, adds into gB and gC, and accumulates into acc the
// per-lane Σ gy·x (128 floats) and per-head Σ dt·a·gh·h_prev (16 floats).
// scr: D per lane (8 zmm, set by the caller), then per-step scratch and
// the 2·N gB/gC accumulators. N a multiple of 16.
TEXT ·scanBwdLanes512(SB), NOSPLIT, $80-160
	BLOCALS
	MOVQ nb+152(FP), AX
	SHLQ $7, AX
	MOVQ AX, 72(SP)        // N·512: one state
	MOVQ gh+0(FP), R8
	MOVQ cur+8(FP), R9
	MOVQ R9, R10
	SUBQ AX, R10           // h_prev
	MOVQ B+40(FP), SI
	MOVQ C+48(FP), DI
	MOVQ scr+104(FP), R11

lbstep:
	MOVQ sx+120(FP), CX
	SHLQ $2, CX
	MOVQ 0(SP), AX
	ADDQ CX, AX
	PF8(AX)
	MOVQ 8(SP), AX
	ADDQ CX, AX
	PF8(AX)
	MOVQ 16(SP), AX
	ADDQ CX, AX
	PF8(AX)
	MOVQ 40(SP), AX
	MOVQ 48(SP), BX
	MOVQ 0(SP), R13
	MOVQ 8(SP), DX
	BPREP(0, 512, 1024, Z0, Z8, Z16)
	BPREP(64, 576, 1088, Z1, Z9, Z17)
	BPREP(128, 640, 1152, Z2, Z10, Z18)
	BPREP(192, 704, 1216, Z3, Z11, Z19)
	BPREP(256, 768, 1280, Z4, Z12, Z20)
	BPREP(320, 832, 1344, Z5, Z13, Z21)
	BPREP(384, 896, 1408, Z6, Z14, Z22)
	BPREP(448, 960, 1472, Z7, Z15, Z23)
	XORQ DX, DX
	LEAQ 1536(R11), R12
	MOVQ nb+152(FP), R13
	SHLQ $4, R13           // N·64: from gB's accumulators to gC's

lbn:
	VBROADCASTSS (SI)(DX*1), Z24
	VBROADCASTSS (DI)(DX*1), Z25
	VPXORD Z27, Z27, Z27
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	BLANE(0, 512, 1024, Z0, Z8, Z16, Z27, Z28)
	BLANE(64, 576, 1088, Z1, Z9, Z17, Z29, Z30)
	BLANE(128, 640, 1152, Z2, Z10, Z18, Z27, Z28)
	BLANE(192, 704, 1216, Z3, Z11, Z19, Z29, Z30)
	BLANE(256, 768, 1280, Z4, Z12, Z20, Z27, Z28)
	BLANE(320, 832, 1344, Z5, Z13, Z21, Z29, Z30)
	BLANE(384, 896, 1408, Z6, Z14, Z22, Z27, Z28)
	BLANE(448, 960, 1472, Z7, Z15, Z23, Z29, Z30)
	VADDPS  Z29, Z27, Z27
	VADDPS  Z30, Z28, Z28
	VMOVUPS Z27, (R12)
	VMOVUPS Z28, (R12)(R13*1)
	ADDQ $64, R12
	ADDQ $512, R8
	ADDQ $512, R9
	ADDQ $512, R10
	ADDQ $4, DX
	CMPQ DX, nb+152(FP)
	JLT  lbn
	MOVQ 72(SP), AX
	SUBQ AX, R8            // back to the first state element
	SUBQ AX, R9
	SUBQ AX, R10

	MOVQ 48(SP), BX
	MOVQ 0(SP), AX
	MOVQ 16(SP), DX
	MOVQ acc+112(FP), R13
	BGX(0, Z0, Z8)
	BGX(64, Z1, Z9)
	BGX(128, Z2, Z10)
	BGX(192, Z3, Z11)
	BGX(256, Z4, Z12)
	BGX(320, Z5, Z13)
	BGX(384, Z6, Z14)
	BGX(448, Z7, Z15)
	TREE8(Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z26, Z27, Z24)
	TREE8(Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z26, Z27, Z25)
	MOVQ 40(SP), AX
	VMULPS (AX), Z25, Z25        // a·Σ gh·h_prev
	MOVQ A+96(FP), CX
	VFMADD231PS (CX), Z25, Z24   // gdt = Σ x·(B·gh) + A·a·Σ gh·h_prev
	MOVQ 56(SP), CX
	VMOVUPS Z24, (CX)
	VMOVUPS 512(R13), Z26
	VFMADD231PS (BX), Z25, Z26   // gA += dt·a·Σ gh·h_prev
	VMOVUPS Z26, 512(R13)

	// gB and gC: each accumulator summed over its 128 lanes, 16 n at a time.
	LEAQ 1536(R11), R12
	MOVQ 24(SP), AX
	MOVQ 32(SP), BX
	MOVQ nb+152(FP), R13
	SHLQ $4, R13
	XORQ CX, CX

lbred:
	LOADZ16(R12)
	TREE16
	VADDPS  (AX), Z18, Z18
	VMOVUPS Z18, (AX)
	ADDQ R13, R12
	LOADZ16(R12)
	TREE16
	VADDPS  (BX), Z18, Z18
	VMOVUPS Z18, (BX)
	SUBQ R13, R12
	ADDQ $1024, R12
	ADDQ $64, AX
	ADDQ $64, BX
	ADDQ $64, CX
	CMPQ CX, nb+152(FP)
	JLT  lbred

	BADVANCE
	MOVQ 72(SP), AX
	SUBQ AX, R9
	SUBQ AX, R10
	DECQ 64(SP)
	JNZ  lbstep
	VZEROUPPER
	RET

// The edge stream's geometry (P = 4, N = 8, 8 heads per block): a step's
// x row of the block is 2 zmm (32 lanes, each 128-bit quarter one head),
// and the whole state (8 × 2 zmm) or gradient state stays in Z0-Z15
// across the steps of a call. l4idx spreads 8 per-head values over the
// lanes; head sums are within-quarter adds (PAIRS) and the tidx
// transpose. Rows of 8 heads (dt, A, gdt) are read and written through
// the mask K1 = 0xFF.

// E4PREP sets Z16, Z17 to lane vectors 0 and 1 of the decay row at dec
// and Z18, Z19 to dt·x (dt row at R8 through K1, x at BX); Z26, Z27 are
// clobbered.
#define E4PREP(dec) \
	VMOVUPS   l4idx<>+0(SB), Z26;  \
	VPERMPS   dec, Z26, Z16;       \
	VMOVUPS.Z (R8), K1, Z27;       \
	VPERMPS   Z27, Z26, Z26;       \
	VMULPS    0(BX), Z26, Z18;     \
	VMOVUPS   l4idx<>+64(SB), Z26; \
	VPERMPS   dec, Z26, Z17;       \
	VPERMPS   Z27, Z26, Z26;       \
	VMULPS    64(BX), Z26, Z19

// E4STEP advances state element n (off = 4n into B at SI):
// S = D·S + dt·x·B[n] for both lane vectors.
#define E4STEP(off, S0, S1) \
	VMULPS.BCST off(SI), Z18, Z30; \
	VFMADD213PS Z30, Z16, S0;      \
	VMULPS.BCST off(SI), Z19, Z31; \
	VFMADD213PS Z31, Z17, S1

// E4Y accumulates C[n]·S into y (off = 4n into C at DI).
#define E4Y(off, S0, S1, Ya, Yb) \
	VFMADD231PS.BCST off(DI), S0, Ya; \
	VFMADD231PS.BCST off(DI), S1, Yb

// E4STEPS advances all 8 state elements.
#define E4STEPS \
	E4STEP(0, Z0, Z1);   \
	E4STEP(4, Z2, Z3);   \
	E4STEP(8, Z4, Z5);   \
	E4STEP(12, Z6, Z7);  \
	E4STEP(16, Z8, Z9);  \
	E4STEP(20, Z10, Z11); \
	E4STEP(24, Z12, Z13); \
	E4STEP(28, Z14, Z15)

// MASK8 sets K1 to the low 8 lanes.
#define MASK8 \
	MOVQ  $0xFF, AX; \
	KMOVW AX, K1

// func scanFwdLanes4x512(st, x, y, B, C, dec, dt, De unsafe.Pointer, sx, sb, sdt, n int)
// scanFwdLanes512 for the edge geometry: the state at st (16 zmm, n-major)
// is loaded, advanced over n steps in registers and stored back.
TEXT ·scanFwdLanes4x512(SB), NOSPLIT, $0-96
	MOVQ st+0(FP), R11
	MOVQ x+8(FP), BX
	MOVQ y+16(FP), DX
	MOVQ B+24(FP), SI
	MOVQ C+32(FP), DI
	MOVQ dec+40(FP), R9
	MOVQ dt+48(FP), R8
	MOVQ De+56(FP), R10
	MOVQ n+88(FP), R12
	MASK8
	LOADZ16(R11)

l4fstep:
	E4PREP((R9))
	VMOVUPS 0(BX), Z26
	VMULPS  0(R10), Z26, Z20 // D·x
	VMOVUPS 64(BX), Z26
	VMULPS  64(R10), Z26, Z21
	VPXORD  Z22, Z22, Z22
	VPXORD  Z23, Z23, Z23
	E4STEPS
	E4Y(0, Z0, Z1, Z20, Z21)
	E4Y(4, Z2, Z3, Z22, Z23)
	E4Y(8, Z4, Z5, Z20, Z21)
	E4Y(12, Z6, Z7, Z22, Z23)
	E4Y(16, Z8, Z9, Z20, Z21)
	E4Y(20, Z10, Z11, Z22, Z23)
	E4Y(24, Z12, Z13, Z20, Z21)
	E4Y(28, Z14, Z15, Z22, Z23)
	VADDPS  Z22, Z20, Z20
	VADDPS  Z23, Z21, Z21
	VMOVUPS Z20, 0(DX)
	VMOVUPS Z21, 64(DX)
	ADDQ sx+64(FP), BX
	ADDQ sx+64(FP), DX
	ADDQ sb+72(FP), SI
	ADDQ sb+72(FP), DI
	ADDQ sdt+80(FP), R8
	ADDQ $64, R9
	DECQ R12
	JNZ  l4fstep
	STOREZ16(R11)
	VZEROUPPER
	RET

// func scanStepsLanes4x512(src, dst, x, B, dec, dt unsafe.Pointer, ds, sx, sb, sdt, n int)
// scanStepsLanes512 for the edge geometry: the state from src advanced
// over n steps in registers, stored after every step at dst, dst+ds, …
// (ds ≠ 0) or once at the end at dst (ds = 0).
TEXT ·scanStepsLanes4x512(SB), NOSPLIT, $0-88
	MOVQ src+0(FP), AX
	LOADZ16(AX)
	MOVQ dst+8(FP), DI
	MOVQ x+16(FP), BX
	MOVQ B+24(FP), SI
	MOVQ dec+32(FP), R9
	MOVQ dt+40(FP), R8
	MOVQ ds+48(FP), DX
	MOVQ n+80(FP), R12
	MASK8

l4sstep:
	E4PREP((R9))
	E4STEPS
	TESTQ DX, DX
	JZ    l4snext
	STOREZ16(DI)
	ADDQ  DX, DI

l4snext:
	ADDQ sx+56(FP), BX
	ADDQ sb+64(FP), SI
	ADDQ sdt+72(FP), R8
	ADDQ $64, R9
	DECQ R12
	JNZ  l4sstep
	TESTQ DX, DX
	JNZ   l4sdone
	STOREZ16(DI)

l4sdone:
	VZEROUPPER
	RET

// E4BACK is state element n of the edge reverse loop (off = 128n into
// the states at R9 and R10, offB = 4n into B at SI and C at DI, offA =
// 64n into the accumulators at R11): gh = decay·gh + gy·C[n] in
// registers, gC[n] and gB[n] accumulators stored, Σn B[n]·gh (Z22, Z23)
// and Σn gh·h_prev (Z28, Z29) accumulated.
#define E4BACK(off, off64, offB, offA, G0, G1) \
	VMULPS      Z16, G0, G0;               \
	VFMADD231PS.BCST offB(DI), Z20, G0;    \
	VMULPS      Z17, G1, G1;               \
	VFMADD231PS.BCST offB(DI), Z21, G1;    \
	VMULPS      off(R9), Z20, Z24;         \
	VFMADD231PS off64(R9), Z21, Z24;       \
	VMOVUPS     Z24, 640+offA(R11);        \
	VMULPS      G0, Z18, Z25;              \
	VFMADD231PS G1, Z19, Z25;              \
	VMOVUPS     Z25, 128+offA(R11);        \
	VFMADD231PS.BCST offB(SI), G0, Z22;    \
	VFMADD231PS.BCST offB(SI), G1, Z23;    \
	VFMADD231PS off(R10), G0, Z28;         \
	VFMADD231PS off64(R10), G1, Z29

// TREE8N sums each of Z16…Z23 (16 lanes each) into lane n of Z26 (n <
// 8; Z16…Z25 clobbered): two PAIRF levels leave quarter k of Z16 (Z20)
// holding vector k (4+k), two PAIRS levels lane 4k holding vector k and
// lane 4k+1 vector 4+k, put in order by tidx.
#define TREE8N \
	PAIRF(Z16, Z17, Z24, Z25); \
	PAIRF(Z18, Z19, Z24, Z25); \
	PAIRF(Z20, Z21, Z24, Z25); \
	PAIRF(Z22, Z23, Z24, Z25); \
	PAIRF(Z16, Z18, Z24, Z25); \
	PAIRF(Z20, Z22, Z24, Z25); \
	PAIRS(Z16, Z20, Z24, Z25); \
	PAIRS(Z16, Z16, Z24, Z25); \
	VMOVUPS tidx<>(SB), Z24;   \
	VPERMPS Z16, Z24, Z26

// LOAD8 loads the 8 vectors at reg into Z16…Z23.
#define LOAD8(reg) \
	VMOVUPS 0(reg), Z16;   \
	VMOVUPS 64(reg), Z17;  \
	VMOVUPS 128(reg), Z18; \
	VMOVUPS 192(reg), Z19; \
	VMOVUPS 256(reg), Z20; \
	VMOVUPS 320(reg), Z21; \
	VMOVUPS 384(reg), Z22; \
	VMOVUPS 448(reg), Z23

// func scanBwdLanes4x512(gh, cur, x, gy, gx, B, C, gB, gC, dec, dt, gdt, A, scr, acc unsafe.Pointer, sx, sb, sdt, n int)
// scanBwdLanes512 for the edge geometry: the gradient state at gh (16
// zmm) is loaded, carried in Z0-Z15 over the n steps and stored back;
// cur moves back 1 KiB (one state) per step. scr: D per lane (2 zmm), then
// the 8 gB and 8 gC accumulators; acc: Σ gy·x per lane (32 floats), then
// Σ dt·a·gh·h_prev per head (8 floats, in a 16-float row).
TEXT ·scanBwdLanes4x512(SB), NOSPLIT, $72-152
	BLOCALS
	MOVQ gh+0(FP), AX
	LOADZ16(AX)
	MOVQ cur+8(FP), R9
	LEAQ -1024(R9), R10     // h_prev
	MOVQ B+40(FP), SI
	MOVQ C+48(FP), DI
	MOVQ scr+104(FP), R11
	MASK8

l4bstep:
	MOVQ sx+120(FP), CX
	SHLQ $2, CX
	MOVQ 0(SP), AX
	PREFETCHT0 0(AX)(CX*1)
	PREFETCHT0 64(AX)(CX*1)
	MOVQ 8(SP), AX
	PREFETCHT0 0(AX)(CX*1)
	PREFETCHT0 64(AX)(CX*1)
	MOVQ 16(SP), AX
	PREFETCHT0 0(AX)(CX*1)
	PREFETCHT0 64(AX)(CX*1)
	MOVQ 40(SP), AX
	MOVQ 48(SP), R8
	MOVQ 0(SP), BX
	E4PREP(64(AX))          // the next step's decay; dt·x into Z18, Z19
	MOVQ 8(SP), DX
	VMOVUPS 0(DX), Z20      // gy
	VMOVUPS 64(DX), Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	VPXORD Z28, Z28, Z28
	VPXORD Z29, Z29, Z29
	E4BACK(0, 64, 0, 0, Z0, Z1)
	E4BACK(128, 192, 4, 64, Z2, Z3)
	E4BACK(256, 320, 8, 128, Z4, Z5)
	E4BACK(384, 448, 12, 192, Z6, Z7)
	E4BACK(512, 576, 16, 256, Z8, Z9)
	E4BACK(640, 704, 20, 320, Z10, Z11)
	E4BACK(768, 832, 24, 384, Z12, Z13)
	E4BACK(896, 960, 28, 448, Z14, Z15)

	// gx = dt·Σn B·gh + D·gy; gD lanes += gy·x; Σn B·gh scaled by x.
	VMOVUPS.Z (R8), K1, Z26
	VMOVUPS l4idx<>+0(SB), Z27
	VPERMPS Z26, Z27, Z24
	VMULPS  Z22, Z24, Z24
	VFMADD231PS 0(R11), Z20, Z24
	MOVQ 16(SP), DX
	VMOVUPS Z24, 0(DX)
	VMOVUPS l4idx<>+64(SB), Z27
	VPERMPS Z26, Z27, Z25
	VMULPS  Z23, Z25, Z25
	VFMADD231PS 64(R11), Z21, Z25
	VMOVUPS Z25, 64(DX)
	MOVQ acc+112(FP), R13
	VMOVUPS 0(BX), Z24
	VMOVUPS 0(R13), Z25
	VFMADD231PS Z24, Z20, Z25
	VMOVUPS Z25, 0(R13)
	VMULPS  Z24, Z22, Z22
	VMOVUPS 64(BX), Z24
	VMOVUPS 64(R13), Z25
	VFMADD231PS Z24, Z21, Z25
	VMOVUPS Z25, 64(R13)
	VMULPS  Z24, Z23, Z23

	// Per-head sums (each head one 128-bit quarter), then gdt and gA.
	PAIRS(Z22, Z23, Z24, Z25)
	PAIRS(Z22, Z22, Z24, Z25)
	VMOVUPS tidx<>(SB), Z27
	VPERMPS Z22, Z27, Z22   // Σ x·(B·gh) per head, lanes 0-7
	PAIRS(Z28, Z29, Z24, Z25)
	PAIRS(Z28, Z28, Z24, Z25)
	VPERMPS Z28, Z27, Z28   // Σ gh·h_prev per head
	MOVQ 40(SP), AX
	VMULPS (AX), Z28, Z28   // a·Σ gh·h_prev
	MOVQ A+96(FP), CX
	VMOVUPS.Z (CX), K1, Z24
	VFMADD231PS Z24, Z28, Z22
	MOVQ 56(SP), CX
	VMOVUPS Z22, K1, (CX)   // gdt
	VMOVUPS 128(R13), Z25
	VFMADD231PS Z26, Z28, Z25
	VMOVUPS Z25, 128(R13)   // gA += dt·a·Σ gh·h_prev

	// gB and gC rows += their accumulators summed over the 32 lanes.
	LEAQ 128(R11), AX
	LOAD8(AX)
	TREE8N
	MOVQ 24(SP), AX
	VMOVUPS.Z (AX), K1, Z27
	VADDPS  Z27, Z26, Z26
	VMOVUPS Z26, K1, (AX)
	LEAQ 640(R11), AX
	LOAD8(AX)
	TREE8N
	MOVQ 32(SP), AX
	VMOVUPS.Z (AX), K1, Z27
	VADDPS  Z27, Z26, Z26
	VMOVUPS Z26, K1, (AX)

	BADVANCE
	SUBQ $1024, R9
	SUBQ $1024, R10
	DECQ 64(SP)
	JNZ  l4bstep
	MOVQ gh+0(FP), AX
	STOREZ16(AX)
	VZEROUPPER
	RET
