// Shared by scan_amd64.s and scan512_amd64.s (same frame layout: the
// arguments of scanBwdAVX and scanBwd16AVX512, locals at 0-80(SP)).

// BWD_STEP_SUMS ends one step of the reverse loop, after the rows: with
// the per-row sums sx (R12) it writes gx_p = dt·sx_p + Dh·gy_p and the
// step's three sums (Σ sx_p·x_p, the Y8 sum of gh·h_prev, Σ gy_p·x_p) to
// the out cursor (64(SP), moving back 16 bytes), advances every cursor by
// one step and jumps to step while steps remain. quad is a label for its
// loop over four rows at a time.
#define BWD_STEP_SUMS(quad, step) \
	MOVQ 56(SP), AX; \
	VBROADCASTSS 4(AX), Y12; \
	VBROADCASTSS Dh+144(FP), Y14; \
	MOVQ 0(SP), SI; \
	MOVQ 8(SP), DI; \
	VXORPS X10, X10, X10; \
	VXORPS X11, X11, X11; \
	XORQ DX, DX; \
	quad: \
	VMOVUPS (R12)(DX*8), Y4; \
	VMOVUPS 32(R12)(DX*8), Y5; \
	VMOVUPS 64(R12)(DX*8), Y6; \
	VMOVUPS 96(R12)(DX*8), Y7; \
	VHADDPS Y5, Y4, Y4; \
	VHADDPS Y7, Y6, Y6; \
	VHADDPS Y6, Y4, Y4; \
	VEXTRACTF128 $1, Y4, X5; \
	VADDPS X5, X4, X4; \
	VMULPS (R11)(DX*1), X14, X6; \
	VFMADD231PS X4, X12, X6; \
	VMOVUPS X6, (DI)(DX*1); \
	VMOVUPS (SI)(DX*1), X7; \
	VFMADD231PS X7, X4, X10; \
	VFMADD231PS (R11)(DX*1), X7, X11; \
	ADDQ $16, DX; \
	CMPQ DX, pb+128(FP); \
	JLT  quad; \
	VHADDPS X10, X10, X10; \
	VHADDPS X10, X10, X10; \
	VEXTRACTF128 $1, Y8, X9; \
	VADDPS X9, X8, X8; \
	VHADDPS X8, X8, X8; \
	VHADDPS X8, X8, X8; \
	VHADDPS X11, X11, X11; \
	VHADDPS X11, X11, X11; \
	MOVQ 64(SP), AX; \
	VMOVSS X10, (AX); \
	VMOVSS X8, 4(AX); \
	VMOVSS X11, 8(AX); \
	SUBQ $16, AX; \
	MOVQ AX, 64(SP); \
	MOVQ sx+104(FP), AX; \
	ADDQ AX, 0(SP); \
	ADDQ AX, 8(SP); \
	ADDQ AX, R11; \
	MOVQ sb+112(FP), AX; \
	ADDQ AX, 16(SP); \
	ADDQ AX, 24(SP); \
	ADDQ AX, 32(SP); \
	ADDQ AX, 40(SP); \
	MOVQ R10, R9; \
	SUBQ 80(SP), R10; \
	DECQ 72(SP); \
	JNZ  step
