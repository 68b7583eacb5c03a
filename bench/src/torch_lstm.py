"""PyTorch side of `pnpm bench`'s LSTM cases (spawned by lstm.ts with /usr/bin/python3).

Reads {"runs", "warmup", "epochRuns"} on stdin and prints one JSON object of median times in ms:

- fwdbwd_s000 / fwdbwd_s003: forward + loss + backward of seed 000's model (LSTM(1, 4) -> Linear(4, 1),
  batch 16, lookback 7, MSE) and of seed 003's portfolio model (LSTM(8, 64) -> Linear(64, 4) ->
  softmax weights, batch 64, 50 steps, negative Sharpe ratio of the next-day portfolio returns).
- step_s003: the same plus zero_grad and an Adam step (a full training step).
- epoch_s000: one epoch of seed 000's training loop: 6183 windows in a shuffled DataLoader of batch 16
  (387 steps), zero_grad, forward, MSE, backward, Adam step and loss.item() every step.

The models and the loop are written the way the seed notebooks write them; the inputs are random
(timing only: values are checked by the test suites, not here).
"""

import json
import sys
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from torch_models import CloseModel, PortfolioModel, neg_sharpe


def median(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    cfg = json.load(sys.stdin)
    runs, warmup = cfg["runs"], cfg["warmup"]
    torch.manual_seed(0)
    out = {"threads": torch.get_num_threads(), "torch": torch.__version__}

    close = CloseModel()
    x0 = torch.randn(16, 7, 1)
    y0 = torch.randn(16, 1)
    mse = nn.MSELoss()

    def fwdbwd0():
        mse(close(x0), y0).backward()

    out["fwdbwd_s000"] = median(fwdbwd0, 200, 3000)

    port = PortfolioModel()
    x3 = torch.randn(64, 50, 8)
    r3 = torch.randn(64, 4) * 0.01

    def fwdbwd3():
        neg_sharpe(port(x3), r3).backward()

    out["fwdbwd_s003"] = median(fwdbwd3, runs, warmup)

    opt3 = torch.optim.Adam(port.parameters(), lr=1e-3)

    def step3():
        opt3.zero_grad()
        loss = neg_sharpe(port(x3), r3)
        loss.backward()
        opt3.step()

    out["step_s003"] = median(step3, runs, warmup)

    xs = torch.randn(6183, 7, 1)
    ys = torch.randn(6183, 1)
    loader = DataLoader(TensorDataset(xs, ys), batch_size=16, shuffle=True)
    opt0 = torch.optim.Adam(close.parameters(), lr=1e-3)

    def epoch():
        total = 0.0
        for xb, yb in loader:
            opt0.zero_grad()
            loss = mse(close(xb), yb)
            loss.backward()
            opt0.step()
            total += loss.item()
        return total

    out["epoch_s000"] = median(epoch, cfg["epochRuns"], 2)
    out["epoch_steps"] = len(loader)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
