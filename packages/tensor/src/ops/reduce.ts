import { record, runKernel, unrecorded } from '../dispatch.js';
import { checkDType, type DType, isFloating } from '../dtype.js';
import { fmtShape, GradfolioError } from '../errors.js';
import { normDim, normDims } from '../shape.js';
import type { Tensor } from '../tensor.js';
import {
  abs,
  add,
  cast,
  castRaw,
  div,
  exp,
  isfinite,
  log,
  mul,
  ne,
  pow,
  sqrt,
  sub,
  where,
} from './pointwise.js';
import { reshape } from './views.js';

type Dims = number | readonly number[] | undefined;

function reduceDims(op: string, x: Tensor, dim: Dims): number[] {
  if (x.ndim === 0) {
    if (dim !== undefined) normDims(typeof dim === 'number' ? [dim] : dim, 0, op);
    return [];
  }
  if (dim === undefined) return x.shape.map((_, i) => i);
  const list = typeof dim === 'number' ? [dim] : dim;
  if (list.length === 0) return x.shape.map((_, i) => i);
  return normDims(list, x.ndim, op).sort((a, b) => a - b);
}

function keptShape(x: Tensor, dims: readonly number[]): number[] {
  return x.shape.map((s, i) => (dims.includes(i) ? 1 : s));
}

/** Drops reduced dims from a keepdim result, as a raw view (the caller records the op). */
function finishKeepdim(out: Tensor, x: Tensor, dims: readonly number[], keepdim: boolean): Tensor {
  if (keepdim || dims.length === 0) return out;
  const shape = x.shape.filter((_, i) => !dims.includes(i));
  const strides = out.strides.filter((_, i) => !dims.includes(i));
  const v = out._view(shape, strides, out.offset);
  v.base = undefined;
  out.dispose();
  return v;
}

function checkNonEmpty(op: string, x: Tensor, dims: readonly number[]): void {
  for (const d of dims) {
    if (x.shape[d] === 0) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `${op}: expected reduction dim ${d} to have non-zero size (input ${fmtShape(x.shape)}); the reduction has no identity`,
        { op, shapes: [x.shape] },
      );
    }
  }
  if (dims.length === 0 && x.numel === 0) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: cannot reduce an empty tensor of shape ${fmtShape(x.shape)}`,
      {
        op,
        shapes: [x.shape],
      },
    );
  }
}

function reduce(
  op: string,
  x: Tensor,
  dim: Dims,
  keepdim: boolean,
  outDtype: DType,
  computeDtype: DType = outDtype,
): Tensor {
  const dims = reduceDims(op, x, dim);
  if (op === 'amax' || op === 'amin') checkNonEmpty(op, x, dims);
  const cx = castRaw(x, computeDtype);
  const out = runKernel(op, [cx], [{ shape: keptShape(x, dims), dtype: outDtype }], { dims })[0]!;
  if (cx !== x) cx.dispose();
  const result = finishKeepdim(out, x, dims, keepdim);
  record(op, [x], [result], { dims, keepdim });
  return result;
}

function accumDtype(op: string, x: Tensor, dtype: DType | undefined): DType {
  if (dtype !== undefined) return checkDType(dtype, op);
  return x.dtype === 'bool' ? 'int32' : x.dtype;
}

function inputFor(x: Tensor, dtype: DType | undefined, op: string): Tensor {
  if (dtype === undefined) return x;
  return cast(x, checkDType(dtype, op));
}

/** Sum over dims (all by default). Bool and int32 sum to int32. @example `sum(x, 1, { keepdim: true })` */
export function sum(x: Tensor, dim?: Dims, options: { keepdim?: boolean; dtype?: DType } = {}): Tensor {
  const dt = accumDtype('sum', x, options.dtype);
  return reduce('sum', inputFor(x, options.dtype, 'sum'), dim, options.keepdim ?? false, dt);
}

/** Product over a dim (all by default). @example `prod(x, 0)` */
export function prod(x: Tensor, dim?: number, options: { keepdim?: boolean; dtype?: DType } = {}): Tensor {
  const dt = accumDtype('prod', x, options.dtype);
  return reduce('prod', inputFor(x, options.dtype, 'prod'), dim, options.keepdim ?? false, dt);
}

function requireFloat(op: string, x: Tensor): void {
  if (!isFloating(x.dtype)) {
    throw new GradfolioError(
      'DTYPE_MISMATCH',
      `${op}: could not infer output dtype. Input dtype must be a floating point dtype, got ${x.dtype}; cast with .float() first or pass { dtype: 'float32' }`,
      { op, dtype: x.dtype },
    );
  }
}

function countOf(x: Tensor, dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= x.shape[d]!;
  return n;
}

/** Mean over dims (floating inputs). @example `mean(x, 0)` */
export function mean(x: Tensor, dim?: Dims, options: { keepdim?: boolean; dtype?: DType } = {}): Tensor {
  const input = inputFor(x, options.dtype, 'mean');
  requireFloat('mean', input);
  const dims = reduceDims('mean', input, dim);
  const keepdim = options.keepdim ?? false;
  // Recorded as one node (MeanBackward), computed as sum / count.
  const out = unrecorded(() =>
    div(sum(input, dims.length === 0 ? undefined : dims, { keepdim }), countOf(input, dims)),
  );
  record('mean', [input], [out], { dims, keepdim });
  return out;
}

function correctionOf(options: { correction?: number; unbiased?: boolean }): number {
  if (options.correction !== undefined && options.unbiased !== undefined) {
    throw new GradfolioError('INVALID_ARGUMENT', 'var/std: pass either correction or unbiased, not both', {
      op: 'var',
    });
  }
  if (options.unbiased !== undefined) return options.unbiased ? 1 : 0;
  return options.correction ?? 1;
}

/** Variance with `correction` (Bessel's 1 by default; `unbiased: false` is 0). @example `variance(x, 1, { correction: 0 })` */
export function variance(
  x: Tensor,
  dim?: Dims,
  options: { keepdim?: boolean; correction?: number; unbiased?: boolean } = {},
): Tensor {
  requireFloat('var', x);
  const dims = reduceDims('var', x, dim);
  const n = countOf(x, dims);
  const d = dims.length === 0 ? undefined : dims;
  const m = mean(x, d, { keepdim: true });
  const centered = sub(x, m);
  const ss = sum(mul(centered, centered), d, { keepdim: options.keepdim ?? false });
  return div(ss, Math.max(0, n - correctionOf(options)));
}

/**
 * Standard deviation (see `variance`). Recorded as one node, so that its gradient where the standard
 * deviation is 0 is 0, as in PyTorch (not sqrt's infinite slope times 0).
 * @example `std(x, 1, { correction: 0 })`
 */
export function std(
  x: Tensor,
  dim?: Dims,
  options: { keepdim?: boolean; correction?: number; unbiased?: boolean } = {},
): Tensor {
  const out = unrecorded(() => sqrt(variance(x, dim, options)));
  const dims = reduceDims('std', x, dim);
  record('std', [x], [out], { dims, keepdim: options.keepdim ?? false, correction: correctionOf(options) });
  return out;
}

/** Max over dims (values only). @example `amax(x, -1)` */
export function amax(x: Tensor, dim?: Dims, options: { keepdim?: boolean } = {}): Tensor {
  return reduce('amax', x, dim, options.keepdim ?? false, x.dtype);
}
/** Min over dims (values only). @example `amin(x, -1)` */
export function amin(x: Tensor, dim?: Dims, options: { keepdim?: boolean } = {}): Tensor {
  return reduce('amin', x, dim, options.keepdim ?? false, x.dtype);
}
/** True where all elements along dims are non-zero. @example `all(m)` */
export function all(x: Tensor, dim?: Dims, options: { keepdim?: boolean } = {}): Tensor {
  return reduce('all', x, dim, options.keepdim ?? false, 'bool', x.dtype);
}
/** True where any element along dims is non-zero. @example `any(m, 1)` */
export function any(x: Tensor, dim?: Dims, options: { keepdim?: boolean } = {}): Tensor {
  return reduce('any', x, dim, options.keepdim ?? false, 'bool', x.dtype);
}

function valuesIndices(op: 'max' | 'min', x: Tensor, dim: number, keepdim: boolean): [Tensor, Tensor] {
  const d = x.ndim === 0 ? 0 : normDim(dim, x.ndim, op);
  const dims = x.ndim === 0 ? [] : [d];
  checkNonEmpty(op, x, dims);
  const [v, i] = runKernel(
    op,
    [x],
    [
      { shape: keptShape(x, dims), dtype: x.dtype },
      { shape: keptShape(x, dims), dtype: 'int32' },
    ],
    { dim: d },
  ) as [Tensor, Tensor];
  const values = finishKeepdim(v, x, dims, keepdim);
  const indices = finishKeepdim(i, x, dims, keepdim);
  record(op, [x], [values, indices], { dim: d, keepdim });
  return [values, indices];
}

/** `[values, indices]` of the max along `dim`. @example `const [v, i] = maxDim(x, 1)` */
export function maxDim(x: Tensor, dim: number, options: { keepdim?: boolean } = {}): [Tensor, Tensor] {
  return valuesIndices('max', x, dim, options.keepdim ?? false);
}
/** `[values, indices]` of the min along `dim`. @example `const [v, i] = minDim(x, 1)` */
export function minDim(x: Tensor, dim: number, options: { keepdim?: boolean } = {}): [Tensor, Tensor] {
  return valuesIndices('min', x, dim, options.keepdim ?? false);
}

function argReduce(op: 'argmax' | 'argmin', x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  if (dim === undefined) {
    const flat = reshape(x, [-1]);
    checkNonEmpty(op, flat, [0]);
    const out = runKernel(op, [flat], [{ shape: [1], dtype: 'int32' }], { dim: 0 })[0]!;
    const r = keepdim
      ? out._view(
          x.shape.map(() => 1),
          x.shape.map(() => 1),
          out.offset,
        )
      : out._view([], [], out.offset);
    r.base = undefined;
    out.dispose();
    return r;
  }
  const d = x.ndim === 0 ? 0 : normDim(dim, x.ndim, op);
  const dims = x.ndim === 0 ? [] : [d];
  checkNonEmpty(op, x, dims);
  const out = runKernel(op, [x], [{ shape: keptShape(x, dims), dtype: 'int32' }], { dim: d })[0]!;
  return finishKeepdim(out, x, dims, keepdim);
}

/** Index of the max (of the flattened tensor when `dim` is omitted). @example `argmax(x, 1)` */
export function argmax(x: Tensor, dim?: number, options: { keepdim?: boolean } = {}): Tensor {
  return argReduce('argmax', x, dim, options.keepdim ?? false);
}
/** Index of the min. @example `argmin(x, 1)` */
export function argmin(x: Tensor, dim?: number, options: { keepdim?: boolean } = {}): Tensor {
  return argReduce('argmin', x, dim, options.keepdim ?? false);
}

function scan(op: 'cumsum' | 'cumprod', x: Tensor, dim: number): Tensor {
  const d = normDim(dim, x.ndim, op);
  const dt = x.dtype === 'bool' ? 'int32' : x.dtype;
  const cx = castRaw(x, dt);
  const out = runKernel(op, [cx], [{ shape: x.shape, dtype: dt }], { dim: x.ndim === 0 ? -1 : d })[0]!;
  if (cx !== x) cx.dispose();
  record(op, [x], [out], { dim: d });
  return out;
}

/** Cumulative sum. @example `cumsum(r, 0)` */
export function cumsum(x: Tensor, dim: number): Tensor {
  return scan('cumsum', x, dim);
}
/** Cumulative product. @example `cumprod(r.add(1), 0)` */
export function cumprod(x: Tensor, dim: number): Tensor {
  return scan('cumprod', x, dim);
}

/** Per-slice maximum with infinities replaced by 0, cut from the graph (the softmax shift). */
function stableShift(x: Tensor, dims: number[]): Tensor {
  const m = amax(x.detach(), dims, { keepdim: true });
  return where(isfinite(m), m, 0);
}

/** log(sum(exp(x))) over dims, computed stably. @example `logsumexp(x, 1)` */
export function logsumexp(
  x: Tensor,
  dim: number | readonly number[],
  options: { keepdim?: boolean } = {},
): Tensor {
  const xf = isFloating(x.dtype) ? x : cast(x, 'float32');
  const dims = reduceDims('logsumexp', xf, dim);
  if (xf.numel === 0) return log(sum(exp(xf), dims, options));
  const m = stableShift(xf, dims);
  const s = log(sum(exp(sub(xf, m)), dims, { keepdim: true }));
  const r = add(s, m);
  return options.keepdim
    ? r
    : reshape(
        r,
        xf.shape.filter((_, i) => !dims.includes(i)),
      );
}

/** Softmax along `dim`. @example `softmax(logits, -1)` */
export function softmax(x: Tensor, dim: number): Tensor {
  requireFloat('softmax', x);
  const d = normDim(dim, x.ndim, 'softmax');
  const dims = x.ndim === 0 ? [] : [d];
  const e = exp(sub(x, stableShift(x, dims)));
  return div(e, sum(e, dims.length ? dims : undefined, { keepdim: true }));
}

/** Log-softmax along `dim`. @example `logSoftmax(logits, -1)` */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  requireFloat('logSoftmax', x);
  const d = normDim(dim, x.ndim, 'logSoftmax');
  const dims = x.ndim === 0 ? [] : [d];
  const shifted = sub(x, stableShift(x, dims));
  return sub(shifted, log(sum(exp(shifted), dims.length ? dims : undefined, { keepdim: true })));
}

/**
 * Vector p-norm over dims (all by default): p = 2 (`'fro'`), 1, Infinity, -Infinity, 0 or any p.
 * @example
 * ```ts
 * norm(x);            // Euclidean norm of all elements
 * norm(x, 1, 0);      // column sums of |x|
 * ```
 */
export function norm(
  x: Tensor,
  p: number | 'fro' = 2,
  dim?: Dims,
  options: { keepdim?: boolean } = {},
): Tensor {
  requireFloat('norm', x);
  const keepdim = options.keepdim ?? false;
  const q = p === 'fro' ? 2 : p;
  const a = abs(x);
  if (q === Number.POSITIVE_INFINITY) return amax(a, dim, { keepdim });
  if (q === Number.NEGATIVE_INFINITY) return amin(a, dim, { keepdim });
  if (q === 0 || q === 2) {
    // Recorded as one node: the gradient of the 0-norm is 0, and that of the 2-norm at 0 is 0 (PyTorch).
    const out = unrecorded(() =>
      q === 0 ? cast(sum(ne(x, 0), dim, { keepdim }), x.dtype) : sqrt(sum(mul(x, x), dim, { keepdim })),
    );
    record('norm', [x], [out], { p: q, dims: reduceDims('norm', x, dim), keepdim });
    return out;
  }
  if (q === 1) return sum(a, dim, { keepdim });
  return pow(sum(pow(a, q), dim, { keepdim }), 1 / q);
}
