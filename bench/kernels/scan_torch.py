#!/usr/bin/python3
"""PyTorch sequential SSD scan (Mamba-2 recurrence), forward + backward by
autograd, CPU, 1 thread: the peer of BenchmarkScanNode* in kernels_test.go.

    h_t = exp(dt_t * A) * h_{t-1} + dt_t * x_t (outer) B_t
    y_t = h_t . C_t + D * x_t

Usage: scan_torch.py [node|edge] [repeats] [fwd]. Prints seconds per fwd,
bwd, fwd+bwd (best of repeats) as JSON; with "fwd" only the forward runs
(still recording the autograd graph; the node backward takes ~12 minutes).
"""
import json
import sys
import time

import torch

torch.set_num_threads(1)
shape = sys.argv[1] if len(sys.argv) > 1 else "node"
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 2
fwd_only = len(sys.argv) > 3 and sys.argv[3] == "fwd"
# (batch, L, heads, headdim, groups, d_state)
Bt, L, H, P, G, N = {"node": (76, 960, 16, 8, 1, 16), "edge": (684, 960, 8, 4, 1, 8)}[shape]
g = torch.Generator().manual_seed(1)
x = (torch.rand(Bt, L, H, P, generator=g) * 2 - 1).requires_grad_()
dt = (torch.rand(Bt, L, H, generator=g) * 0.29 + 0.01).requires_grad_()
A = (-(torch.rand(H, generator=g) * 1.8 + 0.2)).requires_grad_()
B = (torch.rand(Bt, L, G, N, generator=g) * 2 - 1).requires_grad_()
C = (torch.rand(Bt, L, G, N, generator=g) * 2 - 1).requires_grad_()
D = (torch.rand(H, generator=g) * 2 - 1).requires_grad_()
gy = torch.rand(Bt, L, H, P, generator=g) * 2 - 1


def scan():
    hg = H // G
    Bh = B.repeat_interleave(hg, dim=2)  # (Bt, L, H, N)
    Ch = C.repeat_interleave(hg, dim=2)
    dA = torch.exp(dt * A)  # (Bt, L, H)
    state = x.new_zeros(Bt, H, P, N)
    ys = []
    for t in range(L):
        state = state * dA[:, t, :, None, None] + (dt[:, t, :, None] * x[:, t])[..., None] * Bh[:, t, :, None, :]
        ys.append(torch.einsum("bhpn,bhn->bhp", state, Ch[:, t]) + D[:, None] * x[:, t])
    return torch.stack(ys, dim=1)


best = {"fwd": 1e9, "bwd": 1e9, "fwd_bwd": 1e9}
for _ in range(reps):
    for v in (x, dt, A, B, C, D):
        v.grad = None
    t0 = time.perf_counter()
    y = scan()
    t1 = time.perf_counter()
    best["fwd"] = min(best["fwd"], t1 - t0)
    if fwd_only:
        best["bwd"] = best["fwd_bwd"] = None
        continue
    y.backward(gy)
    t2 = time.perf_counter()
    best["bwd"] = min(best["bwd"], t2 - t1)
    best["fwd_bwd"] = min(best["fwd_bwd"], t2 - t0)
print(json.dumps({"shape": shape, "torch": torch.__version__, "threads": torch.get_num_threads(), **best}))
