import { commonBackend, record, runKernel } from '../dispatch.js';
import { isFloating } from '../dtype.js';
import { fmtShape, GradfolioError } from '../errors.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { add, expandRaw, mul } from './pointwise.js';
import { reshape, squeeze, unsqueeze } from './views.js';

function sameDtype(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) {
    throw new GradfolioError(
      'DTYPE_MISMATCH',
      `${op}: expected both operands to have the same dtype, but got ${a.dtype} and ${b.dtype}; cast one with .to('${a.dtype}')`,
      { op, dtypes: [a.dtype, b.dtype], shapes: [a.shape, b.shape] },
    );
  }
}

/** The batched primitive: a [...batch, M, K] @ b [...batch, K, N], batch dims broadcast. */
function batchedMatmul(op: string, a: Tensor, b: Tensor): Tensor {
  sameDtype(op, a, b);
  commonBackend(op, [a, b]);
  if (a.ndim === 0 || b.ndim === 0) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: both arguments need at least 1 dimension, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
      {
        op,
        shapes: [a.shape, b.shape],
      },
    );
  }
  const m = a.shape[a.ndim - 2]!;
  const k = a.shape[a.ndim - 1]!;
  const k2 = b.shape[b.ndim - 2]!;
  const n = b.shape[b.ndim - 1]!;
  if (k !== k2) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: mat1 and mat2 shapes cannot be multiplied (${m}x${k} and ${k2}x${n}); full shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
      { op, shapes: [a.shape, b.shape] },
    );
  }
  const batch = broadcastShapes(op, a.shape.slice(0, -2), b.shape.slice(0, -2));
  const ea = expandRaw(a, [...batch, m, k]);
  const eb = expandRaw(b, [...batch, k, n]);
  const out = runKernel('matmul', [ea, eb], [{ shape: [...batch, m, n], dtype: a.dtype }])[0]!;
  if (ea !== a) ea.dispose();
  if (eb !== b) eb.dispose();
  record('matmul', [a, b], [out]);
  return out;
}

/**
 * Matrix product with PyTorch's rules: 1-D x 1-D is a dot product, 1-D operands gain and lose a
 * dim, batch dims broadcast.
 * @example
 * ```ts
 * matmul(x, w.T);                      // [B, in] @ [in, out]
 * matmul(randn([10, 3, 4]), randn([4, 5])); // [10, 3, 5]
 * ```
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `matmul: both arguments to matmul need to be at least 1D, but they are ${a.ndim}D and ${b.ndim}D`,
      { op: 'matmul', shapes: [a.shape, b.shape] },
    );
  }
  if (a.ndim === 1 && b.ndim === 1) return dot(a, b);
  const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a;
  const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b;
  let out = batchedMatmul('matmul', a2, b2);
  if (a.ndim === 1) out = squeeze(out, -2);
  if (b.ndim === 1) out = squeeze(out, -1);
  return out;
}

/** 2-D matrix product. @example `mm(a, b)` */
export function mm(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 2 || b.ndim !== 2) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `mm: expected 2-D matrices, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
      {
        op: 'mm',
        shapes: [a.shape, b.shape],
      },
    );
  }
  return batchedMatmul('mm', a, b);
}

/** Batched product of 3-D tensors with equal batch sizes. @example `bmm(a, b)` */
export function bmm(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 3 || b.ndim !== 3 || a.shape[0] !== b.shape[0]) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `bmm: expected 3-D tensors with the same batch size, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
      { op: 'bmm', shapes: [a.shape, b.shape] },
    );
  }
  return batchedMatmul('bmm', a, b);
}

/** Inner product of two 1-D tensors (a 0-d tensor). @example `dot(a, b)` */
export function dot(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 1 || b.ndim !== 1 || a.shape[0] !== b.shape[0]) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `dot: expected 1-D tensors of the same size, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
      { op: 'dot', shapes: [a.shape, b.shape] },
    );
  }
  return reshape(batchedMatmul('dot', unsqueeze(a, 0), unsqueeze(b, 1)), []);
}

/** Outer product of two 1-D tensors. @example `outer(a, b)` */
export function outer(a: Tensor, b: Tensor): Tensor {
  if (a.ndim !== 1 || b.ndim !== 1) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `outer: expected 1-D tensors, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`,
      {
        op: 'outer',
        shapes: [a.shape, b.shape],
      },
    );
  }
  return mul(unsqueeze(a, 1), unsqueeze(b, 0));
}

/** `beta * input + alpha * (m1 @ m2)`. @example `addmm(bias, x, w.T)` */
export function addmm(
  input: Tensor,
  m1: Tensor,
  m2: Tensor,
  options: { beta?: number; alpha?: number } = {},
): Tensor {
  const beta = options.beta ?? 1;
  const alpha = options.alpha ?? 1;
  const prodT = mm(m1, m2);
  const scaled = alpha === 1 ? prodT : mul(prodT, alpha);
  if (beta === 0) {
    // PyTorch ignores input entirely when beta is 0 (NaN and Inf in it do not propagate).
    return scaled;
  }
  return add(beta === 1 ? input : mul(input, beta), scaled);
}

function squareCheck(op: string, a: Tensor): void {
  if (a.ndim < 2 || a.shape[a.ndim - 1] !== a.shape[a.ndim - 2]) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: A must be batches of square matrices, but they are ${a.ndim < 2 ? fmtShape(a.shape) : `${a.shape[a.ndim - 2]} by ${a.shape[a.ndim - 1]}`} matrices`,
      { op, shapes: [a.shape] },
    );
  }
  if (!isFloating(a.dtype)) {
    throw new GradfolioError('DTYPE_MISMATCH', `${op}: expected a floating point tensor, got ${a.dtype}`, {
      op,
      dtype: a.dtype,
    });
  }
}

/**
 * Cholesky factor `L` with `A = L Lᵀ` (or upper `U` with `A = Uᵀ U`); a `LINALG_ERROR` when A is not
 * positive-definite. CPU.
 * @example
 * ```ts
 * const L = cholesky(cov);
 * ```
 */
export function cholesky(a: Tensor, options: { upper?: boolean } = {}): Tensor {
  squareCheck('cholesky', a);
  const upper = options.upper ?? false;
  const out = runKernel('cholesky', [a], [{ shape: a.shape, dtype: a.dtype }], { upper })[0]!;
  record('cholesky', [a], [out], { upper });
  return out;
}

/**
 * Solves `A X = B` (LU with partial pivoting); `B` may be a vector `[..., n]` or a matrix `[..., n, k]`.
 * CPU.
 * @example
 * ```ts
 * const w = solve(cov, ones([n]));
 * ```
 */
export function solve(a: Tensor, b: Tensor): Tensor {
  squareCheck('solve', a);
  sameDtype('solve', a, b);
  const n = a.shape[a.ndim - 1]!;
  const vector = b.ndim === 1 || (b.ndim === a.ndim - 1 && b.shape[b.ndim - 1] === n);
  const b2 = vector ? unsqueeze(b, -1) : b;
  if (b2.shape[b2.ndim - 2] !== n) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `solve: incompatible shapes of A and B for the equation AX = B (${fmtShape(a.shape)} and ${fmtShape(b.shape)})`,
      { op: 'solve', shapes: [a.shape, b.shape] },
    );
  }
  const batch = broadcastShapes('solve', a.shape.slice(0, -2), b2.shape.slice(0, -2));
  const ea = expandRaw(a, [...batch, n, n]);
  const eb = expandRaw(b2, [...batch, n, b2.shape[b2.ndim - 1]!]);
  const out = runKernel('solve', [ea, eb], [{ shape: eb.shape, dtype: a.dtype }])[0]!;
  if (ea !== a) ea.dispose();
  if (eb !== b2) eb.dispose();
  record('solve', [a, b2], [out]);
  return vector ? squeeze(out, -1) : out;
}

/**
 * Matrix inverse; a `LINALG_ERROR` for singular input. CPU.
 * @example
 * ```ts
 * const inv = inverse(cov);
 * ```
 */
export function inverse(a: Tensor): Tensor {
  squareCheck('inverse', a);
  const out = runKernel('inverse', [a], [{ shape: a.shape, dtype: a.dtype }])[0]!;
  record('inverse', [a], [out]);
  return out;
}

/**
 * PyTorch's `torch.linalg` namespace.
 * @example
 * ```ts
 * linalg.solve(A, b); linalg.inv(A); linalg.cholesky(A);
 * ```
 */
export const linalg = {
  /** `torch.linalg.cholesky`: see {@link cholesky}. */
  cholesky,
  /** `torch.linalg.solve`: see {@link solve}. */
  solve,
  /** `torch.linalg.inv`: see {@link inverse}. */
  inv: inverse,
  /** `torch.linalg.matmul`: see {@link matmul}. */
  matmul,
} as const;
