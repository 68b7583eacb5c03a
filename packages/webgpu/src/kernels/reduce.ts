/**
 * The reductions `sum`, `prod`, `amax`, `amin`, `all` and `any` (one generator, differing in the
 * accumulator type, identity and combining step). The input's dims are split into kept dims (one output element each) and reduced
 * dims, each group coalesced on its own (reduced dims sorted so the innermost has the smallest stride).
 * Three strategies, chosen from the layout:
 *
 * - serial: short reductions (at most {@link SERIAL_MAX} elements per output), one thread per output
 *   element with nested loops over the reduced dims;
 * - column: the kept dims are innermost in memory (e.g. `sum(0)` of a row-major matrix), so one thread
 *   per output element keeps neighbouring threads on neighbouring addresses (coalesced reads). The
 *   outermost reduced dim is split into chunks when there are too few outputs to fill the GPU;
 * - tree: the reduced dims are innermost. One workgroup of {@link TREE_WG} threads per (output element,
 *   chunk of {@link CHUNK} elements): each thread folds a strided share, then the workgroup combines
 *   its partial sums with a tree reduction in workgroup memory. When the device has the `subgroups`
 *   feature (`ctx.subgroups`), subgroup operations replace the tree: each subgroup combines its lanes'
 *   partials, one lane per subgroup stores the result, and after one barrier every subgroup combines
 *   those (see `subgroupCombine`).
 *
 * When a strategy splits an output over several chunks, pass 1 writes partial sums to a temporary buffer
 * and a second pass (planned the same way) reduces them; both passes share one command encoder.
 * Accumulation: see `accType`.
 */
import type { DType, Kernel, TensorView } from '@gradfolio/tensor';
import { type GPUStorage, type GpuContext, WG } from '../context.js';
import { CAST_HELPERS, castExpr, coalesce, numelOf, slot, uniformDecl, wgslType } from '../layout.js';
import { MATH } from './pointwise.js';

/** Reductions of at most this many elements per output run one thread per output. */
export const SERIAL_MAX = 64;
/** Threads of a tree-reduction workgroup (64: six barrier levels, one wavefront / two warps). */
export const TREE_WG = 64;
/** Elements one tree workgroup folds (64 per thread). */
export const CHUNK = TREE_WG * 64;
/** The column strategy splits reductions until about this many threads run. */
const COLUMN_THREADS = 16384;
/** ...but gives each thread at least this many elements. */
const COLUMN_MIN_WORK = 64;

/** A reduction as the shaders see it: input strides of kept and reduced dims. @internal */
export interface ReducePlan {
  /** Kept dims (row-major order of the output) with their input strides. */
  readonly keptShape: number[];
  readonly keptStrides: number[];
  /** Reduced dims, outermost first, with their input strides. */
  readonly redShape: number[];
  readonly redStrides: number[];
}

/** Splits and coalesces the dims of `x` for a reduction over `dims`. @internal */
export function planReduce(x: TensorView, dims: readonly number[]): ReducePlan {
  const kept: Array<[number, number]> = [];
  const red: Array<[number, number]> = [];
  x.shape.forEach((s, d) => {
    (dims.includes(d) ? red : kept).push([s, x.strides[d]!]);
  });
  const k = coalesce(
    kept.map((e) => e[0]),
    [kept.map((e) => e[1])],
  );
  // The order of reduced dims does not matter: sort by |stride| descending so the innermost loop walks
  // the smallest stride, then coalesce.
  red.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const r = coalesce(
    red.map((e) => e[0]),
    [red.map((e) => e[1])],
  );
  return { keptShape: k.shape, keptStrides: k.strides[0]!, redShape: r.shape, redStrides: r.strides[0]! };
}

type Strategy = 'serial' | 'column' | 'tree';

/** The strategy for a plan and how many chunks each output is split into. @internal */
export function chooseStrategy(p: ReducePlan): { strategy: Strategy; chunks: number } {
  const count = numelOf(p.redShape);
  const outputs = numelOf(p.keptShape);
  if (count <= SERIAL_MAX) return { strategy: 'serial', chunks: 1 };
  const kr = p.keptShape.length;
  const innerKept = kr > 0 ? Math.abs(p.keptStrides[kr - 1]!) : Number.POSITIVE_INFINITY;
  const innerRed = Math.abs(p.redStrides[p.redStrides.length - 1]!);
  if (outputs >= 32 && innerKept < innerRed) {
    const outer = p.redShape[0]!;
    const want = Math.ceil(COLUMN_THREADS / outputs);
    const chunks = Math.max(1, Math.min(want, outer, Math.floor(count / COLUMN_MIN_WORK)));
    return { strategy: 'column', chunks };
  }
  return { strategy: 'tree', chunks: Math.max(1, Math.ceil(count / CHUNK)) };
}

/** The reductions of this module, by op-table name. */
export type ReduceOp = 'sum' | 'prod' | 'amax' | 'amin' | 'all' | 'any';

/**
 * The accumulator dtype: f32 for float32 sums and products, i32 (wrapping, like the CPU's int32
 * result) for int32 and bool ones; max/min keep the input's type; all/any fold 0/1 words.
 */
const accType = (op: ReduceOp, dtype: DType): DType => {
  if (op === 'all' || op === 'any') return 'bool';
  if (op === 'amax' || op === 'amin') return dtype;
  return dtype === 'float32' ? 'float32' : 'int32';
};

/** The WGSL identity element of `op` in the accumulator type `acc`. */
function identity(op: ReduceOp, acc: DType): string {
  const t = wgslType(acc);
  switch (op) {
    case 'sum':
      return `${t}(0)`;
    case 'prod':
      return `${t}(1)`;
    case 'all':
      return '1u';
    case 'any':
      return '0u';
    case 'amax':
      return acc === 'float32' ? '-inff()' : acc === 'int32' ? '(-2147483647 - 1)' : '0u';
    case 'amin':
      return acc === 'float32' ? 'inff()' : acc === 'int32' ? '2147483647' : '1u';
  }
}

/** WGSL combining two accumulator values (max/min propagate NaN, as the CPU's folds do). */
function combine(op: ReduceOp, acc: DType, a: string, b: string): string {
  switch (op) {
    case 'sum':
      return `${a} + ${b}`;
    case 'prod':
      return `${a} * ${b}`;
    case 'all':
      return `${a} & ${b}`;
    case 'any':
      return `${a} | ${b}`;
    case 'amax':
      return acc === 'float32' ? `maxf(${a}, ${b})` : `max(${a}, ${b})`;
    case 'amin':
      return acc === 'float32' ? `minf(${a}, ${b})` : `min(${a}, ${b})`;
  }
}

/**
 * WGSL combining `v` over the active lanes of the calling subgroup (call in uniform control flow).
 * Integer add/mul wrap like the serial folds, so int32 results stay bit-exact. SPIR-V leaves a float
 * min/max with a NaN operand undefined, so float amax/amin set NaN explicitly when any lane holds one.
 */
function subgroupCombine(op: ReduceOp, acc: DType, v: string): string {
  switch (op) {
    case 'sum':
      return `subgroupAdd(${v})`;
    case 'prod':
      return `subgroupMul(${v})`;
    case 'all':
      return `subgroupAnd(${v})`;
    case 'any':
      return `subgroupOr(${v})`;
    case 'amax':
    case 'amin': {
      const f = op === 'amax' ? 'subgroupMax' : 'subgroupMin';
      // select() evaluates both operands, so both subgroup calls stay in uniform control flow.
      return acc === 'float32' ? `select(${f}(${v}), nanf(), subgroupAny(isnanf(${v})))` : `${f}(${v})`;
    }
  }
}

/**
 * Uniform layout: [inOffset, outOffset, outputs, chunks, chunkLen, redCount,
 *   keptShape[kr], keptStrides[kr], redShape[rr], redStrides[rr]].
 * chunkLen counts flat reduced elements (tree) or indices of the outermost reduced dim (column).
 */
const HEAD = 6;

function shader(
  op: ReduceOp,
  inType: DType,
  outType: DType,
  kr: number,
  rr: number,
  strategy: Strategy,
  subgroups: boolean,
): string {
  const accD = accType(op, inType);
  const acc = wgslType(accD);
  const total = HEAD + 2 * kr + 2 * rr;
  const ks = (d: number) => slot(HEAD + d);
  const kst = (d: number) => slot(HEAD + kr + d);
  const rs = (d: number) => slot(HEAD + 2 * kr + d);
  const rst = (d: number) => slot(HEAD + 2 * kr + rr + d);
  // all/any test for nonzero (NaN included) through the bool cast.
  const load = (addr: string) => castExpr(`x[${addr}]`, inType, accD);
  const out = (v: string) => castExpr(v, accD, outType);
  // Base input address of output element `o` (decoded over the kept dims).
  const base: string[] = ['var rem = o;', `var base = ${slot(0)};`];
  for (let d = kr - 1; d >= 0; d--) {
    if (d === 0) base.push(`base += i32(rem) * ${kst(0)};`);
    else base.push(`base += i32(rem % u32(${ks(d)})) * ${kst(d)}; rem = rem / u32(${ks(d)});`);
  }
  const head = `${uniformDecl(total)}
@group(0) @binding(1) var<storage, read> x: array<${wgslType(inType)}>;
@group(0) @binding(2) var<storage, read_write> y: array<${wgslType(outType)}>;
${CAST_HELPERS}
${MATH}`;
  if (strategy !== 'tree') {
    // One thread per (output, chunk): nested loops over the reduced dims, the outermost one limited to
    // the thread's chunk. Threads are numbered output-fastest, so neighbours read neighbouring outputs;
    // partial sums are written chunk-major ([chunks, outputs]).
    let loops = '';
    let close = '';
    const terms: string[] = ['base'];
    for (let d = 0; d < rr; d++) {
      if (d === 0) {
        loops += `let lo = i32(c) * ${slot(4)};
  let hi = min(${rs(0)}, lo + ${slot(4)});
  for (var j0 = lo; j0 < hi; j0++) {\n`;
      } else {
        loops += `for (var j${d} = 0; j${d} < ${rs(d)}; j${d}++) {\n`;
      }
      close += '}\n';
      terms.push(`j${d} * ${rst(d)}`);
    }
    return `${head}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * ${WG}u;
  let outputs = u32(${slot(2)});
  if (t >= outputs * u32(${slot(3)})) { return; }
  let o = t % outputs;
  let c = t / outputs;
  ${base.join('\n  ')}
  var s: ${acc} = ${identity(op, accD)};
  ${loops}s = ${combine(op, accD, 's', load(terms.join(' + ')))};
  ${close}
  y[u32(${slot(1)}) + c * outputs + o] = ${out('s')};
}`;
  }
  // Tree: workgroup (o, c) folds flat reduced elements [c * chunkLen, min(count, (c+1) * chunkLen)),
  // writing partial sums output-major ([outputs, chunks]).
  const decode: string[] = ['var r2 = r;', 'var a = base;'];
  for (let d = rr - 1; d >= 0; d--) {
    if (d === 0) decode.push(`a += i32(r2) * ${rst(0)};`);
    else decode.push(`a += i32(r2 % u32(${rs(d)})) * ${rst(d)}; r2 = r2 / u32(${rs(d)});`);
  }
  const fold = `let w = wid.x + wid.y * nwg.x;
  let chunks = u32(${slot(3)});
  // Uniform across the workgroup (workgroup id and uniforms only): barriers and subgroup operations
  // below stay in uniform control flow.
  if (w >= u32(${slot(2)}) * chunks) { return; }
  let o = w / chunks;
  let c = w % chunks;
  ${base.join('\n  ')}
  let start = c * u32(${slot(4)});
  let end = min(u32(${slot(5)}), start + u32(${slot(4)}));
  var s: ${acc} = ${identity(op, accD)};
  for (var r = start + lid; r < end; r += ${TREE_WG}u) {
    ${decode.join('\n    ')}
    s = ${combine(op, accD, 's', load('a'))};
  }`;
  const sig = `@compute @workgroup_size(${TREE_WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {`;
  const id = identity(op, accD);
  // Both variants: the bindings, the partials array, and each thread's strided fold into `s`.
  const start = `${head}
var<workgroup> part: array<${acc}, ${TREE_WG}>;
${sig}
  ${fold}`;
  if (subgroups) {
    // Subgroups may hold 4..128 lanes, be only partly filled (a subgroup larger than the workgroup) and
    // need not be contiguous in lid, so lanes are ranked among the active ones (subgroupExclusiveAdd)
    // rather than through subgroup_size / subgroup_invocation_id, and each subgroup's leader stores its
    // result at its own lid (slots of other lanes hold the identity). After the barrier every subgroup
    // folds all TREE_WG slots (TREE_WG / lanes each) and combines them: the same result in each, of
    // which lane lid 0 stores one. No workgroup-wide tree, one barrier instead of log2(TREE_WG) + 1.
    return `enable subgroups;
${start}
  let lane = subgroupExclusiveAdd(1u);
  let lanes = subgroupAdd(1u);
  let mine = ${subgroupCombine(op, accD, 's')};
  part[lid] = select(${id}, mine, lane == 0u);
  workgroupBarrier();
  var t: ${acc} = ${id};
  for (var i = lane; i < ${TREE_WG}u; i += lanes) { t = ${combine(op, accD, 't', 'part[i]')}; }
  let total = ${subgroupCombine(op, accD, 't')};
  if (lid == 0u) { y[u32(${slot(1)}) + w] = ${out('total')}; }
}`;
  }
  return `${start}
  part[lid] = s;
  workgroupBarrier();
  for (var stride = ${TREE_WG / 2}u; stride > 0u; stride = stride >> 1u) {
    if (lid < stride) { part[lid] = ${combine(op, accD, 'part[lid]', 'part[lid + stride]')}; }
    workgroupBarrier();
  }
  if (lid == 0u) { y[u32(${slot(1)}) + w] = ${out('part[0]')}; }
}`;
}

interface Operand {
  readonly buffer: GPUBuffer;
  readonly dtype: DType;
  readonly offset: number;
}

/** Encodes the reduction of `x` (laid out as `p`) into contiguous `y`, in one or two passes. */
function encodeReduce(
  op: ReduceOp,
  ctx: GpuContext,
  enc: GPUCommandEncoder,
  x: Operand,
  p: ReducePlan,
  y: Operand,
  temps: Array<{ buffer: GPUBuffer; bytes: number }>,
): void {
  const { strategy, chunks } = chooseStrategy(p);
  const outputs = numelOf(p.keptShape);
  const count = numelOf(p.redShape);
  let target = y;
  if (chunks > 1) {
    const tmp = ctx.acquire(outputs * chunks * 4, false);
    temps.push(tmp);
    target = { buffer: tmp.buffer, dtype: accType(op, x.dtype), offset: 0 };
  }
  const kr = p.keptShape.length;
  const rr = p.redShape.length;
  // Only the tree strategy has a subgroup variant; its key says which one was built.
  const sg = strategy === 'tree' && ctx.subgroups;
  const key = `${op}|${x.dtype}>${target.dtype}|k${kr}r${rr}|${strategy}${sg ? '|sg' : ''}`;
  const pipeline = ctx.pipeline(key, () => shader(op, x.dtype, target.dtype, kr, rr, strategy, sg));
  const chunkLen = strategy === 'tree' ? Math.ceil(count / chunks) : Math.ceil((p.redShape[0] ?? 1) / chunks);
  const u = new Int32Array(HEAD + 2 * kr + 2 * rr);
  u.set([x.offset, target.offset, outputs, chunks, chunkLen, count]);
  u.set(p.keptShape, HEAD);
  u.set(p.keptStrides, HEAD + kr);
  u.set(p.redShape, HEAD + 2 * kr);
  u.set(p.redStrides, HEAD + 2 * kr + rr);
  const groups = strategy === 'tree' ? outputs * chunks : Math.ceil((outputs * chunks) / WG);
  ctx.dispatch(
    enc,
    pipeline,
    u,
    [{ buffer: x.buffer }, { buffer: target.buffer, write: true }],
    groups,
    temps,
  );
  if (chunks === 1) return;
  // Pass 2 reduces the partial sums: [outputs, chunks] (tree) or [chunks, outputs] (column).
  const many = outputs > 1;
  const p2: ReducePlan =
    strategy === 'tree'
      ? {
          keptShape: many ? [outputs] : [],
          keptStrides: many ? [chunks] : [],
          redShape: [chunks],
          redStrides: [1],
        }
      : {
          keptShape: many ? [outputs] : [],
          keptStrides: many ? [1] : [],
          redShape: [chunks],
          redStrides: [outputs],
        };
  encodeReduce(op, ctx, enc, target, p2, y, temps);
}

/**
 * A reduction kernel: `sum`, `prod`, `amax`, `amin`, `all` or `any` (contract: see the op table's
 * REDUCE_KERNEL). @internal
 */
export function reduceKernel(ctx: GpuContext, op: ReduceOp): Kernel {
  return (inputs, outputs, attrs) => {
    const x = inputs[0]!;
    const o = outputs[0]!;
    const dims = (attrs.dims as readonly number[] | undefined) ?? x.shape.map((_, i) => i);
    const enc = ctx.encoder();
    const temps: Array<{ buffer: GPUBuffer; bytes: number }> = [];
    encodeReduce(
      op,
      ctx,
      enc,
      { buffer: (x.handle as GPUStorage).buffer, dtype: x.dtype, offset: x.offset },
      planReduce(x, dims),
      { buffer: (o.handle as GPUStorage).buffer, dtype: o.dtype, offset: o.offset },
      temps,
    );
    ctx.submit(enc, temps);
  };
}
