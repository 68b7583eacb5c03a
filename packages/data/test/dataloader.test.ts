import {
  arange,
  Generator,
  GradfolioError,
  manualSeed,
  randn,
  stack,
  type Tensor,
  tensor,
} from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { defaultCollate } from '../src/collate.js';
import { DataLoader } from '../src/dataloader.js';
import { type Dataset, type IterableDataset, randomSplit, Subset, TensorDataset } from '../src/dataset.js';
import { BatchSampler, RandomSampler, SequentialSampler, SubsetRandomSampler } from '../src/sampler.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (GradfolioError.isInstance(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  return 'no error';
}

async function codeOfAsync(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
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

/** Seed 003's case: 93 windows of [7, 5] and targets [1]; y[i] = i so batches reveal their indices. */
function seed003(): TensorDataset<[Tensor, Tensor]> {
  const X = arange(93 * 7 * 5, { dtype: 'float32' }).reshape(93, 7, 5);
  const y = arange(93, { dtype: 'float32' }).reshape(93, 1);
  return new TensorDataset(X, y);
}

describe('seed 003: 93 windows, batch 20', () => {
  it('dropLast gives 4 batches of [20, 7, 5] and [20, 1]', () => {
    const loader = new DataLoader(seed003(), { batchSize: 20, dropLast: true });
    expect(loader.length).toBe(4);
    const batches = [...loader];
    expect(batches).toHaveLength(4);
    for (const [xb, yb] of batches) {
      expect(xb.shape).toEqual([20, 7, 5]);
      expect(yb.shape).toEqual([20, 1]);
    }
    expect(vals(batches[1]![1])).toEqual(Array.from({ length: 20 }, (_, i) => 20 + i));
    expect(vals(batches[0]![0]).slice(35, 37)).toEqual([35, 36]);
  });

  it('without dropLast gives 5 batches, the last of 13', () => {
    const loader = new DataLoader(seed003(), { batchSize: 20 });
    expect(loader.length).toBe(5);
    const shapes = [...loader].map(([xb, yb]) => [xb.shape, yb.shape]);
    expect(shapes).toEqual([
      ...Array.from({ length: 4 }, () => [
        [20, 7, 5],
        [20, 1],
      ]),
      [
        [13, 7, 5],
        [13, 1],
      ],
    ]);
  });

  it('the indexSelect fast path equals reading and stacking rows', () => {
    const ds = seed003();
    const fast = [...new DataLoader(ds, { batchSize: 20, shuffle: true, generator: new Generator(3) })];
    const slow = [
      ...new DataLoader(ds, {
        batchSize: 20,
        shuffle: true,
        generator: new Generator(3),
        collateFn: (samples) => [stack(samples.map((s) => s[0])), stack(samples.map((s) => s[1]))],
      }),
    ];
    expect(fast.length).toBe(slow.length);
    for (const [k, [xb, yb]] of fast.entries()) {
      expect(vals(xb)).toEqual(vals(slow[k]![0]!));
      expect(vals(yb)).toEqual(vals(slow[k]![1]!));
      expect(xb.dtype).toBe(slow[k]![0]!.dtype);
    }
    // Through Subsets (randomSplit) too.
    const [train] = randomSplit(ds, [0.8, 0.2], { generator: new Generator(0) });
    const viaSubset = [...new DataLoader(train!, { batchSize: 16 })];
    const expected = train!.indices.slice(0, 16);
    expect(vals(viaSubset[0]![1])).toEqual(expected);
    expect(viaSubset.map(([xb]) => xb.shape[0])).toEqual([16, 16, 16, 16, 11]);
    const nested = new Subset(train!, [2, -1]);
    const [[nx, ny]] = [...new DataLoader(nested, { batchSize: 2 })] as [[Tensor, Tensor]];
    expect(vals(ny)).toEqual([train!.indices[2]!, train!.indices[train!.length - 1]!]);
    expect(nx.shape).toEqual([2, 7, 5]);
  });
});

describe('shuffle', () => {
  const order = (loader: DataLoader<[Tensor, Tensor]>): number[] => [...loader].flatMap(([, yb]) => vals(yb));

  it('is a permutation, reproducible with the same seed, different with another, reshuffled each epoch', () => {
    const ds = seed003();
    const a = new DataLoader(ds, { batchSize: 20, shuffle: true, generator: new Generator(3) });
    const b = new DataLoader(ds, { batchSize: 20, shuffle: true, generator: new Generator(3) });
    const c = new DataLoader(ds, { batchSize: 20, shuffle: true, generator: new Generator(4) });
    const a1 = order(a);
    expect([...a1].sort((p, q) => p - q)).toEqual(Array.from({ length: 93 }, (_, i) => i));
    expect(a1).not.toEqual(Array.from({ length: 93 }, (_, i) => i));
    expect(order(b)).toEqual(a1);
    expect(order(c)).not.toEqual(a1);
    const a2 = order(a);
    expect(a2).not.toEqual(a1);
    expect(order(b)).toEqual(a2);
  });

  it('uses the global generator without one', () => {
    const ds = seed003();
    manualSeed(5);
    const x = order(new DataLoader(ds, { batchSize: 10, shuffle: true }));
    manualSeed(5);
    const y = order(new DataLoader(ds, { batchSize: 10, shuffle: true }));
    expect(x).toEqual(y);
  });

  it('dropLast with shuffle drops the incomplete batch', () => {
    const loader = new DataLoader(seed003(), {
      batchSize: 20,
      shuffle: true,
      dropLast: true,
      generator: new Generator(3),
    });
    const ys = [...loader].map(([, yb]) => vals(yb));
    expect(ys).toHaveLength(4);
    expect(new Set(ys.flat()).size).toBe(80);
  });
});

describe('samplers', () => {
  it('SequentialSampler', () => {
    const s = new SequentialSampler({ length: 4 });
    expect([...s]).toEqual([0, 1, 2, 3]);
    expect(s.length).toBe(4);
  });

  it('RandomSampler without and with replacement, numSamples, generator', () => {
    const s = new RandomSampler(range(10), { generator: new Generator(1) });
    const e1 = [...s];
    const e2 = [...s];
    expect([...e1].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(e2).not.toEqual(e1);
    expect([...new RandomSampler(range(10), { generator: new Generator(1) })]).toEqual(e1);
    expect(s.length).toBe(10);

    const more = [...new RandomSampler(range(4), { numSamples: 10, generator: new Generator(2) })];
    expect(more).toHaveLength(10);
    expect([...more.slice(0, 4)].sort()).toEqual([0, 1, 2, 3]);
    expect([...more.slice(4, 8)].sort()).toEqual([0, 1, 2, 3]);
    expect(new Set(more.slice(8)).size).toBe(2);

    const rep = new RandomSampler(range(3), {
      replacement: true,
      numSamples: 50,
      generator: new Generator(9),
    });
    const drawn = [...rep];
    expect(drawn).toHaveLength(50);
    expect(rep.length).toBe(50);
    expect(drawn.every((i) => i >= 0 && i < 3)).toBe(true);
    expect(new Set(drawn).size).toBe(3);
  });

  it('RandomSampler errors', () => {
    expect(codeOf(() => new RandomSampler(range(3), { numSamples: 0 }))).toMatch(
      /^INVALID_ARGUMENT: .*numSamples should be a positive integer value, but got numSamples=0/,
    );
    expect(codeOf(() => new RandomSampler(range(0)))).toMatch(/numSamples=0/);
    expect(codeOf(() => new RandomSampler(range(3), { numSamples: 2.5 }))).toMatch(/numSamples=2.5/);
    expect(codeOf(() => new RandomSampler(range(3), { replacement: 'yes' as unknown as boolean }))).toMatch(
      /^INVALID_ARGUMENT: .*replacement should be a boolean value, but got replacement=yes/,
    );
    const src = { length: 2 };
    const s = new RandomSampler(src, { numSamples: 3 });
    (src as { length: number }).length = 0;
    expect(codeOf(() => [...s])).toMatch(/^INVALID_ARGUMENT: .*empty data source/);
  });

  it('SubsetRandomSampler permutes its indices', () => {
    const s = new SubsetRandomSampler([10, 20, 30, 40], { generator: new Generator(0) });
    const e1 = [...s];
    expect([...e1].sort()).toEqual([10, 20, 30, 40]);
    expect(s.length).toBe(4);
    expect([...new SubsetRandomSampler([10, 20, 30, 40], { generator: new Generator(0) })]).toEqual(e1);
    expect([...new SubsetRandomSampler([])]).toEqual([]);
  });

  it('BatchSampler groups, with ceil/floor lengths', () => {
    const keep = new BatchSampler(new SequentialSampler({ length: 10 }), 3, false);
    expect([...keep]).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
    expect(keep.length).toBe(4);
    const drop = new BatchSampler(new SequentialSampler({ length: 10 }), 3, true);
    expect([...drop]).toEqual([
      [0, 1, 2],
      [3, 4, 5],
      [6, 7, 8],
    ]);
    expect(drop.length).toBe(3);
    expect(new BatchSampler(new SequentialSampler({ length: 93 }), 20, true).length).toBe(4);
    expect(new BatchSampler(new SequentialSampler({ length: 93 }), 20, false).length).toBe(5);
  });

  it('BatchSampler errors', () => {
    const seq = new SequentialSampler({ length: 3 });
    expect(codeOf(() => new BatchSampler(seq, 0, false))).toMatch(
      /^INVALID_ARGUMENT: .*batchSize should be a positive integer value, but got batchSize=0/,
    );
    expect(codeOf(() => new BatchSampler(seq, true as unknown as number, false))).toMatch(/batchSize=true/);
    expect(codeOf(() => new BatchSampler(seq, 2, 1 as unknown as boolean))).toMatch(
      /^INVALID_ARGUMENT: .*dropLast should be a boolean value, but got dropLast=1/,
    );
    const noLen = new BatchSampler(
      {
        *[Symbol.iterator]() {
          yield 0;
        },
      },
      2,
      false,
    );
    expect([...noLen]).toEqual([[0]]);
    expect(codeOf(() => noLen.length)).toMatch(/^UNSUPPORTED: .*no length/);
  });

  it('DataLoader with a sampler and with a batch sampler', () => {
    const ds = seed003();
    const withSampler = new DataLoader(ds, { batchSize: 2, sampler: [5, 1, 90] });
    expect(withSampler.length).toBe(2);
    expect([...withSampler].map(([, yb]) => vals(yb))).toEqual([[5, 1], [90]]);
    const withBatches = new DataLoader(ds, { batchSampler: [[0, 2], [4], [6, 7, 8]] });
    expect(withBatches.length).toBe(3);
    expect(withBatches.batchSize).toBeUndefined();
    expect([...withBatches].map(([, yb]) => vals(yb))).toEqual([[0, 2], [4], [6, 7, 8]]);
    const sub = new DataLoader(ds, {
      batchSize: 3,
      sampler: new SubsetRandomSampler([1, 2, 3, 4, 5, 6], { generator: new Generator(2) }),
    });
    expect([...sub].flatMap(([, yb]) => vals(yb)).sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('collate', () => {
  it('stacks tensors, numbers, booleans, strings, tuples and objects', () => {
    type Sample = [Tensor, number, number, boolean, string, { k: number; n: [Tensor, number] }];
    const b = defaultCollate<Sample>([
      [tensor([1, 2]), 1, 0.5, true, 'a', { k: 3, n: [tensor(1.5), 2] }],
      [tensor([3, 4]), 2, 1, false, 'b', { k: 4, n: [tensor(2.5), 3] }],
    ]);
    const [t, ints, floats, bools, strs, obj] = b;
    expect(t.shape).toEqual([2, 2]);
    expect(vals(t)).toEqual([1, 2, 3, 4]);
    expect(ints.dtype).toBe('int32');
    expect(vals(ints)).toEqual([1, 2]);
    expect(floats.dtype).toBe('float32');
    expect(vals(floats)).toEqual([0.5, 1]);
    expect(bools.dtype).toBe('bool');
    expect(strs).toEqual(['a', 'b']);
    expect(vals(obj.k)).toEqual([3, 4]);
    expect(obj.n[0].shape).toEqual([2]);
    expect(vals(obj.n[0])).toEqual([1.5, 2.5]);
    expect(vals(obj.n[1])).toEqual([2, 3]);
  });

  it('works inside a DataLoader with object samples and a custom collateFn', () => {
    const ds: Dataset<{ x: Tensor; label: number }> = {
      length: 5,
      get: (i) => ({ x: tensor([i, i * 10]), label: i % 2 }),
    };
    const batches = [...new DataLoader(ds, { batchSize: 2 })];
    expect(batches).toHaveLength(3);
    expect(batches[0]!.x.shape).toEqual([2, 2]);
    expect(vals(batches[2]!.x)).toEqual([4, 40]);
    expect(vals(batches[1]!.label)).toEqual([0, 1]);
    const custom = new DataLoader(ds, { batchSize: 2, collateFn: (s) => s.map((e) => e.label) });
    expect([...custom]).toEqual([[0, 1], [0, 1], [0]]);
  });

  it('errors', () => {
    expect(codeOf(() => defaultCollate([]))).toMatch(/^INVALID_ARGUMENT: .*non-empty batch/);
    expect(codeOf(() => defaultCollate([[1, 2], [3]]))).toMatch(
      /^SHAPE_MISMATCH: .*each element in list of batch should be of equal size.*sample 1 has 1/,
    );
    expect(codeOf(() => defaultCollate<unknown>([tensor([1]), 2]))).toMatch(
      /^INVALID_ARGUMENT: .*expected a Tensor .*sample 1 has number/,
    );
    expect(
      codeOf(() =>
        defaultCollate<unknown>([
          [1, 'x'],
          [2, 3],
        ]),
      ),
    ).toMatch(/^INVALID_ARGUMENT: .*expected a string at sample\[1\].*sample 1 has number/);
    expect(codeOf(() => defaultCollate<unknown>([{ a: 1 }, { b: 2 }]))).toMatch(
      /^INVALID_ARGUMENT: .*key 'a' of sample 0 is missing from sample 1/,
    );
    expect(codeOf(() => defaultCollate<unknown>([null, null]))).toMatch(/^INVALID_ARGUMENT: .*found null/);
    expect(codeOf(() => defaultCollate([tensor([1, 2]), tensor([1, 2, 3])]))).toMatch(/^SHAPE_MISMATCH/);
  });
});

describe('iterable datasets', () => {
  const stream = (n: number): IterableDataset<number> => ({
    *[Symbol.iterator]() {
      for (let i = 0; i < n; i++) yield i;
    },
  });

  it('batches in stream order, with length when the dataset has one', async () => {
    const loader = new DataLoader(stream(7), { batchSize: 3 });
    expect([...loader].map(vals)).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    const dropped = new DataLoader(stream(7), { batchSize: 3, dropLast: true });
    expect([...dropped].map(vals)).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    const asyncBatches: number[][] = [];
    for await (const b of dropped) asyncBatches.push(vals(b));
    expect(asyncBatches).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(codeOf(() => loader.length)).toMatch(/^UNSUPPORTED: .*no length/);
    const sized = Object.assign(stream(7), { length: 7 });
    expect(new DataLoader(sized, { batchSize: 3 }).length).toBe(3);
    expect(new DataLoader(sized, { batchSize: 3, dropLast: true }).length).toBe(2);
  });

  it('reads async iterables with for await only', async () => {
    const asyncStream: IterableDataset<number> = {
      async *[Symbol.asyncIterator]() {
        for (let i = 0; i < 5; i++) yield i * 2;
      },
    };
    const loader = new DataLoader(asyncStream, { batchSize: 2, prefetch: 2 });
    const out: number[][] = [];
    for await (const b of loader) out.push(vals(b));
    expect(out).toEqual([[0, 2], [4, 6], [8]]);
    expect(codeOf(() => [...loader])).toMatch(/^UNSUPPORTED: .*for await/);
  });

  it('rejects shuffle, sampler and batchSampler', () => {
    expect(codeOf(() => new DataLoader(stream(3), { shuffle: true }))).toMatch(
      /^INVALID_ARGUMENT: .*IterableDataset: expected unspecified shuffle option, but got shuffle=true/,
    );
    expect(codeOf(() => new DataLoader(stream(3), { sampler: [0] }))).toMatch(/unspecified sampler option/);
    expect(codeOf(() => new DataLoader(stream(3), { batchSampler: [[0]] }))).toMatch(
      /unspecified batchSampler option/,
    );
  });
});

describe('async iteration and prefetch', () => {
  it('for await yields the same batches as the sync iterator, with and without prefetch', async () => {
    const ds = seed003();
    for (const prefetch of [0, 1, 3, 10]) {
      const loader = new DataLoader(ds, {
        batchSize: 20,
        shuffle: true,
        generator: new Generator(3),
        prefetch,
      });
      const sync = [...new DataLoader(ds, { batchSize: 20, shuffle: true, generator: new Generator(3) })];
      const got: Tensor[] = [];
      for await (const [xb, yb] of loader) {
        expect(xb.shape[1]).toBe(7);
        got.push(yb);
      }
      expect(got.map(vals)).toEqual(sync.map(([, yb]) => vals(yb)));
    }
  });

  it('prepares up to prefetch batches ahead', async () => {
    let reads = 0;
    const ds: Dataset<number> = {
      length: 10,
      get: (i) => {
        reads++;
        return i;
      },
    };
    const loader = new DataLoader(ds, { batchSize: 1, prefetch: 3 });
    const seen: number[] = [];
    for await (const b of loader) {
      seen.push(vals(b)[0]!);
      if (seen.length === 1) {
        await new Promise((r) => setTimeout(r, 20));
        // The consumed batch plus 3 prepared ahead.
        expect(reads).toBe(4);
      }
      if (seen.length === 2) break;
    }
    expect(seen).toEqual([0, 1]);
    let reads2 = 0;
    const ds2: Dataset<number> = {
      length: 10,
      get: (i) => {
        reads2++;
        return i;
      },
    };
    for await (const _ of new DataLoader(ds2, { batchSize: 1 })) {
      await new Promise((r) => setTimeout(r, 5));
      expect(reads2).toBe(1);
      break;
    }
  });

  it('propagates dataset errors to the consumer', async () => {
    const ds: Dataset<number> = {
      length: 4,
      get: (i) => {
        if (i === 2) throw new GradfolioError('INVALID_ARGUMENT', `bad sample ${i}`);
        return i;
      },
    };
    const msg = await codeOfAsync(async () => {
      for await (const _ of new DataLoader(ds, { batchSize: 1, prefetch: 3 })) {
        // consume
      }
    });
    expect(msg).toBe('INVALID_ARGUMENT: bad sample 2');
    expect(codeOf(() => [...new DataLoader(ds, { batchSize: 1 })])).toBe('INVALID_ARGUMENT: bad sample 2');
  });
});

describe('DataLoader options', () => {
  it('defaults: batch size 1, sequential, length', () => {
    const loader = new DataLoader(range(3));
    expect(loader.batchSize).toBe(1);
    expect(loader.length).toBe(3);
    expect([...loader].map(vals)).toEqual([[0], [1], [2]]);
    expect(loader.sampler).toBeInstanceOf(SequentialSampler);
    expect(new DataLoader(range(3), { shuffle: true }).sampler).toBeInstanceOf(RandomSampler);
  });

  it('length is ceil without dropLast and floor with it', () => {
    for (const [n, bs] of [
      [93, 20],
      [100, 20],
      [5, 7],
      [0, 3],
    ] as const) {
      expect(new DataLoader(range(n), { batchSize: bs }).length).toBe(Math.ceil(n / bs));
      expect(new DataLoader(range(n), { batchSize: bs, dropLast: true }).length).toBe(Math.floor(n / bs));
      expect([...new DataLoader(range(n), { batchSize: bs, dropLast: true })]).toHaveLength(
        Math.floor(n / bs),
      );
    }
  });

  it('validates options like torch', () => {
    expect(codeOf(() => new DataLoader(range(3), { batchSize: 0 }))).toMatch(
      /^INVALID_ARGUMENT: .*batchSize should be a positive integer value, but got batchSize=0/,
    );
    expect(codeOf(() => new DataLoader(range(3), { batchSize: 2.5 }))).toMatch(/batchSize=2.5/);
    expect(codeOf(() => new DataLoader(range(3), { dropLast: 'no' as unknown as boolean }))).toMatch(
      /dropLast should be a boolean value, but got dropLast=no/,
    );
    expect(codeOf(() => new DataLoader(range(3), { shuffle: 1 as unknown as boolean }))).toMatch(
      /shuffle should be a boolean value, but got shuffle=1/,
    );
    expect(codeOf(() => new DataLoader(range(3), { prefetch: -1 }))).toMatch(
      /prefetch should be a non-negative integer, but got prefetch=-1/,
    );
    expect(codeOf(() => new DataLoader(range(3), { sampler: [0], shuffle: true }))).toMatch(
      /^INVALID_ARGUMENT: .*sampler option is mutually exclusive with shuffle/,
    );
    for (const extra of [{ batchSize: 2 }, { shuffle: true }, { sampler: [0] }, { dropLast: true }]) {
      expect(codeOf(() => new DataLoader(range(3), { batchSampler: [[0]], ...extra }))).toMatch(
        /batchSampler option is mutually exclusive with batchSize, shuffle, sampler, and dropLast/,
      );
    }
    const unsized = new DataLoader(range(3), {
      sampler: {
        *[Symbol.iterator]() {
          yield 1;
        },
      },
    });
    expect([...unsized].map(vals)).toEqual([[1]]);
    expect(codeOf(() => unsized.length)).toMatch(/^UNSUPPORTED: .*no length/);
    const unsizedBatches = new DataLoader(range(3), {
      batchSampler: {
        *[Symbol.iterator]() {
          yield [0, 1];
        },
      },
    });
    expect(codeOf(() => unsizedBatches.length)).toMatch(/^UNSUPPORTED: .*batch sampler has no length/);
  });

  it('reports out-of-range sampler indices on the fast path too', () => {
    const ds = seed003();
    expect(codeOf(() => [...new DataLoader(ds, { sampler: [93] })])).toMatch(
      /^INDEX_OUT_OF_RANGE: .*index 93 .*length 93/,
    );
    expect(codeOf(() => [...new DataLoader(range(3), { sampler: [3] })])).toBe('no error');
  });

  it('randn data round trip', () => {
    const X = randn([10, 3], { generator: new Generator(1) });
    const [[xb]] = [...new DataLoader(new TensorDataset(X), { batchSize: 10 })] as [[Tensor]];
    expect(vals(xb)).toEqual(vals(X));
  });
});
