/**
 * Differentiable finance losses: negative Sharpe ratio (both forms of seed 000), Sortino, mean-variance
 * utility, maximum drawdown (exact and smooth), CVaR, turnover penalty and the asymmetric P&L loss of
 * seed 001. Every loss returns a tensor that `backward()` / `grad()` differentiate (import
 * `@gradfolio/autograd` to install autograd), and every loss is numerically safe at zero volatility:
 * constant returns give finite values and finite gradients.
 *
 * Shapes: returns are `[..., T]` (time on `dim`, last by default) or asset returns `[..., T, A]`;
 * a per-row statistic is computed over time and then reduced over the remaining (batch) dimensions
 * (`reduction`, `'mean'` by default).
 */

import {
  cat,
  GradfolioError,
  logsumexp,
  maximum,
  onesLike,
  relu,
  stack,
  type Tensor,
  variance,
  where,
  zerosLike,
} from '@gradfolio/tensor';

/** How a per-row loss is reduced over the batch: `'mean'` (default), `'sum'` or `'none'` (per row). */
export type LossReduction = 'mean' | 'sum' | 'none';

// ------------------------------------------------------------------------------------------ helpers

function invalid(op: string, message: string, details: Record<string, unknown> = {}): GradfolioError {
  return new GradfolioError('INVALID_ARGUMENT', `${op}: ${message}`, { op, ...details });
}

function requireFloat(op: string, name: string, x: Tensor): void {
  if (x.dtype !== 'float32' && x.dtype !== 'float64') {
    throw new GradfolioError('DTYPE_MISMATCH', `${op}: ${name} must be float32 or float64, got ${x.dtype}`, {
      op,
      dtype: x.dtype,
    });
  }
}

function requireNdim(op: string, name: string, x: Tensor, min: number): void {
  if (x.ndim < min) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: ${name} must have at least ${min} dimension(s), got shape [${x.shape.join(', ')}]`,
      { op, shapes: [x.shape] },
    );
  }
}

function normDim(op: string, dim: number, ndim: number): number {
  const d = dim < 0 ? dim + ndim : dim;
  if (!Number.isInteger(d) || d < 0 || d >= ndim) {
    throw new GradfolioError(
      'INDEX_OUT_OF_RANGE',
      `${op}: dim ${dim} is out of range for ${ndim} dimension(s)`,
      {
        op,
        dim,
      },
    );
  }
  return d;
}

function reduce(op: string, x: Tensor, reduction: LossReduction | undefined): Tensor {
  switch (reduction ?? 'mean') {
    case 'mean':
      return x.mean();
    case 'sum':
      return x.sum();
    case 'none':
      return x;
    default:
      throw invalid(op, `reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
  }
}

function positiveOption(op: string, name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
    throw invalid(op, `${name} must be a positive finite number, got ${value}`, { [name]: value });
  }
}

function nonNegativeOption(op: string, name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isFinite(value) && value >= 0)) {
    throw invalid(op, `${name} must be a non-negative finite number, got ${value}`, { [name]: value });
  }
}

/**
 * `num / den` where `den > 0`, else 0, with finite gradients everywhere (the "double where": the
 * division never sees a zero denominator, so no `0 * inf` reaches the backward pass).
 */
function safeRatio(num: Tensor, den: Tensor): Tensor {
  const pos = den.gt(0);
  return where(pos, num.div(where(pos, den, 1)), 0);
}

/** `sqrt(x)` with gradient 0 (not `inf * 0 = NaN`) where `x` is 0. */
function safeSqrt(x: Tensor): Tensor {
  const pos = x.gt(0);
  return where(pos, where(pos, x, 1).sqrt(), 0);
}

function annualise(x: Tensor, periodsPerYear: number | undefined): Tensor {
  return periodsPerYear === undefined ? x : x.mul(Math.sqrt(periodsPerYear));
}

/**
 * Portfolio returns `sum_a r[..., t, a] * w[..., a]` (static weights `[..., A]`, broadcast over time,
 * as seed 000's `sharpe_loss`) or `sum_a r[..., t, a] * w[..., t, a]` (time-varying weights).
 */
function portfolioReturns(op: string, assetReturns: Tensor, weights: Tensor): Tensor {
  requireFloat(op, 'assetReturns', assetReturns);
  requireFloat(op, 'weights', weights);
  requireNdim(op, 'assetReturns', assetReturns, 2);
  const a = assetReturns.shape[assetReturns.ndim - 1];
  const okRank = weights.ndim === assetReturns.ndim - 1 || weights.ndim === assetReturns.ndim;
  if (!okRank || weights.shape[weights.ndim - 1] !== a) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: weights [${weights.shape.join(', ')}] must be [..., A] or [..., T, A] for asset returns [${assetReturns.shape.join(', ')}]`,
      { op, shapes: [assetReturns.shape, weights.shape] },
    );
  }
  const w = weights.ndim === assetReturns.ndim - 1 ? weights.unsqueeze(-2) : weights;
  return assetReturns.mul(w).sum(-1);
}

/** `sum_a |w[..., t, a] - w[..., t-1, a]|` for t = 1..T-1, shape `[..., T-1]`. */
function turnoverPerStep(w: Tensor): Tensor {
  const t = w.shape[w.ndim - 2]!;
  if (t < 2) return zerosLike(w.narrow(-2, 0, 0).sum(-1));
  return w
    .narrow(-2, 1, t - 1)
    .sub(w.narrow(-2, 0, t - 1))
    .abs()
    .sum(-1);
}

// ------------------------------------------------------------------------------------------ Sharpe

/** Options of {@link negativeSharpeRatio}. */
export interface NegativeSharpeRatioOptions {
  /** Time dimension (default 1, as in seed 000: `returns` is `[batch, time]`; 0 for a 1-D series). */
  dim?: number;
  /** Added to the standard deviation (default `1e-8`, as in seed 000). */
  epsilon?: number;
  /** Sample (`true`, Bessel) or population (`false`, the default, as in seed 000) standard deviation. */
  unbiased?: boolean;
  /** Annualisation: the ratio is multiplied by `sqrt(periodsPerYear)` (e.g. 252 for daily returns). */
  periodsPerYear?: number;
  /** Risk-free rate per period, subtracted from the mean return (default 0). */
  riskFree?: number;
  /** Reduction over the remaining dimensions (default `'mean'`, as in seed 000). */
  reduction?: LossReduction;
}

/**
 * Negative Sharpe ratio per row, averaged over the batch: seed 000's `negative_sharpe_ratio_loss`
 * with its defaults,
 *
 * `-mean_b( mean_t(r - rf) / (std_t(r, unbiased) + epsilon) ) * sqrt(periodsPerYear)`.
 *
 * Constant returns (zero volatility): the ratio is `(mean - riskFree) / epsilon` (large but finite,
 * with the sign of the excess mean), and its gradient is finite (the gradient of `std` is 0 where
 * `std` is 0, as in PyTorch); with `epsilon: 0` the ratio of a zero-volatility row is defined as 0.
 *
 * @example
 * ```ts
 * const r = randn([16, 5], { requiresGrad: true });
 * const loss = negativeSharpeRatio(r); // -(r.mean(1) / (r.std(1, { unbiased: false }) + 1e-8)).mean()
 * loss.backward();
 * ```
 */
export function negativeSharpeRatio(returns: Tensor, options: NegativeSharpeRatioOptions = {}): Tensor {
  const op = 'negativeSharpeRatio';
  requireFloat(op, 'returns', returns);
  requireNdim(op, 'returns', returns, 1);
  nonNegativeOption(op, 'epsilon', options.epsilon);
  positiveOption(op, 'periodsPerYear', options.periodsPerYear);
  const dim = normDim(op, options.dim ?? (returns.ndim === 1 ? 0 : 1), returns.ndim);
  const excess = returns.sub(options.riskFree ?? 0).mean(dim);
  const sd = returns.std(dim, { unbiased: options.unbiased ?? false }).add(options.epsilon ?? 1e-8);
  return reduce(op, annualise(safeRatio(excess, sd), options.periodsPerYear).neg(), options.reduction);
}

/** Options of {@link sharpeLoss}. */
export interface SharpeLossOptions {
  /** Added to the standard deviation (default 0, as in seed 000's `sharpe_loss`). */
  epsilon?: number;
  /** Sample (`true`, the default, as `Tensor.std()` in seed 000) or population standard deviation. */
  unbiased?: boolean;
  /** Annualisation: the ratio is multiplied by `sqrt(periodsPerYear)`. */
  periodsPerYear?: number;
  /** Risk-free rate per period, subtracted from the mean portfolio return (default 0). */
  riskFree?: number;
  /**
   * Proportional transaction cost in basis points (needs time-varying weights `[B, T, A]`): the
   * portfolio return at step t is net of `costBps * 1e-4 * sum_a |w_t - w_{t-1}|` (no cost at t = 0),
   * the cost-adjusted Sharpe of Lim, Zohren & Roberts (2019), "Enhancing time series momentum
   * strategies using deep neural networks".
   */
  costBps?: number;
  /** Adds `turnoverWeight * turnoverPenalty(weights)` to the loss (time-varying weights only). */
  turnoverWeight?: number;
  /**
   * `true` (default, seed 000): one Sharpe ratio of all `B * T` portfolio returns pooled together;
   * `false`: a Sharpe ratio per batch row, averaged (as {@link negativeSharpeRatio}).
   */
  pooled?: boolean;
}

/**
 * Negative Sharpe ratio of portfolio returns built from asset returns `[B, T, A]` and weights `[B, A]`
 * (or time-varying `[B, T, A]`): seed 000's `sharpe_loss(y, pred_w)` with its defaults,
 *
 * `p = (y * w.unsqueeze(1)).sum(2); loss = -(p.mean() - rf) / (p.std() + epsilon) * sqrt(periodsPerYear)`.
 *
 * Zero volatility: with the default `epsilon: 0` (exactly the seed), a constant portfolio has Sharpe 0
 * (the seed divides by zero); with `epsilon > 0` it is `(mean - rf) / epsilon`. Gradients are finite.
 *
 * @example
 * ```ts
 * const y = randn([64, 50, 4]).mul(0.01);
 * const w = randn([64, 4], { requiresGrad: true }).softmax(-1);
 * sharpeLoss(y, w).backward();
 * ```
 */
export function sharpeLoss(assetReturns: Tensor, weights: Tensor, options: SharpeLossOptions = {}): Tensor {
  const op = 'sharpeLoss';
  nonNegativeOption(op, 'epsilon', options.epsilon);
  positiveOption(op, 'periodsPerYear', options.periodsPerYear);
  nonNegativeOption(op, 'costBps', options.costBps);
  nonNegativeOption(op, 'turnoverWeight', options.turnoverWeight);
  requireNdim(op, 'assetReturns', assetReturns, 2);
  let p = portfolioReturns(op, assetReturns, weights);
  const timeVarying = weights.ndim === assetReturns.ndim;
  if ((options.costBps !== undefined || options.turnoverWeight !== undefined) && !timeVarying) {
    throw invalid(op, 'costBps and turnoverWeight need time-varying weights [..., T, A]', {
      shapes: [assetReturns.shape, weights.shape],
    });
  }
  if (options.costBps !== undefined) {
    const c = turnoverPerStep(weights).mul(options.costBps * 1e-4);
    p = p.sub(cat([zerosLike(p.narrow(-1, 0, 1)), c], -1));
  }
  let loss: Tensor;
  if (options.pooled === false) {
    loss = negativeSharpeRatio(p, {
      dim: -1,
      epsilon: options.epsilon ?? 0,
      unbiased: options.unbiased ?? true,
      ...(options.periodsPerYear === undefined ? {} : { periodsPerYear: options.periodsPerYear }),
      riskFree: options.riskFree ?? 0,
    });
  } else {
    const excess = p.mean().sub(options.riskFree ?? 0);
    const sd = p.std(undefined, { unbiased: options.unbiased ?? true }).add(options.epsilon ?? 0);
    loss = annualise(safeRatio(excess, sd), options.periodsPerYear).neg();
  }
  if (options.turnoverWeight !== undefined) {
    loss = loss.add(turnoverPenalty(weights).mul(options.turnoverWeight));
  }
  return loss;
}

// ------------------------------------------------------------------------------------------ Sortino

/** Options of {@link sortinoLoss}. */
export interface SortinoLossOptions {
  /** Time dimension (default -1). */
  dim?: number;
  /** Target (minimum acceptable) return per period (default 0). */
  target?: number;
  /** Added to the downside deviation (default `1e-8`). */
  epsilon?: number;
  /** Annualisation: the ratio is multiplied by `sqrt(periodsPerYear)`. */
  periodsPerYear?: number;
  /** Reduction over the remaining dimensions (default `'mean'`). */
  reduction?: LossReduction;
}

/**
 * Negative Sortino ratio per row, averaged over the batch:
 * `-mean_t(r - target) / (sqrt(mean_t(min(r - target, 0)^2)) + epsilon) * sqrt(periodsPerYear)`.
 * The downside deviation averages over all periods (not only the losing ones).
 *
 * No downside (e.g. constant returns above the target): the deviation is 0 with gradient 0, so the
 * ratio is `mean(r - target) / epsilon` (0 when `epsilon` is 0); values and gradients stay finite.
 *
 * @example
 * ```ts
 * const loss = sortinoLoss(r, { target: 0.0001, periodsPerYear: 252 });
 * ```
 */
export function sortinoLoss(returns: Tensor, options: SortinoLossOptions = {}): Tensor {
  const op = 'sortinoLoss';
  requireFloat(op, 'returns', returns);
  requireNdim(op, 'returns', returns, 1);
  nonNegativeOption(op, 'epsilon', options.epsilon);
  positiveOption(op, 'periodsPerYear', options.periodsPerYear);
  const dim = normDim(op, options.dim ?? -1, returns.ndim);
  const target = options.target ?? 0;
  const downside = safeSqrt(relu(returns.neg().add(target)).square().mean(dim));
  const ratio = safeRatio(returns.sub(target).mean(dim), downside.add(options.epsilon ?? 1e-8));
  return reduce(op, annualise(ratio, options.periodsPerYear).neg(), options.reduction);
}

// ------------------------------------------------------------------------------------------ mean-variance

/** Options of {@link meanVarianceUtility}. */
export interface MeanVarianceUtilityOptions {
  /** Risk aversion λ (default 1). */
  riskAversion?: number;
  /** Sample (`true`) or population (`false`, default) variance. */
  unbiased?: boolean;
  /** Reduction over the batch (default `'mean'`). */
  reduction?: LossReduction;
}

/**
 * Negative mean-variance utility per row, `-(mean_t(p) - λ/2 · var_t(p))`, averaged over the batch,
 * where `p` are `returns [..., T]` or, with `weights` (`[..., A]` or `[..., T, A]`), the portfolio
 * returns of asset returns `[..., T, A]`. Time is the last dimension of `p`.
 *
 * @example
 * ```ts
 * const loss = meanVarianceUtility(assetReturns, weights, { riskAversion: 3 });
 * ```
 */
export function meanVarianceUtility(
  returns: Tensor,
  weights?: Tensor,
  options: MeanVarianceUtilityOptions = {},
): Tensor {
  const op = 'meanVarianceUtility';
  requireFloat(op, 'returns', returns);
  requireNdim(op, 'returns', returns, 1);
  const lambda = options.riskAversion ?? 1;
  if (!Number.isFinite(lambda)) throw invalid(op, `riskAversion must be finite, got ${lambda}`);
  const p = weights === undefined ? returns : portfolioReturns(op, returns, weights);
  const u = p.mean(-1).sub(variance(p, -1, { unbiased: options.unbiased ?? false }).mul(lambda / 2));
  return reduce(op, u.neg(), options.reduction);
}

// ------------------------------------------------------------------------------------------ drawdown

/** Options of {@link maxDrawdownLoss}. */
export interface MaxDrawdownLossOptions {
  /**
   * `'returns'` (default): simple returns, compounded into wealth `W = [1, cumprod(1 + r)]`;
   * `'equity'`: a positive wealth / equity curve given directly.
   */
  input?: 'returns' | 'equity';
  /**
   * Temperature τ of the smooth version (omit for the exact one): the running maximum and the maximum
   * over time are replaced by the soft maximum `τ · logsumexp(x / τ)`, so every period receives a
   * gradient (the exact version only differentiates through the peak and the trough).
   */
  smooth?: number;
  /** Time dimension (default -1). */
  dim?: number;
  /** Reduction over the batch (default `'mean'`). */
  reduction?: LossReduction;
}

function softMax2(a: Tensor, b: Tensor, tau: number): Tensor {
  return logsumexp(stack([a.div(tau), b.div(tau)], -1), -1).mul(tau);
}

/**
 * Maximum drawdown per row, `max_t (1 - W_t / max_{s<=t} W_s)`, averaged over the batch (a loss to
 * minimise, in [0, 1] for positive wealth).
 *
 * Exact (default): the running maximum is built step by step with `maximum`, and the drawdown maximum
 * with `amax`; gradients are sparse (peak and trough only). Smooth (`smooth: τ`): the running maximum is
 * `τ · logsumexp_{s<=t}(W_s / τ)` and the maximum over time `τ · logsumexp_t(dd_t / τ)`, so gradients are
 * dense. Soft maxima overestimate: the smooth running peak is at most `τ · log(t + 1)` above the exact one,
 * and the outer soft maximum at most `τ · log(T)` above the largest drawdown; as τ → 0 the smooth value
 * tends to the exact one. Choose τ small relative to the wealth scale (e.g. 0.01 for wealth near 1).
 *
 * @example
 * ```ts
 * const mdd = maxDrawdownLoss(r);                    // exact, from simple returns
 * const soft = maxDrawdownLoss(r, { smooth: 0.01 }); // dense gradients
 * ```
 */
export function maxDrawdownLoss(x: Tensor, options: MaxDrawdownLossOptions = {}): Tensor {
  const op = 'maxDrawdownLoss';
  requireFloat(op, 'x', x);
  requireNdim(op, 'x', x, 1);
  positiveOption(op, 'smooth', options.smooth);
  const input = options.input ?? 'returns';
  if (input !== 'returns' && input !== 'equity') {
    throw invalid(op, `input must be 'returns' or 'equity', got '${String(input)}'`);
  }
  const d = normDim(op, options.dim ?? -1, x.ndim);
  const xt = d === x.ndim - 1 ? x : x.transpose(d, -1);
  let w: Tensor;
  if (input === 'equity') {
    w = xt;
  } else {
    const growth = xt.add(1).cumprod(-1);
    w = cat([onesLike(growth.narrow(-1, 0, 1)), growth], -1);
  }
  const n = w.shape[w.ndim - 1]!;
  if (n === 0) throw invalid(op, 'needs at least one period', { shapes: [x.shape] });
  const tau = options.smooth;
  let peak = w.select(-1, 0);
  const peaks: Tensor[] = [peak];
  for (let t = 1; t < n; t++) {
    const wt = w.select(-1, t);
    peak = tau === undefined ? maximum(peak, wt) : softMax2(peak, wt, tau);
    peaks.push(peak);
  }
  const dd = onesLike(w).sub(w.div(stack(peaks, -1)));
  const m = tau === undefined ? dd.amax(-1) : logsumexp(dd.div(tau), -1).mul(tau);
  return reduce(op, m, options.reduction);
}

// ------------------------------------------------------------------------------------------ CVaR

/** Options of {@link cvar}. */
export interface CvarOptions {
  /** Tail probability α in (0, 1] (default 0.05: the worst 5 % of periods). */
  alpha?: number;
  /** Time dimension (default -1). */
  dim?: number;
  /** Reduction over the batch (default `'mean'`). */
  reduction?: LossReduction;
}

/**
 * Conditional value at risk (expected shortfall) of the losses `-returns` at level α, per row,
 * averaged over the batch, in Rockafellar–Uryasev form at the empirical quantile:
 * `CVaR = VaR + sum_t relu(L_t - VaR) / (α T)` with `L = -r` and `VaR` the `ceil(α T)`-th largest loss.
 * This is the exact tail mean of the empirical distribution (the atom at VaR is weighted fractionally
 * when α T is not an integer); it is differentiable almost everywhere (the sort carries the gradient,
 * including the fractional weight of the VaR observation).
 *
 * @example
 * ```ts
 * const loss = cvar(portfolioReturns, { alpha: 0.05 });
 * ```
 */
export function cvar(returns: Tensor, options: CvarOptions = {}): Tensor {
  const op = 'cvar';
  requireFloat(op, 'returns', returns);
  requireNdim(op, 'returns', returns, 1);
  const alpha = options.alpha ?? 0.05;
  if (!(alpha > 0 && alpha <= 1)) throw invalid(op, `alpha must be in (0, 1], got ${alpha}`, { alpha });
  const d = normDim(op, options.dim ?? -1, returns.ndim);
  const n = returns.shape[d]!;
  if (n === 0) throw invalid(op, 'needs at least one period', { shapes: [returns.shape] });
  const k = Math.max(1, Math.ceil(alpha * n - 1e-9));
  const losses = returns.neg();
  const valueAtRisk = losses.topk(k, d)[0].narrow(d, k - 1, 1);
  const tail = relu(losses.sub(valueAtRisk))
    .sum(d)
    .div(alpha * n);
  return reduce(op, valueAtRisk.squeeze(d).add(tail), options.reduction);
}

// ------------------------------------------------------------------------------------------ turnover

/** Options of {@link turnoverPenalty}. */
export interface TurnoverPenaltyOptions {
  /** Cost in basis points per unit of turnover: the penalty is multiplied by `costBps * 1e-4` (default: raw turnover). */
  costBps?: number;
}

/**
 * Turnover `sum_{t>=1} sum_a |w_t - w_{t-1}|` of weights `[T, A]` or `[B, T, A]` (averaged over the
 * batch), times `costBps * 1e-4` when given: the transaction-cost term Lim et al. (2019) add to the
 * Sharpe loss (see also `sharpeLoss(..., { costBps, turnoverWeight })`). The gradient of `|x|` at 0 is 0.
 *
 * @example
 * ```ts
 * const loss = sharpeLoss(y, w).add(turnoverPenalty(w, { costBps: 10 }));
 * ```
 */
export function turnoverPenalty(weights: Tensor, options: TurnoverPenaltyOptions = {}): Tensor {
  const op = 'turnoverPenalty';
  requireFloat(op, 'weights', weights);
  requireNdim(op, 'weights', weights, 2);
  nonNegativeOption(op, 'costBps', options.costBps);
  const t = turnoverPerStep(weights).sum(-1).mean();
  return options.costBps === undefined ? t : t.mul(options.costBps * 1e-4);
}

// ------------------------------------------------------------------------------------------ asymmetric P&L

/** Options of {@link asymmetricPnLLoss}. */
export interface AsymmetricPnLLossOptions {
  /** Weight of gains (default 0.05, as in seed 001). */
  gainWeight?: number;
  /** Power of losses (default 2, as in seed 001). */
  lossPower?: number;
  /** Reduction (default `'mean'`). */
  reduction?: LossReduction;
}

/**
 * Seed 001's `custom_trading_loss`, elementwise and batched. The seed's scalar branch form is
 * ```python
 * if pnl > 0: loss = pnl * 0.05
 * elif pnl < 0: loss = pnl ** 2
 * ```
 * here `where(pnl > 0, gainWeight * pnl, where(pnl < 0, (-pnl) ** lossPower, 0))`, then `reduction`.
 * At `pnl == 0` (left undefined by the seed) the loss and its gradient are 0. The loss branch only ever
 * evaluates `(-pnl) ** lossPower` on positive numbers, so gradients stay finite for any `lossPower`.
 * (The gain branch rewards nothing: it is a small positive loss, as in the seed.)
 *
 * @example
 * ```ts
 * asymmetricPnLLoss(tensor([4])).itemSync();  // 0.2, gradient 0.05
 * asymmetricPnLLoss(tensor([-3])).itemSync(); // 9, gradient -6
 * ```
 */
export function asymmetricPnLLoss(pnl: Tensor, options: AsymmetricPnLLossOptions = {}): Tensor {
  const op = 'asymmetricPnLLoss';
  requireFloat(op, 'pnl', pnl);
  const gainWeight = options.gainWeight ?? 0.05;
  const lossPower = options.lossPower ?? 2;
  if (!Number.isFinite(gainWeight)) throw invalid(op, `gainWeight must be finite, got ${gainWeight}`);
  positiveOption(op, 'lossPower', lossPower);
  const neg = pnl.lt(0);
  const safeLoss = where(neg, pnl.neg(), 1).pow(lossPower);
  const loss = where(pnl.gt(0), pnl.mul(gainWeight), where(neg, safeLoss, 0));
  return reduce(op, loss, options.reduction);
}
