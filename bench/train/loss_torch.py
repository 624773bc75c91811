"""PyTorch peer of train.BenchmarkLoss and BenchmarkAdamW (CPU, float32):
focal BCE-with-logits with pos_weight on 64 x 15360 logits, forward and
gradient; one AdamW step with clip_grad_norm_ on 10 x 2^20 parameters.
Prints milliseconds per operation (median of 5)."""
import math, time, statistics, torch

torch.manual_seed(0)
torch.set_num_threads(2)  # as many as the Go side (GOMAXPROCS = 2 here)
n = 64 * 15360
z = (torch.sin(torch.arange(n, dtype=torch.float32)) * 4).requires_grad_()
y = (torch.arange(n) % 7 == 0).float()
pw, alpha, gamma = 2.0, 0.25, 2.0

def loss_step():
    z.grad = None
    bce = torch.nn.functional.binary_cross_entropy_with_logits(z, y, reduction="none", pos_weight=torch.tensor(pw))
    p = torch.sigmoid(z)
    pt = p * y + (1 - p) * (1 - y)
    l = (bce * (1 - pt) ** gamma * (alpha * y + (1 - alpha) * (1 - y))).sum() / n
    l.backward()

ps = [torch.nn.Parameter(torch.zeros(1 << 20)) for _ in range(10)]
for p in ps:
    p.grad = (torch.arange(1 << 20) % 13).float() * 1e-3
opt = torch.optim.AdamW([{"params": ps[0::2], "weight_decay": 0.01}, {"params": ps[1::2], "weight_decay": 0.0}], lr=1e-4)

def adam_step():
    torch.nn.utils.clip_grad_norm_(ps, 0.5)
    opt.step()

for name, f in [("loss", loss_step), ("adamw", adam_step)]:
    f()
    ts = []
    for _ in range(5):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    print(f"{name} {statistics.median(ts) * 1e3:.1f} ms (torch {torch.__version__}, {torch.get_num_threads()} threads)")
