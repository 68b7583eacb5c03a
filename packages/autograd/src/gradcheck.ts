import { Generator, GradfolioError, isFloating, randn, type Tensor } from '@gradfolio/tensor';
import { grad } from './engine.js';
import { noGrad } from './mode.js';

/** Options of {@link gradcheck} and {@link gradgradcheck}. */
export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance (default 1e-3). */
  rtol?: number;
  /** Throw on a mismatch (default true); otherwise return false. */
  raiseException?: boolean;
  /** Seed of the random `gradOutputs` of {@link gradgradcheck} (default 0). */
  seed?: number;
}

type Fn = (...inputs: Tensor[]) => Tensor | readonly Tensor[];

function outputsOf(fn: Fn, inputs: readonly Tensor[]): Tensor[] {
  const r = fn(...inputs);
  return (Array.isArray(r) ? [...r] : [r]) as Tensor[];
}

function readF64(t: Tensor): Float64Array {
  const src = t.dataSync();
  const out = new Float64Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
  return out;
}

function checkInputs(fnName: string, inputs: readonly Tensor[]): number[] {
  const wrt: number[] = [];
  inputs.forEach((x, i) => {
    if (!x.requiresGrad) return;
    if (x.dtype !== 'float64') {
      throw new GradfolioError(
        'DTYPE_MISMATCH',
        `${fnName}: input ${i} requires grad but is ${x.dtype}; finite differences need float64 inputs (x.double())`,
        { op: fnName, dtype: x.dtype },
      );
    }
    if (x.backend.readSync === undefined) {
      throw new GradfolioError(
        'UNSUPPORTED',
        `${fnName}: runs on the CPU only (input ${i} is on '${x.device}')`,
        {
          op: fnName,
        },
      );
    }
    wrt.push(i);
  });
  if (wrt.length === 0) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${fnName}: no input requires grad, so there is nothing to check`,
      {
        op: fnName,
      },
    );
  }
  return wrt;
}

/** f(inputs with element k of input i moved by delta), flattened per float output. */
function evalShifted(fn: Fn, inputs: readonly Tensor[], i: number, k: number, delta: number): Float64Array[] {
  const shifted = noGrad(() => {
    const s = inputs[i]!.detach().clone();
    s.reshape(-1).select(0, k).add_(delta);
    return s;
  });
  // Grad mode stays on: for gradgradcheck, `fn` itself differentiates.
  shifted.requiresGrad_(true);
  const args = inputs.map((x, j) => (j === i ? shifted : x));
  return outputsOf(fn, args)
    .filter((o) => isFloating(o.dtype))
    .map((o) => readF64(o.detach()));
}

/**
 * Checks the gradients of `fn` at `inputs` against float64 central finite differences: for every
 * floating output and every input that requires grad, the full Jacobian computed with {@link grad}
 * must match `(f(x + eps) - f(x - eps)) / (2 eps)` within `atol + rtol * |numerical|`
 * (PyTorch's `torch.autograd.gradcheck`). Throws a `GRADCHECK_FAILED` error naming the output, the
 * input, the element and both values; returns true when everything matches.
 *
 * @example
 * ```ts
 * const x = randn([3, 4], { dtype: 'float64' }).requiresGrad_();
 * gradcheck((t) => t.tanh().sum(1), [x]); // true
 * ```
 */
export function gradcheck(fn: Fn, inputs: readonly Tensor[], options: GradcheckOptions = {}): boolean {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1e-3;
  const wrt = checkInputs('gradcheck', inputs);
  const outputs = outputsOf(fn, inputs).filter((o) => isFloating(o.dtype));
  // analytical[o][w]: rows = output elements, cols = input elements
  const analytical: Float64Array[][] = outputs.map((o) =>
    wrt.map((i) => new Float64Array(o.numel * inputs[i]!.numel)),
  );
  outputs.forEach((o, oi) => {
    if (!o.requiresGrad) return; // no graph: the analytical Jacobian is zero
    for (let r = 0; r < o.numel; r++) {
      const go = noGrad(() => {
        const e = o.detach().mul(0).contiguous();
        e.reshape(-1).select(0, r).fill_(1);
        return e;
      });
      const gs = grad(
        [o],
        wrt.map((i) => inputs[i]!),
        { gradOutputs: [go], retainGraph: true, allowUnused: true },
      );
      gs.forEach((g, w) => {
        if (g === undefined) return;
        const vals = readF64(g.contiguous());
        const n = inputs[wrt[w]!]!.numel;
        analytical[oi]![w]!.set(vals, r * n);
      });
    }
  });
  for (let w = 0; w < wrt.length; w++) {
    const i = wrt[w]!;
    const n = inputs[i]!.numel;
    for (let k = 0; k < n; k++) {
      const plus = evalShifted(fn, inputs, i, k, eps);
      const minus = evalShifted(fn, inputs, i, k, -eps);
      for (let oi = 0; oi < outputs.length; oi++) {
        const p = plus[oi]!;
        const m = minus[oi]!;
        for (let r = 0; r < p.length; r++) {
          const numerical = (p[r]! - m[r]!) / (2 * eps);
          const a = analytical[oi]![w]![r * n + k]!;
          const ok = Math.abs(a - numerical) <= atol + rtol * Math.abs(numerical);
          if (!ok || Number.isNaN(a) !== Number.isNaN(numerical)) {
            if (options.raiseException === false) return false;
            throw new GradfolioError(
              'GRADCHECK_FAILED',
              `gradcheck: Jacobian mismatch for output ${oi} with respect to input ${i}, at output element ${r} and input element ${k}: numerical ${numerical}, analytical ${a} (atol ${atol}, rtol ${rtol})`,
              { op: 'gradcheck', output: oi, input: i, numerical, analytical: a },
            );
          }
        }
      }
    }
  }
  return true;
}

/**
 * Checks second derivatives: the gradient of `fn` (with random `gradOutputs`, built with `createGraph`)
 * is itself checked with {@link gradcheck} against finite differences, with respect to the inputs and
 * the `gradOutputs` (PyTorch's `torch.autograd.gradgradcheck`).
 *
 * @example
 * ```ts
 * const x = randn([4], { dtype: 'float64' }).requiresGrad_();
 * gradgradcheck((t) => t.pow(3), [x]); // true
 * ```
 */
export function gradgradcheck(fn: Fn, inputs: readonly Tensor[], options: GradcheckOptions = {}): boolean {
  const wrt = checkInputs('gradgradcheck', inputs);
  const outputs = outputsOf(fn, inputs).filter((o) => isFloating(o.dtype) && o.requiresGrad);
  const generator = new Generator(options.seed ?? 0);
  const gradOutputs = outputs.map((o) =>
    randn(o.shape as number[], { dtype: 'float64', device: o.device, generator }).requiresGrad_(),
  );
  const nIn = inputs.length;
  const gradFn = (...args: Tensor[]): Tensor[] => {
    const xs = args.slice(0, nIn);
    const gos = args.slice(nIn);
    const outs = outputsOf(fn, xs).filter((o) => isFloating(o.dtype) && o.requiresGrad);
    const wrtInputs = wrt.map((i) => xs[i]!);
    const gs = grad(outs, wrtInputs, { gradOutputs: gos, createGraph: true, allowUnused: true });
    return gs.map((g, w) => g ?? wrtInputs[w]!.detach().mul(0));
  };
  return gradcheck(gradFn, [...inputs, ...gradOutputs], options);
}
