import { GradfolioError } from './errors.js';

/** Element types. `float32` is the default floating type, `int32` the default integer type. */
export type DType = 'float32' | 'float64' | 'int32' | 'bool';

/**
 * Every dtype, in promotion order.
 * @example
 * ```ts
 * DTYPES.includes('float64'); // true
 * ```
 */
export const DTYPES: readonly DType[] = ['bool', 'int32', 'float32', 'float64'];

/** The typed array that holds each dtype on the CPU (bool is stored as 0/1 bytes). */
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/** Maps a dtype to its typed array type. */
export type ArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int32'
      ? Int32Array
      : Uint8Array;

const CTORS = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  bool: Uint8Array,
} as const;

/** Allocates a zeroed typed array for `dtype`. @internal */
export function allocArray(dtype: DType, size: number): TypedArray {
  return new CTORS[dtype](size);
}

/** The typed array constructor for `dtype`. @internal */
export function arrayCtor(dtype: DType): (typeof CTORS)[DType] {
  return CTORS[dtype];
}

/**
 * Bytes per element.
 * @example
 * ```ts
 * itemSize('float64'); // 8
 * ```
 */
export function itemSize(dtype: DType): number {
  return dtype === 'float64' ? 8 : dtype === 'bool' ? 1 : 4;
}

/**
 * True for float32 and float64.
 * @example
 * ```ts
 * isFloating('int32'); // false
 * ```
 */
export function isFloating(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

/** Validates a user-supplied dtype string. @internal */
export function checkDType(dtype: unknown, op: string): DType {
  if (dtype === 'float32' || dtype === 'float64' || dtype === 'int32' || dtype === 'bool') return dtype;
  throw new GradfolioError(
    'INVALID_ARGUMENT',
    `${op}: unknown dtype ${JSON.stringify(dtype)}; expected one of float32, float64, int32, bool`,
    { op, dtype },
  );
}

const RANK: Record<DType, number> = { bool: 0, int32: 1, float32: 2, float64: 3 };
type Category = 0 | 1 | 2; // bool, integer, floating
function category(d: DType): Category {
  return d === 'bool' ? 0 : d === 'int32' ? 1 : 2;
}

/**
 * The larger of two dtypes in promotion order (`bool < int32 < float32 < float64`).
 * @example
 * ```ts
 * promoteTypes('int32', 'float32'); // 'float32'
 * ```
 */
export function promoteTypes(a: DType, b: DType): DType {
  return RANK[a] >= RANK[b] ? a : b;
}

let defaultFloat: 'float32' | 'float64' = 'float32';

/**
 * Sets the default floating dtype used by factories and by float Python-style scalars (like
 * `torch.set_default_dtype`).
 *
 * @example
 * ```ts
 * setDefaultDType('float64');
 * zeros([2]).dtype; // 'float64'
 * ```
 */
export function setDefaultDType(dtype: 'float32' | 'float64'): void {
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `setDefaultDType: only float32 or float64 can be the default, got ${dtype}`,
      { dtype },
    );
  }
  defaultFloat = dtype;
}

/**
 * The current default floating dtype (`float32` unless changed).
 *
 * @example
 * ```ts
 * getDefaultDType(); // 'float32'
 * ```
 */
export function getDefaultDType(): 'float32' | 'float64' {
  return defaultFloat;
}

/** An operand of type promotion: a tensor's dtype and rank, or a JS scalar. @internal */
export type PromotionOperand = { dtype: DType; ndim: number } | number | boolean;

/** The dtype a JS scalar gets when it becomes a tensor on its own. @internal */
export function scalarDType(v: number | boolean): DType {
  if (typeof v === 'boolean') return 'bool';
  return Number.isInteger(v) ? 'int32' : defaultFloat;
}

/**
 * PyTorch's `result_type`: dimensioned tensors win over 0-d tensors, which win over JS scalars, except
 * that a higher category (bool < integer < floating) always lifts the result to that category; a JS
 * float scalar lifts an integer result to the default float dtype.
 * @internal
 */
export function resultType(operands: readonly PromotionOperand[]): DType {
  // Fast path: two dimensioned tensors of one dtype (the common case in training loops).
  if (operands.length === 2) {
    const a = operands[0]!;
    const b = operands[1]!;
    if (typeof a === 'object' && typeof b === 'object' && a.dtype === b.dtype && a.ndim > 0 && b.ndim > 0)
      return a.dtype;
  }
  let dimResult: DType | undefined;
  let zeroResult: DType | undefined;
  let wrapped: DType | undefined;
  for (const o of operands) {
    if (typeof o === 'number' || typeof o === 'boolean') {
      const d = scalarDType(o);
      wrapped = wrapped === undefined ? d : promoteTypes(wrapped, d);
    } else if (o.ndim > 0) {
      dimResult = dimResult === undefined ? o.dtype : promoteTypes(dimResult, o.dtype);
    } else {
      zeroResult = zeroResult === undefined ? o.dtype : promoteTypes(zeroResult, o.dtype);
    }
  }
  let out = dimResult;
  for (const next of [zeroResult, wrapped]) {
    if (next === undefined) continue;
    if (out === undefined) {
      out = next;
    } else if (category(next) > category(out)) {
      // A wrapped float scalar lifts to the default float dtype, a 0-d tensor to its own dtype.
      out = next === wrapped && category(next) === 2 ? defaultFloat : next;
    }
  }
  return out ?? defaultFloat;
}
