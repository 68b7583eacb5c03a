import { fmtShape, GradfolioError } from './errors.js';

/** A tensor's shape: a list of non-negative sizes. */
export type Shape = readonly number[];

/**
 * Number of elements of a shape (1 for a 0-d shape).
 * @example
 * ```ts
 * numel([2, 3]); // 6
 * ```
 */
export function numel(shape: Shape): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/**
 * Row-major (C-contiguous) strides of a shape.
 * @example
 * ```ts
 * contiguousStrides([2, 3, 4]); // [12, 4, 1]
 * ```
 */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = acc;
    acc *= shape[i]!;
  }
  return strides;
}

/**
 * True if a layout is row-major contiguous (size-1 dims may have any stride).
 * @example
 * ```ts
 * isContiguous([2, 3], [1, 2]); // false
 * ```
 */
export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const s = shape[i]!;
    if (s === 0) return true;
    if (s !== 1 && strides[i] !== expected) return false;
    expected *= s;
  }
  return true;
}

/** Normalises a possibly negative dim into `[0, ndim)`, with PyTorch's error. @internal */
export function normDim(dim: number, ndim: number, op: string): number {
  const n = Math.max(ndim, 1); // 0-d tensors accept dim 0 and -1
  if (!Number.isInteger(dim) || dim < -n || dim >= n) {
    throw new GradfolioError(
      'INDEX_OUT_OF_RANGE',
      `${op}: dimension out of range (expected to be in range of [${-n}, ${n - 1}], but got ${dim})`,
      { op, dim, ndim },
    );
  }
  return dim < 0 ? dim + n : dim;
}

/** Normalises a list of dims, rejecting repeats. @internal */
export function normDims(dims: readonly number[], ndim: number, op: string): number[] {
  const out = dims.map((d) => normDim(d, ndim, op));
  const seen = new Set<number>();
  for (const d of out) {
    if (seen.has(d)) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `${op}: dim ${d} appears multiple times in the list of dims`,
        {
          op,
          dims: [...dims],
        },
      );
    }
    seen.add(d);
  }
  return out;
}

/**
 * Broadcasts shapes with NumPy/PyTorch rules, or throws `SHAPE_MISMATCH` naming the op and the shapes.
 * @example
 * ```ts
 * broadcastShapes('add', [4, 1], [3]); // [4, 3]
 * ```
 */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  let ndim = 0;
  for (const s of shapes) ndim = Math.max(ndim, s.length);
  const out = new Array<number>(ndim).fill(1);
  for (const s of shapes) {
    const off = ndim - s.length;
    for (let i = 0; i < s.length; i++) {
      const d = s[i]!;
      const cur = out[off + i]!;
      if (d === cur || d === 1) continue;
      if (cur === 1) {
        out[off + i] = d;
        continue;
      }
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `${op}: shapes ${shapes.map(fmtShape).join(' and ')} cannot be broadcast together: ` +
          `size ${cur} does not match size ${d} at dimension ${off + i - ndim}`,
        { op, shapes },
      );
    }
  }
  return out;
}

/** Strides that read a tensor of `shape`/`strides` as `target` (stride 0 on broadcast dims). @internal */
export function broadcastStrides(shape: Shape, strides: readonly number[], target: Shape): number[] {
  const off = target.length - shape.length;
  const out = new Array<number>(target.length).fill(0);
  for (let i = 0; i < shape.length; i++) out[off + i] = shape[i] === 1 ? 0 : strides[i]!;
  return out;
}

/** Resolves one `-1` entry of a requested shape against `total` elements. @internal */
export function inferShape(op: string, requested: readonly number[], total: number, from: Shape): number[] {
  let infer = -1;
  let known = 1;
  for (let i = 0; i < requested.length; i++) {
    const s = requested[i]!;
    if (s === -1) {
      if (infer >= 0)
        throw new GradfolioError('INVALID_ARGUMENT', `${op}: only one dimension can be inferred`, { op });
      infer = i;
    } else if (!Number.isInteger(s) || s < 0) {
      throw new GradfolioError('INVALID_ARGUMENT', `${op}: invalid shape dimension ${s}`, {
        op,
        shape: [...requested],
      });
    } else known *= s;
  }
  const out = [...requested];
  if (infer >= 0) {
    if (known === 0 || total % known !== 0) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `${op}: shape '${fmtShape(requested)}' is invalid for input of size ${total}`,
        {
          op,
          shapes: [from, requested],
        },
      );
    }
    out[infer] = total / known;
  } else if (known !== total) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: shape '${fmtShape(requested)}' is invalid for input of size ${total}`,
      {
        op,
        shapes: [from, requested],
      },
    );
  }
  return out;
}

/**
 * Strides for viewing `shape`/`strides` as `newShape` without copying, or `undefined` when impossible
 * (PyTorch's `computeStride` rule: only dims that are contiguous with each other may merge or split).
 * @internal
 */
export function viewStrides(shape: Shape, strides: readonly number[], newShape: Shape): number[] | undefined {
  const n = numel(shape);
  if (n === 0 || shape.length === 0) return contiguousStrides(newShape);
  const out = new Array<number>(newShape.length);
  let viewD = newShape.length - 1;
  let chunkBase = strides[strides.length - 1]!;
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    tensorNumel *= shape[d]!;
    if (d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] === 1)) {
        out[viewD] = viewNumel * chunkBase;
        viewNumel *= newShape[viewD]!;
        viewD--;
      }
      if (viewNumel !== tensorNumel) return undefined;
      if (d > 0) {
        chunkBase = strides[d - 1]!;
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  if (viewD !== -1) return undefined;
  return out;
}
