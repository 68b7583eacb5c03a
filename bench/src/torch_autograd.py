"""PyTorch side of `pnpm bench`'s autograd cases (spawned by autograd.ts with /usr/bin/python3).

Reads one JSON object on stdin (the op chain, the LSTM-like recurrence's inputs, timing settings),
runs the same computations as the TypeScript side with torch's CPU autograd, and prints one JSON
object on stdout: per thread count, the median forward, forward+backward and backward-alone times in
ms, the number of autograd nodes in the graph (walking grad_fn.next_functions once) and the
gradients, so the caller can check the three frameworks agree.
"""

import json
import sys
import time

import torch


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def timed(fn, setup, warmup, runs, min_ms):
    """Median ms of fn(setup()) over `runs` runs (or more, until min_ms has passed), after warm-up."""
    for _ in range(warmup):
        fn(setup())
    times = []
    start = time.perf_counter()
    while len(times) < runs or (time.perf_counter() - start) * 1e3 < min_ms:
        s = setup()
        t0 = time.perf_counter()
        fn(s)
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= 200:
            break
    return median(times), len(times)


def count_nodes(root):
    """Distinct autograd nodes reachable from `root` (AccumulateGrad of the leaves included)."""
    seen = set()
    keep = []  # keep the Python wrappers alive so id() stays unique
    stack = [root]
    while stack:
        n = stack.pop()
        if n is None or id(n) in seen:
            continue
        seen.add(id(n))
        keep.append(n)
        for nxt, _ in n.next_functions:
            stack.append(nxt)
    return len(seen)


def chain_case(cfg, t):
    ops = cfg["ops"]
    n = cfg["length"]
    x = torch.tensor(cfg["x"], dtype=torch.float32).requires_grad_()

    def forward():
        y = x
        for i in range(n):
            op, c = ops[i % len(ops)]
            if op == "mul":
                y = y * c
            elif op == "add":
                y = y + c
            elif op == "sub":
                y = y - c
            elif op == "tanh":
                y = torch.tanh(y)
            elif op == "sigmoid":
                y = torch.sigmoid(y)
            else:
                raise ValueError(op)
        return y.sum()

    return run_case(forward, [x], t)


def lstm_case(cfg, t):
    T, B, I, H = cfg["steps"], cfg["batch"], cfg["input"], cfg["hidden"]
    xs = torch.tensor(cfg["x"], dtype=torch.float32).reshape(T, B, I).unbind(0)
    wx = torch.tensor(cfg["wx"], dtype=torch.float32).reshape(I, 4 * H).requires_grad_()
    wh = torch.tensor(cfg["wh"], dtype=torch.float32).reshape(H, 4 * H).requires_grad_()
    b = torch.tensor(cfg["b"], dtype=torch.float32).requires_grad_()
    h0 = torch.zeros(B, H)
    c0 = torch.zeros(B, H)

    def forward():
        h, c = h0, c0
        for step in range(T):
            gates = xs[step] @ wx + h @ wh + b
            i, f, g, o = gates.chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        return h.sum()

    return run_case(forward, [wx, wh, b], t)


def run_case(forward, leaves, t):
    def clear():
        for p in leaves:
            p.grad = None

    def fwd(_):
        forward()

    def fwdbwd(_):
        clear()
        forward().backward()

    def make_graph():
        clear()
        return forward()

    def bwd(loss):
        loss.backward()

    fwd_ms, fwd_runs = timed(fwd, lambda: None, t["warmup"], t["runs"], t["minMs"])
    fb_ms, fb_runs = timed(fwdbwd, lambda: None, t["warmup"], t["runs"], t["minMs"])
    bwd_ms, bwd_runs = timed(bwd, make_graph, t["warmup"], t["runs"], t["minMs"])
    loss = make_graph()
    nodes = count_nodes(loss.grad_fn)
    loss.backward()
    return {
        "fwd_ms": fwd_ms,
        "fwdbwd_ms": fb_ms,
        "bwd_ms": bwd_ms,
        "runs": [fwd_runs, fb_runs, bwd_runs],
        "nodes": nodes,
        "loss": loss.item(),
        "grads": [p.grad.reshape(-1).tolist() for p in leaves],
    }


def main():
    cfg = json.load(sys.stdin)
    default_threads = torch.get_num_threads()
    thread_counts = [1] if default_threads == 1 else [1, default_threads]
    out = {
        "version": torch.__version__,
        "default_threads": default_threads,
        "python": sys.version.split()[0],
        "runs": [],
    }
    for n in thread_counts:
        torch.set_num_threads(n)
        out["runs"].append(
            {
                "threads": n,
                "chain": chain_case(cfg["chain"], cfg["timing"]),
                "lstm": lstm_case(cfg["lstm"], cfg["timing"]),
            }
        )
    torch.set_num_threads(default_threads)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
