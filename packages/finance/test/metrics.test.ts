import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GradfolioError, tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { backtestSync } from '../src/backtest.js';
import {
  annualReturn,
  annualReturnArithmetic,
  annualVolatility,
  averageGain,
  averageLoss,
  averageTurnover,
  calmarRatio,
  downsideRisk,
  hitRate,
  maxDrawdown,
  type PerformanceReport,
  performanceReport,
  performanceReportSync,
  sharpeRatio,
  sortinoRatio,
} from '../src/metrics.js';

type Ref = Record<string, number>;
interface Fixture {
  rows: number;
  assets: number;
  daily: { metrics: Ref; metricsRf: Ref };
  k21: { metrics: Ref; meanTurnover: number };
}
const FIX = JSON.parse(
  readFileSync(fileURLToPath(new URL('../fixtures/metrics.json', import.meta.url)), 'utf8'),
) as Record<string, Fixture>;

/** Tiny CSV reader for the vendored price files (drops the `date` and `t` columns). */
function loadPrices(name: string): number[][] {
  const text = readFileSync(fileURLToPath(new URL(`./data/${name}.csv`, import.meta.url)), 'utf8');
  const lines = text.trim().split(/\r?\n/);
  const header = (lines[0] as string).split(',').map((h) => h.replace(/"/g, ''));
  const keep = header.map((h, j) => (h === 'date' || h === 't' ? -1 : j)).filter((j) => j >= 0);
  return lines.slice(1).map((line) => {
    const cells = line.split(',');
    return keep.map((j) => Number(cells[j]));
  });
}

function assetReturns(prices: number[][]): number[][] {
  return prices.map((row, t) =>
    row.map((p, j) => (t === 0 ? 0 : p / ((prices[t - 1] as number[])[j] as number) - 1)),
  );
}

const equalWeights = (rows: number, n: number): number[][] =>
  Array.from({ length: rows }, () => Array.from({ length: n }, () => 1 / n));

/** |a - b| <= 1e-10 * max(1, |b|) (absolute for O(1) values), NaN matching NaN. */
function near(a: number, b: number, tol = 1e-10): void {
  if (Number.isNaN(b)) {
    expect(a).toBeNaN();
    return;
  }
  expect(Math.abs(a - b)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b)));
}

const KEYS = [
  'annualReturn',
  'annualReturnArithmetic',
  'annualVolatility',
  'sharpeRatio',
  'sortinoRatio',
  'downsideRisk',
  'maxDrawdown',
  'calmarRatio',
  'hitRate',
  'averageGain',
  'averageLoss',
  'totalReturn',
] as const;

describe('metrics vs the numpy re-implementation of empyrical (1/N on the test price files)', () => {
  for (const name of ['DowJones30', 'SWX', 'EuStockMarkets']) {
    const fx = FIX[name] as Fixture;
    const rets = assetReturns(loadPrices(name));
    const daily = backtestSync(equalWeights(fx.rows, fx.assets), rets).returns;
    const k21 = backtestSync(equalWeights(fx.rows, fx.assets), rets, { rebalance: 21, costBps: 1 });

    it(`${name}: daily-rebalanced 1/N, every metric within 1e-10`, () => {
      const rep = performanceReportSync(daily, { periodsPerYear: 252 });
      for (const k of KEYS) near(rep[k], fx.daily.metrics[k] as number);
      expect(rep.periods).toBe(fx.rows - 1);
      expect('turnover' in rep).toBe(false);
      // the single-metric functions agree with the report
      near(annualReturn(daily), rep.annualReturn, 0);
      near(annualReturnArithmetic(daily), rep.annualReturnArithmetic, 0);
      near(annualVolatility(daily), rep.annualVolatility, 0);
      near(sharpeRatio(daily), rep.sharpeRatio, 0);
      near(sortinoRatio(daily), rep.sortinoRatio, 0);
      near(downsideRisk(daily), rep.downsideRisk, 0);
      near(maxDrawdown(daily), rep.maxDrawdown, 0);
      near(calmarRatio(daily), rep.calmarRatio, 0);
      near(hitRate(daily), rep.hitRate, 0);
      near(averageGain(daily), rep.averageGain, 0);
      near(averageLoss(daily), rep.averageLoss, 0);
      near(maxDrawdown(daily, { includeStart: true }), fx.daily.metrics.maxDrawdownFromStart as number);
    });

    it(`${name}: riskFree and requiredReturn`, () => {
      const ref = fx.daily.metricsRf;
      near(sharpeRatio(daily, { riskFree: 0.0001 }), ref.sharpeRatio as number);
      near(sortinoRatio(daily, { requiredReturn: 0.0002 }), ref.sortinoRatio as number);
      near(downsideRisk(daily, { requiredReturn: 0.0002 }), ref.downsideRisk as number);
      const rep = performanceReportSync(daily, { riskFree: 0.0001, requiredReturn: 0.0002 });
      near(rep.sharpeRatio, ref.sharpeRatio as number);
      near(rep.sortinoRatio, ref.sortinoRatio as number);
    });

    it(`${name}: 1/N every 21 periods with drift and 1 bp (async report, turnover)`, async () => {
      const rep = await performanceReport(k21.returns, { periodsPerYear: 252, turnover: k21.turnover });
      for (const k of KEYS) near(rep[k], fx.k21.metrics[k] as number);
      near(rep.turnover as number, fx.k21.meanTurnover, 1e-12);
      near(averageTurnover(k21.turnover), fx.k21.meanTurnover, 1e-12);
    });
  }
});

describe('metrics: hand-computed definitions', () => {
  it('max drawdown: empyrical (peak from the first close) vs includeStart', () => {
    near(maxDrawdown([0.1, -0.2, 0.05]), -0.2, 1e-15);
    expect(maxDrawdown([-0.1, 0.05])).toBe(0); // empyrical: the first-period loss is not a drawdown
    near(maxDrawdown([-0.1, 0.05], { includeStart: true }), -0.1, 1e-15);
    expect(maxDrawdown([0.01, 0.02])).toBe(0);
    expect(calmarRatio([0.01, 0.02])).toBeNaN();
    near(calmarRatio([0.1, -0.2, 0.05], { periodsPerYear: 3 }), (1.1 * 0.8 * 1.05 - 1) / 0.2, 1e-14);
  });

  it('annual return (CAGR) vs arithmetic, volatility, Sharpe', () => {
    const r = [0.02, -0.01, 0.03, 0];
    near(annualReturn(r, { periodsPerYear: 2 }), Math.sqrt(1.02 * 0.99 * 1.03) - 1, 1e-15);
    near(annualReturnArithmetic(r, { periodsPerYear: 2 }), 0.02, 1e-15);
    const m = 0.01;
    const sd = Math.sqrt((2 * 0.01 ** 2 + 2 * 0.02 ** 2) / 3); // deviations 0.01, -0.02, 0.02, -0.01
    near(annualVolatility(r, { periodsPerYear: 4 }), sd * 2, 1e-15);
    near(sharpeRatio(r, { periodsPerYear: 4 }), (m / sd) * 2, 1e-14);
    near(sharpeRatio(r, { periodsPerYear: 4, riskFree: 0.005 }), (0.005 / sd) * 2, 1e-14);
  });

  it('Sortino uses the downside deviation over all periods', () => {
    const r = [0.02, -0.01, 0.03, -0.02];
    const dd = Math.sqrt((0.01 ** 2 + 0.02 ** 2) / 4); // divided by all 4 periods, not the 2 losses
    near(downsideRisk(r, { periodsPerYear: 1 }), dd, 1e-15);
    near(sortinoRatio(r, { periodsPerYear: 1 }), 0.005 / dd, 1e-14);
    expect(sortinoRatio([0.01, 0.02])).toBe(Number.POSITIVE_INFINITY);
  });

  it('hit rate, average gain / loss, turnover', () => {
    const r = [0.01, 0, -0.02, 0.03, -0.04];
    near(hitRate(r), 0.4, 0);
    near(averageGain(r), 0.02, 1e-16);
    near(averageLoss(r), -0.03, 1e-16);
    expect(averageLoss([0.01])).toBeNaN();
    near(averageTurnover([1, 0, 0, 0.2]), 0.3, 1e-16);
  });

  it('accepts tensors, and the async report equals the sync one', async () => {
    const r = [0.01, -0.02, 0.015, 0.003];
    const t = tensor(r, { dtype: 'float64' });
    const a: PerformanceReport = await performanceReport(t, { turnover: tensor([1, 0, 0, 0]) });
    const b = performanceReportSync(r, { turnover: [1, 0, 0, 0] });
    expect(a).toEqual(b);
    expect(b.turnover).toBe(0.25);
    expect(sharpeRatio(t)).toBe(sharpeRatio(r));
  });

  it('empty / too short series give NaN', () => {
    expect(sharpeRatio([0.01])).toBeNaN();
    expect(annualVolatility([])).toBeNaN();
    expect(annualReturn([])).toBeNaN();
    expect(maxDrawdown([])).toBeNaN();
    expect(hitRate([])).toBeNaN();
  });

  it('errors', async () => {
    const code = (f: () => unknown): unknown => {
      try {
        f();
      } catch (e) {
        return GradfolioError.isInstance(e) ? (e as GradfolioError).code : e;
      }
      return undefined;
    };
    expect(code(() => sharpeRatio(tensor([[0.1, 0.2]])))).toBe('SHAPE_MISMATCH');
    expect(code(() => annualReturn([0.1], { periodsPerYear: 0 }))).toBe('INVALID_ARGUMENT');
    await expect(performanceReport(tensor([[0.1]]))).rejects.toMatchObject({ code: 'SHAPE_MISMATCH' });
  });
});
