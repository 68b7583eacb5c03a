/**
 * Performance metrics of a return series, with empyrical's definitions (empyrical 0.5.5, `stats.py`)
 * unless stated otherwise. Every metric takes simple (not log) per-period returns, as a 1-D tensor or
 * any array of numbers, and returns a plain `number`.
 *
 * The single-metric functions are synchronous: a tensor argument is read with `dataSync()` (CPU, or any
 * backend that can read synchronously). For a tensor on an asynchronous device use
 * {@link performanceReport}, which reads the values once with `await t.data()`.
 *
 * Conventions shared by all metrics:
 * - `periodsPerYear` (default 252) is empyrical's `annualization` factor.
 * - `riskFree` and `requiredReturn` are per-period rates (empyrical's `risk_free` and `required_return`),
 *   not annual ones: for a 2% annual rate on daily data pass `0.02 / 252`.
 * - Values must be finite; an empty series gives `NaN` (as numpy's reductions of empty arrays do).
 *
 * @module
 */

import { GradfolioError, type Tensor } from '@gradfolio/tensor';

/** A 1-D series of per-period simple returns: a 1-D tensor or an array of numbers. */
export type ReturnsLike = Tensor | ArrayLike<number>;

/** Options shared by the annualised metrics. */
export interface AnnualizationOptions {
  /** Periods per year used to annualise (empyrical's `annualization`). Default `252` (daily). */
  periodsPerYear?: number;
}

/** Options of {@link sharpeRatio}. */
export interface SharpeRatioOptions extends AnnualizationOptions {
  /** Per-period risk-free rate subtracted from every return. Default `0`. */
  riskFree?: number;
}

/** Options of {@link sortinoRatio} and {@link downsideRisk}. */
export interface SortinoRatioOptions extends AnnualizationOptions {
  /** Per-period minimum acceptable return (empyrical's `required_return`). Default `0`. */
  requiredReturn?: number;
}

/** Options of {@link maxDrawdown} and {@link calmarRatio}. */
export interface MaxDrawdownOptions {
  /**
   * Count the starting value (equity 1 before the first return) in the running peak. Default `false`,
   * empyrical's definition, where the running peak starts at the first period's close, so a loss in the
   * very first period is not a drawdown. `true` is the usual "from inception" definition.
   */
  includeStart?: boolean;
}

/** Options of {@link calmarRatio}. */
export interface CalmarRatioOptions extends AnnualizationOptions, MaxDrawdownOptions {}

/** Options of {@link performanceReport} and {@link performanceReportSync}. */
export interface PerformanceReportOptions extends AnnualizationOptions, MaxDrawdownOptions {
  /** Per-period risk-free rate for the Sharpe ratio. Default `0`. */
  riskFree?: number;
  /** Per-period minimum acceptable return for the Sortino ratio. Default `0`. */
  requiredReturn?: number;
  /** Per-period turnover series (e.g. `backtest(...).turnover`); adds `turnover` to the report. */
  turnover?: ReturnsLike;
}

/** The numbers returned by {@link performanceReport}; see each metric's function for its definition. */
export interface PerformanceReport {
  /** Number of return periods. */
  periods: number;
  /** Compounded total return, `prod(1 + r) - 1`. */
  totalReturn: number;
  /** CAGR, {@link annualReturn}. */
  annualReturn: number;
  /** Arithmetic annual return, {@link annualReturnArithmetic}. */
  annualReturnArithmetic: number;
  /** {@link annualVolatility}. */
  annualVolatility: number;
  /** {@link sharpeRatio}. */
  sharpeRatio: number;
  /** {@link sortinoRatio}. */
  sortinoRatio: number;
  /** {@link downsideRisk}. */
  downsideRisk: number;
  /** {@link maxDrawdown} (a number <= 0). */
  maxDrawdown: number;
  /** {@link calmarRatio}. */
  calmarRatio: number;
  /** {@link hitRate}. */
  hitRate: number;
  /** {@link averageGain}. */
  averageGain: number;
  /** {@link averageLoss}. */
  averageLoss: number;
  /** {@link averageTurnover} of the `turnover` option; present only when it was given. */
  turnover?: number;
}

function isTensor(x: ReturnsLike): x is Tensor {
  return typeof (x as Tensor).dataSync === 'function' && Array.isArray((x as Tensor).shape);
}

function checkTensor(x: Tensor, op: string): void {
  if (x.shape.length !== 1) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: expected a 1-D returns series, got shape [${x.shape}]`,
      {
        op,
        shapes: [x.shape],
      },
    );
  }
}

/** Reads a series synchronously as float64 values. */
function readSync(x: ReturnsLike, op: string): Float64Array {
  if (isTensor(x)) {
    checkTensor(x, op);
    return Float64Array.from(x.dataSync() as ArrayLike<number>);
  }
  return Float64Array.from(x);
}

async function readAsync(x: ReturnsLike, op: string): Promise<Float64Array> {
  if (isTensor(x)) {
    checkTensor(x, op);
    return Float64Array.from((await x.data()) as ArrayLike<number>);
  }
  return Float64Array.from(x);
}

function ppyOf(options: AnnualizationOptions, op: string): number {
  const p = options.periodsPerYear ?? 252;
  if (!(Number.isFinite(p) && p > 0)) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: periodsPerYear must be a positive number, got ${p}`,
      {
        op,
      },
    );
  }
  return p;
}

function meanOf(r: Float64Array, shift = 0): number {
  let s = 0;
  for (let i = 0; i < r.length; i++) s += (r[i] as number) - shift;
  return s / r.length;
}

/** Sample standard deviation (ddof 1) of `r - shift`, two-pass like numpy. */
function stdOf(r: Float64Array, shift = 0): number {
  const n = r.length;
  if (n < 2) return Number.NaN;
  const m = meanOf(r, shift);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = (r[i] as number) - shift - m;
    s += d * d;
  }
  return Math.sqrt(s / (n - 1));
}

function totalGrowth(r: Float64Array): number {
  let g = 1;
  for (let i = 0; i < r.length; i++) g *= 1 + (r[i] as number);
  return g;
}

function annualReturnOf(r: Float64Array, ppy: number): number {
  if (r.length === 0) return Number.NaN;
  return totalGrowth(r) ** (1 / (r.length / ppy)) - 1;
}

function downsideOf(r: Float64Array, target: number, ppy: number): number {
  if (r.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < r.length; i++) {
    const d = Math.min((r[i] as number) - target, 0);
    s += d * d;
  }
  return Math.sqrt(s / r.length) * Math.sqrt(ppy);
}

function maxDrawdownOf(r: Float64Array, includeStart: boolean): number {
  if (r.length === 0) return Number.NaN;
  let equity = 1;
  let peak = includeStart ? 1 : Number.NEGATIVE_INFINITY;
  let worst = 0;
  for (let i = 0; i < r.length; i++) {
    equity *= 1 + (r[i] as number);
    if (equity > peak) peak = equity;
    const dd = equity / peak - 1;
    if (dd < worst) worst = dd;
  }
  return worst;
}

function calmarOf(r: Float64Array, ppy: number, includeStart: boolean): number {
  const mdd = maxDrawdownOf(r, includeStart);
  if (!(mdd < 0)) return Number.NaN;
  const c = annualReturnOf(r, ppy) / Math.abs(mdd);
  return Number.isFinite(c) ? c : Number.NaN;
}

function hitRateOf(r: Float64Array): number {
  if (r.length === 0) return Number.NaN;
  let k = 0;
  for (let i = 0; i < r.length; i++) if ((r[i] as number) > 0) k++;
  return k / r.length;
}

function conditionalMean(r: Float64Array, positive: boolean): number {
  let s = 0;
  let k = 0;
  for (let i = 0; i < r.length; i++) {
    const v = r[i] as number;
    if (positive ? v > 0 : v < 0) {
      s += v;
      k++;
    }
  }
  return k === 0 ? Number.NaN : s / k;
}

/**
 * Compound annual growth rate (empyrical `annual_return`): `prod(1 + r) ** (periodsPerYear / n) - 1`.
 *
 * @example
 * ```ts
 * annualReturn([0.01, -0.005, 0.002], { periodsPerYear: 252 });
 * ```
 */
export function annualReturn(returns: ReturnsLike, options: AnnualizationOptions = {}): number {
  return annualReturnOf(readSync(returns, 'annualReturn'), ppyOf(options, 'annualReturn'));
}

/**
 * Arithmetic annual return: `mean(r) * periodsPerYear` (the documented alternative to the CAGR of
 * {@link annualReturn}; it is the numerator of the annualised Sharpe ratio).
 *
 * @example
 * ```ts
 * annualReturnArithmetic([0.01, -0.005, 0.002]); // mean * 252
 * ```
 */
export function annualReturnArithmetic(returns: ReturnsLike, options: AnnualizationOptions = {}): number {
  const r = readSync(returns, 'annualReturnArithmetic');
  return meanOf(r) * ppyOf(options, 'annualReturnArithmetic');
}

/**
 * Annualised volatility (empyrical `annual_volatility`): `std(r, ddof=1) * sqrt(periodsPerYear)`.
 * `NaN` for fewer than two periods.
 *
 * @example
 * ```ts
 * annualVolatility([0.01, -0.005, 0.002]);
 * ```
 */
export function annualVolatility(returns: ReturnsLike, options: AnnualizationOptions = {}): number {
  const r = readSync(returns, 'annualVolatility');
  return stdOf(r) * Math.sqrt(ppyOf(options, 'annualVolatility'));
}

/**
 * Annualised Sharpe ratio (empyrical `sharpe_ratio`): with `x = r - riskFree`,
 * `mean(x) / std(x, ddof=1) * sqrt(periodsPerYear)`. `NaN` for fewer than two periods.
 *
 * @example
 * ```ts
 * sharpeRatio(returns, { riskFree: 0.02 / 252 });
 * ```
 */
export function sharpeRatio(returns: ReturnsLike, options: SharpeRatioOptions = {}): number {
  const r = readSync(returns, 'sharpeRatio');
  const rf = options.riskFree ?? 0;
  return (meanOf(r, rf) / stdOf(r, rf)) * Math.sqrt(ppyOf(options, 'sharpeRatio'));
}

/**
 * Annualised downside deviation (empyrical `downside_risk`), over ALL periods (periods above the target
 * count as zero deviation): `sqrt(mean(min(r - requiredReturn, 0)^2)) * sqrt(periodsPerYear)`.
 *
 * @example
 * ```ts
 * downsideRisk([0.01, -0.02, 0.005]);
 * ```
 */
export function downsideRisk(returns: ReturnsLike, options: SortinoRatioOptions = {}): number {
  const r = readSync(returns, 'downsideRisk');
  return downsideOf(r, options.requiredReturn ?? 0, ppyOf(options, 'downsideRisk'));
}

/**
 * Annualised Sortino ratio (empyrical `sortino_ratio`):
 * `mean(r - requiredReturn) * periodsPerYear / downsideRisk(r)`, the downside deviation taken over all
 * periods (see {@link downsideRisk}). `Infinity` when no period is below the target (as numpy gives).
 *
 * @example
 * ```ts
 * sortinoRatio(returns, { requiredReturn: 0 });
 * ```
 */
export function sortinoRatio(returns: ReturnsLike, options: SortinoRatioOptions = {}): number {
  const r = readSync(returns, 'sortinoRatio');
  const target = options.requiredReturn ?? 0;
  const ppy = ppyOf(options, 'sortinoRatio');
  return (meanOf(r, target) * ppy) / downsideOf(r, target, ppy);
}

/**
 * Maximum drawdown (empyrical `max_drawdown`): the most negative `equity / runningPeak - 1` of the
 * compounded equity `cumprod(1 + r)`; a number in `[-1, 0]` (`0` when equity never falls). By default
 * the peak starts at the first period's close (empyrical); `includeStart: true` also counts the starting
 * value 1.
 *
 * @example
 * ```ts
 * maxDrawdown([0.1, -0.2, 0.05]); // 1.1 -> 0.88: -0.2
 * ```
 */
export function maxDrawdown(returns: ReturnsLike, options: MaxDrawdownOptions = {}): number {
  return maxDrawdownOf(readSync(returns, 'maxDrawdown'), options.includeStart ?? false);
}

/**
 * Calmar ratio (empyrical `calmar_ratio`): `annualReturn(r) / |maxDrawdown(r)|`, `NaN` when there is no
 * drawdown (or the ratio is not finite).
 *
 * @example
 * ```ts
 * calmarRatio(returns, { periodsPerYear: 252 });
 * ```
 */
export function calmarRatio(returns: ReturnsLike, options: CalmarRatioOptions = {}): number {
  const r = readSync(returns, 'calmarRatio');
  return calmarOf(r, ppyOf(options, 'calmarRatio'), options.includeStart ?? false);
}

/**
 * Hit rate: the fraction of ALL periods with a strictly positive return (zero returns count as misses).
 * Not an empyrical function.
 *
 * @example
 * ```ts
 * hitRate([0.01, 0, -0.02, 0.03]); // 0.5
 * ```
 */
export function hitRate(returns: ReturnsLike): number {
  return hitRateOf(readSync(returns, 'hitRate'));
}

/**
 * Average gain: the mean of the strictly positive returns (`NaN` when there are none).
 *
 * @example
 * ```ts
 * averageGain([0.01, -0.02, 0.03]); // 0.02
 * ```
 */
export function averageGain(returns: ReturnsLike): number {
  return conditionalMean(readSync(returns, 'averageGain'), true);
}

/**
 * Average loss: the mean of the strictly negative returns, a negative number (`NaN` when there are none).
 *
 * @example
 * ```ts
 * averageLoss([0.01, -0.02, -0.04]); // -0.03
 * ```
 */
export function averageLoss(returns: ReturnsLike): number {
  return conditionalMean(readSync(returns, 'averageLoss'), false);
}

/**
 * Average turnover per period: the mean of a per-period turnover series such as
 * `backtest(...).turnover` (one-way turnover `sum |w_target - w_drifted|`, 0 on non-rebalance periods).
 * Multiply by `periodsPerYear` for an annual turnover.
 *
 * @example
 * ```ts
 * averageTurnover([1, 0, 0, 0.2]); // 0.3
 * ```
 */
export function averageTurnover(turnover: ReturnsLike): number {
  const t = readSync(turnover, 'averageTurnover');
  return t.length === 0 ? Number.NaN : meanOf(t);
}

function report(r: Float64Array, turnover: Float64Array | undefined, options: PerformanceReportOptions) {
  const ppy = ppyOf(options, 'performanceReport');
  const rf = options.riskFree ?? 0;
  const target = options.requiredReturn ?? 0;
  const includeStart = options.includeStart ?? false;
  const out: PerformanceReport = {
    periods: r.length,
    totalReturn: r.length === 0 ? Number.NaN : totalGrowth(r) - 1,
    annualReturn: annualReturnOf(r, ppy),
    annualReturnArithmetic: meanOf(r) * ppy,
    annualVolatility: stdOf(r) * Math.sqrt(ppy),
    sharpeRatio: (meanOf(r, rf) / stdOf(r, rf)) * Math.sqrt(ppy),
    sortinoRatio: (meanOf(r, target) * ppy) / downsideOf(r, target, ppy),
    downsideRisk: downsideOf(r, target, ppy),
    maxDrawdown: maxDrawdownOf(r, includeStart),
    calmarRatio: calmarOf(r, ppy, includeStart),
    hitRate: hitRateOf(r),
    averageGain: conditionalMean(r, true),
    averageLoss: conditionalMean(r, false),
  };
  if (turnover !== undefined) out.turnover = turnover.length === 0 ? Number.NaN : meanOf(turnover);
  return out;
}

/**
 * Every metric of this module in one object of numbers, reading the series once (asynchronously, so it
 * works for tensors on any device).
 *
 * @example
 * ```ts
 * const bt = await backtest(weights, assetReturns, { rebalance: 21, costBps: 1 });
 * const rep = await performanceReport(bt.returns, { periodsPerYear: 252, turnover: bt.turnover });
 * console.log(rep.sharpeRatio, rep.maxDrawdown, rep.turnover);
 * ```
 */
export async function performanceReport(
  returns: ReturnsLike,
  options: PerformanceReportOptions = {},
): Promise<PerformanceReport> {
  const r = await readAsync(returns, 'performanceReport');
  const t =
    options.turnover === undefined ? undefined : await readAsync(options.turnover, 'performanceReport');
  return report(r, t, options);
}

/**
 * Synchronous {@link performanceReport} (tensors must be readable synchronously, e.g. on the CPU).
 *
 * @example
 * ```ts
 * performanceReportSync([0.01, -0.02, 0.015]).sharpeRatio;
 * ```
 */
export function performanceReportSync(
  returns: ReturnsLike,
  options: PerformanceReportOptions = {},
): PerformanceReport {
  const r = readSync(returns, 'performanceReportSync');
  const t = options.turnover === undefined ? undefined : readSync(options.turnover, 'performanceReportSync');
  return report(r, t, options);
}
