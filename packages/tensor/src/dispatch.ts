import { type Backend, type KernelAttrs, Storage, type TensorView } from './backend.js';
import type { DType } from './dtype.js';
import { GradfolioError } from './errors.js';
import { opTable } from './ops/table.js';
import { contiguousStrides, numel, type Shape } from './shape.js';
import { Tensor } from './tensor.js';

/**
 * One recorded op, as autograd receives it: the op-table name, the user-visible inputs (before any
 * internal broadcast or cast), the outputs and the attributes the derivative needs.
 */
export interface OpRecord {
  /** The op-table name of the op. */
  readonly op: string;
  /** The user-visible inputs (before internal broadcasts and casts). */
  readonly inputs: readonly Tensor[];
  /** The op's outputs. */
  readonly outputs: readonly Tensor[];
  /** What the derivative needs (dims, keepdim, slice bounds, ...). */
  readonly attrs: KernelAttrs;
}

/**
 * The hook `@gradfolio/autograd` installs. The tensor package calls it; it never imports autograd.
 *
 * - `isGradEnabled()`: grad mode (noGrad scopes turn it off).
 * - `record(rec)`: called after an op when grad mode is on and some input requires grad.
 * - `beforeInplace(t, op)`: called before `t` is modified in place (leaf and view checks).
 * - `afterInplace(t, result)`: `t` now holds `result`'s values; adopt its history.
 *
 * @example
 * ```ts
 * setAutogradHook({ isGradEnabled: () => true, record: (r) => console.log(r.op),
 *   beforeInplace: () => {}, afterInplace: () => {} });
 * ```
 */
export interface AutogradHook {
  /** Whether ops are recorded now (grad mode). */
  isGradEnabled(): boolean;
  /** Called after an op when some input requires grad: records a graph node. */
  record(rec: OpRecord): void;
  /** Called before an in-place op on `t`: leaf and saved-tensor checks. */
  beforeInplace(t: Tensor, op: string): void;
  /** Called after an in-place op: `t` now holds `result` and adopts its history. */
  afterInplace(t: Tensor, result: Tensor, op: string): void;
  /** `t.backward(gradient, options)`; provided by autograd. */
  backward?(t: Tensor, gradient: Tensor | undefined, options: BackwardOptions): void;
  /** `t.retainGrad()`; provided by autograd. */
  retainGrad?(t: Tensor): void;
  /** `t.registerHook(fn)`; provided by autograd. */
  registerHook?(
    t: Tensor,
    // biome-ignore lint/suspicious/noConfusingVoidType: a hook that only observes returns nothing.
    hook: (grad: Tensor) => Tensor | undefined | void,
  ): {
    /** Unregisters the hook. */
    remove(): void;
  };
}

/** Options of `Tensor.backward` (interpreted by `@gradfolio/autograd`). */
export interface BackwardOptions {
  /** Keep the graph (and the tensors it saved) for another backward pass. */
  retainGraph?: boolean;
  /** Record the backward pass too, for higher-order gradients. */
  createGraph?: boolean;
  /** Accumulate gradients only into these leaves. */
  inputs?: readonly Tensor[];
}

let hook: AutogradHook | undefined;
let unrecordedDepth = 0;

/**
 * Runs `fn` without recording its ops: a structural op computes its result with other ops, then
 * records itself as one node. @internal
 */
export function unrecorded<T>(fn: () => T): T {
  unrecordedDepth++;
  try {
    return fn();
  } finally {
    unrecordedDepth--;
  }
}

/**
 * Installs (or removes, with `undefined`) the autograd hook.
 *
 * @example
 * ```ts
 * setAutogradHook(myEngine);
 * ```
 */
export function setAutogradHook(h: AutogradHook | undefined): void {
  hook = h;
}

/**
 * The installed autograd hook, if any.
 *
 * @example
 * ```ts
 * getAutogradHook()?.isGradEnabled();
 * ```
 */
export function getAutogradHook(): AutogradHook | undefined {
  return hook;
}

/**
 * Records `rec` with autograd when grad mode is on and an input requires grad. Returns whether it was
 * recorded: the graph may then hold the inputs, so callers must not dispose temporaries among them.
 * @internal
 */
export function record(
  op: string,
  inputs: readonly Tensor[],
  outputs: readonly Tensor[],
  attrs: KernelAttrs = {},
): boolean {
  if (hook === undefined || unrecordedDepth > 0) return false;
  let needs = false;
  for (const t of inputs) if (t.requiresGrad) needs = true;
  if (!needs || !hook.isGradEnabled()) return false;
  hook.record({ op, inputs, outputs, attrs });
  return true;
}

/** The view a kernel sees of a tensor. @internal */
export function viewOf(t: Tensor): TensorView {
  return { handle: t.storage.handle, dtype: t.dtype, shape: t.shape, strides: t.strides, offset: t.offset };
}

/** Checks that all tensors live on one device and returns its backend. @internal */
export function commonBackend(op: string, tensors: readonly Tensor[]): Backend {
  const first = tensors[0];
  if (first === undefined) throw new GradfolioError('INVALID_ARGUMENT', `${op}: no tensor inputs`, { op });
  for (const t of tensors) {
    if (t.device !== first.device) {
      throw new GradfolioError(
        'DEVICE_MISMATCH',
        `${op}: expected all tensors to be on the same device, but found at least two devices, ${first.device} and ${t.device}. Move them with .to('${first.device}') first.`,
        { op, devices: [first.device, t.device], shapes: [first.shape, t.shape] },
      );
    }
    t.assertAlive(op);
  }
  return first.storage.backend;
}

/** Allocates a contiguous tensor on `backend`. @internal */
export function allocTensor(backend: Backend, shape: Shape, dtype: DType): Tensor {
  const unsupported = backend.unsupportedDType?.(dtype);
  if (unsupported !== undefined) {
    throw new GradfolioError('DTYPE_MISMATCH', unsupported, { dtype, device: backend.name });
  }
  const size = numel(shape);
  const storage = new Storage(backend, backend.alloc(dtype, size), dtype, size);
  return Tensor._fromStorage(storage, shape, contiguousStrides(shape), 0, dtype);
}

/** Looks up a kernel or throws `KERNEL_MISSING`. @internal */
export function kernelFor(backend: Backend, op: string) {
  const k = backend.kernels.get(op);
  if (k === undefined) {
    const known = opTable.has(op) ? '' : ' (it is not in the op table either)';
    const hint =
      backend.name === 'cpu'
        ? ' Every op must have a CPU kernel: please report this as a bug.'
        : ` Move the tensors to the CPU with await t.toAsync('cpu') to run it there.`;
    throw new GradfolioError(
      'KERNEL_MISSING',
      `${op}: the '${backend.name}' backend has no kernel for this op${known}.${hint}`,
      { op, device: backend.name },
    );
  }
  return k;
}

/**
 * Runs the kernel `op` over `inputs` (already broadcast/cast as the kernel contract says) into freshly
 * allocated contiguous outputs. Does not record for autograd; callers record the user-level op.
 * @internal
 */
export function runKernel(
  op: string,
  inputs: readonly Tensor[],
  outputs: ReadonlyArray<{ shape: Shape; dtype: DType }>,
  attrs: KernelAttrs = {},
  backend: Backend = commonBackend(op, inputs),
): Tensor[] {
  const kernel = kernelFor(backend, op);
  const outs = outputs.map((o) => allocTensor(backend, o.shape, o.dtype));
  // Kernels never see empty outputs; reductions of empty inputs still run (sum([]) is 0).
  if (outs.some((o) => o.numel > 0)) kernel(inputs.map(viewOf), outs.map(viewOf), attrs);
  return outs;
}

/** Copies `src` into the (possibly strided) view `dst`, casting; bumps nothing. @internal */
export function copyInto(dst: Tensor, src: Tensor): void {
  const backend = commonBackend('copy_', [dst, src]);
  if (dst.numel === 0) return;
  kernelFor(backend, 'copy')([viewOf(src)], [viewOf(dst)], {});
}
