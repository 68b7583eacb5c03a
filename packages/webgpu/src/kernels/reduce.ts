/**
 * The `sum` reduction. The input's dims are split into kept dims (one output element each) and reduced
 * dims (coalesced separately, innermost = smallest stride). Two strategies:
 *
 * - short reductions (at most {@link SERIAL_MAX} elements per output): one thread per output element,
 *   nested loops over the reduced dims;
 * - long reductions: one workgroup of 256 threads per (output element, chunk). Each thread folds a
 *   strided share of the chunk, then the workgroup combines the 256 partial sums with a tree reduction
 *   in workgroup memory. When an output needs more than one chunk, the partial sums land in a temporary
 *   [outputs, chunks] buffer that a second pass (the same kernel) reduces; both passes share one command
 *   encoder.
 *
 * Accumulation is f32 for float32 and i32 (wrapping, like the CPU's int32 result) for int32 and bool.
 */
import type { DType, Kernel, TensorView } from '@gradfolio/tensor';
import { type GpuContext, type GPUStorage, WG } from '../context.js';
import { CAST_HELPERS, castExpr, coalesce, numelOf, slot, uniformDecl, wgslType } from '../layout.js';

/** Reductions of at most this many elements per output run one thread per output. */
export const SERIAL_MAX = 64;
/** Elements one workgroup folds in the tree strategy (32 per thread). */
export const CHUNK = WG * 32;

interface Plan {
  /** Kept dims (row-major order of the output) with their input strides. */
  keptShape: number[];
  keptStrides: number[];
  /** Reduced dims, outermost first, with their input strides. */
  redShape: number[];
  redStrides: number[];
}

function planReduce(x: TensorView, dims: readonly number[]): Plan {
  const isRed = (d: number) => dims.includes(d);
  const kept: Array<[number, number]> = [];
  const red: Array<[number, number]> = [];
  x.shape.forEach((s, d) => {
    (isRed(d) ? red : kept).push([s, x.strides[d]!]);
  });
  const k = coalesce(
    kept.map((e) => e[0]),
    [kept.map((e) => e[1])],
  );
  // The order of reduced dims does not matter: sort by |stride| descending so the innermost loop walks
  // the smallest stride (neighbouring threads read neighbouring elements), then coalesce.
  red.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const r = coalesce(
    red.map((e) => e[0]),
    [red.map((e) => e[1])],
  );
  return { keptShape: k.shape, keptStrides: k.strides[0]!, redShape: r.shape, redStrides: r.strides[0]! };
}

const accType = (dtype: DType): DType => (dtype === 'float32' ? 'float32' : 'int32');

/**
 * Uniform layout: [inOffset, outOffset, outputs, chunks, chunkLen, redCount,
 *   keptShape[kr], keptStrides[kr], redShape[rr], redStrides[rr]].
 */
const HEAD = 6;

function shader(inType: DType, outType: DType, kr: number, rr: number, tree: boolean): string {
  const acc = wgslType(accType(inType));
  const total = HEAD + 2 * kr + 2 * rr;
  const ks = (d: number) => slot(HEAD + d);
  const kst = (d: number) => slot(HEAD + kr + d);
  const rs = (d: number) => slot(HEAD + 2 * kr + d);
  const rst = (d: number) => slot(HEAD + 2 * kr + rr + d);
  const load = (addr: string) => castExpr(`x[${addr}]`, inType, accType(inType));
  const out = (v: string) => castExpr(v, accType(inType), outType);
  // Base input address of output element `o` (decoded over the kept dims).
  const base: string[] = ['var rem = o;', `var base = ${slot(0)};`];
  for (let d = kr - 1; d >= 0; d--) {
    if (d === 0) base.push(`base += i32(rem) * ${kst(0)};`);
    else base.push(`base += i32(rem % u32(${ks(d)})) * ${kst(d)}; rem = rem / u32(${ks(d)});`);
  }
  const head = `${uniformDecl(total)}
@group(0) @binding(1) var<storage, read> x: array<${wgslType(inType)}>;
@group(0) @binding(2) var<storage, read_write> y: array<${wgslType(outType)}>;
${CAST_HELPERS}`;
  if (!tree) {
    // One thread per output: nested loops over the reduced dims.
    let loops = '';
    let close = '';
    const terms: string[] = ['base'];
    for (let d = 0; d < rr; d++) {
      loops += `for (var j${d} = 0; j${d} < ${rs(d)}; j${d}++) {\n`;
      close += '}\n';
      terms.push(`j${d} * ${rst(d)}`);
    }
    return `${head}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * ${WG}u;
  if (o >= u32(${slot(2)})) { return; }
  ${base.join('\n  ')}
  var s: ${acc} = ${acc}(0);
  ${loops}s += ${load(terms.join(' + '))};
  ${close}
  y[u32(${slot(1)}) + o] = ${out('s')};
}`;
  }
  // Tree strategy: workgroup (o, c) folds reduced elements [c * chunkLen, min(count, (c+1) * chunkLen)).
  const decode: string[] = ['var r2 = r;', 'var a = base;'];
  for (let d = rr - 1; d >= 0; d--) {
    if (d === 0) decode.push(`a += i32(r2) * ${rst(0)};`);
    else decode.push(`a += i32(r2 % u32(${rs(d)})) * ${rst(d)}; r2 = r2 / u32(${rs(d)});`);
  }
  return `${head}
var<workgroup> part: array<${acc}, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  let chunks = u32(${slot(3)});
  if (w >= u32(${slot(2)}) * chunks) { return; }
  let o = w / chunks;
  let c = w % chunks;
  ${base.join('\n  ')}
  let start = c * u32(${slot(4)});
  let end = min(u32(${slot(5)}), start + u32(${slot(4)}));
  var s: ${acc} = ${acc}(0);
  for (var r = start + lid; r < end; r += ${WG}u) {
    ${decode.join('\n    ')}
    s += ${load('a')};
  }
  part[lid] = s;
  workgroupBarrier();
  for (var stride = ${WG / 2}u; stride > 0u; stride = stride >> 1u) {
    if (lid < stride) { part[lid] = part[lid] + part[lid + stride]; }
    workgroupBarrier();
  }
  if (lid == 0u) { y[u32(${slot(1)}) + w] = ${out('part[0]')}; }
}`;
}

/**
 * Encodes one reduction pass of `x` (a view over `buffer`) into `y` at `yOffset`: chunks > 1 means `y`
 * gets `[outputs, chunks]` partial sums.
 */
function encodePass(
  ctx: GpuContext,
  enc: GPUCommandEncoder,
  x: { buffer: GPUBuffer; dtype: DType; offset: number },
  p: Plan,
  y: { buffer: GPUBuffer; dtype: DType; offset: number },
  chunks: number,
  temps: Array<{ buffer: GPUBuffer; bytes: number }>,
): void {
  const kr = p.keptShape.length;
  const rr = p.redShape.length;
  const outputs = numelOf(p.keptShape);
  const count = numelOf(p.redShape);
  const tree = count > SERIAL_MAX;
  const key = `sum|${x.dtype}>${y.dtype}|k${kr}r${rr}|${tree ? 'tree' : 'serial'}`;
  const pipeline = ctx.pipeline(key, () => shader(x.dtype, y.dtype, kr, rr, tree));
  const u = new Int32Array(HEAD + 2 * kr + 2 * rr);
  u.set([x.offset, y.offset, outputs, chunks, Math.ceil(count / chunks), count]);
  u.set(p.keptShape, HEAD);
  u.set(p.keptStrides, HEAD + kr);
  u.set(p.redShape, HEAD + 2 * kr);
  u.set(p.redStrides, HEAD + 2 * kr + rr);
  const groups = tree ? outputs * chunks : Math.ceil(outputs / WG);
  ctx.dispatch(
    enc,
    pipeline,
    u,
    [{ buffer: x.buffer }, { buffer: y.buffer, write: true }],
    groups,
    temps,
  );
}

/** The `sum` kernel (contract: see the op table's REDUCE_KERNEL). @internal */
export function sumKernel(ctx: GpuContext): Kernel {
  return (inputs, outputs, attrs) => {
    const x = inputs[0]!;
    const o = outputs[0]!;
    const dims = (attrs.dims as readonly number[] | undefined) ?? x.shape.map((_, i) => i);
    const p = planReduce(x, dims);
    const count = numelOf(p.redShape);
    const outputsN = numelOf(p.keptShape);
    const xb = { buffer: (x.handle as GPUStorage).buffer, dtype: x.dtype, offset: x.offset };
    const yb = { buffer: (o.handle as GPUStorage).buffer, dtype: o.dtype, offset: o.offset };
    const enc = ctx.encoder();
    const temps: Array<{ buffer: GPUBuffer; bytes: number }> = [];
    const chunks = count > SERIAL_MAX ? Math.max(1, Math.ceil(count / CHUNK)) : 1;
    if (chunks === 1) {
      encodePass(ctx, enc, xb, p, yb, 1, temps);
    } else {
      // Pass 1: [outputs, chunks] partial sums in the accumulation dtype; pass 2 reduces the chunks.
      const acc = accType(x.dtype);
      const tmp = ctx.acquire(outputsN * chunks * 4, false);
      temps.push(tmp);
      encodePass(ctx, enc, xb, p, { buffer: tmp.buffer, dtype: acc, offset: 0 }, chunks, temps);
      const p2: Plan = {
        keptShape: outputsN > 1 ? [outputsN] : [],
        keptStrides: outputsN > 1 ? [chunks] : [],
        redShape: [chunks],
        redStrides: [1],
      };
      encodePass(ctx, enc, { buffer: tmp.buffer, dtype: acc, offset: 0 }, p2, yb, 1, temps);
    }
    ctx.submit(enc, temps);
  };
}
