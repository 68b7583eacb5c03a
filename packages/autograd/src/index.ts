/**
 * `@gradfolio/autograd`: reverse-mode automatic differentiation for `@gradfolio/tensor`, with
 * PyTorch's semantics. Importing the package installs it into the tensor core, after which
 * `requiresGrad`, `backward()`, `grad`, `retainGrad()` and `registerHook()` work on every tensor.
 *
 * ```ts
 * import { tensor } from '@gradfolio/tensor';
 * import { grad, noGrad } from '@gradfolio/autograd';
 *
 * const w = tensor([0.5, -1]).requiresGrad_();
 * const loss = w.mul(w).sum();
 * loss.backward();
 * noGrad(() => w.sub_(w.grad!.mul(0.1)));
 * ```
 *
 * @packageDocumentation
 */

import { setAutogradHook, type Tensor } from '@gradfolio/tensor';
import {
  afterInplace,
  beforeInplace,
  recordOp,
  registerHook,
  retainGrad,
  backward as runBackward,
} from './engine.js';
import { isGradEnabled, noGrad } from './mode.js';

export { derivatives, registerDerivative } from './derivatives.js';
export {
  type BackwardOptions,
  backward,
  type GradOptions,
  grad,
  registerHook,
  sumToShape,
} from './engine.js';
export { type GradcheckOptions, gradcheck, gradgradcheck } from './gradcheck.js';
export {
  detectAnomaly,
  enableGrad,
  isAnomalyEnabled,
  isGradEnabled,
  type ModeScope,
  noGrad,
  setDetectAnomaly,
  setGradEnabled,
} from './mode.js';
export { type Derivative, type DerivativeContext, Node, type SaveSpec, type TensorHook } from './node.js';

/**
 * Resets the gradients of `params`: by default drops them (`grad = undefined`, PyTorch's
 * `set_to_none=True`; on GPU backends the dropped gradient is disposed at once), or zeroes them in place
 * with `{ setToNone: false }`.
 *
 * @example
 * ```ts
 * zeroGrad([w, b]);
 * ```
 */
export function zeroGrad(params: Iterable<Tensor>, options: { setToNone?: boolean } = {}): void {
  for (const p of params) {
    if (p.grad === undefined) continue;
    if (options.setToNone ?? true) {
      const g = p.grad;
      p.grad = undefined;
      // GPU memory does not wait for the garbage collector: the old gradient is released now.
      if (g.backend.gcManaged !== true) g.dispose();
    } else {
      // A gradient built with createGraph carries a graph: cut it, then zero in place.
      if (p.grad.gradFn !== undefined) p.grad = p.grad.detach();
      const g = p.grad;
      noGrad(() => g.zero_());
    }
  }
}

setAutogradHook({
  isGradEnabled,
  record: recordOp,
  beforeInplace,
  afterInplace,
  backward: (t, gradient, options) => runBackward(t, gradient, options),
  retainGrad,
  registerHook,
});
