#!/usr/bin/python3
"""PyTorch (1.13, CPU) implementation of the V3 dual-stream detector with the
same architecture, sizes and parameter count as package model, for the
windows/s comparison in docs/BENCHMARKS.md ("Model").

    /usr/bin/python3 bench/model/v3_torch.py --config '<model config JSON>' \
        --batch 16 --length 2048 --threads 2 --steps 5 --params 80790

The Mamba-2 scan is, by default (--scan quadratic), the SSD recurrence in its
quadratic "attention" form vectorised over time (the fastest pure-PyTorch form
for the short sequences here); --scan loop is the sequential reference
recurrence (a Python loop over time). Everything else is standard torch ops. --params
asserts the parameter count equals the Go model's.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SCAN = "quadratic"


class Mamba2(nn.Module):
    def __init__(self, d_model, d_state, headdim, expand, d_conv):
        super().__init__()
        self.di = expand * d_model
        self.S = d_state
        self.H = self.di // headdim
        self.P = headdim
        self.cd = self.di + 2 * d_state
        self.K = d_conv
        self.in_proj = nn.Linear(d_model, 2 * self.di + 2 * d_state + self.H, bias=False)
        self.conv1d = nn.Conv1d(self.cd, self.cd, d_conv, groups=self.cd, padding=d_conv - 1)
        dt = torch.exp(torch.rand(self.H) * (math.log(0.1) - math.log(0.001)) + math.log(0.001))
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.empty(self.H).uniform_(1, 16)))
        self.D = nn.Parameter(torch.ones(self.H))
        self.norm_weight = nn.Parameter(torch.ones(self.di))
        self.out_proj = nn.Linear(self.di, d_model, bias=False)

    def forward(self, u):  # (N, L, d_model)
        N, L, _ = u.shape
        zxbcdt = self.in_proj(u)
        z, xbc, dt = torch.split(zxbcdt, [self.di, self.cd, self.H], dim=-1)
        xbc = F.silu(self.conv1d(xbc.transpose(1, 2))[..., :L].transpose(1, 2))
        x, B, C = torch.split(xbc, [self.di, self.S, self.S], dim=-1)
        dt = F.softplus(dt + self.dt_bias)  # (N, L, H)
        A = -torch.exp(self.A_log)
        dA = torch.exp(dt * A)  # (N, L, H)
        x = x.reshape(N, L, self.H, self.P)
        if SCAN == "loop":
            # the reference recurrence, one step at a time.
            state = u.new_zeros(N, self.H, self.P, self.S)
            ys = []
            for t in range(L):
                state = state * dA[:, t, :, None, None] + (dt[:, t, :, None, None] * x[:, t, :, :, None]) * B[:, t, None, None, :]
                ys.append(torch.einsum("nhps,ns->nhp", state, C[:, t]))
            y = torch.stack(ys, dim=1)
        else:
            # the same recurrence in its quadratic (attention-like) SSD form,
            # vectorised over time: y_t = sum_{s<=t} (C_t.B_s) exp(sum_{s<r<=t} dt_r A) dt_s x_s.
            cum = torch.cumsum(dt * A, dim=1)  # (N, L, H)
            seg = cum[:, :, None, :] - cum[:, None, :, :]  # (N, t, s, H)
            causal = torch.ones(L, L, dtype=torch.bool).tril()
            decay = torch.exp(seg.masked_fill(~causal[None, :, :, None], float("-inf")))
            w = torch.einsum("nts,nus->ntu", C, B)[..., None] * decay  # (N, t, s, H)
            y = torch.einsum("ntuh,nuh,nuhp->nthp", w, dt, x)
        y = y + x * self.D[:, None]
        y = y.reshape(N, L, self.di)
        g = y * F.silu(z)
        g = g * torch.rsqrt(g.pow(2).mean(-1, keepdim=True) + 1e-5) * self.norm_weight
        return self.out_proj(g)


class BiMamba(nn.Module):
    def __init__(self, d_model, d_state, headdim, expand, d_conv):
        super().__init__()
        self.fwd = Mamba2(d_model, d_state, headdim, expand, d_conv)
        self.bwd = Mamba2(d_model, d_state, headdim, expand, d_conv)
        self.proj = nn.Linear(2 * d_model, d_model)
        self.norm = nn.LayerNorm(d_model)

    def forward(self, u):
        yf = self.fwd(u)
        yb = self.bwd(u.flip(1)).flip(1)
        return self.norm(u + self.proj(torch.cat([yf, yb], -1)))


class SSG(nn.Module):
    def __init__(self, f, K, alpha):
        super().__init__()
        self.lin = nn.Linear(f, f)
        self.norm = nn.LayerNorm(f)
        self.K, self.alpha = K, alpha

    def forward(self, h, ahat):  # h (BL, E, F), ahat (BL, E, E)
        z, acc = h, 0
        for _ in range(self.K):
            z = torch.bmm(ahat, z)
            acc = acc + z
        s = self.alpha * h + (1 - self.alpha) / self.K * acc
        return self.norm(h + self.lin(s))


class V3(nn.Module):
    def __init__(self, c, channels):
        super().__init__()
        self.c = c
        convs, cin = [], channels
        for ch, dil in zip(c["enc_channels"], c["enc_dilations"]):
            conv = nn.Conv1d(cin, ch, c["enc_kernel"], dilation=dil, padding=dil * (c["enc_kernel"] // 2))
            convs.append(nn.utils.weight_norm(conv))
            cin = ch
        self.enc = nn.ModuleList(convs)
        self.drop = nn.Dropout(c["dropout"])
        self.down = nn.Conv1d(cin, c["d_model"], c["downsample"], stride=c["downsample"])
        E, Fd = c["electrodes"], c["node_dim"]
        self.split = nn.Linear(c["d_model"], E * Fd)
        self.node = nn.ModuleList([BiMamba(Fd, c["node_d_state"], c["node_headdim"], c["expand"], c["d_conv"]) for _ in range(c["node_layers"])])
        ed = c["edge_dim"]
        self.lift = nn.Linear(1, ed)
        self.edge = nn.ModuleList([BiMamba(ed, c["edge_d_state"], c["edge_headdim"], c["expand"], c["d_conv"]) for _ in range(c["edge_layers"])])
        self.edge_out = nn.Linear(ed, 1)
        self.ssg = nn.ModuleList([SSG(Fd, c["ssg_k"], c["ssg_alpha"]) for _ in range(c["graph_layers"])])
        self.fusion = nn.Linear(2 * E * Fd, c["d_model"])
        self.head = nn.Linear(c["d_model"], 1)
        iu = torch.triu_indices(E, E, 1)
        self.register_buffer("pi", iu[0])
        self.register_buffer("pj", iu[1])

    def forward(self, x):  # (B, C, T)
        c = self.c
        Bn, _, T = x.shape
        for conv in self.enc:
            x = self.drop(F.relu(conv(x)))
        h = self.down(x).transpose(1, 2)  # (B, L, D)
        L = h.shape[1]
        E, Fd = c["electrodes"], c["node_dim"]
        u = self.split(h).reshape(Bn, L, E, Fd)
        split = u.permute(0, 2, 1, 3).reshape(Bn * E, L, Fd)
        n = split
        for layer in self.node:
            n = layer(n)
        # edge stream: cosine of every pair per step.
        v = split.reshape(Bn, E, L, Fd).permute(0, 2, 1, 3)  # (B, L, E, F)
        un = v / torch.sqrt((v * v).sum(-1, keepdim=True) + 1e-6)
        cos = (un[:, :, self.pi] * un[:, :, self.pj]).sum(-1)  # (B, L, P)
        P = cos.shape[-1]
        e = self.lift(cos.permute(0, 2, 1).reshape(Bn * P, L, 1))
        for layer in self.edge:
            e = layer(e)
        w = torch.sigmoid(self.edge_out(e)).reshape(Bn, P, L).permute(0, 2, 1).reshape(Bn * L, P)
        W = w.new_zeros(Bn * L, E, E)
        W[:, self.pi, self.pj] = w
        W[:, self.pj, self.pi] = w
        idx = W.topk(c["top_k"], dim=-1).indices
        M = torch.zeros_like(W).scatter_(-1, idx, 1.0)
        M = ((M + M.transpose(1, 2)) > 0).float()
        A = W * M + torch.eye(E)
        s = A.sum(-1).rsqrt()
        ahat = A * s[:, :, None] * s[:, None, :]
        node = n.reshape(Bn, E, L, Fd).permute(0, 2, 1, 3).reshape(Bn * L, E, Fd)
        g = node
        for layer in self.ssg:
            g = layer(g, ahat)
        fin = torch.cat([node.reshape(Bn * L, E * Fd), g.reshape(Bn * L, E * Fd)], -1)
        z = self.head(F.relu(self.fusion(fin))).reshape(Bn, L)
        return z.repeat_interleave(c["downsample"], dim=1)  # (B, T)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="model config JSON (every field)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--channels", type=int, default=19)
    ap.add_argument("--length", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--params", type=int, default=0, help="assert this parameter count")
    ap.add_argument("--scan", choices=["quadratic", "loop"], default="quadratic",
                    help="SSD in quadratic form (vectorised over time) or the sequential reference loop")
    a = ap.parse_args()
    global SCAN
    SCAN = a.scan
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    c = json.loads(a.config)
    m = V3(c, a.channels)
    m.train()
    count = sum(p.numel() for p in m.parameters())
    if a.params and count != a.params:
        print(f"parameter count {count} != Go model's {a.params}", file=sys.stderr)
        sys.exit(1)
    opt = torch.optim.SGD(m.parameters(), lr=0.0)
    x = torch.randn(a.batch, a.channels, a.length)
    y = (torch.rand(a.batch, a.length) > 0.8).float()
    def step():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(m(x), y)
        loss.backward()
        return loss
    step()  # warm-up
    t0 = time.perf_counter()
    c0 = time.process_time()
    for _ in range(a.steps):
        step()
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(json.dumps({"impl": "pytorch", "scan": a.scan, "params": count, "threads": a.threads, "batch": a.batch, "length": a.length,
                      "steps": a.steps, "wall_s": wall, "cpu_s": cpu,
                      "windows_per_s": a.batch * a.steps / wall, "windows_per_cpu_s": a.batch * a.steps / cpu}))


if __name__ == "__main__":
    main()
