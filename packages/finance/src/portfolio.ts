/**
 * Portfolio return and risk, and exact mean-variance optimisers.
 *
 * The optimisers read `Σ` (and `μ`) once with `await t.data()`, solve on the host in float64 with the
 * dense QP solver of `qp.ts` (a primal-dual interior point with an active-set polish: no feasible
 * starting point needed, exact on the final active set), and return tensors of the covariance's dtype on
 * its device. Every optimiser keeps the budget constraint `Σ w = 1`; `longOnly` (default `true`) and
 * per-asset `lower` / `upper` bounds are optional.
 *
 * @module
 */

import { GradfolioError, type Tensor, tensor } from '@gradfolio/tensor';
import { luSolve, type QuadraticProgram, solveQP } from './qp.js';

// ---------------------------------------------------------------------------------------------------
// Return and risk (tensor ops, differentiable, batched over leading dims of the weights)
// ---------------------------------------------------------------------------------------------------

/**
 * Expected portfolio return `w'μ`, batched over the leading dims of `weights` (seed 004's
 * `portfolio_return`).
 *
 * @example
 * ```ts
 * portfolioReturn(tensor([0.5, 0.5]), tensor([0.1, 0.2])); // tensor(0.15)
 * ```
 */
export function portfolioReturn(weights: Tensor, expectedReturns: Tensor): Tensor {
  checkLast(
    'portfolioReturn',
    weights,
    expectedReturns.shape[expectedReturns.ndim - 1],
    expectedReturns.shape,
  );
  return weights.mul(expectedReturns).sum(-1);
}

/**
 * Portfolio variance `w'Σw`, batched over the leading dims of `weights` (seed 004's `portfolio_risk`).
 *
 * @example
 * ```ts
 * portfolioVariance(tensor([0.5, 0.5]), tensor([[0.04, 0.01], [0.01, 0.09]])); // tensor(0.0375)
 * ```
 */
export function portfolioVariance(weights: Tensor, covariance: Tensor): Tensor {
  checkCovShape('portfolioVariance', covariance);
  checkLast('portfolioVariance', weights, covariance.shape[0], covariance.shape);
  return weights.matmul(covariance).mul(weights).sum(-1);
}

/**
 * Portfolio volatility `sqrt(w'Σw)`, batched over the leading dims of `weights`.
 *
 * @example
 * ```ts
 * portfolioVolatility(tensor([1, 0]), tensor([[0.04, 0.01], [0.01, 0.09]])); // tensor(0.2)
 * ```
 */
export function portfolioVolatility(weights: Tensor, covariance: Tensor): Tensor {
  return portfolioVariance(weights, covariance).sqrt();
}

/**
 * Risk contributions `w_i (Σw)_i / w'Σw` (they sum to 1), batched over the leading dims of `weights`.
 *
 * @example
 * ```ts
 * riskContributions(await equalRiskContribution(cov), cov); // every entry 1 / n
 * ```
 */
export function riskContributions(weights: Tensor, covariance: Tensor): Tensor {
  checkCovShape('riskContributions', covariance);
  checkLast('riskContributions', weights, covariance.shape[0], covariance.shape);
  const m = weights.matmul(covariance).mul(weights);
  return m.div(m.sum(-1, { keepdim: true }));
}

function checkCovShape(op: string, cov: Tensor): void {
  if (cov.ndim !== 2 || cov.shape[0] !== cov.shape[1] || cov.shape[0] === 0) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: the covariance must be a non-empty square matrix, got shape [${cov.shape.join(', ')}]`,
      { op, shapes: [cov.shape] },
    );
  }
}

function checkLast(op: string, w: Tensor, n: number | undefined, other: readonly number[]): void {
  if (w.ndim === 0 || w.shape[w.ndim - 1] !== n) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: weights of shape [${w.shape.join(', ')}] do not match ${n} assets (shape [${other.join(', ')}])`,
      { op, shapes: [w.shape, other] },
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// Constraints and host reads
// ---------------------------------------------------------------------------------------------------

/** Constraints shared by the optimisers. The budget `Σ w = 1` always holds. */
export interface PortfolioConstraints {
  /** Forbid short positions (`w ≥ 0`). Default `true`; an explicit `lower` takes precedence. */
  longOnly?: boolean;
  /** Per-asset lower bounds (a number for all assets). Default `0` when long-only, else none. */
  lower?: number | readonly number[];
  /** Per-asset upper bounds (a number for all assets). Default none. */
  upper?: number | readonly number[];
}

interface Problem {
  n: number;
  S: Float64Array;
  lower: Float64Array;
  upper: Float64Array;
  dtype: Tensor['dtype'];
  device: string;
}

async function readCov(op: string, cov: Tensor): Promise<{ n: number; S: Float64Array }> {
  checkCovShape(op, cov);
  const n = cov.shape[0]!;
  const S = Float64Array.from(await cov.data(), Number);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const a = S[i * n + j]!;
      if (!Number.isFinite(a)) {
        throw new GradfolioError('INVALID_ARGUMENT', `${op}: covariance entry [${i}, ${j}] is ${a}`, { op });
      }
      const d = Math.abs(a - S[j * n + i]!);
      if (d > 1e-8 * (1 + Math.abs(a))) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `${op}: the covariance is not symmetric (entry [${i}, ${j}] = ${a}, [${j}, ${i}] = ${S[j * n + i]})`,
          { op },
        );
      }
    }
    if (!(S[i * n + i]! > 0)) {
      throw new GradfolioError(
        'NOT_PSD',
        `${op}: the covariance has a non-positive variance ${S[i * n + i]} for asset ${i}`,
        { op, asset: i },
      );
    }
  }
  // Symmetrise exactly and check positive definiteness with a Cholesky factorisation.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const m = 0.5 * (S[i * n + j]! + S[j * n + i]!);
      S[i * n + j] = m;
      S[j * n + i] = m;
    }
  }
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = S[i * n + j]!;
      for (let k = 0; k < j; k++) s -= L[i * n + k]! * L[j * n + k]!;
      if (i === j) {
        if (!(s > 1e-14 * S[i * n + i]!)) {
          throw new GradfolioError(
            'NOT_PSD',
            `${op}: the covariance is not positive definite (Cholesky pivot ${s} at row ${i}); shrink it or drop collinear assets`,
            { op, row: i, pivot: s },
          );
        }
        L[i * n + i] = Math.sqrt(s);
      } else L[i * n + j] = s / L[j * n + j]!;
    }
  }
  return { n, S };
}

async function readMu(op: string, mu: Tensor, n: number): Promise<Float64Array> {
  if (mu.ndim !== 1 || mu.shape[0] !== n) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: expected returns of shape [${n}] to match the covariance, got [${mu.shape.join(', ')}]`,
      { op, shapes: [mu.shape, [n, n]] },
    );
  }
  const m = Float64Array.from(await mu.data(), Number);
  m.forEach((v, i) => {
    if (!Number.isFinite(v)) {
      throw new GradfolioError('INVALID_ARGUMENT', `${op}: expected return ${i} is ${v}`, { op });
    }
  });
  return m;
}

function bound(op: string, name: string, v: number | readonly number[] | undefined, n: number, dflt: number) {
  const out = new Float64Array(n);
  if (v === undefined) out.fill(dflt);
  else if (typeof v === 'number') out.fill(v);
  else {
    if (v.length !== n) {
      throw new GradfolioError('SHAPE_MISMATCH', `${op}: ${name} has ${v.length} entries for ${n} assets`, {
        op,
      });
    }
    v.forEach((x, i) => {
      out[i] = x;
    });
  }
  for (const x of out) {
    if (Number.isNaN(x)) throw new GradfolioError('INVALID_ARGUMENT', `${op}: ${name} contains NaN`, { op });
  }
  return out;
}

async function problem(op: string, cov: Tensor, c: PortfolioConstraints): Promise<Problem> {
  const { n, S } = await readCov(op, cov);
  const lower = bound(op, 'lower', c.lower, n, (c.longOnly ?? true) ? 0 : Number.NEGATIVE_INFINITY);
  const upper = bound(op, 'upper', c.upper, n, Number.POSITIVE_INFINITY);
  let sl = 0;
  let su = 0;
  for (let i = 0; i < n; i++) {
    if (lower[i]! > upper[i]!) {
      throw new GradfolioError(
        'INFEASIBLE',
        `${op}: lower bound ${lower[i]} exceeds upper bound ${upper[i]} for asset ${i}`,
        { op, asset: i },
      );
    }
    sl += lower[i]!;
    su += upper[i]!;
  }
  if (sl > 1 + 1e-12 || su < 1 - 1e-12) {
    throw new GradfolioError(
      'INFEASIBLE',
      `${op}: the bounds admit no fully invested portfolio (sum of lower bounds ${sl}, sum of upper bounds ${su}; the budget is 1)`,
      { op, sumLower: sl, sumUpper: su },
    );
  }
  return { n, S, lower, upper, dtype: cov.dtype, device: cov.device };
}

function out(p: Problem, w: Float64Array): Tensor {
  return tensor(w, { dtype: p.dtype, device: p.device });
}

/** Box rows `x_i ≤ u_i` and `-x_i ≤ -l_i` for the finite bounds. */
function boxRows(p: Problem): { G: number[]; h: number[] } {
  const G: number[] = [];
  const h: number[] = [];
  for (let i = 0; i < p.n; i++) {
    if (Number.isFinite(p.upper[i]!)) {
      const r = new Array<number>(p.n).fill(0);
      r[i] = 1;
      G.push(...r);
      h.push(p.upper[i]!);
    }
    if (Number.isFinite(p.lower[i]!)) {
      const r = new Array<number>(p.n).fill(0);
      r[i] = -1;
      G.push(...r);
      h.push(-p.lower[i]!);
    }
  }
  return { G, h };
}

/** Minimum variance with the budget, the bounds, and optionally `μ'w = target`. */
function solveMinVar(p: Problem, mu?: Float64Array, target?: number): Float64Array {
  const { G, h } = boxRows(p);
  const A = new Array<number>(p.n).fill(1);
  const b = [1];
  if (mu !== undefined && target !== undefined) {
    A.push(...mu);
    b.push(target);
  }
  const qp: QuadraticProgram = {
    Q: p.S,
    c: new Float64Array(p.n),
    A: Float64Array.from(A),
    b: Float64Array.from(b),
    G: Float64Array.from(G),
    h: Float64Array.from(h),
  };
  return solveQP(qp).x;
}

/** Greedy extreme returns over `{l ≤ w ≤ u, Σw = 1}` (fractional knapsack); ±∞ when unbounded. */
function returnRange(p: Problem, mu: Float64Array): { min: number; max: number } {
  const order = [...mu.keys()].sort((a, b) => mu[b]! - mu[a]!);
  const extreme = (ids: number[], sign: number): number => {
    if (p.lower.some((l) => !Number.isFinite(l))) {
      // Shorts are unbounded below: unbounded unless all expected returns are equal.
      const spread = Math.max(...mu) - Math.min(...mu);
      return spread === 0 ? mu[0]! : sign * Number.POSITIVE_INFINITY;
    }
    let r = 0;
    let left = 1;
    for (let i = 0; i < p.n; i++) {
      r += p.lower[i]! * mu[i]!;
      left -= p.lower[i]!;
    }
    for (const i of ids) {
      if (left <= 0) break;
      const room = p.upper[i]! - p.lower[i]!;
      const take = Math.min(room, left);
      r += take * mu[i]!;
      left -= take;
    }
    return r;
  };
  return { max: extreme(order, 1), min: extreme([...order].reverse(), -1) };
}

function quad(S: Float64Array, w: Float64Array): number {
  const n = w.length;
  let v = 0;
  for (let i = 0; i < n; i++) {
    let r = 0;
    for (let j = 0; j < n; j++) r += S[i * n + j]! * w[j]!;
    v += w[i]! * r;
  }
  return v;
}

function dotv(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

// ---------------------------------------------------------------------------------------------------
// Optimisers
// ---------------------------------------------------------------------------------------------------

/**
 * The minimum variance portfolio: `argmin w'Σw` s.t. `Σw = 1` and the bounds (long-only by default).
 * Without bounds it equals `Σ⁻¹1 / 1'Σ⁻¹1`. Solved exactly on the host in float64 (see the module notes);
 * the result has the covariance's dtype and device.
 *
 * @example
 * ```ts
 * const w = await minimumVariance(cov); // long-only
 * const ws = await minimumVariance(cov, { longOnly: false, upper: 0.4 });
 * ```
 */
export async function minimumVariance(
  covariance: Tensor,
  options: PortfolioConstraints = {},
): Promise<Tensor> {
  const p = await problem('minimumVariance', covariance, options);
  return out(p, solveMinVar(p));
}

/** Options of {@link maximumSharpe}. */
export interface MaximumSharpeOptions extends PortfolioConstraints {
  /** Risk-free rate, in the units of the expected returns. Default `0`. */
  riskFreeRate?: number;
}

/**
 * The maximum Sharpe ratio (tangency) portfolio: `argmax (μ'w - rf) / sqrt(w'Σw)` s.t. `Σw = 1` and the
 * bounds. Solved exactly through the Cornuejols–Tütüncü transformation: `min y'Σy` s.t.
 * `(μ - rf)'y = 1`, `l_i 1'y ≤ y_i ≤ u_i 1'y`, `1'y ≥ 0`, then `w = y / 1'y`. Without bounds the answer is
 * `Σ⁻¹(μ - rf) / 1'Σ⁻¹(μ - rf)`.
 *
 * Throws `GradfolioError('INFEASIBLE')` when no admissible portfolio earns more than the risk-free rate
 * (long-only: every expected return at or below `rf`), or when the Sharpe ratio is unbounded or not
 * attained (with shorting, when `rf` is at or above the minimum variance portfolio's return).
 *
 * @example
 * ```ts
 * const w = await maximumSharpe(cov, mu, { riskFreeRate: 0.02 });
 * ```
 */
export async function maximumSharpe(
  covariance: Tensor,
  expectedReturns: Tensor,
  options: MaximumSharpeOptions = {},
): Promise<Tensor> {
  const op = 'maximumSharpe';
  const p = await problem(op, covariance, options);
  const mu = await readMu(op, expectedReturns, p.n);
  const rf = options.riskFreeRate ?? 0;
  if (!Number.isFinite(rf)) {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: riskFreeRate must be finite, got ${rf}`, { op });
  }
  const range = returnRange(p, mu);
  if (!(range.max > rf)) {
    const longOnly = p.lower.every((l) => l === 0) && p.upper.every((u) => u === Number.POSITIVE_INFINITY);
    throw new GradfolioError(
      'INFEASIBLE',
      longOnly
        ? `${op}: every expected return is at or below the risk-free rate ${rf} (expected returns [${[...mu].join(', ')}], the largest is ${Math.max(...mu)}), so no long-only portfolio has a positive excess return`
        : `${op}: the highest expected return the bounds admit is ${range.max}, at or below the risk-free rate ${rf}, so no admissible portfolio has a positive excess return`,
      { op, riskFreeRate: rf, expectedReturns: [...mu], maxAttainableReturn: range.max },
    );
  }
  const n = p.n;
  const G: number[] = [];
  const h: number[] = [];
  for (let i = 0; i < n; i++) {
    if (Number.isFinite(p.upper[i]!)) {
      const r = new Array<number>(n).fill(-p.upper[i]!);
      r[i] = 1 - p.upper[i]!;
      G.push(...r);
      h.push(0);
    }
    if (Number.isFinite(p.lower[i]!)) {
      const r = new Array<number>(n).fill(p.lower[i]!);
      r[i] = p.lower[i]! - 1;
      G.push(...r);
      h.push(0);
    }
  }
  G.push(...new Array<number>(n).fill(-1));
  h.push(0);
  const excess = mu.map((m) => m - rf);
  let y: Float64Array;
  try {
    y = solveQP({
      Q: p.S,
      c: new Float64Array(n),
      A: excess,
      b: Float64Array.from([1]),
      G: Float64Array.from(G),
      h: Float64Array.from(h),
    }).x;
  } catch (e) {
    throw new GradfolioError(
      'INFEASIBLE',
      `${op}: no portfolio within the bounds has a positive excess return over the risk-free rate ${rf}`,
      { op, riskFreeRate: rf },
      { cause: e },
    );
  }
  let kappa = 0;
  let ny = 0;
  for (const v of y) {
    kappa += v;
    ny = Math.max(ny, Math.abs(v));
  }
  if (!(kappa > 1e-9 * ny)) {
    const gmv = solveMinVar(p);
    throw new GradfolioError(
      'INFEASIBLE',
      `${op}: the Sharpe ratio is unbounded or not attained: the risk-free rate ${rf} is at or above the return ${dotv(gmv, mu)} of the minimum variance portfolio, so the tangency line touches the lower branch of the frontier`,
      { op, riskFreeRate: rf, minimumVarianceReturn: dotv(gmv, mu) },
    );
  }
  return out(
    p,
    y.map((v) => v / kappa),
  );
}

/** Options of {@link meanVariance}: exactly one of `targetReturn` and `targetRisk`. */
export interface MeanVarianceOptions extends PortfolioConstraints {
  /** Minimise variance subject to `μ'w = targetReturn`. */
  targetReturn?: number;
  /**
   * Maximise return subject to `sqrt(w'Σw) ≤ targetRisk` (a volatility). The answer is the frontier
   * point with that volatility (found by bisection on the frontier's return), or the maximum-return
   * portfolio when even that is less risky.
   */
  targetRisk?: number;
}

/**
 * Mean-variance portfolio at a target return (minimum variance with `μ'w = targetReturn`, an exact QP)
 * or at a target risk (the efficient portfolio with volatility `targetRisk`, by bisection on the target
 * return of the frontier, each step an exact QP), with the budget and the bounds.
 *
 * Throws `GradfolioError('INFEASIBLE')` when the target return lies outside the returns the bounds admit,
 * or the target risk is below the minimum variance portfolio's volatility, naming the values.
 *
 * @example
 * ```ts
 * const a = await meanVariance(cov, mu, { targetReturn: 0.1 });
 * const b = await meanVariance(cov, mu, { targetRisk: 0.15, upper: 0.3 });
 * ```
 */
export async function meanVariance(
  covariance: Tensor,
  expectedReturns: Tensor,
  options: MeanVarianceOptions,
): Promise<Tensor> {
  const op = 'meanVariance';
  const { targetReturn, targetRisk } = options;
  if ((targetReturn === undefined) === (targetRisk === undefined)) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: pass exactly one of targetReturn (${targetReturn}) and targetRisk (${targetRisk})`,
      { op },
    );
  }
  const p = await problem(op, covariance, options);
  const mu = await readMu(op, expectedReturns, p.n);
  if (targetReturn !== undefined) return out(p, targetReturnWeights(op, p, mu, targetReturn));
  return out(p, targetRiskWeights(op, p, mu, targetRisk!));
}

function targetReturnWeights(op: string, p: Problem, mu: Float64Array, target: number): Float64Array {
  if (!Number.isFinite(target)) {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: targetReturn must be finite, got ${target}`, { op });
  }
  const range = returnRange(p, mu);
  const slack = 1e-12 * (1 + Math.abs(target));
  if (target > range.max + slack || target < range.min - slack) {
    throw new GradfolioError(
      'INFEASIBLE',
      `${op}: target return ${target} is outside the returns the constraints admit [${range.min}, ${range.max}]`,
      { op, targetReturn: target, minReturn: range.min, maxReturn: range.max },
    );
  }
  return solveMinVar(p, mu, Math.min(Math.max(target, range.min), range.max));
}

function targetRiskWeights(op: string, p: Problem, mu: Float64Array, target: number): Float64Array {
  if (!(target > 0) || !Number.isFinite(target)) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: targetRisk must be a positive volatility, got ${target}`,
      {
        op,
      },
    );
  }
  const gmv = solveMinVar(p);
  const vol0 = Math.sqrt(quad(p.S, gmv));
  const r0 = dotv(gmv, mu);
  if (target < vol0 * (1 - 1e-12)) {
    throw new GradfolioError(
      'INFEASIBLE',
      `${op}: target risk ${target} is below the volatility ${vol0} of the minimum variance portfolio`,
      { op, targetRisk: target, minimumVolatility: vol0 },
    );
  }
  const range = returnRange(p, mu);
  const volAt = (r: number): [number, Float64Array] => {
    const w = solveMinVar(p, mu, r);
    return [Math.sqrt(quad(p.S, w)), w];
  };
  let lo = r0;
  let hi: number;
  let wHi: Float64Array;
  if (Number.isFinite(range.max)) {
    hi = range.max;
    const [v, w] = volAt(hi);
    if (v <= target) return w;
    wHi = w;
  } else {
    let d = Math.max(1e-3, Math.abs(r0));
    for (;;) {
      hi = r0 + d;
      const [v, w] = volAt(hi);
      wHi = w;
      if (v > target) break;
      d *= 2;
      if (!Number.isFinite(d))
        throw new GradfolioError('INFEASIBLE', `${op}: bisection bracket diverged`, { op });
    }
  }
  let wBest = wHi;
  for (let it = 0; it < 200 && hi - lo > 1e-15 * (1 + Math.abs(hi)); it++) {
    const mid = 0.5 * (lo + hi);
    const [v, w] = volAt(mid);
    if (v > target) {
      hi = mid;
      wBest = w;
    } else {
      lo = mid;
      wBest = w;
    }
  }
  return wBest;
}

/** Options of {@link efficientFrontier}. */
export interface EfficientFrontierOptions extends PortfolioConstraints {
  /** Number of frontier points (≥ 2). Default `20`. */
  points?: number;
  /**
   * Highest target return. Default: the highest return the bounds admit, or the largest expected return
   * when shorting makes it unbounded.
   */
  maxReturn?: number;
}

/** The efficient frontier from {@link efficientFrontier}. */
export interface EfficientFrontier {
  /** Target returns, `[points]`, from the minimum variance portfolio's return upwards. */
  returns: Tensor;
  /** Volatilities `sqrt(w'Σw)`, `[points]`. */
  volatilities: Tensor;
  /** Weights, `[points, assets]`. */
  weights: Tensor;
}

/**
 * The efficient frontier: `points` minimum variance portfolios at target returns evenly spaced from the
 * minimum variance portfolio's return to the highest admissible return, each an exact QP.
 *
 * @example
 * ```ts
 * const { returns, volatilities, weights } = await efficientFrontier(cov, mu, { points: 50 });
 * ```
 */
export async function efficientFrontier(
  covariance: Tensor,
  expectedReturns: Tensor,
  options: EfficientFrontierOptions = {},
): Promise<EfficientFrontier> {
  const op = 'efficientFrontier';
  const points = options.points ?? 20;
  if (!Number.isInteger(points) || points < 2) {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: points must be an integer ≥ 2, got ${points}`, {
      op,
    });
  }
  const p = await problem(op, covariance, options);
  const mu = await readMu(op, expectedReturns, p.n);
  const gmv = solveMinVar(p);
  const r0 = dotv(gmv, mu);
  const range = returnRange(p, mu);
  const r1 = options.maxReturn ?? (Number.isFinite(range.max) ? range.max : Math.max(...mu));
  if (!(r1 >= r0)) {
    throw new GradfolioError(
      'INFEASIBLE',
      `${op}: the highest target return ${r1} is below the minimum variance portfolio's return ${r0}`,
      { op, maxReturn: r1, minimumVarianceReturn: r0 },
    );
  }
  const rets = new Float64Array(points);
  const vols = new Float64Array(points);
  const W = new Float64Array(points * p.n);
  for (let k = 0; k < points; k++) {
    const r = k === points - 1 ? r1 : r0 + ((r1 - r0) * k) / (points - 1);
    const w = k === 0 ? gmv : targetReturnWeights(op, p, mu, r);
    rets[k] = k === 0 ? r0 : r;
    vols[k] = Math.sqrt(quad(p.S, w));
    W.set(w, k * p.n);
  }
  return {
    returns: out(p, rets),
    volatilities: out(p, vols),
    weights: out(p, W).reshape([points, p.n]),
  };
}

/** Options of {@link equalRiskContribution}. */
export interface EqualRiskContributionOptions {
  /** Risk budgets `b` (positive, normalised to sum to 1). Default equal budgets `1/n`. */
  budgets?: readonly number[];
  /** Newton stopping tolerance on the gradient's max-norm. Default `1e-14`. */
  tol?: number;
  /** Newton iteration cap. Default `100`. */
  maxIter?: number;
}

/**
 * The equal risk contribution (risk parity) portfolio, long-only and fully invested: the weights whose
 * risk contributions `w_i (Σw)_i / w'Σw` equal the budgets (default `1/n` each).
 *
 * Solved by Newton's method on Spinu's (2013) strictly convex formulation
 * `min ½ y'Σy - Σ b_i log y_i` over `y > 0` (Hessian `Σ + diag(b / y²)`, backtracking to stay positive),
 * then `w = y / 1'y`; converges quadratically to machine precision.
 *
 * @example
 * ```ts
 * const w = await equalRiskContribution(cov);
 * riskContributions(w, cov); // ≈ 1/n each
 * ```
 */
export async function equalRiskContribution(
  covariance: Tensor,
  options: EqualRiskContributionOptions = {},
): Promise<Tensor> {
  const op = 'equalRiskContribution';
  const { n, S } = await readCov(op, covariance);
  const budgets = bound(op, 'budgets', options.budgets, n, 1 / n);
  let bs = 0;
  budgets.forEach((v, i) => {
    if (!(v > 0) || !Number.isFinite(v)) {
      throw new GradfolioError('INVALID_ARGUMENT', `${op}: risk budget ${i} must be positive, got ${v}`, {
        op,
      });
    }
    bs += v;
  });
  const b = budgets.map((v) => v / bs);
  const tol = options.tol ?? 1e-14;
  const maxIter = options.maxIter ?? 100;
  const f = (y: Float64Array): number => {
    let v = 0.5 * quad(S, y);
    for (let i = 0; i < n; i++) v -= b[i]! * Math.log(y[i]!);
    return v;
  };
  // Start from inverse volatility scaled so that the quadratic term balances the barrier.
  let y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = 1 / Math.sqrt(S[i * n + i]!);
  const sc = Math.sqrt(1 / quad(S, y));
  y = y.map((v) => v * sc);
  let fy = f(y);
  let converged = false;
  for (let it = 0; it < maxIter; it++) {
    const g = new Float64Array(n);
    const H = new Float64Array(n * n);
    let gmax = 0;
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let j = 0; j < n; j++) {
        r += S[i * n + j]! * y[j]!;
        H[i * n + j] = S[i * n + j]!;
      }
      g[i] = r - b[i]! / y[i]!;
      H[i * n + i] = H[i * n + i]! + b[i]! / (y[i]! * y[i]!);
      gmax = Math.max(gmax, Math.abs(g[i]! * y[i]!));
    }
    if (gmax <= tol) {
      converged = true;
      break;
    }
    const d = g.map((v) => -v);
    if (!luSolve(H, d, n)) break;
    let t = 1;
    for (let i = 0; i < n; i++) if (d[i]! < 0) t = Math.min(t, -0.99 * (y[i]! / d[i]!));
    let yn = y.map((v, i) => v + t * d[i]!);
    let fn = f(yn);
    // Near the optimum the decrease in f is below its rounding, so take the (positive) Newton step as is.
    const damped = gmax > 1e-6;
    while (damped && fn > fy + 1e-4 * t * dotv(g, d) && t > 1e-12) {
      t *= 0.5;
      yn = y.map((v, i) => v + t * d[i]!);
      fn = f(yn);
    }
    y = yn;
    fy = fn;
  }
  if (!converged) {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: Newton did not converge in ${maxIter} iterations`, {
      op,
    });
  }
  let sy = 0;
  for (const v of y) sy += v;
  return tensor(
    y.map((v) => v / sy),
    { dtype: covariance.dtype, device: covariance.device },
  );
}

/**
 * Inverse volatility weights `w_i ∝ 1 / σ_i` (long-only, fully invested; the risk parity answer when all
 * correlations are equal).
 *
 * @example
 * ```ts
 * await inverseVolatility(tensor([[0.04, 0], [0, 0.16]])); // tensor([0.6667, 0.3333])
 * ```
 */
export async function inverseVolatility(covariance: Tensor): Promise<Tensor> {
  const op = 'inverseVolatility';
  checkCovShape(op, covariance);
  const n = covariance.shape[0]!;
  const S = await covariance.data();
  const w = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = Number(S[i * n + i]);
    if (!(v > 0) || !Number.isFinite(v)) {
      throw new GradfolioError('NOT_PSD', `${op}: asset ${i} has variance ${v}; it must be positive`, {
        op,
        asset: i,
      });
    }
    w[i] = 1 / Math.sqrt(v);
    s += w[i]!;
  }
  return tensor(
    w.map((v) => v / s),
    { dtype: covariance.dtype, device: covariance.device },
  );
}

/** Options of {@link sgdMinimumVarianceExample}. */
export interface SgdMinimumVarianceExampleOptions {
  /** Starting weights. Default seed 004's `[0.33, 0.33, 0.34]` for 3 assets, else `1/n`. */
  init?: readonly number[];
  /** Learning rate. Default `0.01`. */
  lr?: number;
  /** Steps. Default `500`. */
  steps?: number;
}

/**
 * Seed 004's heuristic, kept as a documented example, not an optimiser: plain gradient steps on `w'Σw`
 * (`w ← w - lr · 2Σw`), then clamp at zero and divide by the sum. Clamp-and-renormalise is not the
 * Euclidean projection onto the simplex (use {@link projectSimplex} for projected gradient), and with
 * `lr = 0.01` after 500 steps it is still far from the optimum: on seed 004's data it ends at about
 * `[0.2148, 0.5542, 0.2309]`, variance 0.03903, while the exact long-only minimum variance portfolio
 * from {@link minimumVariance} is about `[0.1609, 0.6240, 0.2151]`, variance 0.03864. Worse, it does not
 * converge to the optimum if run longer: dividing by the sum after the step makes it a power iteration on
 * `I - 2·lr·Σ`, whose fixed points are (clamped) eigen-directions of `Σ`, not the minimum variance
 * portfolio; on seed 004's data it drifts to `[0, 1, 0]` (variance 0.0507) within 5000 steps. Computed
 * on the host in float64.
 *
 * @example
 * ```ts
 * const approx = await sgdMinimumVarianceExample(cov); // seed 004
 * const exact = await minimumVariance(cov); // use this
 * ```
 */
export async function sgdMinimumVarianceExample(
  covariance: Tensor,
  options: SgdMinimumVarianceExampleOptions = {},
): Promise<Tensor> {
  const op = 'sgdMinimumVarianceExample';
  checkCovShape(op, covariance);
  const n = covariance.shape[0]!;
  const S = Float64Array.from(await covariance.data(), Number);
  const lr = options.lr ?? 0.01;
  const steps = options.steps ?? 500;
  const init = options.init ?? (n === 3 ? [0.33, 0.33, 0.34] : new Array<number>(n).fill(1 / n));
  if (init.length !== n) {
    throw new GradfolioError('SHAPE_MISMATCH', `${op}: init has ${init.length} entries for ${n} assets`, {
      op,
    });
  }
  let w = Float64Array.from(init);
  for (let s = 0; s < steps; s++) {
    const g = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let r = 0;
      for (let j = 0; j < n; j++) r += (S[i * n + j]! + S[j * n + i]!) * w[j]!;
      g[i] = r;
    }
    w = w.map((v, i) => Math.max(v - lr * g[i]!, 0));
    const sum = w.reduce((a, v) => a + v, 0);
    w = w.map((v) => v / sum);
  }
  return tensor(w, { dtype: covariance.dtype, device: covariance.device });
}
