"""PyTorch CUDA side of `pnpm bench:gpu` (spawned by gpu.ts with `python3`; torch 2.11 on the H100 machine).

Reads {"n", "B", "T", "F", "H", "windows", "batch", "quick"} on stdin and prints median times in ms:
matmul_ms (f32 n x n, TF32 off), step_ms (seed 003's portfolio LSTM training step with Adam, loss read
every step), epoch_ms (seed 000's epoch: shuffled DataLoader of `batch`, loss read every step). Uses CUDA
when available (else the CPU, and says so in "device").
"""

import json
import sys
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from torch_models import CloseModel, PortfolioModel, neg_sharpe


def median(fn, runs, warmup, sync):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    cfg = json.load(sys.stdin)
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    sync = torch.cuda.synchronize if dev == 'cuda' else (lambda: None)
    quick = cfg.get('quick', False)
    torch.manual_seed(0)
    out = {'device': dev, 'torch': torch.__version__}
    n = cfg['n']
    a = torch.randn(n, n, device=dev)
    b = torch.randn(n, n, device=dev)
    out['matmul_ms'] = median(lambda: a @ b, 3 if quick else 20, 2, sync)

    model = PortfolioModel(cfg['F'], cfg['H'], 4).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(cfg['B'], cfg['T'], cfg['F'], device=dev)
    r = torch.randn(cfg['B'], 4, device=dev) * 0.01

    def step():
        opt.zero_grad()
        loss = neg_sharpe(model(x), r)
        loss.backward()
        opt.step()
        return loss.item()

    out['step_ms'] = median(step, 5 if quick else 50, 5, sync)

    close = CloseModel().to(dev)
    opt0 = torch.optim.Adam(close.parameters(), lr=1e-3)
    xs = torch.randn(cfg['windows'], 7, 1, device=dev)
    ys = torch.randn(cfg['windows'], 1, device=dev)
    loader = DataLoader(TensorDataset(xs, ys), batch_size=cfg['batch'], shuffle=True)
    mse = nn.MSELoss()

    def epoch():
        for xb, yb in loader:
            opt0.zero_grad()
            loss = mse(close(xb), yb)
            loss.backward()
            opt0.step()
            loss.item()

    out['epoch_ms'] = median(epoch, 1 if quick else 3, 1, sync)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
