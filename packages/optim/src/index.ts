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

export { Adagrad, type AdagradOptions } from './adagrad.js';
export { Adam, type AdamOptions } from './adam.js';
export { AdamW, type AdamWOptions } from './adamw.js';
export { type AsyncClosure, LBFGS, type LBFGSOptions } from './lbfgs.js';
export {
  CosineAnnealingLR,
  type CosineAnnealingLROptions,
  ExponentialLR,
  type ExponentialLROptions,
  type JsonNumber,
  LambdaLR,
  type LambdaLROptions,
  LinearLR,
  type LinearLROptions,
  LRScheduler,
  type LRSchedulerOptions,
  type LRSchedulerStateDict,
  type LrLambda,
  MultiStepLR,
  type MultiStepLROptions,
  OneCycleLR,
  type OneCycleLROptions,
  type OneCyclePhase,
  ReduceLROnPlateau,
  type ReduceLROnPlateauOptions,
  type ReduceLROnPlateauStateDict,
  type SchedulableOptimizer,
  type SchedulableParamGroup,
  SequentialLR,
  type SequentialLROptions,
  StepLR,
  type StepLROptions,
} from './lr-scheduler.js';
export { NAdam, type NAdamOptions } from './nadam.js';
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
export { RAdam, type RAdamOptions } from './radam.js';
export { RMSprop, type RMSpropOptions } from './rmsprop.js';
export { SGD, type SGDOptions } from './sgd.js';
