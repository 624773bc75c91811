// Package model is the V3 dual-stream seizure detector built on the kernels
// package: temporal conv encoder, bidirectional Mamba-2 node stream, edge
// stream and dynamic graph convolution, fusion and a per-sample head.
package model

// Param is one trainable tensor: its values, its gradient (same length),
// and whether weight decay applies to it (AdamW skips biases and norms).
//
// The optimiser (package train) updates W in place from G; the model
// accumulates into G in Backward and clears it in ZeroGrad.
type Param struct {
	// Name is unique within a model, e.g. "node.0.fwd.in_proj.weight".
	// Checkpoints (safetensors) are keyed by it.
	Name  string
	Shape []int
	W, G  []float32
	Decay bool
}

// Net is what training needs from a model. Batches are row-major float32:
// x is (batch, channels, length) and logits are (batch, length), one logit
// per input sample.
type Net interface {
	// Params lists every trainable tensor, in a fixed order.
	Params() []*Param
	// Forward computes the logits of x. train enables dropout, driven by
	// seed so that a step is reproducible. The returned slice is owned by
	// the model and valid until the next Forward.
	Forward(x []float32, batch, length int, train bool, seed uint64) ([]float32, error)
	// Backward accumulates into every Param.G the gradient of the loss
	// whose gradient with respect to the last Forward's logits is dlogits.
	Backward(dlogits []float32) error
	// ZeroGrad sets every Param.G to zero.
	ZeroGrad()
}
