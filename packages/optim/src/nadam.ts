import { type Tensor, zerosLike } from '@gradfolio/tensor';
import { checkAdamLike } from './adam.js';
import { check, Optimizer, type ParamGroup, type Params } from './optimizer.js';

/** Options of {@link NAdam} (PyTorch's names in camelCase). */
export interface NAdamOptions {
  /** Learning rate (default 2e-3). */
  lr: number;
  /** Coefficients of the running averages of the gradient and of its square (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number;
  /** Weight decay: L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Momentum decay psi of the momentum schedule (default 4e-3). */
  momentumDecay: number;
}

/**
 * NAdam (Dozat): Adam with Nesterov momentum and a momentum schedule (`momentumDecay`), with L2
 * weight decay, exactly as PyTorch's `torch.optim.NAdam` updates (single-tensor path).
 *
 * State per parameter: `step` (a number), `mu_product` (a number, rounded to float32 at each update as
 * PyTorch's float32 `mu_product` tensor is), `exp_avg` and `exp_avg_sq`.
 *
 * @example
 * ```ts
 * const opt = new NAdam([w], { lr: 2e-3, momentumDecay: 4e-3 });
 * opt.zeroGrad(); loss.backward(); opt.step();
 * ```
 */
export class NAdam extends Optimizer<NAdamOptions> {
  constructor(params: Params<NAdamOptions>, options: Partial<NAdamOptions> = {}) {
    super('NAdam', params, {
      lr: 2e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      momentumDecay: 4e-3,
      ...options,
    });
  }

  protected override validate(g: ParamGroup<NAdamOptions>): void {
    checkAdamLike('NAdam', g);
    check('NAdam', g.momentumDecay >= 0, 'momentum_decay value', g.momentumDecay);
  }

  protected update(g: ParamGroup<NAdamOptions>): void {
    const [beta1, beta2] = g.betas;
    for (const p of g.params) {
      if (p.grad === undefined) continue;
      const state = this.stateOf(p);
      if (Object.keys(state).length === 0) {
        state.step = 0;
        state.mu_product = 1;
        state.exp_avg = zerosLike(p);
        state.exp_avg_sq = zerosLike(p);
      }
      const step = (state.step as number) + 1;
      state.step = step;
      const biasCorrection2 = 1 - beta2 ** step;
      let grad: Tensor = p.grad;
      if (g.weightDecay !== 0) grad = grad.add(p, { alpha: g.weightDecay });
      const mu = beta1 * (1 - 0.5 * 0.96 ** (step * g.momentumDecay));
      const muNext = beta1 * (1 - 0.5 * 0.96 ** ((step + 1) * g.momentumDecay));
      // PyTorch keeps mu_product in a float32 tensor: float32 products with the scalars cast to float32.
      const f = Math.fround;
      const muProduct = f((state.mu_product as number) * f(mu));
      state.mu_product = muProduct;
      const muProductNext = f(f(muProduct * f(mu)) * f(muNext));
      const expAvg = state.exp_avg as Tensor;
      const expAvgSq = state.exp_avg_sq as Tensor;
      expAvg.mul_(beta1).add_(grad, { alpha: 1 - beta1 });
      expAvgSq.mul_(beta2).add_(grad.mul(1 - beta2).mul(grad));
      const denom = expAvgSq.div(biasCorrection2).sqrt().add_(g.eps);
      // addcdiv_(grad, denom, value=...) then addcdiv_(exp_avg, denom, value=...)
      p.add_(grad.mul((-g.lr * (1 - mu)) / (1 - muProduct)).div(denom));
      p.add_(expAvg.mul((-g.lr * muNext) / (1 - muProductNext)).div(denom));
    }
  }
}
