/**
 * Normalisation layers: `LayerNorm` and `BatchNorm1d`, with their functional forms `layerNorm` and
 * `batchNorm` (PyTorch's `F.layer_norm` / `F.batch_norm`).
 *
 * @packageDocumentation
 */

import { noGrad } from '@gradfolio/autograd';
import { GradfolioError, ones, type Tensor, variance, zeros } from '@gradfolio/tensor';
import { factoryOptions, type LayerFactoryOptions } from './linear.js';
import { Module } from './module.js';

/** Python's `repr` of a float (`1e-05`, `0.1`, `1.0`), so reprs match PyTorch's. @internal */
export function _pyFloat(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.0`;
  if (x !== 0 && Math.abs(x) < 1e-4) {
    return x.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  }
  return String(x);
}

/** Options of {@link layerNorm}. */
export interface LayerNormFunctionalOptions {
  /** Element-wise scale, shaped `normalizedShape`. */
  weight?: Tensor | undefined;
  /** Element-wise shift, shaped `normalizedShape`. */
  bias?: Tensor | undefined;
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
}

/**
 * Layer normalisation over the last `normalizedShape.length` dims (PyTorch's `F.layer_norm`): each
 * slice is centred and divided by `sqrt(var + eps)` with the biased variance, then scaled by `weight`
 * and shifted by `bias` when given.
 *
 * @example
 * ```ts
 * const y = layerNorm(randn([4, 10]), [10], { eps: 1e-5 });
 * ```
 */
export function layerNorm(
  input: Tensor,
  normalizedShape: number | readonly number[],
  options: LayerNormFunctionalOptions = {},
): Tensor {
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const eps = options.eps ?? 1e-5;
  const k = shape.length;
  const tail = input.shape.slice(input.ndim - k);
  if (k === 0 || input.ndim < k || tail.some((s, i) => s !== shape[i])) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `layerNorm: expected an input with shape [*, ${shape.join(', ')}], got [${input.shape.join(', ')}]`,
      { op: 'layerNorm', shapes: [input.shape, shape] },
    );
  }
  for (const [name, t] of [
    ['weight', options.weight],
    ['bias', options.bias],
  ] as const) {
    if (t !== undefined && (t.ndim !== k || t.shape.some((s, i) => s !== shape[i]))) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `layerNorm: ${name} must have shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`,
        { op: 'layerNorm', shapes: [t.shape, shape] },
      );
    }
  }
  const dims = Array.from({ length: k }, (_, i) => input.ndim - k + i);
  const mu = input.mean(dims, { keepdim: true });
  const v = variance(input, dims, { keepdim: true, correction: 0 });
  let out = input.sub(mu).mul(v.add(eps).rsqrt());
  if (options.weight !== undefined) out = out.mul(options.weight);
  if (options.bias !== undefined) out = out.add(options.bias);
  return out;
}

/** Options of {@link batchNorm}. */
export interface BatchNormFunctionalOptions {
  /** Per-channel scale, shaped `[C]`. */
  weight?: Tensor | undefined;
  /** Per-channel shift, shaped `[C]`. */
  bias?: Tensor | undefined;
  /** Normalise with the batch statistics and update the running ones (default false). */
  training?: boolean;
  /** Weight of the new batch statistics in the running update (default 0.1). */
  momentum?: number;
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
}

/**
 * Batch normalisation over every dim but dim 1 (PyTorch's `F.batch_norm`). In training (or when no
 * running statistics are given) the input is normalised with the batch mean and the biased batch
 * variance, and the running statistics, when given, are updated in place:
 * `running = (1 - momentum) * running + momentum * batch`, with the unbiased variance. Otherwise the
 * running statistics are used.
 *
 * @example
 * ```ts
 * const rm = zeros([3]);
 * const rv = ones([3]);
 * const y = batchNorm(randn([8, 3]), rm, rv, { training: true, momentum: 0.1 });
 * ```
 */
export function batchNorm(
  input: Tensor,
  runningMean: Tensor | undefined,
  runningVar: Tensor | undefined,
  options: BatchNormFunctionalOptions = {},
): Tensor {
  const training = options.training ?? false;
  const momentum = options.momentum ?? 0.1;
  const eps = options.eps ?? 1e-5;
  if (input.ndim < 2) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `batchNorm: expected an input with at least 2 dims [N, C, *], got [${input.shape.join(', ')}]`,
      { op: 'batchNorm', shapes: [input.shape] },
    );
  }
  const c = input.shape[1]!;
  for (const [name, t] of [
    ['weight', options.weight],
    ['bias', options.bias],
    ['runningMean', runningMean],
    ['runningVar', runningVar],
  ] as const) {
    if (t !== undefined && (t.ndim !== 1 || t.shape[0] !== c)) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `batchNorm: ${name} must have shape [${c}], got [${t.shape.join(', ')}]`,
        { op: 'batchNorm', shapes: [input.shape, t.shape] },
      );
    }
  }
  if ((runningMean === undefined) !== (runningVar === undefined)) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      'batchNorm: runningMean and runningVar must be given together',
      { op: 'batchNorm' },
    );
  }
  const dims = [0, ...Array.from({ length: input.ndim - 2 }, (_, i) => i + 2)];
  const statShape = [1, c, ...Array.from({ length: input.ndim - 2 }, () => 1)];
  const useBatch = training || runningMean === undefined || runningVar === undefined;
  let mu: Tensor;
  let v: Tensor;
  if (useBatch) {
    const n = input.numel / Math.max(c, 1);
    if (training && n <= 1) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `batchNorm: expected more than 1 value per channel when training, got input of shape [${input.shape.join(', ')}]`,
        { op: 'batchNorm', shapes: [input.shape] },
      );
    }
    mu = input.mean(dims, { keepdim: true });
    v = variance(input, dims, { keepdim: true, correction: 0 });
    if (training && runningMean !== undefined && runningVar !== undefined) {
      noGrad(() => {
        const bm = mu.detach().reshape([c]);
        const unbiased = v
          .detach()
          .reshape([c])
          .mul(n / (n - 1));
        runningMean.mul_(1 - momentum).add_(bm.mul(momentum).to({ dtype: runningMean.dtype }));
        runningVar.mul_(1 - momentum).add_(unbiased.mul(momentum).to({ dtype: runningVar.dtype }));
      });
    }
  } else {
    mu = runningMean.reshape(statShape);
    v = runningVar.reshape(statShape);
  }
  let out = input.sub(mu).mul(v.add(eps).rsqrt());
  if (options.weight !== undefined) out = out.mul(options.weight.reshape(statShape));
  if (options.bias !== undefined) out = out.add(options.bias.reshape(statShape));
  return out;
}

/** Options of {@link LayerNorm}. */
export interface LayerNormOptions extends Omit<LayerFactoryOptions, 'generator'> {
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
  /** Learnable per-element `weight` (ones) and `bias` (zeros) (default true). */
  elementwiseAffine?: boolean;
}

/**
 * Layer normalisation over the trailing `normalizedShape` dims (PyTorch's `nn.LayerNorm`), see
 * {@link layerNorm}. Parameters `weight` (ones) and `bias` (zeros) shaped `normalizedShape` when
 * `elementwiseAffine` (the default).
 *
 * @example
 * ```ts
 * const ln = new LayerNorm(10);
 * const y = ln.call(randn([4, 10]));
 * ```
 */
export class LayerNorm extends Module {
  /** The trailing shape normalised over. */
  readonly normalizedShape: readonly number[];
  /** Added to the variance. */
  readonly eps: number;
  /** Whether `weight` and `bias` exist. */
  readonly elementwiseAffine: boolean;
  /** Per-element scale (`undefined` without `elementwiseAffine`). */
  weight: Tensor | undefined;
  /** Per-element shift (`undefined` without `elementwiseAffine`). */
  bias: Tensor | undefined;

  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    super();
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (shape.some((s) => !Number.isInteger(s) || s < 0)) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `LayerNorm: normalizedShape must hold non-negative integers, got [${shape.join(', ')}]`,
        { op: 'LayerNorm' },
      );
    }
    this.normalizedShape = shape;
    this.eps = options.eps ?? 1e-5;
    this.elementwiseAffine = options.elementwiseAffine ?? true;
    const f = factoryOptions(options);
    this.weight = this.registerParameter('weight', this.elementwiseAffine ? ones(shape, f) : undefined);
    this.bias = this.registerParameter('bias', this.elementwiseAffine ? zeros(shape, f) : undefined);
  }

  /**
   * Resets `weight` to ones and `bias` to zeros.
   *
   * @example
   * ```ts
   * ln.resetParameters();
   * ```
   */
  resetParameters(): void {
    noGrad(() => {
      this.weight?.fill_(1);
      this.bias?.zero_();
    });
  }

  /**
   * Normalises `input` (`[*, ...normalizedShape]`).
   *
   * @example
   * ```ts
   * new LayerNorm([2, 3]).forward(randn([5, 2, 3]));
   * ```
   */
  forward(input: Tensor): Tensor {
    return layerNorm(input, this.normalizedShape, { weight: this.weight, bias: this.bias, eps: this.eps });
  }

  /**
   * PyTorch's repr fields.
   *
   * @example
   * ```ts
   * new LayerNorm(5).extraRepr(); // '(5,), eps=1e-05, elementwise_affine=True'
   * ```
   */
  override extraRepr(): string {
    const shape =
      this.normalizedShape.length === 1
        ? `(${this.normalizedShape[0]},)`
        : `(${this.normalizedShape.join(', ')})`;
    return `${shape}, eps=${_pyFloat(this.eps)}, elementwise_affine=${this.elementwiseAffine ? 'True' : 'False'}`;
  }
}

/** Options of {@link BatchNorm1d}. */
export interface BatchNormOptions extends Omit<LayerFactoryOptions, 'generator'> {
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
  /** Weight of each batch in the running statistics; `null` for a cumulative average (default 0.1). */
  momentum?: number | null;
  /** Learnable per-channel `weight` (ones) and `bias` (zeros) (default true). */
  affine?: boolean;
  /** Keep `running_mean`, `running_var` and `num_batches_tracked` buffers (default true). */
  trackRunningStats?: boolean;
}

/**
 * Batch normalisation of `[N, C]` or `[N, C, L]` inputs over the batch (and length) dims (PyTorch's
 * `nn.BatchNorm1d`). In training mode the batch mean and biased variance normalise, and the buffers
 * `running_mean` (zeros), `running_var` (ones, updated with the unbiased variance) and
 * `num_batches_tracked` are updated; in eval mode the running statistics normalise. Without
 * `trackRunningStats` the batch statistics are always used.
 *
 * @example
 * ```ts
 * const bn = new BatchNorm1d(3);
 * bn.call(randn([8, 3]));  // training step: updates running_mean / running_var
 * bn.eval().call(randn([2, 3]));
 * ```
 */
export class BatchNorm1d extends Module {
  /** Number of channels C. */
  readonly numFeatures: number;
  /** Added to the variance. */
  readonly eps: number;
  /** Running-average weight (`null`: cumulative average). */
  momentum: number | null;
  /** Whether `weight` and `bias` exist. */
  readonly affine: boolean;
  /** Whether running statistics are kept. */
  readonly trackRunningStats: boolean;
  /** Per-channel scale. */
  weight: Tensor | undefined;
  /** Per-channel shift. */
  bias: Tensor | undefined;
  /** Buffer `running_mean`. */
  runningMean: Tensor | undefined;
  /** Buffer `running_var`. */
  runningVar: Tensor | undefined;
  /** Buffer `num_batches_tracked` (int32 scalar; int64 in PyTorch). */
  numBatchesTracked: Tensor | undefined;

  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `BatchNorm1d: numFeatures must be a positive integer, got ${numFeatures}`,
        {
          op: 'BatchNorm1d',
        },
      );
    }
    this.numFeatures = numFeatures;
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    this.affine = options.affine ?? true;
    this.trackRunningStats = options.trackRunningStats ?? true;
    const f = factoryOptions(options);
    this.weight = this.registerParameter('weight', this.affine ? ones([numFeatures], f) : undefined);
    this.bias = this.registerParameter('bias', this.affine ? zeros([numFeatures], f) : undefined);
    const track = this.trackRunningStats;
    this.runningMean = this.registerBuffer('running_mean', track ? zeros([numFeatures], f) : undefined);
    this.runningVar = this.registerBuffer('running_var', track ? ones([numFeatures], f) : undefined);
    const intF = { ...f, dtype: 'int32' as const };
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', track ? zeros([], intF) : undefined);
  }

  /**
   * Resets the running statistics (mean 0, variance 1, zero batches tracked).
   *
   * @example
   * ```ts
   * bn.resetRunningStats();
   * ```
   */
  resetRunningStats(): void {
    noGrad(() => {
      this.runningMean?.zero_();
      this.runningVar?.fill_(1);
      this.numBatchesTracked?.zero_();
    });
  }

  /**
   * Resets the running statistics, `weight` to ones and `bias` to zeros.
   *
   * @example
   * ```ts
   * bn.resetParameters();
   * ```
   */
  resetParameters(): void {
    this.resetRunningStats();
    noGrad(() => {
      this.weight?.fill_(1);
      this.bias?.zero_();
    });
  }

  /**
   * Normalises `input` (`[N, C]` or `[N, C, L]`).
   *
   * @example
   * ```ts
   * new BatchNorm1d(4).forward(randn([16, 4, 10]));
   * ```
   */
  forward(input: Tensor): Tensor {
    if (input.ndim !== 2 && input.ndim !== 3) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `BatchNorm1d: expected 2D or 3D input (got ${input.ndim}D input)`,
        { op: 'BatchNorm1d', shapes: [input.shape] },
      );
    }
    let factor = this.momentum ?? 0;
    if (this.training && this.trackRunningStats && this.numBatchesTracked !== undefined) {
      const nbt = this.numBatchesTracked;
      noGrad(() => nbt.add_(1));
      if (this.momentum === null) factor = 1 / Number(nbt.itemSync());
    }
    const bnTraining = this.training || (this.runningMean === undefined && this.runningVar === undefined);
    const useRunning = !this.training || this.trackRunningStats;
    return batchNorm(
      input,
      useRunning ? this.runningMean : undefined,
      useRunning ? this.runningVar : undefined,
      {
        weight: this.weight,
        bias: this.bias,
        training: bnTraining,
        momentum: factor,
        eps: this.eps,
      },
    );
  }

  /**
   * PyTorch's repr fields.
   *
   * @example
   * ```ts
   * new BatchNorm1d(3).extraRepr(); // '3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True'
   * ```
   */
  override extraRepr(): string {
    const py = (b: boolean): string => (b ? 'True' : 'False');
    const m = this.momentum === null ? 'None' : _pyFloat(this.momentum);
    return `${this.numFeatures}, eps=${_pyFloat(this.eps)}, momentum=${m}, affine=${py(this.affine)}, track_running_stats=${py(this.trackRunningStats)}`;
  }
}
