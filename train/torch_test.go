package train

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/pipeml/pipe/model"
)

// torchScript runs AdamW with warmup/cosine learning rates and gradient
// clipping, and the focal BCE loss, in PyTorch on the values given as JSON
// on stdin, and prints the results as JSON.
const torchScript = `
import json, sys, math, torch
d = json.load(sys.stdin)
torch.set_default_dtype(torch.float32)
ps = [torch.nn.Parameter(torch.tensor(w, dtype=torch.float32)) for w in d["w"]]
groups = [{"params": [p for p, dec in zip(ps, d["decay"]) if dec], "weight_decay": d["wd"]},
          {"params": [p for p, dec in zip(ps, d["decay"]) if not dec], "weight_decay": 0.0}]
opt = torch.optim.AdamW(groups, lr=1.0, betas=(d["b1"], d["b2"]), eps=d["eps"])
for step, (lr, grads) in enumerate(zip(d["lrs"], d["grads"])):
    for p, g in zip(ps, grads):
        p.grad = torch.tensor(g, dtype=torch.float32)
    torch.nn.utils.clip_grad_norm_(ps, d["clip"])
    for grp in opt.param_groups:
        grp["lr"] = lr
    opt.step()
z = torch.tensor(d["z"], dtype=torch.float64)
y = torch.tensor(d["y"], dtype=torch.float64)
out = {"w": [p.detach().tolist() for p in ps]}
for name, (pw, alpha, gamma) in d["losses"].items():
    bce = torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none", pos_weight=torch.tensor(pw, dtype=torch.float64))
    p = torch.sigmoid(z)
    pt = p * y + (1 - p) * (1 - y)
    l = bce * (1 - pt) ** gamma
    if alpha >= 0:
        l = l * (alpha * y + (1 - alpha) * (1 - y))
    out[name] = l.sum().item()
json.dump(out, sys.stdout)
`

// TestAgainstPyTorch checks AdamW (decoupled decay on Decay parameters
// only), the schedule's learning rates, clipping and the focal BCE loss
// against PyTorch 1.13.
func TestAgainstPyTorch(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skipf("%s not found", py)
	}
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skipf("%s has no torch: %v", py, err)
	}
	params := []*model.Param{
		{Name: "a", Shape: []int{3}, W: []float32{0.5, -1, 2}, G: make([]float32, 3), Decay: true},
		{Name: "b", Shape: []int{2}, W: []float32{0.1, 0.2}, G: make([]float32, 2)},
	}
	init := [][]float32{append([]float32(nil), params[0].W...), append([]float32(nil), params[1].W...)}
	sched := NewSchedule(0.05, 0.1, 0.25, 8)
	opt := NewAdamW(params, 0.9, 0.99, 1e-8, 0.1)
	var lrs []float64
	var grads [][][]float32
	for s := 0; s < 8; s++ {
		g := [][]float32{{float32(math.Sin(float64(s))), 3*float32(s%3) - 2, 0.5}, {float32(s) * 0.7, -1.5}}
		copy(params[0].G, g[0])
		copy(params[1].G, g[1])
		norm, _ := GradNorm(params)
		lr := sched.LR(int64(s))
		opt.Update(params, lr, ClipScale(norm, 2))
		lrs = append(lrs, lr)
		grads = append(grads, g)
	}
	z := []float32{-8, -1.5, -0.1, 0, 0.3, 2, 9, -3}
	y := []float32{0, 1, 0, 1, 1, 0, 1, 1}
	losses := map[string][3]float64{"bce": {1, -1, 0}, "pw": {3, -1, 0}, "focal": {1, 0.25, 2}, "both": {2.5, 0.6, 1.5}}
	in, _ := json.Marshal(map[string]any{"w": init, "decay": []bool{true, false}, "wd": 0.1, "b1": 0.9, "b2": 0.99, "eps": 1e-8,
		"lrs": lrs, "grads": grads, "clip": 2.0, "z": z, "y": y, "losses": losses})
	cmd := exec.Command(py, "-c", torchScript)
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var ref map[string]json.RawMessage
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatalf("python output %s: %v", out, err)
	}
	var w [][]float64
	json.Unmarshal(ref["w"], &w)
	for k, p := range params {
		for i, v := range p.W {
			if math.Abs(float64(v)-w[k][i]) > 2e-6 {
				t.Errorf("param %s[%d] = %v, torch %v", p.Name, i, v, w[k][i])
			}
		}
	}
	for name, c := range losses {
		var want float64
		json.Unmarshal(ref[name], &want)
		got := Loss{PosWeight: c[0], Alpha: c[1], Gamma: c[2]}.Value(z, y)
		if math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("loss %s = %v, torch %v", name, got, want)
		}
	}
}
