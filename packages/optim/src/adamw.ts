import type { Tensor } from '@gradfolio/tensor';
import { adamStep, checkAdamLike, initAdamState } from './adam.js';
import { Optimizer, type ParamGroup, type Params } from './optimizer.js';

/** Options of {@link AdamW} (PyTorch's names in camelCase). */
export interface AdamWOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Coefficients of the running averages of the gradient and of its square (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number;
  /** Weight decay: decoupled, the parameter is scaled by 1 - lr * weightDecay (default 1e-2). */
  weightDecay: number;
  /** Use the AMSGrad variant (the maximum of past squared averages; default false). */
  amsgrad: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}

/**
 * AdamW (Loshchilov & Hutter): Adam with decoupled weight decay (the parameter is first scaled by
 * `1 - lr * weightDecay`, default `weightDecay` 1e-2), optional AMSGrad and maximization, exactly as
 * PyTorch's `torch.optim.AdamW` updates (single-tensor path).
 *
 * State per parameter: `step` (a number), `exp_avg`, `exp_avg_sq` and, with `amsgrad`,
 * `max_exp_avg_sq`.
 *
 * @example
 * ```ts
 * const opt = new AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.1 });
 * opt.zeroGrad(); loss.backward(); opt.step();
 * ```
 */
export class AdamW extends Optimizer<AdamWOptions> {
  constructor(params: Params<AdamWOptions>, options: Partial<AdamWOptions> = {}) {
    super('AdamW', params, {
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 1e-2,
      amsgrad: false,
      maximize: false,
      ...options,
    });
  }

  protected override validate(g: ParamGroup<AdamWOptions>): void {
    checkAdamLike('AdamW', g);
  }

  protected update(g: ParamGroup<AdamWOptions>): void {
    for (const p of g.params) {
      if (p.grad === undefined) continue;
      const grad: Tensor = g.maximize ? p.grad.neg() : p.grad;
      const state = initAdamState(this.stateOf(p), p, g.amsgrad);
      state.step = (state.step as number) + 1;
      p.mul_(1 - g.lr * g.weightDecay);
      adamStep(p, grad, state, g);
    }
  }
}
