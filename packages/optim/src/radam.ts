import { type Tensor, zerosLike } from '@gradfolio/tensor';
import { checkAdamLike } from './adam.js';
import { Optimizer, type ParamGroup, type Params } from './optimizer.js';

/** Options of {@link RAdam} (PyTorch's names in camelCase). */
export interface RAdamOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Coefficients of the running averages of the gradient and of its square (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number;
  /** Weight decay: L2 penalty added to the gradient (default 0). */
  weightDecay: number;
}

/**
 * RAdam (Liu et al.): Adam with the variance of the adaptive learning rate rectified (plain momentum
 * steps while the approximated SMA length is at most 5), with L2 weight decay, exactly as PyTorch's
 * `torch.optim.RAdam` updates (single-tensor path).
 *
 * State per parameter: `step` (a number), `exp_avg` and `exp_avg_sq`.
 *
 * @example
 * ```ts
 * const opt = new RAdam([w], { lr: 1e-3 });
 * opt.zeroGrad(); loss.backward(); opt.step();
 * ```
 */
export class RAdam extends Optimizer<RAdamOptions> {
  constructor(params: Params<RAdamOptions>, options: Partial<RAdamOptions> = {}) {
    super('RAdam', params, {
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      ...options,
    });
  }

  protected override validate(g: ParamGroup<RAdamOptions>): void {
    checkAdamLike('RAdam', g);
  }

  protected update(g: ParamGroup<RAdamOptions>): void {
    const [beta1, beta2] = g.betas;
    for (const p of g.params) {
      if (p.grad === undefined) continue;
      const state = this.stateOf(p);
      if (Object.keys(state).length === 0) {
        state.step = 0;
        state.exp_avg = zerosLike(p);
        state.exp_avg_sq = zerosLike(p);
      }
      const step = (state.step as number) + 1;
      state.step = step;
      const biasCorrection1 = 1 - beta1 ** step;
      const biasCorrection2 = 1 - beta2 ** step;
      let grad: Tensor = p.grad;
      if (g.weightDecay !== 0) grad = grad.add(p, { alpha: g.weightDecay });
      const expAvg = state.exp_avg as Tensor;
      const expAvgSq = state.exp_avg_sq as Tensor;
      expAvg.mul_(beta1).add_(grad, { alpha: 1 - beta1 });
      expAvgSq.mul_(beta2).add_(grad.mul(1 - beta2).mul(grad));
      const biasCorrectedExpAvg = expAvg.div(biasCorrection1);
      const rhoInf = 2 / (1 - beta2) - 1;
      const rhoT = rhoInf - (2 * step * beta2 ** step) / biasCorrection2;
      if (rhoT > 5) {
        const rect = Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
        // sqrt(bias_correction2) / tensor is tensor.reciprocal() * sqrt(bias_correction2) in PyTorch
        const adaptiveLr = expAvgSq.sqrt().add_(g.eps).reciprocal().mul(Math.sqrt(biasCorrection2));
        p.add_(biasCorrectedExpAvg.mul(g.lr).mul(adaptiveLr).mul(rect), { alpha: -1 });
      } else {
        p.add_(biasCorrectedExpAvg.mul(g.lr), { alpha: -1 });
      }
    }
  }
}
