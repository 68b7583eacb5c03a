/**
 * Elementwise kernels (`fill`, `copy`, `add`, `mul`, the pointwise ops of pointwise.ts, and the
 * gather step of `gather`/`indexSelect`) from one WGSL generator: one thread per output
 * element, the element's multi-index decoded from the (coalesced) shape, and every operand addressed as
 * `offset + sum(index[d] * stride[d])`, so any strided view works: broadcast (stride 0), flipped
 * (negative strides), transposed, sliced. Strided outputs work too (`copy` writes into views).
 */
import type { DType, Kernel, KernelAttrs, TensorView } from '@gradfolio/tensor';
import { type Binding, type GPUStorage, type GpuContext, WG } from '../context.js';
import { CAST_HELPERS, castExpr, coalesce, numelOf, slot, uniformDecl, wgslType } from '../layout.js';
import { errorDecl } from './errors.js';
import { fuseElementwise } from './fusion.js';
import { type EwOp, f32AsI32, MATH, POINTWISE } from './pointwise.js';

export { f32AsI32 };

const OPS: Record<string, EwOp> = {
  fill: {
    params: 1,
    expr: (_v, _t, out, p) =>
      out === 'float32' ? `bitcast<f32>(${p[0]})` : out === 'int32' ? `${p[0]}` : `u32(${p[0]})`,
    paramValues: (attrs, out) => {
      const v = Number(attrs.value ?? 0);
      if (out === 'float32') return [f32AsI32(v)];
      if (out === 'int32') return [v | 0];
      return [new Uint8Array([v])[0] !== 0 ? 1 : 0];
    },
  },
  copy: {
    params: 0,
    expr: (v, t, out) => castExpr(v[0]!, t[0]!, out),
    paramValues: () => [],
  },
  add: {
    params: 1,
    expr: ([a, b], _t, out, p) => {
      if (out === 'float32') return `${a} + bitcast<f32>(${p[0]}) * ${b}`;
      if (out === 'int32') return `${a} + ${p[0]} * ${b}`;
      // bool arithmetic saturates (True + True is True), as in PyTorch and the CPU backend.
      return `select(0u, 1u, f32(${a}) + bitcast<f32>(${p[0]}) * f32(${b}) != 0.0)`;
    },
    paramValues: (attrs, out) => {
      const alpha = Number(attrs.alpha ?? 1);
      return [out === 'int32' ? alpha | 0 : f32AsI32(alpha)];
    },
  },
  mul: {
    params: 0,
    expr: ([a, b], _t, out) => (out === 'bool' ? `select(0u, 1u, ${a} != 0u && ${b} != 0u)` : `${a} * ${b}`),
    paramValues: () => [],
  },
  ...POINTWISE,
  // Indexing as an elementwise op over the output: inputs [index, x], with x's view carrying stride 0
  // on the indexed dim. Parameters: the dim's real stride, its size, the dim and the op's error code.
  // An out-of-range index reads 0 and is recorded for the next read to raise (errors.ts).
  gather: {
    params: 4,
    loads: 1,
    errors: true,
    expr: ([t], _t, out, p) =>
      `select(${out === 'float32' ? '0.0' : out === 'int32' ? '0' : '0u'}, in1[a1 + ${t} * ${p[0]}], checkIndex(${t}, ${p[1]}, ${p[2]}, ${p[3]}))`,
    paramValues: (attrs) => [Number(attrs.stride), Number(attrs.size), Number(attrs.dim), Number(attrs.code)],
  },
};

/**
 * The strided elementwise layout shared with fused chains (fusion.ts). Uniform slots (i32): [numel,
 * shape[0..r), then per operand: offset, strides[0..r), then the parameters]. @internal
 */
export interface StridedLayout {
  readonly rank: number;
  /** First slot of operand `o` (its offset; its strides follow). */
  operand(o: number): number;
  /** First parameter slot. */
  readonly params: number;
}

/** The layout of `operands` strided operands at `rank`. @internal */
export function stridedLayout(rank: number, operands: number): StridedLayout {
  const per = 1 + rank;
  return { rank, operand: (o) => 1 + rank + o * per, params: 1 + rank + operands * per };
}

/**
 * WGSL decoding this thread's element: `idx` (returning past numel) and, innermost dim first, the
 * multi-index `i0..i{r-1}` over the layout's shape. @internal
 */
export function decodeIndex(L: StridedLayout): string[] {
  const body = [`let idx = gid.x + gid.y * nwg.x * ${WG}u;`, `if (idx >= u32(${slot(0)})) { return; }`];
  if (L.rank > 0) body.push('var rem = idx;');
  for (let d = L.rank - 1; d >= 0; d--) {
    const size = `u32(${slot(1 + d)})`;
    if (d === 0) body.push('let i0 = i32(rem);');
    else body.push(`let i${d} = i32(rem % ${size}); rem = rem / ${size};`);
  }
  return body;
}

/** WGSL element address of operand `o` at the decoded multi-index. @internal */
export function operandAddress(L: StridedLayout, o: number): string {
  const base = L.operand(o);
  const terms = [slot(base)];
  for (let d = 0; d < L.rank; d++) terms.push(`i${d} * ${slot(base + 1 + d)}`);
  return terms.join(' + ');
}

/**
 * The uniforms of a strided dispatch over `shape` coalesced as `c` (strides per operand, in `views`'
 * order), with `params` room left after the operands. @internal
 */
export function stridedUniforms(
  L: StridedLayout,
  n: number,
  c: { shape: readonly number[]; strides: readonly (readonly number[])[] },
  views: readonly TensorView[],
  params: number,
): Int32Array {
  const u = new Int32Array(L.params + params);
  u[0] = n;
  for (let d = 0; d < L.rank; d++) u[1 + d] = c.shape[d]!;
  views.forEach((v, o) => {
    const base = L.operand(o);
    u[base] = v.offset;
    for (let d = 0; d < L.rank; d++) u[base + 1 + d] = c.strides[o]![d]!;
  });
  return u;
}

function shader(op: string, inTypes: readonly DType[], out: DType, rank: number): string {
  const def = OPS[op]!;
  const k = inTypes.length;
  const L = stridedLayout(rank, k + 1);
  const total = L.params + def.params;
  const lines: string[] = [uniformDecl(total), CAST_HELPERS];
  if (def.math === true) lines.push(MATH);
  if (def.errors === true) lines.push(errorDecl(k + 2));
  inTypes.forEach((t, i) => {
    lines.push(`@group(0) @binding(${i + 1}) var<storage, read> in${i}: array<${wgslType(t)}>;`);
  });
  lines.push(`@group(0) @binding(${k + 1}) var<storage, read_write> outb: array<${wgslType(out)}>;`);
  const body = decodeIndex(L);
  const addr = (o: number): string => operandAddress(L, o);
  const vals: string[] = [];
  for (let i = 0; i < k; i++) {
    if (i < (def.loads ?? k)) {
      body.push(`let v${i} = in${i}[${addr(i)}];`);
      vals.push(`v${i}`);
    } else {
      body.push(`let a${i} = ${addr(i)};`);
    }
  }
  const params = Array.from({ length: def.params }, (_, j) => slot(L.params + j));
  body.push(`outb[${addr(k)}] = ${def.expr(vals, inTypes, out, params)};`);
  return `${lines.join('\n')}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  ${body.join('\n  ')}
}`;
}

/**
 * Runs elementwise `op` over `inputs` into the (possibly strided) `output` view: one dispatch, one
 * submit; or, with `ctx.fusion` on, joins the pending fused group (fusion.ts) when the op may: no
 * error record or computed loads, a contiguous output, and not in place (an input in the output's
 * buffer). @internal
 */
export function runElementwise(
  ctx: GpuContext,
  op: string,
  inputs: readonly TensorView[],
  output: TensorView,
  attrs: KernelAttrs,
): void {
  const n = numelOf(output.shape);
  if (n === 0) return;
  const def = OPS[op]!;
  const out = (output.handle as GPUStorage).buffer;
  if (
    ctx.fusion &&
    def.errors !== true &&
    def.loads === undefined &&
    isContiguous(output) &&
    inputs.every((v) => (v.handle as GPUStorage).buffer !== out)
  ) {
    fuseElementwise(ctx, op, def, inputs, output, attrs, (enc) =>
      recordElementwise(ctx, enc, op, inputs, output, attrs),
    );
    return;
  }
  const enc = ctx.encoder();
  const temps: Array<{ buffer: GPUBuffer; bytes: number }> = [];
  recordElementwise(ctx, enc, op, inputs, output, attrs, temps);
  ctx.submit(enc, temps);
}

/** Records the one-op dispatch of `op` into `enc` (snapshots of in-place reads go to `temps`). */
function recordElementwise(
  ctx: GpuContext,
  enc: GPUCommandEncoder,
  op: string,
  inputs: readonly TensorView[],
  output: TensorView,
  attrs: KernelAttrs,
  temps: Array<{ buffer: GPUBuffer; bytes: number }> = [],
): void {
  const n = numelOf(output.shape);
  const def = OPS[op]!;
  const views = [...inputs, output];
  const c = coalesce(
    output.shape,
    views.map((v) => v.strides),
  );
  const rank = c.shape.length;
  const inTypes = inputs.map((v) => v.dtype);
  const key = `${op}|${inTypes.join(',')}>${output.dtype}|r${rank}`;
  const pipeline = ctx.pipeline(key, () => shader(op, inTypes, output.dtype, rank));
  const L = stridedLayout(rank, views.length);
  const u = stridedUniforms(L, n, c, views, def.params);
  def.paramValues(attrs, output.dtype).forEach((p, j) => {
    u[L.params + j] = p;
  });
  const bindings: Binding[] = views.map((v, o) => ({
    buffer: (v.handle as GPUStorage).buffer,
    write: o === views.length - 1,
  }));
  if (def.errors === true) bindings.push({ buffer: ctx.errorBuffer, write: true });
  ctx.dispatch(enc, pipeline, u, bindings, Math.ceil(n / WG), temps);
}

/** True when `v` covers `n` consecutive elements from its offset in row-major order. @internal */
export function isContiguous(v: TensorView): boolean {
  const c = coalesce(v.shape, [v.strides]);
  return c.shape.length === 0 || (c.shape.length === 1 && c.strides[0]![0] === 1);
}

/** The elementwise kernels of the backend. @internal */
export function elementwiseKernels(ctx: GpuContext): Array<[string, Kernel]> {
  const copy: Kernel = (inputs, outputs) => {
    const src = inputs[0]!;
    const dst = outputs[0]!;
    const n = numelOf(dst.shape);
    if (n === 0) return;
    const s = src.handle as GPUStorage;
    const d = dst.handle as GPUStorage;
    // Same dtype, both row-major contiguous, different buffers: a plain buffer copy.
    if (src.dtype === dst.dtype && s.buffer !== d.buffer && isContiguous(src) && isContiguous(dst)) {
      const enc = ctx.encoder();
      enc.copyBufferToBuffer(s.buffer, src.offset * 4, d.buffer, dst.offset * 4, n * 4);
      ctx.submit(enc);
      return;
    }
    runElementwise(ctx, 'copy', [src], dst, {});
  };
  return [
    ['fill', (_i, outputs, attrs) => runElementwise(ctx, 'fill', [], outputs[0]!, attrs)],
    ['copy', copy],
    ...['add', 'mul', ...Object.keys(POINTWISE)].map((op): [string, Kernel] => [
      op,
      (inputs, outputs, attrs) => runElementwise(ctx, op, inputs, outputs[0]!, attrs),
    ]),
  ];
}
