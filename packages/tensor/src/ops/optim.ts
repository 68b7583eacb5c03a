import { commonBackend, kernelFor, viewOf } from '../dispatch.js';
import type { Tensor } from '../tensor.js';

/** Hyper-parameters of one Adam step ({@link adamUpdate_}). */
export interface AdamUpdateOptions {
  /** Learning rate. */
  lr: number;
  /** Coefficient of the running average of the gradient. */
  beta1: number;
  /** Coefficient of the running average of the squared gradient. */
  beta2: number;
  /** Added to the denominator for numerical stability. */
  eps: number;
  /** The step number after this update (1 on the first step): sets the bias corrections. */
  step: number;
}

/** Hyper-parameters of one SGD step ({@link sgdUpdate_}). */
export interface SGDUpdateOptions {
  /** Learning rate. */
  lr: number;
  /** Momentum factor (0: no momentum buffer). */
  momentum: number;
  /** Dampening of the momentum. */
  dampening: number;
  /** Nesterov momentum. */
  nesterov: boolean;
  /** True on the first step with momentum: the buffer is set to the gradient instead of updated. */
  init: boolean;
}

/** Whether `ts` can go to the fused update kernel `op`: one backend that has it, one float dtype, dense. */
function fusable(op: string, ts: readonly Tensor[]): boolean {
  const first = ts[0] as Tensor;
  if (first.dtype !== 'float32' && first.dtype !== 'float64') return false;
  for (const t of ts) {
    if (
      t.device !== first.device ||
      t.dtype !== first.dtype ||
      !t.isContiguous() ||
      t.numel !== first.numel
    ) {
      return false;
    }
  }
  return first.storage.backend.kernels.has(op);
}

function run(
  op: string,
  ts: readonly Tensor[],
  written: readonly Tensor[],
  attrs: Record<string, unknown>,
): void {
  const backend = commonBackend(op, ts);
  if (ts[0]!.numel > 0) kernelFor(backend, op)(ts.map(viewOf), [], attrs);
  for (const t of written) t.storage.version++;
}

/**
 * One Adam update of `param` in place, with PyTorch's single-tensor formulas and operation order
 * (`exp_avg`, `exp_avg_sq` and, for AMSGrad, `maxExpAvgSq` updated in place too), as one fused kernel.
 * Returns false, changing nothing, when the backend has no `adamUpdate` kernel or the tensors are not
 * dense tensors of one float dtype: the caller then runs the same update as ordinary ops. Not recorded
 * by autograd (optimizers run under `noGrad`).
 *
 * @example
 * ```ts
 * adamUpdate_(p, p.grad, expAvg, expAvgSq, undefined, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 });
 * ```
 */
export function adamUpdate_(
  param: Tensor,
  grad: Tensor,
  expAvg: Tensor,
  expAvgSq: Tensor,
  maxExpAvgSq: Tensor | undefined,
  options: AdamUpdateOptions,
): boolean {
  const ts = [param, grad, expAvg, expAvgSq, ...(maxExpAvgSq === undefined ? [] : [maxExpAvgSq])];
  if (!fusable('adamUpdate', ts)) return false;
  const written = [param, expAvg, expAvgSq, ...(maxExpAvgSq === undefined ? [] : [maxExpAvgSq])];
  run('adamUpdate', ts, written, { ...options, amsgrad: maxExpAvgSq !== undefined });
  return true;
}

/**
 * One SGD update of `param` in place (PyTorch's single-tensor formulas: momentum buffer, dampening,
 * Nesterov), as one fused kernel; `buf` is the momentum buffer (undefined without momentum). Returns
 * false, changing nothing, where {@link adamUpdate_} would.
 *
 * @example
 * ```ts
 * sgdUpdate_(p, p.grad, buf, { lr: 0.01, momentum: 0.9, dampening: 0, nesterov: false, init: false });
 * ```
 */
export function sgdUpdate_(
  param: Tensor,
  grad: Tensor,
  buf: Tensor | undefined,
  options: SGDUpdateOptions,
): boolean {
  const ts = [param, grad, ...(buf === undefined ? [] : [buf])];
  if (!fusable('sgdUpdate', ts)) return false;
  run('sgdUpdate', ts, buf === undefined ? [param] : [param, buf], {
    ...options,
    hasBuffer: buf !== undefined,
  });
  return true;
}
