import { readFileSync } from 'node:fs';
import {
  type Backend,
  createCPUBackend,
  GradfolioError,
  registerBackend,
  type Tensor,
  tensor,
} from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import {
  annualizeReturn,
  annualizeVolatility,
  ewmMean,
  ewmStd,
  logReturns,
  rollingMean,
  rollingStd,
  simpleReturns,
} from '../src/returns.js';

const here = new URL('.', import.meta.url);
const fx = JSON.parse(readFileSync(new URL('../fixtures/risk.json', here), 'utf8')) as Record<
  string,
  unknown
>;

/** Tiny CSV reader: numeric columns only (drops `date` and `t`). */
function prices(name: string, rows?: number): Tensor {
  const lines = readFileSync(new URL(`data/${name}`, here), 'utf8')
    .trim()
    .split(/\r?\n/);
  const header = (lines[0] as string).split(',').map((h) => h.replace(/"/g, ''));
  const keep = header.map((h, i) => (h === 'date' || h === 't' ? -1 : i)).filter((i) => i >= 0);
  const body = lines.slice(1, rows === undefined ? undefined : rows + 1);
  const data = body.map((l) => {
    const cells = l.split(',');
    return keep.map((i) => Number(cells[i]));
  });
  return tensor(data, { dtype: 'float64' });
}

function expectClose(actual: Tensor, expected: unknown, tol = 1e-10): void {
  const e = (expected as (number | null)[]).map((v) => (v === null ? Number.NaN : v));
  const a = Array.from(actual.dataSync() as Float64Array);
  expect(a.length).toBe(e.length);
  let scale = 0;
  for (const v of e) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < e.length; i++) {
    const ev = e[i] as number;
    const av = a[i] as number;
    if (Number.isNaN(ev)) {
      expect(Number.isNaN(av), `index ${i}: expected NaN, got ${av}`).toBe(true);
      continue;
    }
    worst = Math.max(worst, Math.abs(av - ev) / Math.max(Math.abs(ev), scale));
  }
  expect(worst).toBeLessThanOrEqual(tol);
}

const swx = prices('SWX.csv');
const R = fx.roll_rows as number;

describe('returns', () => {
  it('simple and log returns match numpy (dim 0)', () => {
    const p = swx.narrow(0, 0, 501);
    const s = simpleReturns(p);
    expect(s.shape).toEqual([500, 6]);
    expectClose(s, fx.swx_simple);
    expectClose(logReturns(p), fx.swx_log);
  });

  it('works along dim 1 and negative dims', () => {
    const e = prices('EuStockMarkets.csv', 50).transpose(0, 1);
    expectClose(simpleReturns(e, { dim: 1 }), fx.eu_simple_dim1);
    expectClose(logReturns(e, { dim: -1 }), fx.eu_log_dim1);
  });

  it('small examples', () => {
    const p = tensor(
      [
        [100, 50],
        [110, 45],
        [99, 45],
      ],
      { dtype: 'float64' },
    );
    const r = simpleReturns(p).toArraySync() as number[][];
    expect(r[0]![0]).toBeCloseTo(0.1, 14);
    expect(r[1]![1]).toBe(0);
    const l = logReturns(tensor([1, Math.E, 1], { dtype: 'float64' })).toArraySync() as number[];
    expect(l[0]).toBeCloseTo(1, 14);
    expect(l[1]).toBeCloseTo(-1, 14);
  });

  it('rejects bad dims, short series and integer prices', () => {
    expect(() => simpleReturns(swx, { dim: 2 })).toThrow(/dim 2 is out of range.*\[1917, 6\]/);
    expect(() => logReturns(tensor([1], { dtype: 'float64' }))).toThrow(/at least 2 observations/);
    try {
      simpleReturns(tensor([1, 2, 3]));
      expect.unreachable();
    } catch (e) {
      expect(GradfolioError.isInstance(e) && e.code).toBe('DTYPE_MISMATCH');
    }
  });

  it('is differentiable', async () => {
    await import('@gradfolio/autograd');
    const p = tensor([100, 110, 99], { dtype: 'float64', requiresGrad: true });
    logReturns(p).sum().backward();
    const g = p.grad?.toArraySync() as number[];
    // sum of log returns = log(p2) - log(p0)
    expect(g[0]).toBeCloseTo(-1 / 100, 14);
    expect(g[1]).toBeCloseTo(0, 14);
    expect(g[2]).toBeCloseTo(1 / 99, 14);
  });
});

describe('annualisation', () => {
  const r = simpleReturns(swx);
  it('arithmetic, geometric, volatility', () => {
    expectClose(annualizeReturn(r.mean(0)), fx.ann_ret_arith);
    expectClose(annualizeReturn(r.mean(0), { method: 'geometric' }), fx.ann_ret_geom);
    expectClose(annualizeVolatility(r.std(0), { periodsPerYear: 12 }), fx.ann_vol_12);
  });
  it('rejects bad periods', () => {
    expect(() => annualizeVolatility(r, { periodsPerYear: 0 })).toThrow(/positive number, got 0/);
  });
});

describe('rolling', () => {
  const r = simpleReturns(swx).narrow(0, 0, R);
  it('mean and std match pandas (first window-1 rows dropped)', () => {
    const m = rollingMean(r, 20);
    expect(m.shape).toEqual([R - 19, 6]);
    expectClose(m, fx.roll_mean_20);
    expectClose(rollingStd(r, 20), fx.roll_std_20);
    expectClose(rollingStd(r, 20, { correction: 0 }), fx.roll_std_20_ddof0);
  });
  it('prices (large levels) and dim 1', () => {
    const p = prices('EuStockMarkets.csv', R);
    expectClose(rollingMean(p, 30), fx.eu_roll_mean_30);
    expectClose(rollingStd(p, 30), fx.eu_roll_std_30);
    const pt = p.transpose(0, 1);
    expectClose(rollingMean(pt, 30, { dim: 1 }).transpose(0, 1).contiguous(), fx.eu_roll_mean_30);
  });
  it('validates the window', () => {
    expect(() => rollingMean(r, 0)).toThrow(/window must be a positive integer/);
    expect(() => rollingMean(r, R + 1)).toThrow(`at least ${R + 1} observations`);
    expect(() => rollingStd(r, 1)).toThrow(/window 1 must exceed correction 1/);
  });
});

describe('ewm', () => {
  const r = simpleReturns(swx).narrow(0, 0, R);
  const ew = fx.ewm as Record<string, { mean: unknown; std: unknown }>;
  const cases: [string, { alpha?: number; span?: number; halflife?: number; com?: number }][] = [
    ['alpha0.1', { alpha: 0.1 }],
    ['span30', { span: 30 }],
    ['halflife10', { halflife: 10 }],
    ['com5', { com: 5 }],
  ];
  for (const [key, decay] of cases) {
    for (const adjust of [true, false]) {
      it(`${key} adjust=${adjust} matches pandas`, () => {
        const ref = ew[`${key}_${adjust ? 'adj' : 'noadj'}`]!;
        expectClose(ewmMean(r, { ...decay, adjust }), ref.mean);
        expectClose(ewmStd(r, { ...decay, adjust }), ref.std);
      });
    }
  }
  it('std on price levels and along dim 1', () => {
    const p = prices('EuStockMarkets.csv', R);
    expectClose(ewmStd(p, { span: 20 }), fx.eu_ewm_std_span20);
    expectClose(
      ewmMean(r.transpose(0, 1), { alpha: 0.1, dim: 1 }).transpose(0, 1).contiguous(),
      ew['alpha0.1_adj']!.mean,
    );
  });
  it('needs exactly one decay parameter', () => {
    expect(() => ewmMean(r)).toThrow(/exactly one of alpha, span, halflife, com \(got none\)/);
    expect(() => ewmMean(r, { alpha: 0.1, span: 3 })).toThrow(/got alpha, span/);
    expect(() => ewmMean(r, { alpha: 1.5 })).toThrow(/alpha must be in \(0, 1\], got 1.5/);
  });
});

describe('any backend (no synchronous reads)', () => {
  const asyncOnly: Backend = { ...createCPUBackend(), name: 'finance-async-r' };
  delete (asyncOnly as { readSync?: unknown }).readSync;
  registerBackend(asyncOnly);
  it('every function runs without host reads and matches the CPU', async () => {
    const p = swx.narrow(0, 0, 120);
    const pd = p.to('finance-async-r');
    const same = async (dev: Tensor, cpu: Tensor): Promise<void> => {
      expect(dev.device).toBe('finance-async-r');
      expect(dev.shape).toEqual(cpu.shape);
      expectClose(tensor(Array.from(await dev.data()), { dtype: 'float64' }), Array.from(cpu.dataSync()));
    };
    await same(simpleReturns(pd), simpleReturns(p));
    await same(logReturns(pd), logReturns(p));
    const r = logReturns(p);
    const rd = logReturns(pd);
    await same(rollingMean(rd, 10), rollingMean(r, 10));
    await same(rollingStd(rd, 10), rollingStd(r, 10));
    await same(ewmMean(rd, { span: 10 }), ewmMean(r, { span: 10 }));
    await same(ewmStd(rd, { span: 10, adjust: false }), ewmStd(r, { span: 10, adjust: false }));
    await same(annualizeVolatility(rd.std(0)), annualizeVolatility(r.std(0)));
  });
});

describe('gradients (finite differences)', () => {
  const base = [0.01, -0.02, 0.005, 0.02, 0.01, -0.01, -0.015, 0.004];
  const cases: [string, (r: Tensor) => Tensor][] = [
    ['ewmStd', (r) => ewmStd(r, { span: 4 }).narrow(0, 1, 7).sum()],
    ['ewmMean', (r) => ewmMean(r, { alpha: 0.3, adjust: false }).mul(r).sum()],
    ['rollingStd', (r) => rollingStd(r, 3).sum()],
  ];
  for (const [name, f] of cases) {
    it(name, async () => {
      await import('@gradfolio/autograd');
      const r = tensor(base, { dtype: 'float64', requiresGrad: true });
      f(r).backward();
      const g = r.grad?.toArraySync() as number[];
      const h = 1e-7;
      for (let i = 0; i < base.length; i++) {
        const plus = base.slice();
        const minus = base.slice();
        plus[i]! += h;
        minus[i]! -= h;
        const fd =
          ((f(tensor(plus, { dtype: 'float64' })).itemSync() as number) -
            (f(tensor(minus, { dtype: 'float64' })).itemSync() as number)) /
          (2 * h);
        expect(Math.abs((g[i] as number) - fd)).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd)));
      }
    });
  }
});
