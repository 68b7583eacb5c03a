/**
 * Layout helpers shared by the kernels: dimension coalescing (so most views run as rank 0-2 kernels)
 * and the WGSL storage type of each dtype.
 */
import {
  coalesceDims,
  contiguousStrides,
  type DType,
  GradfolioError,
  numel,
  type Plan,
} from '@gradfolio/tensor';

/** A shape with one stride list per operand, after coalescing. @internal */
export type Coalesced = Plan;

/**
 * Drops size-1 dims and merges adjacent dims across which every operand is contiguous: the tensor
 * core's `coalesceDims` (a single element comes back as rank 1 of size 1).
 * @internal
 */
export const coalesce: (shape: readonly number[], strides: ReadonlyArray<readonly number[]>) => Coalesced =
  coalesceDims;

/** Number of elements of a shape. @internal */
export const numelOf: (shape: readonly number[]) => number = numel;

export { contiguousStrides };

/** The WGSL element type a dtype is stored as: f32, i32, or u32 (bool, one 0/1 word per element). @internal */
export function wgslType(dtype: DType): 'f32' | 'i32' | 'u32' {
  if (dtype === 'float32') return 'f32';
  if (dtype === 'int32') return 'i32';
  if (dtype === 'bool') return 'u32';
  throw new GradfolioError(
    'DTYPE_MISMATCH',
    `webgpu: dtype ${dtype} has no WGSL storage type; keep ${dtype} tensors on the CPU`,
    { dtype },
  );
}

/** WGSL expression reading uniform slot `i` (an i32) of the `u.m` vec4 array. @internal */
export function slot(i: number): string {
  return `u.m[${i >> 2}][${i & 3}]`;
}

/**
 * The uniform block every kernel declares: `count` i32 slots packed as vec4<i32> (uniform arrays need
 * 16-byte elements). f32 parameters travel as their bit pattern (`bitcast<f32>`).
 * @internal
 */
export function uniformDecl(count: number): string {
  return `struct U { m: array<vec4<i32>, ${Math.max(1, Math.ceil(count / 4))}> };
@group(0) @binding(0) var<uniform> u: U;`;
}

/**
 * WGSL helpers for casts that must match the CPU backend (JS typed-array semantics): f32 -> i32 is
 * ToInt32 (truncate, wrap modulo 2^32, NaN/Inf -> 0); anything -> bool is `value != 0` (NaN is true).
 * Bit tests are used for NaN so that no compiler fast-math assumption can fold them away.
 * @internal
 */
export const CAST_HELPERS = `
fn f2i(v: f32) -> i32 {
  let bits = bitcast<u32>(v);
  if ((bits & 0x7f800000u) == 0x7f800000u) { return 0; }
  let t = trunc(v);
  if (abs(t) < 2147483648.0) { return i32(t); }
  let m = t - 4294967296.0 * floor(t / 4294967296.0);
  return bitcast<i32>(u32(m));
}
fn f2b(v: f32) -> u32 { return select(0u, 1u, (bitcast<u32>(v) & 0x7fffffffu) != 0u); }
`;

/** WGSL expression converting `expr` (stored as `from`) to the storage type of `to`. @internal */
export function castExpr(expr: string, from: DType, to: DType): string {
  if (from === to) return expr;
  if (to === 'float32') return `f32(${expr})`;
  if (to === 'int32') return from === 'float32' ? `f2i(${expr})` : `i32(${expr})`;
  // to bool
  if (from === 'float32') return `f2b(${expr})`;
  return `select(0u, 1u, ${expr} != 0)`;
}
