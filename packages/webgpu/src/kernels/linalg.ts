/**
 * `cholesky`, `solve` and `inverse` for float32: one 64-thread workgroup per matrix of the batch,
 * working in place in global memory, with a barrier between the steps of the factorisation (so the
 * matrices should be small to medium; each step is parallel over rows or columns). The barriers are
 * storage barriers too: the threads exchange matrix entries through the storage buffers.
 *
 * - cholesky: A is copied into the output (copy kernel), then factorised in place column by column
 *   (left-looking: L[i][j] = (A[i][j] - sum_k L[i][k] L[j][k]) / L[j][j], in parallel over i); the other
 *   triangle is zeroed (or, for `upper`, L is transposed into it).
 * - solve / inverse: A is copied into a contiguous temporary, B (or the identity) into the output; LU
 *   with partial pivoting as the CPU does (first largest |pivot|, rows swapped in A and X), elimination
 *   in parallel over rows, then back substitution in parallel over the columns of X.
 *
 * Dot products accumulate in f32 (the CPU in float64): results agree within the conformance suite's
 * linalg tolerance (rtol 1e-3, atol 1e-4) for well-conditioned input. A kernel cannot throw, so a
 * non-positive-definite (cholesky) or exactly singular (solve, inverse: a zero pivot) matrix is recorded
 * in the error buffer and the next read raises `LINALG_ERROR` naming the batch element, as the CPU's
 * message does. Singularity is judged in f32, where rounding can leave a tiny pivot that float64 would
 * have found to be zero.
 */
import type { Kernel, TensorView } from '@gradfolio/tensor';
import type { GPUStorage, GpuContext } from '../context.js';
import { contiguousStrides, numelOf, slot, uniformDecl } from '../layout.js';
import { runElementwise } from './elementwise.js';
import { errorCode, errorDecl } from './errors.js';

/** Threads per matrix. */
const LWG = 64;

function choleskyShader(): string {
  // u: [n, batches, upper, batched]; the matrices are contiguous n x n blocks of `m`.
  return `${uniformDecl(4)}
@group(0) @binding(1) var<storage, read_write> m: array<f32>;
${errorDecl(2)}
var<workgroup> failed: u32;
@compute @workgroup_size(${LWG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = i32(wid.x + wid.y * nwg.x);
  if (b >= ${slot(1)}) { return; }
  let n = ${slot(0)};
  let base = b * n * n;
  let t = i32(lid);
  if (lid == 0u) { failed = 0u; }
  storageBarrier();
  workgroupBarrier();
  for (var j = 0; j < n; j++) {
    if (lid == 0u) {
      var s = m[base + j * n + j];
      for (var k = 0; k < j; k++) {
        let l = m[base + j * n + k];
        s = s - l * l;
      }
      if (!(s > 0.0) || (bitcast<u32>(s) & 0x7fffffffu) > 0x7f800000u) {
        failed = 1u;
        if (atomicExchange(&errb[0], ${errorCode('cholesky')}) == 0) {
          atomicStore(&errb[1], b);
          atomicStore(&errb[2], j + 1);
          atomicStore(&errb[3], ${slot(3)});
        }
      }
      m[base + j * n + j] = sqrt(s);
    }
    storageBarrier();
    if (workgroupUniformLoad(&failed) != 0u) { return; }
    let d = m[base + j * n + j];
    for (var i = j + 1 + t; i < n; i += ${LWG}) {
      var s = m[base + i * n + j];
      for (var k = 0; k < j; k++) { s = s - m[base + i * n + k] * m[base + j * n + k]; }
      m[base + i * n + j] = s / d;
    }
    storageBarrier();
    workgroupBarrier();
  }
  // The other triangle: zero, or (upper) the transpose of L, then zero L's strict lower part.
  let upper = ${slot(2)} != 0;
  for (var e = t; e < n * n; e += ${LWG}) {
    let i = e / n;
    let j = e % n;
    if (j > i) { m[base + e] = select(0.0, m[base + j * n + i], upper); }
  }
  storageBarrier();
  workgroupBarrier();
  if (upper) {
    for (var e = t; e < n * n; e += ${LWG}) {
      if (e % n < e / n) { m[base + e] = 0.0; }
    }
  }
}`;
}

function luShader(): string {
  // u: [n, k, batches, identity, code, batched]; lu: n x n blocks, x: n x k blocks (B in, X out).
  return `${uniformDecl(6)}
@group(0) @binding(1) var<storage, read_write> lu: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
${errorDecl(3)}
var<workgroup> piv: i32;
var<workgroup> failed: u32;
@compute @workgroup_size(${LWG})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let b = i32(wid.x + wid.y * nwg.x);
  if (b >= ${slot(2)}) { return; }
  let n = ${slot(0)};
  let k = ${slot(1)};
  let a0 = b * n * n;
  let x0 = b * n * k;
  let t = i32(lid);
  if (${slot(3)} != 0) {
    for (var e = t; e < n * k; e += ${LWG}) { x[x0 + e] = select(0.0, 1.0, e / k == e % k); }
  }
  if (lid == 0u) { failed = 0u; }
  storageBarrier();
  workgroupBarrier();
  for (var c = 0; c < n; c++) {
    if (lid == 0u) {
      var p = c;
      var best = abs(lu[a0 + c * n + c]);
      for (var r = c + 1; r < n; r++) {
        let v = abs(lu[a0 + r * n + c]);
        if (v > best) { best = v; p = r; }
      }
      piv = p;
      if (best == 0.0) {
        failed = 1u;
        if (atomicExchange(&errb[0], ${slot(4)}) == 0) {
          atomicStore(&errb[1], b);
          atomicStore(&errb[2], c + 1);
          atomicStore(&errb[3], ${slot(5)});
        }
      }
    }
    storageBarrier();
    if (workgroupUniformLoad(&failed) != 0u) { return; }
    let p = workgroupUniformLoad(&piv);
    if (p != c) {
      for (var j = t; j < n; j += ${LWG}) {
        let s = lu[a0 + c * n + j];
        lu[a0 + c * n + j] = lu[a0 + p * n + j];
        lu[a0 + p * n + j] = s;
      }
      for (var j = t; j < k; j += ${LWG}) {
        let s = x[x0 + c * k + j];
        x[x0 + c * k + j] = x[x0 + p * k + j];
        x[x0 + p * k + j] = s;
      }
    }
    storageBarrier();
    workgroupBarrier();
    let pv = lu[a0 + c * n + c];
    for (var r = c + 1 + t; r < n; r += ${LWG}) {
      let f = lu[a0 + r * n + c] / pv;
      if (f == 0.0) { continue; }
      lu[a0 + r * n + c] = f;
      for (var j = c + 1; j < n; j++) { lu[a0 + r * n + j] = lu[a0 + r * n + j] - f * lu[a0 + c * n + j]; }
      for (var j = 0; j < k; j++) { x[x0 + r * k + j] = x[x0 + r * k + j] - f * x[x0 + c * k + j]; }
    }
    storageBarrier();
    workgroupBarrier();
  }
  // Back substitution: the columns of X are independent.
  for (var j = t; j < k; j += ${LWG}) {
    for (var r = n - 1; r >= 0; r--) {
      var s = x[x0 + r * k + j];
      for (var q = r + 1; q < n; q++) { s = s - lu[a0 + r * n + q] * x[x0 + q * k + j]; }
      x[x0 + r * k + j] = s / lu[a0 + r * n + r];
    }
  }
}`;
}

/** A contiguous temporary as a float32 storage handle. */
function temp(ctx: GpuContext, size: number): GPUStorage {
  const { buffer, bytes } = ctx.acquire(Math.max(1, size) * 4, false);
  return { buffer, bytes, dtype: 'float32', size, freed: false };
}

function batchCount(shape: readonly number[]): number {
  return numelOf(shape.slice(0, -2));
}

/** The cholesky, solve and inverse kernels (float32; contracts in the op table). @internal */
export function linalgKernels(ctx: GpuContext): Array<[string, Kernel]> {
  const cholesky: Kernel = (inputs, outputs, attrs) => {
    const a = inputs[0]!;
    const o = outputs[0]!;
    const n = o.shape[o.shape.length - 1]!;
    const batches = batchCount(o.shape);
    if (n === 0 || batches === 0) return;
    runElementwise(ctx, 'copy', [a], o, {});
    const pipeline = ctx.pipeline('cholesky', choleskyShader);
    const enc = ctx.encoder();
    const temps: Array<{ buffer: GPUBuffer; bytes: number }> = [];
    const u = new Int32Array([n, batches, attrs.upper === true ? 1 : 0, o.shape.length > 2 ? 1 : 0]);
    const w = workOn(ctx, o, enc, temps);
    ctx.dispatch(
      enc,
      pipeline,
      u,
      [
        { buffer: w.buffer, write: true },
        { buffer: ctx.errorBuffer, write: true },
      ],
      batches,
      temps,
    );
    w.done();
    ctx.submit(enc, temps);
  };

  const lu = (inputs: readonly TensorView[], o: TensorView, identity: boolean): void => {
    const a = inputs[0]!;
    const nd = o.shape.length;
    const n = a.shape[a.shape.length - 1]!;
    const k = o.shape[nd - 1]!;
    const batches = batchCount(o.shape);
    if (n === 0 || batches === 0) return;
    // A (broadcast to the output's batch shape) into a contiguous working copy; B into the output.
    const aShape = [...o.shape.slice(0, -2), n, n];
    const work = temp(ctx, batches * n * n);
    const aStrides = a.strides.slice(-2);
    const aBatch = broadcastBatchStrides(a, o.shape.slice(0, -2));
    runElementwise(
      ctx,
      'copy',
      [{ ...a, shape: aShape, strides: [...aBatch, ...aStrides] }],
      { handle: work, dtype: 'float32', shape: aShape, strides: contiguousStrides(aShape), offset: 0 },
      {},
    );
    if (!identity) {
      const bv = inputs[1]!;
      const bBatch = broadcastBatchStrides(bv, o.shape.slice(0, -2));
      runElementwise(
        ctx,
        'copy',
        [{ ...bv, shape: o.shape, strides: [...bBatch, ...bv.strides.slice(-2)] }],
        o,
        {},
      );
    }
    const pipeline = ctx.pipeline('lu', luShader);
    const enc = ctx.encoder();
    const temps: Array<{ buffer: GPUBuffer; bytes: number }> = [{ buffer: work.buffer, bytes: work.bytes }];
    const u = new Int32Array([
      n,
      k,
      batches,
      identity ? 1 : 0,
      errorCode(identity ? 'inverse' : 'solve'),
      nd > 2 ? 1 : 0,
    ]);
    const w = workOn(ctx, o, enc, temps);
    ctx.dispatch(
      enc,
      pipeline,
      u,
      [
        { buffer: work.buffer, write: true },
        { buffer: w.buffer, write: true },
        { buffer: ctx.errorBuffer, write: true },
      ],
      batches,
      temps,
    );
    w.done();
    ctx.submit(enc, temps);
  };

  return [
    ['cholesky', cholesky],
    ['solve', (inputs, outputs) => lu(inputs, outputs[0]!, false)],
    ['inverse', (inputs, outputs) => lu(inputs, outputs[0]!, true)],
  ];
}

/** Batch strides of `v` broadcast to `batch` (stride 0 on missing or size-1 dims). */
function broadcastBatchStrides(v: TensorView, batch: readonly number[]): number[] {
  const vb = v.shape.length - 2;
  return batch.map((size, d) => {
    const vd = d - (batch.length - vb);
    if (vd < 0) return 0;
    return v.shape[vd] === 1 && size !== 1 ? 0 : v.strides[vd]!;
  });
}

/**
 * The shaders address the output from element 0. Outputs are contiguous but may start at an offset
 * (not in practice: the dispatcher allocates them fresh); then the work happens in a temporary that
 * `done` copies back.
 */
function workOn(
  ctx: GpuContext,
  o: TensorView,
  enc: GPUCommandEncoder,
  temps: Array<{ buffer: GPUBuffer; bytes: number }>,
): { buffer: GPUBuffer; done: () => void } {
  const buffer = (o.handle as GPUStorage).buffer;
  if (o.offset === 0) return { buffer, done: () => {} };
  const bytes = numelOf(o.shape) * 4;
  const tmp = ctx.acquire(bytes, false);
  enc.copyBufferToBuffer(buffer, o.offset * 4, tmp.buffer, 0, bytes);
  temps.push(tmp);
  return {
    buffer: tmp.buffer,
    done: () => enc.copyBufferToBuffer(tmp.buffer, 0, buffer, o.offset * 4, bytes),
  };
}
