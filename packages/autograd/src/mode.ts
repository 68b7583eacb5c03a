/**
 * Grad mode and anomaly mode: process-wide switches, like PyTorch's thread-local ones (JavaScript runs
 * one thread per realm, so a module-level flag is the same thing).
 */

let gradEnabled = true;
let anomalyEnabled = false;

/**
 * Whether operations are recorded for autograd right now.
 *
 * @example
 * ```ts
 * isGradEnabled(); // true
 * noGrad(() => isGradEnabled()); // false
 * ```
 */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Turns recording on or off until changed again (PyTorch's `torch.set_grad_enabled(flag)`). Prefer
 * {@link noGrad} / {@link enableGrad}, which restore the previous mode.
 *
 * @example
 * ```ts
 * setGradEnabled(false);
 * const y = w.mul(2); // y.requiresGrad === false
 * setGradEnabled(true);
 * ```
 */
export function setGradEnabled(flag: boolean): void {
  gradEnabled = flag;
}

/** A scope that restores the previous mode when disposed (`using _ = noGrad();`). */
export interface ModeScope extends Disposable {
  /** Restores the mode that was active when the scope began (idempotent). */
  restore(): void;
}

function scope(set: (v: boolean) => void, previous: boolean): ModeScope {
  let done = false;
  const restore = () => {
    if (done) return;
    done = true;
    set(previous);
  };
  return { restore, [Symbol.dispose]: restore };
}

function runWith<T>(set: (v: boolean) => void, get: () => boolean, value: boolean, fn: () => T): T {
  const previous = get();
  set(value);
  try {
    return fn();
  } finally {
    set(previous);
  }
}

/**
 * Runs `fn` without recording operations (PyTorch's `with torch.no_grad():`), or, called without a
 * function, turns recording off until the returned scope is disposed.
 *
 * `fn` must be synchronous: the mode is a process-wide flag, so an `await` inside `fn` would let other
 * code run with recording off. For async code, await first and then use `noGrad` around the
 * synchronous tensor work, or use the scope form inside a synchronous block.
 *
 * @example
 * ```ts
 * noGrad(() => { w.sub_(w.grad!.mul(0.01)); });
 * {
 *   using _ = noGrad();
 *   const y = model(x); // not recorded
 * }
 * ```
 */
export function noGrad<T>(fn: () => T): T;
export function noGrad(): ModeScope;
export function noGrad<T>(fn?: () => T): T | ModeScope {
  if (fn === undefined) {
    const s = scope(setGradEnabled, gradEnabled);
    gradEnabled = false;
    return s;
  }
  return runWith(setGradEnabled, isGradEnabled, false, fn);
}

/**
 * Runs `fn` with recording on, even inside {@link noGrad} (PyTorch's `torch.enable_grad()`); without a
 * function, returns a scope.
 *
 * @example
 * ```ts
 * noGrad(() => enableGrad(() => x.mul(2))).requiresGrad; // true when x requires grad
 * ```
 */
export function enableGrad<T>(fn: () => T): T;
export function enableGrad(): ModeScope;
export function enableGrad<T>(fn?: () => T): T | ModeScope {
  if (fn === undefined) {
    const s = scope(setGradEnabled, gradEnabled);
    gradEnabled = true;
    return s;
  }
  return runWith(setGradEnabled, isGradEnabled, true, fn);
}

/**
 * Whether anomaly detection is on: forward ops remember where they were created and backward fails
 * on the first derivative that produces NaN, naming the forward op.
 *
 * @example
 * ```ts
 * isAnomalyEnabled(); // false
 * ```
 */
export function isAnomalyEnabled(): boolean {
  return anomalyEnabled;
}

/**
 * Turns anomaly detection on or off (PyTorch's `torch.autograd.set_detect_anomaly`). It costs a stack
 * trace per recorded op and a NaN check per derivative, so use it for debugging only.
 *
 * @example
 * ```ts
 * setDetectAnomaly(true);
 * ```
 */
export function setDetectAnomaly(flag: boolean): void {
  anomalyEnabled = flag;
}

/**
 * Runs `fn` with anomaly detection on (PyTorch's `with torch.autograd.detect_anomaly():`); without a
 * function, returns a scope.
 *
 * @example
 * ```ts
 * detectAnomaly(() => loss(x).backward()); // throws naming e.g. 'div' if a derivative gives NaN
 * ```
 */
export function detectAnomaly<T>(fn: () => T): T;
export function detectAnomaly(): ModeScope;
export function detectAnomaly<T>(fn?: () => T): T | ModeScope {
  if (fn === undefined) {
    const s = scope(setDetectAnomaly, anomalyEnabled);
    anomalyEnabled = true;
    return s;
  }
  return runWith(setDetectAnomaly, isAnomalyEnabled, true, fn);
}
