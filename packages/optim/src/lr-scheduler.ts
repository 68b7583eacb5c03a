import { GradfolioError } from '@gradfolio/tensor';

/**
 * A parameter group as schedulers see it: its learning rate, plus any other options (schedulers add
 * `initialLr`, and OneCycleLR `maxLr`, `minLr`, `maxMomentum`, `baseMomentum`, and cycles `momentum`
 * or `betas[0]`).
 */
export interface SchedulableParamGroup {
  /** The group's current learning rate, which the scheduler writes. */
  lr: number;
}

/**
 * What schedulers need of an optimizer: its parameter groups (every `Optimizer` has them) and,
 * optionally, its defaults (OneCycleLR looks there for `momentum` or `betas`, else in the first group).
 *
 * @example
 * ```ts
 * const opt: SchedulableOptimizer = new SGD([w], { lr: 0.1 });
 * const fake: SchedulableOptimizer = { paramGroups: [{ lr: 0.1 }] };
 * ```
 */
export interface SchedulableOptimizer {
  /** The parameter groups whose `lr` is scheduled. */
  readonly paramGroups: ReadonlyArray<SchedulableParamGroup>;
  /** The optimizer's default options (read for `momentum` / `betas` by OneCycleLR). */
  readonly defaults?: object;
}

/**
 * A scheduler's state as plain, JSON-safe data (PyTorch's `state_dict()` fields in camelCase, without
 * the optimizer): the base fields below plus each scheduler's own options and counters.
 */
export interface LRSchedulerStateDict {
  /** Index of the last step. */
  lastEpoch: number;
  /** Initial learning rate of each group. */
  baseLrs: number[];
  /** Learning rate of each group after the last step. */
  lastLr: number[];
  /** Number of `step()` calls so far. */
  stepCount: number;
  [key: string]: unknown;
}

/** Options every {@link LRScheduler} accepts. */
export interface LRSchedulerOptions {
  /**
   * The index of the last epoch (PyTorch's `last_epoch`). Default -1: start from the beginning and
   * record each group's `lr` as its `initialLr`. Any other value resumes a schedule, and every group
   * must already have an `initialLr`.
   */
  lastEpoch: number;
}

type Group = SchedulableParamGroup & Record<string, unknown>;

function fail(op: string, message: string, details: Record<string, unknown> = {}): never {
  throw new GradfolioError('INVALID_ARGUMENT', `${op}: ${message}`, { op, ...details });
}

/** Python's `bisect.bisect_right`. */
function bisectRight(a: readonly number[], x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < a[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** A number that survives JSON (`Infinity`, `-Infinity` and `NaN` become strings). */
export type JsonNumber = number | 'Infinity' | '-Infinity' | 'NaN';

function toJsonNumber(x: number): JsonNumber {
  return Number.isFinite(x) ? x : (String(x) as JsonNumber);
}

function fromJsonNumber(x: unknown): number {
  return typeof x === 'number' ? x : x === null ? Number.NaN : Number(x);
}

/**
 * The base of the epoch-driven schedulers (PyTorch's `torch.optim.lr_scheduler._LRScheduler`). On
 * construction it records each group's `initialLr` (when `lastEpoch` is -1) and takes one step, so
 * the optimizer holds the schedule's first learning rate. Call {@link LRScheduler.step} after each
 * `optimizer.step()`.
 *
 * Subclasses implement PyTorch's chainable `get_lr` (computed from the groups' current `lr`, so the
 * floating-point sequence is PyTorch's) and, where PyTorch has one, its closed form (used by
 * `step(epoch)`).
 *
 * @example
 * ```ts
 * const sched = new StepLR(opt, { stepSize: 30, gamma: 0.1 });
 * for (let epoch = 0; epoch < 100; epoch++) {
 *   train(); opt.step();
 *   sched.step();
 * }
 * ```
 */
export abstract class LRScheduler {
  /** The optimizer whose groups' `lr` this scheduler sets. */
  readonly optimizer: SchedulableOptimizer;
  /** The index of the last epoch (the number of `step()` calls since construction, minus one, at first). */
  lastEpoch: number;
  /** Each group's `initialLr`. */
  baseLrs: number[];
  /** How many times `step()` has run (PyTorch's `_step_count`). */
  protected stepCount = 0;
  /** The learning rates the last step set. */
  protected lastLr: number[] = [];
  /** The scheduler's name in messages. */
  protected readonly name: string;

  /**
   * Records `initialLr` and the base learning rates. Subclasses set their own fields and then call
   * `initialStep()` (PyTorch's constructor does that step last).
   */
  protected constructor(
    name: string,
    optimizer: SchedulableOptimizer,
    options: Partial<LRSchedulerOptions> = {},
  ) {
    this.name = name;
    this.optimizer = optimizer;
    const lastEpoch = options.lastEpoch ?? -1;
    const groups = this.groups();
    if (lastEpoch === -1) {
      for (const g of groups) if (!('initialLr' in g)) g.initialLr = g.lr;
    } else {
      groups.forEach((g, i) => {
        if (!('initialLr' in g)) {
          fail(name, `param 'initialLr' is not specified in paramGroups[${i}] when resuming an optimizer`, {
            value: i,
          });
        }
      });
    }
    this.baseLrs = groups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }

  /** The optimizer's groups, with their extra options visible. */
  protected groups(): Group[] {
    return this.optimizer.paramGroups as Group[];
  }

  /**
   * Resets the step count and takes the first step (PyTorch's `_initial_step`; SequentialLR calls it
   * on its first scheduler). @internal
   */
  initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** PyTorch's chainable `get_lr`: the next learning rates, from the groups' current ones. */
  protected abstract getLr(): number[];

  /** PyTorch's `_get_closed_form_lr`, where the scheduler has one (used by `step(epoch)`). */
  protected closedFormLr(): number[] | undefined {
    return undefined;
  }

  /**
   * Advances the schedule one epoch and writes the new learning rates into the optimizer's groups.
   * With `epoch` (deprecated in PyTorch, kept for SequentialLR), jumps to that epoch using the closed
   * form where the scheduler has one.
   *
   * @example
   * ```ts
   * opt.step();
   * sched.step();
   * ```
   */
  step(epoch?: number): void {
    this.stepCount += 1;
    let values: number[];
    if (epoch === undefined) {
      this.lastEpoch += 1;
      values = this.getLr();
    } else {
      this.lastEpoch = epoch;
      values = this.closedFormLr() ?? this.getLr();
    }
    const groups = this.groups();
    const n = Math.min(groups.length, values.length);
    for (let i = 0; i < n; i++) groups[i]!.lr = values[i]!;
    this.lastLr = groups.map((g) => g.lr);
  }

  /**
   * The learning rates the last step set, one per group (PyTorch's `get_last_lr()`).
   *
   * @example
   * ```ts
   * console.log(sched.getLastLr()); // [0.1, 0.01]
   * ```
   */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** The scheduler's own fields for its state dict. */
  protected extraState(): Record<string, unknown> {
    return {};
  }

  /** Restores the fields {@link LRScheduler.extraState} wrote. */
  protected loadExtraState(_dict: LRSchedulerStateDict): void {}

  /**
   * The scheduler's state as plain data that round-trips through JSON (PyTorch's `state_dict()`
   * without the optimizer). Save the optimizer's state dict with it.
   *
   * @example
   * ```ts
   * const saved = JSON.stringify({ opt: opt.stateDict(), sched: sched.stateDict() });
   * ```
   */
  stateDict(): LRSchedulerStateDict {
    return {
      lastEpoch: this.lastEpoch,
      baseLrs: [...this.baseLrs],
      lastLr: [...this.lastLr],
      stepCount: this.stepCount,
      ...this.extraState(),
    };
  }

  /**
   * Restores a state dict made by {@link LRScheduler.stateDict} (of the same kind of scheduler). Load
   * the optimizer's state dict too: the learning rates live in its groups.
   *
   * @example
   * ```ts
   * const { opt: o, sched: s } = JSON.parse(saved);
   * opt.loadStateDict(o);
   * sched.loadStateDict(s);
   * ```
   */
  loadStateDict(dict: LRSchedulerStateDict): void {
    this.lastEpoch = dict.lastEpoch;
    this.baseLrs = [...dict.baseLrs];
    this.lastLr = [...dict.lastLr];
    this.stepCount = dict.stepCount;
    this.loadExtraState(dict);
  }
}

/** Options of {@link StepLR}. */
export interface StepLROptions extends LRSchedulerOptions {
  /** Period of learning rate decay, in epochs. */
  stepSize: number;
  /** Multiplicative factor of learning rate decay. Default 0.1. */
  gamma: number;
}

/**
 * Multiplies each group's learning rate by `gamma` every `stepSize` epochs (PyTorch's `StepLR`).
 *
 * @example
 * ```ts
 * // lr = 0.05 for epochs 0-29, 0.005 for 30-59, 0.0005 for 60-89, ...
 * const sched = new StepLR(opt, { stepSize: 30, gamma: 0.1 });
 * ```
 */
export class StepLR extends LRScheduler {
  /** Steps between decays. */
  stepSize: number;
  /** Multiplicative decay factor. */
  gamma: number;

  constructor(
    optimizer: SchedulableOptimizer,
    options: Partial<StepLROptions> & Pick<StepLROptions, 'stepSize'>,
  ) {
    super('StepLR', optimizer, options);
    this.stepSize = options.stepSize;
    this.gamma = options.gamma ?? 0.1;
    this.initialStep();
  }

  protected getLr(): number[] {
    const groups = this.groups();
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }

  protected override extraState(): Record<string, unknown> {
    return { stepSize: this.stepSize, gamma: this.gamma };
  }

  protected override loadExtraState(d: LRSchedulerStateDict): void {
    this.stepSize = d.stepSize as number;
    this.gamma = d.gamma as number;
  }
}

/** Options of {@link MultiStepLR}. */
export interface MultiStepLROptions extends LRSchedulerOptions {
  /** Epoch indices at which to decay (a milestone listed twice decays twice). */
  milestones: readonly number[];
  /** Multiplicative factor of learning rate decay. Default 0.1. */
  gamma: number;
}

/**
 * Multiplies each group's learning rate by `gamma` when the epoch reaches a milestone (PyTorch's
 * `MultiStepLR`).
 *
 * @example
 * ```ts
 * // lr = 0.05 for epochs 0-29, 0.005 for 30-79, 0.0005 from 80
 * const sched = new MultiStepLR(opt, { milestones: [30, 80], gamma: 0.1 });
 * ```
 */
export class MultiStepLR extends LRScheduler {
  /** The milestones, sorted, with repeats. */
  milestones: number[];
  /** Multiplicative decay factor. */
  gamma: number;

  constructor(
    optimizer: SchedulableOptimizer,
    options: Partial<MultiStepLROptions> & Pick<MultiStepLROptions, 'milestones'>,
  ) {
    super('MultiStepLR', optimizer, options);
    this.milestones = [...options.milestones].sort((a, b) => a - b);
    this.gamma = options.gamma ?? 0.1;
    this.initialStep();
  }

  protected getLr(): number[] {
    const groups = this.groups();
    const count = this.milestones.filter((m) => m === this.lastEpoch).length;
    if (count === 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma ** count);
  }

  protected override closedFormLr(): number[] {
    const k = bisectRight(this.milestones, this.lastEpoch);
    return this.baseLrs.map((b) => b * this.gamma ** k);
  }

  protected override extraState(): Record<string, unknown> {
    return { milestones: [...this.milestones], gamma: this.gamma };
  }

  protected override loadExtraState(d: LRSchedulerStateDict): void {
    this.milestones = [...(d.milestones as number[])];
    this.gamma = d.gamma as number;
  }
}

/** Options of {@link ExponentialLR}. */
export interface ExponentialLROptions extends LRSchedulerOptions {
  /** Multiplicative factor of learning rate decay per epoch. */
  gamma: number;
}

/**
 * Multiplies each group's learning rate by `gamma` every epoch (PyTorch's `ExponentialLR`).
 *
 * @example
 * ```ts
 * const sched = new ExponentialLR(opt, { gamma: 0.95 });
 * ```
 */
export class ExponentialLR extends LRScheduler {
  /** Multiplicative decay factor per step. */
  gamma: number;

  constructor(
    optimizer: SchedulableOptimizer,
    options: Partial<ExponentialLROptions> & Pick<ExponentialLROptions, 'gamma'>,
  ) {
    super('ExponentialLR', optimizer, options);
    this.gamma = options.gamma;
    this.initialStep();
  }

  protected getLr(): number[] {
    const groups = this.groups();
    if (this.lastEpoch === 0) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch);
  }

  protected override extraState(): Record<string, unknown> {
    return { gamma: this.gamma };
  }

  protected override loadExtraState(d: LRSchedulerStateDict): void {
    this.gamma = d.gamma as number;
  }
}

/** Options of {@link CosineAnnealingLR}. */
export interface CosineAnnealingLROptions extends LRSchedulerOptions {
  /** Maximum number of iterations (half a cosine period). */
  tMax: number;
  /** Minimum learning rate. Default 0. */
  etaMin: number;
}

/**
 * Anneals each group's learning rate from its initial value to `etaMin` along a cosine over `tMax`
 * epochs, then back up (PyTorch's `CosineAnnealingLR`, the annealing part of SGDR, with PyTorch's
 * recursive formula).
 *
 * @example
 * ```ts
 * const sched = new CosineAnnealingLR(opt, { tMax: 100, etaMin: 1e-5 });
 * ```
 */
export class CosineAnnealingLR extends LRScheduler {
  /** Steps of one half cosine period. */
  tMax: number;
  /** Minimum learning rate. */
  etaMin: number;

  constructor(
    optimizer: SchedulableOptimizer,
    options: Partial<CosineAnnealingLROptions> & Pick<CosineAnnealingLROptions, 'tMax'>,
  ) {
    super('CosineAnnealingLR', optimizer, options);
    this.tMax = options.tMax;
    this.etaMin = options.etaMin ?? 0;
    this.initialStep();
  }

  protected getLr(): number[] {
    const groups = this.groups();
    const { etaMin, tMax, lastEpoch } = this;
    if (lastEpoch === 0) return groups.map((g) => g.lr);
    if (this.stepCount === 1 && lastEpoch > 0) {
      return this.baseLrs.map(
        (b) => etaMin + ((b - etaMin) * (1 + Math.cos((lastEpoch * Math.PI) / tMax))) / 2,
      );
    }
    if ((lastEpoch - 1 - tMax) % (2 * tMax) === 0) {
      return groups.map((g, i) => g.lr + ((this.baseLrs[i]! - etaMin) * (1 - Math.cos(Math.PI / tMax))) / 2);
    }
    return groups.map(
      (g) =>
        ((1 + Math.cos((Math.PI * lastEpoch) / tMax)) / (1 + Math.cos((Math.PI * (lastEpoch - 1)) / tMax))) *
          (g.lr - etaMin) +
        etaMin,
    );
  }

  protected override closedFormLr(): number[] {
    const { etaMin, tMax, lastEpoch } = this;
    return this.baseLrs.map(
      (b) => etaMin + ((b - etaMin) * (1 + Math.cos((Math.PI * lastEpoch) / tMax))) / 2,
    );
  }

  protected override extraState(): Record<string, unknown> {
    return { tMax: this.tMax, etaMin: this.etaMin };
  }

  protected override loadExtraState(d: LRSchedulerStateDict): void {
    this.tMax = d.tMax as number;
    this.etaMin = d.etaMin as number;
  }
}

/** Options of {@link LinearLR}. */
export interface LinearLROptions extends LRSchedulerOptions {
  /** The factor applied at epoch 0, in [0, 1]. Default 1/3. */
  startFactor: number;
  /** The factor reached at `totalIters`, in [0, 1]. Default 1. */
  endFactor: number;
  /** Number of epochs over which the factor changes. Default 5. */
  totalIters: number;
}

/**
 * Scales each group's learning rate by a factor that moves linearly from `startFactor` to `endFactor`
 * over `totalIters` epochs (PyTorch's `LinearLR`; a common warmup).
 *
 * @example
 * ```ts
 * // lr = 0.025, 0.03125, 0.0375, 0.04375, then 0.05 from epoch 4 (base lr 0.05)
 * const sched = new LinearLR(opt, { startFactor: 0.5, totalIters: 4 });
 * ```
 */
export class LinearLR extends LRScheduler {
  /** Factor of the base learning rate at the first step. */
  startFactor: number;
  /** Factor of the base learning rate after `totalIters` steps. */
  endFactor: number;
  /** Steps over which the factor moves linearly. */
  totalIters: number;

  constructor(optimizer: SchedulableOptimizer, options: Partial<LinearLROptions> = {}) {
    const startFactor = options.startFactor ?? 1 / 3;
    const endFactor = options.endFactor ?? 1;
    if (startFactor > 1 || startFactor < 0) {
      fail('LinearLR', 'Starting multiplicative factor expected to be between 0 and 1.', {
        value: startFactor,
      });
    }
    if (endFactor > 1 || endFactor < 0) {
      fail('LinearLR', 'Ending multiplicative factor expected to be between 0 and 1.', {
        value: endFactor,
      });
    }
    super('LinearLR', optimizer, options);
    this.startFactor = startFactor;
    this.endFactor = endFactor;
    this.totalIters = options.totalIters ?? 5;
    this.initialStep();
  }

  protected getLr(): number[] {
    const groups = this.groups();
    const { startFactor: s, endFactor: e, totalIters: t, lastEpoch } = this;
    if (lastEpoch === 0) return groups.map((g) => g.lr * s);
    if (lastEpoch > t) return groups.map((g) => g.lr);
    return groups.map((g) => g.lr * (1 + (e - s) / (t * s + (lastEpoch - 1) * (e - s))));
  }

  protected override closedFormLr(): number[] {
    const { startFactor: s, endFactor: e, totalIters: t, lastEpoch } = this;
    return this.baseLrs.map((b) => b * (s + ((e - s) * Math.min(t, lastEpoch)) / t));
  }

  protected override extraState(): Record<string, unknown> {
    return { startFactor: this.startFactor, endFactor: this.endFactor, totalIters: this.totalIters };
  }

  protected override loadExtraState(d: LRSchedulerStateDict): void {
    this.startFactor = d.startFactor as number;
    this.endFactor = d.endFactor as number;
    this.totalIters = d.totalIters as number;
  }
}

/** A function of the epoch giving the factor applied to a group's initial learning rate. */
export type LrLambda = (epoch: number) => number;

/** Options of {@link LambdaLR}. */
export interface LambdaLROptions extends LRSchedulerOptions {
  /** One function for every group, or one per group. */
  lrLambda: LrLambda | readonly LrLambda[];
}

/**
 * Sets each group's learning rate to its initial value times `lrLambda(epoch)` (PyTorch's
 * `LambdaLR`). The state dict holds `lrLambdas: null` per function, as PyTorch's does for plain
 * functions: build the scheduler with the same functions before loading it.
 *
 * @example
 * ```ts
 * const sched = new LambdaLR(opt, { lrLambda: [(e) => Math.floor(e / 30), (e) => 0.95 ** e] });
 * ```
 */
export class LambdaLR extends LRScheduler {
  /** One function per group: step -> factor of the base learning rate. */
  readonly lrLambdas: LrLambda[];

  constructor(
    optimizer: SchedulableOptimizer,
    options: Partial<LambdaLROptions> & Pick<LambdaLROptions, 'lrLambda'>,
  ) {
    const n = optimizer.paramGroups.length;
    const given = options.lrLambda;
    let lrLambdas: LrLambda[];
    if (typeof given === 'function') lrLambdas = Array.from({ length: n }, () => given);
    else {
      if (given.length !== n) {
        fail('LambdaLR', `Expected ${n} lr_lambdas, but got ${given.length}`, { value: given.length });
      }
      lrLambdas = [...given];
    }
    super('LambdaLR', optimizer, options);
    this.lrLambdas = lrLambdas;
    this.initialStep();
  }

  protected getLr(): number[] {
    return this.baseLrs.map((b, i) => b * this.lrLambdas[i]!(this.lastEpoch));
  }

  protected override extraState(): Record<string, unknown> {
    return { lrLambdas: this.lrLambdas.map(() => null) };
  }
}

/** Options of {@link OneCycleLR}. */
export interface OneCycleLROptions extends LRSchedulerOptions {
  /** Peak learning rate, for every group or one per group. */
  maxLr: number | readonly number[];
  /** Total number of steps in the cycle; or give `epochs` and `stepsPerEpoch`. */
  totalSteps: number;
  /** Number of epochs (with `stepsPerEpoch`, when `totalSteps` is not given). */
  epochs: number;
  /** Steps per epoch (with `epochs`, when `totalSteps` is not given). */
  stepsPerEpoch: number;
  /** Fraction of the cycle spent increasing the learning rate. Default 0.3. */
  pctStart: number;
  /** `'cos'` (default) or `'linear'` annealing. */
  annealStrategy: 'cos' | 'linear';
  /** Cycle momentum (or Adam's `betas[0]`) inversely to the learning rate. Default true. */
  cycleMomentum: boolean;
  /** Momentum at the learning-rate peak, for every group or one per group. Default 0.85. */
  baseMomentum: number | readonly number[];
  /** Momentum at the start and end, for every group or one per group. Default 0.95. */
  maxMomentum: number | readonly number[];
  /** `initialLr = maxLr / divFactor`. Default 25. */
  divFactor: number;
  /** `minLr = initialLr / finalDivFactor`. Default 1e4. */
  finalDivFactor: number;
  /** Three phases (up, back down to `initialLr`, then annihilate) instead of two. Default false. */
  threePhase: boolean;
}

/** One phase of {@link OneCycleLR}: the group keys it anneals between, up to `endStep`. */
export interface OneCyclePhase {
  /** Last step of the phase. */
  endStep: number;
  /** Group key holding the learning rate at the start of the phase. */
  startLr: string;
  /** Group key holding the learning rate at the end of the phase. */
  endLr: string;
  /** Group key holding the momentum at the start of the phase. */
  startMomentum: string;
  /** Group key holding the momentum at the end of the phase. */
  endMomentum: string;
}

/**
 * The 1cycle policy (PyTorch's `OneCycleLR`): the learning rate rises from `maxLr / divFactor` to
 * `maxLr`, then falls far below the start, while momentum moves the other way between `maxMomentum`
 * and `baseMomentum`. Step it after every batch; it is not chainable. It stores `initialLr`, `maxLr`,
 * `minLr` (and `maxMomentum`, `baseMomentum`) in the groups, and cycles `momentum`, or `betas[0]` when
 * the optimizer has `betas` (Adam-like; looked up in `optimizer.defaults`, or the first group when the
 * optimizer has no defaults).
 *
 * @example
 * ```ts
 * const sched = new OneCycleLR(opt, { maxLr: 0.01, epochs: 10, stepsPerEpoch: batches.length });
 * for (let epoch = 0; epoch < 10; epoch++) {
 *   for (const batch of batches) { trainBatch(batch); opt.step(); sched.step(); }
 * }
 * ```
 */
export class OneCycleLR extends LRScheduler {
  /** Total number of steps of the cycle. */
  totalSteps: number;
  /** The phases of the cycle (two, or three with `threePhase`). */
  schedulePhases: OneCyclePhase[];
  /** `'cos'` or `'linear'` annealing. */
  annealStrategy: 'cos' | 'linear';
  /** Whether momentum (or `betas[0]`) is cycled inversely to the learning rate. */
  cycleMomentum: boolean;
  /** Whether the cycled momentum is `betas[0]` (Adam-like optimizers) rather than `momentum`. */
  useBeta1: boolean;

  constructor(
    optimizer: SchedulableOptimizer,
    options: Partial<OneCycleLROptions> & Pick<OneCycleLROptions, 'maxLr'>,
  ) {
    const op = 'OneCycleLR';
    const { totalSteps: ts, epochs, stepsPerEpoch } = options;
    let totalSteps: number;
    if (ts === undefined && epochs === undefined && stepsPerEpoch === undefined) {
      fail(op, 'You must define either total_steps OR (epochs AND steps_per_epoch)');
    } else if (ts !== undefined) {
      if (ts <= 0 || !Number.isInteger(ts)) {
        fail(op, `Expected positive integer total_steps, but got ${ts}`, { value: ts });
      }
      totalSteps = ts;
    } else {
      if (epochs === undefined || epochs <= 0 || !Number.isInteger(epochs)) {
        fail(op, `Expected positive integer epochs, but got ${epochs}`, { value: epochs });
      }
      if (stepsPerEpoch === undefined || stepsPerEpoch <= 0 || !Number.isInteger(stepsPerEpoch)) {
        fail(op, `Expected positive integer steps_per_epoch, but got ${stepsPerEpoch}`, {
          value: stepsPerEpoch,
        });
      }
      totalSteps = epochs * stepsPerEpoch;
    }
    const pctStart = options.pctStart ?? 0.3;
    const phases: OneCyclePhase[] = options.threePhase
      ? [
          {
            endStep: pctStart * totalSteps - 1,
            startLr: 'initialLr',
            endLr: 'maxLr',
            startMomentum: 'maxMomentum',
            endMomentum: 'baseMomentum',
          },
          {
            endStep: 2 * pctStart * totalSteps - 2,
            startLr: 'maxLr',
            endLr: 'initialLr',
            startMomentum: 'baseMomentum',
            endMomentum: 'maxMomentum',
          },
          {
            endStep: totalSteps - 1,
            startLr: 'initialLr',
            endLr: 'minLr',
            startMomentum: 'maxMomentum',
            endMomentum: 'maxMomentum',
          },
        ]
      : [
          {
            endStep: pctStart * totalSteps - 1,
            startLr: 'initialLr',
            endLr: 'maxLr',
            startMomentum: 'maxMomentum',
            endMomentum: 'baseMomentum',
          },
          {
            endStep: totalSteps - 1,
            startLr: 'maxLr',
            endLr: 'minLr',
            startMomentum: 'baseMomentum',
            endMomentum: 'maxMomentum',
          },
        ];
    if (pctStart < 0 || pctStart > 1 || Number.isNaN(pctStart)) {
      fail(op, `Expected float between 0 and 1 pct_start, but got ${pctStart}`, { value: pctStart });
    }
    const annealStrategy = options.annealStrategy ?? 'cos';
    if (annealStrategy !== 'cos' && annealStrategy !== 'linear') {
      fail(op, `anneal_strategy must by one of 'cos' or 'linear', instead got ${annealStrategy}`, {
        value: annealStrategy,
      });
    }
    const groups = optimizer.paramGroups as Group[];
    const lastEpoch = options.lastEpoch ?? -1;
    const divFactor = options.divFactor ?? 25;
    const finalDivFactor = options.finalDivFactor ?? 1e4;
    const maxLrs = formatParam('max_lr', groups.length, options.maxLr);
    if (lastEpoch === -1) {
      groups.forEach((g, i) => {
        g.initialLr = maxLrs[i]! / divFactor;
        g.maxLr = maxLrs[i]!;
        g.minLr = (g.initialLr as number) / finalDivFactor;
      });
    }
    const cycleMomentum = options.cycleMomentum ?? true;
    let useBeta1 = false;
    if (cycleMomentum) {
      const ref = (optimizer.defaults ?? groups[0] ?? {}) as Record<string, unknown>;
      if (!('momentum' in ref) && !('betas' in ref)) {
        fail(op, 'optimizer must support momentum with `cycle_momentum` option enabled');
      }
      useBeta1 = 'betas' in ref;
      const maxMomentums = formatParam('max_momentum', groups.length, options.maxMomentum ?? 0.95);
      const baseMomentums = formatParam('base_momentum', groups.length, options.baseMomentum ?? 0.85);
      if (lastEpoch === -1) {
        groups.forEach((g, i) => {
          const m = maxMomentums[i]!;
          if (useBeta1) g.betas = [m, ...(g.betas as number[]).slice(1)];
          else g.momentum = m;
          g.maxMomentum = m;
          g.baseMomentum = baseMomentums[i]!;
        });
      }
    }
    super(op, optimizer, options);
    this.totalSteps = totalSteps;
    this.schedulePhases = phases;
    this.annealStrategy = annealStrategy;
    this.cycleMomentum = cycleMomentum;
    this.useBeta1 = useBeta1;
    this.initialStep();
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === 'cos') {
      const cosOut = Math.cos(Math.PI * pct) + 1;
      return end + ((start - end) / 2) * cosOut;
    }
    return (end - start) * pct + start;
  }

  protected getLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) {
      fail(
        this.name,
        `Tried to step ${stepNum + 1} times. The specified number of total steps is ${this.totalSteps}`,
        { value: stepNum + 1 },
      );
    }
    const lrs: number[] = [];
    const phases = this.schedulePhases;
    for (const group of this.groups()) {
      let startStep = 0;
      let lr = Number.NaN;
      let momentum = Number.NaN;
      for (const [i, phase] of phases.entries()) {
        const endStep = phase.endStep;
        if (stepNum <= endStep || i === phases.length - 1) {
          const pct = (stepNum - startStep) / (endStep - startStep);
          lr = this.anneal(group[phase.startLr] as number, group[phase.endLr] as number, pct);
          if (this.cycleMomentum) {
            momentum = this.anneal(
              group[phase.startMomentum] as number,
              group[phase.endMomentum] as number,
              pct,
            );
          }
          break;
        }
        startStep = phase.endStep;
      }
      lrs.push(lr);
      if (this.cycleMomentum) {
        if (this.useBeta1) group.betas = [momentum, ...(group.betas as number[]).slice(1)];
        else group.momentum = momentum;
      }
    }
    return lrs;
  }

  protected override extraState(): Record<string, unknown> {
    return {
      totalSteps: this.totalSteps,
      schedulePhases: this.schedulePhases.map((p) => ({ ...p })),
      annealStrategy: this.annealStrategy,
      cycleMomentum: this.cycleMomentum,
      useBeta1: this.useBeta1,
    };
  }

  protected override loadExtraState(d: LRSchedulerStateDict): void {
    this.totalSteps = d.totalSteps as number;
    this.schedulePhases = (d.schedulePhases as OneCyclePhase[]).map((p) => ({ ...p }));
    this.annealStrategy = d.annealStrategy as 'cos' | 'linear';
    this.cycleMomentum = d.cycleMomentum as boolean;
    this.useBeta1 = d.useBeta1 as boolean;
  }
}

function formatParam(name: string, n: number, param: number | readonly number[]): number[] {
  if (typeof param === 'number') return Array.from({ length: n }, () => param);
  if (param.length !== n) {
    fail('OneCycleLR', `expected ${n} values for ${name}, got ${param.length}`, {
      value: param.length,
    });
  }
  return [...param];
}

/** Options of {@link SequentialLR}. */
export interface SequentialLROptions extends LRSchedulerOptions {
  /** The schedulers, in order, all built on the same optimizer. */
  schedulers: readonly LRScheduler[];
  /** The epochs at which to switch to the next scheduler (one fewer than the schedulers). */
  milestones: readonly number[];
}

/**
 * Runs schedulers one after another, switching at the milestones (PyTorch's `SequentialLR`): at a
 * milestone the next scheduler restarts from epoch 0 (`step(0)`, its closed form where it has one).
 * Build the inner schedulers first, on the same optimizer, and step only this one.
 *
 * @example
 * ```ts
 * const warmup = new LinearLR(opt, { startFactor: 0.1, totalIters: 5 });
 * const decay = new ExponentialLR(opt, { gamma: 0.9 });
 * const sched = new SequentialLR(opt, { schedulers: [warmup, decay], milestones: [5] });
 * ```
 */
export class SequentialLR extends LRScheduler {
  /** The schedulers, in order. */
  readonly schedulers: readonly LRScheduler[];
  /** Steps at which the next scheduler takes over. */
  milestones: number[];

  constructor(
    optimizer: SchedulableOptimizer,
    options: Partial<SequentialLROptions> & Pick<SequentialLROptions, 'schedulers' | 'milestones'>,
  ) {
    const { schedulers, milestones } = options;
    schedulers.forEach((s, i) => {
      if (s.optimizer !== optimizer) {
        fail(
          'SequentialLR',
          `Sequential Schedulers expects all schedulers to belong to the same optimizer, but got schedulers at index ${i} to be different than the optimizer passed in.`,
          { value: i },
        );
      }
    });
    if (milestones.length !== schedulers.length - 1) {
      fail(
        'SequentialLR',
        `Sequential Schedulers expects number of schedulers provided to be one more than the number of milestone points, but got number of schedulers ${schedulers.length} and the number of milestones to be equal to ${milestones.length}`,
        { value: milestones.length },
      );
    }
    super('SequentialLR', optimizer, options);
    this.schedulers = [...schedulers];
    this.milestones = [...milestones];
    this.lastEpoch = (options.lastEpoch ?? -1) + 1;
    for (const g of this.groups()) g.lr = g.initialLr as number;
    for (const s of this.schedulers) s.lastEpoch -= 1;
    this.schedulers[0]!.initialStep();
    this.lastLr = this.schedulers[0]!.getLastLr();
  }

  /** Not used: each inner scheduler computes its own rates. */
  protected getLr(): number[] {
    return this.groups().map((g) => g.lr);
  }

  /**
   * Steps the scheduler whose turn it is (restarting it at epoch 0 on its milestone).
   *
   * @example
   * ```ts
   * opt.step();
   * sched.step();
   * ```
   */
  override step(): void {
    this.lastEpoch += 1;
    const idx = bisectRight(this.milestones, this.lastEpoch);
    const scheduler = this.schedulers[idx]!;
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) scheduler.step(0);
    else scheduler.step();
    this.lastLr = scheduler.getLastLr();
  }

  /** Includes the inner schedulers' state dicts, under `schedulers`. */
  protected override extraState(): Record<string, unknown> {
    return { milestones: [...this.milestones], schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  protected override loadExtraState(d: LRSchedulerStateDict): void {
    this.milestones = [...(d.milestones as number[])];
    (d.schedulers as LRSchedulerStateDict[]).forEach((s, i) => {
      this.schedulers[i]?.loadStateDict(s);
    });
  }
}

/** Options of {@link ReduceLROnPlateau}. */
export interface ReduceLROnPlateauOptions {
  /** `'min'` (default): reduce when the metric stops decreasing; `'max'`: when it stops increasing. */
  mode: 'min' | 'max';
  /** Factor by which the learning rate is reduced (`newLr = lr * factor`), < 1. Default 0.1. */
  factor: number;
  /** Number of epochs with no improvement after which the learning rate is reduced. Default 10. */
  patience: number;
  /** Threshold for measuring a new optimum. Default 1e-4. */
  threshold: number;
  /** `'rel'` (default): `best * (1 ∓ threshold)`; `'abs'`: `best ∓ threshold`. */
  thresholdMode: 'rel' | 'abs';
  /** Number of epochs to wait after a reduction before counting bad epochs again. Default 0. */
  cooldown: number;
  /** Lower bound on the learning rate, for every group or one per group. Default 0. */
  minLr: number | readonly number[];
  /** Reductions smaller than this are skipped. Default 1e-8. */
  eps: number;
}

/** {@link ReduceLROnPlateau}'s state as JSON-safe data (infinite `best` values are strings). */
export interface ReduceLROnPlateauStateDict {
  /** Factor the learning rate is multiplied by on a plateau. */
  factor: number;
  /** Lower bound of each group's learning rate. */
  minLrs: number[];
  /** Steps without improvement tolerated before reducing. */
  patience: number;
  /** Steps to wait after a reduction before counting bad steps again. */
  cooldown: number;
  /** Cooldown steps left. */
  cooldownCounter: number;
  /** `'min'`: lower metrics are better; `'max'`: higher ones. */
  mode: 'min' | 'max';
  /** Minimum change that counts as an improvement. */
  threshold: number;
  /** `'rel'`: threshold relative to the best value; `'abs'`: absolute. */
  thresholdMode: 'rel' | 'abs';
  /** The best metric so far (a string for ±Infinity, so that the state survives JSON). */
  best: JsonNumber;
  /** Consecutive steps without improvement. */
  numBadEpochs: number;
  /** The worst possible metric for `mode` (±Infinity; a string in JSON). */
  modeWorse: JsonNumber;
  /** Reductions smaller than this are skipped. */
  eps: number;
  /** Number of `step()` calls so far. */
  lastEpoch: number;
  /** Learning rate of each group after the last step. */
  lastLr: number[];
}

/**
 * Reduces the learning rate when a metric has stopped improving (PyTorch's `ReduceLROnPlateau`): after
 * more than `patience` epochs without improvement, each group's `lr` is multiplied by `factor` (not
 * below its `minLr`). {@link ReduceLROnPlateau.step} takes the metric as a number: read a loss tensor
 * with `await loss.item()` first.
 *
 * @example
 * ```ts
 * const sched = new ReduceLROnPlateau(opt, { mode: 'min', factor: 0.5, patience: 5 });
 * for (let epoch = 0; epoch < 100; epoch++) {
 *   train();
 *   sched.step(await validationLoss().item());
 * }
 * ```
 */
export class ReduceLROnPlateau {
  /** The optimizer whose learning rates are reduced. */
  readonly optimizer: SchedulableOptimizer;
  /** Factor the learning rate is multiplied by on a plateau. */
  factor: number;
  /** Lower bound of each group's learning rate. */
  minLrs: number[];
  /** Steps without improvement tolerated before reducing. */
  patience: number;
  /** Steps to wait after a reduction before counting bad steps again. */
  cooldown: number;
  /** Cooldown steps left. */
  cooldownCounter = 0;
  /** `'min'`: lower metrics are better; `'max'`: higher ones. */
  mode: 'min' | 'max';
  /** Minimum change that counts as an improvement. */
  threshold: number;
  /** `'rel'`: threshold relative to the best value; `'abs'`: absolute. */
  thresholdMode: 'rel' | 'abs';
  /** The best metric so far (±Infinity before the first). */
  best: number;
  /** Consecutive steps without improvement. */
  numBadEpochs = 0;
  /** The worst possible metric for `mode` (±Infinity). */
  modeWorse: number;
  /** Reductions smaller than this are skipped. */
  eps: number;
  /** Number of `step()` calls so far. */
  lastEpoch = 0;
  private lastLr: number[];

  constructor(optimizer: SchedulableOptimizer, options: Partial<ReduceLROnPlateauOptions> = {}) {
    const op = 'ReduceLROnPlateau';
    const factor = options.factor ?? 0.1;
    if (factor >= 1) fail(op, 'Factor should be < 1.0.', { value: factor });
    this.factor = factor;
    this.optimizer = optimizer;
    const n = optimizer.paramGroups.length;
    const minLr = options.minLr ?? 0;
    if (typeof minLr === 'number') this.minLrs = Array.from({ length: n }, () => minLr);
    else {
      if (minLr.length !== n) {
        fail(op, `expected ${n} min_lrs, got ${minLr.length}`, { value: minLr.length });
      }
      this.minLrs = [...minLr];
    }
    this.patience = options.patience ?? 10;
    this.cooldown = options.cooldown ?? 0;
    this.eps = options.eps ?? 1e-8;
    this.mode = options.mode ?? 'min';
    this.threshold = options.threshold ?? 1e-4;
    this.thresholdMode = options.thresholdMode ?? 'rel';
    this.modeWorse = this.initIsBetter();
    this.best = this.modeWorse;
    this.lastLr = optimizer.paramGroups.map((g) => g.lr);
  }

  private initIsBetter(): number {
    const op = 'ReduceLROnPlateau';
    if (this.mode !== 'min' && this.mode !== 'max') {
      fail(op, `mode ${String(this.mode)} is unknown!`, { value: this.mode });
    }
    if (this.thresholdMode !== 'rel' && this.thresholdMode !== 'abs') {
      fail(op, `threshold mode ${String(this.thresholdMode)} is unknown!`, {
        value: this.thresholdMode,
      });
    }
    return this.mode === 'min' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
  }

  /** Whether the scheduler is waiting out its cooldown. */
  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /**
   * Whether metric `a` improves on `best` by more than the threshold.
   *
   * @example
   * ```ts
   * sched.isBetter(0.5, 0.6); // true in 'min' mode
   * ```
   */
  isBetter(a: number, best: number): boolean {
    if (this.mode === 'min' && this.thresholdMode === 'rel') return a < best * (1 - this.threshold);
    if (this.mode === 'min' && this.thresholdMode === 'abs') return a < best - this.threshold;
    if (this.mode === 'max' && this.thresholdMode === 'rel') return a > best * (this.threshold + 1);
    return a > best + this.threshold;
  }

  /**
   * Records this epoch's metric (a number: use `await loss.item()` on a tensor) and reduces the
   * learning rates if it has not improved for more than `patience` epochs.
   *
   * @example
   * ```ts
   * sched.step(await valLoss.item());
   * ```
   */
  step(metric: number): void {
    const current = Number(metric);
    this.lastEpoch += 1;
    if (this.isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs += 1;
    }
    if (this.inCooldown) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.reduceLr();
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  private reduceLr(): void {
    this.optimizer.paramGroups.forEach((g, i) => {
      const oldLr = g.lr;
      const newLr = Math.max(oldLr * this.factor, this.minLrs[i]!);
      if (oldLr - newLr > this.eps) (g as Group).lr = newLr;
    });
  }

  /**
   * The current learning rates, one per group (as of the last step, or construction).
   *
   * @example
   * ```ts
   * console.log(sched.getLastLr());
   * ```
   */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /**
   * The scheduler's state as JSON-safe data (PyTorch's `state_dict()`, camelCase, without the
   * optimizer; `best` and `modeWorse` are strings when infinite).
   *
   * @example
   * ```ts
   * const saved = JSON.stringify(sched.stateDict());
   * ```
   */
  stateDict(): ReduceLROnPlateauStateDict {
    return {
      factor: this.factor,
      minLrs: [...this.minLrs],
      patience: this.patience,
      cooldown: this.cooldown,
      cooldownCounter: this.cooldownCounter,
      mode: this.mode,
      threshold: this.threshold,
      thresholdMode: this.thresholdMode,
      best: toJsonNumber(this.best),
      numBadEpochs: this.numBadEpochs,
      modeWorse: toJsonNumber(this.modeWorse),
      eps: this.eps,
      lastEpoch: this.lastEpoch,
      lastLr: [...this.lastLr],
    };
  }

  /**
   * Restores a state dict made by {@link ReduceLROnPlateau.stateDict}.
   *
   * @example
   * ```ts
   * sched.loadStateDict(JSON.parse(saved));
   * ```
   */
  loadStateDict(dict: ReduceLROnPlateauStateDict): void {
    this.factor = dict.factor;
    this.minLrs = [...dict.minLrs];
    this.patience = dict.patience;
    this.cooldown = dict.cooldown;
    this.cooldownCounter = dict.cooldownCounter;
    this.mode = dict.mode;
    this.threshold = dict.threshold;
    this.thresholdMode = dict.thresholdMode;
    this.best = fromJsonNumber(dict.best);
    this.numBadEpochs = dict.numBadEpochs;
    this.eps = dict.eps;
    this.lastEpoch = dict.lastEpoch;
    this.lastLr = [...dict.lastLr];
    this.modeWorse = this.initIsBetter();
  }
}
