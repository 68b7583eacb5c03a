/**
 * Loss functions, in function form (PyTorch's `torch.nn.functional.*_loss`) and as modules
 * (`torch.nn.*Loss`), matching PyTorch 1.13: `mseLoss` / {@link MSELoss}, `l1Loss` / {@link L1Loss},
 * `smoothL1Loss` / {@link SmoothL1Loss}, `huberLoss` / {@link HuberLoss}, `binaryCrossEntropy` /
 * {@link BCELoss}, `binaryCrossEntropyWithLogits` / {@link BCEWithLogitsLoss}, `crossEntropy` /
 * {@link CrossEntropyLoss}, `nllLoss` / {@link NLLLoss}, `klDiv` / {@link KLDivLoss} and
 * `gaussianNllLoss` / {@link GaussianNLLLoss}.
 *
 * Every loss is composed of differentiable tensor ops, so gradients flow to the input and, where
 * PyTorch differentiates it, to the target (and `var`).
 *
 * @module
 */

import { GradfolioError, type Tensor, where } from '@gradfolio/tensor';
import { Module } from './module.js';

/** How a loss reduces its elementwise values: their mean (the default), their sum, or none. */
export type Reduction = 'mean' | 'sum' | 'none';

/** Options shared by every loss. */
export interface LossOptions {
  /** `'mean'` (default), `'sum'` or `'none'` (the elementwise losses). */
  reduction?: Reduction;
}

// ---------------------------------------------------------------------------------------------- helpers

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((s, i) => s === b[i]);
}

function checkReduction<R extends string>(op: string, reduction: R, allowed: readonly string[]): R {
  if (!allowed.includes(reduction)) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: ${JSON.stringify(reduction)} is not a valid value for reduction (expected ${allowed.map((a) => `'${a}'`).join(', ')})`,
      { op, reduction },
    );
  }
  return reduction;
}

function reduce(op: string, loss: Tensor, reduction: Reduction | undefined): Tensor {
  const r = checkReduction(op, reduction ?? 'mean', ['mean', 'sum', 'none']);
  if (r === 'mean') return loss.mean();
  if (r === 'sum') return loss.sum();
  return loss;
}

const warned = new Set<string>();

/** Warns once per distinct message, like Python's default warning filter. */
function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(`UserWarning: ${message}`);
}

function warnSizeMismatch(input: Tensor, target: Tensor): void {
  if (!sameShape(input.shape, target.shape)) {
    warnOnce(
      `Using a target size (${fmt(target.shape)}) that is different to the input size (${fmt(input.shape)}). ` +
        'This will likely lead to incorrect results due to broadcasting. Please ensure they have the same size.',
    );
  }
}

/** True when the tensor's values can be read synchronously (CPU), so value checks can run. */
function readable(t: Tensor): boolean {
  return t.backend.readSync !== undefined;
}

// ---------------------------------------------------------------------------------------------- regression

/**
 * Mean squared error `(input - target)²` (PyTorch's `F.mse_loss`). When the shapes differ the two are
 * broadcast, and, like PyTorch's `UserWarning`, a `console.warn` is printed (once per pair of shapes):
 * "Using a target size ([4]) that is different to the input size ([3, 1]) ...".
 *
 * @example
 * ```ts
 * const loss = mseLoss(tensor([1, 2]), tensor([0, 0])); // 2.5
 * ```
 */
export function mseLoss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  warnSizeMismatch(input, target);
  const d = input.sub(target);
  return reduce('mseLoss', d.mul(d), options.reduction);
}

/**
 * Mean absolute error `|input - target|` (PyTorch's `F.l1_loss`); mismatched shapes broadcast with a
 * warning, as in {@link mseLoss}.
 *
 * @example
 * ```ts
 * const loss = l1Loss(tensor([1, -2]), tensor([0, 0])); // 1.5
 * ```
 */
export function l1Loss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  warnSizeMismatch(input, target);
  return reduce('l1Loss', input.sub(target).abs(), options.reduction);
}

/** Options of {@link smoothL1Loss}. */
export interface SmoothL1LossOptions extends LossOptions {
  /** Where the loss changes from quadratic to linear (default 1; 0 gives the L1 loss). */
  beta?: number;
}

/**
 * Smooth L1 loss (PyTorch's `F.smooth_l1_loss`): `0.5 d² / beta` where `|d| < beta`, else
 * `|d| - 0.5 beta`, with `d = input - target`; `beta = 0` is the L1 loss. Mismatched shapes broadcast
 * with a warning.
 *
 * @example
 * ```ts
 * const loss = smoothL1Loss(tensor([0.5, 3]), tensor([0, 0]), { beta: 1 }); // (0.125 + 2.5) / 2
 * ```
 */
export function smoothL1Loss(input: Tensor, target: Tensor, options: SmoothL1LossOptions = {}): Tensor {
  const beta = options.beta ?? 1;
  if (!(beta >= 0)) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `smoothL1Loss: smooth_l1_loss does not support negative values for beta (got ${beta})`,
      { op: 'smoothL1Loss', beta },
    );
  }
  warnSizeMismatch(input, target);
  const d = input.sub(target);
  const z = d.abs();
  const loss = beta === 0 ? z : where(z.lt(beta), d.mul(d).mul(0.5 / beta), z.sub(0.5 * beta));
  return reduce('smoothL1Loss', loss, options.reduction);
}

/** Options of {@link huberLoss}. */
export interface HuberLossOptions extends LossOptions {
  /** Where the loss changes from quadratic to linear (default 1, must be positive). */
  delta?: number;
}

/**
 * Huber loss (PyTorch's `F.huber_loss`): `0.5 d²` where `|d| < delta`, else `delta (|d| - 0.5 delta)`.
 * Mismatched shapes broadcast with a warning.
 *
 * @example
 * ```ts
 * const loss = huberLoss(tensor([0.5, 3]), tensor([0, 0]), { delta: 2 }); // (0.125 + 4) / 2
 * ```
 */
export function huberLoss(input: Tensor, target: Tensor, options: HuberLossOptions = {}): Tensor {
  const delta = options.delta ?? 1;
  if (!(delta > 0)) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `huberLoss: huber_loss does not support non-positive values for delta (got ${delta})`,
      { op: 'huberLoss', delta },
    );
  }
  warnSizeMismatch(input, target);
  const d = input.sub(target);
  const z = d.abs();
  const loss = where(z.lt(delta), d.mul(d).mul(0.5), z.sub(0.5 * delta).mul(delta));
  return reduce('huberLoss', loss, options.reduction);
}

// ---------------------------------------------------------------------------------------------- binary

/** Options of {@link binaryCrossEntropy}. */
export interface BCELossOptions extends LossOptions {
  /** Rescaling weight, broadcast to the target's shape. */
  weight?: Tensor | undefined;
}

function checkSameSize(op: string, input: Tensor, target: Tensor, message: string): void {
  if (!sameShape(input.shape, target.shape)) {
    throw new GradfolioError('SHAPE_MISMATCH', `${op}: ${message}`, {
      op,
      shapes: [input.shape, target.shape],
    });
  }
}

/**
 * Binary cross entropy of probabilities (PyTorch's `F.binary_cross_entropy`):
 * `-weight (t log x + (1 - t) log(1 - x))`, each log clamped at -100 so `x = 0` or `1` gives a finite
 * loss. Input and target must have the same shape (PyTorch's `ValueError`), and every input must be in
 * [0, 1] (checked on the CPU).
 *
 * At the clamp (`log x < -100`, including `x = 0` or `1` exactly) the gradient is that of the clamped
 * formula (0 through the clamped log), where PyTorch's kernel returns `w (x - t) / max(x (1 - x), 1e-12)`.
 *
 * @example
 * ```ts
 * const loss = binaryCrossEntropy(tensor([0.9, 0.2]), tensor([1, 0]));
 * ```
 */
export function binaryCrossEntropy(input: Tensor, target: Tensor, options: BCELossOptions = {}): Tensor {
  const op = 'binaryCrossEntropy';
  checkSameSize(
    op,
    input,
    target,
    `Using a target size (${fmt(target.shape)}) that is different to the input size (${fmt(input.shape)}) is deprecated. Please ensure they have the same size.`,
  );
  if (readable(input) && input.ge(0).logicalAnd(input.le(1)).logicalNot().any().itemSync()) {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: all elements of input should be between 0 and 1`, {
      op,
    });
  }
  const clampedLog = (x: Tensor): Tensor => {
    const pos = x.gt(0);
    return where(pos, where(pos, x, 1).log().clamp({ min: -100 }), -100);
  };
  const oneMinusX = input.neg().add(1);
  let loss = target
    .mul(clampedLog(input))
    .add(target.neg().add(1).mul(clampedLog(oneMinusX)))
    .neg();
  if (options.weight !== undefined) loss = loss.mul(options.weight);
  return reduce(op, loss, options.reduction);
}

/** Options of {@link binaryCrossEntropyWithLogits}. */
export interface BCEWithLogitsLossOptions extends BCELossOptions {
  /** Weight of the positive examples, broadcast along the last (class) dim. */
  posWeight?: Tensor | undefined;
}

/**
 * Binary cross entropy of logits (PyTorch's `F.binary_cross_entropy_with_logits`), in PyTorch's
 * numerically stable form: `(1 - t) x + lw (m + log(exp(-m) + exp(-x - m)))` with `m = max(-x, 0)`
 * and `lw = (posWeight - 1) t + 1`, times `weight`. Input and target must have the same shape.
 *
 * @example
 * ```ts
 * const loss = binaryCrossEntropyWithLogits(tensor([2, -1]), tensor([1, 0]), { posWeight: tensor([3]) });
 * ```
 */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  options: BCEWithLogitsLossOptions = {},
): Tensor {
  const op = 'binaryCrossEntropyWithLogits';
  checkSameSize(
    op,
    input,
    target,
    `Target size (${fmt(target.shape)}) must be the same as input size (${fmt(input.shape)})`,
  );
  const m = input.neg().relu();
  const softplusNeg = m.add(m.neg().exp().add(input.neg().sub(m).exp()).log());
  const logWeight = options.posWeight === undefined ? undefined : options.posWeight.sub(1).mul(target).add(1);
  let loss = target
    .neg()
    .add(1)
    .mul(input)
    .add(logWeight === undefined ? softplusNeg : logWeight.mul(softplusNeg));
  if (options.weight !== undefined) loss = loss.mul(options.weight);
  return reduce(op, loss, options.reduction);
}

// ---------------------------------------------------------------------------------------------- classification

/** Options of {@link nllLoss}. */
export interface NLLLossOptions extends LossOptions {
  /** Rescaling weight of each class, a 1-D tensor of size C. */
  weight?: Tensor | undefined;
  /** A target value that is ignored and does not count in the mean (default -100). */
  ignoreIndex?: number;
}

/** Options of {@link crossEntropy}. */
export interface CrossEntropyLossOptions extends NLLLossOptions {
  /** Label smoothing in [0, 1] (default 0): the target mixes with the uniform distribution. */
  labelSmoothing?: number;
}

function classDimOf(op: string, input: Tensor): number {
  if (input.ndim < 1) {
    throw new GradfolioError('SHAPE_MISMATCH', `${op}: Expected 1 or more dimensions (got ${input.ndim})`, {
      op,
      shapes: [input.shape],
    });
  }
  return input.ndim === 1 ? 0 : 1;
}

function checkClassWeight(op: string, weight: Tensor | undefined, c: number): void {
  if (weight !== undefined && (weight.ndim !== 1 || weight.shape[0] !== c)) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: weight tensor should be defined either for all ${c} classes or no classes but got weight tensor of shape: ${fmt(weight.shape)}`,
      { op, shapes: [weight.shape] },
    );
  }
}

/** `weight` viewed as `[1, C, 1, ...]` to broadcast against an input with classes in `classDim`. */
function weightView(weight: Tensor, input: Tensor, classDim: number): Tensor {
  const shape = input.shape.map((s, i) => (i === classDim ? s : 1));
  return weight.reshape(shape);
}

/**
 * The elementwise negative log likelihood `-w[t] x[t]` (0 where ignored) and the weights `w[t]`
 * (0 where ignored) whose sum is the divisor of the mean.
 */
function nllParts(
  op: string,
  input: Tensor,
  target: Tensor,
  weight: Tensor | undefined,
  ignoreIndex: number,
): { loss: Tensor; w: Tensor } {
  const classDim = classDimOf(op, input);
  const c = input.shape[classDim] ?? 0;
  if (target.dtype !== 'int32') {
    throw new GradfolioError(
      'DTYPE_MISMATCH',
      `${op}: expected class-index targets of dtype int32, got ${target.dtype}`,
      { op, dtype: target.dtype },
    );
  }
  const expected = input.ndim === 1 ? [] : input.shape.filter((_, i) => i !== 1);
  if (!sameShape(target.shape, expected)) {
    const msg =
      input.ndim >= 2 && target.ndim >= 1 && target.shape[0] !== input.shape[0]
        ? `Expected input batch_size (${input.shape[0]}) to match target batch_size (${target.shape[0]}).`
        : `Expected target size ${fmt(expected)}, got ${fmt(target.shape)}`;
    throw new GradfolioError('SHAPE_MISMATCH', `${op}: ${msg}`, { op, shapes: [input.shape, target.shape] });
  }
  checkClassWeight(op, weight, c);
  if (readable(target)) {
    for (const v of target.dataSync()) {
      const t = Number(v);
      if (t !== ignoreIndex && (t < 0 || t >= c)) {
        throw new GradfolioError('INDEX_OUT_OF_RANGE', `${op}: Target ${t} is out of bounds.`, {
          op,
          target: t,
          classes: c,
        });
      }
    }
  }
  const mask = target.ne(ignoreIndex);
  const safe = where(mask, target, 0).to('int32');
  const picked = input.gather(classDim, safe.unsqueeze(classDim)).squeeze(classDim);
  const w =
    weight === undefined
      ? mask.to(input.dtype)
      : where(mask, weight.gather(0, safe.reshape(-1)).reshape(target.shape), 0).to(input.dtype);
  return { loss: picked.mul(w).neg(), w };
}

/**
 * Negative log likelihood of log-probabilities (PyTorch's `F.nll_loss`): input `[C]`, `[N, C]` or
 * `[N, C, d1, ...]`, class-index target (int32) `[]`, `[N]` or `[N, d1, ...]`; the loss of each element is
 * `-weight[t] input[t]`, 0 where `t === ignoreIndex`; `'mean'` divides by the sum of the weights of the
 * non-ignored targets (NaN when every target is ignored). Shape mismatches and out-of-range targets throw.
 *
 * @example
 * ```ts
 * const loss = nllLoss(logSoftmax(randn([3, 5]), 1), tensor([1, 0, 4], { dtype: 'int32' }));
 * ```
 */
export function nllLoss(input: Tensor, target: Tensor, options: NLLLossOptions = {}): Tensor {
  const op = 'nllLoss';
  const reduction = checkReduction(op, options.reduction ?? 'mean', ['mean', 'sum', 'none']);
  const { loss, w } = nllParts(op, input, target, options.weight, options.ignoreIndex ?? -100);
  if (reduction === 'mean') return loss.sum().div(w.sum());
  if (reduction === 'sum') return loss.sum();
  return loss;
}

/**
 * Cross entropy of logits (PyTorch's `F.cross_entropy`): `logSoftmax` over the class dim (dim 1, or 0
 * for a 1-D input) then {@link nllLoss}. The target is either class indices (int32, shaped like the
 * input without the class dim; `weight`, `ignoreIndex` apply) or class probabilities (float, the input's
 * shape; `'mean'` divides by the number of elements without the class dim). `labelSmoothing` mixes the
 * target with the uniform distribution, exactly as PyTorch does for both kinds of target.
 *
 * @example
 * ```ts
 * const logits = randn([4, 3]);
 * const a = crossEntropy(logits, tensor([0, 2, 1, 1], { dtype: 'int32' }), { labelSmoothing: 0.1 });
 * const b = crossEntropy(logits, softmax(randn([4, 3]), 1));
 * ```
 */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyLossOptions = {}): Tensor {
  const op = 'crossEntropy';
  const reduction = checkReduction(op, options.reduction ?? 'mean', ['mean', 'sum', 'none']);
  const ls = options.labelSmoothing ?? 0;
  const ignoreIndex = options.ignoreIndex ?? -100;
  const weight = options.weight;
  if (!(ls >= 0 && ls <= 1)) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: label_smoothing must be between 0.0 and 1.0. Got: ${ls}`,
      {
        op,
        labelSmoothing: ls,
      },
    );
  }
  const classDim = classDimOf(op, input);
  const c = input.shape[classDim] ?? 0;
  const logp = input.logSoftmax(classDim);

  if (sameShape(input.shape, target.shape)) {
    // Class probabilities.
    if (target.dtype !== 'float32' && target.dtype !== 'float64') {
      throw new GradfolioError(
        'DTYPE_MISMATCH',
        `${op}: Expected floating point type for target with class probabilities, got ${target.dtype}`,
        { op, dtype: target.dtype },
      );
    }
    if (ignoreIndex >= 0) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `${op}: ignore_index is not supported for floating point target`,
        {
          op,
          ignoreIndex,
        },
      );
    }
    checkClassWeight(op, weight, c);
    const t = ls > 0 ? target.mul(1 - ls).add(ls / c) : target;
    let prod = logp.mul(t);
    if (weight !== undefined) prod = prod.mul(weightView(weight, input, classDim));
    if (reduction === 'mean')
      return prod
        .sum()
        .neg()
        .div(input.numel / c);
    if (reduction === 'sum') return prod.sum().neg();
    return prod.sum(classDim).neg();
  }

  // Class indices.
  const { loss, w } = nllParts(op, logp, target, weight, ignoreIndex);
  const reduceNll = (l: Tensor): Tensor =>
    reduction === 'mean' ? l.sum().div(w.sum()) : reduction === 'sum' ? l.sum() : l;
  if (ls <= 0) return reduceNll(loss);
  const weighted = weight === undefined ? logp : logp.mul(weightView(weight, input, classDim));
  const smooth = where(target.ne(ignoreIndex), weighted.sum(classDim).neg(), 0);
  return reduceNll(loss)
    .mul(1 - ls)
    .add(reduceNll(smooth).mul(ls / c));
}

// ---------------------------------------------------------------------------------------------- divergences

/** Options of {@link klDiv}. */
export interface KLDivLossOptions {
  /**
   * `'mean'` (default; divides by every element, with a warning as in PyTorch), `'batchmean'` (divides
   * by the batch size `input.shape[0]`, the mathematical KL divergence), `'sum'` or `'none'`.
   */
  reduction?: Reduction | 'batchmean';
  /** The target is given as log-probabilities (default false). */
  logTarget?: boolean;
}

/**
 * Kullback-Leibler divergence (PyTorch's `F.kl_div`) of the log-probabilities `input` from `target`:
 * `target (log target - input)` (`target · log target` is 0 where `target = 0`), or with `logTarget`
 * `exp(target) (target - input)`. Input and target broadcast.
 *
 * @example
 * ```ts
 * const loss = klDiv(logSoftmax(randn([2, 4]), 1), softmax(randn([2, 4]), 1), { reduction: 'batchmean' });
 * ```
 */
export function klDiv(input: Tensor, target: Tensor, options: KLDivLossOptions = {}): Tensor {
  const op = 'klDiv';
  const reduction = checkReduction(op, options.reduction ?? 'mean', ['mean', 'sum', 'none', 'batchmean']);
  let loss: Tensor;
  if (options.logTarget === true) {
    loss = target.exp().mul(target.sub(input));
  } else {
    const nz = target.ne(0);
    const xlogx = where(nz, target.mul(where(nz, target, 1).log()), 0);
    loss = xlogx.sub(target.mul(input));
  }
  if (reduction === 'mean') {
    warnOnce(
      "reduction: 'mean' divides the total loss by both the batch size and the support size." +
        "'batchmean' divides only by the batch size, and aligns with the KL div math definition." +
        "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
    );
    return loss.mean();
  }
  if (reduction === 'sum') return loss.sum();
  if (reduction === 'batchmean') return input.ndim === 0 ? loss.sum() : loss.sum().div(input.shape[0] ?? 1);
  return loss;
}

/** Options of {@link gaussianNllLoss}. */
export interface GaussianNLLLossOptions extends LossOptions {
  /** Add the constant `0.5 log(2π)` (default false). */
  full?: boolean;
  /** `var` is clamped below at `eps` for stability, without affecting its gradient (default 1e-6). */
  eps?: number;
}

/**
 * Gaussian negative log likelihood (PyTorch's `F.gaussian_nll_loss`):
 * `0.5 (log var + (input - target)² / var)` (+ `0.5 log(2π)` with `full`). `var` has the input's shape,
 * or the input's shape without its last dim, or with a last dim of 1 (one variance per row); any other
 * shape, or a negative entry, throws. `var` is clamped at `eps` with the clamp outside the gradient,
 * as PyTorch does under `no_grad`.
 *
 * @example
 * ```ts
 * const loss = gaussianNllLoss(randn([4, 2]), randn([4, 2]), ones([4, 1]), { full: true });
 * ```
 */
export function gaussianNllLoss(
  input: Tensor,
  target: Tensor,
  variance: Tensor,
  options: GaussianNLLLossOptions = {},
): Tensor {
  const op = 'gaussianNllLoss';
  let v = variance;
  if (!sameShape(v.shape, input.shape)) {
    const lead = input.shape.slice(0, -1);
    if (input.ndim >= 1 && sameShape(lead, v.shape)) v = v.unsqueeze(-1);
    else if (
      !(input.ndim >= 1 && v.ndim >= 1 && sameShape(lead, v.shape.slice(0, -1)) && v.shape[v.ndim - 1] === 1)
    ) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `${op}: var is of incorrect size (input ${fmt(input.shape)}, var ${fmt(v.shape)})`,
        { op, shapes: [input.shape, v.shape] },
      );
    }
  }
  const reduction = checkReduction(op, options.reduction ?? 'mean', ['mean', 'sum', 'none']);
  if (readable(v) && v.lt(0).any().itemSync()) {
    throw new GradfolioError('INVALID_ARGUMENT', `${op}: var has negative entry/entries`, { op });
  }
  const eps = options.eps ?? 1e-6;
  const vd = v.detach();
  // Clamped value, identity gradient (PyTorch clamps a clone in place under no_grad).
  const vc = where(vd.lt(eps), v.sub(vd).add(eps), v);
  const d = input.sub(target);
  let loss = vc.log().add(d.mul(d).div(vc)).mul(0.5);
  if (options.full === true) loss = loss.add(0.5 * Math.log(2 * Math.PI));
  if (reduction === 'mean') return loss.mean();
  if (reduction === 'sum') return loss.sum();
  return loss;
}

// ---------------------------------------------------------------------------------------------- modules

/**
 * Base of the loss modules: holds `reduction`. The repr is the class name with empty parentheses, as in
 * PyTorch (`MSELoss()`).
 *
 * @example
 * ```ts
 * class MyLoss extends Loss { forward(a: Tensor, b: Tensor) { return a.sub(b).abs().max(); } }
 * ```
 */
export abstract class Loss<In extends unknown[] = [Tensor, Tensor]> extends Module<In, Tensor> {
  /** How the elementwise losses are reduced. */
  reduction: Reduction;

  constructor(options: LossOptions = {}) {
    super();
    this.reduction = checkReduction(this.constructor.name, options.reduction ?? 'mean', [
      'mean',
      'sum',
      'none',
    ]);
  }
}

/**
 * {@link mseLoss} as a module (PyTorch's `nn.MSELoss`).
 *
 * @example
 * ```ts
 * const loss = new MSELoss().call(pred, y); // repr: 'MSELoss()'
 * ```
 */
export class MSELoss extends Loss {
  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, { reduction: this.reduction });
  }
}

/**
 * {@link l1Loss} as a module (PyTorch's `nn.L1Loss`).
 *
 * @example
 * ```ts
 * const loss = new L1Loss({ reduction: 'sum' }).call(pred, y); // repr: 'L1Loss()'
 * ```
 */
export class L1Loss extends Loss {
  forward(input: Tensor, target: Tensor): Tensor {
    return l1Loss(input, target, { reduction: this.reduction });
  }
}

/**
 * {@link smoothL1Loss} as a module (PyTorch's `nn.SmoothL1Loss`).
 *
 * @example
 * ```ts
 * const loss = new SmoothL1Loss({ beta: 0.5 }).call(pred, y);
 * ```
 */
export class SmoothL1Loss extends Loss {
  /** Where the loss changes from quadratic to linear. */
  beta: number;
  constructor(options: SmoothL1LossOptions = {}) {
    super(options);
    this.beta = options.beta ?? 1;
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return smoothL1Loss(input, target, { reduction: this.reduction, beta: this.beta });
  }
}

/**
 * {@link huberLoss} as a module (PyTorch's `nn.HuberLoss`).
 *
 * @example
 * ```ts
 * const loss = new HuberLoss({ delta: 2 }).call(pred, y);
 * ```
 */
export class HuberLoss extends Loss {
  /** Where the loss changes from quadratic to linear. */
  delta: number;
  constructor(options: HuberLossOptions = {}) {
    super(options);
    this.delta = options.delta ?? 1;
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return huberLoss(input, target, { reduction: this.reduction, delta: this.delta });
  }
}

/**
 * {@link binaryCrossEntropy} as a module (PyTorch's `nn.BCELoss`); `weight` is a buffer.
 *
 * @example
 * ```ts
 * const loss = new BCELoss().call(sigmoid(logits), y);
 * ```
 */
export class BCELoss extends Loss {
  /** Rescaling weight (a buffer), or undefined. */
  weight: Tensor | undefined;
  constructor(options: BCELossOptions = {}) {
    super(options);
    this.weight = this.registerBuffer('weight', options.weight);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropy(input, target, { reduction: this.reduction, weight: this.weight });
  }
}

/**
 * {@link binaryCrossEntropyWithLogits} as a module (PyTorch's `nn.BCEWithLogitsLoss`); `weight` and
 * `posWeight` are buffers.
 *
 * @example
 * ```ts
 * const loss = new BCEWithLogitsLoss({ posWeight: tensor([2, 1, 1]) }).call(logits, y);
 * ```
 */
export class BCEWithLogitsLoss extends Loss {
  /** Rescaling weight (a buffer), or undefined. */
  weight: Tensor | undefined;
  /** Weight of the positive examples (a buffer, PyTorch's `pos_weight`), or undefined. */
  posWeight: Tensor | undefined;
  constructor(options: BCEWithLogitsLossOptions = {}) {
    super(options);
    this.weight = this.registerBuffer('weight', options.weight);
    this.posWeight = this.registerBuffer('pos_weight', options.posWeight);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, {
      reduction: this.reduction,
      weight: this.weight,
      posWeight: this.posWeight,
    });
  }
}

/**
 * {@link nllLoss} as a module (PyTorch's `nn.NLLLoss`); `weight` is a buffer.
 *
 * @example
 * ```ts
 * const loss = new NLLLoss({ ignoreIndex: 0 }).call(logSoftmax(logits, 1), labels);
 * ```
 */
export class NLLLoss extends Loss {
  /** Class weights (a buffer), or undefined. */
  weight: Tensor | undefined;
  /** The ignored target value. */
  ignoreIndex: number;
  constructor(options: NLLLossOptions = {}) {
    super(options);
    this.weight = this.registerBuffer('weight', options.weight);
    this.ignoreIndex = options.ignoreIndex ?? -100;
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return nllLoss(input, target, {
      reduction: this.reduction,
      weight: this.weight,
      ignoreIndex: this.ignoreIndex,
    });
  }
}

/**
 * {@link crossEntropy} as a module (PyTorch's `nn.CrossEntropyLoss`); `weight` is a buffer.
 *
 * @example
 * ```ts
 * const loss = new CrossEntropyLoss({ labelSmoothing: 0.1 }).call(logits, labels);
 * ```
 */
export class CrossEntropyLoss extends Loss {
  /** Class weights (a buffer), or undefined. */
  weight: Tensor | undefined;
  /** The ignored target value. */
  ignoreIndex: number;
  /** Label smoothing in [0, 1]. */
  labelSmoothing: number;
  constructor(options: CrossEntropyLossOptions = {}) {
    super(options);
    this.weight = this.registerBuffer('weight', options.weight);
    this.ignoreIndex = options.ignoreIndex ?? -100;
    this.labelSmoothing = options.labelSmoothing ?? 0;
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, {
      reduction: this.reduction,
      weight: this.weight,
      ignoreIndex: this.ignoreIndex,
      labelSmoothing: this.labelSmoothing,
    });
  }
}

/**
 * {@link klDiv} as a module (PyTorch's `nn.KLDivLoss`), with `reduction` also accepting `'batchmean'`.
 *
 * @example
 * ```ts
 * const loss = new KLDivLoss({ reduction: 'batchmean' }).call(logSoftmax(x, 1), p);
 * ```
 */
export class KLDivLoss extends Module<[Tensor, Tensor], Tensor> {
  /** How the elementwise losses are reduced. */
  reduction: Reduction | 'batchmean';
  /** The target is log-probabilities. */
  logTarget: boolean;
  constructor(options: KLDivLossOptions = {}) {
    super();
    this.reduction = checkReduction('KLDivLoss', options.reduction ?? 'mean', [
      'mean',
      'sum',
      'none',
      'batchmean',
    ]);
    this.logTarget = options.logTarget ?? false;
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return klDiv(input, target, { reduction: this.reduction, logTarget: this.logTarget });
  }
}

/**
 * {@link gaussianNllLoss} as a module (PyTorch's `nn.GaussianNLLLoss`): `forward(input, target, var)`.
 *
 * @example
 * ```ts
 * const loss = new GaussianNLLLoss({ full: true }).call(mu, y, sigma2);
 * ```
 */
export class GaussianNLLLoss extends Loss<[Tensor, Tensor, Tensor]> {
  /** Add the constant term. */
  full: boolean;
  /** Clamp of `var`. */
  eps: number;
  constructor(options: GaussianNLLLossOptions = {}) {
    super(options);
    this.full = options.full ?? false;
    this.eps = options.eps ?? 1e-6;
  }
  forward(input: Tensor, target: Tensor, variance: Tensor): Tensor {
    return gaussianNllLoss(input, target, variance, {
      reduction: this.reduction,
      full: this.full,
      eps: this.eps,
    });
  }
}
