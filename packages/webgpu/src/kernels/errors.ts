/**
 * Errors found on the GPU. A kernel cannot throw, so the index kernels (`gather`, `indexSelect`,
 * `scatter`, `scatterAdd`: an out-of-range index) and the linalg kernels (`cholesky`: not
 * positive-definite; `solve`, `inverse`: singular) record the first error in the context's error buffer
 * (four i32 words: [code, a, b, c]) and carry on harmlessly; the next `read` of any tensor of the
 * backend raises it instead of returning data.
 */
import { GradfolioError } from '@gradfolio/tensor';

/** Op names by error code - 1 (code 0 means "no error"). @internal */
export const ERROR_OPS = [
  'gather',
  'indexSelect',
  'scatter',
  'scatterAdd',
  'cholesky',
  'solve',
  'inverse',
] as const;

/** The error code of an op. @internal */
export function errorCode(op: (typeof ERROR_OPS)[number]): number {
  return ERROR_OPS.indexOf(op) + 1;
}

/**
 * WGSL declaring the error record at `binding` and `checkIndex(t, size, dim, code)`, true when `t` is
 * in range; otherwise the first failing thread stores [code, t, dim, size]. @internal
 */
export function errorDecl(binding: number): string {
  return `@group(0) @binding(${binding}) var<storage, read_write> errb: array<atomic<i32>, 4>;
fn checkIndex(t: i32, size: i32, dim: i32, code: i32) -> bool {
  if (t >= 0 && t < size) { return true; }
  if (atomicExchange(&errb[0], code) == 0) {
    atomicStore(&errb[1], t);
    atomicStore(&errb[2], dim);
    atomicStore(&errb[3], size);
  }
  return false;
}`;
}

/**
 * The error a record describes, worded as the CPU kernels word it: index ops [code, index, dim, size];
 * cholesky [code, batch element, order of the failing minor, batched]; solve and inverse [code, batch
 * element, 1-based zero pivot, batched]. @internal
 */
export function deviceError(record: Int32Array): GradfolioError {
  const op = ERROR_OPS[record[0]! - 1] ?? 'gather';
  const [, a, b, c] = record as unknown as [number, number, number, number];
  const later = ` (found on the GPU by an earlier ${op}, whose result is not valid; this read is the first chance to report it)`;
  if (op === 'cholesky' || op === 'solve' || op === 'inverse') {
    const prefix = c !== 0 ? `(batch element ${a}): ` : '';
    const text =
      op === 'cholesky'
        ? `the factorization could not be completed because the input is not positive-definite (the leading minor of order ${b} is not positive-definite)`
        : op === 'solve'
          ? 'the solver failed because the input matrix is singular'
          : `the diagonal element ${b} is zero, the inversion could not be completed because the input matrix is singular`;
    return new GradfolioError('LINALG_ERROR', `${op}: ${prefix}${text}${later}`, {
      op,
      ...(c !== 0 ? { batch: a } : {}),
      ...(op === 'cholesky' ? { order: b } : { element: b }),
      device: 'webgpu',
    });
  }
  return new GradfolioError(
    'INDEX_OUT_OF_RANGE',
    `${op}: index ${a} is out of bounds for dimension ${b} with size ${c}${later}`,
    { op, index: a, dim: b, size: c, device: 'webgpu' },
  );
}
