/**
 * LBFGS against PyTorch 1.13 (fixtures/lbfgs.json, written by fixtures/gen_lbfgs.py): Rosenbrock and a
 * small MLP in float64, with and without the strong-Wolfe line search, replayed step by step with
 * `stepSync` and with the async `step`, plus a state-dict round trip in the middle of a run and the
 * error cases.
 */
import { readFileSync } from 'node:fs';
import { isGradEnabled, noGrad } from '@gradfolio/autograd';
import { GradfolioError, type Tensor, tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { LBFGS, type LBFGSOptions } from '../src/lbfgs.js';

interface Step {
  readonly loss: number;
  readonly nIter: number;
  readonly funcEvals: number;
  readonly params: readonly (readonly number[])[];
}

interface Case {
  readonly id: string;
  readonly problem: 'rosenbrock' | 'mlp';
  readonly unused: boolean;
  readonly options: Partial<LBFGSOptions>;
  readonly init: readonly { readonly shape: readonly number[]; readonly data: readonly number[] }[];
  readonly batch: { readonly x: number[][]; readonly y: number[][] } | null;
  readonly steps: readonly Step[];
}

const cases = JSON.parse(readFileSync(new URL('../fixtures/lbfgs.json', import.meta.url), 'utf8')) as Case[];

function makeParams(c: Case): Tensor[] {
  return c.init.map((p) =>
    tensor([...p.data], { dtype: 'float64' })
      .reshape([...p.shape])
      .clone()
      .requiresGrad_(),
  );
}

function lossFn(c: Case, params: readonly Tensor[]): () => Tensor {
  if (c.problem === 'rosenbrock') {
    const x = params[0]!;
    return () => {
      const x0 = x.select(0, 0);
      const x1 = x.select(0, 1);
      return x0.neg().add(1).square().add(x1.sub(x0.square()).square().mul(100));
    };
  }
  const [w1, b1, w2, b2] = params as [Tensor, Tensor, Tensor, Tensor];
  const x = tensor(c.batch!.x, { dtype: 'float64' });
  const y = tensor(c.batch!.y, { dtype: 'float64' });
  return () => {
    const h = x.matmul(w1.transpose(0, 1)).add(b1).tanh();
    const out = h.matmul(w2.transpose(0, 1)).add(b2);
    return out.sub(y).square().mean();
  };
}

/**
 * `|actual - expected| <= 1e-6 * max(|expected|, scale)`. Parameters use the largest magnitude of
 * their tensor as `scale`: after ~100 iterations the slow tail of `mlp/strong_wolfe` amplifies
 * rounding (in PyTorch itself, changing one initial weight by one ulp moves the parameters by up to
 * 1.4e-7 after step 5), so tiny entries can only match to about 1e-7 of their tensor's scale.
 */
function expectClose(actual: number, expected: number, what: string, scale = 0): void {
  const tol = 1e-6 * Math.max(Math.abs(expected), scale) + 1e-12;
  if (!(Math.abs(actual - expected) <= tol)) {
    expect.fail(`${what}: got ${actual}, PyTorch ${expected} (diff ${Math.abs(actual - expected)})`);
  }
}

function checkStep(c: Case, k: number, opt: LBFGS, params: readonly Tensor[], loss: Tensor): void {
  const ref = c.steps[k]!;
  const where = `${c.id} step ${k + 1}`;
  expectClose(Number(loss.itemSync()), ref.loss, `${where} loss`);
  const state = opt.state.get(params[0]!)!;
  expect(state.n_iter, `${where} n_iter`).toBe(ref.nIter);
  expect(state.func_evals, `${where} func_evals`).toBe(ref.funcEvals);
  params.forEach((p, i) => {
    const got = p.dataSync();
    const want = ref.params[i]!;
    expect(got.length).toBe(want.length);
    const scale = Math.max(...want.map(Math.abs));
    want.forEach((v, j) => {
      expectClose(Number(got[j]), v, `${where} param ${i}[${j}]`, scale);
    });
  });
}

describe('LBFGS matches torch.optim.LBFGS (float64)', () => {
  it('has fixtures', () => {
    expect(cases.length).toBeGreaterThanOrEqual(8);
  });

  for (const c of cases) {
    it(`${c.id}: stepSync`, () => {
      const params = makeParams(c);
      const f = lossFn(c, params);
      const opt = new LBFGS(params, c.options);
      const closure = (): Tensor => {
        opt.zeroGrad();
        const l = f();
        l.backward();
        return l;
      };
      c.steps.forEach((_, k) => {
        checkStep(c, k, opt, params, opt.stepSync(closure));
      });
    });

    it(`${c.id}: async step (async closure)`, async () => {
      const params = makeParams(c);
      const f = lossFn(c, params);
      const opt = new LBFGS(params, c.options);
      const closure = async (): Promise<Tensor> => {
        await Promise.resolve();
        opt.zeroGrad();
        const l = f();
        l.backward();
        return l;
      };
      for (let k = 0; k < c.steps.length; k++) checkStep(c, k, opt, params, await opt.step(closure));
    });

    it(`${c.id}: state dict round trip halfway`, () => {
      const params = makeParams(c);
      const f = lossFn(c, params);
      let opt = new LBFGS(params, c.options);
      const closure = (): Tensor => {
        opt.zeroGrad();
        const l = f();
        l.backward();
        return l;
      };
      const half = Math.floor(c.steps.length / 2);
      c.steps.forEach((_, k) => {
        if (k === half) {
          const saved = opt.stateDict();
          opt = new LBFGS(params, { lr: 123 });
          opt.loadStateDict(saved);
        }
        checkStep(c, k, opt, params, opt.stepSync(closure));
      });
    });
  }
});

describe('LBFGS', () => {
  const rosen = cases.find((c) => c.id === 'rosenbrock/strong_wolfe')!;

  it('throws a clear INVALID_ARGUMENT error without a closure', async () => {
    const opt = new LBFGS(makeParams(rosen));
    for (const call of [() => opt.step(), () => opt.stepSync()]) {
      try {
        call();
        expect.fail('expected an error');
      } catch (e) {
        expect(e).toBeInstanceOf(GradfolioError);
        expect((e as GradfolioError).code).toBe('INVALID_ARGUMENT');
        expect((e as Error).message).toMatch(/needs a closure/);
      }
    }
    expect(opt.state.size).toBe(0);
  });

  it("rejects a second parameter group with PyTorch's message", () => {
    const [a, b] = [tensor([1], { requiresGrad: true }), tensor([2], { requiresGrad: true })] as const;
    expect(() => new LBFGS([{ params: [a] }, { params: [b], lr: 0.1 }])).toThrow(
      /LBFGS doesn't support per-parameter options \(parameter groups\)/,
    );
    const opt = new LBFGS([{ params: [a] }]);
    expect(() => opt.addParamGroup({ params: [b] })).toThrow(GradfolioError);
    expect(opt.paramGroups.length).toBe(1);
  });

  it('defaults as PyTorch (maxEval = maxIter * 5 // 4) and validates its options', () => {
    const w = tensor([1], { requiresGrad: true });
    expect(new LBFGS([w]).defaults).toEqual({
      lr: 1,
      maxIter: 20,
      maxEval: 25,
      toleranceGrad: 1e-7,
      toleranceChange: 1e-9,
      historySize: 100,
      lineSearchFn: undefined,
    });
    expect(new LBFGS([w], { maxIter: 7 }).defaults.maxEval).toBe(8);
    expect(() => new LBFGS([w], { lineSearchFn: 'backtracking' as unknown as 'strong_wolfe' })).toThrow(
      /only 'strong_wolfe' is supported/,
    );
    expect(() => new LBFGS([w], { historySize: 0 })).toThrow(/Invalid history_size value: 0/);
  });

  it('calls the closure with grad mode on, even inside noGrad', () => {
    const params = makeParams(rosen);
    const f = lossFn(rosen, params);
    const opt = new LBFGS(params, rosen.options);
    const modes: boolean[] = [];
    const loss = noGrad(() =>
      opt.stepSync(() => {
        modes.push(isGradEnabled());
        opt.zeroGrad();
        const l = f();
        l.backward();
        return l;
      }),
    );
    expect(modes.length).toBe(rosen.steps[0]!.funcEvals);
    expect(modes.every((m) => m)).toBe(true);
    expectClose(Number(loss.itemSync()), rosen.steps[0]!.loss, 'loss');
    expect(params[0]!.requiresGrad).toBe(true);
    expect(params[0]!.isLeaf).toBe(true);
  });

  it('returns at once when the gradient is already below toleranceGrad', () => {
    const w = tensor([0, 0], { dtype: 'float64', requiresGrad: true });
    const opt = new LBFGS([w]);
    let calls = 0;
    const loss = opt.stepSync(() => {
      calls++;
      opt.zeroGrad();
      const l = w.square().sum();
      l.backward();
      return l;
    });
    expect(calls).toBe(1);
    expect(loss.itemSync()).toBe(0);
    expect(opt.state.get(w)).toEqual({ func_evals: 1, n_iter: 0 });
  });
});
