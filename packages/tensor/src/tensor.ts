import { type Backend, getBackend, Storage } from './backend.js';
import { type BackwardOptions, getAutogradHook, viewOf } from './dispatch.js';
import { checkDType, type DType, isFloating, type TypedArray } from './dtype.js';
import { fmtShape, GradfolioError } from './errors.js';
import { formatTensor } from './format.js';
import * as L from './ops/linalg.js';
import * as P from './ops/pointwise.js';
import * as R from './ops/reduce.js';
import * as S from './ops/shape.js';
import * as V from './ops/views.js';
import { trackTensor } from './scope.js';
import { contiguousStrides, isContiguous, numel, type Shape } from './shape.js';

/** A scalar or a tensor: what binary ops accept as their other operand. */
export type TensorLike = Tensor | number | boolean;

/** Nested JS arrays as returned by `toArray()`. */
export type NestedArray = number | boolean | NestedArray[];

/** A shape given as numbers or as one array (`reshape(2, 3)` or `reshape([2, 3])`). */
export type ShapeArgs = ReadonlyArray<number | readonly number[]>;

/** Options of reductions over dims. */
export interface ReduceOptions {
  /** Keep the reduced dims with size 1 (default false). */
  keepdim?: boolean;
}

/** The autograd node attached to a non-leaf tensor (owned by `@gradfolio/autograd`). */
export interface GradFnLike {
  /** Readable name, e.g. `AddBackward`. */
  readonly name: string;
}

/** Live (not disposed, not collected) tensors per device, for backends whose memory is not GC-managed. */
const liveCounts = new Map<string, number>();
function countLive(device: string, delta: number): void {
  liveCounts.set(device, (liveCounts.get(device) ?? 0) + delta);
}

/**
 * Number of live tensors (views included) on a device whose memory is not managed by the garbage
 * collector (`'webgpu'`): created and neither disposed nor collected yet. Always 0 for the CPU.
 *
 * @example
 * ```ts
 * const before = liveTensors('webgpu');
 * const t = zeros([4], { device: 'webgpu' });
 * liveTensors('webgpu') - before; // 1
 * t.dispose();
 * ```
 */
export function liveTensors(device: string): number {
  return liveCounts.get(device) ?? 0;
}

const finalizer =
  typeof FinalizationRegistry === 'undefined'
    ? undefined
    : new FinalizationRegistry<Storage>((storage) => {
        countLive(storage.backend.name, -1);
        storage.release();
      });

/** @internal */
export function normShapeArgs(args: ShapeArgs): number[] {
  if (args.length === 1 && Array.isArray(args[0])) return [...(args[0] as readonly number[])];
  return args as number[];
}

/**
 * An n-dimensional array on a device, with PyTorch's semantics: shape, strides and offset over a
 * backend-owned storage that views share, dtype promotion, broadcasting and (with
 * `@gradfolio/autograd`) gradients.
 *
 * @example
 * ```ts
 * const a = tensor([[1, 2], [3, 4]]);
 * const v = a.view(1, 4);          // shares storage with a
 * console.log(a.matmul(a).toString());
 * // tensor([[ 7, 10],
 * //         [15, 22]])
 * ```
 */
export class Tensor {
  /** Backend storage, shared by views. */
  readonly storage: Storage;
  /** Sizes of each dimension. */
  readonly shape: Shape;
  /** Element strides of each dimension (0 on expanded dims). */
  readonly strides: readonly number[];
  /** Element offset of the first element in the storage. */
  readonly offset: number;
  /** Element type. */
  readonly dtype: DType;
  /** The accumulated gradient of a leaf (set by autograd). */
  grad: Tensor | undefined = undefined;
  /** The autograd node that produced this tensor; undefined for leaves. */
  gradFn: GradFnLike | undefined = undefined;
  /** The tensor this one is a view of (for views made by view ops). */
  base: Tensor | undefined = undefined;
  /** Autograd's private per-tensor data. @internal */
  _autograd: unknown = undefined;
  #requiresGrad = false;
  #disposed = false;
  /** Autograd graphs that still need this tensor (see scope.ts). @internal */
  _pins = 0;
  /** Survives every scope ({@link keep}). @internal */
  _kept = false;
  /** Its scope ended while pinned: dispose once unpinned. @internal */
  _orphaned = false;

  private constructor(
    storage: Storage,
    shape: Shape,
    strides: readonly number[],
    offset: number,
    dtype: DType,
  ) {
    this.storage = storage;
    this.shape = shape;
    this.strides = strides;
    this.offset = offset;
    this.dtype = dtype;
    if (!storage.backend.gcManaged) {
      finalizer?.register(this, storage, this);
      countLive(storage.backend.name, 1);
    }
    trackTensor(this);
  }

  /** Wraps storage the caller already owns one reference of. @internal */
  static _fromStorage(
    storage: Storage,
    shape: Shape,
    strides: readonly number[],
    offset: number,
    dtype: DType,
  ): Tensor {
    return new Tensor(storage, shape, strides, offset, dtype);
  }

  /** A new tensor sharing this one's storage (takes a new reference). @internal */
  _view(shape: Shape, strides: readonly number[], offset: number): Tensor {
    this.assertAlive('view');
    this.storage.retain();
    const t = new Tensor(this.storage, shape, strides, offset, this.dtype);
    t.base = this.base ?? this;
    return t;
  }

  /** Device name (`'cpu'`, `'webgpu'`). */
  get device(): string {
    return this.storage.backend.name;
  }
  /** The backend that owns this tensor's storage. */
  get backend(): Backend {
    return this.storage.backend;
  }
  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get numel(): number {
    return numel(this.shape);
  }
  /** Version counter of the storage (bumped by in-place writes). */
  get version(): number {
    return this.storage.version;
  }
  /**
   * Number of dimensions (PyTorch's `dim()`).
   * @example
   * ```ts
   * zeros([2, 3]).dim(); // 2
   * ```
   */
  dim(): number {
    return this.shape.length;
  }
  /**
   * The shape, or one size (negative dims count from the end).
   * @example
   * ```ts
   * zeros([2, 3]).size(-1); // 3
   * ```
   */
  size(): number[];
  size(dim: number): number;
  size(dim?: number): number[] | number {
    if (dim === undefined) return [...this.shape];
    const d = dim < 0 ? dim + this.ndim : dim;
    const s = this.shape[d];
    if (s === undefined) {
      throw new GradfolioError(
        'INDEX_OUT_OF_RANGE',
        `size: dimension out of range (expected to be in range of [${-this.ndim}, ${this.ndim - 1}], but got ${dim})`,
        { op: 'size', dim },
      );
    }
    return s;
  }
  /**
   * Stride of each dim (PyTorch's `stride()`).
   * @example
   * ```ts
   * zeros([2, 3]).stride(); // [3, 1]
   * ```
   */
  stride(): number[] {
    return [...this.strides];
  }
  /**
   * True when elements are laid out row-major without gaps.
   * @example
   * ```ts
   * zeros([2, 3]).T.isContiguous(); // false
   * ```
   */
  isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  // ---------------------------------------------------------------- autograd surface

  /** Whether autograd records ops on this tensor. Only floating tensors may require grad. */
  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }
  /** Sets whether autograd records ops on this tensor (as `requiresGrad_(flag)`). */
  set requiresGrad(flag: boolean) {
    if (flag && !isFloating(this.dtype)) {
      throw new GradfolioError(
        'DTYPE_MISMATCH',
        `requiresGrad: only tensors of floating point dtype can require gradients (got ${this.dtype})`,
        { op: 'requiresGrad', dtype: this.dtype },
      );
    }
    if (!flag && this.gradFn !== undefined) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        'requiresGrad: you can only change requiresGrad flags of leaf variables. Use detach() to get a tensor that does not require grad.',
        { op: 'requiresGrad' },
      );
    }
    this.#requiresGrad = flag;
  }
  /** Sets `requiresGrad` without the leaf check (autograd marks op outputs). @internal */
  _setRequiresGrad(flag: boolean): void {
    this.#requiresGrad = flag;
  }
  /** True for tensors not produced by a recorded op. */
  get isLeaf(): boolean {
    return this.gradFn === undefined;
  }
  /**
   * Sets `requiresGrad` in place and returns this tensor.
   * @example
   * ```ts
   * const w = randn([3, 3]).requiresGrad_();
   * ```
   */
  requiresGrad_(flag = true): this {
    this.requiresGrad = flag;
    return this;
  }
  /**
   * Computes gradients of this tensor with respect to graph leaves (needs `@gradfolio/autograd`).
   * @example
   * ```ts
   * loss.backward();
   * ```
   */
  backward(gradient?: Tensor, options: BackwardOptions = {}): void {
    const h = getAutogradHook();
    if (h?.backward === undefined) {
      throw new GradfolioError(
        'UNSUPPORTED',
        "backward: autograd is not installed; import '@gradfolio/autograd' (or the 'gradfolio' umbrella) first",
        { op: 'backward' },
      );
    }
    h.backward(this, gradient, options);
  }
  /**
   * Keeps `grad` on this non-leaf tensor after backward (needs `@gradfolio/autograd`).
   * @example
   * ```ts
   * const y = x.mul(2); y.retainGrad();
   * ```
   */
  retainGrad(): void {
    const h = getAutogradHook();
    if (h?.retainGrad === undefined) {
      throw new GradfolioError(
        'UNSUPPORTED',
        "retainGrad: autograd is not installed; import '@gradfolio/autograd' first",
        {
          op: 'retainGrad',
        },
      );
    }
    h.retainGrad(this);
  }
  /**
   * Registers a hook that sees this tensor's gradient during backward and may return a replacement
   * (needs `@gradfolio/autograd`). Returns a handle whose `remove()` unregisters it.
   * @example
   * ```ts
   * const handle = w.registerHook((g) => g.clamp(-1, 1));
   * handle.remove();
   * ```
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook that only observes returns nothing.
  registerHook(hook: (grad: Tensor) => Tensor | undefined | void): {
    /** Unregisters the hook. */
    remove(): void;
  } {
    const h = getAutogradHook();
    if (h?.registerHook === undefined) {
      throw new GradfolioError(
        'UNSUPPORTED',
        "registerHook: autograd is not installed; import '@gradfolio/autograd' first",
        { op: 'registerHook' },
      );
    }
    return h.registerHook(this, hook);
  }
  /**
   * A view of the same data that is cut from the graph and does not require grad.
   * @example
   * ```ts
   * const y = x.detach();
   * ```
   */
  detach(): Tensor {
    const t = this._view(this.shape, this.strides, this.offset);
    t.base = undefined;
    return t;
  }
  /**
   * Cuts this tensor from the graph in place.
   * @example
   * ```ts
   * h.detach_();
   * ```
   */
  detach_(): this {
    this.gradFn = undefined;
    this.#requiresGrad = false;
    return this;
  }

  // ---------------------------------------------------------------- memory

  /** True once `dispose()` has been called. */
  get isDisposed(): boolean {
    return this.#disposed;
  }
  /**
   * Releases this tensor's reference to its storage now (views keep theirs). Using a disposed tensor
   * is a `DISPOSED` error. Optional on the CPU; on WebGPU it returns memory without waiting for GC.
   * @example
   * ```ts
   * const t = zeros([1000]); t.dispose();
   * ```
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (!this.storage.backend.gcManaged) {
      finalizer?.unregister(this);
      countLive(this.storage.backend.name, -1);
    }
    this.storage.release();
  }
  /** An autograd graph needs this tensor until {@link Tensor._unpin}. @internal */
  _pin(): void {
    this._pins++;
  }
  /** The graph is done with it: disposes it if its scope already ended. @internal */
  _unpin(): void {
    if (this._pins > 0 && --this._pins === 0 && this._orphaned) this.dispose();
  }
  /** `using t = zeros([2])` disposes at scope end. */
  [Symbol.dispose](): void {
    this.dispose();
  }
  /** @internal */
  assertAlive(op: string): void {
    if (this.#disposed) {
      throw new GradfolioError(
        'DISPOSED',
        `${op}: the tensor of shape ${fmtShape(this.shape)} was disposed`,
        {
          op,
          shapes: [this.shape],
        },
      );
    }
  }

  // ---------------------------------------------------------------- reading data

  /**
   * The elements in row-major order as a new typed array (bool as 0/1 bytes). Works on every backend.
   * @example
   * ```ts
   * await tensor([1, 2]).data(); // Float32Array [1, 2]
   * ```
   */
  async data(): Promise<TypedArray> {
    this.assertAlive('data');
    return this.backend.read(viewOf(this));
  }
  /**
   * Synchronous `data()`; only backends that can read synchronously (the CPU).
   * @example
   * ```ts
   * tensor([1, 2]).dataSync(); // Float32Array [1, 2]
   * ```
   */
  dataSync(): TypedArray {
    this.assertAlive('dataSync');
    const b = this.backend;
    if (b.readSync === undefined) {
      throw new GradfolioError(
        'SYNC_READ_UNAVAILABLE',
        `dataSync: the '${b.name}' backend cannot read synchronously; use 'await t.data()' instead`,
        { op: 'dataSync', device: b.name },
      );
    }
    return b.readSync(viewOf(this));
  }
  /**
   * The elements as nested JS arrays (numbers, or booleans for bool tensors).
   * @example
   * ```ts
   * await tensor([[1, 2]]).toArray(); // [[1, 2]]
   * ```
   */
  async toArray(): Promise<NestedArray> {
    return nest(await this.data(), this.shape, this.dtype);
  }
  /**
   * Synchronous `toArray()` (CPU).
   * @example
   * ```ts
   * tensor([[1, 2]]).toArraySync(); // [[1, 2]]
   * ```
   */
  toArraySync(): NestedArray {
    return nest(this.dataSync(), this.shape, this.dtype);
  }
  /**
   * The value of a one-element tensor; a `NOT_SCALAR` error otherwise.
   * @example
   * ```ts
   * await tensor([[2.5]]).item(); // 2.5
   * ```
   */
  async item(): Promise<number | boolean> {
    this.checkItem();
    return scalarOf(await this.data(), this.dtype);
  }
  /**
   * Synchronous `item()` (CPU).
   * @example
   * ```ts
   * tensor(3).itemSync(); // 3
   * ```
   */
  itemSync(): number | boolean {
    this.checkItem();
    return scalarOf(this.dataSync(), this.dtype);
  }
  private checkItem(): void {
    if (this.numel !== 1) {
      throw new GradfolioError(
        'NOT_SCALAR',
        `item: a Tensor with ${this.numel} elements cannot be converted to Scalar (shape ${fmtShape(this.shape)})`,
        { op: 'item', shapes: [this.shape] },
      );
    }
  }

  // ---------------------------------------------------------------- printing

  /**
   * PyTorch-style text: `tensor([[ 0.5556,  0.4411]], requiresGrad=true)`. Tensors on devices that
   * cannot read synchronously print a placeholder; use `await t.format()` there.
   * @example
   * ```ts
   * tensor([1.5, 2]).toString(); // 'tensor([1.5000, 2.0000])'
   * ```
   */
  toString(): string {
    if (this.#disposed) return `tensor(<disposed>, shape=${fmtShape(this.shape)})`;
    if (this.backend.readSync === undefined) {
      return `tensor(<${this.numel} elements on ${this.device}; use await t.format()>, size=(${this.shape.join(', ')}), device='${this.device}')`;
    }
    return this.formatWith(this.dataSync());
  }
  /**
   * The PyTorch-style text on any backend.
   * @example
   * ```ts
   * console.log(await t.format());
   * ```
   */
  async format(): Promise<string> {
    return this.formatWith(await this.data());
  }
  private formatWith(data: TypedArray): string {
    return formatTensor({
      data,
      shape: this.shape,
      dtype: this.dtype,
      device: this.device,
      requiresGrad: this.requiresGrad && this.gradFn === undefined,
      gradFn: this.gradFn?.name,
    });
  }
  /** Node's `console.log` / `util.inspect` print the PyTorch-style text. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // ---------------------------------------------------------------- devices and dtypes

  /**
   * Moves and/or casts: `to('webgpu')`, `to('float64')`, `to({ device, dtype })`. Returns `this` when
   * nothing changes. Moving off a device that cannot read synchronously needs `toAsync`.
   * @example
   * ```ts
   * const g = t.to('webgpu');
   * const d = t.to('float64');
   * ```
   */
  to(target: string | { device?: string; dtype?: DType }): Tensor {
    const { device, dtype } = parseTo(target);
    let t: Tensor = this;
    if (dtype !== undefined && dtype !== t.dtype) t = P.cast(t, dtype);
    if (device !== undefined && device !== t.device) {
      const src = t.backend;
      if (src.readSync === undefined) {
        throw new GradfolioError(
          'SYNC_READ_UNAVAILABLE',
          `to: moving a tensor from '${src.name}' to '${device}' reads it back; use 'await t.toAsync('${device}')'`,
          { op: 'to', devices: [src.name, device] },
        );
      }
      t = transfer(t, src.readSync(viewOf(t)), device);
    }
    return t;
  }
  /**
   * `to()` that works between any devices (reads back asynchronously when it must).
   * @example
   * ```ts
   * const c = await g.toAsync('cpu');
   * ```
   */
  async toAsync(target: string | { device?: string; dtype?: DType }): Promise<Tensor> {
    const { device, dtype } = parseTo(target);
    let t: Tensor = this;
    if (dtype !== undefined && dtype !== t.dtype) t = P.cast(t, dtype);
    if (device !== undefined && device !== t.device) t = transfer(t, await t.data(), device);
    return t;
  }
  /**
   * Copy to the CPU (synchronous from the CPU; use `toAsync('cpu')` from a GPU).
   * @example
   * ```ts
   * t.cpu();
   * ```
   */
  cpu(): Tensor {
    return this.to('cpu');
  }
  /** Casts to float32. @example `t.float()` */
  float(): Tensor {
    return this.to('float32');
  }
  /** Casts to float64. @example `t.double()` */
  double(): Tensor {
    return this.to('float64');
  }
  /** Casts to int32. @example `t.int()` */
  int(): Tensor {
    return this.to('int32');
  }
  /** Casts to bool. @example `t.bool()` */
  bool(): Tensor {
    return this.to('bool');
  }

  // ---------------------------------------------------------------- pointwise

  /** `this + alpha * other`, broadcasting. @example `a.add(b)`, `a.add(1, { alpha: 2 })` */
  add(other: TensorLike, options?: { alpha?: number }): Tensor {
    return P.add(this, other, options);
  }
  /** `this - alpha * other`. @example `a.sub(b)` */
  sub(other: TensorLike, options?: { alpha?: number }): Tensor {
    return P.sub(this, other, options);
  }
  /** Element-wise product. @example `a.mul(b)` */
  mul(other: TensorLike): Tensor {
    return P.mul(this, other);
  }
  /** True division (integers give floats). @example `a.div(2)` */
  div(other: TensorLike): Tensor {
    return P.div(this, other);
  }
  /** Power. @example `a.pow(2)` */
  pow(exponent: TensorLike): Tensor {
    return P.pow(this, exponent);
  }
  /** Python-style remainder (sign of the divisor). @example `a.remainder(3)` */
  remainder(other: TensorLike): Tensor {
    return P.remainder(this, other);
  }
  /** Element-wise atan2(this, other). @example `y.atan2(x)` */
  atan2(other: TensorLike): Tensor {
    return P.atan2(this, other);
  }
  /** Element-wise minimum (NaN propagates). @example `a.minimum(b)` */
  minimum(other: TensorLike): Tensor {
    return P.minimum(this, other);
  }
  /** Element-wise maximum (NaN propagates). @example `a.maximum(b)` */
  maximum(other: TensorLike): Tensor {
    return P.maximum(this, other);
  }
  /** `this == other` as bool. @example `a.eq(0)` */
  eq(other: TensorLike): Tensor {
    return P.eq(this, other);
  }
  /** `this != other`. @example `a.ne(0)` */
  ne(other: TensorLike): Tensor {
    return P.ne(this, other);
  }
  /** `this < other`. @example `a.lt(0)` */
  lt(other: TensorLike): Tensor {
    return P.lt(this, other);
  }
  /** `this <= other`. @example `a.le(0)` */
  le(other: TensorLike): Tensor {
    return P.le(this, other);
  }
  /** `this > other`. @example `a.gt(0)` */
  gt(other: TensorLike): Tensor {
    return P.gt(this, other);
  }
  /** `this >= other`. @example `a.ge(0)` */
  ge(other: TensorLike): Tensor {
    return P.ge(this, other);
  }
  /** Logical and (non-zero is true). @example `m1.logicalAnd(m2)` */
  logicalAnd(other: TensorLike): Tensor {
    return P.logicalAnd(this, other);
  }
  /** Logical or. @example `m1.logicalOr(m2)` */
  logicalOr(other: TensorLike): Tensor {
    return P.logicalOr(this, other);
  }
  /** Logical xor. @example `m1.logicalXor(m2)` */
  logicalXor(other: TensorLike): Tensor {
    return P.logicalXor(this, other);
  }
  /** Logical not. @example `m.logicalNot()` */
  logicalNot(): Tensor {
    return P.logicalNot(this);
  }
  /** `-this`. @example `a.neg()` */
  neg(): Tensor {
    return P.neg(this);
  }
  /** Absolute value. @example `a.abs()` */
  abs(): Tensor {
    return P.abs(this);
  }
  /** Sign (-1, 0, 1). @example `a.sign()` */
  sign(): Tensor {
    return P.sign(this);
  }
  /** e^x. @example `a.exp()` */
  exp(): Tensor {
    return P.exp(this);
  }
  /** Natural log. @example `a.log()` */
  log(): Tensor {
    return P.log(this);
  }
  /** log(1 + x), accurate near 0. @example `a.log1p()` */
  log1p(): Tensor {
    return P.log1p(this);
  }
  /** e^x - 1, accurate near 0. @example `a.expm1()` */
  expm1(): Tensor {
    return P.expm1(this);
  }
  /** Square root. @example `a.sqrt()` */
  sqrt(): Tensor {
    return P.sqrt(this);
  }
  /** 1 / sqrt(x). @example `a.rsqrt()` */
  rsqrt(): Tensor {
    return P.rsqrt(this);
  }
  /** 1 / x. @example `a.reciprocal()` */
  reciprocal(): Tensor {
    return P.reciprocal(this);
  }
  /** x * x. @example `a.square()` */
  square(): Tensor {
    return P.mul(this, this);
  }
  /** Sine. @example `a.sin()` */
  sin(): Tensor {
    return P.sin(this);
  }
  /** Cosine. @example `a.cos()` */
  cos(): Tensor {
    return P.cos(this);
  }
  /** Hyperbolic tangent. @example `a.tanh()` */
  tanh(): Tensor {
    return P.tanh(this);
  }
  /** Logistic sigmoid. @example `a.sigmoid()` */
  sigmoid(): Tensor {
    return P.sigmoid(this);
  }
  /** max(x, 0). @example `a.relu()` */
  relu(): Tensor {
    return P.relu(this);
  }
  /** GELU (exact erf form, or `{ approximate: 'tanh' }`). @example `a.gelu()` */
  gelu(options?: { approximate?: 'none' | 'tanh' }): Tensor {
    return P.gelu(this, options);
  }
  /** log(1 + e^(beta x)) / beta, linear above `threshold`. @example `a.softplus()` */
  softplus(options?: { beta?: number; threshold?: number }): Tensor {
    return P.softplus(this, options);
  }
  /** Rounds down. @example `a.floor()` */
  floor(): Tensor {
    return P.floor(this);
  }
  /** Rounds up. @example `a.ceil()` */
  ceil(): Tensor {
    return P.ceil(this);
  }
  /** Rounds half to even, like PyTorch. @example `a.round()` */
  round(): Tensor {
    return P.round(this);
  }
  /** Rounds toward zero. @example `a.trunc()` */
  trunc(): Tensor {
    return P.trunc(this);
  }
  /** Clamps into `[min, max]` (either may be omitted). @example `a.clamp(0, 1)`, `a.clamp({ min: 0 })` */
  clamp(min?: number | null | { min?: number; max?: number }, max?: number | null): Tensor {
    return P.clamp(this, min, max);
  }
  /** Alias of `clamp`. @example `a.clip(0, 1)` */
  clip(min?: number | null, max?: number | null): Tensor {
    return P.clamp(this, min, max);
  }
  /** NaN test. @example `a.isnan()` */
  isnan(): Tensor {
    return P.isnan(this);
  }
  /** Finite test. @example `a.isfinite()` */
  isfinite(): Tensor {
    return P.isfinite(this);
  }
  /** Infinity test. @example `a.isinf()` */
  isinf(): Tensor {
    return P.isinf(this);
  }
  /** `where(cond, this, other)`. @example `x.where(x.gt(0), 0)` */
  where(condition: Tensor, other: TensorLike): Tensor {
    return P.where(condition, this, other);
  }
  /** Fills where `mask` is true with `value`. @example `x.maskedFill(x.isnan(), 0)` */
  maskedFill(mask: Tensor, value: TensorLike): Tensor {
    return S.maskedFill(this, mask, value);
  }

  // ---------------------------------------------------------------- in-place

  /** In-place `add`. @example `w.add_(g, { alpha: -0.1 })` */
  add_(other: TensorLike, options?: { alpha?: number }): this {
    return P.inplaceBinary(this, 'add', other, { alpha: options?.alpha ?? 1 });
  }
  /** In-place `sub`. @example `w.sub_(g)` */
  sub_(other: TensorLike, options?: { alpha?: number }): this {
    return P.inplaceBinary(this, 'sub', other, { alpha: options?.alpha ?? 1 });
  }
  /** In-place `mul`. @example `w.mul_(0.9)` */
  mul_(other: TensorLike): this {
    return P.inplaceBinary(this, 'mul', other);
  }
  /** In-place `div`. @example `w.div_(2)` */
  div_(other: TensorLike): this {
    return P.inplaceBinary(this, 'div', other);
  }
  /** In-place `pow`. @example `w.pow_(2)` */
  pow_(exponent: TensorLike): this {
    return P.inplaceBinary(this, 'pow', exponent);
  }
  /** In-place `neg`. @example `w.neg_()` */
  neg_(): this {
    return P.inplaceUnary(this, 'neg');
  }
  /** In-place `exp`. @example `w.exp_()` */
  exp_(): this {
    return P.inplaceUnary(this, 'exp');
  }
  /** In-place `sqrt`. @example `w.sqrt_()` */
  sqrt_(): this {
    return P.inplaceUnary(this, 'sqrt');
  }
  /** In-place `relu`. @example `h.relu_()` */
  relu_(): this {
    return P.inplaceUnary(this, 'relu');
  }
  /** In-place `abs`. @example `a.abs_()` */
  abs_(): this {
    return P.inplaceUnary(this, 'abs');
  }
  /** In-place `sign`. @example `a.sign_()` */
  sign_(): this {
    return P.inplaceUnary(this, 'sign');
  }
  /** In-place `log`. @example `a.log_()` */
  log_(): this {
    return P.inplaceUnary(this, 'log');
  }
  /** In-place `log1p`. @example `r.log1p_()` */
  log1p_(): this {
    return P.inplaceUnary(this, 'log1p');
  }
  /** In-place `expm1`. @example `a.expm1_()` */
  expm1_(): this {
    return P.inplaceUnary(this, 'expm1');
  }
  /** In-place `rsqrt`. @example `v.rsqrt_()` */
  rsqrt_(): this {
    return P.inplaceUnary(this, 'rsqrt');
  }
  /** In-place `reciprocal`. @example `a.reciprocal_()` */
  reciprocal_(): this {
    return P.inplaceUnary(this, 'reciprocal');
  }
  /** In-place `sin`. @example `a.sin_()` */
  sin_(): this {
    return P.inplaceUnary(this, 'sin');
  }
  /** In-place `cos`. @example `a.cos_()` */
  cos_(): this {
    return P.inplaceUnary(this, 'cos');
  }
  /** In-place `tanh`. @example `h.tanh_()` */
  tanh_(): this {
    return P.inplaceUnary(this, 'tanh');
  }
  /** In-place `sigmoid`. @example `g.sigmoid_()` */
  sigmoid_(): this {
    return P.inplaceUnary(this, 'sigmoid');
  }
  /** In-place `floor`. @example `a.floor_()` */
  floor_(): this {
    return P.inplaceUnary(this, 'floor');
  }
  /** In-place `ceil`. @example `a.ceil_()` */
  ceil_(): this {
    return P.inplaceUnary(this, 'ceil');
  }
  /** In-place `round`. @example `a.round_()` */
  round_(): this {
    return P.inplaceUnary(this, 'round');
  }
  /** In-place `trunc`. @example `a.trunc_()` */
  trunc_(): this {
    return P.inplaceUnary(this, 'trunc');
  }
  /** In-place `remainder`. @example `a.remainder_(2)` */
  remainder_(other: TensorLike): this {
    return P.inplaceBinary(this, 'remainder', other);
  }
  /** In-place `atan2`. @example `y.atan2_(x)` */
  atan2_(other: TensorLike): this {
    return P.inplaceBinary(this, 'atan2', other);
  }
  /** In-place `square`. @example `a.square_()` */
  square_(): this {
    return P.inplaceBinary(this, 'mul', this);
  }
  /** In-place `clamp`. @example `w.clamp_(0, 1)` */
  clamp_(min?: number | null | { min?: number; max?: number }, max?: number | null): this {
    return P.inplace(this, 'clamp_', (t) => P.clamp(t, min, max));
  }
  /** In-place `maskedFill`. @example `x.maskedFill_(x.isnan(), 0)` */
  maskedFill_(mask: Tensor, value: TensorLike): this {
    return P.inplace(this, 'maskedFill_', (t) => S.maskedFill(t, mask, value), [value]);
  }
  /** Fills every element with `value`. @example `b.fill_(0.5)` */
  fill_(value: number | boolean | Tensor): this {
    return P.fill_(this, value);
  }
  /** Fills with zeros. @example `g.zero_()` */
  zero_(): this {
    return P.fill_(this, 0);
  }
  /** Copies `src` (broadcast, cast) into this tensor. @example `w.copy_(w0)` */
  copy_(src: TensorLike): this {
    return P.copy_(this, src);
  }

  // ---------------------------------------------------------------- reductions

  /** Sum over all or some dims. @example `x.sum()`, `x.sum(1, { keepdim: true })` */
  sum(dim?: number | readonly number[], options?: ReduceOptions & { dtype?: DType }): Tensor {
    return R.sum(this, dim, options);
  }
  /** Mean. @example `x.mean(0)` */
  mean(dim?: number | readonly number[], options?: ReduceOptions & { dtype?: DType }): Tensor {
    return R.mean(this, dim, options);
  }
  /** Product. @example `x.prod(1)` */
  prod(dim?: number, options?: ReduceOptions & { dtype?: DType }): Tensor {
    return R.prod(this, dim, options);
  }
  /** Variance with `correction` (1 = unbiased, PyTorch's default). @example `x.var(1, { correction: 0 })` */
  var(
    dim?: number | readonly number[],
    options?: ReduceOptions & { correction?: number; unbiased?: boolean },
  ): Tensor {
    return R.variance(this, dim, options);
  }
  /** Standard deviation. @example `x.std(1, { correction: 0 })` */
  std(
    dim?: number | readonly number[],
    options?: ReduceOptions & { correction?: number; unbiased?: boolean },
  ): Tensor {
    return R.std(this, dim, options);
  }
  /**
   * `max()` of all elements; `max(dim)` as `[values, indices]`; `max(other)` element-wise.
   * @example
   * ```ts
   * const [values, indices] = x.max(1);
   * ```
   */
  max(): Tensor;
  max(dim: number, options?: ReduceOptions): [Tensor, Tensor];
  max(other: Tensor): Tensor;
  max(dim?: number | Tensor, options?: ReduceOptions): Tensor | [Tensor, Tensor] {
    if (dim instanceof Tensor) return P.maximum(this, dim);
    return dim === undefined ? R.amax(this) : R.maxDim(this, dim, options);
  }
  /** Like `max`, for the minimum. @example `const [v, i] = x.min(0)` */
  min(): Tensor;
  min(dim: number, options?: ReduceOptions): [Tensor, Tensor];
  min(other: Tensor): Tensor;
  min(dim?: number | Tensor, options?: ReduceOptions): Tensor | [Tensor, Tensor] {
    if (dim instanceof Tensor) return P.minimum(this, dim);
    return dim === undefined ? R.amin(this) : R.minDim(this, dim, options);
  }
  /** Max over dims (values only). @example `x.amax(-1, { keepdim: true })` */
  amax(dim?: number | readonly number[], options?: ReduceOptions): Tensor {
    return R.amax(this, dim, options);
  }
  /** Min over dims (values only). @example `x.amin(0)` */
  amin(dim?: number | readonly number[], options?: ReduceOptions): Tensor {
    return R.amin(this, dim, options);
  }
  /** Index of the max (flattened when `dim` is omitted). @example `x.argmax(1)` */
  argmax(dim?: number, options?: ReduceOptions): Tensor {
    return R.argmax(this, dim, options);
  }
  /** Index of the min. @example `x.argmin(1)` */
  argmin(dim?: number, options?: ReduceOptions): Tensor {
    return R.argmin(this, dim, options);
  }
  /** True where all elements are non-zero. @example `m.all()` */
  all(dim?: number | readonly number[], options?: ReduceOptions): Tensor {
    return R.all(this, dim, options);
  }
  /** True where any element is non-zero. @example `m.any(1)` */
  any(dim?: number | readonly number[], options?: ReduceOptions): Tensor {
    return R.any(this, dim, options);
  }
  /** log(sum(exp(x))), stable. @example `x.logsumexp(1)` */
  logsumexp(dim: number | readonly number[], options?: ReduceOptions): Tensor {
    return R.logsumexp(this, dim, options);
  }
  /** p-norm (2 by default; `Infinity`, `-Infinity`, 0, 1, any p). @example `x.norm()`, `x.norm(1, 0)` */
  norm(p: number | 'fro' = 2, dim?: number | readonly number[], options?: ReduceOptions): Tensor {
    return R.norm(this, p, dim, options);
  }
  /** Cumulative sum along `dim`. @example `r.cumsum(0)` */
  cumsum(dim: number): Tensor {
    return R.cumsum(this, dim);
  }
  /** Cumulative product along `dim`. @example `r.add(1).cumprod(0)` */
  cumprod(dim: number): Tensor {
    return R.cumprod(this, dim);
  }
  /** Softmax along `dim`, stable. @example `logits.softmax(-1)` */
  softmax(dim: number): Tensor {
    return R.softmax(this, dim);
  }
  /** Log-softmax along `dim`, stable. @example `logits.logSoftmax(-1)` */
  logSoftmax(dim: number): Tensor {
    return R.logSoftmax(this, dim);
  }

  // ---------------------------------------------------------------- linear algebra

  /** Matrix product with PyTorch's broadcasting rules (1-D, 2-D, batched). @example `x.matmul(w.T)` */
  matmul(other: Tensor): Tensor {
    return L.matmul(this, other);
  }
  /** 2-D matrix product. @example `a.mm(b)` */
  mm(other: Tensor): Tensor {
    return L.mm(this, other);
  }
  /** Batched 3-D matrix product. @example `a.bmm(b)` */
  bmm(other: Tensor): Tensor {
    return L.bmm(this, other);
  }
  /** Inner product of 1-D tensors. @example `a.dot(b)` */
  dot(other: Tensor): Tensor {
    return L.dot(this, other);
  }
  /** Outer product of 1-D tensors. @example `a.outer(b)` */
  outer(other: Tensor): Tensor {
    return L.outer(this, other);
  }

  // ---------------------------------------------------------------- views

  /** Reshape, as a view when strides allow. @example `x.reshape(-1, 4)` */
  reshape(...shape: ShapeArgs): Tensor {
    return V.reshape(this, normShapeArgs(shape));
  }
  /** View with a new shape; an error naming shape and strides when not viewable. @example `x.view(1, 4)` */
  view(...shape: ShapeArgs): Tensor {
    return V.view(this, normShapeArgs(shape));
  }
  /** View as the shape of `other`. @example `x.viewAs(y)` */
  viewAs(other: Tensor): Tensor {
    return V.view(this, [...other.shape]);
  }
  /** Reshape as the shape of `other`. @example `x.reshapeAs(y)` */
  reshapeAs(other: Tensor): Tensor {
    return V.reshape(this, [...other.shape]);
  }
  /** Flattens dims `startDim..endDim`. @example `x.flatten(1)` */
  flatten(startDim = 0, endDim = -1): Tensor {
    return V.flatten(this, startDim, endDim);
  }
  /** Splits `dim` into `sizes`. @example `x.unflatten(1, [2, -1])` */
  unflatten(dim: number, sizes: readonly number[]): Tensor {
    return V.unflatten(this, dim, sizes);
  }
  /** Removes size-1 dims (all, or the given ones). @example `x.squeeze()`, `x.squeeze(0)` */
  squeeze(dim?: number | readonly number[]): Tensor {
    return V.squeeze(this, dim);
  }
  /** Inserts a size-1 dim. @example `x.unsqueeze(-1)` */
  unsqueeze(dim: number): Tensor {
    return V.unsqueeze(this, dim);
  }
  /** Swaps two dims. @example `x.transpose(0, 1)` */
  transpose(dim0: number, dim1: number): Tensor {
    return V.transpose(this, dim0, dim1);
  }
  /** Reorders dims. @example `x.permute(2, 0, 1)` */
  permute(...dims: ShapeArgs): Tensor {
    return V.permute(this, normShapeArgs(dims));
  }
  /** Reverses all dims (PyTorch's `.T`; for 2-D the transpose). @example `w.T` */
  get T(): Tensor {
    return V.permute(
      this,
      this.shape.map((_, i) => this.ndim - 1 - i),
    );
  }
  /** Transposes the last two dims. @example `batch.mT` */
  get mT(): Tensor {
    if (this.ndim < 2) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `mT: tensor must have at least 2 dimensions (got ${this.ndim})`,
        {
          op: 'mT',
          shapes: [this.shape],
        },
      );
    }
    return V.transpose(this, -2, -1);
  }
  /** Broadcasts size-1 dims to `sizes` (-1 keeps a size) without copying. @example `b.expand(4, -1)` */
  expand(...sizes: ShapeArgs): Tensor {
    return V.expand(this, normShapeArgs(sizes));
  }
  /** Expands to the shape of `other`. @example `b.expandAs(x)` */
  expandAs(other: Tensor): Tensor {
    return V.expand(this, [...other.shape]);
  }
  /** Broadcasts to `shape` (a view). @example `b.broadcastTo([4, 3])` */
  broadcastTo(shape: readonly number[]): Tensor {
    return V.broadcastTo(this, shape);
  }
  /** The slice `[start, start + length)` of `dim` (a view). @example `x.narrow(0, 1, 2)` */
  narrow(dim: number, start: number, length: number): Tensor {
    return V.narrow(this, dim, start, length);
  }
  /** The sub-tensor at `index` of `dim`, removing that dim (a view). @example `x.select(1, -1)` */
  select(dim: number, index: number): Tensor {
    return V.select(this, dim, index);
  }
  /** The diagonal of two dims, as a view. @example `m.diagonal()` */
  diagonal(offset = 0, dim1 = 0, dim2 = 1): Tensor {
    return V.diagonal(this, offset, dim1, dim2);
  }
  /**
   * NumPy/PyTorch indexing: numbers select, `':'`/`'1:5:2'`/`slice()` slice, `null` adds a dim, `'...'`
   * skips dims, and int or bool tensors gather (advanced indexing, a copy). Basic indexing gives views.
   * @example
   * ```ts
   * out.index(':', -1, ':');   // out[:, -1, :]
   * hn.index(-1);              // hn[-1]
   * X.index(idx);              // X[idx]
   * x.index(x.gt(0));          // x[x > 0]
   * ```
   */
  index(...specs: V.IndexSpec[]): Tensor {
    return V.index(this, specs);
  }
  /**
   * Writes `value` into `this[...specs]` in place (PyTorch's `x[specs] = value`).
   * @example
   * ```ts
   * viewed.indexPut_([0, 0], 10);       // viewed[0][0] = 10
   * x.indexPut_([x.lt(0)], 0);          // x[x < 0] = 0
   * ```
   */
  indexPut_(specs: readonly V.IndexSpec[], value: TensorLike): this {
    return V.indexPut_(this, specs, value);
  }

  // ---------------------------------------------------------------- copies and shape ops

  /** A contiguous copy when needed (else `this`). @example `x.T.contiguous()` */
  contiguous(): Tensor {
    return this.isContiguous() ? this : S.clone(this);
  }
  /** A copy with its own storage, differentiable. @example `x.clone()` */
  clone(): Tensor {
    return S.clone(this);
  }
  /** Reverses the order along `dims` (a copy, as in PyTorch). @example `x.flip(0)` */
  flip(...dims: ShapeArgs): Tensor {
    return S.flip(this, normShapeArgs(dims));
  }
  /** Tiles the tensor. @example `x.repeat(2, 1)` */
  repeat(...sizes: ShapeArgs): Tensor {
    return S.repeat(this, normShapeArgs(sizes));
  }
  /** Splits into pieces of `size` (or the given sizes) along `dim`. @example `x.split(2, 1)` */
  split(sizeOrSections: number | readonly number[], dim = 0): Tensor[] {
    return S.split(this, sizeOrSections, dim);
  }
  /** Splits into `chunks` near-equal pieces. @example `gates.chunk(4, 1)` */
  chunk(chunks: number, dim = 0): Tensor[] {
    return S.chunk(this, chunks, dim);
  }
  /** Values along `dim` at `index`. @example `x.gather(1, idx)` */
  gather(dim: number, index: Tensor): Tensor {
    return S.gather(this, dim, index);
  }
  /** Out-of-place scatter: a copy with `src` written at `index` along `dim`. @example `z.scatter(1, idx, 1)` */
  scatter(dim: number, index: Tensor, src: TensorLike): Tensor {
    return S.scatter(this, dim, index, src);
  }
  /** Out-of-place scatter that adds. @example `z.scatterAdd(0, idx, v)` */
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return S.scatterAdd(this, dim, index, src);
  }
  /** Selects entries of `dim` at the 1-D `index`. @example `x.indexSelect(0, idx)` */
  indexSelect(dim: number, index: Tensor): Tensor {
    return S.indexSelect(this, dim, index);
  }
  /** Sorts along `dim` as `[values, indices]`. @example `const [v, i] = x.sort(-1, { descending: true })` */
  sort(dim = -1, options?: { descending?: boolean }): [Tensor, Tensor] {
    return S.sort(this, dim, options);
  }
  /** The `k` largest (or smallest) along `dim` as `[values, indices]`. @example `x.topk(3)` */
  topk(k: number, dim = -1, options?: { largest?: boolean; sorted?: boolean }): [Tensor, Tensor] {
    return S.topk(this, k, dim, options);
  }
  /** Lower triangle. @example `m.tril()` */
  tril(diagonal = 0): Tensor {
    return S.tril(this, diagonal);
  }
  /** Upper triangle. @example `m.triu(1)` */
  triu(diagonal = 0): Tensor {
    return S.triu(this, diagonal);
  }
  /** Indices of non-zero elements, [n, ndim] (CPU; reads data). @example `m.nonzero()` */
  nonzero(): Tensor {
    return S.nonzero(this);
  }
}

function parseTo(target: string | { device?: string; dtype?: DType }): { device?: string; dtype?: DType } {
  if (typeof target === 'string') {
    if (target === 'float32' || target === 'float64' || target === 'int32' || target === 'bool')
      return { dtype: target };
    return { device: target };
  }
  const out: { device?: string; dtype?: DType } = {};
  if (target.device !== undefined) out.device = target.device;
  if (target.dtype !== undefined) out.dtype = checkDType(target.dtype, 'to');
  return out;
}

function transfer(t: Tensor, data: TypedArray, device: string): Tensor {
  const backend = getBackend(device);
  const unsupported = backend.unsupportedDType?.(t.dtype);
  if (unsupported !== undefined)
    throw new GradfolioError('DTYPE_MISMATCH', unsupported, { op: 'to', dtype: t.dtype, device });
  const storage = new Storage(backend, backend.upload(data, t.dtype), t.dtype, data.length);
  const out = Tensor._fromStorage(storage, t.shape, contiguousStrides(t.shape), 0, t.dtype);
  const h = getAutogradHook();
  if (h !== undefined && t.requiresGrad && h.isGradEnabled())
    h.record({ op: 'to', inputs: [t], outputs: [out], attrs: { device } });
  return out;
}

function scalarOf(data: TypedArray, dtype: DType): number | boolean {
  const v = data[0]!;
  return dtype === 'bool' ? v !== 0 : v;
}

function nest(data: TypedArray, shape: Shape, dtype: DType): NestedArray {
  const conv = dtype === 'bool' ? (v: number) => v !== 0 : (v: number) => v;
  if (shape.length === 0) return conv(data[0]!);
  let pos = 0;
  const build = (d: number): NestedArray[] => {
    const n = shape[d]!;
    const out: NestedArray[] = new Array(n);
    if (d === shape.length - 1) {
      for (let i = 0; i < n; i++) out[i] = conv(data[pos++]!);
    } else {
      for (let i = 0; i < n; i++) out[i] = build(d + 1);
    }
    return out;
  };
  return build(0);
}
