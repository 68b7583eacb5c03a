/**
 * `@gradfolio/optim`: PyTorch's optimizers and learning-rate schedulers. Optimizers take parameters
 * (`Iterable<Tensor>`) or parameter groups, not modules, so they work with or without `@gradfolio/nn`.
 *
 * ```ts
 * import { SGD } from '@gradfolio/optim';
 * const opt = new SGD([weights], { lr: 0.01 });
 * for (let epoch = 0; epoch < 500; epoch++) {
 *   opt.zeroGrad();
 *   risk(weights).backward();
 *   opt.step();
 * }
 * ```
 *
 * @packageDocumentation
 */

export {
  type Closure,
  Optimizer,
  type OptimizerStateDict,
  type ParamGroup,
  type ParamGroupInput,
  type ParamState,
  type Params,
  type StateValue,
} from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
