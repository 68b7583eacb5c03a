/**
 * Learning-rate schedulers against PyTorch 1.13 (fixtures/schedulers.json, written by
 * fixtures/gen_schedulers.py): every recorded learning rate (and OneCycleLR's momentum) within 1e-12
 * relative, the state-dict round trip through JSON, and every error PyTorch raises for bad arguments.
 */
import { readFileSync } from 'node:fs';
import { GradfolioError, tensor } from '@gradfolio/tensor';
import { describe, expect, it } from 'vitest';
import {
  CosineAnnealingLR,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  type LRScheduler,
  type LRSchedulerStateDict,
  type LrLambda,
  MultiStepLR,
  OneCycleLR,
  ReduceLROnPlateau,
  type ReduceLROnPlateauStateDict,
  type SchedulableOptimizer,
  SequentialLR,
  StepLR,
} from '../src/lr-scheduler.js';
import { SGD } from '../src/sgd.js';

interface SubSpec {
  kind: string;
  options: Record<string, unknown>;
}

interface Case {
  name: string;
  kind: string;
  optimizer: 'SGD' | 'Adam';
  groups: Array<{ lr: number; [k: string]: unknown }>;
  options: Record<string, unknown>;
  steps: number;
  resumeAt: number;
  lrs: number[][];
  momenta?: number[][];
  metrics?: number[];
}

const fixtures = JSON.parse(
  readFileSync(new URL('../fixtures/schedulers.json', import.meta.url), 'utf8'),
) as { cases: Case[] };

const LAMBDAS: Record<string, LrLambda> = {
  exp095: (e) => 0.95 ** e,
  step3: (e) => 0.5 ** Math.floor(e / 3),
  warmup10: (e) => Math.min(1, (e + 1) / 10),
};

/** An SGD over dummy parameters, or a stand-in for Adam (groups with `betas`, no defaults). */
function makeOptimizer(c: Case): SchedulableOptimizer & { stateDict?: () => unknown } {
  if (c.optimizer === 'Adam') {
    return { paramGroups: c.groups.map((g) => ({ ...g, betas: [...(g.betas as number[])] })) };
  }
  return new SGD(
    c.groups.map((g) => ({ params: [tensor([0], { requiresGrad: true })], ...g })),
    { lr: 1e-3 },
  );
}

type AnyScheduler = LRScheduler | ReduceLROnPlateau;

function makeScheduler(kind: string, opt: SchedulableOptimizer, o: Record<string, unknown>): AnyScheduler {
  const options = o as any;
  switch (kind) {
    case 'StepLR':
      return new StepLR(opt, options);
    case 'MultiStepLR':
      return new MultiStepLR(opt, options);
    case 'ExponentialLR':
      return new ExponentialLR(opt, options);
    case 'CosineAnnealingLR':
      return new CosineAnnealingLR(opt, options);
    case 'LinearLR':
      return new LinearLR(opt, options);
    case 'LambdaLR': {
      const l = options.lrLambda as string | string[];
      const lrLambda = typeof l === 'string' ? LAMBDAS[l]! : l.map((n) => LAMBDAS[n]!);
      return new LambdaLR(opt, { ...options, lrLambda });
    }
    case 'OneCycleLR':
      return new OneCycleLR(opt, options);
    case 'SequentialLR': {
      const subs = (options.schedulers as SubSpec[]).map(
        (s) => makeScheduler(s.kind, opt, s.options) as LRScheduler,
      );
      return new SequentialLR(opt, { ...options, schedulers: subs });
    }
    case 'ReduceLROnPlateau':
      return new ReduceLROnPlateau(opt, options);
    default:
      throw new Error(`unknown scheduler ${kind}`);
  }
}

function build(c: Case): { opt: SchedulableOptimizer; sched: AnyScheduler } {
  const opt = makeOptimizer(c);
  return { opt, sched: makeScheduler(c.kind, opt, c.options) };
}

function stepOnce(c: Case, sched: AnyScheduler, i: number): void {
  if (sched instanceof ReduceLROnPlateau) sched.step(c.metrics![i]!);
  else sched.step();
}

function momenta(opt: SchedulableOptimizer): number[] {
  return opt.paramGroups.map((g) => {
    const r = g as unknown as Record<string, unknown>;
    return 'betas' in r ? (r.betas as number[])[0]! : (r.momentum as number);
  });
}

function expectClose(actual: readonly number[], expected: readonly number[], where: string): void {
  expect(actual.length, where).toBe(expected.length);
  actual.forEach((a, i) => {
    const e = expected[i]!;
    const tol = 1e-12 * Math.max(Math.abs(e), Number.MIN_VALUE);
    if (!(Math.abs(a - e) <= tol)) {
      expect.fail(`${where}[${i}]: got ${a}, PyTorch ${e} (relative error ${Math.abs(a - e) / Math.abs(e)})`);
    }
  });
}

describe('schedulers replay PyTorch 1.13', () => {
  for (const c of fixtures.cases) {
    it(c.name, () => {
      const { opt, sched } = build(c);
      expectClose(sched.getLastLr(), c.lrs[0]!, 'step 0');
      if (c.momenta !== undefined) expectClose(momenta(opt), c.momenta[0]!, 'momentum 0');
      for (let i = 0; i < c.steps; i++) {
        stepOnce(c, sched, i);
        expectClose(sched.getLastLr(), c.lrs[i + 1]!, `step ${i + 1}`);
        expectClose(
          opt.paramGroups.map((g) => g.lr),
          c.lrs[i + 1]!,
          `group lr ${i + 1}`,
        );
        if (c.momenta !== undefined) expectClose(momenta(opt), c.momenta[i + 1]!, `momentum ${i + 1}`);
      }
    });
  }
});

describe('state dict round trip through JSON', () => {
  for (const c of fixtures.cases) {
    it(c.name, () => {
      const { opt, sched } = build(c);
      for (let i = 0; i < c.resumeAt; i++) stepOnce(c, sched, i);
      const optSaved =
        opt instanceof SGD ? opt.stateDict() : { paramGroups: opt.paramGroups.map((g) => ({ ...g })) };
      const saved = JSON.parse(JSON.stringify({ opt: optSaved, sched: sched.stateDict() })) as {
        opt: ReturnType<SGD['stateDict']>;
        sched: unknown;
      };
      const { opt: opt2, sched: sched2 } = build(c);
      if (opt2 instanceof SGD) opt2.loadStateDict(saved.opt);
      else {
        saved.opt.paramGroups.forEach((g, i) => {
          Object.assign(opt2.paramGroups[i]!, g);
        });
      }
      if (sched2 instanceof ReduceLROnPlateau) {
        sched2.loadStateDict(saved.sched as ReduceLROnPlateauStateDict);
      } else {
        (sched2 as LRScheduler).loadStateDict(saved.sched as LRSchedulerStateDict);
      }
      expect(sched2.getLastLr()).toEqual(sched.getLastLr());
      for (let i = c.resumeAt; i < c.steps; i++) {
        stepOnce(c, sched2, i);
        expectClose(sched2.getLastLr(), c.lrs[i + 1]!, `resumed step ${i + 1}`);
        if (c.momenta !== undefined) expectClose(momenta(opt2), c.momenta[i + 1]!, `momentum ${i + 1}`);
      }
    });
  }

  it('LambdaLR omits its functions; ReduceLROnPlateau keeps infinite bests', () => {
    const opt = new SGD([tensor([0], { requiresGrad: true })], { lr: 0.1 });
    const lambda = new LambdaLR(opt, { lrLambda: (e) => 1 / (e + 1) });
    expect(lambda.stateDict().lrLambdas).toEqual([null]);
    expect(JSON.parse(JSON.stringify(lambda.stateDict())).lrLambdas).toEqual([null]);

    const plateau = new ReduceLROnPlateau(opt, { mode: 'max' });
    const saved = JSON.parse(JSON.stringify(plateau.stateDict())) as ReduceLROnPlateauStateDict;
    expect(saved.best).toBe('-Infinity');
    const other = new ReduceLROnPlateau(opt);
    other.loadStateDict(saved);
    expect(other.best).toBe(Number.NEGATIVE_INFINITY);
    expect(other.mode).toBe('max');
    expect(other.isBetter(-1e300, other.best)).toBe(true);
  });
});

describe('scheduler behaviour', () => {
  const sgd = (lr = 0.1, extra: Record<string, unknown> = {}) =>
    new SGD([tensor([0], { requiresGrad: true })], { lr, ...extra });

  it('records initialLr and lastEpoch; step(epoch) uses the closed form', () => {
    const opt = sgd(0.1);
    const sched = new StepLR(opt, { stepSize: 2, gamma: 0.5 });
    expect(sched.lastEpoch).toBe(0);
    expect((opt.paramGroups[0] as unknown as { initialLr: number }).initialLr).toBe(0.1);
    sched.step(5);
    expect(sched.lastEpoch).toBe(5);
    expect(sched.getLastLr()).toEqual([0.1 * 0.5 ** 2]);
  });

  it('works with a plain object standing in for an optimizer', () => {
    const fake = { paramGroups: [{ lr: 1 }, { lr: 2 }] };
    const sched = new ExponentialLR(fake, { gamma: 0.5 });
    sched.step();
    expect(fake.paramGroups.map((g) => g.lr)).toEqual([0.5, 1]);
  });

  it('ReduceLROnPlateau reports the lrs before its first step', () => {
    const opt = sgd(0.3);
    expect(new ReduceLROnPlateau(opt).getLastLr()).toEqual([0.3]);
  });
});

describe('errors (INVALID_ARGUMENT, PyTorch wording)', () => {
  const sgd = (groups = 1, extra: Record<string, unknown> = {}) =>
    new SGD(
      Array.from({ length: groups }, () => ({ params: [tensor([0], { requiresGrad: true })] })),
      { lr: 0.1, ...extra },
    );

  function expectError(fn: () => unknown, message: string | RegExp): void {
    try {
      fn();
    } catch (e) {
      expect(GradfolioError.isInstance(e)).toBe(true);
      expect((e as GradfolioError).code).toBe('INVALID_ARGUMENT');
      if (typeof message === 'string') expect((e as Error).message).toContain(message);
      else expect((e as Error).message).toMatch(message);
      return;
    }
    expect.fail(`expected an error containing ${String(message)}`);
  }

  it('resuming without initialLr', () => {
    expectError(
      () => new StepLR(sgd(2), { stepSize: 3, lastEpoch: 4 }),
      "StepLR: param 'initialLr' is not specified in paramGroups[0] when resuming an optimizer",
    );
  });

  it('LinearLR factors', () => {
    expectError(
      () => new LinearLR(sgd(), { startFactor: 1.5 }),
      'LinearLR: Starting multiplicative factor expected to be between 0 and 1.',
    );
    expectError(
      () => new LinearLR(sgd(), { startFactor: -0.1 }),
      'Starting multiplicative factor expected to be between 0 and 1.',
    );
    expectError(
      () => new LinearLR(sgd(), { endFactor: 2 }),
      'LinearLR: Ending multiplicative factor expected to be between 0 and 1.',
    );
  });

  it('LambdaLR lambda count', () => {
    expectError(
      () => new LambdaLR(sgd(2), { lrLambda: [(e) => e] }),
      'LambdaLR: Expected 2 lr_lambdas, but got 1',
    );
  });

  it('SequentialLR', () => {
    const opt = sgd();
    const a = new ExponentialLR(opt, { gamma: 0.9 });
    const b = new StepLR(sgd(), { stepSize: 2 });
    expectError(
      () => new SequentialLR(opt, { schedulers: [a, b], milestones: [3] }),
      'SequentialLR: Sequential Schedulers expects all schedulers to belong to the same optimizer, but got schedulers at index 1 to be different than the optimizer passed in.',
    );
    const c = new StepLR(opt, { stepSize: 2 });
    expectError(
      () => new SequentialLR(opt, { schedulers: [a, c], milestones: [3, 5] }),
      'SequentialLR: Sequential Schedulers expects number of schedulers provided to be one more than the number of milestone points, but got number of schedulers 2 and the number of milestones to be equal to 2',
    );
  });

  it('OneCycleLR', () => {
    const op = 'OneCycleLR: ';
    expectError(
      () => new OneCycleLR(sgd(), { maxLr: 0.1 }),
      `${op}You must define either total_steps OR (epochs AND steps_per_epoch)`,
    );
    expectError(
      () => new OneCycleLR(sgd(), { maxLr: 0.1, totalSteps: 0 }),
      `${op}Expected positive integer total_steps, but got 0`,
    );
    expectError(
      () => new OneCycleLR(sgd(), { maxLr: 0.1, totalSteps: 2.5 }),
      `${op}Expected positive integer total_steps, but got 2.5`,
    );
    expectError(
      () => new OneCycleLR(sgd(), { maxLr: 0.1, epochs: -1, stepsPerEpoch: 3 }),
      `${op}Expected positive integer epochs, but got -1`,
    );
    expectError(
      () => new OneCycleLR(sgd(), { maxLr: 0.1, epochs: 2 }),
      `${op}Expected positive integer steps_per_epoch, but got undefined`,
    );
    expectError(
      () => new OneCycleLR(sgd(), { maxLr: 0.1, totalSteps: 10, pctStart: 1.5 }),
      `${op}Expected float between 0 and 1 pct_start, but got 1.5`,
    );
    expectError(
      () => new OneCycleLR(sgd(), { maxLr: 0.1, totalSteps: 10, annealStrategy: 'exp' as any }),
      `${op}anneal_strategy must by one of 'cos' or 'linear', instead got exp`,
    );
    expectError(
      () => new OneCycleLR(sgd(2), { maxLr: [0.1], totalSteps: 10 }),
      `${op}expected 2 values for max_lr, got 1`,
    );
    expectError(
      () => new OneCycleLR(sgd(), { maxLr: 0.1, totalSteps: 10, maxMomentum: [0.9, 0.8] }),
      `${op}expected 1 values for max_momentum, got 2`,
    );
    expectError(
      () => new OneCycleLR(sgd(), { maxLr: 0.1, totalSteps: 10, baseMomentum: [0.9, 0.8] }),
      `${op}expected 1 values for base_momentum, got 2`,
    );
    expectError(
      () => new OneCycleLR({ paramGroups: [{ lr: 0.1 }] }, { maxLr: 0.1, totalSteps: 10 }),
      `${op}optimizer must support momentum with \`cycle_momentum\` option enabled`,
    );
    const sched = new OneCycleLR(sgd(), { maxLr: 0.1, totalSteps: 3 });
    for (let i = 0; i < 3; i++) sched.step();
    expectError(() => sched.step(), `${op}Tried to step 5 times. The specified number of total steps is 3`);
  });

  it('ReduceLROnPlateau', () => {
    const op = 'ReduceLROnPlateau: ';
    expectError(() => new ReduceLROnPlateau(sgd(), { factor: 1 }), `${op}Factor should be < 1.0.`);
    expectError(
      () => new ReduceLROnPlateau(sgd(2), { minLr: [0.1, 0.2, 0.3] }),
      `${op}expected 2 min_lrs, got 3`,
    );
    expectError(() => new ReduceLROnPlateau(sgd(), { mode: 'up' as any }), `${op}mode up is unknown!`);
    expectError(
      () => new ReduceLROnPlateau(sgd(), { thresholdMode: 'pct' as any }),
      `${op}threshold mode pct is unknown!`,
    );
  });
});
