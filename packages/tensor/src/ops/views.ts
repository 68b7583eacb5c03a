import { record } from '../dispatch.js';
import { fmtShape, GradfolioError } from '../errors.js';
import { broadcastShapes, inferShape, normDim, normDims, numel, type Shape, viewStrides } from '../shape.js';
import { Tensor, type TensorLike } from '../tensor.js';
import { add, inplace, lt, mul, where } from './pointwise.js';
import { arangeLike, clone, indexSelect, nonzero, scatter } from './shape.js';

function makeView(
  x: Tensor,
  op: string,
  shape: Shape,
  strides: readonly number[],
  offset: number,
  attrs: Record<string, unknown>,
): Tensor {
  const out = x._view(shape, strides, offset);
  record(op, [x], [out], attrs);
  return out;
}

/**
 * A view with a new shape; errors naming the shape and strides when the layout cannot be viewed.
 * @example
 * ```ts
 * view(a, [1, 4]);
 * ```
 */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferShape('view', shape, x.numel, x.shape);
  const strides = viewStrides(x.shape, x.strides, target);
  if (strides === undefined) {
    throw new GradfolioError(
      'NOT_VIEWABLE',
      `view: view size is not compatible with input tensor's size and stride (size ${fmtShape(x.shape)}, stride ${fmtShape(x.strides)}, requested ${fmtShape(target)}); at least one dimension spans across two contiguous subspaces. Use .reshape(...) instead.`,
      { op: 'view', shapes: [x.shape, target], strides: [...x.strides] },
    );
  }
  return makeView(x, 'reshape', target, strides, x.offset, { shape: target });
}

/**
 * Reshape: a view when possible, otherwise a contiguous copy.
 * @example
 * ```ts
 * reshape(a, [4, 1]);
 * ```
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = inferShape('reshape', shape, x.numel, x.shape);
  const strides = viewStrides(x.shape, x.strides, target);
  if (strides !== undefined) return makeView(x, 'reshape', target, strides, x.offset, { shape: target });
  const c = clone(x);
  return view(c, target);
}

/** Flattens dims `startDim..endDim` into one. @example `flatten(x, 1)` */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normDim(startDim, x.ndim, 'flatten');
  const e = normDim(endDim, x.ndim, 'flatten');
  if (s > e) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `flatten: startDim (${startDim}) cannot come after endDim (${endDim})`,
      {
        op: 'flatten',
      },
    );
  }
  if (s === e) return x;
  const shape = [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

/** Splits `dim` into `sizes` (one may be -1). @example `unflatten(x, 1, [2, -1])` */
export function unflatten(x: Tensor, dim: number, sizes: readonly number[]): Tensor {
  const d = normDim(dim, x.ndim, 'unflatten');
  const inner = inferShape('unflatten', sizes, x.shape[d]!, [x.shape[d]!]);
  return view(x, [...x.shape.slice(0, d), ...inner, ...x.shape.slice(d + 1)]);
}

/** Removes size-1 dims (all, or the listed ones that have size 1). @example `squeeze(x, 0)` */
export function squeeze(x: Tensor, dim?: number | readonly number[]): Tensor {
  const dims =
    dim === undefined
      ? x.shape.map((_, i) => i)
      : normDims(typeof dim === 'number' ? [dim] : dim, x.ndim, 'squeeze');
  const keep = x.shape.map((s, i) => !(s === 1 && dims.includes(i)));
  const shape = x.shape.filter((_, i) => keep[i]);
  const strides = x.strides.filter((_, i) => keep[i]);
  return makeView(x, 'reshape', shape, strides, x.offset, { shape });
}

/** Inserts a size-1 dim at `dim`. @example `unsqueeze(x, -1)` */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim(dim, x.ndim + 1, 'unsqueeze');
  const shape = [...x.shape];
  const strides = [...x.strides];
  const stride = d < x.ndim ? x.shape[d]! * x.strides[d]! : 1;
  shape.splice(d, 0, 1);
  strides.splice(d, 0, stride);
  return makeView(x, 'reshape', shape, strides, x.offset, { shape });
}

/** Reorders dims. @example `permute(x, [2, 0, 1])` */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.ndim) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `permute: number of dims don't match (input has ${x.ndim} dims ${fmtShape(x.shape)}, got ${dims.length} dims [${dims.join(', ')}])`,
      { op: 'permute', shapes: [x.shape] },
    );
  }
  const d = normDims(dims, x.ndim, 'permute');
  return makeView(
    x,
    'permute',
    d.map((i) => x.shape[i]!),
    d.map((i) => x.strides[i]!),
    x.offset,
    { dims: d },
  );
}

/** Swaps two dims. @example `transpose(x, 0, 1)` */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  if (x.ndim === 0) return x;
  const a = normDim(dim0, x.ndim, 'transpose');
  const b = normDim(dim1, x.ndim, 'transpose');
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/** Broadcasts size-1 dims to `sizes` (-1 keeps a size), as a view. @example `expand(b, [4, -1])` */
export function expand(x: Tensor, sizes: readonly number[]): Tensor {
  if (sizes.length < x.ndim) {
    throw new GradfolioError(
      'SHAPE_MISMATCH',
      `expand: the number of sizes provided (${sizes.length}) must be greater or equal to the number of dimensions in the tensor (${x.ndim})`,
      { op: 'expand', shapes: [x.shape, sizes] },
    );
  }
  const off = sizes.length - x.ndim;
  const shape: number[] = [];
  const strides: number[] = [];
  for (let i = 0; i < sizes.length; i++) {
    const want = sizes[i]!;
    if (i < off) {
      if (want < 0) {
        throw new GradfolioError(
          'INVALID_ARGUMENT',
          `expand: -1 is not allowed in a leading, non-existing dimension ${i}`,
          {
            op: 'expand',
          },
        );
      }
      shape.push(want);
      strides.push(0);
      continue;
    }
    const have = x.shape[i - off]!;
    const size = want === -1 ? have : want;
    if (have !== size && have !== 1) {
      throw new GradfolioError(
        'SHAPE_MISMATCH',
        `expand: the expanded size of the tensor (${size}) must match the existing size (${have}) at non-singleton dimension ${i}; target sizes ${fmtShape(sizes)}, tensor sizes ${fmtShape(x.shape)}`,
        { op: 'expand', shapes: [x.shape, sizes] },
      );
    }
    shape.push(size);
    strides.push(have === size ? x.strides[i - off]! : 0);
  }
  return makeView(x, 'expand', shape, strides, x.offset, { shape });
}

/** Broadcasts to `shape` (a view). @example `broadcastTo(b, [4, 3])` */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  broadcastShapes('broadcastTo', x.shape, shape);
  return expand(x, shape);
}

function sliceView(x: Tensor, dim: number, start: number, stop: number, step: number): Tensor {
  const size = x.shape[dim]!;
  let length: number;
  let first: number;
  if (step > 0) {
    const s = clampIdx(start, size, 0);
    const e = clampIdx(stop, size, 0);
    first = s;
    length = e > s ? Math.ceil((e - s) / step) : 0;
  } else {
    const s = clampIdx(start, size, -1);
    const e = clampIdx(stop, size, -1);
    first = s;
    length = s > e ? Math.ceil((s - e) / -step) : 0;
  }
  const shape = [...x.shape];
  const strides = [...x.strides];
  shape[dim] = length;
  strides[dim] = x.strides[dim]! * step;
  const offset = length > 0 ? x.offset + first * x.strides[dim]! : x.offset;
  return makeView(x, 'slice', shape, strides, offset, { dim, start: first, step, length });
}

/** Python slice index clamping: negatives count from the end, then clamp into range. */
function clampIdx(i: number, size: number, low: number): number {
  if (i < 0) i += size;
  if (i < low) return low;
  const high = low === -1 ? size - 1 : size;
  return Math.min(i, high);
}

/** `length` entries of `dim` from `start` (a view). @example `narrow(x, 0, 1, 2)` */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normDim(dim, x.ndim, 'narrow');
  const size = x.shape[d]!;
  const s = start < 0 ? start + size : start;
  if (s < 0 || s > size || length < 0 || s + length > size) {
    throw new GradfolioError(
      'INDEX_OUT_OF_RANGE',
      `narrow: start (${start}) + length (${length}) exceeds dimension size (${size}) of dim ${dim}`,
      { op: 'narrow', shapes: [x.shape] },
    );
  }
  return sliceView(x, d, s, s + length, 1);
}

/** Index `index` of `dim`, removing the dim (a view). @example `select(x, 0, -1)` */
export function select(x: Tensor, dim: number, index: number): Tensor {
  if (x.ndim === 0) {
    throw new GradfolioError('INDEX_OUT_OF_RANGE', 'select: invalid index of a 0-dim tensor', {
      op: 'select',
    });
  }
  const d = normDim(dim, x.ndim, 'select');
  const size = x.shape[d]!;
  if (!Number.isInteger(index) || index < -size || index >= size) {
    throw new GradfolioError(
      'INDEX_OUT_OF_RANGE',
      `select: index ${index} is out of bounds for dimension ${d} with size ${size}`,
      { op: 'select', shapes: [x.shape], index, dim: d },
    );
  }
  const i = index < 0 ? index + size : index;
  const shape = x.shape.filter((_, k) => k !== d);
  const strides = x.strides.filter((_, k) => k !== d);
  return makeView(x, 'select', shape, strides, x.offset + i * x.strides[d]!, { dim: d, index: i });
}

/** The diagonal of `dim1`/`dim2` as a view (appended as the last dim). @example `diagonal(m)` */
export function diagonal(x: Tensor, offset = 0, dim1 = 0, dim2 = 1): Tensor {
  const [a, b] = normDims([dim1, dim2], x.ndim, 'diagonal') as [number, number];
  const n1 = x.shape[a]!;
  const n2 = x.shape[b]!;
  const len = Math.max(0, offset >= 0 ? Math.min(n1, n2 - offset) : Math.min(n1 + offset, n2));
  const start =
    len === 0 ? x.offset : x.offset + (offset >= 0 ? offset * x.strides[b]! : -offset * x.strides[a]!);
  const shape = x.shape.filter((_, k) => k !== a && k !== b);
  const strides = x.strides.filter((_, k) => k !== a && k !== b);
  shape.push(len);
  strides.push(x.strides[a]! + x.strides[b]!);
  return makeView(x, 'diagonal', shape, strides, start, { offset, dim1: a, dim2: b });
}

// ------------------------------------------------------------------------ indexing

const SLICE = Symbol.for('gradfolio.slice');

/** A Python-style slice `start:stop:step` for `index()`. */
export interface Slice {
  /** Brand that tells a slice from a plain object. @internal */
  readonly [SLICE]: true;
  /** First index (undefined: the start, or the end for a negative step). */
  readonly start: number | undefined;
  /** Index to stop before (undefined: the end, or the start for a negative step). */
  readonly stop: number | undefined;
  /** Distance between indices (negative steps walk backwards). */
  readonly step: number;
}

/**
 * Makes a slice for `index()`: `slice(1, 5, 2)` is Python's `1:5:2`; omitted bounds are open.
 * @example
 * ```ts
 * x.index(slice(null, -1));   // x[:-1]
 * ```
 */
export function slice(start?: number | null, stop?: number | null, step?: number | null): Slice {
  const st = step ?? 1;
  if (st === 0 || !Number.isInteger(st)) {
    throw new GradfolioError('INVALID_ARGUMENT', `slice: step must be a non-zero integer, got ${st}`, {
      op: 'index',
    });
  }
  return { [SLICE]: true, start: start ?? undefined, stop: stop ?? undefined, step: st };
}

/**
 * One index: a number (select), a slice or slice string (`':'`, `'1:'`, `'::2'`, `'-3:-1'`), `null`
 * (new axis), `'...'` (the remaining dims), an int32/bool tensor or a number array (advanced indexing).
 */
export type IndexSpec = number | string | Slice | null | Tensor | readonly number[] | readonly boolean[];

function isSlice(s: unknown): s is Slice {
  return typeof s === 'object' && s !== null && (s as Record<symbol, unknown>)[SLICE] === true;
}

function parseSliceString(s: string): Slice {
  const parts = s.split(':');
  if (parts.length < 2 || parts.length > 3) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `index: cannot parse '${s}' as a slice; use 'start:stop:step', ':' or '...'`,
      {
        op: 'index',
      },
    );
  }
  const num = (p: string | undefined): number | null => {
    if (p === undefined || p.trim() === '') return null;
    const v = Number(p);
    if (!Number.isInteger(v)) {
      throw new GradfolioError('INVALID_ARGUMENT', `index: '${p}' in slice '${s}' is not an integer`, {
        op: 'index',
      });
    }
    return v;
  };
  return slice(num(parts[0]), num(parts[1]), num(parts[2]));
}

type Adv = { pos: number; index: Tensor };

/** Consumed dims of one spec (bool tensors consume their rank). */
function consumes(s: IndexSpec): number {
  if (s === null || s === '...') return 0;
  if (s instanceof Tensor) return s.dtype === 'bool' ? Math.max(s.ndim, 1) : 1;
  if (Array.isArray(s) && s.length > 0 && typeof s[0] === 'boolean') return 1;
  return 1;
}

function basicIndex(x: Tensor, specs: readonly IndexSpec[]): { view: Tensor; adv: Adv[] } {
  const ellipses = specs.filter((s) => s === '...').length;
  if (ellipses > 1)
    throw new GradfolioError('INVALID_ARGUMENT', "index: an index can only have a single ellipsis ('...')", {
      op: 'index',
    });
  const used = specs.reduce<number>((n, s) => n + consumes(s), 0);
  if (used > x.ndim) {
    throw new GradfolioError(
      'INDEX_OUT_OF_RANGE',
      `index: too many indices for tensor of dimension ${x.ndim} (got ${used}, shape ${fmtShape(x.shape)})`,
      { op: 'index', shapes: [x.shape] },
    );
  }
  let v = x;
  let dim = 0;
  const adv: Adv[] = [];
  for (const s of specs) {
    if (s === '...') {
      dim += x.ndim - used;
    } else if (s === null) {
      v = unsqueeze(v, dim);
      dim++;
    } else if (typeof s === 'number') {
      v = select(v, dim, s);
    } else if (typeof s === 'string' || isSlice(s)) {
      const sl = typeof s === 'string' ? parseSliceString(s) : s;
      const size = v.shape[dim]!;
      const start = sl.start ?? (sl.step > 0 ? 0 : size - 1);
      const stop = sl.stop ?? (sl.step > 0 ? size : -size - 1);
      v = sliceView(v, dim, start, stop, sl.step);
      dim++;
    } else {
      let t: Tensor;
      if (s instanceof Tensor) t = s;
      else if (s.length > 0 && typeof s[0] === 'boolean') t = indexTensorFrom(s as readonly boolean[], x);
      else t = indexTensorFrom(s as readonly number[], x);
      if (t.dtype === 'bool') {
        const k = Math.max(t.ndim, 1);
        for (let i = 0; i < t.ndim; i++) {
          if (t.shape[i] !== v.shape[dim + i]) {
            throw new GradfolioError(
              'SHAPE_MISMATCH',
              `index: the shape of the mask ${fmtShape(t.shape)} at index ${i} does not match the shape of the indexed tensor ${fmtShape(v.shape)} at index ${dim + i}`,
              { op: 'index', shapes: [t.shape, v.shape] },
            );
          }
        }
        const nz = nonzero(t.ndim === 0 ? t.reshape(1) : t); // [n, k]
        for (let i = 0; i < k; i++) adv.push({ pos: dim + i, index: select(nz, 1, i) });
        dim += k;
      } else {
        if (t.dtype !== 'int32') {
          throw new GradfolioError(
            'DTYPE_MISMATCH',
            `index: tensors used as indices must be int32 or bool tensors, got ${t.dtype}`,
            { op: 'index', dtype: t.dtype },
          );
        }
        adv.push({ pos: dim, index: t });
        dim++;
      }
    }
  }
  return { view: v, adv };
}

/** An int32 (or bool) index tensor from a JS array, on `like`'s device. */
function indexTensorFrom(values: readonly number[] | readonly boolean[], like: Tensor): Tensor {
  if (values.length > 0 && typeof values[0] === 'boolean') {
    return arangeLike(
      like,
      (values as readonly boolean[]).map((b) => (b ? 1 : 0)),
      'bool',
    );
  }
  return arangeLike(like, values as readonly number[], 'int32');
}

/**
 * NumPy/PyTorch indexing (see `Tensor.index`). Basic specs give views; tensor specs gather a copy.
 * @example
 * ```ts
 * index(out, [':', -1, ':']);
 * ```
 */
export function index(x: Tensor, specs: readonly IndexSpec[]): Tensor {
  const { view: v, adv } = basicIndex(x, specs);
  if (adv.length === 0) return v;
  return advancedIndex(v, adv);
}

function advancedIndex(v: Tensor, adv: Adv[]): Tensor {
  const bshape = broadcastShapes('index', ...adv.map((a) => a.index.shape));
  const advDims = adv.map((a) => a.pos);
  const rest = v.shape.map((_, i) => i).filter((i) => !advDims.includes(i));
  const adjacent = advDims.every((d, i) => i === 0 || d === advDims[i - 1]! + 1);
  // Move indexed dims to the front and merge them, so one indexSelect does the gather.
  const moved = permute(v, [...advDims, ...rest]);
  const advSizes = advDims.map((d) => v.shape[d]!);
  const merged = reshape(moved, [numel(advSizes), ...rest.map((d) => v.shape[d]!)]);
  let lin: Tensor | undefined;
  let mult = 1;
  for (let k = adv.length - 1; k >= 0; k--) {
    const size = advSizes[k]!;
    let idx = adv[k]!.index;
    idx = where(lt(idx, 0), add(idx, size), idx);
    checkBounds(idx, size, advDims[k]!);
    const term = mult === 1 ? idx : mul(idx, mult);
    lin = lin === undefined ? term : add(lin, term);
    mult *= size;
  }
  const flat = reshape(lin!.broadcastTo(bshape).contiguous(), [-1]);
  const gathered = indexSelect(merged, 0, flat);
  let out = reshape(gathered, [...bshape, ...rest.map((d) => v.shape[d]!)]);
  const first = advDims[0]!;
  if (adjacent && first > 0) {
    const nb = bshape.length;
    const before = Array.from({ length: first }, (_, i) => nb + i);
    const batch = Array.from({ length: nb }, (_, i) => i);
    const after = Array.from({ length: out.ndim - nb - first }, (_, i) => nb + first + i);
    out = permute(out, [...before, ...batch, ...after]);
  }
  return out;
}

function checkBounds(idx: Tensor, size: number, dim: number): void {
  if (idx.backend.readSync === undefined || idx.numel === 0) return; // the kernel checks on devices
  const data = idx.dataSync();
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < 0 || v >= size) {
      throw new GradfolioError(
        'INDEX_OUT_OF_RANGE',
        `index: index ${v < 0 ? v - size : v} is out of bounds for dimension ${dim} with size ${size}`,
        {
          op: 'index',
          index: v,
          dim,
          size,
        },
      );
    }
  }
}

/**
 * `x[specs] = value` in place (see `Tensor.indexPut_`).
 * @example
 * ```ts
 * indexPut_(x, [0, ':'], 1);
 * ```
 */
export function indexPut_<T extends Tensor>(x: T, specs: readonly IndexSpec[], value: TensorLike): T {
  const { view: v, adv } = basicIndex(x, specs);
  if (adv.length === 0) {
    v.copy_(value);
    return x;
  }
  // Advanced: index a tensor of linear positions the same way, then scatter into the flat tensor.
  const positions = arangeLike(x, null, 'int32').reshape([...x.shape]);
  const lin = index(positions, specs);
  return inplace(
    x,
    'indexPut_',
    (t) => {
      const flat = reshape(t, [-1]);
      const val = value instanceof Tensor ? value.broadcastTo(lin.shape) : value;
      const src = val instanceof Tensor ? reshape(val.contiguous(), [-1]) : val;
      return reshape(scatter(flat, 0, reshape(lin.contiguous(), [-1]), src), [...x.shape]);
    },
    [value],
  );
}
