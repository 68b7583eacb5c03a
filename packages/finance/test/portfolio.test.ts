import { readFileSync } from 'node:fs';
import { gradcheck } from '@gradfolio/autograd';
import { GradfolioError, ones, randn, solve, type Tensor, tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { meanVarianceLayer } from '../src/layer.js';
import {
  efficientFrontier,
  equalRiskContribution,
  inverseVolatility,
  maximumSharpe,
  meanVariance,
  minimumVariance,
  portfolioReturn,
  portfolioVariance,
  portfolioVolatility,
  riskContributions,
  sgdMinimumVarianceExample,
} from '../src/portfolio.js';
import { projectSimplex } from '../src/projection.js';
import { solveQP } from '../src/qp.js';

const here = new URL('.', import.meta.url);

interface Case {
  name: string;
  n: number;
  lower: number;
  upper: number;
  riskFreeRate: number;
  minVarLongOnly: number[];
  minVarBounds: number[];
  maxSharpeLongOnly: number[];
  maxSharpeBounds: number[];
  targetReturn: number;
  targetReturnLongOnly: number[];
  targetRisk: number;
  targetRiskLongOnly: number[];
  erc: number[];
  inverseVolatility: number[];
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/portfolio.json', here), 'utf8')) as {
  cases: Case[];
  seed004: { minVarLongOnly: number[]; variance: number };
};

/** Tiny CSV reader: numeric columns only (drops `date` and `t`). */
function prices(name: string): number[][] {
  const lines = readFileSync(new URL(`data/${name}`, here), 'utf8')
    .trim()
    .split(/\r?\n/);
  const header = (lines[0] as string).split(',').map((h) => h.replace(/"/g, ''));
  const keep = header.map((h, i) => (h === 'date' || h === 't' ? -1 : i)).filter((i) => i >= 0);
  return lines.slice(1).map((l) => {
    const cells = l.split(',');
    return keep.map((i) => Number(cells[i]));
  });
}

/** Annualised sample covariance (ddof 1) and mean of daily simple returns, in float64. */
function stats(name: string): { cov: Tensor; mu: Tensor } {
  const p = prices(name);
  const r = p.slice(1).map((row, t) => row.map((v, j) => v / p[t]![j]! - 1));
  const T = r.length;
  const n = r[0]!.length;
  const mean = new Array<number>(n).fill(0);
  for (const row of r) {
    row.forEach((v, j) => {
      mean[j]! += v / T;
    });
  }
  const cov = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (const row of r)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++)
        cov[i]![j]! += ((row[i]! - mean[i]!) * (row[j]! - mean[j]!) * 252) / (T - 1);
  return {
    cov: tensor(cov, { dtype: 'float64' }),
    mu: tensor(
      mean.map((m) => m * 252),
      { dtype: 'float64' },
    ),
  };
}

function arr(t: Tensor): number[] {
  return Array.from(t.dataSync() as Float64Array, Number);
}

function expectClose(actual: Tensor | number[], expected: readonly number[], tol: number): void {
  const a = Array.isArray(actual) ? actual : arr(actual);
  expect(a.length).toBe(expected.length);
  const err = Math.max(...a.map((v, i) => Math.abs(v - expected[i]!)));
  expect(err).toBeLessThanOrEqual(tol);
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: string, text?: RegExp): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(GradfolioError.isInstance(e)).toBe(true);
    expect((e as GradfolioError).code).toBe(code);
    if (text !== undefined) expect((e as Error).message).toMatch(text);
    return;
  }
  throw new Error(`expected a GradfolioError ${code}`);
}

const SEED_COV = [
  [0.1002, 0.0256, 0.0304],
  [0.0256, 0.0507, 0.0134],
  [0.0304, 0.0134, 0.118],
];
const SEED_MU = [0.2655, 0.198, 0.1436];

describe('portfolioReturn / portfolioVariance / portfolioVolatility', () => {
  it('match w’μ, w’Σw and its square root, batched', () => {
    const cov = tensor(SEED_COV, { dtype: 'float64' });
    const mu = tensor(SEED_MU, { dtype: 'float64' });
    const w = tensor(
      [
        [0.33, 0.33, 0.34],
        [1, 0, 0],
      ],
      { dtype: 'float64' },
    );
    expectClose(portfolioReturn(w, mu), [0.33 * 0.2655 + 0.33 * 0.198 + 0.34 * 0.1436, 0.2655], 1e-15);
    const w0 = [0.33, 0.33, 0.34];
    let v = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) v += w0[i]! * SEED_COV[i]![j]! * w0[j]!;
    expectClose(portfolioVariance(w, cov), [v, 0.1002], 1e-15);
    expectClose(portfolioVolatility(w, cov), [Math.sqrt(v), Math.sqrt(0.1002)], 1e-15);
    expect(() => portfolioVariance(tensor([1, 0]), cov)).toThrow(/do not match 3 assets/);
  });
});

describe('solveQP', () => {
  it('solves a small box + budget QP exactly', () => {
    const { x, polished } = solveQP({
      Q: new Float64Array([2, 0, 0, 2]),
      c: new Float64Array([-2, 0]),
      A: new Float64Array([1, 1]),
      b: new Float64Array([1]),
      G: new Float64Array([-1, 0, 0, -1, 1, 0]),
      h: new Float64Array([0, 0, 0.7]),
    });
    // Unconstrained answer on the budget line is [1, 0]; the upper bound 0.7 binds.
    expect(polished).toBe(true);
    expectClose(Array.from(x), [0.7, 0.3], 1e-15);
  });
});

describe('closed forms without bounds', () => {
  const { cov, mu } = stats('SWX.csv');
  const n = cov.shape[0]!;
  const sInv1 = arr(solve(cov, ones([n, 1], { dtype: 'float64' })).reshape([n]));
  const sInvMu = arr(solve(cov, mu.reshape([n, 1])).reshape([n]));
  const muA = arr(mu);
  const A = sInv1.reduce((a, v) => a + v, 0);
  const B = sInvMu.reduce((a, v) => a + v, 0);
  const C = sInvMu.reduce((a, v, i) => a + v * muA[i]!, 0);

  it('minimum variance is Σ⁻¹1 / 1’Σ⁻¹1', async () => {
    const w = await minimumVariance(cov, { longOnly: false });
    expectClose(
      w,
      sInv1.map((v) => v / A),
      1e-10,
    );
  });

  it('tangency is proportional to Σ⁻¹(μ - rf)', async () => {
    const rf = 0.001;
    const y = sInvMu.map((v, i) => v - rf * sInv1[i]!);
    const s = y.reduce((a, v) => a + v, 0);
    const w = await maximumSharpe(cov, mu, { longOnly: false, riskFreeRate: rf });
    expectClose(
      w,
      y.map((v) => v / s),
      1e-9,
    );
  });

  it('frontier points lie on σ² = (Aμ² - 2Bμ + C) / (AC - B²)', async () => {
    const f = await efficientFrontier(cov, mu, { longOnly: false, points: 7, maxReturn: 0.2 });
    const rets = arr(f.returns);
    const vols = arr(f.volatilities);
    expect(f.weights.shape).toEqual([7, n]);
    expect(rets[0]).toBeCloseTo(B / A, 12);
    rets.forEach((r, k) => {
      const s2 = (A * r * r - 2 * B * r + C) / (A * C - B * B);
      expect(Math.abs(vols[k]! ** 2 - s2)).toBeLessThanOrEqual(1e-12);
    });
    // Target risk inverts the frontier: the return at volatility σ is the upper root of the hyperbola.
    const sigma = 0.05;
    const w = await meanVariance(cov, mu, { longOnly: false, targetRisk: sigma });
    const r = (B + Math.sqrt(B * B - A * (C - sigma * sigma * (A * C - B * B)))) / A;
    expect(Math.abs(arr(portfolioReturn(w, mu))[0]! - r)).toBeLessThanOrEqual(1e-9);
    expect(Math.abs(arr(portfolioVolatility(w, cov))[0]! - sigma)).toBeLessThanOrEqual(1e-12);
  });

  it('maximum Sharpe with shorting and rf above the minimum variance return is INFEASIBLE', async () => {
    await expectCode(
      maximumSharpe(cov, mu, { longOnly: false, riskFreeRate: B / A + 0.01 }),
      'INFEASIBLE',
      /minimum variance portfolio/,
    );
  });
});

describe.each(fx.cases)('against cvxopt / scipy on $name', (c) => {
  const { cov, mu } = stats(c.name);
  const bounds = { lower: c.lower, upper: c.upper };

  it('long-only minimum variance', async () => {
    expectClose(await minimumVariance(cov), c.minVarLongOnly, 1e-6);
  });
  it('bounded minimum variance', async () => {
    const w = await minimumVariance(cov, bounds);
    expectClose(w, c.minVarBounds, 1e-6);
    for (const v of arr(w)) {
      expect(v).toBeGreaterThanOrEqual(c.lower - 1e-12);
      expect(v).toBeLessThanOrEqual(c.upper + 1e-12);
    }
  });
  it('long-only and bounded maximum Sharpe', async () => {
    const w = await maximumSharpe(cov, mu, { riskFreeRate: c.riskFreeRate });
    expectClose(w, c.maxSharpeLongOnly, 1e-6);
    expectClose(
      await maximumSharpe(cov, mu, { riskFreeRate: c.riskFreeRate, ...bounds }),
      c.maxSharpeBounds,
      1e-6,
    );
    // No random long-only portfolio beats it.
    const sharpe = (x: Tensor) =>
      arr(portfolioReturn(x, mu).sub(c.riskFreeRate).div(portfolioVolatility(x, cov)));
    const best = sharpe(w)[0]!;
    const rnd = projectSimplex(randn([200, c.n], { dtype: 'float64' }));
    expect(Math.max(...sharpe(rnd))).toBeLessThanOrEqual(best);
  });
  it('long-only target return and target risk', async () => {
    const w = await meanVariance(cov, mu, { targetReturn: c.targetReturn });
    expectClose(w, c.targetReturnLongOnly, 1e-6);
    expect(Math.abs(arr(portfolioReturn(w, mu))[0]! - c.targetReturn)).toBeLessThanOrEqual(1e-12);
    const v = await meanVariance(cov, mu, { targetRisk: c.targetRisk });
    expectClose(v, c.targetRiskLongOnly, 1e-6);
    expect(Math.abs(arr(portfolioVolatility(v, cov))[0]! - c.targetRisk)).toBeLessThanOrEqual(1e-12);
  });
  it('equal risk contribution and inverse volatility', async () => {
    const w = await equalRiskContribution(cov);
    expectClose(w, c.erc, 1e-6);
    expectClose(riskContributions(w, cov), new Array<number>(c.n).fill(1 / c.n), 1e-12);
    expectClose(await inverseVolatility(cov), c.inverseVolatility, 1e-12);
  });
  it('long-only frontier: increasing returns and volatilities, first point is the minimum variance', async () => {
    const f = await efficientFrontier(cov, mu, { points: 5 });
    const rets = arr(f.returns);
    const vols = arr(f.volatilities);
    for (let k = 1; k < 5; k++) {
      expect(rets[k]!).toBeGreaterThan(rets[k - 1]!);
      expect(vols[k]!).toBeGreaterThan(vols[k - 1]!);
    }
    expectClose(arr(f.weights).slice(0, c.n), c.minVarLongOnly, 1e-6);
    expect(rets[4]).toBeCloseTo(Math.max(...arr(mu)), 12);
  });
});

describe('seed 004', () => {
  const cov = tensor(SEED_COV, { dtype: 'float64' });
  const mu = tensor(SEED_MU, { dtype: 'float64' });

  it('exact long-only minimum variance vs the notebook’s 500 SGD steps (not converged)', async () => {
    const exact = await minimumVariance(cov);
    expectClose(exact, fx.seed004.minVarLongOnly, 1e-9);
    expectClose(portfolioVariance(exact, cov), [fx.seed004.variance], 1e-12);
    // Seed 004's clamp-and-renormalise SGD ends at [0.2148, 0.5542, 0.2309] (torch, float32); the host
    // float64 replay agrees to 1e-5 and is still about 0.07 away from the optimum, with higher variance.
    const sgd = await sgdMinimumVarianceExample(cov);
    expectClose(sgd, [0.21486037969589233, 0.5542118549346924, 0.2309277504682541], 1e-5);
    expect(Math.abs(arr(portfolioReturn(sgd, mu))[0]! - 0.19994060695171356)).toBeLessThanOrEqual(1e-5);
    const gap = Math.max(...arr(sgd).map((v, i) => Math.abs(v - fx.seed004.minVarLongOnly[i]!)));
    expect(gap).toBeGreaterThan(0.05);
    expect(arr(portfolioVariance(sgd, cov))[0]!).toBeGreaterThan(fx.seed004.variance + 3e-4);
    // Run longer and it does not converge to the optimum at all: clamp-and-renormalise is a power
    // iteration on I - 2·lr·Σ, whose fixed points are (clamped) eigen-directions of Σ. It drifts to
    // asset 2 alone, with variance 0.0507, worse than where it started.
    expectClose(await sgdMinimumVarianceExample(cov, { steps: 20000 }), [0, 1, 0], 1e-9);
    // The Euclidean projection onto the simplex fixes it (see 'projectSimplex' below).
  });

  it('results keep the covariance dtype', async () => {
    const w = await maximumSharpe(
      tensor(SEED_COV, { dtype: 'float32' }),
      tensor(SEED_MU, { dtype: 'float32' }),
    );
    expect(w.dtype).toBe('float32');
    expect(w.shape).toEqual([3]);
  });
});

describe('infeasible problems', () => {
  const cov = tensor(SEED_COV, { dtype: 'float64' });
  const mu = tensor(SEED_MU, { dtype: 'float64' });

  it('maximum Sharpe when every expected return is below the risk-free rate', async () => {
    await expectCode(
      maximumSharpe(cov, mu, { riskFreeRate: 0.3 }),
      'INFEASIBLE',
      /every expected return is at or below the risk-free rate 0\.3 .*0\.2655/,
    );
    await expectCode(
      maximumSharpe(cov, mu, { riskFreeRate: 0.25, upper: 0.5 }),
      'INFEASIBLE',
      /highest expected return the bounds admit is 0\.23175/,
    );
  });
  it('target return out of range, target risk too low, inconsistent bounds', async () => {
    await expectCode(
      meanVariance(cov, mu, { targetReturn: 0.3 }),
      'INFEASIBLE',
      /0\.3 is outside .*0\.1436, 0\.2655/,
    );
    await expectCode(meanVariance(cov, mu, { targetRisk: 0.1 }), 'INFEASIBLE', /below the volatility 0\.196/);
    await expectCode(minimumVariance(cov, { upper: 0.3 }), 'INFEASIBLE', /sum of upper bounds 0\.8999/);
    await expectCode(
      minimumVariance(cov, { lower: [0.5, 0.5, 0.1] }),
      'INFEASIBLE',
      /sum of lower bounds 1\.1/,
    );
    await expectCode(meanVariance(cov, mu, {}), 'INVALID_ARGUMENT');
  });
  it('bad covariances', async () => {
    await expectCode(
      minimumVariance(
        tensor(
          [
            [1, 1],
            [1, 1],
          ],
          { dtype: 'float64' },
        ),
      ),
      'NOT_PSD',
    );
    await expectCode(minimumVariance(tensor([1, 2, 3])), 'SHAPE_MISMATCH');
    await expectCode(maximumSharpe(cov, tensor([0.1, 0.2])), 'SHAPE_MISMATCH');
  });
});

describe('projectSimplex', () => {
  it('matches the closed form on small vectors and is batched', () => {
    expectClose(projectSimplex(tensor([0.5, 0.8, -0.2], { dtype: 'float64' })), [0.35, 0.65, 0], 1e-15);
    expectClose(projectSimplex(tensor([0.2, 0.3, 0.5], { dtype: 'float64' })), [0.2, 0.3, 0.5], 1e-15);
    const x = randn([50, 7], { dtype: 'float64' });
    const p = projectSimplex(x, { z: 2 });
    const rows = p.toArraySync() as number[][];
    const xs = x.toArraySync() as number[][];
    rows.forEach((r, k) => {
      expect(Math.abs(r.reduce((a, v) => a + v, 0) - 2)).toBeLessThanOrEqual(1e-12);
      // Optimality: p = max(x - θ, 0) with one θ per row.
      const thetas = r.map((v, i) => (v > 0 ? xs[k]![i]! - v : Number.NaN)).filter((t) => !Number.isNaN(t));
      for (const t of thetas) expect(Math.abs(t - thetas[0]!)).toBeLessThanOrEqual(1e-12);
      r.forEach((v, i) => {
        expect(v).toBeGreaterThanOrEqual(0);
        if (v === 0) expect(xs[k]![i]!).toBeLessThanOrEqual(thetas[0]! + 1e-12);
      });
    });
    expect(() => projectSimplex(tensor([1, 2]), { z: 0 })).toThrow(/z must be a positive/);
  });

  it('projected gradient with it reaches the exact long-only minimum variance', async () => {
    const cov = tensor(SEED_COV, { dtype: 'float64' });
    let w = tensor([0.33, 0.33, 0.34], { dtype: 'float64' });
    for (let k = 0; k < 3000; k++) w = projectSimplex(w.sub(w.matmul(cov).mul(2 * 2)));
    expectClose(w, fx.seed004.minVarLongOnly, 1e-9);
  });
});

describe('meanVarianceLayer (stretch)', () => {
  const cov = () => tensor(SEED_COV, { dtype: 'float64', requiresGrad: true });
  const mu = () => tensor(SEED_MU, { dtype: 'float64', requiresGrad: true });

  it('forward is the exact long-only solution', async () => {
    expectClose(meanVarianceLayer(tensor(SEED_COV, { dtype: 'float64' })), fx.seed004.minVarLongOnly, 1e-12);
    // γ = 2: asset 3 drops out; the held assets satisfy γ(Σw)_i - μ_i = const.
    const w = arr(
      meanVarianceLayer(tensor(SEED_COV, { dtype: 'float64' }), tensor(SEED_MU, { dtype: 'float64' }), {
        riskAversion: 2,
      }),
    );
    expect(w[2]).toBe(0);
    expect(Math.abs(w[0]! + w[1]! - 1)).toBeLessThanOrEqual(1e-15);
    const exact = await meanVariance(
      tensor(SEED_COV, { dtype: 'float64' }),
      tensor(SEED_MU, { dtype: 'float64' }),
      {
        targetReturn: w[0]! * SEED_MU[0]! + w[1]! * SEED_MU[1]!,
      },
    );
    expectClose(exact, w, 1e-9);
  });

  it('gradcheck in float64, interior and with an asset at zero', () => {
    for (const riskAversion of [0.5, 2, 8]) {
      expect(
        gradcheck((c, m) => meanVarianceLayer(c!, m!, { riskAversion }), [cov(), mu()], { atol: 1e-7 }),
      ).toBe(true);
    }
    expect(gradcheck((c) => meanVarianceLayer(c!), [cov()], { atol: 1e-7 })).toBe(true);
  });

  it('backpropagates through a downstream loss', () => {
    const m = mu();
    const w = meanVarianceLayer(tensor(SEED_COV, { dtype: 'float64' }), m, { riskAversion: 4 });
    expect(w.gradFn?.name).toBe('MeanVarianceLayerBackward0');
    w.mul(tensor([0.1, -0.2, 0.3], { dtype: 'float64' }))
      .sum()
      .backward();
    expect(m.grad?.shape).toEqual([3]);
    // The budget holds for every perturbation, so the gradient of Σw is zero.
    const m2 = mu();
    meanVarianceLayer(tensor(SEED_COV, { dtype: 'float64' }), m2, { riskAversion: 4 })
      .sum()
      .backward();
    expectClose(m2.grad!, [0, 0, 0], 1e-12);
  });
});
