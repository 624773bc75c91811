package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Config holds every size and switch of the V3 dual-stream detector. The
// JSON and cty names are the same, so a stage's `model = { ... }` attribute
// (handed over as JSON) or a config block decodes into it. Start from a
// profile (Demo, A100) and override fields; Validate says what is wrong.
type Config struct {
	// Preset names the profile the other fields start from ("demo",
	// "a100"); it is only read by Decode.
	Preset string `json:"preset,omitempty" cty:"preset"`
	// Device selects the kernels backend: "cpu" (default), "cuda" or
	// "auto". Precision is "fp32" (default) or "bf16" (CUDA only).
	Device    string `json:"device,omitempty" cty:"device"`
	Precision string `json:"precision,omitempty" cty:"precision"`

	// Temporal encoder: one dilated conv (same padding, weight norm, ReLU,
	// dropout) per entry of EncChannels, with kernel EncKernel and the
	// dilation of the same index in EncDilations.
	EncChannels  []int   `json:"enc_channels" cty:"enc_channels"`
	EncKernel    int     `json:"enc_kernel" cty:"enc_kernel"`
	EncDilations []int   `json:"enc_dilations" cty:"enc_dilations"`
	Dropout      float64 `json:"dropout" cty:"dropout"`
	// Downsample is the stride (and kernel) of the conv that takes the
	// encoder output to DModel features per step; the window length must
	// be a multiple of it. The head's logits are upsampled by the same
	// factor.
	Downsample int `json:"downsample" cty:"downsample"`
	DModel     int `json:"d_model" cty:"d_model"`

	// Electrode split: a 1×1 projection of DModel to Electrodes × NodeDim.
	Electrodes int `json:"electrodes" cty:"electrodes"`
	NodeDim    int `json:"node_dim" cty:"node_dim"`

	// Node stream: NodeLayers bidirectional Mamba-2 layers over each
	// electrode's sequence.
	NodeLayers  int `json:"node_layers" cty:"node_layers"`
	NodeDState  int `json:"node_d_state" cty:"node_d_state"`
	NodeHeadDim int `json:"node_headdim" cty:"node_headdim"`
	// DConv and Expand are Mamba-2's conv width and inner expansion, shared
	// by both streams.
	DConv  int `json:"d_conv" cty:"d_conv"`
	Expand int `json:"expand" cty:"expand"`

	// Edge stream: cosine similarity of every electrode pair per step,
	// lifted to EdgeDim features, EdgeLayers bidirectional Mamba-2 layers,
	// projected to one non-negative (sigmoid) weight per edge.
	EdgeDim     int `json:"edge_dim" cty:"edge_dim"`
	EdgeLayers  int `json:"edge_layers" cty:"edge_layers"`
	EdgeDState  int `json:"edge_d_state" cty:"edge_d_state"`
	EdgeHeadDim int `json:"edge_headdim" cty:"edge_headdim"`

	// Dynamic graph: top-k neighbours per node per step (symmetrised),
	// GraphLayers SSGConv layers (α, K) with residual and LayerNorm.
	TopK        int     `json:"top_k" cty:"top_k"`
	GraphLayers int     `json:"graph_layers" cty:"graph_layers"`
	SSGAlpha    float64 `json:"ssg_alpha" cty:"ssg_alpha"`
	SSGK        int     `json:"ssg_k" cty:"ssg_k"`
	// LapPE adds a Laplacian positional encoding (the LapPEDim smallest
	// non-trivial eigenvectors of each step's normalised graph Laplacian,
	// projected to NodeDim) to the graph stream's input. Off by default.
	LapPE    bool `json:"lap_pe" cty:"lap_pe"`
	LapPEDim int  `json:"lap_pe_dim" cty:"lap_pe_dim"`
}

// Demo is the V3 architecture scaled down to train on two CPU cores on
// 8 s windows at 256 Hz (2048 samples, 32 steps of 0.25 s after the
// downsample).
func Demo() Config {
	return Config{
		Preset: "demo", Device: "cpu", Precision: "fp32",
		EncChannels: []int{16, 16, 16, 16}, EncKernel: 7, EncDilations: []int{1, 4, 16, 64}, Dropout: 0.1,
		Downsample: 64, DModel: 32,
		Electrodes: 19, NodeDim: 16,
		NodeLayers: 2, NodeDState: 8, NodeHeadDim: 8, DConv: 4, Expand: 2,
		EdgeDim: 4, EdgeLayers: 1, EdgeDState: 4, EdgeHeadDim: 4,
		TopK: 3, GraphLayers: 2, SSGAlpha: 0.05, SSGK: 2,
		LapPEDim: 4,
	}
}

// A100 is the TUSZ-scale V3 configuration of the original project
// (60 s windows at 256 Hz, 960 steps after the downsample).
func A100() Config {
	return Config{
		Preset: "a100", Device: "cuda", Precision: "bf16",
		EncChannels: []int{64, 128, 256, 512, 64, 128, 256, 512}, EncKernel: 7,
		EncDilations: []int{1, 2, 4, 8, 16, 32, 64, 128}, Dropout: 0.1,
		Downsample: 16, DModel: 512,
		Electrodes: 19, NodeDim: 64,
		NodeLayers: 6, NodeDState: 16, NodeHeadDim: 8, DConv: 4, Expand: 2,
		EdgeDim: 16, EdgeLayers: 2, EdgeDState: 8, EdgeHeadDim: 4,
		TopK: 3, GraphLayers: 2, SSGAlpha: 0.05, SSGK: 2,
		LapPEDim: 8,
	}
}

// Profile returns the named profile.
func Profile(name string) (Config, error) {
	switch name {
	case "", "demo":
		return Demo(), nil
	case "a100":
		return A100(), nil
	}
	return Config{}, fmt.Errorf("model: unknown preset %q (want \"demo\" or \"a100\")", name)
}

// Decode reads a model configuration from JSON: the profile named by
// "preset" (default "demo"; "profile" is accepted as a synonym), then every
// other key overriding its field. null or empty input gives Demo(). Unknown
// keys are errors naming the key. The result is validated.
func Decode(raw json.RawMessage) (Config, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		c := Demo()
		return c, c.Validate()
	}
	var head map[string]json.RawMessage
	if err := json.Unmarshal(raw, &head); err != nil {
		return Config{}, fmt.Errorf("model config: want an object: %w", err)
	}
	preset := ""
	for _, k := range []string{"preset", "profile"} {
		if v, ok := head[k]; ok {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return Config{}, fmt.Errorf("model config: %s: want a string", k)
			}
			if preset != "" && s != preset {
				return Config{}, fmt.Errorf("model config: preset %q and profile %q disagree", preset, s)
			}
			preset = s
		}
	}
	c, err := Profile(preset)
	if err != nil {
		return Config{}, err
	}
	delete(head, "profile")
	body, _ := json.Marshal(head)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("model config: %w", err)
	}
	if preset != "" {
		c.Preset = preset
	}
	return c, c.Validate()
}

// Derived sizes of one bidirectional Mamba-2 stream.
type mambaDims struct {
	dModel, dState, headDim, nHeads, dInner, dConv int
}

func (m mambaDims) convDim() int { return m.dInner + 2*m.dState }
func (m mambaDims) projDim() int { return 2*m.dInner + 2*m.dState + m.nHeads }

func (c *Config) nodeDims() mambaDims {
	di := c.Expand * c.NodeDim
	return mambaDims{c.NodeDim, c.NodeDState, c.NodeHeadDim, di / max(c.NodeHeadDim, 1), di, c.DConv}
}

func (c *Config) edgeDims() mambaDims {
	di := c.Expand * c.EdgeDim
	return mambaDims{c.EdgeDim, c.EdgeDState, c.EdgeHeadDim, di / max(c.EdgeHeadDim, 1), di, c.DConv}
}

// Pairs is the number of electrode pairs (edges of the complete graph).
func (c *Config) Pairs() int { return c.Electrodes * (c.Electrodes - 1) / 2 }

// maxSize bounds every size field, so that a typo cannot ask for
// terabytes (the a100 profile's largest size is 512).
const maxSize = 1 << 16

// Validate reports every invalid field, separated by "; ".
func (c *Config) Validate() error {
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	pos := func(name string, v int) {
		if v < 1 {
			bad("%s = %d: want >= 1", name, v)
		} else if v > maxSize {
			bad("%s = %d: want <= %d", name, v, maxSize)
		}
	}
	switch c.Device {
	case "", "cpu", "cuda", "auto":
	default:
		bad("device = %q: want \"cpu\", \"cuda\" or \"auto\"", c.Device)
	}
	switch c.Precision {
	case "", "fp32", "bf16":
	default:
		bad("precision = %q: want \"fp32\" or \"bf16\"", c.Precision)
	}
	if len(c.EncChannels) == 0 {
		bad("enc_channels is empty: want at least one encoder layer")
	}
	for i, ch := range c.EncChannels {
		pos(fmt.Sprintf("enc_channels[%d]", i), ch)
	}
	if len(c.EncDilations) != len(c.EncChannels) {
		bad("enc_dilations has %d entries, enc_channels %d: want one dilation per layer", len(c.EncDilations), len(c.EncChannels))
	}
	for i, d := range c.EncDilations {
		pos(fmt.Sprintf("enc_dilations[%d]", i), d)
	}
	if c.EncKernel < 1 || c.EncKernel%2 == 0 {
		bad("enc_kernel = %d: want an odd number >= 1 (same padding)", c.EncKernel)
	}
	if c.Dropout < 0 || c.Dropout >= 1 || c.Dropout != c.Dropout {
		bad("dropout = %v: want 0 <= dropout < 1", c.Dropout)
	}
	pos("downsample", c.Downsample)
	pos("d_model", c.DModel)
	if c.Electrodes < 2 {
		bad("electrodes = %d: want >= 2", c.Electrodes)
	}
	pos("node_dim", c.NodeDim)
	if c.NodeLayers < 0 || c.NodeLayers > 64 {
		bad("node_layers = %d: want 0..64", c.NodeLayers)
	}
	if c.EdgeLayers < 0 || c.EdgeLayers > 64 {
		bad("edge_layers = %d: want 0..64", c.EdgeLayers)
	}
	if len(c.EncChannels) > 64 {
		bad("enc_channels has %d layers: want at most 64", len(c.EncChannels))
	}
	pos("node_d_state", c.NodeDState)
	pos("node_headdim", c.NodeHeadDim)
	pos("edge_dim", c.EdgeDim)
	pos("edge_d_state", c.EdgeDState)
	pos("edge_headdim", c.EdgeHeadDim)
	pos("d_conv", c.DConv)
	pos("expand", c.Expand)
	if c.NodeHeadDim > 0 && c.Expand > 0 && (c.Expand*c.NodeDim)%c.NodeHeadDim != 0 {
		bad("node_headdim = %d does not divide expand × node_dim = %d", c.NodeHeadDim, c.Expand*c.NodeDim)
	}
	if c.EdgeHeadDim > 0 && c.Expand > 0 && (c.Expand*c.EdgeDim)%c.EdgeHeadDim != 0 {
		bad("edge_headdim = %d does not divide expand × edge_dim = %d", c.EdgeHeadDim, c.Expand*c.EdgeDim)
	}
	if c.TopK < 1 || c.TopK > c.Electrodes-1 {
		bad("top_k = %d: want 1 <= top_k <= electrodes-1 = %d", c.TopK, c.Electrodes-1)
	}
	if c.GraphLayers < 0 || c.GraphLayers > 64 {
		bad("graph_layers = %d: want 0..64", c.GraphLayers)
	}
	if c.Electrodes > 256 {
		bad("electrodes = %d: want <= 256", c.Electrodes)
	}
	if c.SSGK > 64 {
		bad("ssg_k = %d: want <= 64", c.SSGK)
	}
	if !(c.SSGAlpha >= 0 && c.SSGAlpha <= 1) {
		bad("ssg_alpha = %v: want 0 <= ssg_alpha <= 1", c.SSGAlpha)
	}
	pos("ssg_k", c.SSGK)
	if c.LapPE && (c.LapPEDim < 1 || c.LapPEDim > c.Electrodes-1) {
		bad("lap_pe_dim = %d: want 1 <= lap_pe_dim <= electrodes-1 = %d", c.LapPEDim, c.Electrodes-1)
	}
	if c.LapPE && c.GraphLayers == 0 {
		bad("lap_pe = true needs graph_layers >= 1")
	}
	if len(errs) > 0 {
		return errors.New("model config: " + strings.Join(errs, "; "))
	}
	return nil
}

// CheckInput reports whether windows of channels × length samples fit c.
func (c *Config) CheckInput(channels, length int) error {
	if channels < 1 {
		return fmt.Errorf("model: %d input channels: want >= 1", channels)
	}
	if length < c.Downsample || length%c.Downsample != 0 {
		return fmt.Errorf("model: window length %d samples is not a positive multiple of downsample = %d", length, c.Downsample)
	}
	return nil
}
