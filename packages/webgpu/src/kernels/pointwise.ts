/**
 * The pointwise ops beyond fill/copy/add/mul: unary math, binary arithmetic, comparisons, logical ops,
 * `where` and the fused `tanhBackward`/`sigmoidBackward`, as WGSL expressions for the elementwise
 * generator (elementwise.ts). Semantics follow the CPU kernels (packages/tensor/src/cpu/elementwise.ts):
 *
 * - float32 math runs in f32. WGSL's builtins only promise loose accuracy (and nothing at all for
 *   NaN/infinity/negative arguments of log, sqrt, pow...), so special values are handled explicitly and
 *   the functions whose builtins lose precision near 0 (expm1, log1p, tanh) or are undefined for
 *   negative bases (pow) are written out here;
 * - int32 arithmetic wraps like the CPU's `Math.imul`/`| 0`, and integer results that the CPU computes
 *   in float64 and stores with ToInt32 (pow, remainder, leakyRelu) reproduce that conversion;
 * - bool values are u32 0/1 words; "bool arithmetic" saturates as on the CPU.
 *
 * NaN and infinity are built at run time from bit patterns (a NaN constant expression is a WGSL
 * shader-creation error) and tested through their bits, so no compiler can fold the tests away.
 */
import { type DType, GradfolioError, type KernelAttrs } from '@gradfolio/tensor';

/** What an elementwise op computes, given its input values (already loaded, storage-typed). @internal */
export interface EwOp {
  /** Extra i32 uniform slots (scalar parameters, f32 as bits). */
  readonly params: number;
  /** WGSL expression of the output's storage type. `p` are the parameter slot expressions. */
  expr(vals: readonly string[], inTypes: readonly DType[], out: DType, p: readonly string[]): string;
  /** The parameter slot values for a call. */
  paramValues(attrs: KernelAttrs, out: DType): number[];
  /** True when the shader needs {@link MATH}. */
  readonly math?: boolean;
  /**
   * How many leading inputs are loaded into `v0..`; the rest are only addressed (`a1`, ... index
   * `in1`, ...), for ops that read them at a computed position (gather). Default: all.
   */
  readonly loads?: number;
  /** True when the op records out-of-range indices in the error buffer (errors.ts). */
  readonly errors?: boolean;
}

const f32Bits = new Float32Array(1);
const f32BitsI = new Int32Array(f32Bits.buffer);
/** The bit pattern of `v` as an f32, as an i32 uniform slot. @internal */
export function f32AsI32(v: number): number {
  f32Bits[0] = v;
  return f32BitsI[0]!;
}

/** WGSL helpers of the float ops (see the module comment for why each exists). @internal */
export const MATH = `
fn nanf() -> f32 { var b = 0x7fc00000u; return bitcast<f32>(b); }
fn inff() -> f32 { var b = 0x7f800000u; return bitcast<f32>(b); }
fn isnanf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn isinff(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn signbitf(x: f32) -> bool { return (bitcast<u32>(x) & 0x80000000u) != 0u; }
fn logf(x: f32) -> f32 {
  if (isnanf(x) || x < 0.0) { return nanf(); }
  if (x == 0.0) { return -inff(); }
  if (isinff(x)) { return x; }
  return log(x);
}
fn expf(x: f32) -> f32 {
  if (isnanf(x)) { return x; }
  if (x > 88.8) { return inff(); }
  if (x < -104.0) { return 0.0; }
  return exp(x);
}
fn sqrtf(x: f32) -> f32 {
  if (isnanf(x) || x < 0.0) { return nanf(); }
  if (isinff(x) || x == 0.0) { return x; }
  return sqrt(x);
}
// Taylor series near 0, where exp(x) - 1 cancels.
fn expm1f(x: f32) -> f32 {
  if (abs(x) < 0.35) {
    return x * (1.0 + x * (0.5 + x * (0.16666667 + x * (0.041666668 + x * (0.008333334 + x * (0.0013888889
      + x * (0.0001984127 + x * (0.0000248016 + x * 0.0000027557319))))))));
  }
  return expf(x) - 1.0;
}
// log1p(x) = 2 atanh(x / (2 + x)) near 0, where log(1 + x) loses the low bits of x.
fn log1pf(x: f32) -> f32 {
  if (x > -0.3 && x < 0.4) {
    let s = x / (2.0 + x);
    let s2 = s * s;
    return 2.0 * s * (1.0 + s2 * (0.33333334 + s2 * (0.2 + s2 * (0.14285715 + s2 * (0.11111111
      + s2 * 0.09090909)))));
  }
  return logf(1.0 + x);
}
fn tanhf(x: f32) -> f32 {
  let a = abs(x);
  if (isnanf(x)) { return x; }
  var t = 1.0;
  if (a < 9.0) {
    let e = expm1f(-2.0 * a);
    t = -e / (2.0 + e);
  }
  return select(t, -t, x < 0.0);
}
fn sigmoidf(x: f32) -> f32 { return 1.0 / (1.0 + expf(-x)); }
// erfc for z >= 0 (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7).
fn erfcpos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let p = t * (0.2548296 + t * (-0.28449672 + t * (1.4214138 + t * (-1.4531521 + t * 1.0614054))));
  return p * expf(-z * z);
}
fn geluf(x: f32) -> f32 {
  let z = x * 0.70710677;
  if (z >= 0.0) { return 0.5 * x * (2.0 - erfcpos(z)); }
  return 0.5 * x * erfcpos(-z);
}
// 0.5 x (1 + tanh(u)) = x sigmoid(2u): no cancellation for negative u.
fn gelutanhf(x: f32) -> f32 {
  let u = 0.7978846 * (x + 0.044715 * x * x * x);
  return x * sigmoidf(2.0 * u);
}
// C's pow (as the CPU kernel): 1 ** y and x ** 0 are 1, negative bases need integer exponents.
fn powf(x: f32, y: f32) -> f32 {
  if (y == 0.0 || x == 1.0) { return 1.0; }
  if (isnanf(x) || isnanf(y)) { return nanf(); }
  let ax = abs(x);
  let ay = abs(y);
  if (isinff(y)) {
    if (ax == 1.0) { return 1.0; }
    return select(0.0, inff(), (ax > 1.0) == (y > 0.0));
  }
  let yint = trunc(y) == y;
  let odd = yint && ay < 16777216.0 && (u32(ay) & 1u) == 1u;
  if (isinff(x) || x == 0.0) {
    let r = select(0.0, inff(), (y > 0.0) == isinff(x));
    return select(r, -r, odd && signbitf(x));
  }
  if (x < 0.0 && !yint) { return nanf(); }
  var m: f32;
  if (yint && ay <= 64.0) {
    // Small integer exponents by squaring: exact for squares, as PyTorch's x ** 2.
    var e = u32(ay);
    var b = ax;
    m = 1.0;
    loop {
      if ((e & 1u) != 0u) { m = m * b; }
      e = e >> 1u;
      if (e == 0u) { break; }
      b = b * b;
    }
    if (y < 0.0) { m = 1.0 / m; }
  } else {
    m = exp2(y * log2(ax));
  }
  return select(m, -m, x < 0.0 && odd);
}
// Dekker's splitting: a = hi + lo with 12-bit halves, so products of halves are exact in f32.
fn splitf(a: f32) -> vec2<f32> {
  let c = 4097.0 * a;
  let hi = c - (c - a);
  return vec2<f32>(hi, a - hi);
}
// fmod(ax, ay) of finite positive values, exactly: each step subtracts q * t with t = ay * 2^k (exact)
// and q < 2^24, the product taken as an exact sum p + e (Dekker). ax - q*t is a multiple of t's last
// bit below 2t, so it is representable and the subtraction is exact; a q one off is corrected.
fn fmodpos(ax0: f32, ay: f32) -> f32 {
  var ax = ax0;
  let ys = splitf(ay);
  for (var it = 0; it < 16 && ax >= ay; it++) {
    let d = i32((bitcast<u32>(ax) >> 23u) & 0xffu) - i32((bitcast<u32>(ay) >> 23u) & 0xffu);
    let k = max(0, d - 22);
    let t = ldexp(ay, k);
    let q = trunc(ax / t);
    let p = q * t;
    let qs = splitf(q);
    let ts = vec2<f32>(ldexp(ys.x, k), ldexp(ys.y, k));
    let e = ((qs.x * ts.x - p) + qs.x * ts.y + qs.y * ts.x) + qs.y * ts.y;
    var r = (ax - p) - e;
    if (r < 0.0) { r = r + t; }
    if (r >= t) { r = r - t; }
    ax = r;
  }
  return ax;
}
// Python's x % y (the sign of y): the exact fmod, then the CPU's one rounding step "+ y".
fn remf(x: f32, y: f32) -> f32 {
  if (isnanf(x) || isnanf(y) || isinff(x) || y == 0.0) { return nanf(); }
  var t = x;
  if (!isinff(y)) {
    let m = fmodpos(abs(x), abs(y));
    t = select(m, -m, x < 0.0);
  }
  if (t != 0.0 && ((t < 0.0) != (y < 0.0))) { t = t + y; }
  return t;
}
fn atan2f(y: f32, x: f32) -> f32 {
  if (isnanf(x) || isnanf(y)) { return nanf(); }
  let pi = 3.1415927;
  if (isinff(x) && isinff(y)) {
    let r = select(0.7853982, 2.3561945, x < 0.0);
    return select(r, -r, y < 0.0);
  }
  if (y == 0.0) {
    let r = select(0.0, pi, signbitf(x));
    return select(r, -r, signbitf(y));
  }
  if (x == 0.0 || isinff(y)) { return select(1.5707964, -1.5707964, y < 0.0); }
  if (isinff(x)) {
    let r = select(0.0, pi, x < 0.0);
    return select(r, -r, y < 0.0);
  }
  return atan2(y, x);
}
// Round half to even (exact: x + 0.5 is only used below 2^23, where it is exact).
fn roundf(x: f32) -> f32 {
  if (!(abs(x) < 8388608.0)) { return x; }
  var r = floor(x + 0.5);
  if (r - x == 0.5 && (i32(r) & 1) != 0) { r = r - 1.0; }
  return r;
}
// sin/cos: the builtins are only promised to 2^-11 absolute (SwiftShader is about that far off), so
// reduce by pi/2 in three parts (Cody-Waite; the first parts times k are exact) and evaluate minimax
// polynomials on [-pi/4, pi/4] (Cephes' sinf/cosf coefficients).
fn sincosq(x: f32) -> vec3<f32> {
  let k = round(x * 0.63661975);
  let r = ((x - k * 1.5703125) - k * 0.00048375129699707031) - k * 7.5497899548918821e-8;
  let z = r * r;
  let s = r + r * z * (-0.16666654611 + z * (0.0083321608736 + z * -0.00019515295891));
  let c = 1.0 - 0.5 * z + z * z * (0.041666645683 + z * (-0.0013887316255 + z * 0.000024433157118));
  return vec3<f32>(s, c, f32(i32(k) & 3));
}
fn sinf(x: f32) -> f32 {
  if (isnanf(x) || isinff(x)) { return nanf(); }
  let v = sincosq(x);
  let q = u32(v.z);
  let m = select(v.x, v.y, (q & 1u) == 1u);
  return select(m, -m, q >= 2u);
}
fn cosf(x: f32) -> f32 {
  if (isnanf(x) || isinff(x)) { return nanf(); }
  let v = sincosq(x);
  let q = u32(v.z);
  let m = select(v.y, v.x, (q & 1u) == 1u);
  return select(m, -m, q == 1u || q == 2u);
}
// NaN tested by bits: some drivers (OpenGL) do not keep IEEE comparisons with NaN.
fn clampf(x: f32, lo: f32, hi: f32) -> f32 {
  if (isnanf(x)) { return x; }
  let v = select(x, lo, x < lo);
  return select(v, hi, v > hi);
}
fn nzf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) != 0u; }
fn minf(a: f32, b: f32) -> f32 { if (isnanf(a) || isnanf(b)) { return nanf(); } return min(a, b); }
fn maxf(a: f32, b: f32) -> f32 { if (isnanf(a) || isnanf(b)) { return nanf(); } return max(a, b); }
// The CPU computes Math.pow in float64 and stores it with ToInt32. Below 2^53 that is the exact power,
// whose wraparound i32 multiplication gives; from 2^84 on the float64 is a multiple of 2^32 (or
// infinite), so 0. In between the CPU wraps a rounded value, which this reproduces only when the power
// is exact in float64 (e.g. a power of two times a small odd factor).
fn powi(x: i32, y: i32) -> i32 {
  if (y < 0) {
    // |x| >= 2 gives a fraction (ToInt32: 0), 0 gives Infinity (0).
    if (x == 1) { return 1; }
    if (x == -1) { return select(1, -1, (y & 1) != 0); }
    return 0;
  }
  if (x != 0 && abs(x) != 1 && f32(y) * log2(abs(f32(x))) >= 84.01) { return 0; }
  var r = 1;
  var b = x;
  var e = y;
  loop {
    if ((e & 1) != 0) { r = r * b; }
    e = e >> 1u;
    if (e == 0) { break; }
    b = b * b;
  }
  return r;
}
fn remi(x: i32, y: i32) -> i32 {
  // The CPU computes x % y in float64: NaN for y = 0 and -0 for y = -1 both store as 0.
  if (y == 0 || y == -1) { return 0; }
  let r = x % y;
  return select(r, r + y, r != 0 && ((r < 0) != (y < 0)));
}
`;

const b2u = (cond: string): string => `select(0u, 1u, ${cond})`;
/** A "value is nonzero" test in the storage type of `t` (NaN counts as nonzero, as on the CPU). */
const nz = (v: string, t: DType): string =>
  t === 'float32' ? `nzf(${v})` : t === 'int32' ? `${v} != 0` : `${v} != 0u`;

const noParams = (): number[] => [];

/**
 * The dispatcher casts inputs to the dtypes the op table allows (e.g. integers to float32 for `exp`),
 * so a missing dtype variant is a bug in this table, raised instead of computing something else.
 */
function noVariant(dtype: DType | undefined): never {
  throw new GradfolioError(
    'DTYPE_MISMATCH',
    `webgpu: this pointwise kernel has no ${dtype} variant (the tensor core should have cast the input)`,
    { dtype: dtype ?? 'unknown', device: 'webgpu' },
  );
}

/**
 * A unary op with one expression per storage type. `same: true` marks ops whose int32 and bool
 * results default to the input (floor, ceil, round, trunc, and bool abs/sign/relu).
 */
function unary(
  f: {
    f: (x: string, p: readonly string[]) => string;
    i?: (x: string, p: readonly string[]) => string;
    b?: (x: string) => string;
  },
  params = 0,
  paramValues: (attrs: KernelAttrs, out: DType) => number[] = noParams,
  same = true,
): EwOp {
  return {
    params,
    math: true,
    expr: ([x], t, _out, p) => {
      const v = x!;
      if (t[0] === 'float32') return f.f(v, p);
      const g = t[0] === 'int32' ? f.i : f.b;
      if (g !== undefined) return g(v, p);
      return same ? v : noVariant(t[0]);
    },
    paramValues,
  };
}

/** Float-only unary ops (the dispatcher promotes integer inputs to float32 first). */
const floatUnary = (
  fn: (x: string, p: readonly string[]) => string,
  params = 0,
  pv: (attrs: KernelAttrs, out: DType) => number[] = noParams,
): EwOp => unary({ f: fn }, params, pv, false);

const fbits = (v: unknown, dflt: number): number =>
  f32AsI32(v === undefined || v === null ? dflt : Number(v));

/** int32 bound of clamp: out-of-range and infinite bounds saturate (no int32 lies beyond them). */
function intBound(v: unknown, dflt: number): number {
  const n = v === undefined || v === null ? dflt : Number(v);
  return Math.max(-2147483648, Math.min(2147483647, n));
}

/** A binary op: `f` (float), `i` (int32) and `b` (bool) take the two storage-typed values. */
function binary(
  f: {
    f: (a: string, b: string, p: readonly string[]) => string;
    i?: (a: string, b: string, p: readonly string[]) => string;
    b?: (a: string, b: string, p: readonly string[]) => string;
  },
  params = 0,
  paramValues: (attrs: KernelAttrs, out: DType) => number[] = noParams,
): EwOp {
  return {
    params,
    math: true,
    expr: ([a, b], t, _out, p) => {
      if (t[0] === 'float32') return f.f(a!, b!, p);
      const g = t[0] === 'int32' ? f.i : f.b;
      return g !== undefined ? g(a!, b!, p) : noVariant(t[0]);
    },
    paramValues,
  };
}

function compare(opf: string): EwOp {
  const e = (a: string, b: string) => b2u(`${a} ${opf} ${b}`);
  return binary({ f: e, i: e, b: e });
}

function logical(fn: (a: string, b: string) => string): EwOp {
  return {
    params: 0,
    math: true,
    expr: ([a, b], t) => b2u(fn(nz(a!, t[0]!), nz(b!, t[1]!))),
    paramValues: noParams,
  };
}

/** The pointwise ops of this module, by op-table name. @internal */
export const POINTWISE: Record<string, EwOp> = {
  // ---- float unary (integer inputs were promoted by the dispatcher)
  exp: floatUnary((x) => `expf(${x})`),
  log: floatUnary((x) => `logf(${x})`),
  log1p: floatUnary((x) => `log1pf(${x})`),
  expm1: floatUnary((x) => `expm1f(${x})`),
  sqrt: floatUnary((x) => `sqrtf(${x})`),
  rsqrt: floatUnary((x) => `1.0 / sqrtf(${x})`),
  sin: floatUnary((x) => `sinf(${x})`),
  cos: floatUnary((x) => `cosf(${x})`),
  tanh: floatUnary((x) => `tanhf(${x})`),
  sigmoid: floatUnary((x) => `sigmoidf(${x})`),
  reciprocal: floatUnary((x) => `1.0 / ${x}`),
  gelu: floatUnary(
    (x, p) => `select(geluf(${x}), gelutanhf(${x}), ${p[0]} != 0)`,
    1,
    (a) => [a.approximate === 'tanh' ? 1 : 0],
  ),
  softplus: floatUnary(
    (x, p) =>
      `select(log1pf(expf(${x} * bitcast<f32>(${p[0]}))) / bitcast<f32>(${p[0]}), ${x}, ${x} * bitcast<f32>(${p[0]}) > bitcast<f32>(${p[1]}))`,
    2,
    (a) => [fbits(a.beta, 1), fbits(a.threshold, 20)],
  ),
  elu: floatUnary(
    (x, p) => `select(bitcast<f32>(${p[0]}) * expm1f(${x}), ${x}, ${x} > 0.0)`,
    1,
    (a) => [fbits(a.alpha, 1)],
  ),
  // ---- same-dtype unary
  // (bool negation is refused by the tensor core: use logicalNot.)
  neg: unary({
    f: (x) => `-${x}`,
    i: (x) => `bitcast<i32>(0u - bitcast<u32>(${x}))`,
    b: () => noVariant('bool'),
  }),
  abs: unary({ f: (x) => `abs(${x})`, i: (x) => `abs(${x})` }),
  // The CPU's sign keeps -0 and maps NaN to 0.
  sign: unary({
    f: (x) =>
      `select(select(select(select(0.0, ${x}, ${x} == 0.0), -1.0, ${x} < 0.0), 1.0, ${x} > 0.0), 0.0, isnanf(${x}))`,
    i: (x) => `sign(${x})`,
  }),
  relu: unary({ f: (x) => `select(0.0, ${x}, ${x} > 0.0 || isnanf(${x}))`, i: (x) => `max(${x}, 0)` }),
  floor: unary({ f: (x) => `floor(${x})` }),
  ceil: unary({ f: (x) => `ceil(${x})` }),
  trunc: unary({ f: (x) => `trunc(${x})` }),
  round: unary({ f: (x) => `roundf(${x})` }),
  // max after min, as PyTorch: min > max gives max. NaN propagates.
  clamp: unary(
    {
      f: (x, p) => `clampf(${x}, bitcast<f32>(${p[0]}), bitcast<f32>(${p[1]}))`,
      i: (x, p) => `select(max(${x}, ${p[0]}), ${p[1]}, max(${x}, ${p[0]}) > ${p[1]})`,
      b: (x) => x,
    },
    2,
    (a, out) =>
      out === 'int32'
        ? [intBound(a.min, -2147483648), intBound(a.max, 2147483647)]
        : [fbits(a.min, Number.NEGATIVE_INFINITY), fbits(a.max, Number.POSITIVE_INFINITY)],
  ),
  leakyRelu: unary(
    {
      f: (x, p) => `select(${x} * bitcast<f32>(${p[0]}), ${x}, ${x} > 0.0)`,
      // The CPU multiplies in float64 and stores with ToInt32 (truncation).
      i: (x, p) => `select(f2i(f32(${x}) * bitcast<f32>(${p[0]})), ${x}, ${x} > 0)`,
    },
    1,
    (a) => [fbits(a.slope, 0.01)],
  ),
  isnan: unary({ f: (x) => b2u(`isnanf(${x})`), i: () => '0u', b: () => '0u' }),
  isinf: unary({ f: (x) => b2u(`isinff(${x})`), i: () => '0u', b: () => '0u' }),
  isfinite: unary({
    f: (x) => b2u(`!isnanf(${x}) && !isinff(${x})`),
    i: () => '1u',
    b: () => '1u',
  }),
  logicalNot: {
    params: 0,
    math: true,
    expr: ([x], t) => b2u(`!(${nz(x!, t[0]!)})`),
    paramValues: noParams,
  },
  // ---- binary arithmetic (add and mul live in elementwise.ts)
  sub: binary(
    {
      f: (a, b, p) => `${a} - bitcast<f32>(${p[0]}) * ${b}`,
      i: (a, b, p) => `${a} - ${p[0]} * ${b}`,
    },
    1,
    (attrs, out) => {
      const alpha = Number(attrs.alpha ?? 1);
      return [out === 'int32' ? alpha | 0 : f32AsI32(alpha)];
    },
  ),
  div: binary({ f: (a, b) => `${a} / ${b}` }),
  pow: binary({
    f: (a, b) => `powf(${a}, ${b})`,
    i: (a, b) => `powi(${a}, ${b})`,
    // 0 ** 0 = 1 ** y = 1, 0 ** 1 = 0.
    b: (a, b) => b2u(`${a} != 0u || ${b} == 0u`),
  }),
  remainder: binary({ f: (a, b) => `remf(${a}, ${b})`, i: (a, b) => `remi(${a}, ${b})`, b: () => '0u' }),
  atan2: binary({ f: (a, b) => `atan2f(${a}, ${b})` }),
  minimum: binary({
    f: (a, b) => `minf(${a}, ${b})`,
    i: (a, b) => `min(${a}, ${b})`,
    b: (a, b) => `min(${a}, ${b})`,
  }),
  maximum: binary({
    f: (a, b) => `maxf(${a}, ${b})`,
    i: (a, b) => `max(${a}, ${b})`,
    b: (a, b) => `max(${a}, ${b})`,
  }),
  // 1 - y^2 as (1 - y)(1 + y): no cancellation when |y| is near 1 (saturated tanh).
  tanhBackward: binary({ f: (g, y) => `${g} * ((1.0 - ${y}) * (1.0 + ${y}))` }),
  sigmoidBackward: binary({ f: (g, y) => `${g} * ${y} * (1.0 - ${y})` }),
  // ---- comparisons (ordered: NaN compares false, except ne)
  eq: compare('=='),
  ne: binary({
    f: (a, b) => b2u(`!(${a} == ${b})`),
    i: (a, b) => b2u(`${a} != ${b}`),
    b: (a, b) => b2u(`${a} != ${b}`),
  }),
  lt: compare('<'),
  le: compare('<='),
  gt: compare('>'),
  ge: compare('>='),
  logicalAnd: logical((a, b) => `(${a}) && (${b})`),
  logicalOr: logical((a, b) => `(${a}) || (${b})`),
  logicalXor: logical((a, b) => `(${a}) != (${b})`),
  // ---- ternary: [cond (bool), a, b]
  where: {
    params: 0,
    expr: ([c, a, b]) => `select(${b}, ${a}, ${c} != 0u)`,
    paramValues: noParams,
  },
};
