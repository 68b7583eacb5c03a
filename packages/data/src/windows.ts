/**
 * Sliding windows over a `[T, F]` series and the lag frame of seed 000, as strided views where the
 * columns allow it, so windows never copy the series `lookback` times.
 */

import { GradfolioError, indexSelect, type Tensor, tensor } from '@gradfolio/tensor';

/** Options of {@link slidingWindows}. @example `{ lookback: 50, horizon: 5, stride: 1, targetColumns: [3] }` */
export interface WindowOptions {
  /** Input rows per window (`L`); at least 1. */
  lookback: number;
  /** Target rows per window (`H`), right after the inputs; at least 1. Default 1. */
  horizon?: number;
  /** Rows between the starts of consecutive windows; at least 1. Default 1. */
  stride?: number;
  /** Column indices used as inputs (negatives count from the end). Default: every column. */
  featureColumns?: readonly number[];
  /** Column indices used as targets (negatives count from the end). Default: every column. */
  targetColumns?: readonly number[];
}

/** The result of {@link slidingWindows}. @example `const { X, y, length } = slidingWindows(series, { lookback: 7 })` */
export interface Windows {
  /** Inputs `[N, lookback, F']`. */
  X: Tensor;
  /** Targets `[N, horizon, T']`. */
  y: Tensor;
  /** Number of windows `N`. */
  length: number;
  /** True when `X` is a view of the series' own storage (no gather of the feature columns). */
  xIsView: boolean;
  /** True when `y` is a view of the series' own storage (no gather of the target columns). */
  yIsView: boolean;
}

function checkInt(op: string, name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: ${name} must be an integer >= ${min}, got ${value}`,
      {
        op,
        [name]: value,
      },
    );
  }
}

function normColumns(op: string, name: string, cols: readonly number[] | undefined, f: number): number[] {
  if (cols === undefined) return Array.from({ length: f }, (_, i) => i);
  if (cols.length === 0) {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: ${name} must name at least one column`, { op });
  }
  return cols.map((c) => {
    if (!Number.isInteger(c) || c < -f || c >= f) {
      throw new GradfolioError(
        'INDEX_OUT_OF_RANGE',
        `${op}: ${name} entry ${c} is out of range for a series with ${f} columns`,
        { op, column: c, columns: f },
      );
    }
    return c < 0 ? c + f : c;
  });
}

/** The common step of `cols` when they form an arithmetic progression, else undefined. */
function progressionStep(cols: readonly number[]): number | undefined {
  if (cols.length === 1) return 1;
  const step = cols[1]! - cols[0]!;
  if (step === 0) return undefined;
  for (let i = 2; i < cols.length; i++) if (cols[i]! - cols[i - 1]! !== step) return undefined;
  return step;
}

/**
 * A `[N, len, k]` windows view over the rows of `src` (2-D) for the columns `cols`, windows starting at
 * rows `first + i * stride`. Gathers the columns (a `[T, k]` copy, never `len` copies) when they are not
 * evenly spaced.
 */
function windowView(
  src: Tensor,
  cols: readonly number[],
  first: number,
  len: number,
  n: number,
  stride: number,
): { out: Tensor; isView: boolean } {
  const step = progressionStep(cols);
  let base = src;
  let c0 = cols[0]!;
  let cs = step ?? 1;
  if (step === undefined) {
    const index = tensor(cols, { dtype: 'int32', device: src.device });
    base = indexSelect(src, 1, index);
    index.dispose();
    c0 = 0;
    cs = 1;
  }
  const [rowStride, colStride] = base.strides as [number, number];
  const out = base._view(
    [n, len, cols.length],
    [rowStride * stride, rowStride, colStride * cs],
    // An empty result keeps the base offset, so it never points past the storage.
    n === 0 ? base.offset : base.offset + first * rowStride + c0 * colStride,
  );
  return { out, isView: step !== undefined };
}

/**
 * Cuts a series `[T, F]` (or `[T]`, read as `[T, 1]`) into sliding windows: window `i` takes rows
 * `[i*stride, i*stride + lookback)` as inputs `X[i]` and rows
 * `[i*stride + lookback, i*stride + lookback + horizon)` as targets `y[i]`, so every target row comes
 * strictly after every input row of its window (no look-ahead). There are
 * `N = floor((T - lookback - horizon) / stride) + 1` windows (0 when `T < lookback + horizon`).
 *
 * `X` is `[N, lookback, F']` and `y` is `[N, horizon, T']`. When the selected columns are evenly spaced
 * (every column, one column, a contiguous range, or any arithmetic progression), the result is a
 * strided view sharing the series' storage: overlapping windows cost no memory, so a 1M-row series
 * with lookback 50 is not copied 50 times. Other column lists fall back to gathering those columns
 * once (a `[T, k]` copy, still independent of `lookback`) and viewing the windows over that copy;
 * `xIsView` / `yIsView` say which happened. Views alias the series: writing to the series shows through,
 * and they are not recorded for autograd (windows are data, not part of a graph). Call
 * `.contiguous()` for an independent copy.
 *
 * With `horizon: 1` and the default stride this is the `StockDataset` of seed 003
 * (`features[idx:idx+L]`, `targets[idx+L]`), with `len = T - L` windows.
 *
 * @example
 * ```ts
 * const series = randn([1000, 5]);
 * const { X, y } = slidingWindows(series, { lookback: 50, horizon: 1, targetColumns: [3] });
 * X.shape; // [950, 50, 5]  (a view: X.storage === series.storage)
 * y.shape; // [950, 1, 1]
 * ```
 */
export function slidingWindows(series: Tensor, options: WindowOptions): Windows {
  const op = 'slidingWindows';
  if (series.ndim !== 1 && series.ndim !== 2) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: expected a series of shape [T, F] or [T], got [${series.shape.join(', ')}]`,
      { op, shapes: [series.shape] },
    );
  }
  const src =
    series.ndim === 1 ? series._view([series.shape[0]!, 1], [series.strides[0]!, 1], series.offset) : series;
  const [t, f] = src.shape as [number, number];
  const lookback = options.lookback;
  const horizon = options.horizon ?? 1;
  const stride = options.stride ?? 1;
  checkInt(op, 'lookback', lookback, 1);
  checkInt(op, 'horizon', horizon, 1);
  checkInt(op, 'stride', stride, 1);
  const fCols = normColumns(op, 'featureColumns', options.featureColumns, f);
  const tCols = normColumns(op, 'targetColumns', options.targetColumns, f);
  const n = t >= lookback + horizon ? Math.floor((t - lookback - horizon) / stride) + 1 : 0;
  const x = windowView(src, fCols, 0, lookback, n, stride);
  const y = windowView(src, tCols, lookback, horizon, n, stride);
  if (src !== series) src.dispose();
  return { X: x.out, y: y.out, length: n, xIsView: x.isView, yIsView: y.isView };
}

/** Options of {@link lagFrame}. @example `{ name: 'Close', oldestFirst: true }` */
export interface LagFrameOptions {
  /** Column name stem: columns are `name`, `name(t-1)`, ... Default `'Close'`. */
  name?: string;
  /**
   * Order the lag columns oldest first (`name(t-n)` .. `name(t-1)`), as seed 000 does with
   * `np.flip(X, axis=1)` so an LSTM reads time forwards. Default false (pandas' newest-first order).
   */
  oldestFirst?: boolean;
}

/** The result of {@link lagFrame}. @example `const { X, y, columns } = lagFrame(close, 7, { oldestFirst: true })` */
export interface LagFrame {
  /** `[T - n, n + 1]`: column 0 is the value at `t`, then the lags in the order of `columns`. */
  values: Tensor;
  /** Column names, e.g. `['Close', 'Close(t-1)', ..., 'Close(t-7)']`. */
  columns: string[];
  /** The lag columns `values[:, 1:]`, `[T - n, n]`. */
  X: Tensor;
  /** The target column `values[:, 0]`, `[T - n]`. */
  y: Tensor;
}

/**
 * The lag frame of seed 000 (`prepare_dataframe_for_lstm`): for a series `[T]` (or `[T, 1]`) and `n`
 * lags, row `r` holds `x[t]` followed by `x[t-1]` .. `x[t-n]` for `t = r + n`; the first `n` rows,
 * whose lags are missing, are dropped (pandas' `shift` + `dropna`), giving `[T - n, n + 1]`.
 * With `oldestFirst` the lag columns are reversed (`x[t-n]` .. `x[t-1]`), the notebook's
 * `np.flip(X, axis=1)`. `X` and `y` are always strided views of the series (no copy), and so is
 * `values` in the default order; with `oldestFirst`, `values` is a copy (`[T - n, n + 1]` elements)
 * because `[x[t], x[t-n], .., x[t-1]]` is not one stride. Scalers return new tensors anyway.
 *
 * @example
 * ```ts
 * const close = tensor([1, 2, 3, 4, 5]);
 * const { values, columns } = lagFrame(close, 2);
 * columns;               // ['Close', 'Close(t-1)', 'Close(t-2)']
 * values.toArraySync();  // [[3, 2, 1], [4, 3, 2], [5, 4, 3]]
 * ```
 */
export function lagFrame(series: Tensor, lags: number, options: LagFrameOptions = {}): LagFrame {
  const op = 'lagFrame';
  checkInt(op, 'lags', lags, 1);
  if (!(series.ndim === 1 || (series.ndim === 2 && series.shape[1] === 1))) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: expected a single series of shape [T] or [T, 1], got [${series.shape.join(', ')}]`,
      { op, shapes: [series.shape] },
    );
  }
  const t = series.shape[0]!;
  if (t <= lags) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: a series of ${t} rows has no row with all ${lags} lags; it needs at least ${lags + 1} rows`,
      { op, rows: t, lags },
    );
  }
  const name = options.name ?? 'Close';
  const rs = series.strides[0]!;
  const rows = t - lags;
  const y = series._view([rows], [rs], series.offset + lags * rs);
  // Lag k (1..n) of row r lives at series row r + n - k.
  const X = options.oldestFirst
    ? series._view([rows, lags], [rs, rs], series.offset)
    : series._view([rows, lags], [rs, -rs], series.offset + (lags - 1) * rs);
  // Column 0 (lag 0) then the lags: newest-first is x[r+n-j] for column j; oldest-first places lag 0
  // first and then x[r+j-1] for column j >= 1, which is not one stride, so `values` is a copy then.
  let values: Tensor;
  if (options.oldestFirst) {
    const idx: number[] = [0];
    for (let k = lags; k >= 1; k--) idx.push(k);
    const newest = series._view([rows, lags + 1], [rs, -rs], series.offset + lags * rs);
    const index = tensor(idx, { dtype: 'int32', device: series.device });
    values = indexSelect(newest, 1, index);
    newest.dispose();
    index.dispose();
  } else {
    values = series._view([rows, lags + 1], [rs, -rs], series.offset + lags * rs);
  }
  const columns = [name];
  for (let j = 1; j <= lags; j++) columns.push(`${name}(t-${options.oldestFirst ? lags + 1 - j : j})`);
  return { values, columns, X, y };
}
