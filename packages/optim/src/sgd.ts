import { GradfolioError, sgdUpdate_, type Tensor, zerosLike } from '@gradfolio/tensor';
import { check, Optimizer, type ParamGroup, type Params } from './optimizer.js';

/** Options of {@link SGD} (PyTorch's names in camelCase). */
export interface SGDOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Momentum factor (default 0: plain SGD). */
  momentum: number;
  /** Dampening of the momentum (default 0). */
  dampening: number;
  /** Weight decay: L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}

/**
 * Stochastic gradient descent with optional momentum, dampening, Nesterov momentum, weight decay and
 * maximization, exactly as PyTorch's `torch.optim.SGD` updates.
 *
 * @example
 * ```ts
 * const opt = new SGD([w, b], { lr: 0.01, momentum: 0.9 });
 * opt.zeroGrad(); loss.backward(); opt.step();
 * ```
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: Params<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super('SGD', params, {
      lr: 1e-3,
      momentum: 0,
      dampening: 0,
      weightDecay: 0,
      nesterov: false,
      maximize: false,
      ...options,
    });
  }

  protected override validate(g: ParamGroup<SGDOptions>): void {
    check('SGD', g.lr >= 0, 'learning rate', g.lr);
    check('SGD', g.momentum >= 0, 'momentum value', g.momentum);
    check('SGD', g.weightDecay >= 0, 'weight_decay value', g.weightDecay);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `SGD: Nesterov momentum requires a momentum and zero dampening (got momentum ${g.momentum}, dampening ${g.dampening})`,
        { op: 'SGD' },
      );
    }
  }

  protected update(g: ParamGroup<SGDOptions>): void {
    for (const p of g.params) {
      if (p.grad === undefined) continue;
      let d: Tensor = g.maximize ? p.grad.neg() : p.grad;
      if (g.weightDecay !== 0) d = d.add(p, { alpha: g.weightDecay });
      const fused = { lr: g.lr, momentum: g.momentum, dampening: g.dampening, nesterov: g.nesterov };
      if (g.momentum !== 0) {
        const state = this.stateOf(p);
        let buf = state.momentum_buffer as Tensor | undefined;
        const init = buf === undefined || buf === null;
        // One fused pass where the backend has the kernel (bit-identical to the ops below).
        const fresh = init ? zerosLike(p) : (buf as Tensor);
        if (sgdUpdate_(p, d, fresh, { ...fused, init })) {
          state.momentum_buffer = fresh;
          continue;
        }
        if (buf === undefined || buf === null) {
          buf = d.detach().clone();
          state.momentum_buffer = buf;
        } else {
          buf.mul_(g.momentum).add_(d, { alpha: 1 - g.dampening });
        }
        d = g.nesterov ? d.add(buf, { alpha: g.momentum }) : buf;
      } else if (sgdUpdate_(p, d, undefined, { ...fused, init: false })) continue;
      p.add_(d, { alpha: -g.lr });
    }
  }
}
