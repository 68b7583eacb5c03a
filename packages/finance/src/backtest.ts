/**
 * Vectorised-input, sequential-accounting portfolio backtest.
 *
 * Timing convention (no look-ahead):
 * - `weights` and `returns` are `[T, N]`, row `t` being day `t`. `returns[t]` is the simple return of
 *   each asset from the close of day `t - 1` to the close of day `t` (row 0 is never used).
 * - `weights[t]` is the target decided with information up to the close of day `t`; the trade happens at
 *   that close and the position earns `returns[t + 1]`. So weights row `t` never multiplies returns row
 *   `t`, and the last weights row (`T - 1`) is never used.
 * - Every output series has `T - 1` rows; row `i` is the holding period from the close of day `i` to the
 *   close of day `i + 1`: the position set at close `i` (`weights[i]`, the effective weights), the
 *   turnover and cost paid at close `i`, and the return earned from `returns[i + 1]`. `equity` has `T`
 *   entries, `equity[0] = 1` at the close of day 0 before trading and `equity[i + 1]` after period `i`.
 *
 * Accounting:
 * - Rebalance at close `i` (per `rebalance`): the effective weights become `weights[i]`; turnover is
 *   `sum_j |weights[i][j] - drifted[j]|` where `drifted` are the pre-trade weights (all zeros before the
 *   first trade: the initial purchase from cash counts as turnover).
 * - No rebalance at close `i`: turnover 0, the effective weights are the pre-trade ones.
 * - Pre-trade weights: with `drift: true` (default), the held weights drift with prices,
 *   `w'_j = w_j (1 + R_j) / (1 + g)` with `g = w . R`; any remainder `1 - sum(w)` is cash earning 0
 *   (weights need not sum to 1; shorts and leverage are allowed). With `drift: false` the weights stay
 *   where they were set (a costless constant-mix between rebalances).
 * - Costs: `costs[i] = costBps / 1e4 * turnover[i]`, a fraction of equity paid at close `i` before the
 *   period's return, so `returns[i] = (1 - costs[i]) * (1 + grossReturns[i]) - 1` with
 *   `grossReturns[i] = weights_eff[i] . returns[i + 1]`.
 *
 * The accounting is path-dependent, so it runs as a float64 loop on the host; inputs are read once
 * (`await data()`, or `dataSync()` in {@link backtestSync}) and the outputs are float64 tensors on the
 * device of the `weights` tensor (the default device for array inputs). It is not differentiable.
 *
 * @module
 */

import { GradfolioError, type Tensor, tensor } from '@gradfolio/tensor';

/** A `[T, N]` matrix: a 2-D tensor or nested arrays of numbers. */
export type MatrixLike = Tensor | ReadonlyArray<ReadonlyArray<number>>;

/**
 * When to rebalance, indexed by the day `t` whose close the trade happens at (`0 .. T - 2`):
 * - `'every'` or `1`: every period (default);
 * - a positive integer `k`: on days `t` with `t % k === 0` (day 0 included);
 * - a boolean schedule of length `T` (array or 1-D bool/numeric tensor; nonzero = rebalance), aligned
 *   with the rows of `weights`; its last entry is unused. Weights rows on non-rebalance days are ignored.
 */
export type RebalanceSchedule = 'every' | number | ReadonlyArray<boolean> | Tensor;

/** Options of {@link backtest}. */
export interface BacktestOptions {
  /** Rebalance schedule, see {@link RebalanceSchedule}. Default `'every'`. */
  rebalance?: RebalanceSchedule;
  /** Proportional cost in basis points of the traded notional (turnover). Default `0`. */
  costBps?: number;
  /** Let weights drift with prices between rebalances. Default `true`. */
  drift?: boolean;
}

/** Outputs of {@link backtest}: float64 tensors; row `i` is the period from close `i` to close `i + 1`. */
export interface BacktestResult {
  /** Net portfolio returns `[T - 1]`, `(1 - costs) * (1 + grossReturns) - 1`. */
  returns: Tensor;
  /** Portfolio returns before costs `[T - 1]`, `weights_eff[i] . returns[i + 1]`. */
  grossReturns: Tensor;
  /** Equity curve `[T]`, starting at 1 and compounding the net returns. */
  equity: Tensor;
  /** One-way turnover `[T - 1]`, `sum |w_target - w_drifted|` at each close (0 when not rebalancing). */
  turnover: Tensor;
  /** Costs as a fraction of equity `[T - 1]`, `costBps / 1e4 * turnover`. */
  costs: Tensor;
  /** Effective weights held over each period `[T - 1, N]` (after the trade at close `i`). */
  weights: Tensor;
}

interface Matrix {
  data: Float64Array;
  rows: number;
  cols: number;
  device: string | undefined;
}

function isTensor(x: unknown): x is Tensor {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as Tensor).dataSync === 'function' &&
    Array.isArray((x as Tensor).shape)
  );
}

function fromNested(x: ReadonlyArray<ReadonlyArray<number>>, name: string): Matrix {
  const rows = x.length;
  const cols = rows === 0 ? 0 : (x[0] as ReadonlyArray<number>).length;
  const data = new Float64Array(rows * cols);
  for (let t = 0; t < rows; t++) {
    const row = x[t];
    if (!Array.isArray(row) || row.length !== cols) {
      throw new GradfolioError('SHAPE_MISMATCH', `backtest: ${name} is ragged (row ${t})`, {
        op: 'backtest',
      });
    }
    for (let j = 0; j < cols; j++) data[t * cols + j] = row[j] as number;
  }
  return { data, rows, cols, device: undefined };
}

function check2d(x: Tensor, name: string): void {
  if (x.shape.length !== 2) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `backtest: ${name} must be 2-D [T, N], got shape [${x.shape}]`,
      {
        op: 'backtest',
        shapes: [x.shape],
      },
    );
  }
}

function fromTensor(x: Tensor, values: ArrayLike<number>): Matrix {
  return {
    data: Float64Array.from(values),
    rows: x.shape[0] as number,
    cols: x.shape[1] as number,
    device: x.device,
  };
}

function readMatrixSync(x: MatrixLike, name: string): Matrix {
  if (!isTensor(x)) return fromNested(x as ReadonlyArray<ReadonlyArray<number>>, name);
  check2d(x, name);
  return fromTensor(x, x.dataSync() as ArrayLike<number>);
}

async function readMatrix(x: MatrixLike, name: string): Promise<Matrix> {
  if (!isTensor(x)) return fromNested(x as ReadonlyArray<ReadonlyArray<number>>, name);
  check2d(x, name);
  return fromTensor(x, (await x.data()) as ArrayLike<number>);
}

function scheduleLength(s: ReadonlyArray<boolean> | Tensor, rows: number): void {
  const len = isTensor(s) ? (s.shape.length === 1 ? (s.shape[0] as number) : -1) : s.length;
  if (len !== rows) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `backtest: a rebalance schedule must be 1-D of length T = ${rows} (one entry per weights row)`,
      { op: 'backtest', shapes: isTensor(s) ? [s.shape, [rows]] : [[s.length], [rows]] },
    );
  }
}

function resolveSchedule(
  rebalance: RebalanceSchedule | undefined,
  rows: number,
  scheduleValues: ArrayLike<number | boolean> | undefined,
): Uint8Array {
  const out = new Uint8Array(rows);
  if (rebalance === undefined || rebalance === 'every') {
    out.fill(1);
    return out;
  }
  if (typeof rebalance === 'number') {
    if (!(Number.isInteger(rebalance) && rebalance >= 1)) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `backtest: rebalance must be 'every', a positive integer or a boolean schedule, got ${rebalance}`,
        { op: 'backtest' },
      );
    }
    for (let t = 0; t < rows; t += rebalance) out[t] = 1;
    return out;
  }
  if (typeof rebalance === 'string') {
    throw new GradfolioError('INVALID_ARGUMENT', `backtest: unknown rebalance '${rebalance}'`, {
      op: 'backtest',
    });
  }
  scheduleLength(rebalance, rows);
  const vals = scheduleValues ?? (rebalance as ReadonlyArray<boolean>);
  for (let t = 0; t < rows; t++) out[t] = vals[t] ? 1 : 0;
  return out;
}

function run(w: Matrix, r: Matrix, schedule: Uint8Array, options: BacktestOptions): BacktestResult {
  const costBps = options.costBps ?? 0;
  if (!(Number.isFinite(costBps) && costBps >= 0)) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `backtest: costBps must be a finite number >= 0, got ${costBps}`,
      {
        op: 'backtest',
      },
    );
  }
  const drift = options.drift ?? true;
  const T = w.rows;
  const N = w.cols;
  const P = T - 1;
  const net = new Float64Array(P);
  const gross = new Float64Array(P);
  const turnover = new Float64Array(P);
  const costs = new Float64Array(P);
  const effective = new Float64Array(P * N);
  const equity = new Float64Array(T);
  equity[0] = 1;
  const held = new Float64Array(N); // pre-trade weights; cash before the first trade
  for (let i = 0; i < P; i++) {
    if (schedule[i]) {
      let turn = 0;
      for (let j = 0; j < N; j++) {
        const target = w.data[i * N + j] as number;
        turn += Math.abs(target - (held[j] as number));
        held[j] = target;
      }
      turnover[i] = turn;
      costs[i] = (costBps / 1e4) * turn;
    }
    // Weights set at close i earn the returns of day i + 1, never those of day i.
    let g = 0;
    for (let j = 0; j < N; j++) {
      effective[i * N + j] = held[j] as number;
      g += (held[j] as number) * (r.data[(i + 1) * N + j] as number);
    }
    gross[i] = g;
    const n = (1 - (costs[i] as number)) * (1 + g) - 1;
    net[i] = n;
    equity[i + 1] = (equity[i] as number) * (1 + n);
    if (drift) {
      for (let j = 0; j < N; j++) {
        held[j] = ((held[j] as number) * (1 + (r.data[(i + 1) * N + j] as number))) / (1 + g);
      }
    }
  }
  const opts =
    w.device === undefined ? { dtype: 'float64' as const } : { dtype: 'float64' as const, device: w.device };
  return {
    returns: tensor(net, opts),
    grossReturns: tensor(gross, opts),
    equity: tensor(equity, opts),
    turnover: tensor(turnover, opts),
    costs: tensor(costs, opts),
    weights: tensor(effective, opts).reshape([P, N]),
  };
}

function validate(w: Matrix, r: Matrix): void {
  if (w.rows !== r.rows || w.cols !== r.cols) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `backtest: weights [${w.rows}, ${w.cols}] and returns [${r.rows}, ${r.cols}] must have the same shape`,
      {
        op: 'backtest',
        shapes: [
          [w.rows, w.cols],
          [r.rows, r.cols],
        ],
      },
    );
  }
  if (w.rows < 2 || w.cols < 1) {
    throw new GradfolioError('INVALID_ARGUMENT', 'backtest: need at least 2 rows (days) and 1 asset', {
      op: 'backtest',
      shapes: [[w.rows, w.cols]],
    });
  }
  for (const [m, name] of [
    [w, 'weights'],
    [r, 'returns'],
  ] as const) {
    for (let k = 0; k < m.data.length; k++) {
      if (!Number.isFinite(m.data[k] as number)) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `backtest: ${name} must be finite (row ${Math.floor(k / m.cols)})`,
          {
            op: 'backtest',
          },
        );
      }
    }
  }
}

/**
 * Backtests a weights schedule against asset returns: weights row `t` (decided at the close of day `t`)
 * earns the returns of day `t + 1`, rebalancing per `rebalance`, drifting in between when `drift`, and
 * paying `costBps` on turnover. See the module documentation for the exact conventions.
 *
 * @throws GradfolioError `SHAPE_MISMATCH` when the shapes differ, are not 2-D, or the schedule length is
 * not `T`; `INVALID_ARGUMENT` for bad options, fewer than 2 rows or non-finite values.
 *
 * @example
 * ```ts
 * // 1/N over 3 assets, rebalanced every 21 days with 1 bp costs
 * const w = full([T, 3], 1 / 3, { dtype: 'float64' });
 * const bt = await backtest(w, assetReturns, { rebalance: 21, costBps: 1, drift: true });
 * console.log(await bt.equity.data());
 * ```
 */
export async function backtest(
  weights: MatrixLike,
  returns: MatrixLike,
  options: BacktestOptions = {},
): Promise<BacktestResult> {
  const w = await readMatrix(weights, 'weights');
  const r = await readMatrix(returns, 'returns');
  validate(w, r);
  const reb = options.rebalance;
  const values =
    isTensor(reb) && reb.shape.length === 1 ? ((await reb.data()) as ArrayLike<number>) : undefined;
  return run(w, r, resolveSchedule(reb, w.rows, values), options);
}

/**
 * Synchronous {@link backtest} (tensors must be readable synchronously, e.g. on the CPU).
 *
 * @example
 * ```ts
 * const bt = backtestSync([[0.5, 0.5], [0.5, 0.5]], [[0, 0], [0.01, -0.01]], { costBps: 10 });
 * bt.returns.dataSync(); // [(1 - 0.001) * (1 + 0) - 1]
 * ```
 */
export function backtestSync(
  weights: MatrixLike,
  returns: MatrixLike,
  options: BacktestOptions = {},
): BacktestResult {
  const w = readMatrixSync(weights, 'weights');
  const r = readMatrixSync(returns, 'returns');
  validate(w, r);
  const reb = options.rebalance;
  const values = isTensor(reb) && reb.shape.length === 1 ? (reb.dataSync() as ArrayLike<number>) : undefined;
  return run(w, r, resolveSchedule(reb, w.rows, values), options);
}
