import { expect } from 'vitest';
import { getBackend } from '../backend.js';
import { normal, rand, randint, randn, randperm } from '../creation.js';
import type { DType, TypedArray } from '../dtype.js';
import { GradfolioError } from '../errors.js';
import { Generator, manualSeed } from '../random.js';
import type { Tensor } from '../tensor.js';

/**
 * A property test of a random factory (values cannot come from PyTorch: the generators differ).
 * `run(device)` creates the tensors on `device` and throws (vitest `expect`) when the property fails.
 *
 * @example
 * ```ts
 * const p: RandomProperty = { id: 'rand/range', op: 'rand', run: async (device) => {} };
 * ```
 */
export interface RandomProperty {
  readonly id: string;
  readonly op: string;
  run(device: string): Promise<void>;
}

async function read(t: Tensor): Promise<TypedArray> {
  const d = await t.data();
  t.dispose();
  return d;
}

function stats(d: ArrayLike<number>): { mean: number; std: number; min: number; max: number } {
  let s = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    s += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = s / d.length;
  let ss = 0;
  for (let i = 0; i < d.length; i++) ss += (d[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(ss / (d.length - 1)), min, max };
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** Checks seeded determinism of `make`: the same seed twice (default and own generator) gives equal data. */
async function seeded(make: (g: Generator | undefined) => Tensor): Promise<void> {
  manualSeed(1234);
  const a = await read(make(undefined));
  manualSeed(1234);
  const b = await read(make(undefined));
  expect(sameValues(a, b), 'manualSeed(1234) twice gives the same values').toBe(true);
  const c = await read(make(new Generator().manualSeed(99)));
  const d = await read(make(new Generator().manualSeed(99)));
  expect(sameValues(c, d), 'two Generators seeded with 99 give the same values').toBe(true);
  const e = await read(make(new Generator().manualSeed(100)));
  expect(sameValues(c, e), 'seeds 99 and 100 give different values').toBe(false);
  // A private generator leaves the default stream alone.
  manualSeed(1234);
  make(new Generator().manualSeed(5)).dispose();
  const f = await read(make(undefined));
  expect(sameValues(a, f), 'drawing from a private Generator does not advance the default one').toBe(true);
}

/** Whether `device` can hold `dtype` (float64 is optional for GPU backends). */
function supports(device: string, dtype: DType): boolean {
  return getBackend(device).unsupportedDType?.(dtype) === undefined;
}

/** The float dtypes `device` supports. */
function floats(device: string): Array<'float32' | 'float64'> {
  return supports(device, 'float64') ? ['float32', 'float64'] : ['float32'];
}

function gen(g: Generator | undefined): { generator?: Generator } {
  return g === undefined ? {} : { generator: g };
}

function expectCode(fn: () => unknown, code: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(GradfolioError.isInstance(err), `expected a GradfolioError ${code}`).toBe(true);
  expect((err as GradfolioError).code).toBe(code);
}

/**
 * The property tests of `rand`, `randn`, `randint`, `randperm` and `normal` (the ops of
 * {@link NOT_FROM_TORCH}): shapes, dtypes, ranges, moments of 100k samples (fixed seeds, so not flaky)
 * and seeded determinism with `manualSeed` and `Generator`. `runConformance` registers them.
 *
 * @example
 * ```ts
 * for (const p of randomProperties) it(p.id, () => p.run('cpu'));
 * ```
 */
export const randomProperties: readonly RandomProperty[] = [
  {
    id: 'rand/shape-dtype-range',
    op: 'rand',
    async run(device) {
      manualSeed(0);
      const x = rand([3, 4, 5], { device });
      expect(x.shape).toEqual([3, 4, 5]);
      expect(x.dtype).toBe('float32');
      expect(x.device).toBe(device);
      if (supports(device, 'float64')) {
        const y = rand(7, { device, dtype: 'float64' });
        expect(y.shape).toEqual([7]);
        expect(y.dtype).toBe('float64');
        y.dispose();
      }
      expect(rand([0, 3], { device }).shape).toEqual([0, 3]);
      const d = await read(x);
      for (const v of d) expect(v >= 0 && v < 1).toBe(true);
      expectCode(() => rand([2], { device, dtype: 'int32' }), 'DTYPE_MISMATCH');
    },
  },
  {
    id: 'rand/moments-100k',
    op: 'rand',
    async run(device) {
      for (const dtype of floats(device)) {
        manualSeed(7);
        const s = stats(await read(rand([100_000], { device, dtype })));
        expect(Math.abs(s.mean - 0.5)).toBeLessThan(0.01);
        expect(Math.abs(s.std - Math.sqrt(1 / 12))).toBeLessThan(0.01);
        expect(s.min).toBeGreaterThanOrEqual(0);
        expect(s.max).toBeLessThan(1);
      }
    },
  },
  {
    id: 'rand/seeded',
    op: 'rand',
    run: (device) => seeded((g) => rand([64], { device, ...gen(g) })),
  },
  {
    id: 'randn/shape-dtype',
    op: 'randn',
    async run(device) {
      const x = randn([2, 3], { device });
      expect(x.shape).toEqual([2, 3]);
      expect(x.dtype).toBe('float32');
      expect(x.device).toBe(device);
      x.dispose();
      for (const dtype of floats(device)) {
        const y = randn([4], { device, dtype });
        expect(y.dtype).toBe(dtype);
        y.dispose();
      }
      expect(randn([], { device }).shape).toEqual([]);
      expect(randn([3, 0], { device }).numel).toBe(0);
      expectCode(() => randn([2], { device, dtype: 'bool' }), 'DTYPE_MISMATCH');
    },
  },
  {
    id: 'randn/mean-std-100k',
    op: 'randn',
    async run(device) {
      for (const dtype of floats(device)) {
        manualSeed(42);
        const d = await read(randn([100_000], { device, dtype }));
        const s = stats(d);
        expect(Math.abs(s.mean)).toBeLessThan(0.01);
        expect(Math.abs(s.std - 1)).toBeLessThan(0.01);
        // Tails of a normal: about 4.6% beyond 2 sigma, no NaN or infinity.
        let beyond2 = 0;
        for (const v of d) {
          expect(Number.isFinite(v)).toBe(true);
          if (Math.abs(v) > 2) beyond2++;
        }
        expect(Math.abs(beyond2 / d.length - 0.0455)).toBeLessThan(0.005);
      }
    },
  },
  {
    id: 'randn/seeded',
    op: 'randn',
    run: (device) => seeded((g) => randn([3, 21], { device, ...gen(g) })),
  },
  {
    id: 'randint/bounds-dtype',
    op: 'randint',
    async run(device) {
      manualSeed(3);
      const x = randint(-3, 4, [10_000], { device });
      expect(x.dtype).toBe('int32');
      expect(x.shape).toEqual([10_000]);
      const d = await read(x);
      const seen = new Set<number>();
      for (const v of d) {
        expect(Number.isInteger(v) && v >= -3 && v < 4).toBe(true);
        seen.add(v);
      }
      expect([...seen].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
      const fdt = floats(device).at(-1)!;
      const f = randint(0, 10, [2, 5], { device, dtype: fdt });
      expect(f.dtype).toBe(fdt);
      expect(f.shape).toEqual([2, 5]);
      for (const v of await read(f)) expect(Number.isInteger(v) && v >= 0 && v < 10).toBe(true);
      const one = await read(randint(5, 6, [20], { device }));
      for (const v of one) expect(v).toBe(5);
      expectCode(() => randint(3, 3, [2], { device }), 'INVALID_ARGUMENT');
    },
  },
  {
    id: 'randint/uniform-100k',
    op: 'randint',
    async run(device) {
      manualSeed(11);
      const d = await read(randint(0, 10, [100_000], { device }));
      const counts = new Array<number>(10).fill(0);
      for (const v of d) counts[v]! += 1;
      for (const c of counts) expect(Math.abs(c / d.length - 0.1)).toBeLessThan(0.01);
    },
  },
  {
    id: 'randint/seeded',
    op: 'randint',
    run: (device) => seeded((g) => randint(-1000, 1000, [50], { device, ...gen(g) })),
  },
  {
    id: 'randperm/permutation',
    op: 'randperm',
    async run(device) {
      manualSeed(5);
      const p = randperm(1000, { device });
      expect(p.dtype).toBe('int32');
      expect(p.shape).toEqual([1000]);
      const d = [...(await read(p))];
      expect([...d].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      expect(d.every((v, i) => v === i)).toBe(false);
      expect(randperm(0, { device }).shape).toEqual([0]);
      expect([...(await read(randperm(1, { device })))]).toEqual([0]);
      const fdt = floats(device).at(-1)!;
      const f = randperm(5, { device, dtype: fdt });
      expect(f.dtype).toBe(fdt);
      expect([...(await read(f))].sort()).toEqual([0, 1, 2, 3, 4]);
    },
  },
  {
    id: 'randperm/first-position-uniform',
    op: 'randperm',
    async run(device) {
      manualSeed(8);
      const counts = new Array<number>(4).fill(0);
      for (let k = 0; k < 1000; k++) {
        const d = await read(randperm(4, { device }));
        counts[d[0]!]! += 1;
      }
      for (const c of counts) expect(Math.abs(c / 1000 - 0.25)).toBeLessThan(0.06);
    },
  },
  {
    id: 'randperm/seeded',
    op: 'randperm',
    run: (device) => seeded((g) => randperm(100, { device, ...gen(g) })),
  },
  {
    id: 'normal/mean-std-100k',
    op: 'normal',
    async run(device) {
      manualSeed(21);
      const x = normal(3, 0.5, [100_000], { device });
      expect(x.dtype).toBe('float32');
      const s = stats(await read(x));
      expect(Math.abs(s.mean - 3)).toBeLessThan(0.01);
      expect(Math.abs(s.std - 0.5)).toBeLessThan(0.01);
      const ydt = floats(device).at(-1)!;
      const y = normal(-2, 4, [100_000], { device, dtype: ydt });
      expect(y.dtype).toBe(ydt);
      const t = stats(await read(y));
      expect(Math.abs(t.mean + 2)).toBeLessThan(0.04);
      expect(Math.abs(t.std - 4)).toBeLessThan(0.04);
    },
  },
  {
    id: 'normal/shape-and-degenerate',
    op: 'normal',
    async run(device) {
      const x = normal(1.5, 0, [2, 3], { device });
      expect(x.shape).toEqual([2, 3]);
      for (const v of await read(x)) expect(v).toBe(1.5);
      expectCode(() => normal(0, -1, [2], { device }), 'INVALID_ARGUMENT');
    },
  },
  {
    id: 'normal/seeded',
    op: 'normal',
    run: (device) => seeded((g) => normal(0, 2, [40], { device, ...gen(g) })),
  },
];
