"""PyTorch side of `pnpm bench`'s optimizer cases (spawned by optim.ts with /usr/bin/python3).

Reads {"n": parameters, "runs", "warmup"} on stdin and prints {"sgd_momentum": ms, "adam": ms,
"threads": n}: the median time of one `optimizer.step()` over one float32 parameter of n elements
whose gradient is fixed (the same update work as the TypeScript side), single-tensor implementation
(foreach=False, as in torch 1.13's default for CPU tensors).
"""

import json
import sys
import time

import torch


def main():
    cfg = json.load(sys.stdin)
    n, runs, warmup = cfg["n"], cfg["runs"], cfg["warmup"]
    torch.manual_seed(0)
    out = {"threads": torch.get_num_threads()}
    for name, make in (
        ("sgd_momentum", lambda p: torch.optim.SGD([p], lr=1e-3, momentum=0.9)),
        ("adam", lambda p: torch.optim.Adam([p], lr=1e-3)),
    ):
        p = torch.randn(n, requires_grad=True)
        p.grad = torch.randn(n)
        opt = make(p)
        for _ in range(warmup):
            opt.step()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            opt.step()
            times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        out[name] = times[len(times) // 2]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
