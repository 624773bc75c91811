// Package dsp is the signal processing of the EEG preprocessing: an
// anti-aliased polyphase resampler, Butterworth band-pass/high-pass/low-pass
// design as second-order sections, the iirnotch notch filter, causal and
// zero-phase application of those filters, and the per-channel statistics
// used for normalisation.
//
// Everything is checked against scipy.signal 1.10 on fixed inputs: the
// reference vectors and the script that made them are in testdata/
// (gen_reference.py). Designs agree with scipy to rounding (1e-12 relative),
// filter and resampler outputs to 1e-9 of the signal scale.
//
// # Streaming
//
// Every filter has a streaming form that takes the signal in chunks of any
// size and keeps memory bounded by the filter, not by the signal:
//
//   - Resampler is exactly scipy.signal.resample_poly (window ("kaiser", 5.0),
//     padtype "constant" or "edge") whatever the chunking: a FIR filter only
//     needs a bounded history, and the padding beyond the end is applied in
//     Flush.
//   - SOSFilter (causal, sosfilt) is exact by construction.
//   - ZeroPhase is scipy.signal.sosfiltfilt with its default odd padding. The
//     forward pass streams exactly; the backward pass runs block by block
//     from a look-ahead of Lookahead samples beyond each block, started in
//     steady state. The difference to the whole-signal result decays like
//     r^Lookahead where r is the largest pole radius; Lookahead is chosen so
//     that this factor is below 1e-20 (DefaultZeroPhaseTolerance), i.e. far
//     below float64 rounding. The final block is computed exactly like
//     scipy, from the true end of the signal. The price is a latency of up
//     to 2*Lookahead samples and twice the backward-pass work.
//
// # Zero-phase or causal for a streaming cache
//
// Both are offered (see the preprocess package's Config.Phase). Causal
// filtering (what the original project did, with lfilter) is exact when
// streamed, costs one pass, has no look-ahead, and is what an online
// detector would see; its price is a frequency-dependent delay: for the
// default 0.5-120 Hz order-3 band-pass at 256 Hz the group delay is 18 ms at
// 3 Hz, 3 ms at 8 Hz, 190 ms at 1 Hz and 0.8 s at the 0.5 Hz edge (scipy
// group_delay), small against the one-second resolution of TUSZ labels and
// the 3-8 Hz rhythms that matter for seizures. Zero-phase filtering removes that
// delay and doubles the attenuation, at three times the IIR work. The
// preprocess package defaults to causal filtering started in steady state
// (sosfilt_zi times the first sample), which avoids the start-up transient of
// lfilter's zero initial state.
//
// # Inner loops
//
// The per-sample loops (Resampler.Process, SOSFilter.Process,
// ZeroPhase.Process) allocate nothing once their buffers have grown to the
// chunk size in use; benchmarks report samples per second.
package dsp
