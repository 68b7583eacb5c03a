/**
 * Prices in, training windows out: a CSV of prices becomes an arquero table (gf.data.readCSV), its
 * numeric columns become assets, and their daily log returns become LSTM inputs (windows of past
 * returns) and targets (the next day's returns).
 */
import * as gf from 'gradfolio';

/** Daily closes of a few assets, oldest first. */
export interface Prices {
  /** Asset names (the CSV's numeric price columns). */
  readonly assets: readonly string[];
  /** Row labels: the date/index column as text, or the row number when the file has none. */
  readonly labels: readonly string[];
  /** One price series per asset, all `labels.length` long. */
  readonly series: readonly Float64Array[];
}

/** Header names taken as the row index rather than an asset, even when the column is numeric. */
const INDEX_NAMES = /^(|t|time|date|datetime|timestamp|index|idx|day|year|period)$/i;

/**
 * Turns a table of prices into {@link Prices}: the first column is the row index when its name looks
 * like one (`date`, `t`, `index`, ...) or it is not numeric; so is any other column with such a name
 * (R's `EuStockMarkets` puts its fractional-year column `t` last); every remaining numeric column is
 * an asset. Non-numeric columns other than the index are ignored.
 *
 * @example
 * ```ts
 * const p = pricesFromTable(gf.data.readCSVText('date,A,B\n2024-01-02,10,20\n2024-01-03,11,19\n'));
 * p.assets; // ['A', 'B']
 * ```
 */
export function pricesFromTable(table: gf.data.Table): Prices {
  const names = table.columnNames();
  const rows = table.numRows();
  const isNumeric = (name: string): boolean => {
    const v = table.get(name, 0) as unknown;
    return typeof v === 'number';
  };
  let labelColumn: string | undefined;
  const assets: string[] = [];
  names.forEach((name, i) => {
    const indexLike = INDEX_NAMES.test(name.trim()) || (i === 0 && !isNumeric(name));
    if (indexLike) labelColumn ??= name;
    else if (isNumeric(name)) assets.push(name);
  });
  if (assets.length < 2) {
    throw new Error(
      `need at least 2 numeric price columns, found ${assets.length} (${assets.join(', ') || 'none'}) among ${JSON.stringify(names)}`,
    );
  }
  if (rows < 60) throw new Error(`need at least 60 rows of prices, found ${rows}`);
  const series = assets.map((name) => {
    const col = Float64Array.from(table.array(name) as ArrayLike<number>);
    const bad = col.findIndex((v) => !(v > 0) || !Number.isFinite(v));
    if (bad >= 0)
      throw new Error(`column '${name}', row ${bad + 1}: prices must be positive numbers, got ${col[bad]}`);
    return col;
  });
  const labels =
    labelColumn === undefined
      ? Array.from({ length: rows }, (_, i) => String(i + 1))
      : Array.from(table.array(labelColumn) as ArrayLike<unknown>, (v) =>
          v instanceof Date ? v.toISOString().slice(0, 10) : String(v),
        );
  return { assets, labels, series };
}

/**
 * Reads a CSV of prices (text, a `File` from the picker, or a fetch `Response`). Rows with a missing
 * cell are dropped (markets closed on different holidays).
 *
 * @example
 * ```ts
 * const prices = await readPrices(await fetch('EuStockMarkets.csv'));
 * ```
 */
export async function readPrices(source: gf.data.CSVSource): Promise<Prices> {
  return pricesFromTable(await gf.data.readCSV(source, { missing: 'drop' }));
}

/** Training and validation windows as tensors on the current default device. */
export interface Windows {
  /** Scaled past returns `[samples, lookback, assets]` (the LSTM input). */
  readonly xTrain: gf.Tensor;
  /** Next-day log returns `[samples, 1, assets]` (what the weights earn). */
  readonly yTrain: gf.Tensor;
  readonly xVal: gf.Tensor;
  readonly yVal: gf.Tensor;
  /** Label of the day each validation sample's next-day return belongs to. */
  readonly valLabels: readonly string[];
}

/**
 * Windows of `lookback` past daily log returns and the next day's returns, split chronologically
 * (`trainFraction` of the samples first). Inputs are divided by each asset's return standard deviation
 * on the training part only, so nothing from the validation period leaks into training.
 *
 * @example
 * ```ts
 * const w = makeWindows(prices, { lookback: 20 });
 * w.xTrain.shape; // [samples, 20, assets]
 * ```
 */
export function makeWindows(prices: Prices, options: { lookback: number; trainFraction?: number }): Windows {
  const { lookback } = options;
  const A = prices.assets.length;
  const n = prices.labels.length - 1; // returns
  const S = n - lookback; // samples
  if (S < 20) throw new Error(`${n} returns are too few for windows of ${lookback}`);
  const ret = new Float64Array(n * A);
  for (let t = 0; t < n; t++) {
    for (let a = 0; a < A; a++) {
      const s = prices.series[a]!;
      ret[t * A + a] = Math.log(s[t + 1]! / s[t]!);
    }
  }
  const nTrain = Math.max(10, Math.floor(S * (options.trainFraction ?? 0.8)));
  // Returns seen by training samples: up to index nTrain + lookback - 1.
  const seen = nTrain + lookback;
  const scale = new Float64Array(A);
  for (let a = 0; a < A; a++) {
    let m = 0;
    for (let t = 0; t < seen; t++) m += ret[t * A + a]!;
    m /= seen;
    let v = 0;
    for (let t = 0; t < seen; t++) v += (ret[t * A + a]! - m) ** 2;
    // A (numerically) constant series, such as cash, keeps its raw returns instead of blowing up.
    const sd = Math.sqrt(v / seen);
    scale[a] = sd > 1e-8 ? sd : 1;
  }
  const x = new Float32Array(S * lookback * A);
  const y = new Float32Array(S * A);
  for (let s = 0; s < S; s++) {
    for (let l = 0; l < lookback; l++) {
      for (let a = 0; a < A; a++) x[(s * lookback + l) * A + a] = ret[(s + l) * A + a]! / scale[a]!;
    }
    for (let a = 0; a < A; a++) y[s * A + a] = ret[(s + lookback) * A + a]!;
  }
  const X = gf.tensor(x).reshape([S, lookback, A]);
  const Y = gf.tensor(y).reshape([S, 1, A]);
  const cut = (t: gf.Tensor, from: number, len: number): gf.Tensor =>
    gf.keep(t.narrow(0, from, len).contiguous());
  const w: Windows = {
    xTrain: cut(X, 0, nTrain),
    yTrain: cut(Y, 0, nTrain),
    xVal: cut(X, nTrain, S - nTrain),
    yVal: cut(Y, nTrain, S - nTrain),
    valLabels: prices.labels.slice(nTrain + lookback + 1),
  };
  X.dispose();
  Y.dispose();
  return w;
}

/** Frees the window tensors (GPU buffers on WebGPU) before new data replaces them. */
export function disposeWindows(w: Windows): void {
  for (const t of [w.xTrain, w.yTrain, w.xVal, w.yVal]) t.dispose();
}
