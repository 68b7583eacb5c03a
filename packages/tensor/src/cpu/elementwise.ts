import type { Kernel, TensorView } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import { forEachRow, plan } from './iter.js';
import { erf, expStatements, POW2, roundHalfEven, sigmoidStatements, tanhStatements } from './math.js';

/**
 * Pointwise kernels of the CPU backend. Each op's inner loop is generated once per (op, dtype) with
 * `new Function`, so V8 sees a monomorphic loop with the expression inlined: no per-element calls.
 */

const UNARY: Record<string, string> = {
  neg: '-x',
  abs: 'Math.abs(x)',
  sign: '(x > 0 ? 1 : x < 0 ? -1 : x === 0 ? x : 0)',
  exp: 'Math.exp(x)',
  log: 'Math.log(x)',
  log1p: 'Math.log1p(x)',
  expm1: 'Math.expm1(x)',
  sqrt: 'Math.sqrt(x)',
  rsqrt: '1 / Math.sqrt(x)',
  reciprocal: '1 / x',
  sin: 'Math.sin(x)',
  cos: 'Math.cos(x)',
  tanh: 'Math.tanh(x)',
  sigmoid: '1 / (1 + Math.exp(-x))',
  relu: '(x > 0 || x !== x ? x : 0)',
  leakyRelu: '(x > 0 ? x : x * p0)',
  elu: '(x > 0 ? x : p0 * Math.expm1(x))',
  gelu: "(p0 === 'tanh' ? 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) : 0.5 * x * (1 + H.erf(x * 0.7071067811865476)))",
  softplus: '(x * p0 > p1 ? x : Math.log1p(Math.exp(x * p0)) / p0)',
  floor: 'Math.floor(x)',
  ceil: 'Math.ceil(x)',
  trunc: 'Math.trunc(x)',
  round: 'H.roundHalfEven(x)',
  isnan: '(x !== x ? 1 : 0)',
  isfinite: '(x - x === 0 ? 1 : 0)',
  isinf: '(x === Infinity || x === -Infinity ? 1 : 0)',
  logicalNot: '(x === 0 ? 1 : 0)',
};

const BINARY: Record<string, string> = {
  add: 'x + p0 * y',
  sub: 'x - p0 * y',
  mul: 'x * y',
  div: 'x / y',
  // C's pow, not JS's: 1 ** NaN and (-1) ** +-Infinity are 1.
  pow: '(x === 1 || ((x === -1) && (y === Infinity || y === -Infinity)) ? 1 : Math.pow(x, y))',
  remainder: '((r = x % y), r !== 0 && (r < 0) !== (y < 0) ? r + y : r)',
  atan2: 'Math.atan2(x, y)',
  // Derivative helpers: x is the output gradient, y the forward output.
  tanhBackward: 'x * (1 - y * y)',
  sigmoidBackward: 'x * y * (1 - y)',
  minimum: '(x !== x || y !== y ? NaN : Math.min(x, y))',
  maximum: '(x !== x || y !== y ? NaN : Math.max(x, y))',
  eq: '(x === y ? 1 : 0)',
  ne: '(x !== y ? 1 : 0)',
  lt: '(x < y ? 1 : 0)',
  le: '(x <= y ? 1 : 0)',
  gt: '(x > y ? 1 : 0)',
  ge: '(x >= y ? 1 : 0)',
  logicalAnd: '(x !== 0 && y !== 0 ? 1 : 0)',
  logicalOr: '(x !== 0 || y !== 0 ? 1 : 0)',
  logicalXor: '((x !== 0) !== (y !== 0) ? 1 : 0)',
};

/** int32 arithmetic that must wrap like C (products exceed 2^53 otherwise). */
const INT_BINARY: Record<string, string> = {
  add: '(x + Math.imul(p0, y)) | 0',
  sub: '(x - Math.imul(p0, y)) | 0',
  mul: 'Math.imul(x, y)',
};

const helpers = { erf, roundHalfEven, POW2 };

/** Ops written as statements assigning `v` (max after min, as PyTorch: min > max gives max). */
const UNARY_STMTS: Record<string, string> = {
  clamp: 'v = x < p0 ? p0 : x; if (v > p1) v = p1;',
};

/** float32 variants, exact to float32 precision, that avoid V8's out-of-line Math calls (statements). */
const UNARY_F32: Record<string, string> = {
  exp: expStatements('x', 'v'),
  tanh: tanhStatements('x', 'v'),
  sigmoid: sigmoidStatements('x', 'v'),
};

type UnaryRow = (
  x: TypedArray,
  xo: number,
  xs: number,
  o: TypedArray,
  oo: number,
  os: number,
  n: number,
  p0: unknown,
  p1: unknown,
) => void;
type BinaryRow = (
  a: TypedArray,
  ao: number,
  as: number,
  b: TypedArray,
  bo: number,
  bs: number,
  o: TypedArray,
  oo: number,
  os: number,
  n: number,
  p0: unknown,
) => void;

const unaryCache = new Map<string, UnaryRow>();
const binaryCache = new Map<string, BinaryRow>();

function unaryRow(op: string, dtype: string): UnaryRow {
  const key = `${op}:${dtype}`;
  let fn = unaryCache.get(key);
  if (fn === undefined) {
    const stmts =
      (dtype === 'float32' ? UNARY_F32[op] : undefined) ?? UNARY_STMTS[op] ?? `v = ${UNARY[op]!};`;
    // Contiguous rows get their own loop: no stride multiplies, easier for V8 to optimise.
    const body = `return function ${op}Row(X, xo, xs, O, oo, os, n, p0, p1) {
      let v = 0;
      if (xs === 1 && os === 1) { for (let i = 0; i < n; i++) { const x = X[xo + i]; ${stmts} O[oo + i] = v; } return; }
      for (let i = 0; i < n; i++) { const x = X[xo]; ${stmts} O[oo] = v; xo += xs; oo += os; }
    };`;
    fn = new Function('H', body)(helpers) as UnaryRow;
    unaryCache.set(key, fn);
  }
  return fn;
}

function binaryRow(op: string, dtype: string): BinaryRow {
  const key = `${op}:${dtype}`;
  let fn = binaryCache.get(key);
  if (fn === undefined) {
    const raw = (dtype === 'int32' ? INT_BINARY[op] : undefined) ?? BINARY[op]!;
    // bool arithmetic saturates (True + True is True), as in PyTorch.
    const expr = dtype === 'bool' ? `((${raw}) ? 1 : 0)` : raw;
    const body = `return function ${op}Row(A, ao, as, B, bo, bs, O, oo, os, n, p0) {
      let r = 0;
      if (as === 1 && bs === 1 && os === 1) { for (let i = 0; i < n; i++) { const x = A[ao + i], y = B[bo + i]; O[oo + i] = ${expr}; } return; }
      if (as === 1 && bs === 0 && os === 1) { const y = B[bo]; for (let i = 0; i < n; i++) { const x = A[ao + i]; O[oo + i] = ${expr}; } return; }
      if (as === 0 && bs === 1 && os === 1) { const x = A[ao]; for (let i = 0; i < n; i++) { const y = B[bo + i]; O[oo + i] = ${expr}; } return; }
      for (let i = 0; i < n; i++) { const x = A[ao], y = B[bo]; O[oo] = ${expr}; ao += as; bo += bs; oo += os; }
    };`;
    fn = new Function('H', body)(helpers) as BinaryRow;
    binaryCache.set(key, fn);
  }
  return fn;
}

const arr = (v: TensorView) => v.handle as TypedArray;

function numelOf(v: TensorView): number {
  let n = 1;
  for (const d of v.shape) n *= d;
  return n;
}

/** True when `v` walks memory exactly like the (contiguous) output `o`. */
function sameStrides(v: TensorView, o: TensorView): boolean {
  const s = v.strides;
  const t = o.strides;
  for (let i = 0; i < t.length; i++) if (s[i] !== t[i] && v.shape[i] !== 1) return false;
  return true;
}

function unaryKernel(op: string, params: (attrs: Record<string, unknown>) => [unknown, unknown]): Kernel {
  return (inputs, outputs, attrs) => {
    const x = inputs[0]!;
    const o = outputs[0]!;
    const row = unaryRow(op, x.dtype);
    const [p0, p1] = params(attrs);
    const xa = arr(x);
    const oa = arr(o);
    if (sameStrides(x, o)) {
      row(xa, x.offset, 1, oa, o.offset, 1, numelOf(o), p0, p1);
      return;
    }
    const p = plan(o.shape, [x.strides, contiguousOf(o)]);
    forEachRow(p, [x.offset, o.offset], (off, n) =>
      row(xa, off[0]!, p.strides[0]!.at(-1)!, oa, off[1]!, p.strides[1]!.at(-1)!, n, p0, p1),
    );
  };
}

/** Row-major strides of an output view (outputs are contiguous). @internal */
export function contiguousOf(v: TensorView): number[] {
  return v.strides as number[];
}

/** Registers every pointwise kernel (unary, binary, where, clamp) in `k`. @internal */
export function registerElementwise(k: Map<string, Kernel>): void {
  const none = (): [unknown, unknown] => [undefined, undefined];
  for (const op of [...Object.keys(UNARY), ...Object.keys(UNARY_STMTS)]) {
    let params: (a: Record<string, unknown>) => [unknown, unknown] = none;
    if (op === 'leakyRelu') params = (a) => [a.slope ?? 0.01, undefined];
    else if (op === 'elu') params = (a) => [a.alpha ?? 1, undefined];
    else if (op === 'gelu') params = (a) => [a.approximate ?? 'none', undefined];
    else if (op === 'softplus') params = (a) => [a.beta ?? 1, a.threshold ?? 20];
    else if (op === 'clamp')
      params = (a) => [a.min ?? Number.NEGATIVE_INFINITY, a.max ?? Number.POSITIVE_INFINITY];
    k.set(op, unaryKernel(op, params));
  }
  for (const op of Object.keys(BINARY)) {
    k.set(op, (inputs, outputs, attrs) => {
      const a = inputs[0]!;
      const b = inputs[1]!;
      const o = outputs[0]!;
      const row = binaryRow(op, a.dtype);
      const p0 = attrs.alpha ?? 1;
      const aa = arr(a);
      const ba = arr(b);
      const oa = arr(o);
      if (sameStrides(a, o) && sameStrides(b, o)) {
        // Both inputs laid out like the contiguous output: one flat loop, no plan.
        row(aa, a.offset, 1, ba, b.offset, 1, oa, o.offset, 1, numelOf(o), p0);
        return;
      }
      const p = plan(o.shape, [a.strides, b.strides, o.strides]);
      const sa = p.strides[0]!.at(-1)!;
      const sb = p.strides[1]!.at(-1)!;
      const so = p.strides[2]!.at(-1)!;
      forEachRow(p, [a.offset, b.offset, o.offset], (off, n) =>
        row(aa, off[0]!, sa, ba, off[1]!, sb, oa, off[2]!, so, n, p0),
      );
    });
  }
  k.set('where', (inputs, outputs) => {
    const [c, a, b] = inputs as [TensorView, TensorView, TensorView];
    const o = outputs[0]!;
    const ca = arr(c);
    const aa = arr(a);
    const ba = arr(b);
    const oa = arr(o);
    const p = plan(o.shape, [c.strides, a.strides, b.strides, o.strides]);
    const [sc, sa, sb, so] = p.strides.map((s) => s.at(-1)!) as [number, number, number, number];
    forEachRow(p, [c.offset, a.offset, b.offset, o.offset], (off, n) => {
      let ci = off[0]!;
      let ai = off[1]!;
      let bi = off[2]!;
      let oi = off[3]!;
      for (let i = 0; i < n; i++) {
        oa[oi] = ca[ci] !== 0 ? aa[ai]! : ba[bi]!;
        ci += sc;
        ai += sa;
        bi += sb;
        oi += so;
      }
    });
  });
}

/** Strided copy with cast (the `copy` kernel). @internal */
export const copyKernel: Kernel = (inputs, outputs) => {
  const s = inputs[0]!;
  const d = outputs[0]!;
  const sa = arr(s);
  const da = arr(d);
  const toBool = d.dtype === 'bool' && s.dtype !== 'bool';
  const p = plan(d.shape, [s.strides, d.strides]);
  const ss = p.strides[0]!.at(-1)!;
  const ds = p.strides[1]!.at(-1)!;
  if (p.shape.length === 1 && ss === 1 && ds === 1 && !toBool && sa.constructor === da.constructor) {
    da.set(sa.subarray(s.offset, s.offset + p.shape[0]!), d.offset);
    return;
  }
  forEachRow(p, [s.offset, d.offset], (off, n) => {
    let si = off[0]!;
    let di = off[1]!;
    if (toBool) {
      for (let i = 0; i < n; i++, si += ss, di += ds) da[di] = sa[si] !== 0 ? 1 : 0;
    } else if (ss === 1 && ds === 1 && sa.constructor === da.constructor) {
      da.set(sa.subarray(si, si + n), di);
    } else {
      for (let i = 0; i < n; i++, si += ss, di += ds) da[di] = sa[si]!;
    }
  });
};

/** The `fill` kernel. @internal */
export const fillKernel: Kernel = (_inputs, outputs, attrs) => {
  const o = outputs[0]!;
  let n = 1;
  for (const s of o.shape) n *= s;
  arr(o).fill(attrs.value as number, o.offset, o.offset + n);
};
