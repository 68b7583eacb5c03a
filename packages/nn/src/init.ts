/**
 * Parameter initialisation (PyTorch's `torch.nn.init`). Every function fills its tensor in place
 * without recording grad, returns it, and takes an optional seedable `generator`.
 *
 * @module
 */

import { noGrad } from '@gradfolio/autograd';
import { type Generator, GradfolioError, normal, rand, type Tensor, tensor } from '@gradfolio/tensor';

/** Options shared by every initialiser. */
export interface InitOptions {
  /** Draw from this generator instead of the default one. */
  generator?: Generator;
}

/** Nonlinearities known to {@link calculateGain}. */
export type Nonlinearity =
  | 'linear'
  | 'conv1d'
  | 'conv2d'
  | 'conv3d'
  | 'conv_transpose1d'
  | 'conv_transpose2d'
  | 'conv_transpose3d'
  | 'sigmoid'
  | 'tanh'
  | 'relu'
  | 'leaky_relu'
  | 'selu';

/** Which fan kaiming initialisation preserves. */
export type FanMode = 'fan_in' | 'fan_out';

function randomOpts(
  t: Tensor,
  options: InitOptions,
): { dtype: Tensor['dtype']; device: string; generator?: Generator } {
  return options.generator === undefined
    ? { dtype: t.dtype, device: t.device }
    : { dtype: t.dtype, device: t.device, generator: options.generator };
}

/**
 * The recommended gain for a nonlinearity (PyTorch's `calculate_gain`): 1 for linear/conv/sigmoid,
 * 5/3 for tanh, sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu (slope `param`, default 0.01),
 * 3/4 for selu.
 *
 * @example
 * ```ts
 * calculateGain('relu'); // 1.4142135623730951
 * calculateGain('leaky_relu', 0.2);
 * ```
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear':
    case 'conv1d':
    case 'conv2d':
    case 'conv3d':
    case 'conv_transpose1d':
    case 'conv_transpose2d':
    case 'conv_transpose3d':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      if (typeof slope !== 'number' || !Number.isFinite(slope)) {
        throw new GradfolioError('INVALID_ARGUMENT', `negative_slope ${String(param)} not a valid number`, {
          op: 'calculateGain',
        });
      }
      return Math.sqrt(2 / (1 + slope ** 2));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new GradfolioError('INVALID_ARGUMENT', `Unsupported nonlinearity ${String(nonlinearity)}`, {
        op: 'calculateGain',
      });
  }
}

/**
 * `[fanIn, fanOut]` of a weight of shape `[out, in, ...kernel]` (PyTorch's
 * `_calculate_fan_in_and_fan_out`): `in * prod(kernel)` and `out * prod(kernel)`. Needs 2+ dims.
 *
 * @example
 * ```ts
 * calculateFanInAndFanOut([16, 3, 5, 5]); // [75, 400]
 * ```
 */
export function calculateFanInAndFanOut(t: Tensor | readonly number[]): [number, number] {
  const shape = Array.isArray(t) ? (t as readonly number[]) : (t as Tensor).shape;
  if (shape.length < 2) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      'Fan in and fan out can not be computed for tensor with fewer than 2 dimensions',
      { op: 'calculateFanInAndFanOut', shapes: [shape] },
    );
  }
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i]!;
  return [shape[1]! * receptive, shape[0]! * receptive];
}

function correctFan(t: Tensor, mode: FanMode): number {
  if (mode !== 'fan_in' && mode !== 'fan_out') {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `Mode ${String(mode)} not supported, please use one of fan_in, fan_out`,
      {
        op: 'kaiming',
      },
    );
  }
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  return mode === 'fan_in' ? fanIn : fanOut;
}

function fill(t: Tensor, src: Tensor): Tensor {
  noGrad(() => t.copy_(src));
  return t;
}

/**
 * Fills `t` with samples of U(a, b).
 *
 * @example
 * ```ts
 * uniform_(w, -0.1, 0.1, { generator: new Generator().manualSeed(0) });
 * ```
 */
export function uniform_(t: Tensor, a = 0, b = 1, options: InitOptions = {}): Tensor {
  if (t.numel === 0) return t;
  return fill(
    t,
    noGrad(() =>
      rand(t.shape, randomOpts(t, options))
        .mul(b - a)
        .add(a),
    ),
  );
}

/**
 * Fills `t` with samples of N(mean, std^2).
 *
 * @example
 * ```ts
 * normal_(w, 0, 0.02);
 * ```
 */
export function normal_(t: Tensor, mean = 0, std = 1, options: InitOptions = {}): Tensor {
  if (t.numel === 0) return t;
  return fill(
    t,
    noGrad(() => normal(mean, std, t.shape, randomOpts(t, options))),
  );
}

/**
 * Fills `t` with N(mean, std^2) samples redrawn until they lie in [a, b] (PyTorch's `trunc_normal_`,
 * here by rejection on the host).
 *
 * @example
 * ```ts
 * truncNormal_(w, { std: 0.02, a: -0.04, b: 0.04 });
 * ```
 */
export function truncNormal_(
  t: Tensor,
  options: InitOptions & { mean?: number; std?: number; a?: number; b?: number } = {},
): Tensor {
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  const a = options.a ?? -2;
  const b = options.b ?? 2;
  const n = t.numel;
  if (n === 0) return t;
  const out = new Float64Array(n);
  let filled = 0;
  const opts: { dtype: 'float64'; generator?: Generator } = { dtype: 'float64' };
  if (options.generator !== undefined) opts.generator = options.generator;
  for (let round = 0; filled < n && round < 1000; round++) {
    const draw = normal(mean, std, [Math.max(n - filled, 16)], opts).dataSync();
    for (let i = 0; i < draw.length && filled < n; i++) {
      const v = draw[i] as number;
      if (v >= a && v <= b) out[filled++] = v;
    }
  }
  for (; filled < n; filled++) out[filled] = Math.min(Math.max(mean, a), b);
  return fill(t, tensor(out, { dtype: t.dtype, device: t.device }).reshape(t.shape));
}

/**
 * Fills `t` with `val`.
 *
 * @example
 * ```ts
 * constant_(bias, 0.1);
 * ```
 */
export function constant_(t: Tensor, val: number): Tensor {
  noGrad(() => t.fill_(val));
  return t;
}

/**
 * Fills `t` with zeros.
 *
 * @example
 * ```ts
 * zeros_(linear.bias!);
 * ```
 */
export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

/**
 * Fills `t` with ones.
 *
 * @example
 * ```ts
 * ones_(norm.weight);
 * ```
 */
export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/**
 * Fills a 2-D `t` with the identity (ones on the diagonal).
 *
 * @example
 * ```ts
 * eye_(empty([3, 3]));
 * ```
 */
export function eye_(t: Tensor): Tensor {
  if (t.ndim !== 2) {
    throw new GradfolioError('INVALID_ARGUMENT', 'Only tensors with 2 dimensions are supported', {
      op: 'eye_',
      shapes: [t.shape],
    });
  }
  const [r, c] = t.shape as [number, number];
  const data = new Float64Array(r * c);
  for (let i = 0; i < Math.min(r, c); i++) data[i * c + i] = 1;
  return fill(t, tensor(data, { dtype: t.dtype, device: t.device }).reshape([r, c]));
}

/**
 * Xavier/Glorot uniform: U(-g*sqrt(6/(fanIn+fanOut)), +...) with gain `g` (default 1).
 *
 * @example
 * ```ts
 * xavierUniform_(w, { gain: calculateGain('tanh') });
 * ```
 */
export function xavierUniform_(t: Tensor, options: InitOptions & { gain?: number } = {}): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const std = (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut));
  const a = Math.sqrt(3) * std;
  return uniform_(t, -a, a, options);
}

/**
 * Xavier/Glorot normal: N(0, g^2 * 2/(fanIn+fanOut)) with gain `g` (default 1).
 *
 * @example
 * ```ts
 * xavierNormal_(w);
 * ```
 */
export function xavierNormal_(t: Tensor, options: InitOptions & { gain?: number } = {}): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const std = (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut));
  return normal_(t, 0, std, options);
}

/** Options of the kaiming initialisers (PyTorch's keyword arguments). */
export interface KaimingOptions extends InitOptions {
  /** Negative slope of the following leaky_relu (default 0). */
  a?: number;
  /** `'fan_in'` (default) preserves forward variance, `'fan_out'` backward. */
  mode?: FanMode;
  /** Nonlinearity for {@link calculateGain} (default `'leaky_relu'`). */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(t: Tensor, options: KaimingOptions): number | undefined {
  if (t.shape.includes(0)) return undefined; // PyTorch warns "Initializing zero-element tensors is a no-op"
  const fan = correctFan(t, options.mode ?? 'fan_in');
  const gain = calculateGain(options.nonlinearity ?? 'leaky_relu', options.a ?? 0);
  return gain / Math.sqrt(fan);
}

/**
 * Kaiming/He uniform: U(-b, b) with `b = gain * sqrt(3 / fan)`.
 *
 * @example
 * ```ts
 * kaimingUniform_(w, { a: Math.sqrt(5) }); // Linear's default
 * kaimingUniform_(w, { mode: 'fan_out', nonlinearity: 'relu' });
 * ```
 */
export function kaimingUniform_(t: Tensor, options: KaimingOptions = {}): Tensor {
  const std = kaimingStd(t, options);
  if (std === undefined) return t;
  const bound = Math.sqrt(3) * std;
  return uniform_(t, -bound, bound, options);
}

/**
 * Kaiming/He normal: N(0, gain^2 / fan).
 *
 * @example
 * ```ts
 * kaimingNormal_(w, { mode: 'fan_out', nonlinearity: 'relu' });
 * ```
 */
export function kaimingNormal_(t: Tensor, options: KaimingOptions = {}): Tensor {
  const std = kaimingStd(t, options);
  if (std === undefined) return t;
  return normal_(t, 0, std, options);
}

/**
 * Fills `t` (2+ dims, flattened to `[rows, numel/rows]`) with a (semi-)orthogonal matrix times `gain`:
 * the Q of a QR factorisation (Householder, on the host in float64) of a standard normal matrix, with
 * column signs fixed by `sign(diag(R))` as in PyTorch.
 *
 * @example
 * ```ts
 * orthogonal_(w, { gain: calculateGain('relu') });
 * ```
 */
export function orthogonal_(t: Tensor, options: InitOptions & { gain?: number } = {}): Tensor {
  if (t.ndim < 2) {
    throw new GradfolioError('INVALID_ARGUMENT', 'Only tensors with 2 or more dimensions are supported', {
      op: 'orthogonal_',
      shapes: [t.shape],
    });
  }
  if (t.numel === 0) return t;
  const rows = t.shape[0]!;
  const cols = t.numel / rows;
  const opts: { dtype: 'float64'; generator?: Generator } = { dtype: 'float64' };
  if (options.generator !== undefined) opts.generator = options.generator;
  const flat = normal(0, 1, [rows, cols], opts).dataSync();
  // Work on A (m x n, m >= n): A = flat or flat^T.
  const transpose = rows < cols;
  const m = transpose ? cols : rows;
  const n = transpose ? rows : cols;
  const A = new Float64Array(m * n);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = flat[i * cols + j] as number;
      if (transpose) A[j * n + i] = v;
      else A[i * n + j] = v;
    }
  }
  const Q = householderQ(A, m, n);
  const gain = options.gain ?? 1;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const v = gain * (Q[i * n + j] as number);
      if (transpose) out[j * m + i] = v;
      else out[i * n + j] = v;
    }
  }
  return fill(t, tensor(out, { dtype: t.dtype, device: t.device }).reshape(t.shape));
}

/** Thin Q (m x n) of A (m x n, m >= n) with Q's columns multiplied by sign(diag(R)). */
function householderQ(A: Float64Array, m: number, n: number): Float64Array {
  const R = Float64Array.from(A);
  const vs: Float64Array[] = [];
  for (let k = 0; k < n; k++) {
    const v = new Float64Array(m);
    let norm = 0;
    for (let i = k; i < m; i++) norm += (R[i * n + k] as number) ** 2;
    norm = Math.sqrt(norm);
    const x0 = R[k * n + k] as number;
    const alpha = x0 >= 0 ? -norm : norm;
    for (let i = k; i < m; i++) v[i] = R[i * n + k] as number;
    v[k] = (v[k] as number) - alpha;
    let vn = 0;
    for (let i = k; i < m; i++) vn += (v[i] as number) ** 2;
    if (vn > 0) {
      for (let j = k; j < n; j++) {
        let dot = 0;
        for (let i = k; i < m; i++) dot += (v[i] as number) * (R[i * n + j] as number);
        const f = (2 * dot) / vn;
        for (let i = k; i < m; i++) R[i * n + j] = (R[i * n + j] as number) - f * (v[i] as number);
      }
    }
    vs.push(v);
  }
  // Q = H_0 H_1 ... H_{n-1} applied to the first n columns of I.
  const Q = new Float64Array(m * n);
  for (let i = 0; i < n; i++) Q[i * n + i] = 1;
  for (let k = n - 1; k >= 0; k--) {
    const v = vs[k]!;
    let vn = 0;
    for (let i = k; i < m; i++) vn += (v[i] as number) ** 2;
    if (vn === 0) continue;
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += (v[i] as number) * (Q[i * n + j] as number);
      const f = (2 * dot) / vn;
      for (let i = k; i < m; i++) Q[i * n + j] = (Q[i * n + j] as number) - f * (v[i] as number);
    }
  }
  for (let j = 0; j < n; j++) {
    const d = R[j * n + j] as number;
    const s = d > 0 ? 1 : d < 0 ? -1 : 0;
    for (let i = 0; i < m; i++) Q[i * n + j] = (Q[i * n + j] as number) * s;
  }
  return Q;
}
