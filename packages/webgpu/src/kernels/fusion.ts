/**
 * Fusion of consecutive pointwise ops: with `ctx.fusion` on, `runElementwise` does not dispatch an
 * eligible op (no error record, no computed loads, contiguous output, not in place) but appends it as a
 * node to the context's pending group. The group is recorded later as ONE dispatch that, per output
 * element, loads the external inputs (any strides, broadcasts included), evaluates the nodes in order
 * as WGSL `let`s (the same expressions as the one-op kernels: bit-identical on SwiftShader; a driver may
 * contract a multiply and an add into an FMA within the one shader, a last-bit difference) and stores
 * the outputs that are still alive. A group of one node records the plain one-op kernel.
 *
 * Hazard rules (why deferring is safe; the context enforces the triggers, see context.ts):
 * - A node joins only when its output shape is the group's shape, its output buffer is neither read
 *   from memory by the group nor already a live group output, and each input in a live group output's
 *   buffer is exactly that node's output view (then it is read from the node's register); the group
 *   also stays within {@link MAX_NODES} nodes, {@link MAX_VIEWS} loaded views and the storage-binding
 *   limit. Otherwise the group is recorded first and the node starts a new one. So the group's read
 *   buffers and its stored buffers are disjoint, and nothing it reads is written inside it.
 * - The group is recorded before any other kernel (`encoder()`), read or flush, and before a buffer it
 *   binds is destroyed (pool overflow, `trim`). A freed buffer the group reads is held out of the pool
 *   until the group is recorded, so `acquire` never hands out, and the host never writes, a buffer the
 *   group binds (and freeing a chain's scalar operand and allocating the next does not end the chain).
 *   Pending clears are recorded before it: they are of its own outputs (which must be zeroed before it
 *   writes them) or of buffers it does not bind.
 * - Writes the group does not bind (scalar operands, uploads) are recorded before it, which is the
 *   program order relative to the group's later reads of them.
 * - Freeing a group output marks it dead: it is neither bound nor stored, and the buffer may be reused
 *   at once (the group never touches it); its value still feeds later nodes through the register.
 *   A group whose outputs are all dead records nothing.
 */
import type { DType, KernelAttrs, TensorView } from '@gradfolio/tensor';
import { type Binding, type DeferredWork, type GPUStorage, type GpuContext, WG } from '../context.js';
import { CAST_HELPERS, coalesce, numelOf, slot, uniformDecl, wgslType } from '../layout.js';
import { decodeIndex, operandAddress, stridedLayout, stridedUniforms } from './elementwise.js';
import { type EwOp, MATH } from './pointwise.js';

/** Nodes of one group at most (keeps shaders and their compile time small). @internal */
export const MAX_NODES = 16;
/** Distinct loaded input views of one group at most (each costs 1 + rank uniform slots). @internal */
export const MAX_VIEWS = 12;
/** Storage bindings of one fused dispatch at most (further capped by the device limit). */
const MAX_BINDINGS = 8;

interface FusedNode {
  readonly op: string;
  readonly def: EwOp;
  readonly params: readonly number[];
  readonly inTypes: readonly DType[];
  readonly outType: DType;
  /** Operand refs: `x<i>` for loaded view i, `n<j>` for node j's value. */
  readonly refs: readonly string[];
  readonly out: TensorView;
  readonly buffer: GPUBuffer;
  /** False once the output's storage was freed: not stored. */
  alive: boolean;
  /** Records the node alone as the plain one-op kernel. */
  readonly plain: (enc: GPUCommandEncoder) => void;
}

const bufferOf = (v: TensorView): GPUBuffer => (v.handle as GPUStorage).buffer;

/** Same elements at the same positions over `shape` (strides of size-1 dims do not matter). */
function sameView(a: TensorView, b: TensorView, shape: readonly number[]): boolean {
  if (a.offset !== b.offset || a.dtype !== b.dtype) return false;
  if (a.strides.length !== shape.length || b.strides.length !== shape.length) return false;
  return shape.every((s, d) => s === 1 || a.strides[d] === b.strides[d]);
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((s, d) => s === b[d]);

/** The pending fused group of one context. @internal */
class FusedGroup implements DeferredWork {
  #nodes: FusedNode[] = [];
  #shape: readonly number[] = [];
  /** Distinct loaded input views, in first-use order. */
  #views: TensorView[] = [];
  /** Buffers read from memory -> binding index among the reads. */
  #reads = new Map<GPUBuffer, number>();
  /** Live output buffers -> node index. */
  #outputs = new Map<GPUBuffer, number>();
  readonly #maxBindings: number;

  constructor(readonly ctx: GpuContext) {
    this.#maxBindings = Math.min(MAX_BINDINGS, ctx.device.limits.maxStorageBuffersPerShaderStage);
  }

  get empty(): boolean {
    return this.#nodes.length === 0;
  }

  binds(buffer: GPUBuffer): boolean {
    return this.#reads.has(buffer) || this.#outputs.has(buffer);
  }

  released(buffer: GPUBuffer): void {
    const j = this.#outputs.get(buffer);
    if (j === undefined) return;
    this.#nodes[j]!.alive = false;
    this.#outputs.delete(buffer);
  }

  /** The operand refs of a node with these inputs and output, or undefined when it may not join. */
  refsFor(inputs: readonly TensorView[], output: TensorView): string[] | undefined {
    const empty = this.empty;
    if (!empty) {
      if (this.#nodes.length >= MAX_NODES || !sameShape(output.shape, this.#shape)) return undefined;
    }
    const out = bufferOf(output);
    if (this.#reads.has(out) || this.#outputs.has(out)) return undefined;
    const refs: string[] = [];
    const newViews: TensorView[] = [];
    const newReads = new Set<GPUBuffer>();
    for (const v of inputs) {
      const buf = bufferOf(v);
      const j = this.#outputs.get(buf);
      if (j !== undefined) {
        // A pending output is only read through its register, and only as exactly that view.
        if (!sameView(v, this.#nodes[j]!.out, output.shape)) return undefined;
        refs.push(`n${j}`);
        continue;
      }
      const same = (w: TensorView) => bufferOf(w) === buf && sameView(w, v, output.shape);
      let i = this.#views.findIndex(same);
      if (i < 0) {
        const j = newViews.findIndex(same);
        if (j >= 0) i = this.#views.length + j;
      }
      if (i < 0) {
        // One binding per buffer: its WGSL element type must fit every view of it.
        const clash = (w: TensorView) => bufferOf(w) === buf && w.dtype !== v.dtype;
        if (this.#views.some(clash) || newViews.some(clash)) return undefined;
        i = this.#views.length + newViews.length;
        newViews.push(v);
        if (!this.#reads.has(buf)) newReads.add(buf);
      }
      refs.push(`x${i}`);
    }
    if (!empty) {
      if (this.#views.length + newViews.length > MAX_VIEWS) return undefined;
      const bindings = this.#reads.size + newReads.size + this.#outputs.size + 1;
      if (bindings > this.#maxBindings) return undefined;
    }
    return refs;
  }

  /** Appends a node whose refs came from {@link refsFor} on the current state. */
  push(
    op: string,
    def: EwOp,
    inputs: readonly TensorView[],
    output: TensorView,
    attrs: KernelAttrs,
    refs: readonly string[],
    plain: (enc: GPUCommandEncoder) => void,
  ): void {
    if (this.empty) this.#shape = [...output.shape];
    for (const [k, r] of refs.entries()) {
      if (r[0] === 'x' && Number(r.slice(1)) === this.#views.length) {
        const v = inputs[k]!;
        this.#views.push(v);
        const buf = bufferOf(v);
        if (!this.#reads.has(buf)) this.#reads.set(buf, this.#reads.size);
      }
    }
    const buffer = bufferOf(output);
    this.#outputs.set(buffer, this.#nodes.length);
    this.#nodes.push({
      op,
      def,
      params: def.paramValues(attrs, output.dtype),
      inTypes: inputs.map((v) => v.dtype),
      outType: output.dtype,
      refs,
      out: output,
      buffer,
      alive: true,
      plain,
    });
  }

  record(enc: GPUCommandEncoder): void {
    const nodes = this.#nodes;
    const views = this.#views;
    const reads = this.#reads;
    const shape = this.#shape;
    // Empty first: nothing below may see (or re-record) this group.
    this.#nodes = [];
    this.#views = [];
    this.#reads = new Map();
    this.#outputs = new Map();
    const stored = nodes.flatMap((nd, j) => (nd.alive ? [j] : []));
    if (stored.length === 0) return;
    if (nodes.length === 1) {
      nodes[0]!.plain(enc);
      return;
    }
    recordFused(this.ctx, enc, nodes, views, reads, stored, shape);
  }
}

/**
 * Uniform layout (i32 slots): [numel, shape[0..r), per operand (loaded views..., stored outputs...):
 * offset, strides[0..r), then every node's parameters in node order].
 */
function recordFused(
  ctx: GpuContext,
  enc: GPUCommandEncoder,
  nodes: readonly FusedNode[],
  views: readonly TensorView[],
  reads: ReadonlyMap<GPUBuffer, number>,
  stored: readonly number[],
  shape: readonly number[],
): void {
  const operands = [...views, ...stored.map((j) => nodes[j]!.out)];
  const c = coalesce(
    shape,
    operands.map((v) => v.strides),
  );
  const L = stridedLayout(c.shape.length, operands.length);
  const paramAt: number[] = [];
  let nParams = 0;
  for (const nd of nodes) {
    paramAt.push(L.params + nParams);
    nParams += nd.def.params;
  }
  const readTypes: DType[] = [];
  for (const v of views) readTypes[reads.get(bufferOf(v))!] ??= v.dtype;
  const viewBinding = views.map((v) => reads.get(bufferOf(v))!);
  // The key fixes the whole shader: loaded views and their bindings, each node's op, operand refs and
  // types, which nodes are stored, and the rank.
  const key = `fused|${views.map((v, i) => `b${viewBinding[i]}:${v.dtype}`).join(',')}|${nodes
    .map((nd) => `${nd.op}(${nd.refs.map((r, k) => `${r}:${nd.inTypes[k]}`).join(',')})>${nd.outType}`)
    .join(';')}|s${stored.join(',')}|r${L.rank}`;
  const pipeline = ctx.pipeline(key, () => {
    const lines: string[] = [uniformDecl(L.params + nParams), CAST_HELPERS];
    if (nodes.some((nd) => nd.def.math === true)) lines.push(MATH);
    readTypes.forEach((t, b) => {
      lines.push(`@group(0) @binding(${b + 1}) var<storage, read> in${b}: array<${wgslType(t)}>;`);
    });
    stored.forEach((j, k) => {
      const t = wgslType(nodes[j]!.outType);
      lines.push(
        `@group(0) @binding(${readTypes.length + k + 1}) var<storage, read_write> out${k}: array<${t}>;`,
      );
    });
    const body = decodeIndex(L);
    const addr = (o: number): string => operandAddress(L, o);
    views.forEach((_, i) => {
      body.push(`let x${i} = in${viewBinding[i]}[${addr(i)}];`);
    });
    nodes.forEach((nd, j) => {
      const p = Array.from({ length: nd.def.params }, (_, q) => slot(paramAt[j]! + q));
      body.push(`let n${j} = ${nd.def.expr(nd.refs, nd.inTypes, nd.outType, p)};`);
    });
    stored.forEach((j, k) => {
      body.push(`out${k}[${addr(views.length + k)}] = n${j};`);
    });
    return `${lines.join('\n')}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  ${body.join('\n  ')}
}`;
  });
  const n = numelOf(shape);
  const u = stridedUniforms(L, n, c, operands, nParams);
  nodes.forEach((nd, j) => {
    nd.params.forEach((p, q) => {
      u[paramAt[j]! + q] = p;
    });
  });
  const bindings: Binding[] = [
    ...[...reads.keys()].map((buffer) => ({ buffer })),
    ...stored.map((j) => ({ buffer: nodes[j]!.buffer, write: true })),
  ];
  // Reads and stores are disjoint buffers (the join rules), so `dispatch` makes no snapshots.
  const temps: Array<{ buffer: GPUBuffer; bytes: number }> = [];
  ctx.dispatch(enc, pipeline, u, bindings, Math.ceil(n / WG), temps);
  for (const t of temps) ctx.release(t.buffer, t.bytes);
}

/**
 * Appends pointwise `op` (already checked eligible by `runElementwise`) to the context's pending fused
 * group, recording the group first when the op may not join it, and makes sure the group is flushed at
 * the end of the task. `plain` records the op alone (used when the group ends up with one node).
 *
 * @example
 * ```ts
 * // inside runElementwise, with ctx.fusion on:
 * fuseElementwise(ctx, 'exp', OPS.exp, [x], out, {}, (enc) => recordElementwise(ctx, enc, 'exp', [x], out, {}));
 * ```
 * @internal
 */
export function fuseElementwise(
  ctx: GpuContext,
  op: string,
  def: EwOp,
  inputs: readonly TensorView[],
  output: TensorView,
  attrs: KernelAttrs,
  plain: (enc: GPUCommandEncoder) => void,
): void {
  // The context's only deferred work is this group (DeferredWork keeps context.ts free of fusion).
  ctx.deferred ??= new FusedGroup(ctx);
  const group = ctx.deferred as FusedGroup;
  let refs = group.refsFor(inputs, output);
  if (refs === undefined) {
    ctx.encoder(); // records the group
    refs = group.refsFor(inputs, output);
    if (refs === undefined) throw new Error('fuseElementwise: a node does not fit an empty group');
  }
  group.push(op, def, inputs, output, attrs, refs, plain);
  ctx.scheduleFlush();
}
