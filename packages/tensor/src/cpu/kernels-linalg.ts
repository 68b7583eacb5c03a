import type { Kernel, TensorView } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import { GradfolioError } from '../errors.js';

/**
 * Dense linear algebra of the CPU backend: cholesky, solve and inverse. Every matrix is copied into a
 * row-major float64 scratch (whatever the input's strides and dtype), factorised there, and the result
 * is written through the output view in its dtype. Errors follow LAPACK/PyTorch: `LINALG_ERROR`, with
 * the batch element named when the input has batch dims.
 */

/** Element offsets of every matrix of a `[...batch, r, c]` view, in row-major batch order. */
function batchOffsets(v: TensorView, batchDims: number): Float64Array {
  let count = 1;
  for (let d = 0; d < batchDims; d++) count *= v.shape[d]!;
  const offs = new Float64Array(count);
  if (count === 0) return offs;
  const idx = new Array<number>(batchDims).fill(0);
  let off = v.offset;
  for (let b = 0; b < count; b++) {
    offs[b] = off;
    for (let d = batchDims - 1; d >= 0; d--) {
      const size = v.shape[d]!;
      const s = v.strides[d]!;
      if (++idx[d]! < size) {
        off += s;
        break;
      }
      idx[d] = 0;
      off -= s * (size - 1);
    }
  }
  return offs;
}

function batchPrefix(batched: boolean, b: number): string {
  return batched ? `(batch element ${b}): ` : '';
}

function linalgError(
  op: string,
  message: string,
  batched: boolean,
  b: number,
  extra: object,
): GradfolioError {
  return new GradfolioError('LINALG_ERROR', `${op}: ${batchPrefix(batched, b)}${message}`, {
    op,
    ...(batched ? { batch: b } : {}),
    ...extra,
  });
}

/** Reads the `r × c` matrix at `base` (row stride `rs`, column stride `cs`) into row-major `dst`. */
function readMatrix(
  src: TypedArray,
  base: number,
  rs: number,
  cs: number,
  r: number,
  c: number,
  dst: Float64Array,
): void {
  let w = 0;
  for (let i = 0, rp = base; i < r; i++, rp += rs) {
    for (let j = 0, p = rp; j < c; j++, p += cs) dst[w++] = src[p]!;
  }
}

/** Writes row-major `src` (`r × c`) to the matrix at `base` with strides `rs`, `cs`. */
function writeMatrix(
  src: Float64Array,
  dst: TypedArray,
  base: number,
  rs: number,
  cs: number,
  r: number,
  c: number,
): void {
  let w = 0;
  for (let i = 0, rp = base; i < r; i++, rp += rs) {
    for (let j = 0, p = rp; j < c; j++, p += cs) dst[p] = src[w++]!;
  }
}

// ---------------------------------------------------------------------------------------------------
// cholesky
// ---------------------------------------------------------------------------------------------------

const choleskyKernel: Kernel = (inputs, outputs, attrs) => {
  const a = inputs[0]!;
  const o = outputs[0]!;
  const upper = attrs.upper === true;
  const nd = a.shape.length;
  const n = a.shape[nd - 1]!;
  const nb = nd - 2;
  const batched = nb > 0;
  const aa = a.handle as TypedArray;
  const oa = o.handle as TypedArray;
  const ars = a.strides[nd - 2]!;
  const acs = a.strides[nd - 1]!;
  const ors = o.strides[nd - 2]!;
  const ocs = o.strides[nd - 1]!;
  const aOffs = batchOffsets(a, nb);
  const oOffs = batchOffsets(o, nb);
  const L = new Float64Array(n * n);
  for (let b = 0; b < aOffs.length; b++) {
    const ab = aOffs[b]!;
    L.fill(0);
    // Column-by-column (Cholesky–Crout); only the lower triangle of A is read.
    for (let j = 0; j < n; j++) {
      const jr = j * n;
      let s = aa[ab + j * ars + j * acs]!;
      for (let k = 0; k < j; k++) {
        const l = L[jr + k]!;
        s -= l * l;
      }
      if (!(s > 0)) {
        throw linalgError(
          'cholesky',
          `the factorization could not be completed because the input is not positive-definite (the leading minor of order ${j + 1} is not positive-definite)`,
          batched,
          b,
          { order: j + 1 },
        );
      }
      const d = Math.sqrt(s);
      L[jr + j] = d;
      for (let i = j + 1; i < n; i++) {
        const ir = i * n;
        let t = aa[ab + i * ars + j * acs]!;
        for (let k = 0; k < j; k++) t -= L[ir + k]! * L[jr + k]!;
        L[ir + j] = t / d;
      }
    }
    const ob = oOffs[b]!;
    if (upper)
      writeMatrix(L, oa, ob, ocs, ors, n, n); // U = Lᵀ: write L with the strides swapped
    else writeMatrix(L, oa, ob, ors, ocs, n, n);
  }
};

// ---------------------------------------------------------------------------------------------------
// LU with partial pivoting
// ---------------------------------------------------------------------------------------------------

/**
 * Solves `A X = B` in place: `lu` (n × n, row-major) is overwritten by its LU factors, `x`
 * (n × k, row-major) holds B on entry and X on exit. Returns 0, or the 1-based column whose pivot is
 * exactly zero (the matrix is singular; LAPACK's `info`).
 */
function luSolve(lu: Float64Array, x: Float64Array, n: number, k: number): number {
  for (let c = 0; c < n; c++) {
    // Pivot: the largest magnitude in column c at or below the diagonal.
    let p = c;
    let best = Math.abs(lu[c * n + c]!);
    for (let r = c + 1; r < n; r++) {
      const v = Math.abs(lu[r * n + c]!);
      if (v > best) {
        best = v;
        p = r;
      }
    }
    if (best === 0) return c + 1;
    if (p !== c) {
      for (let j = 0, a = c * n, b = p * n; j < n; j++) {
        const t = lu[a + j]!;
        lu[a + j] = lu[b + j]!;
        lu[b + j] = t;
      }
      for (let j = 0, a = c * k, b = p * k; j < k; j++) {
        const t = x[a + j]!;
        x[a + j] = x[b + j]!;
        x[b + j] = t;
      }
    }
    const cr = c * n;
    const xr = c * k;
    const piv = lu[cr + c]!;
    for (let r = c + 1; r < n; r++) {
      const rr = r * n;
      const f = lu[rr + c]! / piv;
      if (f === 0) continue;
      lu[rr + c] = f;
      for (let j = c + 1; j < n; j++) lu[rr + j] = lu[rr + j]! - f * lu[cr + j]!;
      const xrr = r * k;
      for (let j = 0; j < k; j++) x[xrr + j] = x[xrr + j]! - f * x[xr + j]!;
    }
  }
  // Back substitution with U, one row of X at a time (tight loops over k).
  for (let r = n - 1; r >= 0; r--) {
    const rr = r * n;
    const xrr = r * k;
    for (let m = r + 1; m < n; m++) {
      const u = lu[rr + m]!;
      if (u === 0) continue;
      const xm = m * k;
      for (let j = 0; j < k; j++) x[xrr + j] = x[xrr + j]! - u * x[xm + j]!;
    }
    const d = lu[rr + r]!;
    for (let j = 0; j < k; j++) x[xrr + j] = x[xrr + j]! / d;
  }
  return 0;
}

const solveKernel: Kernel = (inputs, outputs) => {
  const a = inputs[0]!;
  const bv = inputs[1]!;
  const o = outputs[0]!;
  const nd = o.shape.length;
  const n = o.shape[nd - 2]!;
  const k = o.shape[nd - 1]!;
  const nb = nd - 2;
  const batched = nb > 0;
  const aa = a.handle as TypedArray;
  const ba = bv.handle as TypedArray;
  const oa = o.handle as TypedArray;
  const ars = a.strides[nd - 2]!;
  const acs = a.strides[nd - 1]!;
  const brs = bv.strides[nd - 2]!;
  const bcs = bv.strides[nd - 1]!;
  const ors = o.strides[nd - 2]!;
  const ocs = o.strides[nd - 1]!;
  const aOffs = batchOffsets(a, nb);
  const bOffs = batchOffsets(bv, nb);
  const oOffs = batchOffsets(o, nb);
  const lu = new Float64Array(n * n);
  const x = new Float64Array(n * k);
  for (let b = 0; b < oOffs.length; b++) {
    readMatrix(aa, aOffs[b]!, ars, acs, n, n, lu);
    readMatrix(ba, bOffs[b]!, brs, bcs, n, k, x);
    const info = luSolve(lu, x, n, k);
    if (info !== 0) {
      throw linalgError('solve', 'the solver failed because the input matrix is singular', batched, b, {
        element: info,
      });
    }
    writeMatrix(x, oa, oOffs[b]!, ors, ocs, n, k);
  }
};

const inverseKernel: Kernel = (inputs, outputs) => {
  const a = inputs[0]!;
  const o = outputs[0]!;
  const nd = a.shape.length;
  const n = a.shape[nd - 1]!;
  const nb = nd - 2;
  const batched = nb > 0;
  const aa = a.handle as TypedArray;
  const oa = o.handle as TypedArray;
  const ars = a.strides[nd - 2]!;
  const acs = a.strides[nd - 1]!;
  const ors = o.strides[nd - 2]!;
  const ocs = o.strides[nd - 1]!;
  const aOffs = batchOffsets(a, nb);
  const oOffs = batchOffsets(o, nb);
  const lu = new Float64Array(n * n);
  const x = new Float64Array(n * n);
  for (let b = 0; b < aOffs.length; b++) {
    readMatrix(aa, aOffs[b]!, ars, acs, n, n, lu);
    x.fill(0);
    for (let i = 0; i < n; i++) x[i * n + i] = 1;
    const info = luSolve(lu, x, n, n);
    if (info !== 0) {
      throw linalgError(
        'inverse',
        `the diagonal element ${info} is zero, the inversion could not be completed because the input matrix is singular`,
        batched,
        b,
        { element: info },
      );
    }
    writeMatrix(x, oa, oOffs[b]!, ors, ocs, n, n);
  }
};

/**
 * Registers the CPU linear-algebra kernels `cholesky`, `solve` and `inverse` (contracts in the op
 * table). They compute in float64 whatever the dtype and throw `LINALG_ERROR` for non-positive-definite
 * (cholesky, `details.order`) or singular (solve, inverse) input, naming the batch element
 * (`details.batch`) when the input has batch dims.
 *
 * @example
 * ```ts
 * const kernels = new Map<string, Kernel>();
 * registerLinalgKernels(kernels);
 * const L = new Float64Array(4);
 * kernels.get('cholesky')!(
 *   [{ handle: new Float64Array([4, 2, 2, 5]), dtype: 'float64', shape: [2, 2], strides: [2, 1], offset: 0 }],
 *   [{ handle: L, dtype: 'float64', shape: [2, 2], strides: [2, 1], offset: 0 }],
 *   { upper: false },
 * );
 * L; // Float64Array [2, 0, 1, 2]
 * ```
 */
export function registerLinalgKernels(k: Map<string, Kernel>): void {
  k.set('cholesky', choleskyKernel);
  k.set('solve', solveKernel);
  k.set('inverse', inverseKernel);
}
