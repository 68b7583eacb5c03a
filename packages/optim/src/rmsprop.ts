import { type Tensor, zerosLike } from '@gradfolio/tensor';
import { check, Optimizer, type ParamGroup, type Params } from './optimizer.js';

/** Options of {@link RMSprop} (PyTorch's names in camelCase). */
export interface RMSpropOptions {
  /** Learning rate (default 1e-2). */
  lr: number;
  /** Smoothing constant of the running mean of squared gradients (default 0.99). */
  alpha: number;
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number;
  /** Weight decay: L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Momentum factor (default 0). */
  momentum: number;
  /** Normalize by the estimated variance of the gradient instead of its second moment (default false). */
  centered: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}

/**
 * RMSprop (Hinton): divides the gradient by a running root mean square, optionally centered (by the
 * running mean of the gradient), with momentum, L2 weight decay and maximization, exactly as
 * PyTorch's `torch.optim.RMSprop` updates (single-tensor path).
 *
 * State per parameter: `step` (a number), `square_avg`, and `momentum_buffer` (with `momentum > 0`)
 * and `grad_avg` (with `centered`).
 *
 * @example
 * ```ts
 * const opt = new RMSprop([w], { lr: 1e-2, alpha: 0.99, centered: true });
 * opt.zeroGrad(); loss.backward(); opt.step();
 * ```
 */
export class RMSprop extends Optimizer<RMSpropOptions> {
  constructor(params: Params<RMSpropOptions>, options: Partial<RMSpropOptions> = {}) {
    super('RMSprop', params, {
      lr: 1e-2,
      alpha: 0.99,
      eps: 1e-8,
      weightDecay: 0,
      momentum: 0,
      centered: false,
      maximize: false,
      ...options,
    });
  }

  protected override validate(g: ParamGroup<RMSpropOptions>): void {
    check('RMSprop', g.lr >= 0, 'learning rate', g.lr);
    check('RMSprop', g.eps >= 0, 'epsilon value', g.eps);
    check('RMSprop', g.momentum >= 0, 'momentum value', g.momentum);
    check('RMSprop', g.weightDecay >= 0, 'weight_decay value', g.weightDecay);
    check('RMSprop', g.alpha >= 0, 'alpha value', g.alpha);
  }

  protected update(g: ParamGroup<RMSpropOptions>): void {
    for (const p of g.params) {
      if (p.grad === undefined) continue;
      const state = this.stateOf(p);
      if (Object.keys(state).length === 0) {
        state.step = 0;
        state.square_avg = zerosLike(p);
        if (g.momentum > 0) state.momentum_buffer = zerosLike(p);
        if (g.centered) state.grad_avg = zerosLike(p);
      }
      state.step = (state.step as number) + 1;
      let grad: Tensor = g.maximize ? p.grad.neg() : p.grad;
      if (g.weightDecay !== 0) grad = grad.add(p, { alpha: g.weightDecay });
      const squareAvg = state.square_avg as Tensor;
      // addcmul_(grad, grad, value=1 - alpha)
      squareAvg.mul_(g.alpha).add_(grad.mul(1 - g.alpha).mul(grad));
      let avg: Tensor;
      if (g.centered) {
        let gradAvg = state.grad_avg as Tensor | undefined | null;
        if (gradAvg === undefined || gradAvg === null) {
          gradAvg = zerosLike(p);
          state.grad_avg = gradAvg;
        }
        gradAvg.mul_(g.alpha).add_(grad, { alpha: 1 - g.alpha });
        // square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        avg = squareAvg.add(gradAvg.mul(-1).mul(gradAvg)).sqrt_();
      } else {
        avg = squareAvg.sqrt();
      }
      avg.add_(g.eps);
      if (g.momentum > 0) {
        let buf = state.momentum_buffer as Tensor | undefined | null;
        if (buf === undefined || buf === null) {
          buf = zerosLike(p);
          state.momentum_buffer = buf;
        }
        // buf.mul_(momentum).addcdiv_(grad, avg)
        buf.mul_(g.momentum).add_(grad.div(avg));
        p.add_(buf, { alpha: -g.lr });
      } else {
        // addcdiv_(grad, avg, value=-lr): p + (-lr * grad) / avg
        p.add_(grad.mul(-g.lr).div(avg));
      }
    }
  }
}
