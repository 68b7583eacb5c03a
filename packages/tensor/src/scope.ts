/**
 * Scopes: deterministic freeing of temporaries, so GPU memory does not wait for the garbage collector.
 * Every tensor created while a scope is open belongs to it; when the scope ends, its tensors are
 * disposed except those it returns (they move to the enclosing scope), those marked with {@link keep},
 * and those an autograd graph still needs (the graph pins them and disposes them once it is done:
 * after the backward pass that frees it, or when the graph itself is garbage collected).
 */
import { GradfolioError } from './errors.js';
import type { Tensor } from './tensor.js';

const scopes: Tensor[][] = [];

/** Adds a new tensor to the innermost open scope. @internal */
export function trackTensor(t: Tensor): void {
  const s = scopes[scopes.length - 1];
  if (s !== undefined) s.push(t);
}

/**
 * Opens a scope explicitly (for code that awaits between steps, where {@link tidy} cannot be used);
 * pair it with {@link endScope}.
 *
 * @example
 * ```ts
 * startScope();
 * const loss = step(batch);
 * console.log(await loss.item());
 * endScope(); // disposes everything the step made
 * ```
 */
export function startScope(): void {
  scopes.push([]);
}

function collect(v: unknown, out: Set<Tensor>, seen: Set<unknown>): void {
  if (v === null || typeof v !== 'object' || seen.has(v)) return;
  seen.add(v);
  if (isTensor(v)) {
    out.add(v);
    return;
  }
  if (Array.isArray(v)) for (const x of v) collect(x, out, seen);
  else if (v instanceof Map) for (const x of v.values()) collect(x, out, seen);
  else if (Object.getPrototypeOf(v) === Object.prototype)
    for (const x of Object.values(v)) collect(x, out, seen);
}

function isTensor(v: object): v is Tensor {
  return '_pins' in v && 'storage' in v;
}

/**
 * Ends the innermost scope: disposes its tensors except the ones in `result` (a tensor, or arrays, maps
 * and plain objects holding tensors), which move to the enclosing scope, kept tensors and tensors an
 * autograd graph still needs.
 *
 * @example
 * ```ts
 * startScope();
 * const y = x.mul(2).add(1); // the mul's result is freed at endScope
 * endScope(y);               // y survives
 * ```
 */
export function endScope(result?: unknown): void {
  const list = scopes.pop();
  if (list === undefined) {
    throw new GradfolioError('INVALID_ARGUMENT', 'endScope: no scope is open (call startScope() first)', {
      op: 'endScope',
    });
  }
  const escaped = new Set<Tensor>();
  collect(result, escaped, new Set());
  const parent = scopes[scopes.length - 1];
  for (const t of list) {
    if (t._kept || t.isDisposed) continue;
    if (escaped.has(t)) parent?.push(t);
    else if (t._pins > 0) t._orphaned = true;
    else t.dispose();
  }
}

/**
 * Runs `fn` in a scope: every tensor it creates is disposed when it returns, except what it returns,
 * tensors marked with {@link keep} and tensors an autograd graph still needs. `fn` must be synchronous
 * (use {@link startScope}/{@link endScope} around code that awaits).
 *
 * @example
 * ```ts
 * const loss = tidy(() => {
 *   opt.zeroGrad();
 *   const l = mseLoss(model.forward(x), y);
 *   l.backward();
 *   opt.step();
 *   return l.detach();
 * });
 * console.log(await loss.item());
 * ```
 */
export function tidy<T>(fn: () => T): T {
  startScope();
  let r: T;
  try {
    r = fn();
  } catch (e) {
    endScope();
    throw e;
  }
  if (r instanceof Promise) {
    endScope();
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      'tidy: the function returned a Promise; tidy needs a synchronous function (use startScope() and endScope() around code that awaits)',
      { op: 'tidy' },
    );
  }
  endScope(r);
  return r;
}

/**
 * Marks `t` to survive every scope (model parameters, optimizer state, gradients); it is freed only
 * by `dispose()` or the garbage collector.
 *
 * @example
 * ```ts
 * const buf = tidy(() => keep(zeros([10])));
 * ```
 */
export function keep<T extends Tensor>(t: T): T {
  t._kept = true;
  return t;
}

/** Number of open scopes (for tests and diagnostics). @example `scopeDepth(); // 0` */
export function scopeDepth(): number {
  return scopes.length;
}
