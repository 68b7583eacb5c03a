/**
 * "Along a dim" kernels: scans (`cumsum`, `cumprod`), value/index reductions (`max`, `min`, `argmax`,
 * `argmin`), `sort` and the scatter step of `scatter`. Short lines run one thread per line (a position
 * of every other dim), walking the line in order. That reproduces the CPU's results exactly where order
 * matters: first-occurrence ties, stable sorting, sequential scans, and "last write wins" / in-order
 * additions for duplicate scatter indices (lines never share an output element, because a scatter only
 * moves elements along the dim). Long lines run one workgroup per line (scans: segmented; max/min:
 * a tree over a total order that gives the serial answer) or, for sort, the merge sort of sort.ts.
 */
import type { DType, Kernel, KernelAttrs, TensorView } from '@gradfolio/tensor';
import { type Binding, type GPUStorage, type GpuContext, WG } from '../context.js';
import { CAST_HELPERS, castExpr, coalesce, numelOf, slot, uniformDecl, wgslType } from '../layout.js';
import { errorCode, errorDecl } from './errors.js';
import { MATH } from './pointwise.js';
import { mergeSort } from './sort.js';

/** One buffer operand of a line kernel. */
interface LineOperand {
  readonly view: TensorView;
  /** Stride along the dim (0 for keepdim outputs and scalar-like operands). */
  readonly dimStride: number;
  readonly write?: boolean;
}

/**
 * Uniform layout: [lines, len, shape[r], per operand: offset, dimStride, strides[r], then params].
 * The generated `main` defines, per operand i, `b{i}` (the line's base address) and `s{i}` (its stride
 * along the dim), plus `len`; `body` does the rest. Buffers are `o0, o1, ...`; params `p[j]`.
 */
function shader(
  types: readonly DType[],
  writes: readonly boolean[],
  rank: number,
  params: number,
  body: (p: readonly string[]) => string,
  opts: LineOptions,
): string {
  const per = 2 + rank;
  const base = (o: number) => 2 + rank + o * per;
  const total = 2 + rank + types.length * per + params;
  const lines = [uniformDecl(total), CAST_HELPERS, MATH];
  types.forEach((t, i) => {
    lines.push(
      `@group(0) @binding(${i + 1}) var<storage, ${writes[i] ? 'read_write' : 'read'}> o${i}: array<${wgslType(t)}>;`,
    );
  });
  if (opts.errors === true) lines.push(errorDecl(types.length + 1));
  if (opts.decls !== undefined) lines.push(opts.decls);
  const decode: string[] = ['var rem = line;'];
  for (let d = rank - 1; d >= 0; d--) {
    const size = `u32(${slot(2 + d)})`;
    if (d === 0) decode.push('let i0 = i32(rem);');
    else decode.push(`let i${d} = i32(rem % ${size}); rem = rem / ${size};`);
  }
  types.forEach((_, o) => {
    const terms = [slot(base(o))];
    for (let d = 0; d < rank; d++) terms.push(`i${d} * ${slot(base(o) + 2 + d)}`);
    decode.push(`let b${o} = ${terms.join(' + ')};`);
    decode.push(`let s${o} = ${slot(base(o) + 1)};`);
  });
  const p = Array.from({ length: params }, (_, j) => slot(2 + rank + types.length * per + j));
  // One thread per line, or (opts.group) one workgroup per line with `lid` its thread index.
  const head =
    opts.group === undefined
      ? `@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let line = gid.x + gid.y * nwg.x * ${WG}u;`
      : `@compute @workgroup_size(${opts.group})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let line = wid.x + wid.y * nwg.x;`;
  return `${lines.join('\n')}
${head}
  if (line >= u32(${slot(0)})) { return; }
  let len = ${slot(1)};
  ${decode.join('\n  ')}
  ${body(p)}
}`;
}

/** Options of a line kernel. */
interface LineOptions {
  /** Binds the index error record (errors.ts). */
  readonly errors?: boolean;
  /** Threads per line (one workgroup per line); default: one thread per line. */
  readonly group?: number;
  /** Extra module-scope WGSL (workgroup arrays, helpers). */
  readonly decls?: string;
}

/**
 * Runs a line kernel over `shape` with `dim` walked by the body: every operand is addressed with its
 * own strides for the other dims (`operands[i].view.strides`, which must have `shape`'s rank) plus its
 * `dimStride` along `dim`.
 */
function runLines(
  ctx: GpuContext,
  key: string,
  shape: readonly number[],
  dim: number,
  operands: readonly LineOperand[],
  params: readonly number[],
  body: (p: readonly string[]) => string,
  opts: LineOptions = {},
): void {
  const len = shape.length === 0 ? 1 : shape[dim]!;
  const rest = shape.slice();
  if (rest.length > 0) rest[dim] = 1;
  const lines = numelOf(rest);
  if (lines === 0) return;
  const c = coalesce(
    rest,
    operands.map((o) => (o.view.shape.length === 0 ? rest.map(() => 0) : o.view.strides)),
  );
  const rank = c.shape.length;
  const types = operands.map((o) => o.view.dtype);
  const writes = operands.map((o) => o.write === true);
  const fullKey = `${key}|${types.join(',')}|r${rank}|g${opts.group ?? 0}`;
  const pipeline = ctx.pipeline(fullKey, () => shader(types, writes, rank, params.length, body, opts));
  const per = 2 + rank;
  const u = new Int32Array(2 + rank + operands.length * per + params.length);
  u[0] = lines;
  u[1] = len;
  for (let d = 0; d < rank; d++) u[2 + d] = c.shape[d]!;
  operands.forEach((o, i) => {
    const b = 2 + rank + i * per;
    u[b] = o.view.offset;
    u[b + 1] = o.dimStride;
    for (let d = 0; d < rank; d++) u[b + 2 + d] = c.strides[i]![d]!;
  });
  u.set(params, 2 + rank + operands.length * per);
  const bindings: Binding[] = operands.map((o) => ({
    buffer: (o.view.handle as GPUStorage).buffer,
    write: o.write === true,
  }));
  if (opts.errors === true) bindings.push({ buffer: ctx.errorBuffer, write: true });
  const enc = ctx.encoder();
  const temps: Array<{ buffer: GPUBuffer; bytes: number }> = [];
  ctx.dispatch(enc, pipeline, u, bindings, opts.group === undefined ? Math.ceil(lines / WG) : lines, temps);
  ctx.submit(enc, temps);
}

/** Lines longer than this run one workgroup per line (scans, max/min/arg-reductions). */
const PARALLEL_LINE = 256;
/** Threads of such a workgroup. */
const LINE_WG = 64;

/** The normalised dim of an attrs bag for an `nd`-dim tensor (0 for 0-d tensors). */
export function dimOf(attrs: KernelAttrs, nd: number): number {
  if (nd === 0) return 0;
  const d = Number(attrs.dim ?? 0);
  return d < 0 ? d + nd : d;
}

/** Stride of a (keepdim or same-shape) output along `dim`: 0 where the dim has size 1. */
const outDimStride = (o: TensorView, dim: number): number =>
  o.shape.length === 0 || o.shape[dim] === 1 ? 0 : o.strides[dim]!;

const xDimStride = (x: TensorView, dim: number): number => (x.shape.length === 0 ? 0 : x.strides[dim]!);

/** `isnan` for any storage type (only f32 has NaN). */
const nanTest = (v: string, t: DType): string => (t === 'float32' ? `isnanf(${v})` : 'false');

/**
 * cumsum / cumprod: int32 (and bool, given as int32 by the dispatcher) wraps like the CPU. float32
 * accumulates in f32 where the CPU uses float64; sums are compensated (Kahan), so a long scan stays
 * within a few ulps of the float64 one instead of drifting by n * eps of its largest partial sum.
 */
function scanKernel(ctx: GpuContext, prod: boolean): Kernel {
  return (inputs, outputs, attrs) => {
    const x = inputs[0]!;
    const o = outputs[0]!;
    const dim = dimOf(attrs, x.shape.length);
    const len = x.shape.length === 0 ? 1 : x.shape[dim]!;
    const accD: DType = o.dtype === 'float32' ? 'float32' : 'int32';
    const acc = wgslType(accD);
    const load = castExpr('o0[b0 + k * s0]', x.dtype, accD);
    const store = castExpr('acc', accD, o.dtype);
    const kahan = !prod && accD === 'float32';
    // Folds `v` into acc (with c, Kahan's lost low part, for float sums: infinities and NaN make c
    // NaN, so the compensation is dropped once the sum is no longer finite).
    const fold = (v: string) =>
      kahan
        ? `{ let y = ${v} - c; let t = acc + y; c = select(0.0, (t - acc) - y, !isnanf(t) && !isinff(t)); acc = t; }`
        : `acc = acc ${prod ? '*' : '+'} ${v};`;
    const init = `${acc}(${prod ? 1 : 0})`;
    const operands: LineOperand[] = [
      { view: x, dimStride: xDimStride(x, dim) },
      { view: o, dimStride: outDimStride(o, dim), write: true },
    ];
    const key = `${prod ? 'cumprod' : 'cumsum'}>${o.dtype}`;
    if (len <= PARALLEL_LINE) {
      runLines(
        ctx,
        key,
        x.shape,
        dim,
        operands,
        [],
        () => `var acc: ${acc} = ${init};
  var c: ${acc} = ${acc}(0);
  for (var k = 0; k < len; k++) {
    ${fold(load)}
    o1[b1 + k * s1] = ${store};
  }`,
      );
      return;
    }
    // Long lines: each of LINE_WG threads scans one segment, after an exclusive scan of the segment
    // totals. Only the rounding order differs from the serial scan (int32 is exact).
    runLines(
      ctx,
      key,
      x.shape,
      dim,
      operands,
      [],
      () => `let seg = (len + ${LINE_WG - 1}) / ${LINE_WG};
  let lo = i32(lid) * seg;
  let hi = min(len, lo + seg);
  var acc: ${acc} = ${init};
  var c: ${acc} = ${acc}(0);
  for (var k = lo; k < hi; k++) { ${fold(load)} }
  part[lid] = acc;
  workgroupBarrier();
  acc = ${init};
  c = ${acc}(0);
  for (var j = 0u; j < lid; j++) { ${fold('part[j]')} }
  c = ${acc}(0);
  for (var k = lo; k < hi; k++) {
    ${fold(load)}
    o1[b1 + k * s1] = ${store};
  }`,
      { group: LINE_WG, decls: `var<workgroup> part: array<${acc}, ${LINE_WG}>;` },
    );
  };
}

/**
 * max / min (values and indices) and argmax / argmin: first occurrence wins, the first NaN wins over
 * everything (and ends the walk), as on the CPU.
 */
function extremumKernel(ctx: GpuContext, isMax: boolean, withValues: boolean): Kernel {
  return (inputs, outputs, attrs) => {
    const x = inputs[0]!;
    const dim = dimOf(attrs, x.shape.length);
    const len = x.shape.length === 0 ? 1 : x.shape[dim]!;
    const values = withValues ? outputs[0]! : undefined;
    const indices = withValues ? outputs[1]! : outputs[0]!;
    const operands: LineOperand[] = [
      { view: x, dimStride: xDimStride(x, dim) },
      { view: indices, dimStride: 0, write: true },
    ];
    if (values !== undefined) operands.push({ view: values, dimStride: 0, write: true });
    const cmp = isMax ? '>' : '<';
    const t = x.dtype;
    const key = `${isMax ? 'max' : 'min'}${withValues ? 'v' : 'a'}`;
    if (len <= PARALLEL_LINE) {
      runLines(
        ctx,
        key,
        x.shape,
        dim,
        operands,
        [],
        () => `var best = o0[b0];
  var bi = 0;
  if (!(${nanTest('best', t)})) {
    for (var k = 1; k < len; k++) {
      let v = o0[b0 + k * s0];
      if (${nanTest('v', t)}) { best = v; bi = k; break; }
      if (v ${cmp} best) { best = v; bi = k; }
    }
  }
  o1[b1] = bi;${values !== undefined ? '\n  o2[b2] = best;' : ''}`,
      );
      return;
    }
    // Long lines: LINE_WG threads fold strided shares, then a tree in workgroup memory. "better" is a
    // total order (NaN first, then the value, then the lower index), so the parallel result is the
    // serial one: the first NaN, else the first extremum.
    const wt = wgslType(t);
    const better =
      t === 'float32'
        ? `let vn = isnanf(v); let bn = isnanf(b);
  if (vn || bn) { return vn && (!bn || i < bi); }
  return v ${cmp} b || (v == b && i < bi);`
        : `return v ${cmp} b || (v == b && i < bi);`;
    runLines(
      ctx,
      key,
      x.shape,
      dim,
      operands,
      [],
      () => `var best = o0[b0 + i32(lid) * s0];
  var bi = i32(lid);
  for (var k = i32(lid) + ${LINE_WG}; k < len; k += ${LINE_WG}) {
    let v = o0[b0 + k * s0];
    if (better(v, k, best, bi)) { best = v; bi = k; }
  }
  bv[lid] = best;
  bix[lid] = bi;
  workgroupBarrier();
  for (var st = ${LINE_WG / 2}u; st > 0u; st = st >> 1u) {
    if (lid < st && better(bv[lid + st], bix[lid + st], bv[lid], bix[lid])) {
      bv[lid] = bv[lid + st];
      bix[lid] = bix[lid + st];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    o1[b1] = bix[0];${values !== undefined ? '\n    o2[b2] = bv[0];' : ''}
  }`,
      {
        group: LINE_WG,
        decls: `var<workgroup> bv: array<${wt}, ${LINE_WG}>;
var<workgroup> bix: array<i32, ${LINE_WG}>;
fn better(v: ${wt}, i: i32, b: ${wt}, bi: i32) -> bool {
  ${better}
}`,
      },
    );
  };
}

/** Lines longer than this are sorted by the parallel merge sort of sort.ts. */
const SERIAL_SORT = 64;

/**
 * Stable sort of each line, NaN last (first when descending), writing values and indices. Short
 * lines: an insertion sort in the output buffers (stable because it only moves an element past strictly
 * greater ones). Descending order sorts by the negated key, which keeps ties in their input order,
 * as the CPU does.
 */
function sortKernel(ctx: GpuContext): Kernel {
  return (inputs, outputs, attrs) => {
    const x = inputs[0]!;
    const vo = outputs[0]!;
    const io = outputs[1]!;
    const dim = dimOf(attrs, x.shape.length);
    const descending = attrs.descending === true;
    if (x.shape.length > 0 && x.shape[dim]! > SERIAL_SORT) {
      mergeSort(ctx, x, vo, io, dim, descending);
      return;
    }
    const t = x.dtype;
    // Keys compare as f32 (NaN handled separately) or i32; descending compares reversed.
    const gt = (a: string, b: string) => (descending ? `${b} > ${a}` : `${a} > ${b}`);
    const isNan = (v: string) => nanTest(v, t);
    // "a goes after b": NaN goes last ascending, first descending.
    const after = (a: string, b: string) =>
      t === 'float32'
        ? descending
          ? `(!${isNan(a)} && (${isNan(b)} || ${gt(a, b)}))`
          : `(${isNan(a)} && !${isNan(b)}) || (!${isNan(a)} && !${isNan(b)} && ${gt(a, b)})`
        : gt(a, b);
    runLines(
      ctx,
      `sort${descending ? 'd' : 'a'}`,
      x.shape,
      dim,
      [
        { view: x, dimStride: xDimStride(x, dim) },
        { view: vo, dimStride: outDimStride(vo, dim), write: true },
        { view: io, dimStride: outDimStride(io, dim), write: true },
      ],
      [],
      () => `for (var k = 0; k < len; k++) {
    let v = o0[b0 + k * s0];
    var j = k - 1;
    loop {
      if (j < 0) { break; }
      let w = o1[b1 + j * s1];
      if (!(${after('w', 'v')})) { break; }
      o1[b1 + (j + 1) * s1] = w;
      o2[b2 + (j + 1) * s2] = o2[b2 + j * s2];
      j = j - 1;
    }
    o1[b1 + (j + 1) * s1] = v;
    o2[b2 + (j + 1) * s2] = k;
  }`,
    );
  };
}

/**
 * The scatter step: `o` already holds a copy of x; for each index element (in order along the dim)
 * `o[.., index, ..] = src` (or `+= src`, or `|= src` for bool adds). Out-of-range indices are skipped
 * and recorded for the next read to raise (errors.ts).
 */
function scatterInto(
  ctx: GpuContext,
  o: TensorView,
  index: TensorView,
  src: TensorView,
  dim: number,
  add: boolean,
): void {
  const nd = index.shape.length;
  const xnd = o.shape.length;
  const size = xnd === 0 ? 1 : o.shape[dim]!;
  const osd = xnd === 0 ? 0 : o.strides[dim]!;
  // o addressed over the index's shape: its own strides off the dim, the index value along it.
  const oStrides = Array.from({ length: nd }, (_, d) => (d === dim || xnd === 0 ? 0 : o.strides[d]!));
  const sStrides = Array.from({ length: nd }, (_, d) => src.strides[d] ?? 0);
  const value =
    o.dtype === 'bool' && add
      ? 'select(0u, 1u, o2[q] != 0u || o1[b1 + k * s1] != 0u)'
      : add
        ? 'o2[q] + o1[b1 + k * s1]'
        : 'o1[b1 + k * s1]';
  runLines(
    ctx,
    `scatter${add ? 'add' : ''}`,
    index.shape,
    dim,
    [
      { view: index, dimStride: nd === 0 ? 0 : index.strides[dim]! },
      { view: { ...src, shape: index.shape, strides: sStrides }, dimStride: nd === 0 ? 0 : sStrides[dim]! },
      { view: { ...o, shape: index.shape, strides: oStrides }, dimStride: 0, write: true },
    ],
    [osd, size, dim, errorCode(add ? 'scatterAdd' : 'scatter')],
    (p) => `for (var k = 0; k < len; k++) {
    let t = o0[b0 + k * s0];
    if (!checkIndex(t, ${p[1]}, ${p[2]}, ${p[3]})) { continue; }
    let q = b2 + t * ${p[0]};
    o2[q] = ${value};
  }`,
    { errors: true },
  );
}

/**
 * The line kernels of the backend: cumsum, cumprod, max, min, argmax, argmin, sort, and scatter
 * (copy of x, then the scatter step). @internal
 */
export function lineKernels(ctx: GpuContext, copy: Kernel): Array<[string, Kernel]> {
  const scatter: Kernel = (inputs, outputs, attrs) => {
    const [x, index, src] = inputs as [TensorView, TensorView, TensorView];
    const o = outputs[0]!;
    copy([x], [o], {});
    if (numelOf(index.shape) === 0) return;
    scatterInto(ctx, o, index, src, dimOf(attrs, x.shape.length), attrs.reduce === 'add');
  };
  return [
    ['cumsum', scanKernel(ctx, false)],
    ['cumprod', scanKernel(ctx, true)],
    ['max', extremumKernel(ctx, true, true)],
    ['min', extremumKernel(ctx, false, true)],
    ['argmax', extremumKernel(ctx, true, false)],
    ['argmin', extremumKernel(ctx, false, false)],
    ['sort', sortKernel(ctx)],
    ['scatter', scatter],
  ];
}
