import { adamUpdate_, type Tensor, zerosLike } from '@gradfolio/tensor';
import { check, Optimizer, type ParamGroup, type ParamState, type Params } from './optimizer.js';

/** Options of {@link Adam} (PyTorch's names in camelCase). */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Coefficients of the running averages of the gradient and of its square (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number;
  /** Weight decay: L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Use the AMSGrad variant (the maximum of past squared averages; default false). */
  amsgrad: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}

/** PyTorch's range checks shared by the Adam family. @internal */
export function checkAdamLike(
  name: string,
  g: { lr: number; eps: number; betas: readonly [number, number]; weightDecay: number },
): void {
  check(name, g.lr >= 0, 'learning rate', g.lr);
  check(name, g.eps >= 0, 'epsilon value', g.eps);
  check(name, g.betas[0] >= 0 && g.betas[0] < 1, 'beta parameter at index 0', g.betas[0]);
  check(name, g.betas[1] >= 0 && g.betas[1] < 1, 'beta parameter at index 1', g.betas[1]);
  check(name, g.weightDecay >= 0, 'weight_decay value', g.weightDecay);
}

/**
 * One Adam/AdamW moment update and parameter step (PyTorch's `_single_tensor_adam` after the weight
 * decay): updates `exp_avg`, `exp_avg_sq` (and `max_exp_avg_sq`) in `state` and moves `p`. @internal
 */
export function adamStep(
  p: Tensor,
  grad: Tensor,
  state: ParamState,
  g: { lr: number; betas: readonly [number, number]; eps: number; amsgrad: boolean },
): void {
  const [beta1, beta2] = g.betas;
  const step = state.step as number;
  const expAvg = state.exp_avg as Tensor;
  const expAvgSq = state.exp_avg_sq as Tensor;
  let maxSq: Tensor | undefined;
  if (g.amsgrad) {
    maxSq = (state.max_exp_avg_sq as Tensor | undefined | null) ?? zerosLike(p);
    state.max_exp_avg_sq = maxSq;
  }
  // One fused pass where the backend has the kernel (bit-identical to the ops below).
  if (adamUpdate_(p, grad, expAvg, expAvgSq, maxSq, { lr: g.lr, beta1, beta2, eps: g.eps, step })) return;
  expAvg.mul_(beta1).add_(grad, { alpha: 1 - beta1 });
  // addcmul_(grad, grad, value=1 - beta2): exp_avg_sq + ((1 - beta2) * grad) * grad
  expAvgSq.mul_(beta2).add_(grad.mul(1 - beta2).mul(grad));
  const biasCorrection1 = 1 - beta1 ** step;
  const biasCorrection2 = 1 - beta2 ** step;
  const stepSize = g.lr / biasCorrection1;
  const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
  let v = expAvgSq;
  if (maxSq !== undefined) {
    maxSq.copy_(maxSq.maximum(expAvgSq));
    v = maxSq;
  }
  const denom = v.sqrt().div(biasCorrection2Sqrt).add_(g.eps);
  // addcdiv_(exp_avg, denom, value=-step_size): p + (-step_size * exp_avg) / denom
  p.add_(expAvg.mul(-stepSize).div(denom));
}

/** Creates Adam's state on first use (`step`, `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`). @internal */
export function initAdamState(state: ParamState, p: Tensor, amsgrad: boolean): ParamState {
  if (Object.keys(state).length === 0) {
    state.step = 0;
    state.exp_avg = zerosLike(p);
    state.exp_avg_sq = zerosLike(p);
    if (amsgrad) state.max_exp_avg_sq = zerosLike(p);
  }
  return state;
}

/**
 * Adam (Kingma & Ba), with optional L2 weight decay (added to the gradient), AMSGrad and
 * maximization, exactly as PyTorch's `torch.optim.Adam` updates (single-tensor path).
 *
 * State per parameter: `step` (a number), `exp_avg`, `exp_avg_sq` and, with `amsgrad`,
 * `max_exp_avg_sq`.
 *
 * @example
 * ```ts
 * const opt = new Adam([w, b], { lr: 1e-3, betas: [0.9, 0.999] });
 * opt.zeroGrad(); loss.backward(); opt.step();
 * ```
 */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super('Adam', params, {
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      amsgrad: false,
      maximize: false,
      ...options,
    });
  }

  protected override validate(g: ParamGroup<AdamOptions>): void {
    checkAdamLike('Adam', g);
  }

  protected update(g: ParamGroup<AdamOptions>): void {
    for (const p of g.params) {
      if (p.grad === undefined) continue;
      let grad: Tensor = g.maximize ? p.grad.neg() : p.grad;
      const state = initAdamState(this.stateOf(p), p, g.amsgrad);
      state.step = (state.step as number) + 1;
      if (g.weightDecay !== 0) grad = grad.add(p, { alpha: g.weightDecay });
      adamStep(p, grad, state, g);
    }
  }
}
