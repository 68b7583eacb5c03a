/**
 * Market data and model inputs: the vendored Dow Jones 30 closes, their daily returns, and the
 * per-window normalised features of Zhang, Zohren & Roberts (2020).
 */
import * as gf from 'gradfolio';

/** Daily closes and simple returns of a set of assets, row-major `[days, assets]`. */
export interface Market {
  /** ISO dates, one per row. */
  dates: string[];
  /** Asset (ticker) names, one per column. */
  assets: string[];
  /** Closes `[days * assets]`. */
  prices: Float64Array;
  /** Simple returns `p[t] / p[t - 1] - 1`; row 0 is 0 (no previous close). */
  returns: Float64Array;
}

/**
 * Reads a `date,TICKER,...` CSV of closes, drops a leading row that merely repeats the next one (as
 * `DowJones30.csv` does) and keeps the first `assets` tickers (all when omitted).
 *
 * @example
 * ```ts
 * const m = await loadMarket('data/DowJones30.csv', 10);
 * m.assets; // ['AA', 'AXP', 'T', 'BA', 'CAT', 'C', 'KO', 'DD', 'EK', 'XOM']
 * ```
 */
export async function loadMarket(path: string, assets?: number): Promise<Market> {
  const table = await gf.data.readCSVFile(path);
  const tickers = table.columnNames().filter((c) => c !== 'date');
  const chosen = tickers.slice(0, assets ?? tickers.length);
  if (chosen.length < 2) throw new Error(`need at least 2 assets, got ${chosen.length}`);
  const allDates = (table.array('date') as unknown[]).map(String);
  const cols = chosen.map((c) => Array.from(table.array(c) as ArrayLike<unknown>, Number));
  // The R export repeats 1991-01-02's closes under 1990-12-31: a fake zero-return day, so drop it.
  const dup = allDates.length > 1 && cols.every((c) => c[0] === c[1]);
  const first = dup ? 1 : 0;
  const dates = allDates.slice(first);
  const T = dates.length;
  const A = chosen.length;
  const prices = new Float64Array(T * A);
  const returns = new Float64Array(T * A);
  for (let t = 0; t < T; t++) {
    for (let a = 0; a < A; a++) {
      const p = cols[a]?.[t + first] as number;
      if (!(Number.isFinite(p) && p > 0)) {
        throw new Error(`${path}: bad close for ${chosen[a]} on ${dates[t]}: ${p}`);
      }
      prices[t * A + a] = p;
      if (t > 0) returns[t * A + a] = p / (prices[(t - 1) * A + a] as number) - 1;
    }
  }
  return { dates, assets: chosen, prices, returns };
}

/** Model inputs for every day `t >= lookback`: row `t - lookback` is the window ending at day `t`. */
export interface Features {
  /** `[days - lookback, lookback, 2 * assets]`: normalised prices, then returns, per step. */
  x: gf.Tensor;
  /** `[days - lookback, assets]`: the next day's returns `r[t + 1]` (zeros for the last day). */
  y: gf.Tensor;
  /** The first day with a full window (= `lookback`, as returns start at day 1). */
  firstDay: number;
}

/**
 * Builds the inputs: for the window of days `t - lookback + 1 .. t`, each asset's close divided by its
 * close on day `t`, minus 1 (so the newest value is 0 and nothing after day `t` is used), and its daily
 * simple return. Targets are the returns of day `t + 1`, which the weights chosen at close `t` earn.
 *
 * @example
 * ```ts
 * const { x, y } = buildFeatures(market, 50);
 * x.shape; // [days - 50, 50, 2 * assets]
 * ```
 */
export function buildFeatures(market: Market, lookback: number): Features {
  const A = market.assets.length;
  const T = market.dates.length;
  const F = 2 * A;
  const n = T - lookback;
  if (n <= 0) throw new Error(`only ${T} days for a ${lookback}-day lookback`);
  const x = new Float32Array(n * lookback * F);
  const y = new Float32Array(n * A);
  const { prices, returns } = market;
  for (let t = lookback; t < T; t++) {
    const row = (t - lookback) * lookback * F;
    for (let s = 0; s < lookback; s++) {
      const d = t - lookback + 1 + s;
      const at = row + s * F;
      for (let a = 0; a < A; a++) {
        x[at + a] = (prices[d * A + a] as number) / (prices[t * A + a] as number) - 1;
        x[at + A + a] = returns[d * A + a] as number;
      }
    }
    if (t + 1 < T) {
      for (let a = 0; a < A; a++) y[(t - lookback) * A + a] = returns[(t + 1) * A + a] as number;
    }
  }
  return {
    x: gf.tensor(x).reshape([n, lookback, F]),
    y: gf.tensor(y).reshape([n, A]),
    firstDay: lookback,
  };
}

/**
 * Walk-forward blocks: out-of-sample periods of `years` calendar years from `startYear` to the end of
 * the data. `start` is the first day whose return is out of sample; the weights for it are chosen at
 * the close of `start - 1`, by a model trained on returns up to that close.
 *
 * @example
 * ```ts
 * walkForwardBlocks(market.dates, 1995, 2); // [{ start: <1995-01-03>, end: <1996-12-31> }, ...]
 * ```
 */
export function walkForwardBlocks(
  dates: readonly string[],
  startYear: number,
  years: number,
): Array<{ start: number; end: number; label: string }> {
  const year = (i: number) => Number((dates[i] as string).slice(0, 4));
  const blocks: Array<{ start: number; end: number; label: string }> = [];
  let i = dates.findIndex((d) => Number(d.slice(0, 4)) >= startYear);
  if (i <= 0) throw new Error(`no training data before ${startYear}, or no data from ${startYear}`);
  while (i < dates.length) {
    const until = year(i) + years;
    let j = i;
    while (j + 1 < dates.length && year(j + 1) < until) j++;
    // A stub of a few days at the very end (2001-01-02 here) joins the previous block.
    const last = blocks[blocks.length - 1];
    if (j - i < 20 && last !== undefined) last.end = j;
    else blocks.push({ start: i, end: j, label: '' });
    i = j + 1;
  }
  for (const b of blocks) b.label = `${dates[b.start]} .. ${dates[b.end]}`;
  return blocks;
}
