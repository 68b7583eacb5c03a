/**
 * Sliding windows (views, no look-ahead, 1M rows without copies), the seed-000 lag frame and the
 * chronological split (seed 000: 6509 rows at 95% give 6183 / 326).
 *
 * The lag-frame reference comes from fixtures/gen_scalers.py (pandas `shift(i)` + `dropna()` on a
 * 10-row series with 3 lags, then `np.flip(X, axis=1)`).
 */
import { arange, GradfolioError, type NestedArray, type Tensor, tensor, zeros } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { chronologicalSplit } from '../src/split.js';
import { lagFrame, slidingWindows } from '../src/windows.js';

/** A [T, F] series whose cell (t, f) holds t * 100 + f, so every value names its row and column. */
function labelled(t: number, f: number): Tensor {
  const data: number[][] = [];
  for (let r = 0; r < t; r++) data.push(Array.from({ length: f }, (_, c) => r * 100 + c));
  return tensor(data, { dtype: 'float64' });
}

function rows(x: Tensor): number[][][] {
  return x.toArraySync() as number[][][];
}

function caught(fn: () => unknown): GradfolioError {
  try {
    fn();
  } catch (e) {
    if (GradfolioError.isInstance(e)) return e;
    throw e;
  }
  throw new Error('expected a GradfolioError');
}

describe('slidingWindows', () => {
  it('cuts [T, F] into X [N, L, F] and y [N, H, T] with N = floor((T - L - H) / stride) + 1', () => {
    const s = labelled(10, 3);
    const { X, y, length } = slidingWindows(s, { lookback: 3, horizon: 2, stride: 2 });
    expect(length).toBe(3); // floor((10 - 3 - 2) / 2) + 1
    expect(X.shape).toEqual([3, 3, 3]);
    expect(y.shape).toEqual([3, 2, 3]);
    expect(rows(X)[1]).toEqual([
      [200, 201, 202],
      [300, 301, 302],
      [400, 401, 402],
    ]);
    expect(rows(y)[1]).toEqual([
      [500, 501, 502],
      [600, 601, 602],
    ]);
    // The last window ends at row 8 (rows 4..6 in, 7..8 out); row 9 is not used.
    expect(rows(y)[2]).toEqual([
      [700, 701, 702],
      [800, 801, 802],
    ]);
  });

  it('matches seed 003 StockDataset: len = T - L, X[i] = features[i:i+L], y[i] = targets[i+L]', () => {
    const s = labelled(20, 4);
    const { X, y, length } = slidingWindows(s, {
      lookback: 7,
      featureColumns: [0, 1, 2],
      targetColumns: [3],
    });
    expect(length).toBe(13);
    expect(X.shape).toEqual([13, 7, 3]);
    expect(y.shape).toEqual([13, 1, 1]);
    const xs = rows(X);
    const ys = rows(y);
    for (let i = 0; i < length; i++) {
      for (let k = 0; k < 7; k++)
        expect(xs[i]![k]).toEqual([(i + k) * 100, (i + k) * 100 + 1, (i + k) * 100 + 2]);
      expect(ys[i]).toEqual([[(i + 7) * 100 + 3]]);
    }
  });

  it('never lets a target value appear in its own inputs (no look-ahead)', () => {
    const s = labelled(60, 3);
    for (const [lookback, horizon, stride] of [
      [1, 1, 1],
      [5, 3, 2],
      [10, 1, 7],
      [7, 12, 3],
    ] as const) {
      const { X, y, length } = slidingWindows(s, { lookback, horizon, stride, targetColumns: [0] });
      const xs = rows(X);
      const ys = rows(y);
      expect(length).toBe(Math.floor((60 - lookback - horizon) / stride) + 1);
      for (let i = 0; i < length; i++) {
        const inputs = new Set(xs[i]!.flat());
        const inputRows = xs[i]!.map((r) => Math.floor(r[0]! / 100));
        const targetRows = ys[i]!.map((r) => Math.floor(r[0]! / 100));
        for (const v of ys[i]!.flat()) expect(inputs.has(v)).toBe(false);
        expect(Math.max(...inputRows)).toBeLessThan(Math.min(...targetRows));
        expect(Math.min(...targetRows)).toBe(i * stride + lookback); // targets start right after the inputs
      }
    }
  });

  it('returns strided views of the series storage for all, contiguous or evenly spaced columns', () => {
    const s = labelled(30, 6);
    for (const cols of [undefined, [2, 3, 4], [4], [0, 2, 4], [5, 3, 1]]) {
      const opts =
        cols === undefined ? { lookback: 4 } : { lookback: 4, featureColumns: cols, targetColumns: cols };
      const w = slidingWindows(s, opts);
      expect(w.xIsView && w.yIsView).toBe(true);
      expect(w.X.storage).toBe(s.storage);
      expect(w.y.storage).toBe(s.storage);
      const want = cols ?? [0, 1, 2, 3, 4, 5];
      expect(rows(w.X)[3]![2]).toEqual(want.map((c) => 500 + c));
      expect(rows(w.y)[3]![0]).toEqual(want.map((c) => 700 + c));
    }
    // A view: writing to the series shows through.
    const { X } = slidingWindows(s, { lookback: 4 });
    s.index(5, 1).fill_(-1);
    expect(rows(X)[3]![2]![1]).toBe(-1);
  });

  it('gathers irregular columns once ([T, k], not lookback copies) and still views the windows', () => {
    const s = labelled(30, 6);
    const w = slidingWindows(s, { lookback: 5, featureColumns: [0, 1, 4], targetColumns: [-1] });
    expect(w.xIsView).toBe(false);
    expect(w.yIsView).toBe(true);
    expect(w.X.storage).not.toBe(s.storage);
    expect(w.X.storage.size).toBe(30 * 3);
    expect(rows(w.X)[2]![4]).toEqual([600, 601, 604]);
    expect(rows(w.y)[2]![0]).toEqual([705]);
  });

  it('works on non-contiguous series and [T] series', () => {
    const base = labelled(12, 4);
    const t = base.transpose(0, 1).contiguous().transpose(0, 1); // column-major [12, 4]
    const { X } = slidingWindows(t, { lookback: 2, featureColumns: [1, 2] });
    expect(rows(X)[3]).toEqual([
      [301, 302],
      [401, 402],
    ]);
    const w = slidingWindows(arange(10, { dtype: 'float32' }), { lookback: 3, horizon: 2 });
    expect(w.X.shape).toEqual([6, 3, 1]);
    expect(w.y.toArraySync()).toEqual([
      [[3], [4]],
      [[4], [5]],
      [[5], [6]],
      [[6], [7]],
      [[7], [8]],
      [[8], [9]],
    ] as NestedArray);
  });

  it('makes 1M x 5 lookback-50 windows quickly without allocating', () => {
    const s = zeros([1_000_000, 5]);
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    const { X, y, length } = slidingWindows(s, { lookback: 50, horizon: 1, targetColumns: [3] });
    const ms = performance.now() - t0;
    const grown = process.memoryUsage().arrayBuffers - before;
    expect(length).toBe(999_950);
    expect(X.shape).toEqual([999_950, 50, 5]);
    expect(y.shape).toEqual([999_950, 1, 1]);
    expect(X.storage).toBe(s.storage);
    expect(grown).toBeLessThan(4 * 1024 * 1024); // 50 copies would be 1 GB
    expect(ms).toBeLessThan(100);
  });

  it('gives 0 windows when the series is too short, and errors on bad options', () => {
    expect(slidingWindows(labelled(5, 2), { lookback: 4, horizon: 2 }).length).toBe(0);
    expect(slidingWindows(labelled(5, 2), { lookback: 4, horizon: 2 }).X.shape).toEqual([0, 4, 2]);
    const tooShort = slidingWindows(labelled(5, 2), { lookback: 10, featureColumns: [1, 0] });
    expect(tooShort.X.shape).toEqual([0, 10, 2]);
    expect(tooShort.X.toArraySync()).toEqual([]);
    const s = labelled(10, 2);
    expect(caught(() => slidingWindows(s, { lookback: 0 })).message).toMatch(
      /lookback must be an integer >= 1, got 0/,
    );
    expect(caught(() => slidingWindows(s, { lookback: 2, stride: 1.5 })).message).toMatch(
      /stride .* got 1.5/,
    );
    const e = caught(() => slidingWindows(s, { lookback: 2, targetColumns: [2] }));
    expect(e.code).toBe('INDEX_OUT_OF_RANGE');
    expect(e.message).toMatch(/targetColumns entry 2 is out of range for a series with 2 columns/);
    expect(caught(() => slidingWindows(zeros([2, 3, 4]), { lookback: 1 })).code).toBe('SHAPE_MISMATCH');
  });
});

// From fixtures/gen_scalers.py (pandas shift + dropna, np.flip).
const LAG = {
  columns: ['Close', 'Close(t-1)', 'Close(t-2)', 'Close(t-3)'],
  frame: [
    [12.0, 12.5, 11.0, 10.0],
    [13.0, 12.0, 12.5, 11.0],
    [14.5, 13.0, 12.0, 12.5],
    [14.0, 14.5, 13.0, 12.0],
    [15.0, 14.0, 14.5, 13.0],
    [16.0, 15.0, 14.0, 14.5],
    [15.5, 16.0, 15.0, 14.0],
  ],
  flippedX: [
    [10.0, 11.0, 12.5],
    [11.0, 12.5, 12.0],
    [12.5, 12.0, 13.0],
    [12.0, 13.0, 14.5],
    [13.0, 14.5, 14.0],
    [14.5, 14.0, 15.0],
    [14.0, 15.0, 16.0],
  ],
};
const CLOSE = [10.0, 11.0, 12.5, 12.0, 13.0, 14.5, 14.0, 15.0, 16.0, 15.5];

describe('lagFrame (seed 000 prepare_dataframe_for_lstm)', () => {
  it('matches pandas shift + dropna, as a view', () => {
    const close = tensor(CLOSE, { dtype: 'float64' });
    const f = lagFrame(close, 3);
    expect(f.columns).toEqual(LAG.columns);
    expect(f.values.shape).toEqual([7, 4]);
    expect(f.values.toArraySync()).toEqual(LAG.frame);
    expect(f.values.storage).toBe(close.storage);
    expect(f.y.toArraySync()).toEqual(LAG.frame.map((r) => r[0]));
    expect(f.X.toArraySync()).toEqual(LAG.frame.map((r) => r.slice(1)));
  });

  it('orders the lags oldest first like np.flip(X, axis=1)', () => {
    const close = tensor(CLOSE, { dtype: 'float64' }).reshape(-1, 1);
    const f = lagFrame(close, 3, { oldestFirst: true });
    expect(f.columns).toEqual(['Close', 'Close(t-3)', 'Close(t-2)', 'Close(t-1)']);
    expect(f.X.toArraySync()).toEqual(LAG.flippedX);
    expect(f.X.storage).toBe(close.storage);
    expect(f.values.toArraySync()).toEqual(LAG.frame.map((r, i) => [r[0], ...LAG.flippedX[i]!]));
  });

  it('reproduces the seed-000 shapes: 6516 closes, lookback 7 -> 6509 rows -> 6183 / 326', () => {
    const close = arange(6516, { dtype: 'float64' });
    const f = lagFrame(close, 7, { oldestFirst: true });
    expect(f.values.shape).toEqual([6509, 8]);
    const { train, test } = chronologicalSplit([f.X.reshape(-1, 7, 1), f.y.reshape(-1, 1)], { train: 0.95 });
    expect(train.map((t) => t.shape)).toEqual([
      [6183, 7, 1],
      [6183, 1],
    ]);
    expect(test.map((t) => t.shape)).toEqual([
      [326, 7, 1],
      [326, 1],
    ]);
    // First training row: Close(t-7)..Close(t-1) = 0..6, target 7.
    expect((train[0]!.toArraySync() as number[][][])[0]!.flat()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect((train[1]!.toArraySync() as number[][])[0]).toEqual([7]);
  });

  it('errors on a multi-column series or too few rows', () => {
    expect(caught(() => lagFrame(zeros([5, 2]), 2)).code).toBe('SHAPE_MISMATCH');
    expect(caught(() => lagFrame(zeros([3]), 3)).message).toMatch(/3 rows .* needs at least 4 rows/);
  });
});

describe('chronologicalSplit', () => {
  it('floors train/validation like int(n * f) and gives the rest to test (seed 000)', () => {
    expect(chronologicalSplit(6509, { train: 0.95 })).toEqual({
      train: { start: 0, stop: 6183, size: 6183 },
      validation: { start: 6183, stop: 6183, size: 0 },
      test: { start: 6183, stop: 6509, size: 326 },
    });
    const r = chronologicalSplit(1000, { train: 0.7, validation: 0.15, test: 0.15 });
    expect([r.train.size, r.validation.size, r.test.size]).toEqual([700, 150, 150]);
    const odd = chronologicalSplit(101, { train: 0.7, validation: 0.2 });
    expect([odd.train.size, odd.validation.size, odd.test.size]).toEqual([70, 20, 11]);
    // int(100 * 0.29) == 28 in Python too (0.29 * 100 = 28.999999999999996).
    expect(chronologicalSplit(100, { train: 0.29 }).train.size).toBe(28);
    // Fractions summing to less than 1 with an explicit test leave trailing rows out.
    const part = chronologicalSplit(100, { train: 0.5, test: 0.2 });
    expect([part.train.size, part.test.size, part.test.stop]).toEqual([50, 20, 70]);
  });

  it('returns views along dim 0 for a tensor', () => {
    const x = labelled(10, 2);
    const s = chronologicalSplit(x, { train: 0.6, validation: 0.2 });
    expect(s.train.shape).toEqual([6, 2]);
    expect(s.validation.toArraySync()).toEqual([
      [600, 601],
      [700, 701],
    ]);
    expect(s.test.storage).toBe(x.storage);
    expect(s.ranges.test).toEqual({ start: 8, stop: 10, size: 2 });
  });

  it('errors on bad fractions and mismatched tensors', () => {
    expect(caught(() => chronologicalSplit(10, { train: 1.2 })).message).toMatch(
      /train fraction must be in \[0, 1\], got 1.2/,
    );
    expect(caught(() => chronologicalSplit(10, { train: 0.8, validation: 0.3 })).message).toMatch(
      /sum to 1.1/,
    );
    const e = caught(() => chronologicalSplit([zeros([5, 2]), zeros([4])], { train: 0.5 }));
    expect(e.code).toBe('SHAPE_MISMATCH');
    expect(e.message).toMatch(/got 5 \(\[5, 2\]\) and 4 \(\[4\]\)/);
  });
});
