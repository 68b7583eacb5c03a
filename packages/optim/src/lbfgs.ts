import { enableGrad, noGrad } from '@gradfolio/autograd';
import { cat, GradfolioError, type Tensor, zeros } from '@gradfolio/tensor';
import {
  type Closure,
  check,
  Optimizer,
  type ParamGroup,
  type ParamGroupInput,
  type ParamState,
  type Params,
} from './optimizer.js';

/** Options of {@link LBFGS} (PyTorch's names in camelCase). */
export interface LBFGSOptions {
  /** Learning rate (default 1). */
  lr: number;
  /** Maximal number of iterations per `step` (default 20). */
  maxIter: number;
  /** Maximal number of function evaluations per `step` (default `floor(maxIter * 5 / 4)`). */
  maxEval: number;
  /** Termination tolerance on first-order optimality, the largest absolute gradient (default 1e-7). */
  toleranceGrad: number;
  /** Termination tolerance on function value and parameter changes (default 1e-9). */
  toleranceChange: number;
  /** Number of correction pairs kept (default 100). */
  historySize: number;
  /** `'strong_wolfe'` for a line search satisfying the strong Wolfe conditions, or none (default). */
  lineSearchFn: 'strong_wolfe' | undefined;
}

/** A closure for {@link LBFGS.step}: re-evaluates the model (after `zeroGrad` and `backward`) and returns the loss. */
export type AsyncClosure = () => Tensor | Promise<Tensor>;

/**
 * What the shared L-BFGS algorithm asks its driver for: the value of a one-element tensor, or one call
 * of the closure (with grad mode on) returning the loss tensor.
 */
type Request = { readonly kind: 'read'; readonly t: Tensor } | { readonly kind: 'eval' };
type Reply = number | Tensor;
type Algo<T> = Generator<Request, T, Reply>;

function* read(t: Tensor): Algo<number> {
  return (yield { kind: 'read', t }) as number;
}

function* evaluate(): Algo<Tensor> {
  return (yield { kind: 'eval' }) as Tensor;
}

/** Python's `max(a, b)`: unlike `Math.max`, keeps `a` when the comparison is false (NaN). */
function pyMax(a: number, b: number): number {
  // biome-ignore lint/complexity/useMathMinMax: Math.max returns NaN where Python's max keeps `a`
  return b > a ? b : a;
}

/** Python's `min(a, b)`: unlike `Math.min`, keeps `a` when the comparison is false (NaN). */
function pyMin(a: number, b: number): number {
  // biome-ignore lint/complexity/useMathMinMax: Math.min returns NaN where Python's min keeps `a`
  return b < a ? b : a;
}

/**
 * Minimizer of a cubic interpolating `(x1, f1, g1)` and `(x2, f2, g2)`, clamped to `bounds` (PyTorch's
 * `_cubic_interpolate`, ported from torch/optim's polyinterp.lua).
 */
function cubicInterpolate(
  x1: number,
  f1: number,
  g1: number,
  x2: number,
  f2: number,
  g2: number,
  bounds?: readonly [number, number],
): number {
  const [xminBound, xmaxBound] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const d2Square = d1 ** 2 - g1 * g2;
  if (d2Square >= 0) {
    const d2 = Math.sqrt(d2Square);
    const minPos =
      x1 <= x2
        ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return pyMin(pyMax(minPos, xminBound), xmaxBound);
  }
  return (xminBound + xmaxBound) / 2;
}

/**
 * Line search for a step `t` along `d` satisfying the strong Wolfe conditions (PyTorch's
 * `_strong_wolfe`, ported from torch/optim's lswolfe.lua). Returns the loss, flat gradient and step at
 * the accepted point and the number of function evaluations.
 */
function* strongWolfe(
  objFunc: (t: number) => Algo<[number, Tensor]>,
  tInit: number,
  d: Tensor,
  f: number,
  gIn: Tensor,
  gtd: number,
  toleranceChange = 1e-9,
  c1 = 1e-4,
  c2 = 0.9,
  maxLs = 25,
): Algo<[number, Tensor, number, number]> {
  let t = tInit;
  const dNorm = yield* read(d.abs().max());
  const g = gIn.clone();
  let [fNew, gNew] = yield* objFunc(t);
  let lsFuncEvals = 1;
  let gtdNew = yield* read(gNew.dot(d));

  // bracket an interval containing a point satisfying the Wolfe criteria
  let tPrev = 0;
  let fPrev = f;
  let gPrev = g;
  let gtdPrev = gtd;
  let done = false;
  let lsIter = 0;
  let bracket: number[] = [];
  let bracketF: number[] = [];
  let bracketG: Tensor[] = [];
  let bracketGtd: number[] = [];
  while (lsIter < maxLs) {
    // check conditions
    if (fNew > f + c1 * t * gtd || (lsIter > 1 && fNew >= fPrev)) {
      bracket = [tPrev, t];
      bracketF = [fPrev, fNew];
      bracketG = [gPrev, gNew.clone()];
      bracketGtd = [gtdPrev, gtdNew];
      break;
    }
    if (Math.abs(gtdNew) <= -c2 * gtd) {
      bracket = [t];
      bracketF = [fNew];
      bracketG = [gNew];
      done = true;
      break;
    }
    if (gtdNew >= 0) {
      bracket = [tPrev, t];
      bracketF = [fPrev, fNew];
      bracketG = [gPrev, gNew.clone()];
      bracketGtd = [gtdPrev, gtdNew];
      break;
    }
    // interpolate
    const minStep = t + 0.01 * (t - tPrev);
    const maxStep = t * 10;
    const tmp = t;
    t = cubicInterpolate(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, [minStep, maxStep]);
    // next step
    tPrev = tmp;
    fPrev = fNew;
    gPrev = gNew.clone();
    gtdPrev = gtdNew;
    [fNew, gNew] = yield* objFunc(t);
    lsFuncEvals += 1;
    gtdNew = yield* read(gNew.dot(d));
    lsIter += 1;
  }
  // reached max number of iterations?
  if (lsIter === maxLs) {
    bracket = [0, t];
    bracketF = [f, fNew];
    bracketG = [g, gNew];
  }

  // zoom phase: we now have a point satisfying the criteria, or a bracket around it. We refine the
  // bracket until we find the exact point satisfying the criteria
  let insufProgress = false;
  // find high and low points in bracket
  let [lowPos, highPos] = bracketF[0]! <= bracketF[bracketF.length - 1]! ? [0, 1] : [1, 0];
  while (!done && lsIter < maxLs) {
    const b0 = bracket[0]!;
    const b1 = bracket[1]!;
    // line-search bracket is so small
    if (Math.abs(b1 - b0) * dNorm < toleranceChange) break;

    // compute new trial value
    t = cubicInterpolate(b0, bracketF[0]!, bracketGtd[0]!, b1, bracketF[1]!, bracketGtd[1]!);

    // test that we are making sufficient progress: in case `t` is so close to boundary, we mark
    // that we are making insufficient progress, and if we have made insufficient progress in the
    // last step, or `t` is at one of the boundary, we will move `t` to a position which is
    // `0.1 * len(bracket)` away from the nearest boundary point.
    const bMax = pyMax(b0, b1);
    const bMin = pyMin(b0, b1);
    const eps = 0.1 * (bMax - bMin);
    if (pyMin(bMax - t, t - bMin) < eps) {
      // interpolation close to boundary
      if (insufProgress || t >= bMax || t <= bMin) {
        // evaluate at 0.1 away from boundary
        t = Math.abs(t - bMax) < Math.abs(t - bMin) ? bMax - eps : bMin + eps;
        insufProgress = false;
      } else {
        insufProgress = true;
      }
    } else {
      insufProgress = false;
    }

    // Evaluate new point
    [fNew, gNew] = yield* objFunc(t);
    lsFuncEvals += 1;
    gtdNew = yield* read(gNew.dot(d));
    lsIter += 1;

    if (fNew > f + c1 * t * gtd || fNew >= bracketF[lowPos]!) {
      // Armijo condition not satisfied or not lower than lowest point
      bracket[highPos] = t;
      bracketF[highPos] = fNew;
      bracketG[highPos] = gNew.clone();
      bracketGtd[highPos] = gtdNew;
      [lowPos, highPos] = bracketF[0]! <= bracketF[1]! ? [0, 1] : [1, 0];
    } else {
      if (Math.abs(gtdNew) <= -c2 * gtd) {
        // Wolfe conditions satisfied
        done = true;
      } else if (gtdNew * (bracket[highPos]! - bracket[lowPos]!) >= 0) {
        // old high becomes new low
        bracket[highPos] = bracket[lowPos]!;
        bracketF[highPos] = bracketF[lowPos]!;
        bracketG[highPos] = bracketG[lowPos]!;
        bracketGtd[highPos] = bracketGtd[lowPos]!;
      }
      // new point becomes new low
      bracket[lowPos] = t;
      bracketF[lowPos] = fNew;
      bracketG[lowPos] = gNew.clone();
      bracketGtd[lowPos] = gtdNew;
    }
  }

  // return stuff
  return [bracketF[lowPos]!, bracketG[lowPos]!, bracket[lowPos]!, lsFuncEvals];
}

function noClosure(method: string): GradfolioError {
  return new GradfolioError(
    'INVALID_ARGUMENT',
    `LBFGS: ${method}() needs a closure: L-BFGS re-evaluates the model several times per step, so pass a function that clears the gradients, computes the loss, calls backward() and returns the loss, e.g. opt.${method}(() => { opt.zeroGrad(); const loss = lossFn(); loss.backward(); return loss; })`,
    { op: 'LBFGS' },
  );
}

/**
 * L-BFGS, exactly as PyTorch's `torch.optim.LBFGS` (heavily inspired by minFunc): each `step` runs up
 * to `maxIter` quasi-Newton iterations, re-evaluating the model through the closure, with a fixed
 * step or a strong-Wolfe line search. Only one parameter group is supported, and the parameters'
 * flattened gradients are kept in the state (`historySize + 1` copies of them): it is memory hungry.
 *
 * L-BFGS reads scalars back (losses, dot products) on every iteration, so {@link LBFGS.step} is async
 * on every backend; {@link LBFGS.stepSync} does the same on the CPU without promises. The closure runs
 * with grad mode on (even inside `noGrad`), the rest of the step without recording.
 *
 * The global state (`func_evals`, `n_iter`, `d`, `t`, `old_dirs`, `old_stps`, `ro`, `H_diag`,
 * `prev_flat_grad`, `prev_loss`, `al`) lives, as in PyTorch, in the state of the first parameter; the
 * scalars (`t`, `ro`, `H_diag`, `al`, `prev_loss`) are numbers there, where PyTorch keeps some as
 * 0-dimensional tensors.
 *
 * @example
 * ```ts
 * const opt = new LBFGS([x], { lineSearchFn: 'strong_wolfe' });
 * for (let i = 0; i < 5; i++) {
 *   await opt.step(() => {
 *     opt.zeroGrad();
 *     const loss = rosenbrock(x);
 *     loss.backward();
 *     return loss;
 *   });
 * }
 * ```
 */
export class LBFGS extends Optimizer<LBFGSOptions> {
  constructor(params: Params<LBFGSOptions>, options: Partial<LBFGSOptions> = {}) {
    const maxIter = options.maxIter ?? 20;
    super('LBFGS', params, {
      lr: 1,
      maxIter,
      maxEval: Math.floor((maxIter * 5) / 4),
      toleranceGrad: 1e-7,
      toleranceChange: 1e-9,
      historySize: 100,
      lineSearchFn: undefined,
      ...options,
    });
  }

  /**
   * LBFGS supports a single parameter group: adding another throws PyTorch's error.
   *
   * @example
   * ```ts
   * new LBFGS([{ params: [w] }, { params: [b] }]); // throws INVALID_ARGUMENT
   * ```
   */
  override addParamGroup(group: ParamGroupInput<LBFGSOptions>): void {
    if (this.paramGroups.length >= 1) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        "LBFGS: LBFGS doesn't support per-parameter options (parameter groups)",
        { op: 'LBFGS' },
      );
    }
    super.addParamGroup(group);
  }

  protected override validate(g: ParamGroup<LBFGSOptions>): void {
    // PyTorch checks nothing here; a history of 0 makes its step fail later (popping an empty list).
    check(
      'LBFGS',
      Number.isInteger(g.historySize) && g.historySize >= 1,
      'history_size value',
      g.historySize,
    );
    if (g.lineSearchFn !== undefined && g.lineSearchFn !== 'strong_wolfe') {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `LBFGS: only 'strong_wolfe' is supported as lineSearchFn (got ${String(g.lineSearchFn)})`,
        { op: 'LBFGS', value: g.lineSearchFn },
      );
    }
  }

  /** Not used: {@link LBFGS.step} drives the whole algorithm. */
  protected update(_group: ParamGroup<LBFGSOptions>): void {
    throw noClosure('step');
  }

  /**
   * One L-BFGS step (up to `maxIter` iterations); returns the loss the closure computed first, at the
   * parameters the step started from. The closure is required. Throws without one.
   *
   * @example
   * ```ts
   * const loss = await opt.step(() => {
   *   opt.zeroGrad();
   *   const l = lossFn();
   *   l.backward();
   *   return l;
   * });
   * ```
   */
  override step(): never;
  override step(closure: AsyncClosure): Promise<Tensor>;
  override step(closure?: AsyncClosure): Promise<Tensor> {
    if (typeof closure !== 'function') throw noClosure('step');
    return this.drive(closure);
  }

  /**
   * {@link LBFGS.step} without promises, for parameters on the CPU (it reads scalars with
   * `itemSync`). Throws without a closure.
   *
   * @example
   * ```ts
   * const loss = opt.stepSync(() => {
   *   opt.zeroGrad();
   *   const l = lossFn();
   *   l.backward();
   *   return l;
   * });
   * ```
   */
  stepSync(): never;
  stepSync(closure: Closure): Tensor;
  stepSync(closure?: Closure): Tensor {
    if (typeof closure !== 'function') throw noClosure('stepSync');
    const algo = this.run();
    let r = noGrad(() => algo.next());
    while (r.done !== true) {
      const req = r.value;
      const reply: Reply = req.kind === 'read' ? Number(req.t.itemSync()) : enableGrad(closure);
      r = noGrad(() => algo.next(reply));
    }
    this.keepState();
    return r.value;
  }

  private async drive(closure: AsyncClosure): Promise<Tensor> {
    const algo = this.run();
    let r = noGrad(() => algo.next());
    while (r.done !== true) {
      const req = r.value;
      const reply: Reply = req.kind === 'read' ? Number(await req.t.item()) : await enableGrad(closure);
      r = noGrad(() => algo.next(reply));
    }
    this.keepState();
    return r.value;
  }

  private get params(): Tensor[] {
    return this.paramGroups[0]!.params;
  }

  /** PyTorch's `_gather_flat_grad`: every gradient flattened and concatenated (zeros where none). */
  private gatherFlatGrad(): Tensor {
    const views = this.params.map((p) =>
      p.grad === undefined
        ? zeros([p.numel], { dtype: p.dtype, device: p.device })
        : p.grad.detach().reshape(-1),
    );
    return cat(views, 0);
  }

  /** PyTorch's `_add_grad`: `p += stepSize * update[slice of p]` for every parameter. */
  private addGrad(stepSize: number, update: Tensor): void {
    let offset = 0;
    for (const p of this.params) {
      const n = p.numel;
      p.add_(update.narrow(0, offset, n).reshape(p.shape), { alpha: stepSize });
      offset += n;
    }
  }

  /** PyTorch's `_directional_evaluate`: the loss and flat gradient at `x + t d`, then back to `x`. */
  private *directionalEvaluate(x: readonly Tensor[], t: number, d: Tensor): Algo<[number, Tensor]> {
    this.addGrad(t, d);
    const loss = yield* read(yield* evaluate());
    const flatGrad = this.gatherFlatGrad();
    this.params.forEach((p, i) => {
      p.copy_(x[i]!);
    });
    return [loss, flatGrad];
  }

  /** The algorithm of PyTorch's `LBFGS.step`, asking its driver for scalars and closure calls. */
  private *run(): Algo<Tensor> {
    const group = this.paramGroups[0]!;
    const { lr, maxIter, maxEval, toleranceGrad, toleranceChange, lineSearchFn, historySize } = group;

    // NOTE: LBFGS has only global state, but we register it as state for the first param, because
    // this helps with casting in loadStateDict
    const state: ParamState = this.stateOf(this.params[0]!);
    if (state.func_evals === undefined) state.func_evals = 0;
    if (state.n_iter === undefined) state.n_iter = 0;
    let funcEvals = state.func_evals as number;
    let stateNIter = state.n_iter as number;

    // evaluate initial f(x) and df/dx
    const origLoss = yield* evaluate();
    let loss = yield* read(origLoss);
    let currentEvals = 1;
    funcEvals += 1;
    state.func_evals = funcEvals;

    let flatGrad = this.gatherFlatGrad();
    let optCond = (yield* read(flatGrad.abs().max())) <= toleranceGrad;

    // optimal condition
    if (optCond) return origLoss;

    // tensors cached in state
    let d = (state.d ?? undefined) as Tensor | undefined;
    let t = (state.t ?? undefined) as number | undefined;
    let oldDirs = [...((state.old_dirs ?? []) as readonly Tensor[])];
    let oldStps = [...((state.old_stps ?? []) as readonly Tensor[])];
    let ro = [...((state.ro ?? []) as readonly number[])];
    let hDiag = (state.H_diag ?? 1) as number;
    let prevFlatGrad = (state.prev_flat_grad ?? undefined) as Tensor | undefined;
    let prevLoss = (state.prev_loss ?? undefined) as number | undefined;

    let nIter = 0;
    // optimize for a max of maxIter iterations
    while (nIter < maxIter) {
      // keep track of nb of iterations
      nIter += 1;
      stateNIter += 1;
      state.n_iter = stateNIter;

      // compute gradient descent direction
      if (stateNIter === 1) {
        d = flatGrad.neg();
        oldDirs = [];
        oldStps = [];
        ro = [];
        hDiag = 1;
      } else {
        // do lbfgs update (update memory)
        const y = flatGrad.sub(prevFlatGrad!);
        const s = d!.mul(t!);
        const ys = yield* read(y.dot(s)); // y*s
        if (ys > 1e-10) {
          // updating memory
          if (oldDirs.length === historySize) {
            // shift history by one (limited-memory)
            oldDirs.shift();
            oldStps.shift();
            ro.shift();
          }
          // store new direction/step
          oldDirs.push(y);
          oldStps.push(s);
          ro.push(1 / ys);
          // update scale of initial Hessian approximation
          hDiag = ys / (yield* read(y.dot(y))); // (y*y)
        }

        // compute the approximate (L-BFGS) inverse Hessian multiplied by the gradient
        const numOld = oldDirs.length;
        if (state.al === undefined) state.al = new Array<number | null>(historySize).fill(null);
        const al = [...(state.al as readonly (number | null)[])];

        // iteration in L-BFGS loop collapsed to use just one buffer
        const q = flatGrad.neg();
        for (let i = numOld - 1; i >= 0; i--) {
          const ali = (yield* read(oldStps[i]!.dot(q))) * ro[i]!;
          al[i] = ali;
          q.add_(oldDirs[i]!, { alpha: -ali });
        }

        // multiply by initial Hessian; r/d is the final direction
        const r = q.mul(hDiag);
        d = r;
        for (let i = 0; i < numOld; i++) {
          const beI = (yield* read(oldDirs[i]!.dot(r))) * ro[i]!;
          r.add_(oldStps[i]!, { alpha: al[i]! - beI });
        }
        state.al = al;
      }

      if (prevFlatGrad === undefined) prevFlatGrad = flatGrad.clone();
      else prevFlatGrad.copy_(flatGrad);
      prevLoss = loss;

      // compute step length: reset initial guess for step size
      if (stateNIter === 1) {
        t = pyMin(1, 1 / (yield* read(flatGrad.abs().sum()))) * lr;
      } else {
        t = lr;
      }

      // directional derivative
      const gtd = yield* read(flatGrad.dot(d)); // g * d

      // directional derivative is below tolerance
      if (gtd > -toleranceChange) break;

      // optional line search: user function
      let lsFuncEvals = 0;
      if (lineSearchFn !== undefined) {
        // perform line search, using user function
        const xInit = this.params.map((p) => p.clone());
        const dir = d;
        const objFunc = (step: number) => this.directionalEvaluate(xInit, step, dir);
        [loss, flatGrad, t, lsFuncEvals] = yield* strongWolfe(objFunc, t, d, loss, flatGrad, gtd);
        this.addGrad(t, d);
        optCond = (yield* read(flatGrad.abs().max())) <= toleranceGrad;
      } else {
        // no line search, simply move with fixed-step
        this.addGrad(t, d);
        if (nIter !== maxIter) {
          // re-evaluate function only if not in last iteration: in a stochastic setting, no use
          // to re-evaluate that function here
          loss = yield* read(yield* evaluate());
          flatGrad = this.gatherFlatGrad();
          optCond = (yield* read(flatGrad.abs().max())) <= toleranceGrad;
          lsFuncEvals = 1;
        }
      }

      // update func eval
      currentEvals += lsFuncEvals;
      funcEvals += lsFuncEvals;
      state.func_evals = funcEvals;

      // check conditions
      if (nIter === maxIter) break;
      if (currentEvals >= maxEval) break;
      // optimal condition
      if (optCond) break;
      // lack of progress
      if ((yield* read(d.mul(t).abs().max())) <= toleranceChange) break;
      if (Math.abs(loss - prevLoss) < toleranceChange) break;
    }

    state.d = d ?? null;
    state.t = t ?? null;
    state.old_dirs = oldDirs;
    state.old_stps = oldStps;
    state.ro = ro;
    state.H_diag = hDiag;
    state.prev_flat_grad = prevFlatGrad ?? null;
    state.prev_loss = prevLoss ?? null;
    return origLoss;
  }
}
