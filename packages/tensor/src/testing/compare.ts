import type { DType, TypedArray } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { decodeNumber, type FixtureCase, type FixtureTensor } from './fixtures.js';

/**
 * A comparison tolerance: `|got - expected| <= atol + rtol * |expected|`. Zero for exact comparisons.
 *
 * @example
 * ```ts
 * const tol: Tolerance = { rtol: 1e-5, atol: 1e-6 };
 * ```
 */
export interface Tolerance {
  readonly rtol: number;
  readonly atol: number;
}

const EXACT: Tolerance = { rtol: 0, atol: 0 };

/**
 * Ops whose float32 results accumulate many roundings (sums, products, dot products). PyTorch
 * accumulates float32 in float32 with its own (vectorised, pairwise) order, gradfolio's CPU kernels in
 * float64: both are right to about `n * eps32` relative, so exact-ish agreement is not expected.
 */
const ACCUMULATING = new Set([
  'sum',
  'prod',
  'mean',
  'var',
  'std',
  'norm',
  'logsumexp',
  'softmax',
  'logSoftmax',
  'cumsum',
  'cumprod',
  'matmul',
]);

/** Factorisations and solves: errors are amplified by the condition number of the fixture matrices. */
const LINALG = new Set(['cholesky', 'solve', 'inverse']);

/**
 * The suite's default tolerance for an op's output dtype:
 * - int32 and bool: exact;
 * - float32: rtol 1e-5, atol 1e-6 (a few ulps: PyTorch's SLEEF float32 transcendentals are within ~1 ulp
 *   of correctly rounded, gradfolio's CPU computes in float64 and rounds once); accumulating ops
 *   (reductions, scans, softmax, matmul) rtol 1e-4, atol 1e-5 (different summation order and
 *   accumulator width); cholesky/solve/inverse rtol 1e-3, atol 1e-4 (float32 rounding times the
 *   condition number, ~10-50 for the fixture matrices);
 * - float64: rtol 1e-10, atol 1e-12; accumulating ops atol 1e-11 (sums with cancellation);
 *   cholesky/solve/inverse rtol 1e-8, atol 1e-10 (pivoting and operation order differ from LAPACK).
 *
 * @example
 * ```ts
 * defaultTolerance('matmul', 'float32'); // { rtol: 1e-4, atol: 1e-5 }
 * defaultTolerance('add', 'int32');      // { rtol: 0, atol: 0 }
 * ```
 */
export function defaultTolerance(op: string, dtype: DType): Tolerance {
  if (dtype === 'int32' || dtype === 'bool') return EXACT;
  if (dtype === 'float32') {
    if (LINALG.has(op)) return { rtol: 1e-3, atol: 1e-4 };
    if (ACCUMULATING.has(op)) return { rtol: 1e-4, atol: 1e-5 };
    return { rtol: 1e-5, atol: 1e-6 };
  }
  if (LINALG.has(op)) return { rtol: 1e-8, atol: 1e-10 };
  if (ACCUMULATING.has(op)) return { rtol: 1e-10, atol: 1e-11 };
  return { rtol: 1e-10, atol: 1e-12 };
}

/** True when `got` matches `want`: NaN matches NaN, infinities match exactly (with their sign). */
function close(got: number, want: number, tol: Tolerance): boolean {
  if (Number.isNaN(want)) return Number.isNaN(got);
  if (!Number.isFinite(want)) return got === want;
  if (!Number.isFinite(got)) return false;
  if (tol.rtol === 0 && tol.atol === 0) return got === want;
  return Math.abs(got - want) <= tol.atol + tol.rtol * Math.abs(want);
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Compares one output with its expected tensor; returns a readable description of every difference
 * (shape, dtype, up to 8 mismatching elements with their flat index), or `undefined` when it matches.
 *
 * @example
 * ```ts
 * compareTensor(await t.data(), t.shape, t.dtype, expected, { rtol: 1e-5, atol: 1e-6 }, true);
 * ```
 */
export function compareTensor(
  data: TypedArray | undefined,
  shape: readonly number[],
  dtype: DType,
  expected: FixtureTensor,
  tol: Tolerance,
  values: boolean,
): string | undefined {
  const problems: string[] = [];
  if (shape.length !== expected.shape.length || shape.some((s, i) => s !== expected.shape[i])) {
    problems.push(`shape ${fmt(shape)}, expected ${fmt(expected.shape)}`);
  }
  if (dtype !== expected.dtype) problems.push(`dtype ${dtype}, expected ${expected.dtype}`);
  if (problems.length > 0 || !values || data === undefined)
    return problems.length ? problems.join('; ') : undefined;
  if (data.length !== expected.data.length) {
    return `${data.length} elements, expected ${expected.data.length}`;
  }
  const bad: string[] = [];
  let count = 0;
  let worst = 0;
  for (let k = 0; k < data.length; k++) {
    const got = data[k]!;
    const want = decodeNumber(expected.data[k]);
    if (!close(got, want, tol)) {
      count++;
      if (Number.isFinite(got) && Number.isFinite(want)) worst = Math.max(worst, Math.abs(got - want));
      if (bad.length < 8) bad.push(`[${k}] got ${got}, expected ${want}`);
    }
  }
  if (count === 0) return undefined;
  return `${count}/${data.length} elements differ (rtol ${tol.rtol}, atol ${tol.atol}, max abs diff ${worst}): ${bad.join('; ')}`;
}

/**
 * Compares a case's outputs with its expected tensors (count, shapes, dtypes, values) after reading
 * them back with `await t.data()`; throws an `Error` naming the case and every difference.
 *
 * @example
 * ```ts
 * await checkOutputs(c, [out], defaultTolerance);
 * ```
 */
export async function checkOutputs(
  c: FixtureCase,
  outputs: readonly Tensor[],
  tolerance: (op: string, dtype: DType) => Tolerance,
): Promise<void> {
  if (outputs.length !== c.expected.length) {
    throw new Error(`${c.id}: ${outputs.length} outputs, expected ${c.expected.length}`);
  }
  const values = c.compare !== 'meta';
  const problems: string[] = [];
  for (let k = 0; k < outputs.length; k++) {
    const out = outputs[k]!;
    const want = c.expected[k]!;
    const data = values ? await out.data() : undefined;
    const p = compareTensor(data, out.shape, out.dtype, want, tolerance(c.op, want.dtype), values);
    if (p !== undefined) problems.push(outputs.length > 1 ? `output ${k}: ${p}` : p);
  }
  if (problems.length > 0) throw new Error(`${c.id} (${c.call}): ${problems.join('\n')}`);
}
