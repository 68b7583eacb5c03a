/**
 * The tree reductions of `kernels/reduce.ts` with and without subgroup operations, on the same device:
 * every reduction (sum, prod, amax, amin, all, any) and input dtype on shapes that take the tree
 * strategy, each run with `context.subgroups` on and off and compared with the CPU backend. Checks that
 * the subgroup pipelines (key suffix `|tree|sg`) were built when the device has the `subgroups`
 * feature; the subgroup half is skipped, with the reason, on devices without it.
 */
import { type DType, manualSeed, randint, randn, type Tensor, tensor } from '@gradfolio/tensor';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { gpuErrors, initTestGPU } from './gpu.js';
import { expectSame, type Tol } from './helpers.js';

const backend = await initTestGPU();
const ctx = backend.context;
/** Whether the device has the feature (tests flip `ctx.subgroups`, so read it once). */
const HAS_SUBGROUPS = ctx.subgroups;
const NO_SUBGROUPS = 'skipped: this device lacks the WebGPU `subgroups` feature';

beforeAll(() => manualSeed(4321));
afterEach(() => {
  ctx.subgroups = HAS_SUBGROUPS;
  vi.restoreAllMocks();
});

/** A seeded uniform [0, 1) generator for the hand-built inputs, so failures reproduce. */
let seed = 12345;
const rand = (): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};

type Op = 'sum' | 'prod' | 'amax' | 'amin' | 'all' | 'any';
type Reduction = (t: Tensor) => Tensor;

/** A reduction over `dim` (all dims when undefined). */
const reduction =
  (op: Op, dim: number | undefined): Reduction =>
  (t) =>
    dim === undefined ? t[op]() : t[op](dim);

/** Tree-strategy layouts: [shape, reduced dim (undefined: all), transposed first]. */
const LAYOUTS: ReadonlyArray<readonly [number[], number | undefined, boolean]> = [
  [[3, 5000], -1, false], // 3 outputs x 2 chunks, then a serial pass
  [[70000], undefined, false], // 18 chunks
  [[2, 3, 4097], -1, false], // 6 outputs x 2 chunks
  [[2, 3, 4097], undefined, false], // 7 chunks
  [[300000], undefined, false], // 74 chunks: the second pass is a tree too
  [[5000, 3], -1, true], // transposed: reduced stride 3
];

/**
 * Random input of `dtype` with values suited to `op` reducing `count` elements per output: products
 * stay finite (and exact in the CPU's float64 for int32), int32 sums wrap, bool all/any are not
 * constant.
 */
function input(op: Op, dtype: DType, shape: number[], count: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (dtype === 'bool') {
    if (op === 'all') return randint(0, 2000, shape).ne(0);
    if (op === 'any') return randint(0, 2000, shape).eq(0);
    return randint(0, 2, shape).to('bool');
  }
  if (dtype === 'float32') return op === 'prod' ? randn(shape).mul(0.01).add(1) : randn(shape);
  if (op === 'sum') return randint(-(2 ** 30), 2 ** 30, shape);
  if (op === 'prod') {
    // ±1 with ~20 threes per output: |product| < 2^53, so the CPU's float64 is exact, and it wraps.
    const a = new Int32Array(n);
    for (let k = 0; k < n; k++) a[k] = rand() < 20 / count ? 3 : rand() < 0.5 ? -1 : 1;
    return tensor(a).reshape(shape);
  }
  return randint(-1_000_000_000, 1_000_000_000, shape);
}

const DTYPES: Record<Op, DType[]> = {
  sum: ['float32', 'int32', 'bool'],
  prod: ['float32', 'int32', 'bool'],
  amax: ['float32', 'int32', 'bool'],
  amin: ['float32', 'int32', 'bool'],
  all: ['float32', 'int32', 'bool'],
  any: ['float32', 'int32', 'bool'],
};

/** Float tolerance: reductions' rtol, atol growing with the count like the sum tests of kernels.test.ts. */
const tolFor = (op: Op, count: number): Tol =>
  op === 'sum' ? { rtol: 1e-4, atol: 4e-5 * Math.sqrt(count) } : { rtol: 1e-4, atol: 1e-5 };

/**
 * Runs `fn` on the CPU and on 'webgpu' with subgroups on (when `sg`) and off, compares each with the
 * CPU, and returns the reduction pipeline keys each run looked up.
 */
async function both(
  fn: Reduction,
  x: Tensor,
  tol: Tol,
  sg: boolean,
): Promise<{ on: string[]; off: string[] }> {
  const want = fn(x);
  const gx = x.to('webgpu');
  const keys: string[] = [];
  const original = ctx.pipeline.bind(ctx);
  vi.spyOn(ctx, 'pipeline').mockImplementation((key, code) => {
    keys.push(key);
    return original(key, code);
  });
  const result = { on: [] as string[], off: [] as string[] };
  for (const useSg of sg ? [true, false] : [false]) {
    keys.length = 0;
    ctx.subgroups = useSg;
    const got = fn(gx);
    await expectSame(got, want, tol);
    got.dispose();
    result[useSg ? 'on' : 'off'] = [...keys];
  }
  gx.dispose();
  vi.restoreAllMocks();
  ctx.subgroups = HAS_SUBGROUPS;
  expect(gpuErrors).toEqual([]);
  return result;
}

/** Asserts that the runs used tree pipelines, with the subgroup variant exactly when it was on. */
function expectVariants(keys: { on: string[]; off: string[] }, op: Op, sg: boolean): void {
  const mine = (ks: string[]) => ks.filter((k) => k.startsWith(`${op}|`));
  expect(mine(keys.off).some((k) => k.endsWith('|tree'))).toBe(true);
  expect(mine(keys.off).some((k) => k.includes('|sg'))).toBe(false);
  if (!sg) return;
  expect(mine(keys.on).some((k) => k.endsWith('|tree|sg'))).toBe(true);
  expect(mine(keys.on).some((k) => k.endsWith('|tree'))).toBe(false);
}

for (const sg of [true, false]) {
  const title = sg
    ? `tree reductions with subgroups${HAS_SUBGROUPS ? '' : ` (${NO_SUBGROUPS})`}`
    : 'tree reductions without subgroups';
  describe(title, () => {
    for (const op of Object.keys(DTYPES) as Op[]) {
      it(`${op}: every dtype and tree layout matches the CPU`, async (t) => {
        if (sg && !HAS_SUBGROUPS) t.skip(NO_SUBGROUPS);
        for (const dtype of DTYPES[op]) {
          for (const [shape, dim, transposed] of LAYOUTS) {
            if (op === 'prod' && dim === undefined && shape.length > 1) continue; // prod takes one dim
            // Elements per output (dim is -1 or all; the transposed case reduces the stored dim 0).
            const count =
              dim === undefined ? shape.reduce((a, b) => a * b, 1) : transposed ? shape[0]! : shape.at(-1)!;
            const base = input(op, dtype, shape, count);
            const x = transposed ? base.T : base;
            const keys = await both(reduction(op, dim), x, tolFor(op, count), sg);
            expectVariants(keys, op, sg);
          }
        }
      });
    }

    it('amax/amin propagate NaN and handle infinities like the CPU', async (t) => {
      if (sg && !HAS_SUBGROUPS) t.skip(NO_SUBGROUPS);
      for (const n of [5000, 70000]) {
        const a = Float32Array.from({ length: 3 * n }, () => rand() * 2 - 1);
        a[n + 4321] = Number.NaN; // row 1: one NaN past the first chunk
        a[2 * n + 7] = Number.POSITIVE_INFINITY; // row 2: +inf and -inf
        a[2 * n + n - 1] = Number.NEGATIVE_INFINITY;
        const x = tensor(a).reshape([3, n]);
        for (const op of ['amax', 'amin'] as const) {
          for (const dim of [-1, undefined]) {
            const keys = await both(reduction(op, dim), x, {}, sg);
            expectVariants(keys, op, sg);
          }
        }
        // A row that is all NaN, and NaN in the first lane of a subgroup.
        a.fill(Number.NaN, 0, n);
        a[n + 4321] = 0.5;
        a[n + 64] = Number.NaN;
        await both(reduction('amax', -1), tensor(a).reshape([3, n]), {}, sg);
        await both(reduction('amin', -1), tensor(a).reshape([3, n]), {}, sg);
      }
    });

    it('all/any on all-true, all-false and one-off patterns', async (t) => {
      if (sg && !HAS_SUBGROUPS) t.skip(NO_SUBGROUPS);
      for (const n of [5000, 70000]) {
        for (const fillValue of [0, 1]) {
          // Row 0 uniform, row 1 with one element flipped past the first chunk, row 2 with the last one.
          const a = new Uint8Array(3 * n).fill(fillValue);
          a[n + 4321] = 1 - fillValue;
          a[3 * n - 1] = 1 - fillValue;
          const x = tensor(a, { dtype: 'bool' }).reshape([3, n]);
          for (const op of ['all', 'any'] as const) {
            for (const dim of [-1, undefined]) {
              const keys = await both(reduction(op, dim), x, {}, sg);
              expectVariants(keys, op, sg);
            }
            // NaN is truthy, -0 is not.
            const f = Float32Array.from(a, (v) => (v === 1 ? Number.NaN : -0));
            await both(reduction(op, -1), tensor(f).reshape([3, n]), {}, sg);
          }
        }
      }
    });
  });
}

describe('subgroup variant', () => {
  it('is built only for the tree strategy (serial and column kernels are shared)', async (t) => {
    if (!HAS_SUBGROUPS) t.skip(NO_SUBGROUPS);
    const keys = await both((x) => x.sum(0), randn([1000, 40]), { rtol: 1e-4, atol: 1e-3 }, true);
    expect(keys.on.filter((k) => k.startsWith('sum|')).every((k) => !k.includes('|sg'))).toBe(true);
    const serial = await both((x) => x.sum(-1), randn([10, 50]), { rtol: 1e-4, atol: 1e-4 }, true);
    expect(serial.on).toEqual(serial.off);
  });
});
