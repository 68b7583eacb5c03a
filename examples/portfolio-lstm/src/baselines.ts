/**
 * The two benchmarks on the same out-of-sample days: equal weight (1/N) and the long-only minimum
 * variance portfolio of a Ledoit-Wolf shrunk covariance, both rebalanced every `every` trading days.
 * They run on the CPU in float64 whatever the model's device.
 */
import * as gf from 'gradfolio';
import type { Market } from './data.js';

/** Weights `[rows, assets]` (row-major) for decision days `from .. from + rows - 1`. */
export interface WeightPlan {
  weights: Float64Array;
  rows: number;
}

/**
 * 1/N on every row (the backtest only trades on rebalance rows and lets the weights drift in between).
 *
 * @example
 * ```ts
 * equalWeight(10, 500).weights[0]; // 0.1
 * ```
 */
export function equalWeight(assets: number, rows: number): WeightPlan {
  return { weights: new Float64Array(rows * assets).fill(1 / assets), rows };
}

/**
 * Long-only global minimum variance weights: on every `every`-th decision day `t` (the first included)
 * the covariance of the trailing `lookback` daily returns up to and including day `t` is shrunk with
 * Ledoit-Wolf (`gf.finance.ledoitWolf`) and `gf.finance.minimumVariance` solves for the weights, held
 * until the next rebalance.
 *
 * @example
 * ```ts
 * const plan = await minimumVariancePlan(market, firstDecisionDay, rows, { lookback: 252, every: 21 });
 * ```
 */
export async function minimumVariancePlan(
  market: Market,
  from: number,
  rows: number,
  options: { lookback: number; every: number },
): Promise<WeightPlan> {
  const A = market.assets.length;
  const { lookback, every } = options;
  if (from - lookback + 1 < 1)
    throw new Error(`minimum variance needs ${lookback} returns before day ${from}`);
  const weights = new Float64Array(rows * A);
  let current = new Float64Array(A);
  for (let i = 0; i < rows; i++) {
    if (i % every === 0) {
      const t = from + i;
      const window = market.returns.subarray((t - lookback + 1) * A, (t + 1) * A);
      const r = gf.tensor(window, { dtype: 'float64', device: 'cpu' }).reshape([lookback, A]);
      const { cov } = gf.finance.ledoitWolf(r);
      const w = await gf.finance.minimumVariance(cov, { longOnly: true });
      current = Float64Array.from(await w.data(), Number);
    }
    weights.set(current, i * A);
  }
  return { weights, rows };
}
