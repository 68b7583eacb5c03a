"""pandas side of `pnpm bench`'s CSV case (spawned by data.ts with /usr/bin/python3).

Reads one JSON object on stdin: {"path", "sep", "usecols", "names", "warmup", "runs"}. Times
`pd.read_csv(path, sep=sep, header=None, usecols=usecols, names=names)` followed by
`.to_numpy(np.float32)` (seed 001's load, then `torch.from_numpy(...).to(torch.float32)` without torch),
and prints one JSON object: the median ms, the number of runs, pandas' version, the array's shape and
its float64 sum (so the caller can check both sides parsed the same numbers).
"""

import json
import sys
import time

import numpy as np
import pandas as pd


def main():
    cfg = json.load(sys.stdin)
    names = cfg["names"]
    usecols = cfg["usecols"]
    cols = [names[i] for i in usecols]

    def load():
        df = pd.read_csv(cfg["path"], sep=cfg["sep"], header=None, usecols=usecols, names=names)
        return df[cols].to_numpy(np.float32)

    for _ in range(cfg["warmup"]):
        load()
    times = []
    arr = None
    for _ in range(cfg["runs"]):
        t0 = time.perf_counter()
        arr = load()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    print(
        json.dumps(
            {
                "ms": times[len(times) // 2],
                "runs": len(times),
                "version": pd.__version__,
                "shape": list(arr.shape),
                "sum": float(arr.astype(np.float64).sum()),
            }
        )
    )


if __name__ == "__main__":
    main()
