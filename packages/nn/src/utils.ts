/**
 * Gradient and parameter utilities (PyTorch's `torch.nn.utils`): gradient clipping and flattening
 * parameters to one vector.
 *
 * @module
 */

import { noGrad } from '@gradfolio/autograd';
import { cat, GradfolioError, stack, Tensor, tensor } from '@gradfolio/tensor';

/** Parameters as PyTorch accepts them: one tensor or any iterable of tensors. */
export type ParametersInput = Tensor | Iterable<Tensor>;

function toList(parameters: ParametersInput): Tensor[] {
  return parameters instanceof Tensor ? [parameters] : [...parameters];
}

/** Options of {@link clipGradNorm_}. */
export interface ClipGradNormOptions {
  /** Order of the norm: a number or `Infinity` (default 2). */
  normType?: number;
  /** Throw when the total norm is NaN or infinite instead of scaling by it (default false). */
  errorIfNonfinite?: boolean;
}

/**
 * Scales the gradients of `parameters` in place so that their total norm (the `normType`-norm of the
 * per-gradient norms, or the max abs value for `Infinity`) is at most `maxNorm`, and returns the total
 * norm before clipping as a 0-d tensor (PyTorch 1.13's `clip_grad_norm_`: coefficient
 * `min(maxNorm / (total + 1e-6), 1)`; parameters without grad are skipped; no grads gives `tensor(0.)`).
 *
 * @example
 * ```ts
 * loss.backward();
 * const total = clipGradNorm_(model.parameters(), 1.0);
 * clipGradNorm_(model.parameters(), 1.0, Infinity);
 * clipGradNorm_(model.parameters(), 1.0, { normType: 2, errorIfNonfinite: true });
 * ```
 */
export function clipGradNorm_(
  parameters: ParametersInput,
  maxNorm: number,
  normType: number | ClipGradNormOptions = 2,
  options: ClipGradNormOptions = {},
): Tensor {
  const opts = typeof normType === 'number' ? { ...options, normType } : { ...normType, ...options };
  const p = opts.normType ?? 2;
  const grads = toList(parameters)
    .map((t) => t.grad)
    .filter((g): g is Tensor => g !== undefined);
  if (grads.length === 0) return tensor(0);
  return noGrad(() => {
    const device = grads[0]!.device;
    let total: Tensor;
    if (p === Number.POSITIVE_INFINITY) {
      const norms = grads.map((g) => g.detach().abs().max().to({ device }));
      total = norms.length === 1 ? norms[0]! : stack(norms).max();
    } else {
      total = stack(grads.map((g) => g.detach().norm(p).to({ device }))).norm(p);
    }
    if (opts.errorIfNonfinite === true && !Number.isFinite(Number(total.itemSync()))) {
      throw new GradfolioError(
        'NONFINITE_NORM',
        `The total norm of order ${p === Number.POSITIVE_INFINITY ? 'inf' : pyNum(p)} for gradients from \`parameters\` is non-finite, so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set \`error_if_nonfinite=False\``,
        { op: 'clipGradNorm_', normType: p },
      );
    }
    const coef = total.add(1e-6).reciprocal().mul(maxNorm).clamp({ max: 1 });
    for (const g of grads) g.mul_(coef.to({ device: g.device }));
    return total;
  });
}

function pyNum(x: number): string {
  return Number.isInteger(x) ? x.toFixed(1) : String(x);
}

/**
 * Clamps the gradients of `parameters` in place to `[-clipValue, clipValue]`.
 *
 * @example
 * ```ts
 * clipGradValue_(model.parameters(), 0.5);
 * ```
 */
export function clipGradValue_(parameters: ParametersInput, clipValue: number): void {
  noGrad(() => {
    for (const t of toList(parameters)) t.grad?.clamp_(-clipValue, clipValue);
  });
}

/**
 * Concatenates the flattened parameters into one 1-D tensor (differentiable, like PyTorch).
 *
 * @example
 * ```ts
 * const v = parametersToVector(model.parameters()); // numel = total parameter count
 * ```
 */
export function parametersToVector(parameters: Iterable<Tensor>): Tensor {
  const list = [...parameters];
  if (list.length === 0) return tensor([]);
  const device = list[0]!.device;
  for (const t of list) {
    if (t.device !== device) {
      throw new GradfolioError(
        'DEVICE_MISMATCH',
        'Found two parameters on different devices, this is currently not supported.',
        {
          op: 'parametersToVector',
          devices: [device, t.device],
        },
      );
    }
  }
  return cat(list.map((t) => t.reshape([-1])));
}

/**
 * Copies consecutive slices of the 1-D `vec` into `parameters` (in place, without recording grad).
 * PyTorch rebinds `param.data` to views of `vec`; gradfolio tensors cannot change storage, so this
 * copies instead and the parameters keep their identity.
 *
 * @example
 * ```ts
 * vectorToParameters(parametersToVector(a.parameters()), b.parameters());
 * ```
 */
export function vectorToParameters(vec: Tensor, parameters: Iterable<Tensor>): void {
  if (!(vec instanceof Tensor)) {
    throw new GradfolioError('INVALID_ARGUMENT', `expected Tensor, but got: ${typeof vec}`, {
      op: 'vectorToParameters',
    });
  }
  const list = [...parameters];
  const total = list.reduce((s, t) => s + t.numel, 0);
  if (vec.ndim !== 1 || vec.numel !== total) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `vectorToParameters: expected a 1-D tensor of ${total} elements, got shape [${vec.shape.join(', ')}]`,
      { op: 'vectorToParameters', shapes: [vec.shape] },
    );
  }
  noGrad(() => {
    let offset = 0;
    for (const t of list) {
      t.copy_(vec.narrow(0, offset, t.numel).reshape(t.shape));
      offset += t.numel;
    }
  });
}
