import { arange, Generator, GradfolioError, manualSeed, type Tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import {
  ConcatDataset,
  type Dataset,
  isMapDataset,
  randomSplit,
  Subset,
  TensorDataset,
} from '../src/dataset.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (GradfolioError.isInstance(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'no error';
}

function vals(t: Tensor): number[] {
  return Array.from(t.dataSync(), Number);
}

function range(n: number): Dataset<number> {
  return { length: n, get: (i) => i };
}

describe('TensorDataset', () => {
  const X = arange(93 * 7 * 5).reshape(93, 7, 5);
  const y = arange(93).reshape(93, 1);

  it('indexes rows of every tensor', () => {
    const ds = new TensorDataset(X, y);
    expect(ds.length).toBe(93);
    const [x0, y0] = ds.get(2);
    expect(x0.shape).toEqual([7, 5]);
    expect(y0.shape).toEqual([1]);
    expect(vals(x0).slice(0, 3)).toEqual([70, 71, 72]);
    expect(vals(y0)).toEqual([2]);
    const [, yl] = ds.get(-1);
    expect(vals(yl)).toEqual([92]);
    expect(ds.tensors).toHaveLength(2);
  });

  it('rejects mismatched first dims, no tensors, 0-dim tensors and bad indices', () => {
    expect(codeOf(() => new TensorDataset(X, arange(92)))).toMatch(
      /^SHAPE_MISMATCH: .*Size mismatch between tensors.*93, 92/,
    );
    expect(codeOf(() => new TensorDataset())).toMatch(/^INVALID_ARGUMENT: .*at least one tensor/);
    expect(codeOf(() => new TensorDataset(arange(3).sum()))).toMatch(/^INVALID_ARGUMENT: .*0-dimensional/);
    const ds = new TensorDataset(y);
    expect(codeOf(() => ds.get(93))).toMatch(/^INDEX_OUT_OF_RANGE: .*index 93 .*length 93/);
    expect(codeOf(() => ds.get(-94))).toMatch(/^INDEX_OUT_OF_RANGE: .*index -94/);
    expect(codeOf(() => ds.get(1.5))).toMatch(/^INVALID_ARGUMENT: .*integer, got 1.5/);
  });
});

describe('Subset and ConcatDataset', () => {
  it('Subset maps indices', () => {
    const s = new Subset(range(10), [7, 3, 5]);
    expect(s.length).toBe(3);
    expect([s.get(0), s.get(1), s.get(2), s.get(-1)]).toEqual([7, 3, 5, 5]);
    expect(codeOf(() => s.get(3))).toMatch(/^INDEX_OUT_OF_RANGE: .*index 3 .*length 3/);
  });

  it('ConcatDataset chains datasets', () => {
    const c = new ConcatDataset([range(3), { length: 0, get: () => -1 }, { length: 2, get: (i) => 100 + i }]);
    expect(c.length).toBe(5);
    expect(c.cumulativeSizes).toEqual([3, 3, 5]);
    expect([0, 1, 2, 3, 4].map((i) => c.get(i))).toEqual([0, 1, 2, 100, 101]);
    expect(c.get(-1)).toBe(101);
    expect(c.get(-5)).toBe(0);
    expect(codeOf(() => c.get(-6))).toMatch(
      /^INDEX_OUT_OF_RANGE: .*absolute value of index should not exceed dataset length/,
    );
    expect(codeOf(() => c.get(5))).toMatch(/^INDEX_OUT_OF_RANGE: .*index 5/);
    expect(codeOf(() => new ConcatDataset([]))).toMatch(
      /^INVALID_ARGUMENT: .*should not be an empty iterable/,
    );
    const stream = { *[Symbol.iterator]() {} } as unknown as Dataset<number>;
    expect(codeOf(() => new ConcatDataset([range(2), stream]))).toMatch(
      /^INVALID_ARGUMENT: .*does not support IterableDataset/,
    );
  });

  it('isMapDataset tells map-style from iterable', () => {
    expect(isMapDataset(range(2))).toBe(true);
    expect(isMapDataset([1, 2, 3])).toBe(false);
  });
});

describe('randomSplit', () => {
  const covers = (parts: Subset<number>[], n: number): void => {
    const all = parts.flatMap((p) => [...p.indices]).sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
  };

  it('splits by lengths into disjoint covering subsets', () => {
    const parts = randomSplit(range(93), [60, 20, 13], { generator: new Generator(3) });
    expect(parts.map((p) => p.length)).toEqual([60, 20, 13]);
    covers(parts, 93);
    expect(parts[0]!.get(0)).toBe(parts[0]!.indices[0]);
  });

  it('splits by fractions, handing out the remainder round robin (torch >= 1.13)', () => {
    // floor(10 * 0.33) = 3 three times, remainder 1 goes to the first split.
    expect(randomSplit(range(10), [0.33, 0.33, 0.34]).map((p) => p.length)).toEqual([4, 3, 3]);
    // floor(30 * [0.3, 0.3, 0.4]) = [9, 9, 12]: no remainder.
    const parts = randomSplit(range(30), [0.3, 0.3, 0.4], { generator: new Generator(1) });
    expect(parts.map((p) => p.length)).toEqual([9, 9, 12]);
    covers(parts, 30);
    // 93 * [0.7, 0.15, 0.15] = floor [65, 13, 13] = 91, remainder 2 -> [66, 14, 13].
    const p3 = randomSplit(range(93), [0.7, 0.15, 0.15]);
    expect(p3.map((p) => p.length)).toEqual([66, 14, 13]);
    covers(p3, 93);
    expect(randomSplit(range(5), [0.5, 0.5, 0]).map((p) => p.length)).toEqual([3, 2, 0]);
  });

  it('is reproducible with a generator and uses the global one otherwise', () => {
    const a = randomSplit(range(50), [25, 25], { generator: new Generator(7) });
    const b = randomSplit(range(50), [25, 25], { generator: new Generator(7) });
    const c = randomSplit(range(50), [25, 25], { generator: new Generator(8) });
    expect(a[0]!.indices).toEqual(b[0]!.indices);
    expect(a[0]!.indices).not.toEqual(c[0]!.indices);
    manualSeed(11);
    const d = randomSplit(range(50), [25, 25]);
    manualSeed(11);
    const e = randomSplit(range(50), [25, 25]);
    expect(d[1]!.indices).toEqual(e[1]!.indices);
  });

  it('rejects bad lengths', () => {
    expect(codeOf(() => randomSplit(range(10), [3, 6]))).toMatch(
      /^INVALID_ARGUMENT: .*Sum of input lengths does not equal the length of the input dataset!.*\[3, 6\].*10/,
    );
    expect(codeOf(() => randomSplit(range(10), [1.5, -0.5]))).toMatch(
      /^INVALID_ARGUMENT: .*Fraction at index 0 is not between 0 and 1/,
    );
    expect(codeOf(() => randomSplit(range(10), [2.5, 7.5]))).toMatch(
      /^INVALID_ARGUMENT: .*non-negative integers or fractions.*index 0 is 2.5/,
    );
    expect(codeOf(() => randomSplit(range(10), [12, -2]))).toMatch(/^INVALID_ARGUMENT: .*index 1 is -2/);
    expect(codeOf(() => randomSplit(range(10), [Number.NaN, 10]))).toMatch(/^INVALID_ARGUMENT: .*not finite/);
  });
});
