/**
 * The kernels added beyond fill/copy/add/mul/sum/matmul, against the CPU backend, on what the
 * PyTorch fixtures do not stress: wide input ranges for the WGSL math functions, int32 wraparound and
 * the CPU's ToInt32 conversions, every reduction strategy (serial, column, tree, two-pass) for the
 * non-sum reductions, long lines for the serial line kernels, and duplicate scatter indices.
 */
import {
  atan2,
  cholesky,
  elu,
  eye,
  GradfolioError,
  inverse,
  linspace,
  manualSeed,
  maximum,
  minimum,
  pow,
  rand,
  randint,
  randn,
  remainder,
  sigmoidBackward,
  slice,
  solve,
  type Tensor,
  tanhBackward,
  tensor,
  where,
} from '@gradfolio/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTestGPU } from './gpu.js';
import { checkBoth } from './helpers.js';

beforeAll(async () => {
  await initTestGPU();
  manualSeed(4321);
});

const i32 = (values: number[]) => tensor(values, { dtype: 'int32' });
const f32 = (values: number[]) => tensor(values, { dtype: 'float32' });
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

/** The pointwise tolerance of the conformance suite (float32, non-accumulating ops). */
const POINTWISE = { rtol: 1e-5, atol: 1e-6 };
/** The accumulating-op tolerance (float32 reductions and scans). */
const ACCUMULATING = { rtol: 1e-4, atol: 1e-5 };

describe('float math over wide ranges', () => {
  const wide = linspace(-30, 30, 2001);
  const small = linspace(-1e-3, 1e-3, 1001);
  it.each([
    ['exp', (x: Tensor) => x.exp()],
    ['expm1', (x: Tensor) => x.expm1()],
    ['tanh', (x: Tensor) => x.tanh()],
    ['sigmoid', (x: Tensor) => x.sigmoid()],
    ['sin', (x: Tensor) => x.sin()],
    ['cos', (x: Tensor) => x.cos()],
    ['gelu', (x: Tensor) => x.gelu()],
    ['gelu tanh', (x: Tensor) => x.gelu({ approximate: 'tanh' })],
    ['softplus', (x: Tensor) => x.softplus({ beta: 0.7, threshold: 12 })],
    ['elu', (x: Tensor) => elu(x, 0.3)],
    ['round', (x: Tensor) => x.mul(3.7).round()],
  ])('%s matches the CPU on [-30, 30] and near 0', async (_name, fn) => {
    await checkBoth(fn, [wide], POINTWISE);
    await checkBoth(fn, [small], POINTWISE);
  });

  it('log, log1p, sqrt and rsqrt over many magnitudes', async () => {
    const mags = tensor(
      Array.from({ length: 121 }, (_, k) => 10 ** ((k - 60) / 2)),
      { dtype: 'float32' },
    );
    for (const fn of [
      (x: Tensor) => x.log(),
      (x: Tensor) => x.log1p(),
      (x: Tensor) => x.neg().mul(0.9).log1p(),
      (x: Tensor) => x.sqrt(),
      (x: Tensor) => x.rsqrt(),
    ]) {
      await checkBoth(fn, [mags], POINTWISE);
    }
    await checkBoth((x) => x.log1p(), [linspace(-0.999, 3, 1001)], POINTWISE);
  });

  it('sin and cos of large arguments', async () => {
    await checkBoth((x) => x.sin(), [linspace(-2000, 2000, 4001)], POINTWISE);
    await checkBoth((x) => x.cos(), [linspace(-2000, 2000, 4001)], POINTWISE);
  });

  it('pow: negative bases, integer and fractional exponents, signed zeros and infinities', async () => {
    const base = randn([40, 1]).mul(3);
    const expo = tensor([-3, -2, -1, -0.5, 0, 0.5, 1, 2, 3, 4.5, 7, 10, 33], { dtype: 'float32' });
    await checkBoth((a, b) => pow(a, b), [base, expo], POINTWISE);
    const specials = [-0, 0, -2, 2, -0.5, 0.5, 1, -1, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    const a = tensor(specials, { dtype: 'float32' }).view(-1, 1);
    const b = tensor([...specials, -3, 3, Number.NaN], { dtype: 'float32' });
    await checkBoth((x, y) => pow(x, y), [a, b], POINTWISE);
  });

  it('remainder is exact (Python sign) even with large quotients', async () => {
    const a = randn([50, 1]).mul(1e5);
    const b = tensor([0.3, -0.3, 7, -7, 1e-3, 123.456, -0.001], { dtype: 'float32' });
    await checkBoth((x, y) => remainder(x, y), [a, b], POINTWISE);
    // Exact multiples and near-multiples.
    await checkBoth(
      (x, y) => remainder(x, y),
      [f32([6, -6, 6, -6, 0.75, 1e6, -1e6]), f32([3, 3, -3, -3, 0.25, 0.1, 0.1])],
    );
  });

  it('atan2 in every quadrant, with zeros and infinities', async () => {
    await checkBoth((y, x) => atan2(y, x), [randn([30, 1]), randn([1, 30])], POINTWISE);
    const v = [0, -0, 1, -1, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
    await checkBoth((y, x) => atan2(y, x), [f32(v).view(-1, 1), f32(v)], POINTWISE);
  });

  it('tanhBackward and sigmoidBackward, including saturated outputs', async () => {
    const g = randn([64]);
    const y = tensor(
      Array.from({ length: 64 }, (_, k) => Math.tanh((k - 32) / 4)),
      { dtype: 'float32' },
    );
    await checkBoth((a, b) => tanhBackward(a, b), [g, y], POINTWISE);
    await checkBoth((a, b) => sigmoidBackward(a, b), [g, y.add(1).mul(0.5)], POINTWISE);
    // Broadcast and transposed operands.
    await checkBoth((a, b) => tanhBackward(a, b.mT), [randn([5, 4]), rand([4, 5])], POINTWISE);
  });
});

describe('int32 and bool semantics', () => {
  it('neg/abs of INT_MIN wrap, sign and relu', async () => {
    const x = i32([INT_MIN, INT_MAX, -1, 0, 1, -7]);
    for (const fn of [
      (t: Tensor) => t.neg(),
      (t: Tensor) => t.abs(),
      (t: Tensor) => t.sign(),
      (t: Tensor) => t.relu(),
    ]) {
      await checkBoth(fn, [x]);
    }
  });

  it('pow wraps like the CPU (exact below 2^53) and negative exponents truncate', async () => {
    // 5 ** 31 would not do: between 2^53 and 2^84 the CPU wraps a rounded float64 (see README).
    const a = i32([2, -2, 3, -3, 7, 0, 1, -1, 10, 6]).view(-1, 1);
    const b = i32([-2, -1, 0, 1, 2, 5, 12, 18, 31, 32]);
    await checkBoth((x, y) => pow(x, y), [a, b]);
  });

  it('remainder: Python sign, by zero, by -1 and INT_MIN', async () => {
    const a = i32([INT_MIN, INT_MAX, -7, 7, -7, 7, 0, 5, 123456789]).view(-1, 1);
    const b = i32([3, -3, 1, -1, 0, INT_MIN, INT_MAX, 10]);
    await checkBoth((x, y) => remainder(x, y), [a, b]);
  });

  it('sub with alpha, minimum/maximum and comparisons on int32', async () => {
    const a = randint(-100000, 100000, [7, 9]);
    const b = randint(-100000, 100000, [9]);
    await checkBoth((x, y) => x.sub(y, { alpha: 30000 }), [a, b]);
    await checkBoth((x, y) => minimum(x, y), [a, b]);
    await checkBoth((x, y) => maximum(x, y), [a, b]);
    for (const fn of [
      (x: Tensor, y: Tensor) => x.lt(y),
      (x: Tensor, y: Tensor) => x.le(y),
      (x: Tensor, y: Tensor) => x.eq(y),
      (x: Tensor, y: Tensor) => x.ne(y),
    ]) {
      await checkBoth(fn, [a, b]);
    }
  });

  it('clamp on int32 with one-sided and extreme bounds', async () => {
    const x = i32([INT_MIN, -5, 0, 5, INT_MAX]);
    await checkBoth((t) => t.clamp(-3, 4), [x]);
    await checkBoth((t) => t.clamp({ min: -3 }), [x]);
    await checkBoth((t) => t.clamp(null, 4), [x]);
  });

  it('bool arithmetic and logical ops saturate', async () => {
    const a = randint(0, 2, [6, 1]).to('bool');
    const b = randint(0, 2, [1, 6]).to('bool');
    for (const fn of [
      (x: Tensor, y: Tensor) => pow(x, y),
      (x: Tensor, y: Tensor) => maximum(x, y),
      (x: Tensor, y: Tensor) => minimum(x, y),
      (x: Tensor, y: Tensor) => x.logicalXor(y),
      (x: Tensor, y: Tensor) => x.lt(y),
    ]) {
      await checkBoth(fn, [a, b]);
    }
  });

  it('where picks through broadcast and strided operands of every dtype', async () => {
    const c = randint(0, 2, [5, 1, 4]).to('bool');
    await checkBoth((m, x, y) => where(m, x, y), [c, randn([3, 4]), randn([5, 3, 1])]);
    await checkBoth((m, x, y) => where(m, x.mT, y), [c, randint(-9, 9, [4, 3]), randint(-9, 9, [4])]);
    await checkBoth((m, x, y) => where(m, x, y), [c, randint(0, 2, [3, 4]).to('bool'), c.logicalNot()]);
  });
});

describe('reductions beyond sum, every strategy', () => {
  // serial (<= 64 per output), column (kept dims innermost), tree (one and several chunks).
  const shapes: Array<[number[], number[]]> = [
    [[30, 50], [1]],
    [[300, 70], [0]],
    [[9, 5000], [1]],
    [[20000], [0]],
    [
      [3, 70, 40],
      [0, 2],
    ],
  ];
  it('prod, amax, amin on float32 (with NaN and infinities)', async () => {
    for (const [shape, dims] of shapes) {
      const x = rand(shape).mul(0.2).add(0.9);
      await checkBoth((t) => t.prod(dims[0]!), [x], ACCUMULATING);
      await checkBoth((t) => t.amax(dims), [randn(shape)]);
      await checkBoth((t) => t.amin(dims), [randn(shape)]);
    }
    const withNan = randn([4, 3000]);
    const nanAt = tensor([0, 1, 0, 0], { dtype: 'float32' }).view(4, 1).mul(Number.NaN);
    const x = withNan.index(slice(), slice(0, 1)).mul(0).add(nanAt);
    const y = withNan.clone();
    y.index(slice(), slice(1500, 1501)).copy_(x);
    await checkBoth((t) => t.amax(1), [y]);
    await checkBoth((t) => t.amin(1), [y]);
    await checkBoth((t) => t.amax([0, 1]), [y]);
  });

  it('prod, amax, amin on int32 and all/any on every dtype', async () => {
    for (const [shape, dims] of shapes) {
      await checkBoth((t) => t.amax(dims), [randint(-1000, 1000, shape)]);
      await checkBoth((t) => t.amin(dims), [randint(-1000, 1000, shape)]);
      await checkBoth((t) => t.prod(dims[0]!), [randint(-1, 2, shape)]);
      await checkBoth((t) => t.all(dims[0]!), [randint(0, 50, shape).to('bool')]);
      await checkBoth(
        (t) => t.any(dims[0]!),
        [
          randint(0, 2, shape)
            .mul(randint(0, 2, shape))
            .to('bool'),
        ],
      );
      await checkBoth((t) => t.all(dims[0]!), [randn(shape).gt(-3)]);
      await checkBoth((t) => t.any(dims[0]!), [randn(shape).gt(3.5)]);
    }
  });
});

describe('line kernels: scans, arg-reductions, sort, scatter', () => {
  it('cumsum and cumprod along long and short, contiguous and strided lines', async () => {
    await checkBoth((t) => t.cumsum(1), [randn([3, 3000])], ACCUMULATING);
    await checkBoth((t) => t.cumsum(0), [randn([3000, 5])], ACCUMULATING);
    await checkBoth((t) => t.mT.cumsum(1), [randn([40, 7])], ACCUMULATING);
    await checkBoth((t) => t.cumprod(1), [rand([6, 200]).mul(0.2).add(0.9)], ACCUMULATING);
    await checkBoth((t) => t.cumsum(1), [randint(-2000000000, 2000000000, [4, 50])]);
    await checkBoth((t) => t.cumprod(0), [randint(-5, 6, [40, 3])]);
    await checkBoth((t) => t.cumsum(0), [randint(0, 2, [100, 3]).to('bool')]);
    // Long lines run segmented (one workgroup per line); int32 stays exact and wraps.
    await checkBoth((t) => t.cumsum(1), [randint(-2000000000, 2000000000, [2, 5000])]);
    await checkBoth((t) => t.cumprod(1), [randint(-3, 4, [2, 999])]);
    await checkBoth((t) => t.cumprod(0), [rand([1000, 2]).mul(0.01).add(0.995)], ACCUMULATING);
    await checkBoth(
      (t) => t.cumsum(0),
      [f32([1, Number.POSITIVE_INFINITY, 2, ...Array(400).fill(0.5), Number.NaN, 3])],
      ACCUMULATING,
    );
  });

  it('max/min/argmax/argmin: ties keep the first index, NaN wins, long dims', async () => {
    const x = randint(0, 4, [6, 2000]).to('float32');
    await checkBoth((t) => t.argmax(1), [x]);
    await checkBoth((t) => t.argmin(0), [x]);
    await checkBoth((t) => t.max(1)[0], [x]);
    await checkBoth((t) => t.min(1)[1], [x]);
    await checkBoth((t) => t.argmax(), [randn([50, 60])]);
    const nan = f32([1, 5, Number.NaN, 7, Number.NaN, 2]).view(2, 3);
    await checkBoth((t) => t.argmax(1), [nan]);
    await checkBoth((t) => t.min(0)[1], [nan]);
    await checkBoth((t) => t.max(1, { keepdim: true })[1], [randint(-9, 9, [5, 8])]);
    // Long lines (one workgroup per line): the first NaN wins, then the first extremum.
    const long = randint(0, 3, [3, 1000]).to('float32');
    long.index(0, 700).fill_(Number.NaN);
    long.index(0, 300).fill_(Number.NaN);
    long.index(2, 999).fill_(Number.NaN);
    for (const fn of [
      (t: Tensor) => t.argmax(1),
      (t: Tensor) => t.argmin(1),
      (t: Tensor) => t.max(1)[0],
      (t: Tensor) => t.min(1)[1],
    ]) {
      await checkBoth(fn, [long]);
    }
    await checkBoth((t) => t.argmin(0), [randint(-3, 3, [5000, 3])]);
  });

  it('sort: stable, NaN placement, descending, long and strided lines', async () => {
    const x = randint(0, 20, [4, 700]).to('float32');
    await checkBoth((t) => t.sort(1)[0], [x]);
    await checkBoth((t) => t.sort(1)[1], [x]);
    await checkBoth((t) => t.sort(1, { descending: true })[1], [x]);
    await checkBoth((t) => t.sort(0)[1], [x.mT]);
    const nan = f32([3, Number.NaN, 1, Number.NEGATIVE_INFINITY, Number.NaN, 1, Number.POSITIVE_INFINITY]);
    await checkBoth((t) => t.sort(0)[1], [nan]);
    await checkBoth((t) => t.sort(0, { descending: true })[1], [nan]);
    await checkBoth((t) => t.sort(1, { descending: true })[0], [randint(-50, 50, [3, 64])]);
    // Long lines (merge sort): NaN, infinities and ties, every dtype, a middle dim, lengths that are
    // not powers of two.
    const long = randint(0, 9, [2, 3001]).to('float32');
    long.index(0, slice(100, 160)).fill_(Number.NaN);
    long.index(1, slice(7, 3001, 500)).fill_(Number.NEGATIVE_INFINITY);
    long.index(1, slice(9, 3001, 300)).fill_(Number.NaN);
    for (const descending of [false, true]) {
      await checkBoth((t) => t.sort(1, { descending })[0], [long]);
      await checkBoth((t) => t.sort(1, { descending })[1], [long]);
      await checkBoth((t) => t.sort(1, { descending })[1], [randint(-5, 5, [3, 97, 2])]);
      await checkBoth((t) => t.sort(0, { descending })[1], [randint(0, 2, [65]).to('bool')]);
    }
  });

  it('scatter and scatterAdd with duplicate indices (last write wins, adds in order)', async () => {
    const index = randint(0, 5, [6, 40]);
    await checkBoth((x, i, s) => x.scatter(1, i, s), [randn([6, 5]), index, randn([6, 40])]);
    await checkBoth((x, i, s) => x.scatterAdd(1, i, s), [randn([6, 5]), index, randn([6, 40])]);
    await checkBoth(
      (x, i, s) => x.scatterAdd(0, i, s),
      [randint(-9, 9, [5, 40]), randint(0, 5, [30, 40]), randint(-9, 9, [30, 40])],
    );
    await checkBoth(
      (x, i, s) => x.scatterAdd(1, i, s),
      [randint(0, 2, [6, 5]).to('bool'), index, randint(0, 2, [6, 40]).to('bool')],
    );
  });

  it('gather and indexSelect through strided and flipped views', async () => {
    const x = randn([7, 9]);
    await checkBoth((t, i) => t.flip(0).gather(0, i), [x, randint(0, 7, [4, 9])]);
    await checkBoth((t, i) => t.mT.indexSelect(1, i), [x, randint(0, 7, [11])]);
    await checkBoth((t, i) => t.indexSelect(0, i.flip(0)), [randint(-9, 9, [7, 3]), randint(0, 7, [5])]);
  });
});

describe('linear algebra (float32)', () => {
  const LINALG = { rtol: 1e-3, atol: 1e-4 };
  /** Well-conditioned symmetric positive-definite matrices: M Mᵀ / n + I. */
  const spd = (batch: number[], n: number): Tensor => {
    const m = randn([...batch, n, n]);
    return m.matmul(m.mT).div(n).add(eye(n));
  };

  it('cholesky, lower and upper, batched, transposed, larger than a workgroup', async () => {
    for (const [batch, n] of [
      [[], 1],
      [[], 5],
      [[3], 7],
      [[2, 2], 4],
      [[], 100],
    ] as Array<[number[], number]>) {
      const a = spd(batch, n);
      await checkBoth((t) => cholesky(t), [a], LINALG);
      await checkBoth((t) => cholesky(t.mT, { upper: true }), [a], LINALG);
    }
  });

  it('solve and inverse: pivoting, batches with broadcast A, vectors, larger than a workgroup', async () => {
    const a = randn([3, 6, 6]).add(eye(6).mul(3));
    await checkBoth((x, y) => solve(x, y), [a, randn([3, 6, 2])], LINALG);
    await checkBoth((x, y) => solve(x, y), [a.index(0), randn([4, 6, 3])], LINALG);
    await checkBoth((x, y) => solve(x, y), [a.index(1), randn([6])], LINALG);
    await checkBoth((x) => inverse(x), [a], LINALG);
    await checkBoth((x) => inverse(x.mT), [a], LINALG);
    // Needs row swaps: a zero leading entry.
    const p = f32([0, 2, 1, 1, 1, 0, 3, 0, 1]).view(3, 3);
    await checkBoth((x) => inverse(x), [p], LINALG);
    const big = randn([90, 90]).add(eye(90).mul(12));
    await checkBoth((x, y) => solve(x, y), [big, randn([90, 70])], LINALG);
    await checkBoth((x) => inverse(x), [big], LINALG);
  });

  it('not positive-definite / singular input raises LINALG_ERROR at the next read', async () => {
    const notPd = f32([1, 2, 2, 1]).view(2, 2).to('webgpu');
    const singular = f32([1, 2, 2, 4]).view(2, 2).to('webgpu');
    const batched = f32([1, 0, 0, 1, 1, 2, 2, 4]).view(2, 2, 2).to('webgpu');
    const cases: Array<[() => Tensor, object, RegExp]> = [
      [
        () => cholesky(notPd),
        { op: 'cholesky', order: 2 },
        /^cholesky: the factorization could not be completed/,
      ],
      [() => solve(singular, notPd), { op: 'solve', element: 2 }, /^solve: the solver failed/],
      [
        () => inverse(batched),
        { op: 'inverse', batch: 1, element: 2 },
        /^inverse: \(batch element 1\): the diagonal element 2 is zero/,
      ],
    ];
    for (const [run, details, message] of cases) {
      const err = await rejection(run().data());
      expect(err.code).toBe('LINALG_ERROR');
      expect(err.details).toMatchObject(details);
      expect(err.message).toMatch(message);
      expect((await notPd.data()).length).toBe(4);
    }
  });
});

async function rejection(p: Promise<unknown>): Promise<GradfolioError> {
  try {
    await p;
  } catch (e) {
    if (GradfolioError.isInstance(e)) return e;
    throw e;
  }
  throw new Error('expected the read to fail');
}

describe('out-of-range indices', () => {
  it('raise INDEX_OUT_OF_RANGE at the next read (gather, indexSelect, scatter, scatterAdd)', async () => {
    const x = randn([3, 4]).to('webgpu');
    const bad = tensor([[0, 4]], { dtype: 'int32' }).to('webgpu');
    const cases: Array<[string, () => Tensor, number]> = [
      ['gather', () => x.gather(1, bad), 4],
      ['indexSelect', () => x.indexSelect(0, tensor([1, -1], { dtype: 'int32' }).to('webgpu')), -1],
      ['scatter', () => x.scatter(1, bad, x.index(slice(0, 1), slice(0, 2)).contiguous()), 4],
      ['scatterAdd', () => x.scatterAdd(1, bad, x.index(slice(0, 1), slice(0, 2)).contiguous()), 4],
    ];
    for (const [op, run, index] of cases) {
      const out = run();
      const err = await rejection(out.data());
      expect(err.code).toBe('INDEX_OUT_OF_RANGE');
      expect(err.details).toMatchObject({ op, index, device: 'webgpu' });
      expect(err.message).toMatch(new RegExp(`^${op}: index ${index} is out of bounds`));
      // Reported once: the record is cleared, later reads succeed.
      expect((await x.data()).length).toBe(12);
    }
  });
});

it('leaves no GPU validation errors behind', async () => {
  const { gpuErrors } = await import('./gpu.js');
  expect(gpuErrors).toEqual([]);
});
