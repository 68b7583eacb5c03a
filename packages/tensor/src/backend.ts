import { createCPUBackend } from './cpu/backend.js';
import type { DType, TypedArray } from './dtype.js';
import { GradfolioError } from './errors.js';
import type { Shape } from './shape.js';

/**
 * What a kernel sees of a tensor: the backend's opaque storage handle plus a layout (shape, strides and
 * offset in elements, strides may be 0 for broadcast or negative for flips) and the dtype.
 */
export interface TensorView {
  /** The backend's storage handle (a typed array on the CPU, a GPU buffer record on WebGPU). */
  readonly handle: unknown;
  /** Element type. */
  readonly dtype: DType;
  /** Size of each dim. */
  readonly shape: Shape;
  /** Elements between neighbours along each dim (may be 0 or negative). */
  readonly strides: readonly number[];
  /** Index of the first element in the storage. */
  readonly offset: number;
}

/**
 * A kernel: reads `inputs`, writes `outputs`. Outputs are allocated by the dispatcher, row-major
 * contiguous from their offset, except for `copy` whose output may be any strided view. Kernels never
 * allocate outputs and never read data back synchronously, so an asynchronous GPU backend fits.
 */
export type Kernel = (
  inputs: readonly TensorView[],
  outputs: readonly TensorView[],
  attrs: KernelAttrs,
) => void;

/** Attributes of a kernel call (dims, scalars, flags); plain JSON-like values. */
export type KernelAttrs = Readonly<Record<string, unknown>>;

/**
 * The contract every backend implements. Small on purpose: memory, transfers and a kernel table keyed
 * by op name (see {@link opTable}); everything else in gradfolio is built on top of it.
 *
 * @example
 * ```ts
 * const cpu = getBackend('cpu');
 * cpu.kernels.has('add'); // true
 * ```
 */
export interface Backend {
  /** The device name tensors report (`'cpu'`, `'webgpu'`). */
  readonly name: string;
  /** Kernels by op name. A missing kernel raises `KERNEL_MISSING` unless the op has a fallback. */
  readonly kernels: ReadonlyMap<string, Kernel>;
  /** Allocates zero-initialised storage for `size` elements of `dtype`. */
  alloc(dtype: DType, size: number): unknown;
  /** Creates storage holding `data` (whose type matches `dtype`); takes ownership of the array. */
  upload(data: TypedArray, dtype: DType): unknown;
  /** Reads a view back as a new row-major typed array. */
  read(view: TensorView): Promise<TypedArray>;
  /** Synchronous read, only on backends that can (the CPU). */
  readSync?(view: TensorView): TypedArray;
  /** Releases storage (called when its reference count drops to zero). */
  free(handle: unknown, dtype: DType, size: number): void;
  /** Waits until all queued work has finished (no-op on the CPU). */
  sync?(): Promise<void>;
  /** True when the garbage collector alone reclaims storage (the CPU), so no finalizer is needed. */
  readonly gcManaged?: boolean;
  /** Why a dtype is not supported here, or undefined when it is. */
  unsupportedDType?(dtype: DType): string | undefined;
}

/**
 * Reference-counted backend storage shared by a tensor and all of its views. The version counter is
 * bumped by every in-place write, which is how autograd detects tensors modified after being saved.
 *
 * @example
 * ```ts
 * const a = zeros([4]);
 * const v = a.view(2, 2);
 * v.storage === a.storage; // true
 * a.storage.refs;          // 2
 * ```
 */
export class Storage {
  /** Live references (tensors and views) to this storage. */
  refs = 1;
  /** Number of in-place modifications so far. */
  version = 0;
  constructor(
    /** The backend that owns the handle. */
    readonly backend: Backend,
    /** The backend's storage handle (a typed array on the CPU, a GPU buffer record on WebGPU). */
    readonly handle: unknown,
    /** Element type. */
    readonly dtype: DType,
    /** Number of elements. */
    readonly size: number,
  ) {}
  /** @internal */
  retain(): void {
    this.refs++;
  }
  /** @internal */
  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) this.backend.free(this.handle, this.dtype, this.size);
  }
}

const backends = new Map<string, Backend>();
// The CPU backend is created on first use, so importing the package has no side effects.
const lazyBackends = new Map<string, () => Backend>([['cpu', createCPUBackend]]);

/**
 * Registers a backend under its device name (replacing any previous one).
 *
 * @example
 * ```ts
 * registerBackend(createWebGPUBackend(device)); // or: await initWebGPU() from @gradfolio/webgpu
 * ```
 */
export function registerBackend(backend: Backend): void {
  backends.set(backend.name, backend);
}

/** Registers a backend that is created on first use. @internal */
export function registerLazyBackend(name: string, factory: () => Backend): void {
  lazyBackends.set(name, factory);
}

/**
 * The backend for a device name, or a `BACKEND_UNAVAILABLE` error that says how to get it.
 *
 * @example
 * ```ts
 * getBackend('cpu').name; // 'cpu'
 * ```
 */
export function getBackend(name: string): Backend {
  let b = backends.get(name);
  if (!b) {
    const f = lazyBackends.get(name);
    if (f) {
      b = f();
      backends.set(name, b);
    }
  }
  if (!b) {
    const hint =
      name === 'webgpu'
        ? " Initialise it first: `import { initWebGPU } from '@gradfolio/webgpu'; await initWebGPU();`"
        : '';
    throw new GradfolioError(
      'BACKEND_UNAVAILABLE',
      `no backend is registered for device '${name}' (registered: ${[...new Set([...backends.keys(), ...lazyBackends.keys()])].join(', ')}).${hint}`,
      { device: name },
    );
  }
  return b;
}

/**
 * True when a backend for `name` is registered.
 *
 * @example
 * ```ts
 * hasBackend('webgpu'); // false until @gradfolio/webgpu is initialised
 * ```
 */
export function hasBackend(name: string): boolean {
  return backends.has(name) || lazyBackends.has(name);
}

let defaultDevice = 'cpu';

/**
 * Sets the device new tensors are created on when no `device` option is given.
 *
 * @example
 * ```ts
 * setDefaultDevice('webgpu');
 * ```
 */
export function setDefaultDevice(device: string): void {
  getBackend(device);
  defaultDevice = device;
}

/**
 * The device new tensors are created on by default (`'cpu'` unless changed).
 *
 * @example
 * ```ts
 * getDefaultDevice(); // 'cpu'
 * ```
 */
export function getDefaultDevice(): string {
  return defaultDevice;
}
