import { readFileSync } from 'node:fs';
import { grad, gradcheck } from '@gradfolio/autograd';
import { full, GradfolioError, randn, type Tensor, tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import {
  asymmetricPnLLoss,
  cvar,
  maxDrawdownLoss,
  meanVarianceUtility,
  negativeSharpeRatio,
  sharpeLoss,
  sortinoLoss,
  turnoverPenalty,
} from '../src/losses.js';

// Reference values and gradients from PyTorch 1.13 in float64 (fixtures/gen_losses.py).

interface Case {
  options: Record<string, unknown>;
  inputs: Array<{ shape: number[]; data: number[] }>;
  value: number;
  grads: number[][];
}

const fixture = JSON.parse(readFileSync(new URL('../fixtures/losses.json', import.meta.url), 'utf8')) as {
  cases: Record<string, Case>;
};

type LossFn = (...xs: Tensor[]) => Tensor;

const calls: Record<string, (o: any) => LossFn> = {
  nsrSeed: () => (r) => negativeSharpeRatio(r),
  nsrOptions: (o) => (r) => negativeSharpeRatio(r, o),
  sharpeSeed: () => (y, w) => sharpeLoss(y, w!),
  sharpeCosts: (o) => (y, w) => sharpeLoss(y, w!, o),
  sortino: (o) => (r) => sortinoLoss(r, o),
  mvuWeights: (o) => (r, w) => meanVarianceUtility(r, w, o),
  mvuUnbiased: (o) => (r) => meanVarianceUtility(r, undefined, o),
  mddExact: (o) => (r) => maxDrawdownLoss(r, o),
  mddSmooth: (o) => (r) => maxDrawdownLoss(r, o),
  mddEquity: (o) => (r) => maxDrawdownLoss(r, o),
  mddEquitySmooth: (o) => (r) => maxDrawdownLoss(r, o),
  cvarFrac: (o) => (r) => cvar(r, o),
  cvarInt: (o) => (r) => cvar(r, o),
  turnover: (o) => (w) => turnoverPenalty(w, o),
  turnoverRaw: (o) => (w) => turnoverPenalty(w, o),
  asym: (o) => (p) => asymmetricPnLLoss(p, o),
  asymPow: (o) => (p) => asymmetricPnLLoss(p, o),
};

function vals(t: Tensor): number[] {
  return Array.from(t.dataSync() as ArrayLike<number>, Number);
}

function inputsOf(c: Case): Tensor[] {
  return c.inputs.map((x) => tensor(x.data, { dtype: 'float64' }).reshape(x.shape).requiresGrad_(true));
}

function expectClose(got: number, want: number, tol = 1e-10): void {
  if (!(Math.abs(got - want) <= tol * Math.max(1, Math.abs(want)))) {
    expect.fail(`got ${got}, expected ${want} (tol ${tol})`);
  }
}

function expectAllFinite(ts: readonly (Tensor | undefined)[]): void {
  for (const t of ts) {
    expect(t).toBeDefined();
    for (const v of vals(t!)) expect(Number.isFinite(v)).toBe(true);
  }
}

describe('losses: PyTorch 1.13 fixtures (values and gradients within 1e-10)', () => {
  it('covers every fixture case', () => {
    expect(Object.keys(fixture.cases).sort()).toEqual(Object.keys(calls).sort());
  });
  for (const [name, c] of Object.entries(fixture.cases)) {
    it(name, () => {
      const make = calls[name];
      if (make === undefined) throw new Error(`no call for fixture case ${name}`);
      const fn = make(c.options);
      const xs = inputsOf(c);
      const loss = fn(...xs);
      expect(loss.shape).toEqual([]);
      expectClose(loss.itemSync() as number, c.value);
      const gs = grad(loss, xs);
      gs.forEach((g, i) => {
        const want = c.grads[i]!;
        const got = vals(g!);
        expect(got.length).toBe(want.length);
        got.forEach((v, k) => {
          expectClose(v, want[k]!);
        });
      });
    });
  }
});

describe('losses: gradcheck (float64)', () => {
  for (const [name, c] of Object.entries(fixture.cases)) {
    it(name, () => {
      const fn = calls[name]!(c.options);
      expect(gradcheck(fn, inputsOf(c), { atol: 1e-6, rtol: 1e-4 })).toBe(true);
    });
  }
});

describe('losses: seed cells', () => {
  it('seed 001 custom_trading_loss: pnl 4 -> 0.2 (grad 0.05), pnl -3 -> 9 (grad -6)', () => {
    const p1 = tensor([4], { dtype: 'float64' }).requiresGrad_(true);
    const y1 = asymmetricPnLLoss(p1);
    expect(y1.itemSync()).toBeCloseTo(0.2, 15);
    expect(vals(grad(y1, [p1])[0]!)).toEqual([0.05]);
    const p2 = tensor([-3], { dtype: 'float64' }).requiresGrad_(true);
    const y2 = asymmetricPnLLoss(p2);
    expect(y2.itemSync()).toBe(9);
    expect(vals(grad(y2, [p2])[0]!)).toEqual([-6]);
  });

  it('asymmetricPnLLoss is 0 with gradient 0 at pnl == 0, elementwise with reduction none', () => {
    const p = tensor([0, 2, -1], { dtype: 'float64' }).requiresGrad_(true);
    const l = asymmetricPnLLoss(p, { reduction: 'none' });
    expect(vals(l)).toEqual([0, 0.1, 1]);
    expect(vals(grad(l.sum(), [p])[0]!)).toEqual([0, 0.05, -2]);
  });

  it('seed 000 shapes: negativeSharpeRatio on [16, 5] and sharpeLoss on [64, 50, 4] x [64, 4] are scalars', () => {
    expect(negativeSharpeRatio(randn([16, 5])).shape).toEqual([]);
    const w = randn([64, 4], { requiresGrad: true });
    const l = sharpeLoss(randn([64, 50, 4]), w.softmax(-1));
    expect(l.shape).toEqual([]);
    expect(grad(l, [w])[0]!.shape).toEqual([64, 4]);
  });
});

describe('losses: constant returns (zero volatility) give finite values and gradients', () => {
  const c = 0.01;
  const constant = (shape: number[]) => full(shape, c, { dtype: 'float64' }).requiresGrad_(true);

  it('negativeSharpeRatio: Sharpe of a constant series is mean / epsilon', () => {
    const r = constant([3, 8]);
    const loss = negativeSharpeRatio(r);
    expectClose(loss.itemSync() as number, -c / 1e-8);
    const g = grad(loss, [r]);
    expectAllFinite(g);
    // d/dr of mean/(std + eps) with d std = 0: 1 / (T * eps), averaged over 3 rows and negated
    expectClose(vals(g[0]!)[0]!, -1 / (8 * 1e-8 * 3));
    const l0 = negativeSharpeRatio(r, { epsilon: 0 });
    expect(Math.abs(l0.itemSync() as number)).toBe(0);
    expectAllFinite(grad(l0, [r]));
  });

  it('sharpeLoss: a constant portfolio has Sharpe 0 with the seed default epsilon 0', () => {
    // dyadic values, so the portfolio returns are exactly constant and their std exactly 0
    const y = full([2, 6, 3], 0.25, { dtype: 'float64' }).requiresGrad_(true);
    const w = tensor([0.25, 0.25, 0.5, 0.5, 0.25, 0.25], { dtype: 'float64' })
      .reshape([2, 3])
      .requiresGrad_(true);
    const loss = sharpeLoss(y, w);
    expect(Math.abs(loss.itemSync() as number)).toBe(0);
    expectAllFinite(grad(loss, [y, w]));
    // near-zero (rounding-level) volatility: epsilon > 0 keeps values and gradients finite
    const y2 = constant([2, 6, 3]);
    const w2 = tensor([0.2, 0.3, 0.5, 0.6, 0.2, 0.2], { dtype: 'float64' })
      .reshape([2, 3])
      .requiresGrad_(true);
    const le = sharpeLoss(y2, w2, { epsilon: 1e-8, periodsPerYear: 252 });
    expectAllFinite([le, ...grad(le, [y2, w2])]);
    const wt = full([2, 6, 3], 1 / 3, { dtype: 'float64' }).requiresGrad_(true);
    const lc = sharpeLoss(y2, wt, { costBps: 5, turnoverWeight: 0.1, epsilon: 1e-8 });
    expectAllFinite([lc, ...grad(lc, [y2, wt])]);
  });

  it('sortino, mean-variance, drawdown, CVaR, turnover', () => {
    const r = constant([2, 10]);
    const e = full([2, 10], 1, { dtype: 'float64' }).requiresGrad_(true);
    const w = constant([2, 5, 3]);
    const cases: Array<[Tensor, Tensor]> = [
      [sortinoLoss(r), r],
      [sortinoLoss(r, { epsilon: 0 }), r],
      [sortinoLoss(r, { target: c }), r],
      [meanVarianceUtility(r), r],
      [maxDrawdownLoss(r), r],
      [maxDrawdownLoss(r, { smooth: 0.01 }), r],
      [maxDrawdownLoss(e, { input: 'equity' }), e],
      [maxDrawdownLoss(e, { input: 'equity', smooth: 0.01 }), e],
      [cvar(r, { alpha: 0.1 }), r],
      [turnoverPenalty(w, { costBps: 10 }), w],
    ];
    for (const [l, x] of cases) expectAllFinite([l, ...grad(l, [x])]);
    expectClose(sortinoLoss(r).itemSync() as number, -c / 1e-8);
    expect(maxDrawdownLoss(r).itemSync()).toBe(0);
    expectClose(cvar(r, { alpha: 0.1 }).itemSync() as number, -c);
    expect(turnoverPenalty(constant([2, 5, 3])).itemSync()).toBe(0);
  });
});

describe('losses: behaviour', () => {
  it('smooth drawdown tends to the exact one as the temperature falls', () => {
    const r = randn([3, 20], { dtype: 'float64' }).mul(0.03);
    const exact = maxDrawdownLoss(r).itemSync() as number;
    const soft = maxDrawdownLoss(r, { smooth: 1e-4 }).itemSync() as number;
    expect(soft).toBeGreaterThanOrEqual(exact - 1e-12);
    expect(soft - exact).toBeLessThan(1e-3);
  });

  it('cvar with alpha 1 is the mean loss', () => {
    const r = randn([4, 9], { dtype: 'float64' });
    expectClose(cvar(r, { alpha: 1 }).itemSync() as number, -(r.mean().itemSync() as number), 1e-12);
  });

  it('sharpeLoss pooled: false is negativeSharpeRatio of the portfolio returns', () => {
    const y = randn([3, 7, 2], { dtype: 'float64' });
    const w = randn([3, 2], { dtype: 'float64' });
    const p = y.mul(w.unsqueeze(1)).sum(2);
    expectClose(
      sharpeLoss(y, w, { pooled: false }).itemSync() as number,
      negativeSharpeRatio(p, { epsilon: 0, unbiased: true }).itemSync() as number,
      1e-12,
    );
  });

  it('rejects bad inputs with literal codes', () => {
    const code = (fn: () => unknown): string => {
      try {
        fn();
      } catch (e) {
        if (GradfolioError.isInstance(e)) return String(e.code);
        throw e;
      }
      throw new Error('nothing thrown');
    };
    const r = randn([2, 5]);
    expect(code(() => cvar(r, { alpha: 0 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => sharpeLoss(randn([2, 5, 3]), randn([2, 4])))).toBe('SHAPE_MISMATCH');
    expect(code(() => sharpeLoss(randn([2, 5, 3]), randn([2, 3]), { costBps: 10 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => negativeSharpeRatio(r, { dim: 2 }))).toBe('INDEX_OUT_OF_RANGE');
    expect(code(() => turnoverPenalty(randn([5])))).toBe('SHAPE_MISMATCH');
    expect(code(() => maxDrawdownLoss(r, { smooth: -1 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => negativeSharpeRatio(tensor([1, 2], { dtype: 'int32' })))).toBe('DTYPE_MISMATCH');
  });
});
