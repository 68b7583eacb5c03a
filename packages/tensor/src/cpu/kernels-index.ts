import type { Kernel, KernelAttrs, TensorView } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import { GradfolioError } from '../errors.js';
import { copyKernel } from './elementwise.js';
import { forEachRow, type Plan, plan } from './iter.js';

/**
 * Indexing, sorting, scans and arg-reductions of the CPU backend: gather, scatter, indexSelect, sort,
 * cumsum, cumprod, max, min, argmax and argmin.
 *
 * Every kernel reads strided inputs (strides may be 0 or negative, offsets anything) and writes its
 * outputs through their views. "Along a dim" kernels iterate the other dims with a coalesced plan
 * and pick one of two loop orders: slice by slice when the reduced dim is the innermost in memory,
 * or dim-outer / row-inner (with per-row scratch accumulators) when it is not, so the tight loop
 * always walks the smallest stride.
 */

function outOfRange(op: string, index: number, dim: number, size: number): GradfolioError {
  return new GradfolioError(
    'INDEX_OUT_OF_RANGE',
    `${op}: index ${index} is out of bounds for dimension ${dim} with size ${size}`,
    { op, index, dim, size },
  );
}

/** The normalised dim of an attrs bag for an `nd`-dim input (0 for 0-d inputs). */
function dimOf(attrs: KernelAttrs, nd: number): number {
  if (nd === 0) return 0;
  const d = Number(attrs.dim ?? 0);
  return d < 0 ? d + nd : d;
}

const last = (a: readonly number[]): number => a[a.length - 1]!;

// ---------------------------------------------------------------------------------------------------
// gather / indexSelect / scatter
// ---------------------------------------------------------------------------------------------------

/**
 * out[p] = x[xBase(p) + idx[p] * xsd] over `shape`, checking every index against `size`.
 * `xStrides` has 0 on the gathered dim; `iStrides` addresses the index for each output position.
 */
function gatherCore(
  op: string,
  dim: number,
  size: number,
  shape: readonly number[],
  xa: TypedArray,
  xBase: number,
  xStrides: readonly number[],
  xsd: number,
  ia: TypedArray,
  iBase: number,
  iStrides: readonly number[],
  oa: TypedArray,
  oBase: number,
  oStrides: readonly number[],
): void {
  const p = plan(shape, [iStrides, xStrides, oStrides]);
  const is = last(p.strides[0]!);
  const xs = last(p.strides[1]!);
  const os = last(p.strides[2]!);
  forEachRow(p, [iBase, xBase, oBase], (off, n) => {
    let ip = off[0]!;
    let xp = off[1]!;
    let op_ = off[2]!;
    for (let j = 0; j < n; j++) {
      const t = ia[ip]!;
      if (!(t >= 0 && t < size)) throw outOfRange(op, t, dim, size);
      oa[op_] = xa[xp + t * xsd]!;
      ip += is;
      xp += xs;
      op_ += os;
    }
  });
}

const gatherKernel: Kernel = (inputs, outputs, attrs) => {
  const x = inputs[0]!;
  const index = inputs[1]!;
  const o = outputs[0]!;
  const xnd = x.shape.length;
  const nd = index.shape.length;
  const dim = dimOf(attrs, xnd);
  // A 0-d input behaves as a 1-element dim (PyTorch allows index 0 only).
  const size = xnd === 0 ? 1 : x.shape[dim]!;
  const xsd = xnd === 0 ? 0 : x.strides[dim]!;
  const xStrides = new Array<number>(nd);
  for (let d = 0; d < nd; d++) xStrides[d] = d === dim || xnd === 0 ? 0 : x.strides[d]!;
  gatherCore(
    'gather',
    dim,
    size,
    index.shape,
    x.handle as TypedArray,
    x.offset,
    xStrides,
    xsd,
    index.handle as TypedArray,
    index.offset,
    index.strides,
    o.handle as TypedArray,
    o.offset,
    o.strides,
  );
};

const indexSelectKernel: Kernel = (inputs, outputs, attrs) => {
  const x = inputs[0]!;
  const index = inputs[1]!;
  const o = outputs[0]!;
  const xa = x.handle as TypedArray;
  const ia = index.handle as TypedArray;
  const oa = o.handle as TypedArray;
  const nd = x.shape.length;
  const dim = dimOf(attrs, nd);
  const m = index.shape.length === 0 ? 1 : index.shape[0]!;
  const ist = index.shape.length === 0 ? 0 : index.strides[0]!;
  if (nd === 0) {
    // 0-d input: every index must be 0 and the 0-d output is the input.
    for (let i = 0, ip = index.offset; i < m; i++, ip += ist) {
      const t = ia[ip]!;
      if (t !== 0) throw outOfRange('indexSelect', t, 0, 1);
    }
    oa[o.offset] = xa[x.offset]!;
    return;
  }
  const size = x.shape[dim]!;
  // The index as a view broadcast over the output: its stride on `dim`, 0 elsewhere.
  const iStrides = new Array<number>(nd).fill(0);
  iStrides[dim] = ist;
  const xStrides = x.strides.slice();
  xStrides[dim] = 0;
  gatherCore(
    'indexSelect',
    dim,
    size,
    o.shape,
    xa,
    x.offset,
    xStrides,
    x.strides[dim]!,
    ia,
    index.offset,
    iStrides,
    oa,
    o.offset,
    o.strides,
  );
};

/** Strided copy of `src` into `dst`: the backend's `copy` kernel. */
function copyView(src: TensorView, dst: TensorView): void {
  copyKernel([src], [dst], {});
}

const scatterKernel: Kernel = (inputs, outputs, attrs) => {
  const x = inputs[0]!;
  const index = inputs[1]!;
  const src = inputs[2]!;
  const o = outputs[0]!;
  const add = attrs.reduce === 'add';
  const op = add ? 'scatterAdd' : 'scatter';
  const xnd = x.shape.length;
  const nd = index.shape.length;
  const dim = dimOf(attrs, xnd);
  copyView(x, o);
  const size = xnd === 0 ? 1 : x.shape[dim]!;
  const osd = xnd === 0 ? 0 : o.strides[dim]!;
  const oStrides = new Array<number>(nd);
  for (let d = 0; d < nd; d++) oStrides[d] = d === dim || xnd === 0 ? 0 : o.strides[d]!;
  const sStrides = new Array<number>(nd);
  for (let d = 0; d < nd; d++) sStrides[d] = src.strides[d] ?? 0;
  const ia = index.handle as TypedArray;
  const sa = src.handle as TypedArray;
  const oa = o.handle as TypedArray;
  const p = plan(index.shape, [index.strides, sStrides, oStrides]);
  const is = last(p.strides[0]!);
  const ss = last(p.strides[1]!);
  const os = last(p.strides[2]!);
  const mode = !add ? 0 : o.dtype === 'bool' ? 2 : 1;
  forEachRow(p, [index.offset, src.offset, o.offset], (off, n) => {
    let ip = off[0]!;
    let sp = off[1]!;
    let op_ = off[2]!;
    for (let j = 0; j < n; j++) {
      const t = ia[ip]!;
      if (!(t >= 0 && t < size)) throw outOfRange(op, t, dim, size);
      const q = op_ + t * osd;
      if (mode === 0) oa[q] = sa[sp]!;
      else if (mode === 1) oa[q] = oa[q]! + sa[sp]!;
      else oa[q] = oa[q] !== 0 || sa[sp] !== 0 ? 1 : 0;
      ip += is;
      sp += ss;
      op_ += os;
    }
  });
};

// ---------------------------------------------------------------------------------------------------
// Along-dim iteration shared by sort, scans and arg-reductions
// ---------------------------------------------------------------------------------------------------

interface AlongDim {
  /** Plan over every dim but `dim` (operand 0 is x, then the outputs). */
  readonly p: Plan;
  /** Length of the dim. */
  readonly len: number;
  /** Stride of x along the dim. */
  readonly xsd: number;
  /** Strides of the outputs along the dim (0 for keepdim outputs). */
  readonly osd: readonly number[];
  /** Length of the plan's inner rows. */
  readonly rowLen: number;
  /** True when the dim-outer / row-inner loop order walks memory better than slice by slice. */
  readonly rowInner: boolean;
}

function alongDim(x: TensorView, outs: readonly TensorView[], dim: number): AlongDim {
  const nd = x.shape.length;
  if (nd === 0) {
    return {
      p: plan([], [[], ...outs.map(() => [])]),
      len: 1,
      xsd: 0,
      osd: outs.map(() => 0),
      rowLen: 1,
      rowInner: false,
    };
  }
  const rest = x.shape.slice();
  rest[dim] = 1;
  const p = plan(rest, [x.strides, ...outs.map((o) => o.strides)]);
  const len = x.shape[dim]!;
  const xsd = x.strides[dim]!;
  const osd = outs.map((o) => (o.shape[dim] === 1 ? 0 : o.strides[dim]!));
  const rowLen = last(p.shape);
  const rowInner = rowLen > 1 && Math.abs(last(p.strides[0]!)) < Math.abs(xsd);
  return { p, len, xsd, osd, rowLen, rowInner };
}

// ---------------------------------------------------------------------------------------------------
// cumsum / cumprod
// ---------------------------------------------------------------------------------------------------

/**
 * mode: 0 float sum, 1 float prod, 2 int32 sum, 3 int32 prod. Floats accumulate in float64 (as
 * PyTorch's CPU kernel does), int32 wraps.
 */
function scanKernel(prod: boolean): Kernel {
  return (inputs, outputs, attrs) => {
    const x = inputs[0]!;
    const o = outputs[0]!;
    const xa = x.handle as TypedArray;
    const oa = o.handle as TypedArray;
    const g = alongDim(x, [o], dimOf(attrs, x.shape.length));
    const mode = (prod ? 1 : 0) + (o.dtype === 'int32' ? 2 : 0);
    const init = prod ? 1 : 0;
    const { len, xsd } = g;
    const osd = g.osd[0]!;
    const xs = last(g.p.strides[0]!);
    const os = last(g.p.strides[1]!);
    if (g.rowInner) {
      const acc = new Float64Array(g.rowLen);
      forEachRow(g.p, [x.offset, o.offset], (off, n) => {
        acc.fill(init, 0, n);
        let xb = off[0]!;
        let ob = off[1]!;
        for (let k = 0; k < len; k++) {
          let xp = xb;
          let op = ob;
          if (mode === 0) {
            for (let j = 0; j < n; j++, xp += xs, op += os) oa[op] = acc[j] = acc[j]! + xa[xp]!;
          } else if (mode === 1) {
            for (let j = 0; j < n; j++, xp += xs, op += os) oa[op] = acc[j] = acc[j]! * xa[xp]!;
          } else if (mode === 2) {
            for (let j = 0; j < n; j++, xp += xs, op += os) oa[op] = acc[j] = (acc[j]! + xa[xp]!) | 0;
          } else {
            for (let j = 0; j < n; j++, xp += xs, op += os) oa[op] = acc[j] = Math.imul(acc[j]!, xa[xp]!);
          }
          xb += xsd;
          ob += osd;
        }
      });
      return;
    }
    forEachRow(g.p, [x.offset, o.offset], (off, n) => {
      let xb = off[0]!;
      let ob = off[1]!;
      for (let j = 0; j < n; j++, xb += xs, ob += os) {
        let acc = init;
        let xp = xb;
        let op = ob;
        if (mode === 0) {
          for (let k = 0; k < len; k++, xp += xsd, op += osd) oa[op] = acc += xa[xp]!;
        } else if (mode === 1) {
          for (let k = 0; k < len; k++, xp += xsd, op += osd) oa[op] = acc *= xa[xp]!;
        } else if (mode === 2) {
          for (let k = 0; k < len; k++, xp += xsd, op += osd) oa[op] = acc = (acc + xa[xp]!) | 0;
        } else {
          for (let k = 0; k < len; k++, xp += xsd, op += osd) oa[op] = acc = Math.imul(acc, xa[xp]!);
        }
      }
    });
  };
}

// ---------------------------------------------------------------------------------------------------
// max / min / argmax / argmin
// ---------------------------------------------------------------------------------------------------

/**
 * Writes the index (and optionally the value) of the max (or min) along the dim. First occurrence
 * wins; the first NaN wins over everything.
 */
function extremum(
  op: string,
  x: TensorView,
  values: TensorView | undefined,
  indices: TensorView,
  dim: number,
  isMax: boolean,
): void {
  const xa = x.handle as TypedArray;
  const ia = indices.handle as TypedArray;
  const va = values ? (values.handle as TypedArray) : undefined;
  const outs = values ? [indices, values] : [indices];
  const g = alongDim(x, outs, dim);
  const { len, xsd } = g;
  if (len === 0) {
    throw new GradfolioError(
      'INVALID_ARGUMENT',
      `${op}: expected reduction dim ${dim} to have non-zero size`,
      { op, dim },
    );
  }
  const xs = last(g.p.strides[0]!);
  const is = last(g.p.strides[1]!);
  const vs = values ? last(g.p.strides[2]!) : 0;
  const bases = values ? [x.offset, indices.offset, values.offset] : [x.offset, indices.offset];
  if (g.rowInner) {
    const best = new Float64Array(g.rowLen);
    const bestI = new Int32Array(g.rowLen);
    forEachRow(g.p, bases, (off, n) => {
      let xp = off[0]!;
      for (let j = 0; j < n; j++, xp += xs) best[j] = xa[xp]!;
      bestI.fill(0, 0, n);
      let xb = off[0]! + xsd;
      for (let k = 1; k < len; k++, xb += xsd) {
        xp = xb;
        if (isMax) {
          for (let j = 0; j < n; j++, xp += xs) {
            const v = xa[xp]!;
            const b = best[j]!;
            if (v > b || (Number.isNaN(v) && !Number.isNaN(b))) {
              best[j] = v;
              bestI[j] = k;
            }
          }
        } else {
          for (let j = 0; j < n; j++, xp += xs) {
            const v = xa[xp]!;
            const b = best[j]!;
            if (v < b || (Number.isNaN(v) && !Number.isNaN(b))) {
              best[j] = v;
              bestI[j] = k;
            }
          }
        }
      }
      let ip = off[1]!;
      for (let j = 0; j < n; j++, ip += is) ia[ip] = bestI[j]!;
      if (va) {
        let vp = off[2]!;
        for (let j = 0; j < n; j++, vp += vs) va[vp] = best[j]!;
      }
    });
    return;
  }
  forEachRow(g.p, bases, (off, n) => {
    let xb = off[0]!;
    let ip = off[1]!;
    let vp = va ? off[2]! : 0;
    for (let j = 0; j < n; j++, xb += xs, ip += is, vp += vs) {
      let xp = xb;
      let b = xa[xp]!;
      let bi = 0;
      if (!Number.isNaN(b)) {
        xp += xsd;
        if (isMax) {
          for (let k = 1; k < len; k++, xp += xsd) {
            const v = xa[xp]!;
            if (v > b) {
              b = v;
              bi = k;
            } else if (Number.isNaN(v)) {
              b = v;
              bi = k;
              break;
            }
          }
        } else {
          for (let k = 1; k < len; k++, xp += xsd) {
            const v = xa[xp]!;
            if (v < b) {
              b = v;
              bi = k;
            } else if (Number.isNaN(v)) {
              b = v;
              bi = k;
              break;
            }
          }
        }
      }
      ia[ip] = bi;
      if (va) va[vp] = b;
    }
  });
}

function valuesIndicesKernel(isMax: boolean): Kernel {
  return (inputs, outputs, attrs) => {
    const x = inputs[0]!;
    extremum(isMax ? 'max' : 'min', x, outputs[0]!, outputs[1]!, dimOf(attrs, x.shape.length), isMax);
  };
}

function argKernel(isMax: boolean): Kernel {
  return (inputs, outputs, attrs) => {
    const x = inputs[0]!;
    extremum(isMax ? 'argmax' : 'argmin', x, undefined, outputs[0]!, dimOf(attrs, x.shape.length), isMax);
  };
}

// ---------------------------------------------------------------------------------------------------
// sort
// ---------------------------------------------------------------------------------------------------

const RUN = 24;

/**
 * Stable ascending sort of `keys[0..n)` carrying `idx` along: insertion-sorted runs, then bottom-up
 * merges ping-ponging with the scratch arrays. The result ends in `keys`/`idx`.
 */
function stableSort(keys: Float64Array, idx: Int32Array, tk: Float64Array, ti: Int32Array, n: number): void {
  for (let lo = 0; lo < n; lo += RUN) {
    const hi = Math.min(lo + RUN, n);
    for (let i = lo + 1; i < hi; i++) {
      const k = keys[i]!;
      const v = idx[i]!;
      let j = i - 1;
      while (j >= lo && keys[j]! > k) {
        keys[j + 1] = keys[j]!;
        idx[j + 1] = idx[j]!;
        j--;
      }
      keys[j + 1] = k;
      idx[j + 1] = v;
    }
  }
  let sk = keys;
  let si = idx;
  let dk = tk;
  let di = ti;
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let a = lo;
      let b = mid;
      let w = lo;
      if (mid >= hi || sk[mid - 1]! <= sk[mid]!) {
        // Already in order (or a lone run): copy through.
        for (; a < hi; a++, w++) {
          dk[w] = sk[a]!;
          di[w] = si[a]!;
        }
        continue;
      }
      while (a < mid && b < hi) {
        if (sk[b]! < sk[a]!) {
          dk[w] = sk[b]!;
          di[w++] = si[b++]!;
        } else {
          dk[w] = sk[a]!;
          di[w++] = si[a++]!;
        }
      }
      for (; a < mid; a++, w++) {
        dk[w] = sk[a]!;
        di[w] = si[a]!;
      }
      for (; b < hi; b++, w++) {
        dk[w] = sk[b]!;
        di[w] = si[b]!;
      }
    }
    const t1 = sk;
    sk = dk;
    dk = t1;
    const t2 = si;
    si = di;
    di = t2;
  }
  if (sk !== keys) {
    keys.set(sk.subarray(0, n));
    idx.set(si.subarray(0, n));
  }
}

const sortKernel: Kernel = (inputs, outputs, attrs) => {
  const x = inputs[0]!;
  const vo = outputs[0]!;
  const io = outputs[1]!;
  const xa = x.handle as TypedArray;
  const va = vo.handle as TypedArray;
  const ia = io.handle as TypedArray;
  const descending = attrs.descending === true;
  const g = alongDim(x, [vo, io], dimOf(attrs, x.shape.length));
  const { len, xsd } = g;
  const vsd = g.osd[0]!;
  const isd = g.osd[1]!;
  const xs = last(g.p.strides[0]!);
  const vs = last(g.p.strides[1]!);
  const is = last(g.p.strides[2]!);
  const keys = new Float64Array(len);
  const idx = new Int32Array(len);
  const tk = new Float64Array(len);
  const ti = new Int32Array(len);
  const nans = new Int32Array(len);
  const sign = descending ? -1 : 1;
  forEachRow(g.p, [x.offset, vo.offset, io.offset], (off, n) => {
    let xb = off[0]!;
    let vb = off[1]!;
    let ib = off[2]!;
    for (let j = 0; j < n; j++, xb += xs, vb += vs, ib += is) {
      // Split NaNs off (in order), sort the rest by key (negated when descending, which keeps ties
      // in their original order).
      let m = 0;
      let nn = 0;
      let xp = xb;
      for (let k = 0; k < len; k++, xp += xsd) {
        const v = xa[xp]!;
        if (Number.isNaN(v)) nans[nn++] = k;
        else {
          keys[m] = sign * v;
          idx[m++] = k;
        }
      }
      stableSort(keys, idx, tk, ti, m);
      let vp = vb;
      let ip = ib;
      if (descending) {
        for (let k = 0; k < nn; k++, vp += vsd, ip += isd) {
          const t = nans[k]!;
          va[vp] = xa[xb + t * xsd]!;
          ia[ip] = t;
        }
      }
      for (let k = 0; k < m; k++, vp += vsd, ip += isd) {
        const t = idx[k]!;
        va[vp] = xa[xb + t * xsd]!;
        ia[ip] = t;
      }
      if (!descending) {
        for (let k = 0; k < nn; k++, vp += vsd, ip += isd) {
          const t = nans[k]!;
          va[vp] = xa[xb + t * xsd]!;
          ia[ip] = t;
        }
      }
    }
  });
};

/**
 * Registers the CPU indexing, sorting, scan and arg-reduction kernels: `gather`, `scatter`,
 * `indexSelect`, `sort`, `cumsum`, `cumprod`, `max`, `min`, `argmax` and `argmin` (contracts in the
 * op table). Index errors are `INDEX_OUT_OF_RANGE` with `{ op, index, dim, size }` details.
 *
 * @example
 * ```ts
 * const kernels = new Map<string, Kernel>();
 * registerIndexKernels(kernels);
 * const out = new Float64Array(2);
 * kernels.get('gather')!(
 *   [
 *     { handle: new Float64Array([10, 20, 30]), dtype: 'float64', shape: [3], strides: [1], offset: 0 },
 *     { handle: new Int32Array([2, 0]), dtype: 'int32', shape: [2], strides: [1], offset: 0 },
 *   ],
 *   [{ handle: out, dtype: 'float64', shape: [2], strides: [1], offset: 0 }],
 *   { dim: 0 },
 * );
 * out; // Float64Array [30, 10]
 * ```
 */
export function registerIndexKernels(k: Map<string, Kernel>): void {
  k.set('gather', gatherKernel);
  k.set('scatter', scatterKernel);
  k.set('indexSelect', indexSelectKernel);
  k.set('sort', sortKernel);
  k.set('cumsum', scanKernel(false));
  k.set('cumprod', scanKernel(true));
  k.set('max', valuesIndicesKernel(true));
  k.set('min', valuesIndicesKernel(false));
  k.set('argmax', argKernel(true));
  k.set('argmin', argKernel(false));
}
