/**
 * Returns from prices, annualisation helpers, rolling and exponentially weighted mean / volatility.
 *
 * Every function is tensor in, tensor out, works along a chosen `dim` (time; `0` by default), runs on any
 * backend without host reads, and is differentiable through `@gradfolio/autograd`.
 *
 * @module
 */

import { cat, full, GradfolioError, stack, type Tensor, tensor } from '@gradfolio/tensor';

/** Options shared by the functions that work along a time dimension. */
export interface DimOptions {
  /** The time dimension (negative counts from the end). Default `0`. */
  dim?: number;
}

function normDim(op: string, x: Tensor, dim: number | undefined): number {
  const d = dim ?? 0;
  const nd = x.ndim;
  const r = d < 0 ? d + nd : d;
  if (!Number.isInteger(d) || r < 0 || r >= nd) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: dim ${d} is out of range for a tensor of shape [${x.shape.join(', ')}]`,
      { op, shapes: [x.shape], dim: d },
    );
  }
  return r;
}

function checkFloat(op: string, x: Tensor): void {
  if (x.dtype !== 'float32' && x.dtype !== 'float64') {
    throw new GradfolioError(
      'DTYPE_MISMATCH',
      `${op}: expected a float32 or float64 tensor, got ${x.dtype}`,
      {
        op,
        shapes: [x.shape],
      },
    );
  }
}

function lengthAlong(op: string, x: Tensor, d: number, min: number): number {
  const t = x.shape[d] ?? 0;
  if (t < min) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: need at least ${min} observations along dim ${d}, got shape [${x.shape.join(', ')}]`,
      { op, shapes: [x.shape], dim: d },
    );
  }
  return t;
}

/**
 * Simple returns `p[t] / p[t-1] - 1` along `dim`; the output is one shorter than `prices` along `dim`.
 *
 * @example
 * ```ts
 * const p = tensor([[100, 50], [110, 45], [99, 45]], { dtype: 'float64' });
 * simpleReturns(p); // [[0.1, -0.1], [-0.1, 0]]
 * ```
 */
export function simpleReturns(prices: Tensor, options: DimOptions = {}): Tensor {
  checkFloat('simpleReturns', prices);
  const d = normDim('simpleReturns', prices, options.dim);
  const t = lengthAlong('simpleReturns', prices, d, 2);
  return prices
    .narrow(d, 1, t - 1)
    .div(prices.narrow(d, 0, t - 1))
    .sub(1);
}

/**
 * Log returns `log(p[t] / p[t-1])` along `dim`; the output is one shorter than `prices` along `dim`.
 *
 * @example
 * ```ts
 * logReturns(tensor([1, Math.E, 1], { dtype: 'float64' })); // [1, -1]
 * ```
 */
export function logReturns(prices: Tensor, options: DimOptions = {}): Tensor {
  checkFloat('logReturns', prices);
  const d = normDim('logReturns', prices, options.dim);
  const t = lengthAlong('logReturns', prices, d, 2);
  return prices
    .narrow(d, 1, t - 1)
    .div(prices.narrow(d, 0, t - 1))
    .log();
}

/** Options of {@link annualizeReturn}. */
export interface AnnualizeReturnOptions {
  /** Periods per year. Default `252` (trading days). */
  periodsPerYear?: number;
  /**
   * `'arithmetic'` (default): `r * periodsPerYear`, right for log returns and mean simple returns used in
   * mean-variance work; `'geometric'`: `(1 + r) ** periodsPerYear - 1` (compounding a per-period simple return).
   */
  method?: 'arithmetic' | 'geometric';
}

function periods(op: string, p: number | undefined): number {
  const n = p ?? 252;
  if (!(Number.isFinite(n) && n > 0)) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: periodsPerYear must be a positive number, got ${n}`,
      {
        op,
        periodsPerYear: n,
      },
    );
  }
  return n;
}

/**
 * Annualises a per-period (mean) return.
 *
 * @example
 * ```ts
 * const daily = logReturns(prices).mean(0);
 * annualizeReturn(daily);                          // daily * 252
 * annualizeReturn(monthly, { periodsPerYear: 12, method: 'geometric' }); // (1 + m)^12 - 1
 * ```
 */
export function annualizeReturn(ret: Tensor, options: AnnualizeReturnOptions = {}): Tensor {
  const n = periods('annualizeReturn', options.periodsPerYear);
  const method = options.method ?? 'arithmetic';
  if (method === 'arithmetic') return ret.mul(n);
  if (method === 'geometric') return ret.add(1).pow(n).sub(1);
  throw new GradfolioError(
    'INVALID_ARGUMENT',
    `annualizeReturn: method must be 'arithmetic' or 'geometric', got '${String(method)}'`,
    { op: 'annualizeReturn' },
  );
}

/**
 * Annualises a per-period volatility: `vol * sqrt(periodsPerYear)`.
 *
 * @example
 * ```ts
 * annualizeVolatility(logReturns(prices).std(0)); // daily std * sqrt(252)
 * ```
 */
export function annualizeVolatility(vol: Tensor, options: { periodsPerYear?: number } = {}): Tensor {
  return vol.mul(Math.sqrt(periods('annualizeVolatility', options.periodsPerYear)));
}

/** Options of {@link rollingMean} and {@link rollingStd}. */
export interface RollingOptions extends DimOptions {
  /** Degrees-of-freedom correction of {@link rollingStd}: `1` (default, pandas' `ddof=1`) or `0`. */
  correction?: number;
}

function windows(op: string, x: Tensor, window: number, dim: number | undefined): Tensor {
  checkFloat(op, x);
  const d = normDim(op, x, dim);
  if (!Number.isInteger(window) || window < 1) {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: window must be a positive integer, got ${window}`, {
      op,
      window,
    });
  }
  const t = lengthAlong(op, x, d, window);
  const n = t - window + 1;
  const parts: Tensor[] = [];
  for (let k = 0; k < window; k++) parts.push(x.narrow(d, k, n));
  return stack(parts, 0);
}

/**
 * Rolling mean over `window` observations along `dim`, like pandas `rolling(window).mean()` with the first
 * `window - 1` (all-NaN) rows **dropped**: the output has `T - window + 1` entries along `dim`, entry `i`
 * covering inputs `i .. i + window - 1`. Exact (no running-sum drift) at a cost of `window` copies of the data.
 *
 * @example
 * ```ts
 * rollingMean(tensor([1, 2, 3, 4], { dtype: 'float64' }), 2); // [1.5, 2.5, 3.5]
 * ```
 */
export function rollingMean(x: Tensor, window: number, options: RollingOptions = {}): Tensor {
  return windows('rollingMean', x, window, options.dim).mean(0);
}

/**
 * Rolling standard deviation (`correction` 1 by default, as pandas' `ddof=1`) along `dim`; same layout as
 * {@link rollingMean} (the first `window - 1` rows are dropped).
 *
 * @example
 * ```ts
 * const vol20 = rollingStd(logReturns(prices), 20); // [T - 20, N] for returns [T - 1, N]
 * ```
 */
export function rollingStd(x: Tensor, window: number, options: RollingOptions = {}): Tensor {
  const correction = options.correction ?? 1;
  if (window - correction <= 0) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `rollingStd: window ${window} must exceed correction ${correction}`,
      { op: 'rollingStd', window, correction },
    );
  }
  return windows('rollingStd', x, window, options.dim).std(0, { correction });
}

/**
 * Decay of the exponentially weighted functions; give exactly one of `alpha`, `span`, `halflife`, `com`
 * (pandas' parameterisation: `alpha = 2 / (span + 1) = 1 - exp(-ln 2 / halflife) = 1 / (1 + com)`).
 */
export interface EwmOptions extends DimOptions {
  /** Smoothing factor in `(0, 1]`. */
  alpha?: number;
  /** Span `>= 1`. */
  span?: number;
  /** Half-life `> 0` in periods. */
  halflife?: number;
  /** Centre of mass `>= 0`. */
  com?: number;
  /**
   * pandas' `adjust` (default `true`): weights `(1 - alpha)^(t - i)` normalised by their sum; with `false`,
   * the recursion `y[t] = (1 - alpha) y[t-1] + alpha x[t]`, `y[0] = x[0]`.
   */
  adjust?: boolean;
}

/** Resolves the `alpha` of {@link EwmOptions}. @internal */
export function ewmAlpha(op: string, o: EwmOptions): number {
  const given = (['alpha', 'span', 'halflife', 'com'] as const).filter((k) => o[k] !== undefined);
  if (given.length !== 1) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: give exactly one of alpha, span, halflife, com (got ${given.length === 0 ? 'none' : given.join(', ')})`,
      { op },
    );
  }
  const bad = (what: string, v: number): never => {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: ${what}, got ${v}`, { op });
  };
  if (o.alpha !== undefined) {
    if (!(o.alpha > 0 && o.alpha <= 1)) bad('alpha must be in (0, 1]', o.alpha);
    return o.alpha;
  }
  if (o.span !== undefined) {
    if (!(o.span >= 1)) bad('span must be >= 1', o.span);
    return 2 / (o.span + 1);
  }
  if (o.halflife !== undefined) {
    if (!(o.halflife > 0)) bad('halflife must be > 0', o.halflife);
    return 1 - Math.exp(-Math.LN2 / o.halflife);
  }
  const com = o.com as number;
  if (!(com >= 0)) bad('com must be >= 0', com);
  return 1 / (1 + com);
}

/**
 * The `[T, T]` lower-triangular matrix of raw (unnormalised) pandas ewm weights: row `t` weighs observation
 * `i <= t` by `(1 - alpha)^(t - i)` (adjust) or, without adjust, `alpha (1 - alpha)^(t - i)` for `i >= 1` and
 * `(1 - alpha)^t` for `i = 0`. A constant built on the host and uploaded once (no data is read back);
 * `lastRowOnly` gives just row `T - 1` as `[1, T]`.
 * @internal
 */
export function ewmWeights(
  t: number,
  alpha: number,
  adjust: boolean,
  like: Tensor,
  options: { lastRowOnly?: boolean } = {},
): Tensor {
  const q = 1 - alpha;
  const pw = new Float64Array(t);
  pw[0] = 1;
  for (let k = 1; k < t; k++) pw[k] = (pw[k - 1] as number) * q;
  const first = options.lastRowOnly ? t - 1 : 0;
  const rows = t - first;
  const w = new Float64Array(rows * t);
  for (let r = first; r < t; r++) {
    for (let i = 0; i <= r; i++) {
      const base = pw[r - i] as number;
      w[(r - first) * t + i] = adjust || i === 0 ? base : alpha * base;
    }
  }
  return tensor(w, { dtype: like.dtype, device: like.device }).reshape(rows, t);
}

/** Moves `dim` to the front and flattens the rest: `[T, M]`, plus how to undo it. */
function toMatrix(x: Tensor, d: number): { m: Tensor; back: (y: Tensor) => Tensor } {
  const moved = d === 0 ? x : x.transpose(0, d);
  const shape = moved.shape.slice();
  const t = shape[0] as number;
  const m = moved.reshape(t, -1);
  return {
    m,
    back: (y) => {
      const r = y.reshape(shape);
      return d === 0 ? r : r.transpose(0, d);
    },
  };
}

/**
 * Exponentially weighted moving mean along `dim`, pandas `ewm(...).mean()` (full length, `min_periods=0`;
 * no NaN handling). Computed as one `[T, T] @ [T, M]` matmul, so memory grows with `T^2`.
 *
 * @example
 * ```ts
 * ewmMean(logReturns(prices), { span: 30 });
 * ewmMean(r, { halflife: 10, adjust: false });
 * ```
 */
export function ewmMean(x: Tensor, options: EwmOptions = {}): Tensor {
  checkFloat('ewmMean', x);
  const alpha = ewmAlpha('ewmMean', options);
  const d = normDim('ewmMean', x, options.dim);
  const t = lengthAlong('ewmMean', x, d, 1);
  const w = ewmWeights(t, alpha, options.adjust ?? true, x);
  const { m, back } = toMatrix(x, d);
  return back(w.matmul(m).div(w.sum(1, { keepdim: true })));
}

/**
 * Exponentially weighted moving standard deviation along `dim`, pandas `ewm(...).std()` (bias-corrected,
 * `bias=False`): the weighted variance times `S1^2 / (S1^2 - S2)` with `S1`, `S2` the sums of weights and
 * squared weights. Full length; the first entry is NaN (one observation), as in pandas.
 *
 * @example
 * ```ts
 * const vol = annualizeVolatility(ewmStd(logReturns(prices), { halflife: 20 }));
 * ```
 */
export function ewmStd(x: Tensor, options: EwmOptions = {}): Tensor {
  checkFloat('ewmStd', x);
  const alpha = ewmAlpha('ewmStd', options);
  const d = normDim('ewmStd', x, options.dim);
  const t = lengthAlong('ewmStd', x, d, 1);
  const { m, back } = toMatrix(x, d);
  // Row 0 (a single observation) is NaN as in pandas; it is built as a constant so that it does not poison
  // the gradients of the other rows.
  const nanRow = full([1, m.shape[1] as number], Number.NaN, { dtype: x.dtype, device: x.device });
  if (t === 1) return back(nanRow);
  const w = ewmWeights(t, alpha, options.adjust ?? true, x).narrow(0, 1, t - 1);
  // Shift by the column means first (variance is shift-invariant) to limit cancellation in E[x^2] - E[x]^2.
  const c = m.sub(m.mean(0, { keepdim: true }));
  const s1 = w.sum(1, { keepdim: true });
  const s2 = w.mul(w).sum(1, { keepdim: true });
  const mean = w.matmul(c).div(s1);
  const biased = w.matmul(c.mul(c)).div(s1).sub(mean.mul(mean)).clamp({ min: 0 });
  const factor = s1.mul(s1).div(s1.mul(s1).sub(s2));
  return back(cat([nanRow, biased.mul(factor).sqrt()], 0));
}
