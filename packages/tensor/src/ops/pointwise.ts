import {
  commonBackend,
  copyInto,
  getAutogradHook,
  kernelFor,
  record,
  runKernel,
  viewOf,
} from '../dispatch.js';
import { type DType, getDefaultDType, isFloating, resultType } from '../dtype.js';
import { fmtShape, GradfolioError } from '../errors.js';
import { broadcastShapes, broadcastStrides } from '../shape.js';
import { Tensor, type TensorLike } from '../tensor.js';
import { fromHostScalar } from './scalars.js';
import { clone } from './shape.js';

/** Category rank for "can the result be cast into the in-place target" checks. */
function category(d: DType): number {
  return d === 'bool' ? 0 : d === 'int32' ? 1 : 2;
}

/** Turns a JS scalar into a 0-d tensor next to `like`; casts a tensor to `dtype` when needed. @internal */
export function asTensor(x: TensorLike, like: Tensor, dtype: DType): Tensor {
  if (x instanceof Tensor) return x;
  return fromHostScalar(typeof x === 'boolean' ? (x ? 1 : 0) : x, dtype, like.device);
}

/** Casts without recording (internal temporaries). @internal */
export function castRaw(t: Tensor, dtype: DType): Tensor {
  if (t.dtype === dtype) return t;
  const [out] = runKernel('copy', [t], [{ shape: t.shape, dtype }]);
  return out!;
}

/** A broadcast view of `t` as `shape`, without recording. @internal */
export function expandRaw(t: Tensor, shape: readonly number[]): Tensor {
  if (t.shape.length === shape.length && t.shape.every((s, i) => s === shape[i])) return t;
  return t._view(shape, broadcastStrides(t.shape, t.strides, shape), t.offset);
}

function releaseTemps(temps: Tensor[], keep: readonly Tensor[]): void {
  for (const t of temps) if (!keep.includes(t)) t.dispose();
}

type BinaryKind = 'arith' | 'float' | 'compare' | 'logical';

const BINARY_KIND: Record<string, BinaryKind> = {
  add: 'arith',
  sub: 'arith',
  mul: 'arith',
  pow: 'arith',
  remainder: 'arith',
  minimum: 'arith',
  maximum: 'arith',
  div: 'float',
  atan2: 'float',
  tanhBackward: 'float',
  sigmoidBackward: 'float',
  eq: 'compare',
  ne: 'compare',
  lt: 'compare',
  le: 'compare',
  gt: 'compare',
  ge: 'compare',
  logicalAnd: 'logical',
  logicalOr: 'logical',
  logicalXor: 'logical',
};

/**
 * Runs a binary pointwise op: type promotion, scalar wrapping, broadcasting, kernel, autograd record.
 * With `out`, writes into that contiguous tensor instead (the in-place fast path; no record).
 * @internal
 */
export function binary(
  op: string,
  a: TensorLike,
  b: TensorLike,
  attrs: Record<string, unknown> = {},
  out?: Tensor,
): Tensor {
  const kind = BINARY_KIND[op]!;
  const like = a instanceof Tensor ? a : b instanceof Tensor ? b : undefined;
  if (like === undefined) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: expected at least one tensor operand, got ${typeof a} and ${typeof b}`,
      { op },
    );
  }
  let compute = resultType([a, b]);
  if (kind === 'float' && !isFloating(compute)) compute = getDefaultDType();
  if (op === 'sub' && compute === 'bool') {
    throw new GradfolioError(
      'DTYPE_MISMATCH',
      'sub: subtraction with two bool tensors is not supported; use logicalXor instead',
      {
        op,
      },
    );
  }
  const outDtype = kind === 'compare' || kind === 'logical' ? 'bool' : compute;
  const ta = asTensor(a, like, compute);
  const tb = asTensor(b, like, compute);
  const backend = commonBackend(op, [ta, tb]);
  const shape = broadcastShapes(op, ta.shape, tb.shape);
  const ca = castRaw(ta, compute);
  const cb = castRaw(tb, compute);
  const va = expandRaw(ca, shape);
  const vb = expandRaw(cb, shape);
  let result: Tensor;
  if (out !== undefined) {
    kernelFor(backend, op)([viewOf(va), viewOf(vb)], [viewOf(out)], attrs);
    result = out;
  } else {
    result = runKernel(op, [va, vb], [{ shape, dtype: outDtype }], attrs, backend)[0]!;
  }
  releaseTemps([va, vb, ca, cb], [ta, tb]);
  // Scalar operands become temporary tensors; a recorded op may keep them for its derivative.
  const recorded = out === undefined && record(op, [ta, tb], [result], attrs);
  if (!recorded && !(a instanceof Tensor) && ta !== result) ta.dispose();
  if (!recorded && !(b instanceof Tensor) && tb !== result) tb.dispose();
  return result;
}

const FLOAT_UNARY = new Set([
  'exp',
  'log',
  'log1p',
  'expm1',
  'sqrt',
  'rsqrt',
  'sin',
  'cos',
  'tanh',
  'sigmoid',
  'gelu',
  'softplus',
  'reciprocal',
  'elu',
]);
const BOOL_UNARY = new Set(['isnan', 'isfinite', 'isinf', 'logicalNot']);

/** Runs a unary pointwise op (see `binary`). @internal */
export function unary(op: string, x: Tensor, attrs: Record<string, unknown> = {}, out?: Tensor): Tensor {
  const backend = commonBackend(op, [x]);
  let compute = x.dtype;
  if (FLOAT_UNARY.has(op) && !isFloating(compute)) compute = getDefaultDType();
  if (op === 'neg' && compute === 'bool') {
    throw new GradfolioError(
      'DTYPE_MISMATCH',
      'neg: negation, the `-` operator, on a bool tensor is not supported; use logicalNot instead',
      {
        op,
      },
    );
  }
  const outDtype = BOOL_UNARY.has(op) ? 'bool' : compute;
  const cx = castRaw(x, compute);
  let result: Tensor;
  if (out !== undefined) {
    kernelFor(backend, op)([viewOf(cx)], [viewOf(out)], attrs);
    result = out;
  } else {
    result = runKernel(op, [cx], [{ shape: x.shape, dtype: outDtype }], attrs, backend)[0]!;
    record(op, [x], [result], attrs);
  }
  if (cx !== x) cx.dispose();
  return result;
}

/** `a + alpha * b`. @example `add(a, b)` */
export function add(a: TensorLike, b: TensorLike, options: { alpha?: number } = {}): Tensor {
  return binary('add', a, b, { alpha: options.alpha ?? 1 });
}
/** `a - alpha * b`. @example `sub(a, b)` */
export function sub(a: TensorLike, b: TensorLike, options: { alpha?: number } = {}): Tensor {
  return binary('sub', a, b, { alpha: options.alpha ?? 1 });
}
/** Element-wise product. @example `mul(a, 2)` */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  return binary('mul', a, b);
}
/** True division. @example `div(a, b)` */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return binary('div', a, b);
}
/** Power. @example `pow(x, 3)` */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  return binary('pow', a, b);
}
/** Python-style remainder. @example `remainder(x, 2)` */
export function remainder(a: TensorLike, b: TensorLike): Tensor {
  return binary('remainder', a, b);
}
/**
 * The gradient of tanh from its output: `grad * (1 - output^2)` in one kernel (PyTorch's
 * `tanh_backward`); autograd uses it when the backward pass is not recorded.
 * @example `tanhBackward(grad, tanh(x))`
 */
export function tanhBackward(grad: TensorLike, output: TensorLike): Tensor {
  return binary('tanhBackward', grad, output);
}

/**
 * The gradient of sigmoid from its output: `grad * output * (1 - output)` in one kernel (PyTorch's
 * `sigmoid_backward`).
 * @example `sigmoidBackward(grad, sigmoid(x))`
 */
export function sigmoidBackward(grad: TensorLike, output: TensorLike): Tensor {
  return binary('sigmoidBackward', grad, output);
}

/** atan2(a, b). @example `atan2(y, x)` */
export function atan2(a: TensorLike, b: TensorLike): Tensor {
  return binary('atan2', a, b);
}
/** Element-wise minimum. @example `minimum(a, b)` */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return binary('minimum', a, b);
}
/** Element-wise maximum. @example `maximum(a, 0)` */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return binary('maximum', a, b);
}
/** `a == b`. @example `eq(a, b)` */
export function eq(a: TensorLike, b: TensorLike): Tensor {
  return binary('eq', a, b);
}
/** `a != b`. @example `ne(a, b)` */
export function ne(a: TensorLike, b: TensorLike): Tensor {
  return binary('ne', a, b);
}
/** `a < b`. @example `lt(a, b)` */
export function lt(a: TensorLike, b: TensorLike): Tensor {
  return binary('lt', a, b);
}
/** `a <= b`. @example `le(a, b)` */
export function le(a: TensorLike, b: TensorLike): Tensor {
  return binary('le', a, b);
}
/** `a > b`. @example `gt(a, b)` */
export function gt(a: TensorLike, b: TensorLike): Tensor {
  return binary('gt', a, b);
}
/** `a >= b`. @example `ge(a, b)` */
export function ge(a: TensorLike, b: TensorLike): Tensor {
  return binary('ge', a, b);
}
/** Logical and. @example `logicalAnd(m1, m2)` */
export function logicalAnd(a: TensorLike, b: TensorLike): Tensor {
  return binary('logicalAnd', a, b);
}
/** Logical or. @example `logicalOr(m1, m2)` */
export function logicalOr(a: TensorLike, b: TensorLike): Tensor {
  return binary('logicalOr', a, b);
}
/** Logical xor. @example `logicalXor(m1, m2)` */
export function logicalXor(a: TensorLike, b: TensorLike): Tensor {
  return binary('logicalXor', a, b);
}
/** Logical not. @example `logicalNot(m)` */
export function logicalNot(x: Tensor): Tensor {
  return unary('logicalNot', x);
}
/** Negation. @example `neg(x)` */
export function neg(x: Tensor): Tensor {
  return unary('neg', x);
}
/** Absolute value. @example `abs(x)` */
export function abs(x: Tensor): Tensor {
  return unary('abs', x);
}
/** Sign. @example `sign(x)` */
export function sign(x: Tensor): Tensor {
  return unary('sign', x);
}
/** e^x. @example `exp(x)` */
export function exp(x: Tensor): Tensor {
  return unary('exp', x);
}
/** Natural log. @example `log(x)` */
export function log(x: Tensor): Tensor {
  return unary('log', x);
}
/** log(1 + x). @example `log1p(r)` */
export function log1p(x: Tensor): Tensor {
  return unary('log1p', x);
}
/** e^x - 1. @example `expm1(x)` */
export function expm1(x: Tensor): Tensor {
  return unary('expm1', x);
}
/** Square root. @example `sqrt(x)` */
export function sqrt(x: Tensor): Tensor {
  return unary('sqrt', x);
}
/** 1/sqrt(x). @example `rsqrt(x)` */
export function rsqrt(x: Tensor): Tensor {
  return unary('rsqrt', x);
}
/** 1/x. @example `reciprocal(x)` */
export function reciprocal(x: Tensor): Tensor {
  return unary('reciprocal', x);
}
/** Sine. @example `sin(x)` */
export function sin(x: Tensor): Tensor {
  return unary('sin', x);
}
/** Cosine. @example `cos(x)` */
export function cos(x: Tensor): Tensor {
  return unary('cos', x);
}
/** tanh. @example `tanh(x)` */
export function tanh(x: Tensor): Tensor {
  return unary('tanh', x);
}
/** Logistic sigmoid. @example `sigmoid(x)` */
export function sigmoid(x: Tensor): Tensor {
  return unary('sigmoid', x);
}
/** max(x, 0). @example `relu(x)` */
export function relu(x: Tensor): Tensor {
  return unary('relu', x);
}
/** Leaky ReLU with negative `slope` (0.01 by default). @example `leakyRelu(x, 0.2)` */
export function leakyRelu(x: Tensor, slope = 0.01): Tensor {
  return unary('leakyRelu', x, { slope });
}
/** ELU with `alpha` (1 by default). @example `elu(x)` */
export function elu(x: Tensor, alpha = 1): Tensor {
  return unary('elu', x, { alpha });
}
/** GELU. @example `gelu(x, { approximate: 'tanh' })` */
export function gelu(x: Tensor, options: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  const approximate = options.approximate ?? 'none';
  if (approximate !== 'none' && approximate !== 'tanh') {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `gelu: approximate must be 'none' or 'tanh', got '${String(approximate)}'`,
      {
        op: 'gelu',
      },
    );
  }
  return unary('gelu', x, { approximate });
}
/** Softplus. @example `softplus(x, { beta: 2 })` */
export function softplus(x: Tensor, options: { beta?: number; threshold?: number } = {}): Tensor {
  return unary('softplus', x, { beta: options.beta ?? 1, threshold: options.threshold ?? 20 });
}
/** Floor. @example `floor(x)` */
export function floor(x: Tensor): Tensor {
  return unary('floor', x);
}
/** Ceil. @example `ceil(x)` */
export function ceil(x: Tensor): Tensor {
  return unary('ceil', x);
}
/** Round half to even. @example `round(x)` */
export function round(x: Tensor): Tensor {
  return unary('round', x);
}
/** Round toward zero. @example `trunc(x)` */
export function trunc(x: Tensor): Tensor {
  return unary('trunc', x);
}
/** NaN test. @example `isnan(x)` */
export function isnan(x: Tensor): Tensor {
  return unary('isnan', x);
}
/** Finite test. @example `isfinite(x)` */
export function isfinite(x: Tensor): Tensor {
  return unary('isfinite', x);
}
/** Infinity test. @example `isinf(x)` */
export function isinf(x: Tensor): Tensor {
  return unary('isinf', x);
}

/**
 * Clamps into `[min, max]`; either bound may be `null`/omitted (not both). A float bound on an integer
 * tensor gives a float result, as in PyTorch.
 * @example
 * ```ts
 * clamp(x, 0, 1); clamp(x, { min: 0 });
 * ```
 */
export function clamp(
  x: Tensor,
  min?: number | null | { min?: number; max?: number },
  max?: number | null,
): Tensor {
  let lo: number | null = null;
  let hi: number | null = null;
  if (typeof min === 'object' && min !== null) {
    lo = min.min ?? null;
    hi = min.max ?? null;
  } else {
    lo = min ?? null;
    hi = max ?? null;
  }
  if (lo === null && hi === null) {
    throw new GradfolioError('INVALID_ARGUMENT', "clamp: at least one of 'min' or 'max' must not be None", {
      op: 'clamp',
    });
  }
  const operands: Array<Tensor | number> = [x];
  if (lo !== null) operands.push(lo);
  if (hi !== null) operands.push(hi);
  const compute = resultType(operands);
  const cx = castRaw(x, compute);
  const out = runKernel('clamp', [cx], [{ shape: x.shape, dtype: compute }], { min: lo, max: hi })[0]!;
  if (cx !== x) cx.dispose();
  record('clamp', [x], [out], { min: lo, max: hi });
  return out;
}

/**
 * Picks `a` where `condition` is true, else `b`, broadcasting all three.
 * @example
 * ```ts
 * where(x.gt(0), x, 0);
 * ```
 */
export function where(condition: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (condition.dtype !== 'bool') {
    throw new GradfolioError(
      'DTYPE_MISMATCH',
      `where: expected condition to be a bool tensor, but got a ${condition.dtype} tensor`,
      {
        op: 'where',
        dtype: condition.dtype,
      },
    );
  }
  const compute = resultType([a, b]);
  const ta = asTensor(a, condition, compute);
  const tb = asTensor(b, condition, compute);
  const backend = commonBackend('where', [condition, ta, tb]);
  const shape = broadcastShapes('where', condition.shape, ta.shape, tb.shape);
  const ca = castRaw(ta, compute);
  const cb = castRaw(tb, compute);
  const vc = expandRaw(condition, shape);
  const va = expandRaw(ca, shape);
  const vb = expandRaw(cb, shape);
  const out = runKernel('where', [vc, va, vb], [{ shape, dtype: compute }], {}, backend)[0]!;
  releaseTemps([vc, va, vb, ca, cb], [condition, ta, tb]);
  const recorded = record('where', [condition, ta, tb], [out]);
  if (!recorded && !(a instanceof Tensor)) ta.dispose();
  if (!recorded && !(b instanceof Tensor)) tb.dispose();
  return out;
}

/** Casts to `dtype` (recorded, so gradients flow back through float casts). @example `cast(x, 'float64')` */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const out = castRaw(x, dtype);
  record('cast', [x], [out], { dtype });
  return out;
}

function checkInplaceResult(t: Tensor, r: Tensor, op: string): void {
  if (r.shape.length !== t.shape.length || r.shape.some((s, i) => s !== t.shape[i])) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: output with shape ${fmtShape(t.shape)} doesn't match the broadcast shape ${fmtShape(r.shape)}`,
      { op, shapes: [t.shape, r.shape] },
    );
  }
  if (category(r.dtype) > category(t.dtype)) {
    throw new GradfolioError(
      'DTYPE_MISMATCH',
      `${op}: result type ${r.dtype} can't be cast to the desired output type ${t.dtype}`,
      {
        op,
        dtypes: [r.dtype, t.dtype],
      },
    );
  }
}

/**
 * Runs `fn(t)` and writes the result back into `t` (bumping its version), with autograd's in-place
 * checks. Elementwise ops on a contiguous target that needs no graph write straight into it.
 * `operands` are the op's other inputs (only their `requiresGrad` is looked at).
 * @internal
 */
export function inplace<T extends Tensor>(
  t: T,
  op: string,
  fn: (t: Tensor) => Tensor,
  operands: readonly unknown[] = [],
): T {
  const h = getAutogradHook();
  h?.beforeInplace(t, op);
  // A recorded op may save its input for backward, and `t` is about to be overwritten: it then reads
  // a copy of the original (PyTorch's original_self). Only ops that will be recorded need the copy.
  const recorded =
    h?.isGradEnabled() === true &&
    (t.requiresGrad || operands.some((o) => o instanceof Tensor && o.requiresGrad));
  const r = fn(recorded ? clone(t) : t);
  checkInplaceResult(t, r, op);
  copyInto(t, r);
  t.storage.version++;
  if (h !== undefined && r.requiresGrad) h.afterInplace(t, r, op);
  else if (!r.requiresGrad && r !== t) r.dispose();
  return t;
}

function sameLayout(a: Tensor, b: Tensor): boolean {
  return (
    a.offset === b.offset &&
    a.ndim === b.ndim &&
    a.shape.every((d, i) => d === b.shape[i] && (d === 1 || a.strides[i] === b.strides[i]))
  );
}

function fastInplaceOk(t: Tensor, others: readonly TensorLike[], op: string): boolean {
  const h = getAutogradHook();
  if (h?.isGradEnabled() && (t.requiresGrad || others.some((o) => o instanceof Tensor && o.requiresGrad))) {
    return false;
  }
  if (!t.isContiguous()) return false;
  const compute =
    BINARY_KIND[op] === 'float' && !isFloating(t.dtype) ? getDefaultDType() : resultType([t, ...others]);
  if (compute !== t.dtype) return false;
  for (const o of others) {
    if (o instanceof Tensor) {
      // An operand that aliases the target with another layout would be read after being written.
      if (o.storage === t.storage && !sameLayout(o, t)) return false;
      if (o.ndim > t.ndim) return false;
      const off = t.ndim - o.ndim;
      for (let i = 0; i < o.ndim; i++) if (o.shape[i] !== 1 && o.shape[i] !== t.shape[off + i]) return false;
    }
  }
  return true;
}

/** In-place binary op with the direct-write fast path. @internal */
export function inplaceBinary<T extends Tensor>(
  t: T,
  op: string,
  other: TensorLike,
  attrs: Record<string, unknown> = {},
): T {
  if (fastInplaceOk(t, [other], op)) {
    getAutogradHook()?.beforeInplace(t, `${op}_`);
    binary(op, t, other, attrs, t);
    t.storage.version++;
    return t;
  }
  return inplace(t, `${op}_`, (x) => binary(op, x, other, attrs), [other]);
}

/** In-place unary op with the direct-write fast path. @internal */
export function inplaceUnary<T extends Tensor>(t: T, op: string, attrs: Record<string, unknown> = {}): T {
  if (fastInplaceOk(t, [], op) && (!FLOAT_UNARY.has(op) || isFloating(t.dtype))) {
    getAutogradHook()?.beforeInplace(t, `${op}_`);
    unary(op, t, attrs, t);
    t.storage.version++;
    return t;
  }
  return inplace(t, `${op}_`, (x) => unary(op, x, attrs));
}

/** Fills `t` with a value (or a 0-d tensor) in place. @internal */
export function fill_<T extends Tensor>(t: T, value: number | boolean | Tensor): T {
  if (value instanceof Tensor) {
    if (value.ndim !== 0) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `fill_: only supports 0-dimension value tensor but got tensor with ${value.ndim} dimensions`,
        { op: 'fill_', shapes: [value.shape] },
      );
    }
    return copy_(t, value);
  }
  const h = getAutogradHook();
  h?.beforeInplace(t, 'fill_');
  const v = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  if (t.numel > 0) {
    if (t.isContiguous()) {
      kernelFor(t.backend, 'fill')([], [viewOf(t)], { value: v });
    } else {
      const tmp = runKernel('fill', [], [{ shape: t.shape, dtype: t.dtype }], { value: v }, t.backend)[0]!;
      copyInto(t, tmp);
      tmp.dispose();
    }
  }
  t.storage.version++;
  if (h !== undefined && t.requiresGrad) h.afterInplace(t, t.detach(), 'fill_');
  return t;
}

/** Copies `src` (broadcast and cast) into `t` in place. @internal */
export function copy_<T extends Tensor>(t: T, src: TensorLike): T {
  const s = asTensor(src, t, t.dtype);
  broadcastShapes('copy_', t.shape, s.shape);
  if (s.ndim > t.ndim || s.shape.some((d, i) => d !== 1 && d !== t.shape[t.ndim - s.ndim + i])) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `copy_: the source of shape ${fmtShape(s.shape)} cannot be broadcast to the destination of shape ${fmtShape(t.shape)}`,
      { op: 'copy_', shapes: [t.shape, s.shape] },
    );
  }
  const h = getAutogradHook();
  h?.beforeInplace(t, 'copy_');
  const tracked = h !== undefined && (s.requiresGrad || t.requiresGrad) && h.isGradEnabled();
  // What `t` holds afterwards, as autograd sees it: src cast and broadcast (recorded before the write,
  // since src may alias t).
  const source = tracked && s.requiresGrad ? cast(s, t.dtype).expand(t.shape as number[]) : s;
  const view = expandRaw(s, t.shape);
  if (s.storage === t.storage && !sameLayout(s, t)) {
    // Overlapping views of one storage (x.copy_(x.T)): read everything before writing.
    const snapshot = runKernel('copy', [view], [{ shape: t.shape, dtype: s.dtype }])[0]!;
    copyInto(t, snapshot);
    snapshot.dispose();
  } else {
    copyInto(t, view);
  }
  t.storage.version++;
  if (view !== s) view.dispose();
  if (tracked) h.afterInplace(t, source, 'copy_');
  if (!(src instanceof Tensor)) s.dispose();
  return t;
}
