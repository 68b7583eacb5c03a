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
  eigvalsSym,
  ensurePSD,
  ensurePSDAsync,
  ewmCov,
  isPSD,
  isPSDAsync,
  ledoitWolf,
  nearestPSD,
  sampleCov,
} from '../src/covariance.js';
import { logReturns } from '../src/returns.js';

const here = new URL('.', import.meta.url);
const fx = JSON.parse(readFileSync(new URL('../fixtures/risk.json', here), 'utf8')) as Record<
  string,
  unknown
>;

/** Tiny CSV reader: numeric columns only (drops `date` and `t`). */
function prices(name: string): Tensor {
  const lines = readFileSync(new URL(`data/${name}`, here), 'utf8')
    .trim()
    .split(/\r?\n/);
  const header = (lines[0] as string).split(',').map((h) => h.replace(/"/g, ''));
  const keep = header.map((h, i) => (h === 'date' || h === 't' ? -1 : i)).filter((i) => i >= 0);
  const data = lines.slice(1).map((l) => {
    const cells = l.split(',');
    return keep.map((i) => Number(cells[i]));
  });
  return tensor(data, { dtype: 'float64' });
}

function expectClose(actual: Tensor, expected: unknown, tol = 1e-10): void {
  const e = typeof expected === 'number' ? [expected] : (expected as number[]);
  const a = Array.from(actual.dataSync() as Float64Array);
  expect(a.length).toBe(e.length);
  let scale = 0;
  for (const v of e) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < e.length; i++) {
    worst = Math.max(
      worst,
      Math.abs((a[i] as number) - (e[i] as number)) / Math.max(Math.abs(e[i] as number), scale),
    );
  }
  expect(worst).toBeLessThanOrEqual(tol);
}

const x = logReturns(prices('DowJones30.csv'));
const xs = x.narrow(0, 0, 60);

describe('sampleCov', () => {
  it('matches np.cov, with correction and annualisation', () => {
    expect(x.shape).toEqual([fx.dj_rows as number, 30]);
    expectClose(sampleCov(x), fx.cov_sample);
    expectClose(sampleCov(x, { correction: 0, annualize: true }), fx.cov_sample_ddof0_ann);
    expectClose(sampleCov(x, { correction: 0, annualize: 252 }), fx.cov_sample_ddof0_ann);
  });
  it('validates its input', () => {
    expect(() => sampleCov(x.narrow(1, 0, 1).reshape(-1))).toThrow(/shape \[T, N\], got \[2528\]/);
    expect(() => sampleCov(x.narrow(0, 0, 1))).toThrow(/more than correction=1 observations.*\[1, 30\]/);
    expect(() => sampleCov(x, { annualize: -1 })).toThrow(/positive number, got -1/);
  });
  it('is differentiable', async () => {
    await import('@gradfolio/autograd');
    const r = tensor(
      [
        [0.01, 0.02],
        [-0.01, 0.0],
        [0.03, -0.02],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    sampleCov(r, { psd: 'ignore' }).sum().backward();
    // sum of all covariances = var(r0 + r1); its gradient is 2 (s - mean(s)) / (T - 1) in each column
    const s = [0.03, -0.01, 0.01];
    const g = r.grad?.toArraySync() as number[][];
    for (let i = 0; i < 3; i++) {
      expect(g[i]![0]).toBeCloseTo((2 * (s[i]! - 0.01)) / 2, 14);
      expect(g[i]![1]).toBeCloseTo((2 * (s[i]! - 0.01)) / 2, 14);
    }
  });
});

describe('ewmCov', () => {
  it('matches the last block of pandas ewm().cov()', () => {
    expectClose(ewmCov(x, { alpha: 0.05 }), fx['ewm_cov_a0.05_adj']);
    expectClose(ewmCov(x, { alpha: 0.05, adjust: false }), fx['ewm_cov_a0.05_noadj']);
    const ann = ewmCov(x, { alpha: 0.05, annualize: 12 });
    expectClose(ann.div(12), fx['ewm_cov_a0.05_adj']);
  });
  it('needs a decay', () => {
    expect(() => ewmCov(x)).toThrow(/ewmCov: give exactly one of/);
  });
});

describe('ledoitWolf', () => {
  it('identity target matches sklearn ledoit_wolf formulas', () => {
    const { cov, shrinkage } = ledoitWolf(x);
    expectClose(cov, fx.lw_identity);
    expectClose(shrinkage, fx.lw_identity_shrinkage);
    const short = ledoitWolf(xs, { target: 'identity' });
    expectClose(short.cov, fx.lw_identity_short);
    expectClose(short.shrinkage, fx.lw_identity_short_shrinkage);
  });
  it('constant-correlation target matches Ledoit & Wolf (2003)', () => {
    const { cov, shrinkage } = ledoitWolf(x, { target: 'constant-correlation' });
    expectClose(cov, fx.lw_cc);
    expectClose(shrinkage, fx.lw_cc_shrinkage);
    const short = ledoitWolf(xs, { target: 'constant-correlation' });
    expectClose(short.cov, fx.lw_cc_short);
    expectClose(short.shrinkage, fx.lw_cc_short_shrinkage);
  });
  it('annualises the covariance, not the intensity', () => {
    const { cov, shrinkage } = ledoitWolf(x, { annualize: true });
    expectClose(cov.div(252), fx.lw_identity);
    expectClose(shrinkage, fx.lw_identity_shrinkage);
  });
  it('rejects unknown targets and single-asset constant correlation', () => {
    expect(() => ledoitWolf(x, { target: 'diagonal' as 'identity' })).toThrow(/target must be/);
    expect(() => ledoitWolf(x.narrow(1, 0, 1), { target: 'constant-correlation' })).toThrow(
      /at least 2 assets/,
    );
  });
});

describe('PSD', () => {
  const a = tensor(
    [
      [2.0, -1.0, 0.0, 0.5],
      [-1.0, 2.0, 1.9, 0.0],
      [0.0, 1.9, 1.0, -0.3],
      [0.5, 0.0, -0.3, 0.1],
    ],
    { dtype: 'float64' },
  );
  it('eigenvalues and isPSD', () => {
    const v = eigvalsSym(a);
    expect(Math.abs((v[0] as number) - (fx.npsd_min_eig as number))).toBeLessThan(1e-12);
    expect(isPSD(a)).toBe(false);
    expect(isPSD(sampleCov(x))).toBe(true);
    // rank-deficient (T < N): rounding-level negative eigenvalues are tolerated
    expect(isPSD(sampleCov(x.narrow(0, 0, 10), { psd: 'ignore' }))).toBe(true);
  });
  it('nearestPSD clips eigenvalues (numpy eigh reference)', () => {
    const b = nearestPSD(a);
    expectClose(b, fx.npsd_out);
    expect(isPSD(b)).toBe(true);
    const f = nearestPSD(a, { minEigenvalue: 1e-3 });
    expect(Math.min(...eigvalsSym(f))).toBeGreaterThan(1e-3 - 1e-12);
    expectClose(
      nearestPSD(
        tensor(
          [
            [1, 2],
            [2, 1],
          ],
          { dtype: 'float64' },
        ),
      ),
      [1.5, 1.5, 1.5, 1.5],
    );
  });
  it("ensurePSD: 'error' names the most negative eigenvalue, 'repair' projects", () => {
    try {
      ensurePSD(a, { op: 'myEstimator' });
      expect.unreachable();
    } catch (e) {
      expect(GradfolioError.isInstance(e) && e.code).toBe('NOT_PSD');
      expect((e as Error).message).toMatch(
        /myEstimator: the \[4, 4\] matrix is not positive semi-definite \(most negative eigenvalue -0\.762695/,
      );
      expect((e as GradfolioError).details.minEigenvalue).toBeCloseTo(fx.npsd_min_eig as number, 12);
    }
    expectClose(ensurePSD(a, { psd: 'repair' }), fx.npsd_out);
    expect(ensurePSD(a, { psd: 'ignore' })).toBe(a);
    const c = sampleCov(x);
    expect(ensurePSD(c)).toBe(c);
  });
  it('repair keeps gradients (straight-through)', async () => {
    await import('@gradfolio/autograd');
    const m = tensor(
      [
        [1, 2],
        [2, 1],
      ],
      { dtype: 'float64', requiresGrad: true },
    );
    nearestPSD(m).sum().backward();
    expect(m.grad?.toArraySync()).toEqual([
      [1, 1],
      [1, 1],
    ]);
  });
  it('rejects non-square input', () => {
    expect(() => isPSD(x)).toThrow(/expected a square matrix, got \[2528, 30\]/);
  });
});

describe('any backend (no synchronous reads)', () => {
  const asyncOnly: Backend = { ...createCPUBackend(), name: 'finance-async' };
  delete (asyncOnly as { readSync?: unknown }).readSync;
  registerBackend(asyncOnly);
  const xd = xs.to('finance-async');

  it("estimators run with psd: 'ignore' and match the CPU", async () => {
    expect(Array.from(await sampleCov(xd, { psd: 'ignore' }).data())).toEqual(
      Array.from(sampleCov(xs).dataSync()),
    );
    const lw = ledoitWolf(xd, { target: 'constant-correlation', psd: 'ignore' });
    expect(lw.cov.device).toBe('finance-async');
    expectClose(tensor(Array.from(await lw.cov.data()), { dtype: 'float64' }), fx.lw_cc_short);
    const e = ewmCov(xd, { alpha: 0.05, psd: 'ignore' });
    expectClose(
      tensor(Array.from(await e.data()), { dtype: 'float64' }),
      Array.from(ewmCov(xs, { alpha: 0.05 }).dataSync()),
    );
  });

  it('the default PSD check explains what to do; the async helpers work', async () => {
    expect(() => sampleCov(xd)).toThrow(/cannot read synchronously; pass psd: 'ignore'/);
    const a = tensor(fx.npsd_in as number[], { dtype: 'float64' })
      .reshape(4, 4)
      .to('finance-async');
    expect(await isPSDAsync(a)).toBe(false);
    expect(await isPSDAsync(sampleCov(xd, { psd: 'ignore' }))).toBe(true);
    await expect(ensurePSDAsync(a)).rejects.toThrow(/not positive semi-definite/);
    const r = await ensurePSDAsync(a, { psd: 'repair' });
    expect(r.device).toBe('finance-async');
    expectClose(tensor(Array.from(await r.data()), { dtype: 'float64' }), fx.npsd_out);
  });
});

describe('gradients (finite differences)', () => {
  const base = [
    [0.01, -0.02, 0.005],
    [0.02, 0.01, -0.01],
    [-0.015, 0.004, 0.012],
    [0.007, -0.006, 0.003],
    [-0.002, 0.018, -0.009],
    [0.011, -0.013, 0.02],
  ];
  const cases: [string, (r: Tensor) => Tensor][] = [
    [
      'ledoitWolf identity',
      (r) =>
        ledoitWolf(r, { psd: 'ignore' })
          .cov.mul(tensor([1, 2, 3], { dtype: 'float64' }))
          .sum(),
    ],
    [
      'ledoitWolf shrinkage (cc)',
      (r) => ledoitWolf(r, { target: 'constant-correlation', psd: 'ignore' }).shrinkage,
    ],
    [
      'ledoitWolf cov (cc)',
      (r) =>
        ledoitWolf(r, { target: 'constant-correlation', psd: 'ignore' })
          .cov.mul(tensor([3, 1, 2], { dtype: 'float64' }))
          .sum(),
    ],
    ['ewmCov', (r) => ewmCov(r, { halflife: 3, psd: 'ignore' }).diagonal().sum()],
  ];
  for (const [name, f] of cases) {
    it(name, async () => {
      await import('@gradfolio/autograd');
      const r = tensor(base, { dtype: 'float64', requiresGrad: true });
      f(r).backward();
      const g = r.grad?.toArraySync() as number[][];
      const h = 1e-7;
      for (let i = 0; i < base.length; i++) {
        for (let j = 0; j < 3; j++) {
          const plus = base.map((row) => row.slice());
          const minus = base.map((row) => row.slice());
          plus[i]![j]! += h;
          minus[i]![j]! -= h;
          const fd =
            ((f(tensor(plus, { dtype: 'float64' })).itemSync() as number) -
              (f(tensor(minus, { dtype: 'float64' })).itemSync() as number)) /
            (2 * h);
          expect(Math.abs((g[i]![j] as number) - fd)).toBeLessThan(1e-6 * Math.max(1, Math.abs(fd)));
        }
      }
    });
  }
});
