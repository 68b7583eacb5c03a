import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GradfolioError, tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { backtest, backtestSync } from '../src/backtest.js';
import { sharpeRatio } from '../src/metrics.js';

interface Fixture {
  rows: number;
  assets: number;
  k21: {
    head: number[];
    tail: number[];
    sumNet: number;
    sumGross: number;
    sumTurnover: number;
    finalEquity: number;
  };
  baseline: { sharpeMonthlyDrift1bp: number; universeColumns: number };
}
const FIX = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/metrics.json', import.meta.url)), 'utf8'),
) as Record<string, Fixture>;

/** Tiny CSV reader for the vendored price files: drops `date` and `t` columns, returns dates too. */
function loadPrices(name: string): { prices: number[][]; dates: string[] | undefined } {
  const text = readFileSync(fileURLToPath(new URL(`./data/${name}.csv`, import.meta.url)), 'utf8');
  const lines = text.trim().split(/\r?\n/);
  const header = (lines[0] as string).split(',').map((h) => h.replace(/"/g, ''));
  const keep = header.map((h, j) => (h === 'date' || h === 't' ? -1 : j)).filter((j) => j >= 0);
  const dateCol = header.indexOf('date');
  const prices: number[][] = [];
  const dates: string[] = [];
  for (const line of lines.slice(1)) {
    const cells = line.split(',');
    prices.push(keep.map((j) => Number(cells[j])));
    if (dateCol >= 0) dates.push((cells[dateCol] as string).replace(/"/g, ''));
  }
  return { prices, dates: dateCol >= 0 ? dates : undefined };
}

/** Asset returns aligned with price rows: row 0 is zeros, row t = p_t / p_{t-1} - 1. */
function assetReturns(prices: number[][]): number[][] {
  return prices.map((row, t) =>
    row.map((p, j) => (t === 0 ? 0 : p / ((prices[t - 1] as number[])[j] as number) - 1)),
  );
}

const equalWeights = (rows: number, n: number): number[][] =>
  Array.from({ length: rows }, () => Array.from({ length: n }, () => 1 / n));

const arr = (t: { dataSync(): ArrayLike<number> }): number[] => Array.from(t.dataSync());

function close(a: number[], b: number[], tol = 1e-14): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++)
    expect(Math.abs((a[i] as number) - (b[i] as number))).toBeLessThanOrEqual(tol);
}

// Row 0 of the returns is junk on purpose: it must never be used.
const R = [
  [9, 9],
  [0.1, 0],
  [0.2, -0.5],
  [0, 0.1],
];
const W = equalWeights(4, 2);

describe('backtest: hand-computed example', () => {
  it('rebalance every 2 periods, drift, 100 bp costs', () => {
    const bt = backtestSync(W, R, { rebalance: 2, costBps: 100, drift: true });
    const g1 = (11 / 21) * 0.2 + (10 / 21) * -0.5; // drifted weights after period 0
    const turn2 = 8.2 / 18.2; // |0.5 - 13.2/18.2| + |0.5 - 5/18.2|
    close(arr(bt.turnover), [1, 0, turn2]);
    close(arr(bt.costs), [0.01, 0, 0.01 * turn2]);
    close(arr(bt.grossReturns), [0.05, g1, 0.05]);
    const net = [0.99 * 1.05 - 1, g1, (1 - 0.01 * turn2) * 1.05 - 1];
    close(arr(bt.returns), net);
    close(arr(bt.equity), [
      1,
      1 + net[0]!,
      (1 + net[0]!) * (1 + g1),
      (1 + net[0]!) * (1 + g1) * (1 + net[2]!),
    ]);
    close(arr(bt.weights), [0.5, 0.5, 11 / 21, 10 / 21, 0.5, 0.5]);
    expect(bt.weights.shape).toEqual([3, 2]);
    expect(bt.equity.shape).toEqual([4]);
    expect(bt.returns.dtype).toBe('float64');
  });

  it('drift: false holds the target weights between rebalances', () => {
    const bt = backtestSync(W, R, { rebalance: 2, costBps: 100, drift: false });
    close(arr(bt.grossReturns), [0.05, -0.15, 0.05]);
    close(arr(bt.turnover), [1, 0, 0]);
    close(arr(bt.weights), [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
  });

  it("default is 'every' period, no costs, drift", () => {
    const bt = backtestSync(W, R);
    close(arr(bt.grossReturns), [0.05, -0.15, 0.05]);
    close(arr(bt.returns), [0.05, -0.15, 0.05]);
    // turnover after the initial purchase is the rebalancing back from the drifted weights
    close(arr(bt.turnover), [1, 2 * Math.abs(0.5 - 11 / 21), 2 * Math.abs(0.5 - 1.2 / 1.7)]);
    close(arr(bt.costs), [0, 0, 0]);
  });

  it('boolean schedules (array and tensor) match the equivalent k', () => {
    const byK = backtestSync(W, R, { rebalance: 2, costBps: 5 });
    const byArr = backtestSync(W, R, { rebalance: [true, false, true, false], costBps: 5 });
    const byTensor = backtestSync(W, R, { rebalance: tensor([true, false, true, true]), costBps: 5 });
    close(arr(byArr.returns), arr(byK.returns), 0);
    close(arr(byTensor.returns), arr(byK.returns), 0); // the last schedule entry is unused
    // buy and hold: one trade at day 0, then pure drift
    const hold = backtestSync(W, R, { rebalance: [true, false, false, false] });
    close(arr(hold.equity), [1, 1.05, 0.5 * 1.1 * 1.2 + 0.5 * 0.5, 0.5 * 1.1 * 1.2 + 0.5 * 0.5 * 1.1]);
    // no trade at day 0: the portfolio sits in cash until its first rebalance
    const late = backtestSync(W, R, { rebalance: [false, true, false, false] });
    close(arr(late.grossReturns), [0, -0.15, (0.6 * 0 + 0.25 * 0.1) / 0.85]);
    close(arr(late.turnover), [0, 1, 0]);
  });

  it('weights need not sum to one: the remainder is cash earning 0, shorts allowed', () => {
    const bt = backtestSync(
      [
        [0.5, -0.25],
        [0, 0],
      ],
      [
        [0, 0],
        [0.1, 0.2],
      ],
      { costBps: 10 },
    );
    close(arr(bt.grossReturns), [0.05 - 0.05]);
    close(arr(bt.turnover), [0.75]);
    close(arr(bt.returns), [(1 - 0.00075) * 1 - 1]);
  });

  it('async backtest on tensors equals backtestSync', async () => {
    const a = await backtest(tensor(W, { dtype: 'float64' }), tensor(R, { dtype: 'float64' }), {
      rebalance: tensor([1, 0, 1, 0]),
      costBps: 100,
    });
    const b = backtestSync(W, R, { rebalance: 2, costBps: 100 });
    for (const k of ['returns', 'grossReturns', 'equity', 'turnover', 'costs', 'weights'] as const) {
      close(Array.from(await a[k].data()), arr(b[k]), 0);
    }
  });
});

describe('backtest: no look-ahead', () => {
  const T = 40;
  const N = 3;
  let seed = 7;
  const rnd = (): number => {
    seed = (seed * 16807) % 2147483647;
    return seed / 2147483647;
  };
  const Rr = Array.from({ length: T }, () => Array.from({ length: N }, () => (rnd() - 0.5) * 0.04));
  const Wr = Array.from({ length: T }, () => Array.from({ length: N }, () => rnd()));
  const opts = { rebalance: 3, costBps: 7, drift: true };
  const base = backtestSync(Wr, Rr, opts);

  it('perturbing the returns of day k leaves every output before period k - 1 unchanged', () => {
    for (const k of [1, 10, 25, T - 1]) {
      const R2 = Rr.map((row) => [...row]);
      (R2[k] as number[])[1] = 0.5;
      const p = backtestSync(Wr, R2, opts);
      for (const key of ['returns', 'grossReturns', 'turnover', 'costs'] as const) {
        close(arr(p[key]).slice(0, k - 1), arr(base[key]).slice(0, k - 1), 0);
      }
      expect(arr(p.returns)[k - 1]).not.toBe(arr(base.returns)[k - 1]);
      close(arr(p.equity).slice(0, k), arr(base.equity).slice(0, k), 0);
      close(arr(p.weights).slice(0, (k - 1) * N), arr(base.weights).slice(0, (k - 1) * N), 0);
    }
  });

  it('perturbing the weights of day k leaves every output before period k unchanged', () => {
    for (const k of [0, 9, 21]) {
      // k is a rebalance day (k % 3 === 0), so the new weights are traded at close k
      const W2 = Wr.map((row) => [...row]);
      (W2[k] as number[])[0] = 3;
      const p = backtestSync(W2, Rr, opts);
      for (const key of ['returns', 'grossReturns', 'turnover', 'costs'] as const) {
        close(arr(p[key]).slice(0, k), arr(base[key]).slice(0, k), 0);
      }
      expect(arr(p.returns)[k]).not.toBe(arr(base.returns)[k]);
      close(arr(p.equity).slice(0, k + 1), arr(base.equity).slice(0, k + 1), 0);
    }
  });

  it('the returns of day 0 and the weights of the last day are never used', () => {
    const R2 = Rr.map((row) => [...row]);
    R2[0] = [5, -5, 5];
    const W2 = Wr.map((row) => [...row]);
    W2[T - 1] = [100, 100, 100];
    const p = backtestSync(W2, R2, opts);
    for (const key of ['returns', 'equity', 'turnover', 'weights'] as const)
      close(arr(p[key]), arr(base[key]), 0);
  });

  it('weights at t never multiply returns at t', () => {
    // hold asset t % 2 at day t; day t's return is +100% on exactly that asset. A same-day bug would earn it.
    const n = 12;
    const Wt = Array.from({ length: n }, (_, t) => (t % 2 === 0 ? [1, 0] : [0, 1]));
    const Rt = Array.from({ length: n }, (_, t) => (t % 2 === 0 ? [1, 0] : [0, 1]));
    const bt = backtestSync(Wt, Rt, { drift: false });
    close(arr(bt.grossReturns), new Array(n - 1).fill(0), 0);
    // and shifting the weights by one day (cheating) would earn +100% every period
    const cheat = backtestSync(Wt.slice(1).concat([[0, 0]]), Rt, { drift: false });
    close(arr(cheat.grossReturns), new Array(n - 1).fill(1), 0);
  });
});

describe('backtest: errors', () => {
  const code = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return GradfolioError.isInstance(e) ? (e as GradfolioError).code : 'not a GradfolioError';
    }
    return undefined;
  };
  it('throws SHAPE_MISMATCH / INVALID_ARGUMENT', async () => {
    expect(code(() => backtestSync(W, R.slice(1)))).toBe('SHAPE_MISMATCH');
    expect(
      code(() =>
        backtestSync(
          W,
          R.map((r) => [...r, 0]),
        ),
      ),
    ).toBe('SHAPE_MISMATCH');
    expect(code(() => backtestSync(tensor([1, 2]), tensor([1, 2])))).toBe('SHAPE_MISMATCH');
    expect(code(() => backtestSync(W, R, { rebalance: [true, false] }))).toBe('SHAPE_MISMATCH');
    expect(code(() => backtestSync(W, R, { rebalance: tensor([[1, 0, 1, 0]]) }))).toBe('SHAPE_MISMATCH');
    expect(code(() => backtestSync([[1, 2], [3]], R))).toBe('SHAPE_MISMATCH');
    expect(code(() => backtestSync(W, R, { rebalance: 0 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => backtestSync(W, R, { rebalance: 1.5 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => backtestSync(W, R, { costBps: -1 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => backtestSync([[1]], [[0]]))).toBe('INVALID_ARGUMENT');
    expect(
      code(() =>
        backtestSync(W, [
          [0, 0],
          [Number.NaN, 0],
          [0, 0],
          [0, 0],
        ]),
      ),
    ).toBe('INVALID_ARGUMENT');
    await expect(backtest(tensor([[1, 2]]), tensor([[1, 2, 3]]))).rejects.toMatchObject({
      code: 'SHAPE_MISMATCH',
    });
  });
});

describe('backtest: 1/N on the test price files vs the reference script', () => {
  for (const name of ['DowJones30', 'SWX', 'EuStockMarkets']) {
    it(`${name}: every 21 periods, drift, 1 bp`, () => {
      const fx = FIX[name] as Fixture;
      const { prices } = loadPrices(name);
      const rets = assetReturns(prices);
      expect(rets.length).toBe(fx.rows);
      const bt = backtestSync(equalWeights(fx.rows, fx.assets), rets, {
        rebalance: 21,
        costBps: 1,
        drift: true,
      });
      const net = arr(bt.returns);
      close(net.slice(0, 10), fx.k21.head, 1e-15);
      close(net.slice(-10), fx.k21.tail, 1e-15);
      const sum = (a: number[]): number => a.reduce((s, v) => s + v, 0);
      expect(Math.abs(sum(net) - fx.k21.sumNet)).toBeLessThan(1e-12);
      expect(Math.abs(sum(arr(bt.grossReturns)) - fx.k21.sumGross)).toBeLessThan(1e-12);
      expect(Math.abs(sum(arr(bt.turnover)) - fx.k21.sumTurnover)).toBeLessThan(1e-12);
      expect(Math.abs((arr(bt.equity).at(-1) as number) / fx.k21.finalEquity - 1)).toBeLessThan(1e-12);
    });

    it(`${name}: reproduces the data README's 1/N Sharpe baseline`, () => {
      // 252-day lookback (evaluation starts after the first 252 return days), monthly rebalance (last trading
      // day of each calendar month; every 21 days for EuStockMarkets, which has no dates), drift, 1 bp.
      const fx = FIX[name] as Fixture;
      const { prices, dates } = loadPrices(name);
      const n = fx.baseline.universeColumns; // SWX: SBI, SPI, SII only
      const rets = assetReturns(prices)
        .slice(252)
        .map((r) => r.slice(0, n));
      const T = rets.length;
      const sched = Array.from({ length: T }, (_, i) => {
        if (i === 0) return true;
        if (dates === undefined) return i % 21 === 0;
        const d = dates.slice(252);
        return i < T - 1 && (d[i] as string).slice(0, 7) !== (d[i + 1] as string).slice(0, 7);
      });
      const bt = backtestSync(equalWeights(T, n), rets, { rebalance: sched, costBps: 1, drift: true });
      const s = sharpeRatio(bt.returns);
      expect(Math.abs(s - fx.baseline.sharpeMonthlyDrift1bp)).toBeLessThan(1e-10);
      const quoted = { DowJones30: 1.31, SWX: 0.75, EuStockMarkets: 1.28 }[name] as number;
      expect(Math.abs(s - quoted)).toBeLessThan(0.006);
    });
  }
});
