/**
 * The CPU index and linalg kernels called directly with hand-built views (contiguous, transposed,
 * negative strides, broadcast strides and offsets), checked against naive references.
 */
import { describe, expect, it } from 'vitest';
import type { Kernel, TensorView } from '../src/backend.js';
import { registerIndexKernels } from '../src/cpu/kernels-index.js';
import { registerLinalgKernels } from '../src/cpu/kernels-linalg.js';
import type { DType, TypedArray } from '../src/dtype.js';
import { GradfolioError } from '../src/errors.js';

const K = new Map<string, Kernel>();
registerIndexKernels(K);
registerLinalgKernels(K);

function kernel(name: string): Kernel {
  const k = K.get(name);
  if (!k) throw new Error(`no kernel ${name}`);
  return k;
}

// ---- view helpers ----------------------------------------------------------------------------------

const CTOR = { float32: Float32Array, float64: Float64Array, int32: Int32Array, bool: Uint8Array } as const;

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function contig(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

function view(
  handle: TypedArray,
  dtype: DType,
  shape: readonly number[],
  strides: readonly number[] = contig(shape),
  offset = 0,
): TensorView {
  return { handle, dtype, shape, strides, offset };
}

const f64 = (data: number[], shape: readonly number[]): TensorView =>
  view(new Float64Array(data), 'float64', shape);
const i32 = (data: number[], shape: readonly number[]): TensorView =>
  view(new Int32Array(data), 'int32', shape);

/** A fresh contiguous output, starting at `offset` inside a slightly larger buffer (NaN/garbage filled). */
function out(dtype: DType, shape: readonly number[], offset = 0): TensorView {
  const a = new CTOR[dtype](numel(shape) + offset + 2);
  if (dtype === 'float32' || dtype === 'float64') a.fill(Number.NaN);
  else a.fill(dtype === 'bool' ? 7 : -12345);
  return view(a, dtype, shape, contig(shape), offset);
}

function at(v: TensorView, idx: readonly number[]): number {
  let p = v.offset;
  for (let d = 0; d < idx.length; d++) p += idx[d]! * v.strides[d]!;
  return (v.handle as TypedArray)[p]!;
}

function* multiIndices(shape: readonly number[]): Generator<number[]> {
  const n = numel(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    yield idx.slice();
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
}

/** Row-major values of a view. */
function values(v: TensorView): number[] {
  return [...multiIndices(v.shape)].map((i) => at(v, i));
}

function codeOf(fn: () => unknown): GradfolioError {
  try {
    fn();
  } catch (e) {
    if (!GradfolioError.isInstance(e)) throw e;
    return e;
  }
  throw new Error('expected an error');
}

// ---- random strided views --------------------------------------------------------------------------

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const randInt = (r: () => number, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

function shuffle<T>(r: () => number, a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = randInt(r, 0, i);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/**
 * A view of `shape` with a random memory layout: permuted dim order, gaps between elements, flipped
 * (negative-stride) dims, an offset, and (when `broadcast`) stride 0 on some dims.
 */
function randomView(
  r: () => number,
  shape: readonly number[],
  dtype: DType,
  gen: () => number,
  broadcast = false,
): TensorView {
  const nd = shape.length;
  const order = shuffle(
    r,
    Array.from({ length: nd }, (_, i) => i),
  );
  const strides = new Array<number>(nd).fill(0);
  let acc = randInt(r, 1, 2);
  for (let k = nd - 1; k >= 0; k--) {
    const d = order[k]!;
    if (broadcast && r() < 0.25) {
      strides[d] = 0;
      continue;
    }
    strides[d] = acc;
    acc *= shape[d]! + randInt(r, 0, 1);
  }
  let offset = randInt(r, 0, 3);
  for (let d = 0; d < nd; d++) {
    if (strides[d]! > 0 && r() < 0.4) {
      offset += (shape[d]! - 1) * strides[d]!;
      strides[d] = -strides[d]!;
    }
  }
  let hi = offset;
  for (let d = 0; d < nd; d++) if (strides[d]! > 0) hi += (shape[d]! - 1) * strides[d]!;
  const a = new CTOR[dtype](hi + 1 + randInt(r, 0, 3));
  for (let i = 0; i < a.length; i++) a[i] = gen();
  return view(a, dtype, shape, strides, offset);
}

function randomShape(r: () => number, nd: number, max = 4): number[] {
  return Array.from({ length: nd }, () => randInt(r, 1, max));
}

// ---- gather ----------------------------------------------------------------------------------------

describe('gather', () => {
  it('matches the PyTorch example along dim 1 and dim 0', () => {
    const x = f64([1, 2, 3, 4], [2, 2]);
    const o = out('float64', [2, 2]);
    kernel('gather')([x, i32([0, 0, 1, 0], [2, 2])], [o], { dim: 1 });
    expect(values(o)).toEqual([1, 1, 4, 3]);
    const o0 = out('float64', [2, 2]);
    kernel('gather')([x, i32([1, 0, 0, 1], [2, 2])], [o0], { dim: 0 });
    expect(values(o0)).toEqual([3, 2, 1, 4]);
  });

  it('matches a naive reference on random strided views and honours the output offset', () => {
    const r = rng(1);
    for (let t = 0; t < 60; t++) {
      const nd = randInt(r, 1, 4);
      const xs = randomShape(r, nd);
      const dim = randInt(r, 0, nd - 1);
      const is = xs.map((s, d) => (d === dim ? randInt(r, 1, 5) : randInt(r, 1, s)));
      const x = randomView(r, xs, 'float32', () => Math.round(r() * 200 - 100) / 4, true);
      const index = randomView(r, is, 'int32', () => randInt(r, 0, xs[dim]! - 1), true);
      const o = out('float32', is, randInt(r, 0, 3));
      kernel('gather')([x, index], [o], { dim });
      const expected = [...multiIndices(is)].map((i) => {
        const xi = i.slice();
        xi[dim] = at(index, i);
        return at(x, xi);
      });
      expect(values(o)).toEqual(expected);
    }
  });

  it('throws INDEX_OUT_OF_RANGE for too large and negative indices', () => {
    const x = f64([1, 2, 3, 4, 5, 6], [2, 3]);
    const e = codeOf(() => kernel('gather')([x, i32([0, 7], [1, 2])], [out('float64', [1, 2])], { dim: 1 }));
    expect(e.code).toBe('INDEX_OUT_OF_RANGE');
    expect(e.message).toBe('gather: index 7 is out of bounds for dimension 1 with size 3');
    expect(e.details).toEqual({ op: 'gather', index: 7, dim: 1, size: 3 });
    const n = codeOf(() => kernel('gather')([x, i32([-1], [1, 1])], [out('float64', [1, 1])], { dim: 0 }));
    expect(n.message).toBe('gather: index -1 is out of bounds for dimension 0 with size 2');
  });

  it('gathers from a 0-d input with a 1-d index of zeros', () => {
    const x = view(new Float64Array([9, 5]), 'float64', [], [], 1);
    const o = out('float64', [3]);
    kernel('gather')([x, i32([0, 0, 0], [3])], [o], { dim: 0 });
    expect(values(o)).toEqual([5, 5, 5]);
    expect(
      codeOf(() => kernel('gather')([x, i32([1], [1])], [out('float64', [1])], { dim: 0 })).message,
    ).toBe('gather: index 1 is out of bounds for dimension 0 with size 1');
  });
});

// ---- scatter ---------------------------------------------------------------------------------------

describe('scatter', () => {
  it('matches the PyTorch example (src bigger than index)', () => {
    const src = f64(
      Array.from({ length: 10 }, (_, i) => i + 1),
      [2, 5],
    );
    const x = f64(new Array(15).fill(0), [3, 5]);
    const o = out('float64', [3, 5]);
    kernel('scatter')([x, i32([0, 1, 2, 0], [1, 4]), src], [o], { dim: 0, reduce: 'none' });
    expect(values(o)).toEqual([1, 0, 0, 4, 0, 0, 2, 0, 0, 0, 0, 0, 3, 0, 0]);
    const o1 = out('float64', [3, 5]);
    kernel('scatter')([x, i32([0, 1, 2, 4], [1, 4]), src], [o1], { dim: 1, reduce: 'none' });
    expect(values(o1)).toEqual([1, 2, 3, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("accumulates duplicates with reduce 'add' (float, int32 wrapping, bool as or)", () => {
    const x = f64([1, 1, 1], [3]);
    const o = out('float64', [3]);
    kernel('scatter')([x, i32([0, 2, 0, 0], [4]), f64([1, 2, 3, 4], [4])], [o], { dim: 0, reduce: 'add' });
    expect(values(o)).toEqual([9, 1, 3]);
    const xi = i32([2147483647, 0], [2]);
    const oi = out('int32', [2]);
    kernel('scatter')([xi, i32([0, 1], [2]), i32([1, -5], [2])], [oi], { dim: 0, reduce: 'add' });
    expect(values(oi)).toEqual([-2147483648, -5]);
    const xb = view(new Uint8Array([0, 1, 0]), 'bool', [3]);
    const ob = out('bool', [3]);
    const sb = view(new Uint8Array([1, 1, 0]), 'bool', [3]);
    kernel('scatter')([xb, i32([0, 1, 2], [3]), sb], [ob], { dim: 0, reduce: 'add' });
    expect(values(ob)).toEqual([1, 1, 0]);
  });

  it('matches a naive reference on random strided views', () => {
    const r = rng(2);
    for (let t = 0; t < 60; t++) {
      const nd = randInt(r, 1, 4);
      const xs = randomShape(r, nd);
      const dim = randInt(r, 0, nd - 1);
      const is = xs.map((s, d) => (d === dim ? randInt(r, 1, 5) : randInt(r, 1, s)));
      const ss = is.map((s) => s + randInt(r, 0, 1));
      const reduce = r() < 0.5 ? 'add' : 'none';
      const x = randomView(r, xs, 'float64', () => randInt(r, -50, 50), true);
      // Unique indices along dim for 'none' so the result does not depend on the write order.
      const index =
        reduce === 'none'
          ? (() => {
              const v = view(new Int32Array(numel(is)), 'int32', is);
              for (const i of multiIndices(is)) {
                if (i[dim] !== 0) continue;
                const perm = shuffle(
                  r,
                  Array.from({ length: Math.max(xs[dim]!, is[dim]!) }, (_, k) => k % xs[dim]!),
                );
                for (let k = 0; k < is[dim]!; k++) {
                  const j = i.slice();
                  j[dim] = k;
                  (v.handle as Int32Array)[j.reduce((a, c, d) => a + c * v.strides[d]!, 0)] = perm[k]!;
                }
              }
              return v;
            })()
          : randomView(r, is, 'int32', () => randInt(r, 0, xs[dim]! - 1), true);
      if (reduce === 'none' && is[dim]! > xs[dim]!) continue;
      const src = randomView(r, ss, 'float64', () => randInt(r, -50, 50), true);
      const o = out('float64', xs, randInt(r, 0, 2));
      kernel('scatter')([x, index, src], [o], { dim, reduce });
      const ref = values(x);
      const cs = contig(xs);
      for (const i of multiIndices(is)) {
        const j = i.slice();
        j[dim] = at(index, i);
        const p = j.reduce((a, c, d) => a + c * cs[d]!, 0);
        ref[p] = reduce === 'add' ? ref[p]! + at(src, i) : at(src, i);
      }
      expect(values(o)).toEqual(ref);
    }
  });

  it('throws INDEX_OUT_OF_RANGE naming scatter or scatterAdd', () => {
    const x = f64([0, 0, 0], [3]);
    const e = codeOf(() =>
      kernel('scatter')([x, i32([3], [1]), f64([1], [1])], [out('float64', [3])], { dim: 0, reduce: 'none' }),
    );
    expect(e.code).toBe('INDEX_OUT_OF_RANGE');
    expect(e.message).toBe('scatter: index 3 is out of bounds for dimension 0 with size 3');
    const a = codeOf(() =>
      kernel('scatter')([x, i32([-2], [1]), f64([1], [1])], [out('float64', [3])], { dim: 0, reduce: 'add' }),
    );
    expect(a.message).toBe('scatterAdd: index -2 is out of bounds for dimension 0 with size 3');
    expect(a.details).toEqual({ op: 'scatterAdd', index: -2, dim: 0, size: 3 });
  });
});

// ---- indexSelect -----------------------------------------------------------------------------------

describe('indexSelect', () => {
  it('selects rows and columns', () => {
    const x = f64([1, 2, 3, 4, 5, 6], [2, 3]);
    const o = out('float64', [2, 4]);
    kernel('indexSelect')([x, i32([2, 0, 2, 1], [4])], [o], { dim: 1 });
    expect(values(o)).toEqual([3, 1, 3, 2, 6, 4, 6, 5]);
    const o0 = out('float64', [3, 3], 2);
    kernel('indexSelect')([x, i32([1, 1, 0], [3])], [o0], { dim: 0 });
    expect(values(o0)).toEqual([4, 5, 6, 4, 5, 6, 1, 2, 3]);
  });

  it('matches a naive reference on random strided views (strided index too)', () => {
    const r = rng(3);
    for (let t = 0; t < 60; t++) {
      const nd = randInt(r, 1, 4);
      const xs = randomShape(r, nd);
      const dim = randInt(r, 0, nd - 1);
      const m = randInt(r, 0, 6);
      const x = randomView(r, xs, 'int32', () => randInt(r, -1000, 1000), true);
      const index = randomView(r, [m], 'int32', () => randInt(r, 0, xs[dim]! - 1));
      const os = xs.slice();
      os[dim] = m;
      const o = out('int32', os, randInt(r, 0, 2));
      if (numel(os) > 0) kernel('indexSelect')([x, index], [o], { dim });
      const expected = [...multiIndices(os)].map((i) => {
        const xi = i.slice();
        xi[dim] = at(index, [i[dim]!]);
        return at(x, xi);
      });
      expect(values(o)).toEqual(expected);
    }
  });

  it('throws for negative and too large indices', () => {
    const x = f64([1, 2, 3, 4, 5, 6], [2, 3]);
    const e = codeOf(() =>
      kernel('indexSelect')([x, i32([0, -1], [2])], [out('float64', [2, 2])], { dim: 1 }),
    );
    expect(e.code).toBe('INDEX_OUT_OF_RANGE');
    expect(e.message).toBe('indexSelect: index -1 is out of bounds for dimension 1 with size 3');
    expect(
      codeOf(() => kernel('indexSelect')([x, i32([2], [1])], [out('float64', [1, 3])], { dim: 0 })).details,
    ).toEqual({ op: 'indexSelect', index: 2, dim: 0, size: 2 });
  });

  it('handles a 0-d input', () => {
    const x = view(new Float32Array([0, 0, 2.5]), 'float32', [], [], 2);
    const o = out('float32', []);
    kernel('indexSelect')([x, i32([0], [1])], [o], { dim: 0 });
    expect(values(o)).toEqual([2.5]);
    expect(
      codeOf(() => kernel('indexSelect')([x, i32([1], [1])], [out('float32', [])], { dim: 0 })).code,
    ).toBe('INDEX_OUT_OF_RANGE');
  });
});

// ---- sort ------------------------------------------------------------------------------------------

/** Stable reference sort of one slice: NaN largest. */
function refSort(vals: number[], descending: boolean): number[] {
  const key = (v: number): number => (Number.isNaN(v) ? Number.POSITIVE_INFINITY : v);
  const nan = (v: number): number => (Number.isNaN(v) ? 1 : 0);
  return vals
    .map((_, i) => i)
    .sort((a, b) => {
      const va = vals[a]!;
      const vb = vals[b]!;
      let c = nan(va) - nan(vb) || (key(va) < key(vb) ? -1 : key(va) > key(vb) ? 1 : 0);
      if (descending) c = -c;
      return c || a - b;
    });
}

function runSort(x: TensorView, dim: number, descending: boolean): [TensorView, TensorView] {
  const v = out(x.dtype, x.shape);
  const i = out('int32', x.shape);
  kernel('sort')([x], [v, i], { dim, descending });
  return [v, i];
}

describe('sort', () => {
  it('is stable and puts NaN last ascending, first descending', () => {
    const x = f64([3, Number.NaN, 1, 3, -Infinity, Number.NaN, 1, Infinity], [8]);
    const [v, i] = runSort(x, 0, false);
    expect(values(v)).toEqual([-Infinity, 1, 1, 3, 3, Infinity, Number.NaN, Number.NaN]);
    expect(values(i)).toEqual([4, 2, 6, 0, 3, 7, 1, 5]);
    const [vd, id] = runSort(x, 0, true);
    expect(values(vd)).toEqual([Number.NaN, Number.NaN, Infinity, 3, 3, 1, 1, -Infinity]);
    expect(values(id)).toEqual([1, 5, 7, 0, 3, 2, 6, 4]);
  });

  it('keeps -0 and 0 in their original order and sorts int32 and bool', () => {
    const [v, i] = runSort(f64([0, -0, -1], [3]), 0, false);
    expect(values(i)).toEqual([2, 0, 1]);
    expect(Object.is(values(v)[2], -0)).toBe(true);
    const [vi, ii] = runSort(i32([5, -2147483648, 2147483647, 5], [4]), 0, true);
    expect(values(vi)).toEqual([2147483647, 5, 5, -2147483648]);
    expect(values(ii)).toEqual([2, 0, 3, 1]);
    const [vb, ib] = runSort(view(new Uint8Array([1, 0, 1, 0]), 'bool', [4]), 0, false);
    expect(values(vb)).toEqual([0, 0, 1, 1]);
    expect(values(ib)).toEqual([1, 3, 0, 2]);
  });

  it('sorts long slices with many ties (merge passes) like the reference', () => {
    const r = rng(4);
    for (const n of [1, 23, 24, 25, 100, 1000, 4099]) {
      const data = Array.from({ length: n }, () => (r() < 0.05 ? Number.NaN : randInt(r, -20, 20)));
      for (const descending of [false, true]) {
        const [v, i] = runSort(f64(data, [n]), 0, descending);
        const idx = refSort(data, descending);
        expect(values(i)).toEqual(idx);
        expect(values(v)).toEqual(idx.map((k) => data[k]));
      }
    }
  });

  it('matches the reference on random strided views along every dim', () => {
    const r = rng(5);
    for (let t = 0; t < 60; t++) {
      const nd = randInt(r, 1, 4);
      const xs = randomShape(r, nd, 5);
      const dim = randInt(r, 0, nd - 1);
      const descending = r() < 0.5;
      const x = randomView(r, xs, 'float32', () => (r() < 0.1 ? Number.NaN : randInt(r, -3, 3)), true);
      const [v, i] = runSort(x, dim, descending);
      for (const base of multiIndices(xs.map((s, d) => (d === dim ? 1 : s)))) {
        const slice = Array.from({ length: xs[dim]! }, (_, k) => {
          const j = base.slice();
          j[dim] = k;
          return j;
        });
        const data = slice.map((j) => at(x, j));
        const idx = refSort(data, descending);
        expect(slice.map((j) => at(i, j))).toEqual(idx);
        expect(slice.map((j) => at(v, j))).toEqual(idx.map((k) => data[k]));
      }
    }
  });

  it('sorts a 0-d input to itself with index 0', () => {
    const [v, i] = runSort(view(new Float64Array([1, 7]), 'float64', [], [], 1), 0, false);
    expect(values(v)).toEqual([7]);
    expect(values(i)).toEqual([0]);
  });
});

// ---- cumsum / cumprod ------------------------------------------------------------------------------

function refScan(x: TensorView, dim: number, prod: boolean, wrap: boolean): number[] {
  const cs = contig(x.shape);
  const res = new Array<number>(numel(x.shape));
  for (const i of multiIndices(x.shape)) {
    let acc = prod ? 1 : 0;
    for (let k = 0; k <= i[dim]!; k++) {
      const j = i.slice();
      j[dim] = k;
      const v = at(x, j);
      acc = prod ? (wrap ? Math.imul(acc, v) : acc * v) : wrap ? (acc + v) | 0 : acc + v;
    }
    res[i.reduce((a, c, d) => a + c * cs[d]!, 0)] = acc;
  }
  return res;
}

describe('cumsum and cumprod', () => {
  it('scan along rows and columns', () => {
    const x = f64([1, 2, 3, 4, 5, 6], [2, 3]);
    const o = out('float64', [2, 3]);
    kernel('cumsum')([x], [o], { dim: 1 });
    expect(values(o)).toEqual([1, 3, 6, 4, 9, 15]);
    kernel('cumsum')([x], [o], { dim: 0 });
    expect(values(o)).toEqual([1, 2, 3, 5, 7, 9]);
    kernel('cumprod')([x], [o], { dim: 1 });
    expect(values(o)).toEqual([1, 2, 6, 4, 20, 120]);
    kernel('cumprod')([x], [o], { dim: -2 });
    expect(values(o)).toEqual([1, 2, 3, 4, 10, 18]);
  });

  it('wraps like int32', () => {
    const x = i32([2147483647, 1, 1], [3]);
    const o = out('int32', [3]);
    kernel('cumsum')([x], [o], { dim: 0 });
    expect(values(o)).toEqual([2147483647, -2147483648, -2147483647]);
    const p = i32([65536, 65536, 3], [3]);
    kernel('cumprod')([p], [o], { dim: 0 });
    expect(values(o)).toEqual([65536, 0, 0]);
    const q = i32([100000, 100000, 1], [3]);
    kernel('cumprod')([q], [o], { dim: 0 });
    expect(values(o)).toEqual([100000, Math.imul(100000, 100000), Math.imul(100000, 100000)]);
  });

  it('accumulates float32 in float64 (as PyTorch does on the CPU)', () => {
    const n = 1000;
    const x = view(new Float32Array(n).fill(0.1), 'float32', [n]);
    const o = out('float32', [n]);
    kernel('cumsum')([x], [o], { dim: 0 });
    let acc = 0;
    const expected = Array.from({ length: n }, () => {
      acc += Math.fround(0.1);
      return Math.fround(acc);
    });
    expect(values(o)).toEqual(expected);
  });

  it('matches the reference on random strided views (both loop orders)', () => {
    const r = rng(6);
    for (let t = 0; t < 80; t++) {
      const nd = randInt(r, 1, 4);
      const xs = randomShape(r, nd, 5);
      const dim = randInt(r, 0, nd - 1);
      const prod = r() < 0.5;
      const dtype: DType = r() < 0.5 ? 'int32' : 'float64';
      const x = randomView(r, xs, dtype, () => randInt(r, -3, 3), true);
      const o = out(dtype, xs, randInt(r, 0, 2));
      kernel(prod ? 'cumprod' : 'cumsum')([x], [o], { dim });
      expect(values(o)).toEqual(refScan(x, dim, prod, dtype === 'int32'));
    }
  });

  it('copies a 0-d input (dim -1)', () => {
    const o = out('float64', []);
    kernel('cumsum')([view(new Float64Array([0, 4]), 'float64', [], [], 1)], [o], { dim: -1 });
    expect(values(o)).toEqual([4]);
  });
});

// ---- max / min / argmax / argmin -------------------------------------------------------------------

function refExtremum(vals: number[], isMax: boolean): [number, number] {
  let b = vals[0]!;
  let bi = 0;
  for (let k = 1; k < vals.length; k++) {
    if (Number.isNaN(b)) break;
    const v = vals[k]!;
    if (Number.isNaN(v) || (isMax ? v > b : v < b)) {
      b = v;
      bi = k;
    }
  }
  return [b, bi];
}

describe('max, min, argmax, argmin', () => {
  it('first occurrence wins, the first NaN wins', () => {
    const x = f64([1, 5, 5, 0, 1, Number.NaN, 2, Number.NaN], [2, 4]);
    const v = out('float64', [2, 1]);
    const i = out('int32', [2, 1]);
    kernel('max')([x], [v, i], { dim: 1 });
    expect(values(v)).toEqual([5, Number.NaN]);
    expect(values(i)).toEqual([1, 1]);
    kernel('min')([x], [v, i], { dim: 1 });
    expect(values(v)).toEqual([0, Number.NaN]);
    expect(values(i)).toEqual([3, 1]);
    const a = out('int32', [1, 4]);
    kernel('argmax')([x], [a], { dim: 0 });
    expect(values(a)).toEqual([0, 1, 0, 1]);
    kernel('argmin')([f64([3, 1, 1, 3, 1, 0], [3, 2])], [a], { dim: 0 });
    expect(values(a).slice(0, 2)).toEqual([1, 2]);
  });

  it('handles infinities and a single element', () => {
    const v = out('float64', [1]);
    const i = out('int32', [1]);
    kernel('max')([f64([-Infinity, -Infinity], [2])], [v, i], { dim: 0 });
    expect(values(v)).toEqual([-Infinity]);
    expect(values(i)).toEqual([0]);
    kernel('min')([f64([Infinity, 3], [2])], [v, i], { dim: 0 });
    expect(values(v)).toEqual([3]);
    expect(values(i)).toEqual([1]);
  });

  it('gives values = x and index 0 for a 0-d input', () => {
    const x = view(new Float32Array([0, -2]), 'float32', [], [], 1);
    const v = out('float32', []);
    const i = out('int32', []);
    kernel('min')([x], [v, i], { dim: 0 });
    expect(values(v)).toEqual([-2]);
    expect(values(i)).toEqual([0]);
    kernel('argmax')([x], [i], { dim: 0 });
    expect(values(i)).toEqual([0]);
  });

  it('matches the reference on random strided views along every dim', () => {
    const r = rng(7);
    for (let t = 0; t < 80; t++) {
      const nd = randInt(r, 1, 4);
      const xs = randomShape(r, nd, 5);
      const dim = randInt(r, 0, nd - 1);
      const isMax = r() < 0.5;
      const withValues = r() < 0.5;
      const x = randomView(r, xs, 'float32', () => (r() < 0.08 ? Number.NaN : randInt(r, -3, 3)), true);
      const ks = xs.map((s, d) => (d === dim ? 1 : s));
      const i = out('int32', ks, randInt(r, 0, 2));
      const v = out('float32', ks, randInt(r, 0, 2));
      if (withValues) kernel(isMax ? 'max' : 'min')([x], [v, i], { dim });
      else kernel(isMax ? 'argmax' : 'argmin')([x], [i], { dim });
      for (const base of multiIndices(ks)) {
        const data = Array.from({ length: xs[dim]! }, (_, k) => {
          const j = base.slice();
          j[dim] = k;
          return at(x, j);
        });
        const [bv, bi] = refExtremum(data, isMax);
        expect(at(i, base)).toBe(bi);
        if (withValues) expect(at(v, base)).toEqual(bv);
      }
    }
  });
});

// ---- linalg helpers --------------------------------------------------------------------------------

type Mat = number[][];

function matOf(v: TensorView, b: readonly number[] = []): Mat {
  const nd = v.shape.length;
  const r = v.shape[nd - 2]!;
  const c = v.shape[nd - 1]!;
  return Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => at(v, [...b, i, j])));
}

function matmul(a: Mat, b: Mat): Mat {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((s, x, k) => s + x * b[k]![j]!, 0)));
}

const transpose = (a: Mat): Mat => a[0]!.map((_, j) => a.map((row) => row[j]!));

function expectClose(a: Mat, b: Mat, tol: number): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < a[i]!.length; j++) {
      const d = Math.abs(a[i]![j]! - b[i]![j]!);
      if (!(d <= tol * Math.max(1, Math.abs(b[i]![j]!)))) {
        throw new Error(`mismatch at [${i}, ${j}]: ${a[i]![j]} vs ${b[i]![j]} (tol ${tol})`);
      }
    }
  }
}

/** A random SPD matrix M Mᵀ + n I. */
function randomSpd(r: () => number, n: number): Mat {
  const m = Array.from({ length: n }, () => Array.from({ length: n }, () => r() * 2 - 1));
  const s = matmul(m, transpose(m));
  for (let i = 0; i < n; i++) s[i]![i]! += n;
  return s;
}

/** Writes `mats` (one per batch element) into a view with a random layout of `shape`. */
function viewOfMats(
  r: () => number,
  mats: Mat[],
  batch: readonly number[],
  dtype: DType,
  layout: 'contig' | 'transposed' | 'random' = 'random',
): TensorView {
  const n = mats[0]!.length;
  const c = mats[0]![0]!.length;
  const shape = [...batch, n, c];
  let v: TensorView;
  if (layout === 'contig') v = out(dtype, shape);
  else if (layout === 'transposed') {
    const s = contig([...batch, c, n]);
    const strides = [...s.slice(0, -2), s[s.length - 1]!, s[s.length - 2]!];
    v = view(new CTOR[dtype](numel(shape)), dtype, shape, strides);
  } else v = randomView(r, shape, dtype, () => 0);
  let b = 0;
  for (const bi of multiIndices(batch)) {
    const m = mats[b++]!;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < c; j++) {
        let p = v.offset;
        [...bi, i, j].forEach((x, d) => {
          p += x * v.strides[d]!;
        });
        (v.handle as TypedArray)[p] = m[i]![j]!;
      }
    }
  }
  return v;
}

const eye = (n: number): Mat =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => +(i === j)));

// ---- cholesky --------------------------------------------------------------------------------------

describe('cholesky', () => {
  const A = [
    [4, 12, -16],
    [12, 37, -43],
    [-16, -43, 98],
  ];
  const L = [
    [2, 0, 0],
    [6, 1, 0],
    [-8, 5, 3],
  ];

  it('computes the known factor, reading only the lower triangle', () => {
    const garbage = A.map((row, i) => row.map((x, j) => (j > i ? 1e9 : x)));
    const a = viewOfMats(rng(8), [garbage], [], 'float64', 'contig');
    const o = out('float64', [3, 3]);
    kernel('cholesky')([a], [o], { upper: false });
    expect(matOf(o)).toEqual(L);
    const u = out('float64', [3, 3], 3);
    kernel('cholesky')([a], [u], { upper: true });
    expect(matOf(u)).toEqual(transpose(L));
  });

  it('factorises random batched SPD matrices with strided layouts (L Lᵀ = A)', () => {
    const r = rng(9);
    for (const layout of ['contig', 'transposed', 'random'] as const) {
      for (const dtype of ['float64', 'float32'] as const) {
        const batch = [2, 3];
        const n = randInt(r, 1, 7);
        const mats = Array.from({ length: 6 }, () => randomSpd(r, n));
        const a = viewOfMats(r, mats, batch, dtype, layout);
        const o = out(dtype, [...batch, n, n], 1);
        const upper = r() < 0.5;
        kernel('cholesky')([a], [o], { upper });
        const tol = dtype === 'float64' ? 1e-12 : 1e-5;
        let b = 0;
        for (const bi of multiIndices(batch)) {
          const f = matOf(o, bi);
          for (let i = 0; i < n; i++) {
            for (let j = 0; j < n; j++) {
              if (upper ? j < i : j > i) expect(f[i]![j]).toBe(0);
            }
            expect(f[i]![i]!).toBeGreaterThan(0);
          }
          const lower = upper ? transpose(f) : f;
          expectClose(matmul(lower, transpose(lower)), matOf(a, bi), tol);
          b++;
        }
        expect(b).toBe(6);
      }
    }
  });

  it('computes in float64 even for float32 input', () => {
    const a = view(new Float32Array([1e-4, 1, 1, 1e4 + 1]), 'float32', [2, 2]);
    const o = out('float32', [2, 2]);
    kernel('cholesky')([a], [o], { upper: false });
    const l00 = Math.sqrt(Math.fround(1e-4));
    const l10 = 1 / l00;
    expect(values(o)).toEqual([
      Math.fround(l00),
      0,
      Math.fround(l10),
      Math.fround(Math.sqrt(Math.fround(1e4 + 1) - l10 * l10)),
    ]);
  });

  it('throws LINALG_ERROR naming the leading minor (and the batch element)', () => {
    const bad = [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, -1],
    ];
    const e = codeOf(() =>
      kernel('cholesky')([viewOfMats(rng(10), [bad], [], 'float64', 'contig')], [out('float64', [3, 3])], {
        upper: false,
      }),
    );
    expect(e.code).toBe('LINALG_ERROR');
    expect(e.message).toBe(
      'cholesky: the factorization could not be completed because the input is not positive-definite (the leading minor of order 3 is not positive-definite)',
    );
    expect(e.details).toEqual({ op: 'cholesky', order: 3 });
    const nan = codeOf(() =>
      kernel('cholesky')([f64([Number.NaN], [1, 1])], [out('float64', [1, 1])], { upper: false }),
    );
    expect(nan.details.order).toBe(1);
    const batched = codeOf(() =>
      kernel('cholesky')(
        [viewOfMats(rng(11), [eye(3), eye(3), bad], [3], 'float64', 'random')],
        [out('float64', [3, 3, 3])],
        { upper: true },
      ),
    );
    expect(batched.message).toBe(
      'cholesky: (batch element 2): the factorization could not be completed because the input is not positive-definite (the leading minor of order 3 is not positive-definite)',
    );
    expect(batched.details).toEqual({ op: 'cholesky', batch: 2, order: 3 });
  });
});

// ---- solve -----------------------------------------------------------------------------------------

function randomMat(r: () => number, n: number, c: number): Mat {
  return Array.from({ length: n }, () => Array.from({ length: c }, () => r() * 2 - 1));
}

describe('solve', () => {
  it('solves a system that needs pivoting', () => {
    const a = f64([0, 1, 1, 0], [2, 2]);
    const b = f64([2, 3], [2, 1]);
    const o = out('float64', [2, 1]);
    kernel('solve')([a, b], [o], {});
    expect(values(o)).toEqual([3, 2]);
  });

  it('A X = B to 1e-10 on random batched strided inputs (float64)', () => {
    const r = rng(12);
    for (const layout of ['contig', 'transposed', 'random'] as const) {
      for (let t = 0; t < 4; t++) {
        const n = randInt(r, 1, 8);
        const k = randInt(r, 1, 4);
        const batch = [randInt(r, 1, 3)];
        const am = Array.from({ length: batch[0]! }, () => randomMat(r, n, n));
        const bm = Array.from({ length: batch[0]! }, () => randomMat(r, n, k));
        const a = viewOfMats(r, am, batch, 'float64', layout);
        const b = viewOfMats(r, bm, batch, 'float64', 'random');
        const o = out('float64', [...batch, n, k], 2);
        kernel('solve')([a, b], [o], {});
        for (let i = 0; i < batch[0]!; i++) expectClose(matmul(am[i]!, matOf(o, [i])), bm[i]!, 1e-10);
      }
    }
  });

  it('supports broadcast (stride 0) batch dims', () => {
    const r = rng(13);
    const am = randomMat(r, 3, 3);
    const a0 = viewOfMats(r, [am], [], 'float64', 'random');
    // A broadcast over a batch of 4 (stride 0), B a real batch.
    const a = view(a0.handle as TypedArray, 'float64', [4, 3, 3], [0, ...a0.strides], a0.offset);
    const bm = Array.from({ length: 4 }, () => randomMat(r, 3, 2));
    const b = viewOfMats(r, bm, [4], 'float64', 'random');
    const o = out('float64', [4, 3, 2]);
    kernel('solve')([a, b], [o], {});
    for (let i = 0; i < 4; i++) expectClose(matmul(am, matOf(o, [i])), bm[i]!, 1e-10);
  });

  it('computes in float64 and writes float32', () => {
    const r = rng(14);
    const am = randomMat(r, 5, 5).map((row) => row.map(Math.fround));
    const bm = randomMat(r, 5, 1).map((row) => row.map(Math.fround));
    const o = out('float32', [5, 1]);
    kernel('solve')([viewOfMats(r, [am], [], 'float32'), viewOfMats(r, [bm], [], 'float32')], [o], {});
    const o64 = out('float64', [5, 1]);
    kernel('solve')([viewOfMats(r, [am], [], 'float64'), viewOfMats(r, [bm], [], 'float64')], [o64], {});
    expect(values(o)).toEqual(values(o64).map(Math.fround));
  });

  it('throws LINALG_ERROR for singular input, naming the batch element', () => {
    const s = f64([1, 2, 2, 4], [2, 2]);
    const e = codeOf(() => kernel('solve')([s, f64([1, 1], [2, 1])], [out('float64', [2, 1])], {}));
    expect(e.code).toBe('LINALG_ERROR');
    expect(e.message).toBe('solve: the solver failed because the input matrix is singular');
    const a = viewOfMats(
      rng(15),
      [
        eye(2),
        [
          [1, 2],
          [2, 4],
        ],
      ],
      [2],
      'float64',
    );
    const b = viewOfMats(
      rng(16),
      [
        [[1], [1]],
        [[1], [1]],
      ],
      [2],
      'float64',
    );
    const eb = codeOf(() => kernel('solve')([a, b], [out('float64', [2, 2, 1])], {}));
    expect(eb.message).toBe(
      'solve: (batch element 1): the solver failed because the input matrix is singular',
    );
    expect(eb.details.batch).toBe(1);
  });
});

// ---- inverse ---------------------------------------------------------------------------------------

describe('inverse', () => {
  it('inverts a known matrix', () => {
    const o = out('float64', [2, 2]);
    kernel('inverse')([f64([4, 7, 2, 6], [2, 2])], [o], {});
    expectClose(
      matOf(o),
      [
        [0.6, -0.7],
        [-0.2, 0.4],
      ],
      1e-15,
    );
  });

  it('A · inv(A) = I on random batched strided inputs (float64 and float32)', () => {
    const r = rng(17);
    for (const layout of ['contig', 'transposed', 'random'] as const) {
      for (const dtype of ['float64', 'float32'] as const) {
        const n = randInt(r, 1, 8);
        const batch = [2, 2];
        const mats = Array.from({ length: 4 }, () =>
          randomMat(r, n, n).map((row, i) => row.map((x, j) => Math.fround(x + (i === j ? 2 : 0)))),
        );
        const a = viewOfMats(r, mats, batch, dtype, layout);
        const o = out(dtype, [...batch, n, n], 1);
        kernel('inverse')([a], [o], {});
        let b = 0;
        for (const bi of multiIndices(batch)) {
          expectClose(matmul(mats[b++]!, matOf(o, bi)), eye(n), dtype === 'float64' ? 1e-12 : 1e-5);
        }
      }
    }
  });

  it('inverts a flipped (negative-stride) view', () => {
    // rows reversed: [[6, 2], [7, 4]] read from [[7, 4], [6, 2]] backwards
    const a = view(new Float64Array([0, 7, 4, 6, 2]), 'float64', [2, 2], [-2, 1], 3);
    const o = out('float64', [2, 2]);
    kernel('inverse')([a], [o], {});
    expectClose(matmul(matOf(a), matOf(o)), eye(2), 1e-15);
    expect(matOf(a)).toEqual([
      [6, 2],
      [7, 4],
    ]);
  });

  it('throws LINALG_ERROR for singular input', () => {
    const e = codeOf(() => kernel('inverse')([f64([1, 2, 2, 4], [2, 2])], [out('float64', [2, 2])], {}));
    expect(e.code).toBe('LINALG_ERROR');
    expect(e.message).toBe(
      'inverse: the diagonal element 2 is zero, the inversion could not be completed because the input matrix is singular',
    );
    const z = codeOf(() =>
      kernel('inverse')([view(new Float64Array(8), 'float64', [2, 2, 2])], [out('float64', [2, 2, 2])], {}),
    );
    expect(z.message).toBe(
      'inverse: (batch element 0): the diagonal element 1 is zero, the inversion could not be completed because the input matrix is singular',
    );
  });
});
