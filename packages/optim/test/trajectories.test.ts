import { readFileSync } from 'node:fs';
import { GradfolioError, type Tensor, tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import { Adagrad } from '../src/adagrad.js';
import { Adam } from '../src/adam.js';
import { AdamW } from '../src/adamw.js';
import { NAdam } from '../src/nadam.js';
import type { Optimizer, OptimizerStateDict } from '../src/optimizer.js';
import { RAdam } from '../src/radam.js';
import { RMSprop } from '../src/rmsprop.js';
import { SGD } from '../src/sgd.js';

// Reference trajectories from PyTorch 1.13 (fixtures/gen_optim.py), replayed in float64.

interface Case {
  name: string;
  optimizer: string;
  options: Record<string, unknown>;
  groups?: Array<Record<string, unknown> & { params: number[] }>;
  problem: 'rosenbrock' | 'mlp';
  init: Array<{ shape: number[]; data: number[] }>;
  trace: Array<{ step: number; loss: number; params: number[][] }>;
}

interface Fixture {
  torch: string;
  steps: number;
  mlp: { x: number[][]; y: number[][] };
  cases: Case[];
}

const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/optim.json', import.meta.url), 'utf8'),
) as Fixture;

type GroupInput = Record<string, unknown> & { params: Iterable<Tensor> };
type Ctor = new (
  params: Iterable<Tensor> | ReadonlyArray<GroupInput>,
  options?: Record<string, unknown>,
) => Optimizer<object>;

const OPTIMIZERS: Record<string, Ctor> = {
  SGD: SGD as unknown as Ctor,
  Adam: Adam as unknown as Ctor,
  AdamW: AdamW as unknown as Ctor,
  RMSprop: RMSprop as unknown as Ctor,
  Adagrad: Adagrad as unknown as Ctor,
  NAdam: NAdam as unknown as Ctor,
  RAdam: RAdam as unknown as Ctor,
};

const X = tensor(fixture.mlp.x, { dtype: 'float64' });
const Y = tensor(fixture.mlp.y, { dtype: 'float64' });

function lossOf(problem: Case['problem'], params: Tensor[]): Tensor {
  if (problem === 'rosenbrock') {
    const p = params[0]!;
    const x = p.select(0, 0);
    const y = p.select(0, 1);
    return x
      .neg()
      .add(1)
      .square()
      .add(y.sub(x.mul(x)).square().mul(100));
  }
  const [w1, b1, w2, b2] = params as [Tensor, Tensor, Tensor, Tensor];
  const h = X.matmul(w1.transpose(0, 1)).add(b1).tanh();
  return h.matmul(w2.transpose(0, 1)).add(b2).sub(Y).square().mean();
}

function initParams(c: Case): Tensor[] {
  return c.init.map((p) => tensor(p.data, { dtype: 'float64' }).reshape(p.shape).clone().requiresGrad_(true));
}

function copyParams(params: Tensor[]): Tensor[] {
  return params.map((p) => p.detach().clone().requiresGrad_(true));
}

function makeOptimizer(c: Case, params: Tensor[]): Optimizer<object> {
  const Ctor = OPTIMIZERS[c.optimizer]!;
  if (c.groups === undefined) return new Ctor(params, c.options);
  return new Ctor(
    c.groups.map((g) => ({ ...g, params: g.params.map((i) => params[i]!) })),
    c.options,
  );
}

function flat(params: Tensor[]): number[][] {
  return params.map((p) => Array.from(p.dataSync() as Float64Array));
}

function maxRelErr(actual: number[], expected: number[]): number {
  let worst = 0;
  for (const [i, b] of expected.entries()) {
    const a = actual[i]!;
    const err = Math.abs(a - b) / Math.max(1, Math.abs(b));
    worst = Number.isNaN(err) ? Number.POSITIVE_INFINITY : Math.max(worst, err);
  }
  return worst;
}

/** Runs steps `from+1..to`, returning each step's loss (before the step) and parameters (after it). */
function train(c: Case, opt: Optimizer<object>, params: Tensor[], from: number, to: number) {
  const out: Array<{ loss: number; params: number[][] }> = [];
  for (let k = from + 1; k <= to; k++) {
    opt.zeroGrad();
    const loss = lossOf(c.problem, params);
    loss.backward();
    opt.step();
    out.push({ loss: loss.itemSync() as number, params: flat(params) });
  }
  return out;
}

function expectMatchesTorch(c: Case, got: Array<{ loss: number; params: number[][] }>, from = 0) {
  for (const [i, step] of got.entries()) {
    const want = c.trace[from + i]!;
    const lossErr = maxRelErr([step.loss], [want.loss]);
    expect(lossErr, `${c.name}: loss before step ${want.step}`).toBeLessThanOrEqual(1e-6);
    for (const [j, p] of step.params.entries()) {
      const err = maxRelErr(p, want.params[j]!);
      expect(err, `${c.name}: parameter ${j} after step ${want.step}`).toBeLessThanOrEqual(1e-6);
    }
  }
}

const STATE_KEYS: Record<string, (c: Case) => string[]> = {
  SGD: (c) => (c.options.momentum ? ['momentum_buffer'] : []),
  Adam: (c) => ['step', 'exp_avg', 'exp_avg_sq', ...(c.options.amsgrad ? ['max_exp_avg_sq'] : [])],
  AdamW: (c) => ['step', 'exp_avg', 'exp_avg_sq', ...(c.options.amsgrad ? ['max_exp_avg_sq'] : [])],
  RMSprop: (c) => [
    'step',
    'square_avg',
    ...(c.options.momentum ? ['momentum_buffer'] : []),
    ...(c.options.centered ? ['grad_avg'] : []),
  ],
  Adagrad: () => ['step', 'sum'],
  NAdam: () => ['step', 'mu_product', 'exp_avg', 'exp_avg_sq'],
  RAdam: () => ['step', 'exp_avg', 'exp_avg_sq'],
};

describe('trajectories match PyTorch 1.13 (float64, 50 steps)', () => {
  it('has fixtures for every optimizer', () => {
    expect(fixture.steps).toBe(50);
    expect(new Set(fixture.cases.map((c) => c.optimizer))).toEqual(new Set(Object.keys(OPTIMIZERS)));
  });

  for (const c of fixture.cases) {
    it(c.name, () => {
      const params = initParams(c);
      const opt = makeOptimizer(c, params);
      expectMatchesTorch(c, train(c, opt, params, 0, fixture.steps));
    });
  }
});

describe('state dict round trip at step 25 resumes exactly', () => {
  for (const c of fixture.cases) {
    it(c.name, () => {
      const half = 25;
      const params = initParams(c);
      const opt = makeOptimizer(c, params);
      train(c, opt, params, 0, half);
      const saved: OptimizerStateDict = opt.stateDict();
      // state keys and step counts as PyTorch names them
      if (c.groups === undefined) {
        const s0 = saved.state[0];
        const keys = STATE_KEYS[c.optimizer]!(c);
        if (keys.length === 0) expect(s0).toBeUndefined();
        else expect(Object.keys(s0!).sort()).toEqual([...keys].sort());
        if (keys.includes('step')) expect(s0!.step).toBe(half);
      }
      // copies of the parameters at step 25; opt keeps training (the saved dict must be a copy)
      const resumed = copyParams(params);
      const uninterrupted = train(c, opt, params, half, fixture.steps);
      const opt2 = makeOptimizer(c, resumed);
      opt2.loadStateDict(saved);
      expect(opt2.paramGroups.map((g) => g.params.length)).toEqual(
        opt.paramGroups.map((g) => g.params.length),
      );
      const continued = train(c, opt2, resumed, half, fixture.steps);
      expect(continued.map((s) => s.params)).toEqual(uninterrupted.map((s) => s.params));
      expect(continued.map((s) => s.loss)).toEqual(uninterrupted.map((s) => s.loss));
      expectMatchesTorch(c, continued, half);
    });
  }
});

describe('param groups', () => {
  it('keep their own options and fall back to the defaults', () => {
    const a = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const b = tensor([3], { dtype: 'float64', requiresGrad: true });
    for (const [name, Ctor] of Object.entries(OPTIMIZERS)) {
      const opt = new Ctor([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
      expect(
        opt.paramGroups.map((g) => (g as { lr?: number }).lr),
        name,
      ).toEqual([0.1, 0.5]);
      const sd = opt.stateDict();
      expect(
        sd.paramGroups.map((g) => [g.lr, g.params]),
        name,
      ).toEqual([
        [0.1, [0]],
        [0.5, [1]],
      ]);
    }
  });

  it('different learning rates move parameters by different amounts (SGD)', () => {
    const a = tensor([1], { dtype: 'float64', requiresGrad: true });
    const b = tensor([1], { dtype: 'float64', requiresGrad: true });
    const opt = new SGD([{ params: [a] }, { params: [b], lr: 0.3 }], { lr: 0.1 });
    a.add(b).sum().backward();
    opt.step();
    expect(a.itemSync()).toBeCloseTo(0.9, 12);
    expect(b.itemSync()).toBeCloseTo(0.7, 12);
  });

  it('a group added later gets Adagrad state at once', () => {
    const a = tensor([1], { dtype: 'float64', requiresGrad: true });
    const b = tensor([1, 2], { dtype: 'float64', requiresGrad: true });
    const opt = new Adagrad([a], { initialAccumulatorValue: 0.5 });
    opt.addParamGroup({ params: [b], initialAccumulatorValue: 0.25 });
    const sd = opt.stateDict();
    expect(Object.keys(sd.state)).toEqual(['0', '1']);
    expect(sd.state[1]!.step).toBe(0);
    expect(Array.from((sd.state[1]!.sum as Tensor).dataSync())).toEqual([0.25, 0.25]);
  });
});

describe('zeroGrad', () => {
  for (const [name, Ctor] of Object.entries(OPTIMIZERS)) {
    it(`${name}: drops gradients by default, zeroes them with setToNone: false`, () => {
      const w = tensor([1, -2], { dtype: 'float64', requiresGrad: true });
      const opt = new Ctor([w]);
      w.mul(w).sum().backward();
      expect(Array.from(w.grad!.dataSync())).toEqual([2, -4]);
      opt.zeroGrad({ setToNone: false });
      expect(Array.from(w.grad!.dataSync())).toEqual([0, 0]);
      opt.zeroGrad();
      expect(w.grad).toBeUndefined();
      // a step without gradients leaves the parameter alone
      opt.step();
      expect(Array.from(w.dataSync())).toEqual([1, -2]);
    });
  }
});

describe('validation errors (PyTorch wording)', () => {
  const adamLike = (name: string): Array<[string, Record<string, unknown>, string]> => [
    [name, { lr: -1 }, `${name}: Invalid learning rate: -1`],
    [name, { eps: -1e-8 }, `${name}: Invalid epsilon value: -1e-8`],
    [name, { betas: [1, 0.999] }, `${name}: Invalid beta parameter at index 0: 1`],
    [name, { betas: [-0.1, 0.999] }, `${name}: Invalid beta parameter at index 0: -0.1`],
    [name, { betas: [0.9, 1] }, `${name}: Invalid beta parameter at index 1: 1`],
    [name, { betas: [0.9, -0.5] }, `${name}: Invalid beta parameter at index 1: -0.5`],
    [name, { weightDecay: -0.1 }, `${name}: Invalid weight_decay value: -0.1`],
  ];
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['SGD', { lr: -1 }, 'SGD: Invalid learning rate: -1'],
    ['SGD', { momentum: -0.5 }, 'SGD: Invalid momentum value: -0.5'],
    ['SGD', { weightDecay: -1 }, 'SGD: Invalid weight_decay value: -1'],
    ...adamLike('Adam'),
    ...adamLike('AdamW'),
    ...adamLike('NAdam'),
    ['NAdam', { momentumDecay: -1 }, 'NAdam: Invalid momentum_decay value: -1'],
    ...adamLike('RAdam'),
    ['RMSprop', { lr: -0.01 }, 'RMSprop: Invalid learning rate: -0.01'],
    ['RMSprop', { eps: -1 }, 'RMSprop: Invalid epsilon value: -1'],
    ['RMSprop', { momentum: -1 }, 'RMSprop: Invalid momentum value: -1'],
    ['RMSprop', { weightDecay: -1 }, 'RMSprop: Invalid weight_decay value: -1'],
    ['RMSprop', { alpha: -0.5 }, 'RMSprop: Invalid alpha value: -0.5'],
    ['Adagrad', { lr: -1 }, 'Adagrad: Invalid learning rate: -1'],
    ['Adagrad', { lrDecay: -1 }, 'Adagrad: Invalid lr_decay value: -1'],
    ['Adagrad', { weightDecay: -1 }, 'Adagrad: Invalid weight_decay value: -1'],
    ['Adagrad', { initialAccumulatorValue: -1 }, 'Adagrad: Invalid initial_accumulator_value value: -1'],
    ['Adagrad', { eps: -1 }, 'Adagrad: Invalid epsilon value: -1'],
  ];

  for (const [name, options, message] of cases) {
    it(`${name} ${JSON.stringify(options)}`, () => {
      const w = tensor([1], { dtype: 'float64', requiresGrad: true });
      const Ctor = OPTIMIZERS[name]!;
      let err: unknown;
      try {
        new Ctor([w], options);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(GradfolioError);
      expect((err as GradfolioError).code).toBe('INVALID_ARGUMENT');
      expect((err as GradfolioError).message).toContain(message);
      // the same check applies to a group's own options
      expect(() => new Ctor([{ params: [w], ...options }])).toThrow(message);
    });
  }

  it('NaN learning rates are rejected', () => {
    const w = tensor([1], { dtype: 'float64', requiresGrad: true });
    for (const [name, Ctor] of Object.entries(OPTIMIZERS)) {
      expect(() => new Ctor([w], { lr: Number.NaN }), name).toThrow(`${name}: Invalid learning rate: NaN`);
    }
  });

  it('SGD: Nesterov needs momentum and zero dampening', () => {
    const w = tensor([1], { dtype: 'float64', requiresGrad: true });
    expect(() => new SGD([w], { nesterov: true })).toThrow('Nesterov momentum requires');
    expect(() => new SGD([w], { nesterov: true, momentum: 0.9, dampening: 0.1 })).toThrow(
      'Nesterov momentum requires',
    );
  });

  it('empty parameter lists are rejected', () => {
    for (const [name, Ctor] of Object.entries(OPTIMIZERS)) {
      expect(() => new Ctor([]), name).toThrow('optimizer got an empty parameter list');
    }
  });
});

describe('float32 parameters', () => {
  for (const [name, Ctor] of Object.entries(OPTIMIZERS)) {
    it(`${name}: state and parameters stay float32`, () => {
      const w = tensor([1.5, -0.5], { requiresGrad: true });
      const opt = new Ctor([w], name === 'SGD' ? { momentum: 0.9 } : {});
      for (let i = 0; i < 3; i++) {
        opt.zeroGrad();
        w.mul(w).sum().backward();
        opt.step();
      }
      expect(w.dtype).toBe('float32');
      for (const v of Object.values(opt.stateDict().state[0] ?? {})) {
        if (typeof v === 'object' && v !== null && 'dtype' in v) expect(v.dtype).toBe('float32');
      }
      const values = Array.from(w.dataSync());
      expect(values.every(Number.isFinite)).toBe(true);
      expect(Math.abs(values[0]!)).toBeLessThan(1.5);
    });
  }
});
