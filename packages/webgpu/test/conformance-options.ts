/**
 * What the conformance suite runs on 'webgpu' and how closely it must match: shared by the Node run
 * (`conformance.test.ts`, Dawn) and the browser run (`conformance.browser.test.ts`, Chromium), so both
 * check the same cases with the same tolerances.
 */
import { type DType, opTable } from '@gradfolio/tensor';
import { defaultTolerance, type Tolerance } from '@gradfolio/tensor/testing';

/**
 * Tolerances per op family on this backend (`|got - want| <= atol + rtol * |want|`), all equal to the
 * suite's defaults, which every case meets:
 *
 * - int32 and bool results: exact (wrapping int32 arithmetic, the CPU's ToInt32 conversions);
 * - float32 pointwise ops (unary math, binary arithmetic, comparisons, where, tanhBackward,
 *   sigmoidBackward), index ops, sort and max/min/argmax/argmin: rtol 1e-5, atol 1e-6. The
 *   transcendental functions are written out in WGSL (sin/cos with Cody-Waite reduction, expm1/log1p/
 *   tanh series near 0, erf by Abramowitz-Stegun 7.1.26) because the builtins' promised accuracy
 *   (2^-11 absolute for sin/cos) is not enough, and SwiftShader's sin/cos miss it;
 * - float32 reductions, scans, softmax-like composites and matmul (f32 accumulation against the
 *   CPU's float64 accumulation): rtol 1e-4, atol 1e-5;
 * - float32 cholesky, solve, inverse (f32 factorisation, errors grow with the condition number):
 *   rtol 1e-3, atol 1e-4.
 */
export function webgpuTolerance(op: string, dtype: DType): Tolerance {
  return defaultTolerance(op, dtype);
}

/** Every op of the op table, fused ones included (this backend has kernels for all of them). */
export const WEBGPU_OPS = [...opTable.values()].map((d) => d.name);
