package cuda

import "strconv"

// Activation kinds of unary_fwd / unary_bwd (elementwise.cu).
const (
	ActSiLU     = 0 // x·sigmoid(x)
	ActSoftplus = 1 // log(1+eˣ), identity above 20 (torch)
	ActSigmoid  = 2 // 1/(1+e⁻ˣ)
	ActReLU     = 3 // max(x, 0)
)

// ScanStateSizes lists the compiled state sizes NS of the scan kernels; a
// scan with d_state N uses the smallest NS >= N.
func ScanStateSizes() []int { return []int{8, 16, 32, 64, 128} }

// sig builds a parameter list from a compact form: p = pointer (u64),
// i = int (u32), f = float (f32), l = long long (u64).
func sig(s string) []Param {
	out := make([]Param, 0, len(s))
	for _, c := range s {
		switch c {
		case 'p', 'l':
			out = append(out, U64)
		case 'i':
			out = append(out, U32)
		case 'f':
			out = append(out, F32)
		default:
			panic("cuda: bad signature letter " + string(c)) // programming error in this file
		}
	}
	return out
}

// Signatures returns every kernel of the PTX module with the parameter list
// the Go side launches it with. A test checks it against the embedded PTX,
// and the fake driver checks every launch against it.
func Signatures() map[string][]Param {
	m := map[string][]Param{
		// scan.cu
		"ssd_state_pass": sig("pppiiii"),
		"ssd_dt_grad":    sig("ppppppiiii"),
		// conv.cu
		"dwconv_causal_fwd":     sig("ppppiiiii"),
		"dwconv_causal_bwd_pre": sig("pppppiiiii"),
		"dwconv_causal_bwd_dx":  sig("pppiiii"),
		"dwconv_causal_bwd_dw":  sig("ppppiiii"),
		"im2col1d":              sig("ppiiiiiiii"),
		"col2im1d":              sig("ppiiiiiiii"),
		// gemm.cu
		"sgemm_batched": sig("iiiiifpilpilfpil"),
		"bias_add":      sig("ppiii"),
		"sum_cols":      sig("ppii"),
		"sum_mid":       sig("ppiii"),
		// norm.cu
		"layernorm_fwd":        sig("ppppppiif"),
		"layernorm_bwd_dx":     sig("ppppppii"),
		"layernorm_bwd_wb":     sig("ppppppii"),
		"rmsnorm_gated_fwd":    sig("pppppiiif"),
		"rmsnorm_gated_bwd_dx": sig("pppppppiii"),
		"rmsnorm_gated_bwd_w":  sig("pppppiii"),
		"weightnorm_fwd":       sig("ppppii"),
		"weightnorm_bwd":       sig("ppppppii"),
		// elementwise.cu
		"unary_fwd":         sig("ippi"),
		"unary_bwd":         sig("ipppi"),
		"bias_softplus_fwd": sig("pppii"),
		"bias_softplus_bwd": sig("ppppii"),
		"bce_focal":         sig("ppppppiffff"),
		"sum_all":           sig("ppi"),
		"axpy":              sig("fppi"),
		"mul":               sig("pppi"),
		"affine":            sig("fpfpi"),
		"clamp_fwd":         sig("ppiff"),
		"clamp_bwd":         sig("pppiff"),
		"flip_time":         sig("ppiii"),
		"transpose_mid":     sig("ppiiii"),
		"dropout_mask":      sig("piiiiiif"),
		// graph.cu
		"cosine_fwd":   sig("pppiiif"),
		"cosine_bwd":   sig("ppppiiif"),
		"topk_sym":     sig("pppiiii"),
		"ssgconv_fwd":  sig("pppiiiifii"),
		"ssgconv_bwd":  sig("pppppiiiifii"),
		"triu_gather":  sig("ppiii"),
		"triu_scatter": sig("ppiii"),
	}
	for _, ns := range ScanStateSizes() {
		s := strconv.Itoa(ns)
		m["ssd_chunk_state_"+s] = sig("ppppppiiiiiiiiiii")
		m["ssd_chunk_fwd_"+s] = sig("ppppppppiiiiiiiiii")
		m["ssd_chunk_bwd_fwd_"+s] = sig("ppppppppppiiiiiiiiii")
		m["ssd_chunk_bwd_rev_"+s] = sig("pppppppppppiiiiiiiiii")
	}
	return m
}
