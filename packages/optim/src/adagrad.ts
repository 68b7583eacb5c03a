import { fullLike, type Tensor } from '@gradfolio/tensor';
import {
  check,
  Optimizer,
  type ParamGroup,
  type ParamGroupInput,
  type ParamState,
  type Params,
} from './optimizer.js';

/** Options of {@link Adagrad} (PyTorch's names in camelCase). */
export interface AdagradOptions {
  /** Learning rate (default 1e-2). */
  lr: number;
  /** Learning-rate decay: the step uses lr / (1 + (step - 1) * lrDecay) (default 0). */
  lrDecay: number;
  /** Weight decay: L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Initial value of the sum of squared gradients (default 0). */
  initialAccumulatorValue: number;
  /** Added to the denominator for numerical stability (default 1e-10). */
  eps: number;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}

/**
 * Adagrad (Duchi et al.): divides the gradient by the root of the sum of all squared gradients, with
 * learning-rate decay, L2 weight decay and maximization, exactly as PyTorch's `torch.optim.Adagrad`
 * updates (dense single-tensor path).
 *
 * State per parameter, created when the parameter's group is added (as PyTorch does): `step`
 * (a number) and `sum` (filled with the group's `initialAccumulatorValue`; PyTorch 1.13 uses the
 * constructor's value for every group).
 *
 * @example
 * ```ts
 * const opt = new Adagrad([w], { lr: 0.1, lrDecay: 1e-4 });
 * opt.zeroGrad(); loss.backward(); opt.step();
 * ```
 */
export class Adagrad extends Optimizer<AdagradOptions> {
  constructor(params: Params<AdagradOptions>, options: Partial<AdagradOptions> = {}) {
    super('Adagrad', params, {
      lr: 1e-2,
      lrDecay: 0,
      weightDecay: 0,
      initialAccumulatorValue: 0,
      eps: 1e-10,
      maximize: false,
      ...options,
    });
  }

  /**
   * Adds a parameter group and creates its parameters' state (`step` 0, `sum` filled with the group's
   * `initialAccumulatorValue`).
   *
   * @example
   * ```ts
   * opt.addParamGroup({ params: head.parameters(), lr: 0.05 });
   * ```
   */
  override addParamGroup(group: ParamGroupInput<AdagradOptions>): void {
    super.addParamGroup(group);
    const added = this.paramGroups.at(-1)!;
    for (const p of added.params) this.initState(p, added);
  }

  private initState(p: Tensor, g: ParamGroup<AdagradOptions>): ParamState {
    const state = this.stateOf(p);
    if (Object.keys(state).length === 0) {
      state.step = 0;
      state.sum = fullLike(p, g.initialAccumulatorValue);
    }
    return state;
  }

  protected override validate(g: ParamGroup<AdagradOptions>): void {
    check('Adagrad', g.lr >= 0, 'learning rate', g.lr);
    check('Adagrad', g.lrDecay >= 0, 'lr_decay value', g.lrDecay);
    check('Adagrad', g.weightDecay >= 0, 'weight_decay value', g.weightDecay);
    check(
      'Adagrad',
      g.initialAccumulatorValue >= 0,
      'initial_accumulator_value value',
      g.initialAccumulatorValue,
    );
    check('Adagrad', g.eps >= 0, 'epsilon value', g.eps);
  }

  protected update(g: ParamGroup<AdagradOptions>): void {
    for (const p of g.params) {
      if (p.grad === undefined) continue;
      const state = this.initState(p, g);
      const step = (state.step as number) + 1;
      state.step = step;
      let grad: Tensor = g.maximize ? p.grad.neg() : p.grad;
      if (g.weightDecay !== 0) grad = grad.add(p, { alpha: g.weightDecay });
      const clr = g.lr / (1 + (step - 1) * g.lrDecay);
      const sum = state.sum as Tensor;
      // addcmul_(grad, grad, value=1)
      sum.add_(grad.mul(1).mul(grad));
      const std = sum.sqrt().add_(g.eps);
      // addcdiv_(grad, std, value=-clr): p + (-clr * grad) / std
      p.add_(grad.mul(-clr).div(std));
    }
  }
}
