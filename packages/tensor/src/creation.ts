import { getBackend, getDefaultDevice, Storage } from './backend.js';
import { allocTensor, kernelFor, viewOf } from './dispatch.js';
import { allocArray, checkDType, type DType, getDefaultDType, isFloating, type TypedArray } from './dtype.js';
import { GradfolioError } from './errors.js';
import { defaultGenerator, type Generator } from './random.js';
import { contiguousStrides, numel, type Shape } from './shape.js';
import { type NestedArray, Tensor } from './tensor.js';

/** Options shared by every factory. */
export interface TensorOptions {
  /** Element type; defaults depend on the factory (usually the default float dtype). */
  dtype?: DType;
  /** Device name; defaults to `getDefaultDevice()`. */
  device?: string;
  /** Mark the result as a leaf that requires grad. */
  requiresGrad?: boolean;
}

/** Options of random factories. */
export interface RandomOptions extends TensorOptions {
  /** Draw from this generator instead of the default one. */
  generator?: Generator;
}

/** Data accepted by `tensor()`. */
export type TensorData =
  | NestedArray
  | TypedArray
  | Int8Array
  | Int16Array
  | Uint16Array
  | Uint32Array
  | readonly NestedArray[];

function normShape(op: string, shape: number | readonly number[]): number[] {
  const s = typeof shape === 'number' ? [shape] : [...shape];
  for (const d of s) {
    if (!Number.isInteger(d) || d < 0) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `${op}: sizes must be non-negative integers, got [${s.join(', ')}]`,
        {
          op,
          shape: s,
        },
      );
    }
  }
  return s;
}

function finish(t: Tensor, options: TensorOptions | undefined): Tensor {
  if (options?.requiresGrad) t.requiresGrad_(true);
  return t;
}

/** Uploads host data as a contiguous tensor. @internal */
export function fromHost(
  data: TypedArray,
  shape: Shape,
  dtype: DType,
  device: string = getDefaultDevice(),
): Tensor {
  const backend = getBackend(device);
  const unsupported = backend.unsupportedDType?.(dtype);
  if (unsupported !== undefined) throw new GradfolioError('DTYPE_MISMATCH', unsupported, { dtype, device });
  const storage = new Storage(backend, backend.upload(data, dtype), dtype, data.length);
  return Tensor._fromStorage(storage, [...shape], contiguousStrides(shape), 0, dtype);
}

function castArray(data: ArrayLike<number>, dtype: DType): TypedArray {
  const out = allocArray(dtype, data.length);
  if (dtype === 'bool') for (let i = 0; i < data.length; i++) out[i] = data[i] ? 1 : 0;
  else if (dtype === 'int32') for (let i = 0; i < data.length; i++) out[i] = Math.trunc(data[i]!);
  else out.set(data as ArrayLike<number>);
  return out;
}

function inferTyped(data: ArrayLike<number>): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Uint8Array) return 'bool';
  return 'int32';
}

/**
 * Creates a tensor from nested arrays, a typed array or a scalar. Integers give int32, booleans give
 * bool, anything else the default float dtype; typed arrays keep their type. With
 * `requiresGrad: true` whole numbers give the default float dtype (`tensor([1, 2], { requiresGrad: true })`
 * is PyTorch's `torch.tensor([1.0, 2.0], requires_grad=True)`).
 *
 * @example
 * ```ts
 * const a = tensor([[1, 2], [3, 4]]);                    // int32
 * const w = tensor([0.5, -1], { requiresGrad: true });   // float32 leaf
 * const d = tensor(new Float64Array([1, 2]));            // float64
 * ```
 */
export function tensor(data: TensorData, options: TensorOptions = {}): Tensor {
  const dtypeOpt = options.dtype === undefined ? undefined : checkDType(options.dtype, 'tensor');
  if (ArrayBuffer.isView(data)) {
    const arr = data as unknown as ArrayLike<number>;
    const dtype = dtypeOpt ?? inferTyped(arr);
    return finish(fromHost(castArray(arr, dtype), [arr.length], dtype, options.device), options);
  }
  const shape: number[] = [];
  let probe: unknown = data;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0];
  }
  const flat: Array<number | boolean> = [];
  let allBool = true;
  let allInt = true;
  const walk = (v: unknown, d: number, path: string): void => {
    if (d === shape.length) {
      if (typeof v === 'boolean') {
        allInt = allInt && true;
      } else if (typeof v === 'number') {
        allBool = false;
        if (!Number.isInteger(v)) allInt = false;
      } else {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `tensor: expected a number or boolean at ${path || 'the top level'}, got ${Array.isArray(v) ? 'an array' : typeof v}`,
          { op: 'tensor' },
        );
      }
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[d]) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `tensor: expected a sequence of length ${shape[d]} at ${path || 'the top level'} (dim ${d}), got ${Array.isArray(v) ? `length ${v.length}` : typeof v}; nested arrays must be rectangular`,
        { op: 'tensor', shapes: [shape] },
      );
    }
    for (let i = 0; i < v.length; i++) walk(v[i], d + 1, `${path}[${i}]`);
  };
  walk(data, 0, '');
  if (flat.length === 0) allBool = false;
  // JS cannot write `2.0`: with `requiresGrad: true`, whole numbers mean the default float dtype.
  const wantsGrad = options.requiresGrad === true && !allBool;
  const dtype =
    dtypeOpt ?? (allBool ? 'bool' : allInt && flat.length > 0 && !wantsGrad ? 'int32' : getDefaultDType());
  const arr = allocArray(dtype, flat.length);
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i]!;
    arr[i] = dtype === 'bool' ? (v ? 1 : 0) : dtype === 'int32' ? Math.trunc(Number(v)) : Number(v);
  }
  return finish(fromHost(arr, shape, dtype, options.device), options);
}

/**
 * Uninitialised-in-spirit tensor (zero-filled here, never garbage).
 * @example
 * ```ts
 * const buf = empty([2, 3]);
 * ```
 */
export function empty(shape: number | readonly number[], options: TensorOptions = {}): Tensor {
  return zeros(shape, options);
}

/**
 * A tensor of zeros.
 * @example
 * ```ts
 * zeros([3, 3]);
 * ```
 */
export function zeros(shape: number | readonly number[], options: TensorOptions = {}): Tensor {
  const s = normShape('zeros', shape);
  const dtype = options.dtype === undefined ? getDefaultDType() : checkDType(options.dtype, 'zeros');
  return finish(allocTensor(getBackend(options.device ?? getDefaultDevice()), s, dtype), options);
}

/**
 * A tensor filled with `value` (dtype from the value when not given, like PyTorch).
 * @example
 * ```ts
 * full([2, 2], 7);          // int32 sevens
 * full([2], 0.5);           // float32
 * ```
 */
export function full(
  shape: number | readonly number[],
  value: number | boolean,
  options: TensorOptions = {},
): Tensor {
  const s = normShape('full', shape);
  const dtype =
    options.dtype !== undefined
      ? checkDType(options.dtype, 'full')
      : typeof value === 'boolean'
        ? 'bool'
        : Number.isInteger(value)
          ? 'int32'
          : getDefaultDType();
  const t = allocTensor(getBackend(options.device ?? getDefaultDevice()), s, dtype);
  const v = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  if (v !== 0 && t.numel > 0) kernelFor(t.backend, 'fill')([], [viewOf(t)], { value: v });
  return finish(t, options);
}

/**
 * A tensor of ones.
 * @example
 * ```ts
 * ones([2, 2]);
 * ```
 */
export function ones(shape: number | readonly number[], options: TensorOptions = {}): Tensor {
  return full(shape, 1, { dtype: getDefaultDType(), ...options });
}

function likeOptions(t: Tensor, options: TensorOptions): TensorOptions {
  return { dtype: t.dtype, device: t.device, ...options };
}

/** Zeros shaped like `t` (same dtype and device unless given). @example `zerosLike(w)` */
export function zerosLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return zeros(t.shape, likeOptions(t, options));
}
/** Ones shaped like `t`. @example `onesLike(w)` */
export function onesLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return full(t.shape, 1, likeOptions(t, options));
}
/** `value` shaped like `t`. @example `fullLike(w, 0.5)` */
export function fullLike(t: Tensor, value: number | boolean, options: TensorOptions = {}): Tensor {
  return full(t.shape, value, likeOptions(t, options));
}
/** Empty (zero-filled) shaped like `t`. @example `emptyLike(w)` */
export function emptyLike(t: Tensor, options: TensorOptions = {}): Tensor {
  return zeros(t.shape, likeOptions(t, options));
}

/**
 * Values from `start` to `end` (exclusive) by `step`; `arange(n)` is `0..n-1`. Integer arguments give
 * int32, otherwise the default float dtype.
 * @example
 * ```ts
 * arange(5);            // tensor([0, 1, 2, 3, 4])
 * arange(0, 1, 0.25);   // tensor([0.0000, 0.2500, 0.5000, 0.7500])
 * ```
 */
export function arange(end: number, options?: TensorOptions): Tensor;
export function arange(start: number, end: number, step?: number, options?: TensorOptions): Tensor;
export function arange(a: number, b?: number | TensorOptions, c?: number, d?: TensorOptions): Tensor {
  let start = 0;
  let end: number;
  let step = 1;
  let options: TensorOptions = {};
  if (typeof b === 'number') {
    start = a;
    end = b;
    if (c !== undefined) step = c;
    options = d ?? {};
  } else {
    end = a;
    options = b ?? {};
  }
  if (step === 0 || !Number.isFinite(step) || !Number.isFinite(start) || !Number.isFinite(end)) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `arange: step must be non-zero and bounds finite (start=${start}, end=${end}, step=${step})`,
      {
        op: 'arange',
      },
    );
  }
  if ((end - start) * step < 0) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `arange: upper bound and larger bound inconsistent with step sign (start=${start}, end=${end}, step=${step})`,
      { op: 'arange' },
    );
  }
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype =
    options.dtype !== undefined
      ? checkDType(options.dtype, 'arange')
      : Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step)
        ? 'int32'
        : getDefaultDType();
  const arr = allocArray(dtype, n);
  for (let i = 0; i < n; i++) arr[i] = start + i * step;
  return finish(fromHost(arr, [n], dtype, options.device), options);
}

/**
 * `steps` evenly spaced values from `start` to `end` inclusive.
 * @example
 * ```ts
 * linspace(0, 2, 5); // tensor([0.0000, 0.5000, 1.0000, 1.5000, 2.0000])
 * ```
 */
export function linspace(start: number, end: number, steps: number, options: TensorOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `linspace: number of steps must be a non-negative integer, got ${steps}`,
      {
        op: 'linspace',
      },
    );
  }
  const dtype = options.dtype === undefined ? getDefaultDType() : checkDType(options.dtype, 'linspace');
  const arr = allocArray(dtype, steps);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  // Like PyTorch, fill the two halves from each end so the last value is exactly `end`.
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) arr[i] = i < half ? start + step * i : end - step * (steps - 1 - i);
  if (steps === 1) arr[0] = start;
  return finish(fromHost(arr, [steps], dtype, options.device), options);
}

/**
 * Identity matrix `n x m` (`m` defaults to `n`).
 * @example
 * ```ts
 * eye(3);
 * ```
 */
export function eye(n: number, m: number | TensorOptions = n, options: TensorOptions = {}): Tensor {
  if (typeof m !== 'number') {
    options = m;
    m = n;
  }
  normShape('eye', [n, m]);
  const dtype = options.dtype === undefined ? getDefaultDType() : checkDType(options.dtype, 'eye');
  const arr = allocArray(dtype, n * m);
  for (let i = 0; i < Math.min(n, m); i++) arr[i * m + i] = 1;
  return finish(fromHost(arr, [n, m], dtype, options.device), options);
}

function randomFloat(
  op: string,
  shape: number | readonly number[],
  options: RandomOptions,
  draw: (g: Generator, f32: boolean) => number,
): Tensor {
  const s = normShape(op, shape);
  const dtype = options.dtype === undefined ? getDefaultDType() : checkDType(options.dtype, op);
  if (!isFloating(dtype)) {
    throw new GradfolioError('DTYPE_MISMATCH', `${op}: expected a floating dtype, got ${dtype}`, {
      op,
      dtype,
    });
  }
  const g = options.generator ?? defaultGenerator;
  const n = numel(s);
  const arr = allocArray(dtype, n);
  const f32 = dtype === 'float32';
  for (let i = 0; i < n; i++) arr[i] = draw(g, f32);
  return finish(fromHost(arr, s, dtype, options.device), options);
}

/**
 * Uniform samples in [0, 1).
 * @example
 * ```ts
 * rand([2, 3], { generator: new Generator().manualSeed(1) });
 * ```
 */
export function rand(shape: number | readonly number[], options: RandomOptions = {}): Tensor {
  return randomFloat('rand', shape, options, (g, f32) => (f32 ? g.nextFloat() : g.nextDouble()));
}

/**
 * Standard normal samples.
 * @example
 * ```ts
 * manualSeed(0);
 * randn([4, 4]);
 * ```
 */
export function randn(shape: number | readonly number[], options: RandomOptions = {}): Tensor {
  return randomFloat('randn', shape, options, (g) => g.nextNormal());
}

/**
 * Normal samples with the given `mean` and `std`.
 * @example
 * ```ts
 * normal(0, 0.01, [3]);
 * ```
 */
export function normal(
  mean: number,
  std: number,
  shape: number | readonly number[],
  options: RandomOptions = {},
): Tensor {
  if (!(std >= 0)) {
    throw new GradfolioError('INVALID_ARGUMENT', `normal: expected std >= 0.0, got ${std}`, {
      op: 'normal',
      std,
    });
  }
  return randomFloat('normal', shape, options, (g) => mean + std * g.nextNormal());
}

/**
 * Uniform integers in [low, high) (int32 unless `dtype` says otherwise).
 * @example
 * ```ts
 * randint(0, 10, [5]);
 * ```
 */
export function randint(
  low: number,
  high: number,
  shape: number | readonly number[],
  options: RandomOptions = {},
): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `randint: expected integers with low < high, got low=${low}, high=${high}`,
      {
        op: 'randint',
      },
    );
  }
  const s = normShape('randint', shape);
  const dtype = options.dtype === undefined ? 'int32' : checkDType(options.dtype, 'randint');
  const g = options.generator ?? defaultGenerator;
  const n = numel(s);
  const arr = allocArray(dtype, n);
  for (let i = 0; i < n; i++) arr[i] = g.nextInt(low, high);
  return finish(fromHost(arr, s, dtype, options.device), options);
}

/**
 * A random permutation of `0..n-1` (int32).
 * @example
 * ```ts
 * const idx = randperm(10);
 * ```
 */
export function randperm(n: number, options: RandomOptions = {}): Tensor {
  normShape('randperm', [n]);
  const dtype = options.dtype === undefined ? 'int32' : checkDType(options.dtype, 'randperm');
  const g = options.generator ?? defaultGenerator;
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = g.nextInt(0, i + 1);
    const tmp = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = tmp;
  }
  return finish(
    fromHost(dtype === 'int32' ? perm : castArray(perm, dtype), [n], dtype, options.device),
    options,
  );
}

/** Uniform samples shaped like `t`. @example `randLike(w)` */
export function randLike(t: Tensor, options: RandomOptions = {}): Tensor {
  return rand(t.shape, { dtype: t.dtype, device: t.device, ...options });
}
/** Normal samples shaped like `t`. @example `randnLike(w)` */
export function randnLike(t: Tensor, options: RandomOptions = {}): Tensor {
  return randn(t.shape, { dtype: t.dtype, device: t.device, ...options });
}
