import { enableGrad, noGrad, zeroGrad } from '@gradfolio/autograd';
import { GradfolioError, isFloating, keep, type Tensor } from '@gradfolio/tensor';

/** A parameter group as passed in: its parameters and any options that override the defaults. */
export type ParamGroupInput<O> = {
  /** The group's parameters. */
  params: Iterable<Tensor>;
} & Partial<O>;

/** What optimizers accept: parameters, or parameter groups with their own options. */
export type Params<O> = Iterable<Tensor> | ReadonlyArray<ParamGroupInput<O>>;

/** A parameter group: its parameters and its complete options. */
export type ParamGroup<O> = O & {
  /** The group's parameters. */
  params: Tensor[];
};

/** A value of per-parameter optimizer state. */
export type StateValue = Tensor | number | boolean | null | readonly StateValue[];

/** Per-parameter optimizer state (`momentum_buffer`, `exp_avg`, `step`, ... as PyTorch names them). */
export type ParamState = Record<string, StateValue>;

/**
 * An optimizer's state dict, shaped like PyTorch's: `state` keyed by the parameter's position across
 * all groups, and `paramGroups` holding each group's options and its parameters' positions.
 */
export interface OptimizerStateDict {
  /** Per-parameter state, keyed by the parameter's position across all groups. */
  state: Record<number, ParamState>;
  /** The groups' options, with `params` as positions. */
  paramGroups: Array<
    Record<string, unknown> & {
      /** Positions of the group's parameters. */
      params: number[];
    }
  >;
}

/** A closure that re-evaluates the model and returns the loss (`step(closure)`). */
export type Closure = () => Tensor;

/** Group options with arrays (`betas`) copied, so a saved dict does not alias live options. */
function copyOptions(options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) out[k] = Array.isArray(v) ? [...v] : v;
  return out;
}

function cloneValue(v: StateValue): StateValue {
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(cloneValue);
  return noGrad(() => (v as Tensor).detach().clone());
}

/**
 * The base of every optimizer (PyTorch's `torch.optim.Optimizer`): parameter groups with per-group
 * options, per-parameter state, `zeroGrad`, `step(closure?)` and state dicts that resume training
 * exactly. Subclasses implement {@link Optimizer.update}, which runs under `noGrad` on the
 * parameters' own backend.
 *
 * @example
 * ```ts
 * const opt = new SGD([{ params: model.parameters() }, { params: [bias], lr: 0.1 }], { lr: 0.01 });
 * opt.zeroGrad();
 * loss.backward();
 * opt.step();
 * ```
 */
export abstract class Optimizer<O extends object> {
  /** The options every group starts from. */
  readonly defaults: Readonly<O>;
  /** The parameter groups, with their complete options (change `lr` here, as schedulers do). */
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state. */
  readonly state = new Map<Tensor, ParamState>();
  /** The optimizer's name in messages. */
  protected readonly name: string;

  constructor(name: string, params: Params<O>, defaults: O) {
    this.name = name;
    this.defaults = Object.freeze({ ...defaults });
    const list = [...(params as Iterable<Tensor | ParamGroupInput<O>>)];
    if (list.length === 0) {
      throw new GradfolioError('INVALID_ARGUMENT', `${name}: optimizer got an empty parameter list`, {
        op: name,
      });
    }
    const isGroups = list.every(
      (x) => typeof x === 'object' && x !== null && 'params' in x && !('shape' in x),
    );
    if (isGroups) for (const g of list as ParamGroupInput<O>[]) this.addParamGroup(g);
    else this.addParamGroup({ params: list as Tensor[] } as unknown as ParamGroupInput<O>);
  }

  /**
   * Adds a parameter group (e.g. layers unfrozen during fine-tuning); options it omits come from the
   * defaults.
   *
   * @example
   * ```ts
   * opt.addParamGroup({ params: head.parameters(), lr: 1e-3 });
   * ```
   */
  addParamGroup(group: ParamGroupInput<O>): void {
    const params = [...group.params];
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    for (const [i, p] of params.entries()) {
      if (!isFloating(p.dtype)) {
        throw new GradfolioError(
          'DTYPE_MISMATCH',
          `${this.name}: can only optimize tensors of floating point dtype, but parameter ${i} is ${p.dtype}`,
          { op: this.name, dtype: p.dtype },
        );
      }
      if (!p.isLeaf) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `${this.name}: can't optimize a non-leaf tensor (parameter ${i})`,
          {
            op: this.name,
            shapes: [p.shape],
          },
        );
      }
      if (seen.has(p) || params.indexOf(p) !== i) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `${this.name}: some parameters appear in more than one parameter group (parameter ${i} of shape [${p.shape.join(', ')}])`,
          { op: this.name, shapes: [p.shape] },
        );
      }
    }
    const { params: _ignored, ...options } = group;
    const full = { ...this.defaults, ...options, params } as ParamGroup<O>;
    this.validate(full);
    this.paramGroups.push(full);
  }

  /** Checks a group's options (ranges), throwing `INVALID_ARGUMENT` with PyTorch's wording. */
  protected validate(_group: ParamGroup<O>): void {}

  /**
   * Resets the gradients of every parameter: drops them (default, PyTorch's `set_to_none=True`) or
   * zeroes them in place.
   *
   * @example
   * ```ts
   * opt.zeroGrad();
   * opt.zeroGrad({ setToNone: false });
   * ```
   */
  zeroGrad(options: { setToNone?: boolean } = {}): void {
    zeroGrad(
      this.paramGroups.flatMap((g) => g.params),
      options,
    );
  }

  /**
   * One optimization step. With a closure, it is called first (with grad mode on) to recompute the
   * loss and gradients, and its loss is returned.
   *
   * @example
   * ```ts
   * opt.step();
   * const loss = opt.step(() => { opt.zeroGrad(); const l = lossFn(); l.backward(); return l; });
   * ```
   */
  step(closure?: Closure): Tensor | undefined {
    const loss = closure === undefined ? undefined : enableGrad(closure);
    noGrad(() => {
      for (const group of this.paramGroups) this.update(group);
    });
    this.keepState();
    return loss;
  }

  /** Marks the state tensors to outlive any scope (`tidy`) the step runs in. @internal */
  protected keepState(): void {
    const visit = (v: StateValue): void => {
      if (Array.isArray(v)) v.forEach(visit);
      else if (v !== null && typeof v === 'object') keep(v as Tensor);
    };
    for (const st of this.state.values()) for (const v of Object.values(st)) visit(v as StateValue);
  }

  /** Updates the parameters of one group in place (called under `noGrad`). */
  protected abstract update(group: ParamGroup<O>): void;

  /** The state of `p`, created empty on first use. */
  protected stateOf(p: Tensor): ParamState {
    let s = this.state.get(p);
    if (s === undefined) {
      s = {};
      this.state.set(p, s);
    }
    return s;
  }

  /**
   * The optimizer's state as plain data (tensors are copies), PyTorch's layout: parameters are
   * numbered in group order.
   *
   * @example
   * ```ts
   * const saved = opt.stateDict();
   * other.loadStateDict(saved); // resumes exactly
   * ```
   */
  stateDict(): OptimizerStateDict {
    const state: Record<number, ParamState> = {};
    const paramGroups: OptimizerStateDict['paramGroups'] = [];
    let index = 0;
    for (const g of this.paramGroups) {
      const ids: number[] = [];
      for (const p of g.params) {
        const s = this.state.get(p);
        if (s !== undefined) {
          const copy: ParamState = {};
          for (const [k, v] of Object.entries(s)) copy[k] = cloneValue(v);
          state[index] = copy;
        }
        ids.push(index++);
      }
      const { params: _p, ...options } = g;
      paramGroups.push({ ...copyOptions(options as Record<string, unknown>), params: ids });
    }
    return { state, paramGroups };
  }

  /**
   * Restores a state dict made by {@link Optimizer.stateDict} (of an optimizer with the same groups and
   * group sizes). Tensors are copied onto each parameter's device; floating state takes the
   * parameter's dtype.
   *
   * @example
   * ```ts
   * opt.loadStateDict(JSON-free copy of an earlier opt.stateDict());
   * ```
   */
  loadStateDict(dict: OptimizerStateDict): void {
    if (dict.paramGroups.length !== this.paramGroups.length) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `${this.name}: loaded state dict has a different number of parameter groups (${dict.paramGroups.length}, this optimizer has ${this.paramGroups.length})`,
        { op: this.name },
      );
    }
    const byIndex = new Map<number, Tensor>();
    dict.paramGroups.forEach((saved, gi) => {
      const group = this.paramGroups[gi]!;
      if (saved.params.length !== group.params.length) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `${this.name}: loaded state dict contains a parameter group that doesn't match the size of optimizer's group (group ${gi}: ${saved.params.length} vs ${group.params.length} parameters)`,
          { op: this.name },
        );
      }
      saved.params.forEach((id, k) => {
        byIndex.set(id, group.params[k]!);
      });
    });
    this.state.clear();
    for (const [key, s] of Object.entries(dict.state)) {
      const p = byIndex.get(Number(key));
      if (p === undefined) continue;
      const copy: ParamState = {};
      for (const [k, v] of Object.entries(s)) copy[k] = this.adoptValue(v, p, k);
      this.state.set(p, copy);
    }
    dict.paramGroups.forEach((saved, gi) => {
      const group = this.paramGroups[gi]!;
      const { params: _p, ...options } = saved;
      Object.assign(group, copyOptions(options));
    });
  }

  private adoptValue(v: StateValue, p: Tensor, key: string): StateValue {
    if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
    if (Array.isArray(v)) return v.map((x) => this.adoptValue(x, p, key));
    const t = v as Tensor;
    return noGrad(() => {
      const dtype = isFloating(t.dtype) && key !== 'step' ? p.dtype : t.dtype;
      return t.detach().to({ device: p.device, dtype }).clone();
    });
  }
}

/** Throws PyTorch's `Invalid <what>: <value>` error when `ok` is false. @internal */
export function check(name: string, ok: boolean, what: string, value: unknown): void {
  if (!ok) {
    throw new GradfolioError('INVALID_ARGUMENT', `${name}: Invalid ${what}: ${String(value)}`, {
      op: name,
      value,
    });
  }
}
