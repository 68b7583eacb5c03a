import { Storage } from '../backend.js';
import { allocTensor, commonBackend, copyInto, record, runKernel, unrecorded } from '../dispatch.js';
import { allocArray, type DType, resultType } from '../dtype.js';
import { fmtShape, GradfolioError } from '../errors.js';
import { contiguousStrides, normDim, normDims } from '../shape.js';
import { Tensor, type TensorLike } from '../tensor.js';
import { asTensor, castRaw, expandRaw, where } from './pointwise.js';
import { diagonal as diagonalView, expand, narrow, reshape, unsqueeze } from './views.js';

/** A host-made int/bool tensor on `like`'s device: `values`, or `0..like.numel-1` when null. @internal */
export function arangeLike(like: Tensor, values: readonly number[] | null, dtype: DType): Tensor {
  const n = values === null ? like.numel : values.length;
  const arr = allocArray(dtype, n);
  for (let i = 0; i < n; i++) arr[i] = values === null ? i : values[i]!;
  const backend = like.backend;
  const storage = new Storage(backend, backend.upload(arr, dtype), dtype, n);
  return Tensor._fromStorage(storage, [n], [1], 0, dtype);
}

/** A differentiable copy with its own contiguous storage. @example `clone(x)` */
export function clone(x: Tensor): Tensor {
  const out = runKernel('copy', [x], [{ shape: x.shape, dtype: x.dtype }])[0]!;
  record('clone', [x], [out]);
  return out;
}

/**
 * Joins tensors along an existing dim; all other sizes must match.
 * @example
 * ```ts
 * cat([a, b], 0);
 * ```
 */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0)
    throw new GradfolioError('INVALID_ARGUMENT', 'cat: expected a non-empty list of tensors', { op: 'cat' });
  const backend = commonBackend('cat', tensors);
  const first = tensors[0]!;
  const d = normDim(dim, first.ndim, 'cat');
  if (first.ndim === 0)
    throw new GradfolioError('INVALID_ARGUMENT', 'cat: zero-dimensional tensor cannot be concatenated', {
      op: 'cat',
    });
  for (const [k, t] of tensors.entries()) {
    const ok = t.ndim === first.ndim && t.shape.every((s, i) => i === d || s === first.shape[i]);
    if (!ok) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `cat: sizes of tensors must match except in dimension ${d}; expected ${fmtShape(first.shape)} (except dim ${d}) but got ${fmtShape(t.shape)} for tensor number ${k} in the list`,
        { op: 'cat', shapes: tensors.map((x) => x.shape) },
      );
    }
  }
  const dtype = resultType(tensors);
  const sizes = tensors.map((t) => t.shape[d]!);
  const shape = [...first.shape];
  shape[d] = sizes.reduce((a, b) => a + b, 0);
  const out = allocTensor(backend, shape, dtype);
  let pos = 0;
  for (const t of tensors) {
    const n = t.shape[d]!;
    if (n > 0) {
      const region = out._view(t.shape, out.strides, out.offset + pos * out.strides[d]!);
      copyInto(region, t);
      region.dispose();
    }
    pos += n;
  }
  record('cat', tensors, [out], { dim: d, sizes });
  return out;
}

/**
 * Stacks same-shaped tensors along a new dim.
 * @example
 * ```ts
 * stack([a, b], 1);
 * ```
 */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0)
    throw new GradfolioError('INVALID_ARGUMENT', 'stack: expected a non-empty list of tensors', {
      op: 'stack',
    });
  const first = tensors[0]!;
  for (const [k, t] of tensors.entries()) {
    if (t.ndim !== first.ndim || t.shape.some((s, i) => s !== first.shape[i])) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `stack: expects each tensor to be equal size, but got ${fmtShape(first.shape)} at entry 0 and ${fmtShape(t.shape)} at entry ${k}`,
        { op: 'stack', shapes: tensors.map((x) => x.shape) },
      );
    }
  }
  const d = normDim(dim, first.ndim + 1, 'stack');
  return cat(
    tensors.map((t) => unsqueeze(t, d)),
    d,
  );
}

/**
 * Splits along `dim` into pieces of `size` (last may be smaller) or of the listed sizes (views).
 * @example
 * ```ts
 * split(x, [2, 3], 1);
 * ```
 */
export function split(x: Tensor, sizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  const d = normDim(dim, x.ndim, 'split');
  const n = x.shape[d]!;
  let sizes: number[];
  if (typeof sizeOrSections === 'number') {
    if (!Number.isInteger(sizeOrSections) || sizeOrSections <= 0) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `split: split size must be a positive integer, got ${sizeOrSections}`,
        { op: 'split' },
      );
    }
    sizes = [];
    for (let p = 0; p < n; p += sizeOrSections) sizes.push(Math.min(sizeOrSections, n - p));
    if (sizes.length === 0) sizes.push(0);
  } else {
    sizes = [...sizeOrSections];
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== n) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `split: split sizes [${sizes.join(', ')}] sum to ${total}, but the input has size ${n} in dimension ${d}`,
        { op: 'split', shapes: [x.shape] },
      );
    }
  }
  // Views of x, recorded as one node (its backward is one cat, not a padded gradient per piece).
  const out = unrecorded(() => {
    const views: Tensor[] = [];
    let pos = 0;
    for (const s of sizes) {
      views.push(narrow(x, d, pos, s));
      pos += s;
    }
    return views;
  });
  record('split', [x], out, { dim: d, sizes });
  return out;
}

/** Splits into `chunks` near-equal pieces (views). @example `chunk(gates, 4, 1)` */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0) {
    throw new GradfolioError('INVALID_ARGUMENT', `chunk: chunks must be a positive integer, got ${chunks}`, {
      op: 'chunk',
    });
  }
  const d = normDim(dim, x.ndim, 'chunk');
  const size = Math.ceil(x.shape[d]! / chunks);
  return split(x, Math.max(size, 1), d);
}

/** Reverses along `dims` (a copy). @example `flip(x, [0])` */
export function flip(x: Tensor, dims: readonly number[]): Tensor {
  const ds = normDims(dims, x.ndim, 'flip');
  let offset = x.offset;
  const strides = [...x.strides];
  for (const d of ds) {
    if (x.shape[d]! > 0) offset += (x.shape[d]! - 1) * strides[d]!;
    strides[d] = -strides[d]!;
  }
  const rev = x._view(x.shape, strides, offset);
  const out = runKernel('copy', [rev], [{ shape: x.shape, dtype: x.dtype }])[0]!;
  rev.dispose();
  record('flip', [x], [out], { dims: ds });
  return out;
}

/** Tiles `x` `sizes[i]` times along each dim. @example `repeat(x, [2, 1])` */
export function repeat(x: Tensor, sizes: readonly number[]): Tensor {
  if (sizes.length < x.ndim) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `repeat: number of dimensions of repeat dims (${sizes.length}) can not be smaller than number of dimensions of tensor (${x.ndim})`,
      { op: 'repeat', shapes: [x.shape] },
    );
  }
  const padded = [...new Array<number>(sizes.length - x.ndim).fill(1), ...x.shape];
  const inter: number[] = [];
  const expanded: number[] = [];
  for (let i = 0; i < sizes.length; i++) {
    inter.push(1, padded[i]!);
    expanded.push(sizes[i]!, padded[i]!);
  }
  const e = expand(reshape(x, inter), expanded);
  return reshape(
    e,
    sizes.map((s, i) => s * padded[i]!),
  );
}

/** Padding modes of `pad`. */
export type PadMode = 'constant' | 'reflect' | 'replicate' | 'circular';

/**
 * Pads the last dims: `pads` lists (left, right) for the last dim, then the one before, like PyTorch's
 * `F.pad`. Negative pads crop.
 * @example
 * ```ts
 * pad(x, [1, 1], { value: 0 });              // one zero on each side of the last dim
 * pad(x, [2, 0], { mode: 'replicate' });
 * ```
 */
export function pad(
  x: Tensor,
  pads: readonly number[],
  options: { mode?: PadMode; value?: number } = {},
): Tensor {
  const mode = options.mode ?? 'constant';
  if (pads.length % 2 !== 0 || pads.length / 2 > x.ndim) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `pad: padding length must be divisible by 2 and at most twice the number of dims (got ${pads.length} for a ${x.ndim}-d input)`,
      { op: 'pad', shapes: [x.shape] },
    );
  }
  const shape = [...x.shape];
  for (let i = 0; i < pads.length / 2; i++) {
    const d = x.ndim - 1 - i;
    shape[d] = shape[d]! + pads[2 * i]! + pads[2 * i + 1]!;
    if (shape[d]! < 0) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        `pad: the padded size of dim ${d} would be negative (${shape[d]})`,
        {
          op: 'pad',
          shapes: [x.shape],
        },
      );
    }
  }
  if (mode !== 'constant') {
    // Non-constant modes gather along each padded dim with host-computed indices (differentiable).
    let out = x;
    for (let i = 0; i < pads.length / 2; i++) {
      const d = x.ndim - 1 - i;
      const n = x.shape[d]!;
      const left = pads[2 * i]!;
      const right = pads[2 * i + 1]!;
      if (mode === 'reflect' && (left >= n || right >= n)) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `pad: padding size should be less than the corresponding input dimension, but got: padding (${left}, ${right}) at dimension ${d} of input ${fmtShape(x.shape)}`,
          { op: 'pad', shapes: [x.shape] },
        );
      }
      const idx: number[] = [];
      for (let j = -left; j < n + right; j++) {
        let k = j;
        if (mode === 'replicate') k = Math.min(Math.max(j, 0), n - 1);
        else if (mode === 'circular') k = ((j % n) + n) % n;
        else {
          const period = 2 * (n - 1);
          k = period === 0 ? 0 : ((j % period) + period) % period;
          if (k >= n) k = period - k;
        }
        idx.push(k);
      }
      out = indexSelect(out, d, arangeLike(x, idx, 'int32'));
    }
    return out;
  }
  const value = options.value ?? 0;
  const out = allocTensor(commonBackend('pad', [x]), shape, x.dtype);
  if (value !== 0) out.fill_(value);
  // The overlap of input and output, in each one's coordinates.
  let src = x;
  let dstOffset = 0;
  const dstShape = [...x.shape];
  for (let i = 0; i < pads.length / 2; i++) {
    const d = x.ndim - 1 - i;
    const left = pads[2 * i]!;
    const right = pads[2 * i + 1]!;
    const cropL = Math.max(0, -left);
    const cropR = Math.max(0, -right);
    const keep = x.shape[d]! - cropL - cropR;
    dstShape[d] = Math.max(0, keep);
    if (keep <= 0) {
      record('pad', [x], [out], { pads: [...pads], mode, value });
      return out;
    }
    src = src._view(
      src.shape.map((s, k) => (k === d ? keep : s)),
      src.strides,
      src.offset + cropL * src.strides[d]!,
    );
    dstOffset += Math.max(0, left) * out.strides[d]!;
  }
  const region = out._view(dstShape, out.strides, dstOffset);
  copyInto(region, src);
  region.dispose();
  if (src !== x) src.dispose();
  record('pad', [x], [out], { pads: [...pads], mode, value });
  return out;
}

function triMask(x: Tensor, diagonal: number, lower: boolean): Tensor {
  if (x.ndim < 2) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${lower ? 'tril' : 'triu'}: input tensor must have at least 2 dimensions (got ${fmtShape(x.shape)})`,
      {
        op: lower ? 'tril' : 'triu',
        shapes: [x.shape],
      },
    );
  }
  const n = x.shape[x.ndim - 2]!;
  const m = x.shape[x.ndim - 1]!;
  const mask = new Array<number>(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++)
      mask[i * m + j] = lower ? (j - i <= diagonal ? 1 : 0) : j - i >= diagonal ? 1 : 0;
  return reshape(arangeLike(x, mask, 'bool'), [n, m]);
}

/** Lower triangle (`j - i <= diagonal`), zero elsewhere. @example `tril(m)` */
export function tril(x: Tensor, diagonal = 0): Tensor {
  return where(triMask(x, diagonal, true), x, asTensor(0, x, x.dtype));
}
/** Upper triangle (`j - i >= diagonal`). @example `triu(m, 1)` */
export function triu(x: Tensor, diagonal = 0): Tensor {
  return where(triMask(x, diagonal, false), x, asTensor(0, x, x.dtype));
}

/**
 * 1-D input: a square matrix with `x` on the `diagonal`-th diagonal. 2-D input: the diagonal (a copy).
 * @example
 * ```ts
 * diag(tensor([1, 2, 3]));
 * ```
 */
export function diag(x: Tensor, diagonal = 0): Tensor {
  if (x.ndim === 2) return clone(diagonalView(x, diagonal, 0, 1));
  if (x.ndim !== 1) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `diag: expected a 1-D or 2-D tensor, got ${fmtShape(x.shape)}`,
      {
        op: 'diag',
        shapes: [x.shape],
      },
    );
  }
  const n = x.shape[0]! + Math.abs(diagonal);
  const out = allocTensor(commonBackend('diag', [x]), [n, n], x.dtype);
  const start = diagonal >= 0 ? diagonal : -diagonal * n;
  const region = out._view([x.shape[0]!], [n + 1], start);
  copyInto(region, x);
  region.dispose();
  record('diag', [x], [out], { diagonal });
  return out;
}

function checkIndex(op: string, index: Tensor): void {
  if (index.dtype !== 'int32') {
    throw new GradfolioError('DTYPE_MISMATCH', `${op}: expected an int32 index tensor, got ${index.dtype}`, {
      op,
      dtype: index.dtype,
    });
  }
}

/** `out[i][j] = x[index[i][j]][j]` for dim 0, and so on. @example `gather(x, 1, idx)` */
export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  checkIndex('gather', index);
  const d = normDim(dim, x.ndim, 'gather');
  if (index.ndim !== x.ndim && !(x.ndim === 0 && index.ndim <= 1)) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `gather: index tensor must have the same number of dimensions as input tensor (input ${fmtShape(x.shape)}, index ${fmtShape(index.shape)})`,
      { op: 'gather', shapes: [x.shape, index.shape] },
    );
  }
  for (let i = 0; i < x.ndim; i++) {
    if (i !== d && index.shape[i]! > x.shape[i]!) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `gather: size does not match at dimension ${i}: expected index ${fmtShape(index.shape)} to be smaller than self ${fmtShape(x.shape)} apart from dimension ${d}`,
        { op: 'gather', shapes: [x.shape, index.shape] },
      );
    }
  }
  const out = runKernel('gather', [x, index], [{ shape: index.shape, dtype: x.dtype }], { dim: d })[0]!;
  record('gather', [x, index], [out], { dim: d });
  return out;
}

function scatterImpl(
  op: string,
  x: Tensor,
  dim: number,
  index: Tensor,
  src: TensorLike,
  reduce: 'none' | 'add',
): Tensor {
  checkIndex(op, index);
  const d = normDim(dim, x.ndim, op);
  const s0 = asTensor(src, x, x.dtype);
  const s = s0.ndim === 0 ? expandRaw(s0, index.shape) : s0;
  if (index.ndim !== x.ndim || s.ndim !== x.ndim) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `${op}: index, src and self must have the same number of dimensions (self ${fmtShape(x.shape)}, index ${fmtShape(index.shape)}, src ${fmtShape(s.shape)})`,
      { op, shapes: [x.shape, index.shape, s.shape] },
    );
  }
  for (let i = 0; i < x.ndim; i++) {
    if (index.shape[i]! > s.shape[i]! || (i !== d && index.shape[i]! > x.shape[i]!)) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `${op}: expected index ${fmtShape(index.shape)} to be smaller than self ${fmtShape(x.shape)} apart from dimension ${d} and to be smaller size than src ${fmtShape(s.shape)}`,
        { op, shapes: [x.shape, index.shape, s.shape] },
      );
    }
  }
  const cs = castRaw(s, x.dtype);
  const out = runKernel('scatter', [x, index, cs], [{ shape: x.shape, dtype: x.dtype }], {
    dim: d,
    reduce,
  })[0]!;
  if (cs !== s) cs.dispose();
  record('scatter', [x, index, s], [out], { dim: d, reduce });
  return out;
}

/** A copy of `x` with `src` written at `index` along `dim`. @example `scatter(z, 1, idx, 1)` */
export function scatter(x: Tensor, dim: number, index: Tensor, src: TensorLike): Tensor {
  return scatterImpl('scatter', x, dim, index, src, 'none');
}
/** A copy of `x` with `src` added at `index` along `dim`. @example `scatterAdd(z, 0, idx, v)` */
export function scatterAdd(x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  return scatterImpl('scatterAdd', x, dim, index, src, 'add');
}

/** Entries of `dim` at the 1-D `index`. @example `indexSelect(x, 0, idx)` */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  checkIndex('indexSelect', index);
  if (index.ndim > 1) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `indexSelect: index should have at most 1 dimension, got ${fmtShape(index.shape)}`,
      {
        op: 'indexSelect',
        shapes: [index.shape],
      },
    );
  }
  const d = normDim(dim, x.ndim, 'indexSelect');
  const shape = [...x.shape];
  if (x.ndim > 0) shape[d] = index.numel;
  const idx = index.ndim === 0 ? reshape(index, [1]) : index;
  const out = runKernel('indexSelect', [x, idx], [{ shape, dtype: x.dtype }], { dim: d })[0]!;
  record('indexSelect', [x, idx], [out], { dim: d });
  return out;
}

/** `value` where `mask` is true, `x` elsewhere (keeps `x`'s dtype). @example `maskedFill(x, m, 0)` */
export function maskedFill(x: Tensor, mask: Tensor, value: TensorLike): Tensor {
  if (mask.dtype !== 'bool') {
    throw new GradfolioError('DTYPE_MISMATCH', `maskedFill: expected a bool mask, got ${mask.dtype}`, {
      op: 'maskedFill',
    });
  }
  if (value instanceof Tensor && value.ndim !== 0) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `maskedFill: only supports a 0-dimensional value tensor, but got a tensor with ${value.ndim} dimensions`,
      { op: 'maskedFill', shapes: [value.shape] },
    );
  }
  const v = value instanceof Tensor ? value : asTensor(value, x, x.dtype);
  const r = where(mask, v, x);
  if (r.shape.length !== x.shape.length || r.shape.some((s, i) => s !== x.shape[i])) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `maskedFill: the mask of shape ${fmtShape(mask.shape)} must be broadcastable to the input of shape ${fmtShape(x.shape)}`,
      { op: 'maskedFill', shapes: [x.shape, mask.shape] },
    );
  }
  return r.dtype === x.dtype ? r : r.to(x.dtype);
}

/** Sorts along `dim` (stable) as `[values, indices]`. @example `sort(x, -1, { descending: true })` */
export function sort(x: Tensor, dim = -1, options: { descending?: boolean } = {}): [Tensor, Tensor] {
  const d = normDim(dim, x.ndim, 'sort');
  const [values, indices] = runKernel(
    'sort',
    [x],
    [
      { shape: x.shape, dtype: x.dtype },
      { shape: x.shape, dtype: 'int32' },
    ],
    { dim: d, descending: options.descending ?? false },
  ) as [Tensor, Tensor];
  record('sort', [x], [values, indices], { dim: d });
  return [values, indices];
}

/** The `k` largest (or smallest) entries along `dim`. @example `topk(x, 3)` */
export function topk(
  x: Tensor,
  k: number,
  dim = -1,
  options: { largest?: boolean; sorted?: boolean } = {},
): [Tensor, Tensor] {
  const d = normDim(dim, x.ndim, 'topk');
  const n = x.ndim === 0 ? 1 : x.shape[d]!;
  if (!Number.isInteger(k) || k < 0 || k > n) {
    throw new GradfolioError(
      'INDEX_OUT_OF_RANGE',
      `topk: k (${k}) is out of range for dimension ${d} of size ${n}`,
      {
        op: 'topk',
        shapes: [x.shape],
      },
    );
  }
  const [v, i] = sort(x, d, { descending: options.largest ?? true });
  if (x.ndim === 0) return [v, i];
  return [narrow(v, d, 0, k), narrow(i, d, 0, k)];
}

/** Indices of non-zero elements as an int32 `[n, ndim]` tensor (reads data: CPU only). @example `nonzero(m)` */
export function nonzero(x: Tensor): Tensor {
  const b = x.backend;
  if (b.readSync === undefined) {
    throw new GradfolioError(
      'SYNC_READ_UNAVAILABLE',
      `nonzero: the output size depends on the data, which the '${b.name}' backend cannot read synchronously; move the mask to the CPU first (await mask.toAsync('cpu'))`,
      { op: 'nonzero', device: b.name },
    );
  }
  const data = x.dataSync();
  const nd = x.ndim;
  const strides = contiguousStrides(x.shape);
  const coords: number[] = [];
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) continue;
    let rem = i;
    for (let k = 0; k < nd; k++) {
      const s = strides[k]!;
      coords.push(Math.floor(rem / s));
      rem %= s;
    }
  }
  const t = arangeLike(x, coords, 'int32');
  // A 0-d input has one (empty) coordinate when it is non-zero.
  const rows = nd === 0 ? (data[0] !== 0 ? 1 : 0) : coords.length / nd;
  return reshape(t, [rows, nd]);
}
