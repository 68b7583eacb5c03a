/**
 * The fused LSTM layer (`lstmLayer` / `lstmLayerBackward` of the op table), float32: every dispatch of
 * one call is recorded in one command encoder and submitted once.
 *
 * Forward: one tiled product `xp = x @ W_ih^T` over all T * B rows, then the recurrence. A recurrence
 * thread owns units j of one batch row b: it computes the four gate dot products `h_{t-1} @ W_hh^T`,
 * adds `xp` and both biases, applies the activations and updates c and h. Batch rows are independent,
 * so for H <= 256 each row is one workgroup that walks the whole sequence in a single dispatch, with a
 * storage barrier between steps (the threads exchange h through the storage buffer); larger H splits a
 * row over several workgroups and takes one dispatch per step.
 *
 * Backward: the same row-per-workgroup walk in reverse (pointwise gate gradients, and
 * `dh_{t-1} = dG_t @ W_hh` from the previous step's dG row), then four tiled products over all rows:
 * `dx = dG @ W_ih`, `dW_ih = dG^T @ x`, `dW_hh = dG^T @ h_prev`, `db = dG^T @ 1`.
 *
 * Devices may bind only 4 storage buffers per stage (compatibility mode), so the operands are packed
 * into temporaries with buffer copies: the weights and biases into one buffer, the h and c sequences
 * (with h0 / c0 in the slot before the first processed step) into one state buffer. In that state
 * buffer the states of time t sit in slot t + 1 (forward) or t (reverse), so `out` and `cells` are one
 * contiguous copy each and the previous step's state is the neighbouring slot.
 */
import type { Kernel, TensorView } from '@gradfolio/tensor';
import type { GPUStorage, GpuContext } from '../context.js';
import { slot, uniformDecl } from '../layout.js';
import { MATH } from './pointwise.js';

type Temp = { buffer: GPUBuffer; bytes: number };

/**
 * Tuning of the recurrence dispatches: H at most `wholeSequenceMaxH` walks the whole sequence in one
 * dispatch (one workgroup per batch row), larger H takes one dispatch per step. Tests lower it to run
 * the per-step path on small shapes.
 * @internal
 */
export const lstmTuning = { wholeSequenceMaxH: 256 };

/** Most threads per workgroup; a row with more units is split over several workgroups (per-step dispatches). */
const MAX_WG = 256;
/** Side of the square tiles of the products. */
const TILE = 16;

function recurrenceWorkgroup(H: number): { wg: number; chunks: number; whole: boolean } {
  // The smallest power-of-two workgroup covering a row (at most 256 threads), so small H idles no threads.
  let wg = 32;
  while (wg < H && wg < MAX_WG) wg *= 2;
  const whole = H <= Math.min(lstmTuning.wholeSequenceMaxH, MAX_WG);
  return { wg, chunks: Math.ceil(H / wg), whole };
}

// Shared head of the recurrence shaders: the workgroup -> (batch row, unit chunk) split. `w >= total`
// and the step loops depend only on workgroup ids and uniforms, so the barriers stay in uniform flow.
const HEAD = `
  let w = i32(wid.x + wid.y * nwg.x);
  let T = ${slot(0)}; let B = ${slot(1)}; let H = ${slot(2)}; let rev = ${slot(3)} != 0;
  let chunks = ${slot(6)};
  if (w >= B * chunks) { return; }
  let G = 4 * H; let BH = B * H;
  let b = w / chunks;`;

/**
 * Forward recurrence. Uniforms `[T, B, H, reverse, kStart, kEnd, chunks, hasBias, gatesOffset]`;
 * bindings: p = [W_hh (4H x H), b_ih, b_hh], xp [T, B, 4H], the gates output, s = [h slots, c slots].
 */
function forwardShader(wg: number): string {
  return `${uniformDecl(9)}
@group(0) @binding(1) var<storage, read> p: array<f32>;
@group(0) @binding(2) var<storage, read> xp: array<f32>;
@group(0) @binding(3) var<storage, read_write> gates: array<f32>;
@group(0) @binding(4) var<storage, read_write> s: array<f32>;
${MATH}
@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  ${HEAD}
  let hasBias = ${slot(7)} != 0; let gOff = ${slot(8)};
  let cBase = (T + 1) * BH;
  let bias = G * H;
  let first = (w % chunks) * ${wg} + i32(lid);
  for (var k = ${slot(4)}; k < ${slot(5)}; k++) {
    let t = select(k, T - 1 - k, rev);
    let cur = select(t + 1, t, rev);
    let hp = select(t, t + 1, rev) * BH + b * H;
    for (var j = first; j < H; j += chunks * ${wg}) {
      var zi = 0.0; var zf = 0.0; var zg = 0.0; var zo = 0.0;
      for (var q = 0; q < H; q++) {
        let hv = s[hp + q];
        zi += hv * p[j * H + q];
        zf += hv * p[(H + j) * H + q];
        zg += hv * p[(2 * H + j) * H + q];
        zo += hv * p[(3 * H + j) * H + q];
      }
      let xr = (t * B + b) * G + j;
      zi += xp[xr]; zf += xp[xr + H]; zg += xp[xr + 2 * H]; zo += xp[xr + 3 * H];
      if (hasBias) {
        // b_ih + b_hh summed first, as the CPU kernel adds them.
        zi += p[bias + j] + p[bias + G + j];
        zf += p[bias + H + j] + p[bias + G + H + j];
        zg += p[bias + 2 * H + j] + p[bias + G + 2 * H + j];
        zo += p[bias + 3 * H + j] + p[bias + G + 3 * H + j];
      }
      let ig = sigmoidf(zi); let fg = sigmoidf(zf); let gg = tanhf(zg); let og = sigmoidf(zo);
      gates[gOff + xr] = ig; gates[gOff + xr + H] = fg;
      gates[gOff + xr + 2 * H] = gg; gates[gOff + xr + 3 * H] = og;
      let c = fg * s[cBase + hp + j] + ig * gg;
      let e = cur * BH + b * H + j;
      s[cBase + e] = c;
      s[e] = og * tanhf(c);
    }
    storageBarrier();
    workgroupBarrier();
  }
}`;
}

/**
 * Backward recurrence over processing steps k = kHi .. kLo (descending; k = -1 only writes dh0).
 * Uniforms `[T, B, H, reverse, kHi, kLo, chunks, gatesOffset]`; bindings: a = [W_hh, gOut, c slots,
 * h slots, gcN], the gates, w = [dG [T, B, 4H], dc [B, H], dh0 [B, H]].
 */
function backwardShader(wg: number): string {
  return `${uniformDecl(8)}
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> gates: array<f32>;
@group(0) @binding(3) var<storage, read_write> ws: array<f32>;
${MATH}
@compute @workgroup_size(${wg})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  ${HEAD}
  let gOff = ${slot(7)};
  let goBase = G * H; let cBase = goBase + T * BH; let gcBase = cBase + 2 * (T + 1) * BH;
  let dcBase = T * B * G; let dh0Base = dcBase + BH;
  let first = (w % chunks) * ${wg} + i32(lid);
  for (var k = ${slot(4)}; k >= ${slot(5)}; k--) {
    let t = select(k, T - 1 - k, rev);
    let hasNext = k + 1 < T;
    let tn = select(k + 1, T - 2 - k, rev);
    for (var j = first; j < H; j += chunks * ${wg}) {
      let e = b * H + j;
      // dh_t = dG_{next} @ W_hh (the step processed before this one), plus the output's gradient.
      var dh = 0.0;
      if (hasNext) {
        let base = (tn * B + b) * G;
        for (var q = 0; q < G; q++) { dh += ws[base + q] * a[q * H + j]; }
      }
      if (k < 0) {
        ws[dh0Base + e] = dh;
        continue;
      }
      dh += a[goBase + t * BH + e];
      var dc = a[gcBase + e];
      if (hasNext) { dc = ws[dcBase + e]; }
      let gr = (t * B + b) * G + j;
      let ig = gates[gOff + gr]; let fg = gates[gOff + gr + H];
      let gg = gates[gOff + gr + 2 * H]; let og = gates[gOff + gr + 3 * H];
      let tc = tanhf(a[cBase + select(t + 1, t, rev) * BH + e]);
      let cp = a[cBase + select(t, t + 1, rev) * BH + e];
      let dce = dc + dh * og * (1.0 - tc * tc);
      ws[gr] = dce * gg * ig * (1.0 - ig);
      ws[gr + H] = dce * cp * fg * (1.0 - fg);
      ws[gr + 2 * H] = dce * ig * (1.0 - gg * gg);
      ws[gr + 3 * H] = dh * tc * og * (1.0 - og);
      ws[dcBase + e] = dce * fg;
    }
    storageBarrier();
    workgroupBarrier();
  }
}`;
}

/**
 * A strided product `c[cOff + m N + n] = sum_k A(m, k) B(k, n)` with `A(m, k) = a[aOff + m aRs + k aCs]`
 * and `B(k, n) = b[bOff + k bRs + n bCs]` (or 1 when `ones`), in 16x16 tiles staged in workgroup memory.
 * Split-K: workgroup `w` takes tile `w % tiles` and the `kChunk`-long slice `w / tiles` of K, writing its
 * partial sum to slab `w / tiles` of c (`M * N` apart); with one slice that is the product itself.
 * Uniforms `[M, N, K, aOff, aRs, aCs, bOff, bRs, bCs, cOff, ones, tilesN, kChunk, slices]`.
 */
function productShader(): string {
  return `${uniformDecl(14)}
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
var<workgroup> As: array<array<f32, ${TILE}>, ${TILE}>;
var<workgroup> Bs: array<array<f32, ${TILE}>, ${TILE}>;
@compute @workgroup_size(${TILE}, ${TILE})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = i32(wid.x + wid.y * nwg.x);
  let M = ${slot(0)}; let N = ${slot(1)}; let K = ${slot(2)};
  let tilesN = ${slot(11)};
  let tiles = tilesN * ((M + ${TILE - 1}) / ${TILE});
  if (w >= tiles * ${slot(13)}) { return; }
  let slice = w / tiles; let t = w % tiles;
  let kBegin = slice * ${slot(12)}; let kEnd = min(K, kBegin + ${slot(12)});
  let tx = i32(lid.x); let ty = i32(lid.y);
  let row = (t / tilesN) * ${TILE} + ty;
  let col = (t % tilesN) * ${TILE} + tx;
  let ones = ${slot(10)} != 0;
  var acc = 0.0;
  for (var k0 = kBegin; k0 < kEnd; k0 += ${TILE}) {
    var av = 0.0;
    if (row < M && k0 + tx < kEnd) { av = a[${slot(3)} + row * ${slot(4)} + (k0 + tx) * ${slot(5)}]; }
    As[tx][ty] = av;
    var bv = 0.0;
    if (col < N && k0 + ty < kEnd) {
      if (ones) { bv = 1.0; } else { bv = b[${slot(6)} + (k0 + ty) * ${slot(7)} + col * ${slot(8)}]; }
    }
    Bs[ty][tx] = bv;
    workgroupBarrier();
    for (var kk = 0; kk < ${TILE}; kk++) { acc += As[kk][ty] * Bs[kk][tx]; }
    workgroupBarrier();
  }
  if (row < M && col < N) { c[${slot(9)} + slice * M * N + row * N + col] = acc; }
}`;
}

/** Sums the `slices` partial products of a split-K product: uniforms `[count, slices, cOff]`. */
function sumSlicesShader(): string {
  return `${uniformDecl(3)}
@group(0) @binding(1) var<storage, read> p: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = i32(gid.x + gid.y * nwg.x * 256u);
  let n = ${slot(0)};
  if (i >= n) { return; }
  var acc = 0.0;
  for (var s = 0; s < ${slot(1)}; s++) { acc += p[s * n + i]; }
  c[${slot(2)} + i] = acc;
}`;
}

/** Split K into slices when the output has few tiles and K is long (dW over all T * B rows). */
function kSlices(tiles: number, K: number): { slices: number; chunk: number } {
  const want = Math.min(Math.ceil(256 / tiles), Math.floor(K / 256));
  if (want <= 1) return { slices: 1, chunk: Math.max(K, 1) };
  const chunk = Math.ceil(K / want / TILE) * TILE;
  return { slices: Math.ceil(K / chunk), chunk };
}

function bufferOf(v: TensorView): GPUBuffer {
  return (v.handle as GPUStorage).buffer;
}

/** Operand of a product: a buffer, an element offset and the row / column strides. */
interface Operand {
  readonly buffer: GPUBuffer;
  readonly off: number;
  readonly rs: number;
  readonly cs: number;
}

/**
 * The fused LSTM kernels (`lstmLayer`, `lstmLayerBackward`; contracts in the op table), float32.
 * @internal
 */
export function lstmKernels(ctx: GpuContext): Array<[string, Kernel]> {
  const temp = (enc: { temps: Temp[] }, n: number): GPUBuffer => {
    const t = ctx.acquire(Math.max(1, n) * 4, false);
    enc.temps.push(t);
    return t.buffer;
  };
  // Element offsets and counts; WebGPU copies need 4-byte multiples, which f32 elements always are.
  const copy = (enc: GPUCommandEncoder, src: GPUBuffer, so: number, dst: GPUBuffer, d: number, n: number) => {
    if (n > 0) enc.copyBufferToBuffer(src, so * 4, dst, d * 4, n * 4);
  };
  const product = (
    enc: GPUCommandEncoder,
    temps: Temp[],
    M: number,
    N: number,
    K: number,
    a: Operand,
    b: Operand | 'ones',
    c: GPUBuffer,
    cOff: number,
  ): void => {
    if (M * N === 0) return;
    const tilesN = Math.ceil(N / TILE);
    const bo = b === 'ones' ? { buffer: a.buffer, off: 0, rs: 0, cs: 0 } : b;
    const u = Int32Array.of(
      M,
      N,
      K,
      a.off,
      a.rs,
      a.cs,
      bo.off,
      bo.rs,
      bo.cs,
      cOff,
      b === 'ones' ? 1 : 0,
      tilesN,
    );
    const tiles = tilesN * Math.ceil(M / TILE);
    const { slices, chunk } = kSlices(tiles, K);
    const pipeline = ctx.pipeline('lstm|product', productShader);
    if (slices === 1) {
      ctx.dispatch(
        enc,
        pipeline,
        Int32Array.of(...u, Math.max(K, 1), 1),
        [{ buffer: a.buffer }, { buffer: bo.buffer }, { buffer: c, write: true }],
        tiles,
        temps,
      );
      return;
    }
    // Few output tiles over a long K: partial products per K slice, then one summing pass.
    const part = ctx.acquire(slices * M * N * 4, false);
    temps.push(part);
    u[9] = 0;
    ctx.dispatch(
      enc,
      pipeline,
      Int32Array.of(...u, chunk, slices),
      [{ buffer: a.buffer }, { buffer: bo.buffer }, { buffer: part.buffer, write: true }],
      tiles * slices,
      temps,
    );
    ctx.dispatch(
      enc,
      ctx.pipeline('lstm|sum-slices', sumSlicesShader),
      Int32Array.of(M * N, slices, cOff),
      [{ buffer: part.buffer }, { buffer: c, write: true }],
      Math.ceil((M * N) / 256),
      temps,
    );
  };

  const forward: Kernel = (inputs, outputs, attrs) => {
    const [x, h0, c0, wih, whh, bih, bhh] = inputs as [
      TensorView,
      TensorView,
      TensorView,
      TensorView,
      TensorView,
      TensorView?,
      TensorView?,
    ];
    const [out, cN, gates, cells] = outputs as [TensorView, TensorView, TensorView, TensorView];
    const [T, B, I] = x.shape as [number, number, number];
    const G = wih.shape[0] as number;
    const H = G / 4;
    const BH = B * H;
    const rev = attrs.reverse === true;
    const hasBias = attrs.hasBias === true && bih !== undefined && bhh !== undefined;
    const enc = ctx.encoder();
    const st = { temps: [] as Temp[] };
    if (T === 0 || BH === 0) {
      copy(enc, bufferOf(c0), c0.offset, bufferOf(cN), cN.offset, BH);
      ctx.submit(enc, st.temps);
      return;
    }
    const p = temp(st, G * H + (hasBias ? 2 * G : 0));
    copy(enc, bufferOf(whh), whh.offset, p, 0, G * H);
    if (hasBias) {
      copy(enc, bufferOf(bih), bih.offset, p, G * H, G);
      copy(enc, bufferOf(bhh), bhh.offset, p, G * H + G, G);
    }
    const xp = temp(st, T * B * G);
    product(
      enc,
      st.temps,
      T * B,
      G,
      I,
      { buffer: bufferOf(x), off: x.offset, rs: I, cs: 1 },
      { buffer: bufferOf(wih), off: wih.offset, rs: 1, cs: I },
      xp,
      0,
    );
    const s = temp(st, 2 * (T + 1) * BH);
    const cBase = (T + 1) * BH;
    const init = rev ? T : 0;
    copy(enc, bufferOf(h0), h0.offset, s, init * BH, BH);
    copy(enc, bufferOf(c0), c0.offset, s, cBase + init * BH, BH);
    const { wg, chunks, whole } = recurrenceWorkgroup(H);
    const pipeline = ctx.pipeline(`lstm|forward|${wg}`, () => forwardShader(wg));
    const bindings = [
      { buffer: p },
      { buffer: xp },
      { buffer: bufferOf(gates), write: true },
      { buffer: s, write: true },
    ];
    const run = (k0: number, k1: number) =>
      ctx.dispatch(
        enc,
        pipeline,
        Int32Array.of(T, B, H, rev ? 1 : 0, k0, k1, chunks, hasBias ? 1 : 0, gates.offset),
        bindings,
        B * chunks,
        st.temps,
      );
    if (whole) run(0, T);
    else for (let k = 0; k < T; k++) run(k, k + 1);
    const firstSlot = rev ? 0 : 1;
    copy(enc, s, firstSlot * BH, bufferOf(out), out.offset, T * BH);
    copy(enc, s, cBase + firstSlot * BH, bufferOf(cells), cells.offset, T * BH);
    copy(enc, s, cBase + (rev ? 0 : T) * BH, bufferOf(cN), cN.offset, BH);
    ctx.submit(enc, st.temps);
  };

  const backward: Kernel = (inputs, outputs, attrs) => {
    const [gOut, gcN, x, h0, c0, wih, whh, gates, cells, out] = inputs as TensorView[] as [
      TensorView,
      TensorView,
      TensorView,
      TensorView,
      TensorView,
      TensorView,
      TensorView,
      TensorView,
      TensorView,
      TensorView,
    ];
    const [dx, dh0, dc0, dWih, dWhh, db] = outputs as [
      TensorView,
      TensorView,
      TensorView,
      TensorView,
      TensorView,
      TensorView?,
    ];
    const [T, B, I] = x.shape as [number, number, number];
    const G = wih.shape[0] as number;
    const H = G / 4;
    const BH = B * H;
    const rev = attrs.reverse === true;
    const enc = ctx.encoder();
    const st = { temps: [] as Temp[] };
    // Outputs start zeroed (alloc), which is the answer for dh0 and the weight gradients of an empty run.
    if (T === 0 || BH === 0) {
      copy(enc, bufferOf(gcN), gcN.offset, bufferOf(dc0), dc0.offset, BH);
      ctx.submit(enc, st.temps);
      return;
    }
    const goBase = G * H;
    const cBase = goBase + T * BH;
    const hBase = cBase + (T + 1) * BH;
    const gcBase = hBase + (T + 1) * BH;
    const a = temp(st, gcBase + BH);
    const init = rev ? T : 0;
    const firstSlot = rev ? 0 : 1;
    copy(enc, bufferOf(whh), whh.offset, a, 0, G * H);
    copy(enc, bufferOf(gOut), gOut.offset, a, goBase, T * BH);
    copy(enc, bufferOf(c0), c0.offset, a, cBase + init * BH, BH);
    copy(enc, bufferOf(cells), cells.offset, a, cBase + firstSlot * BH, T * BH);
    copy(enc, bufferOf(h0), h0.offset, a, hBase + init * BH, BH);
    copy(enc, bufferOf(out), out.offset, a, hBase + firstSlot * BH, T * BH);
    copy(enc, bufferOf(gcN), gcN.offset, a, gcBase, BH);
    const dcBase = T * B * G;
    const w = temp(st, dcBase + 2 * BH);
    const { wg, chunks, whole } = recurrenceWorkgroup(H);
    const pipeline = ctx.pipeline(`lstm|backward|${wg}`, () => backwardShader(wg));
    const bindings = [{ buffer: a }, { buffer: bufferOf(gates) }, { buffer: w, write: true }];
    const run = (kHi: number, kLo: number) =>
      ctx.dispatch(
        enc,
        pipeline,
        Int32Array.of(T, B, H, rev ? 1 : 0, kHi, kLo, chunks, gates.offset),
        bindings,
        B * chunks,
        st.temps,
      );
    if (whole) run(T - 1, -1);
    else for (let k = T - 1; k >= -1; k--) run(k, k);
    copy(enc, w, dcBase, bufferOf(dc0), dc0.offset, BH);
    copy(enc, w, dcBase + BH, bufferOf(dh0), dh0.offset, BH);
    const TB = T * B;
    const dG = { buffer: w, off: 0, rs: G, cs: 1 };
    const dGt = { buffer: w, off: 0, rs: 1, cs: G };
    product(
      enc,
      st.temps,
      TB,
      I,
      G,
      dG,
      { buffer: bufferOf(wih), off: wih.offset, rs: I, cs: 1 },
      bufferOf(dx),
      dx.offset,
    );
    product(
      enc,
      st.temps,
      G,
      I,
      TB,
      dGt,
      { buffer: bufferOf(x), off: x.offset, rs: I, cs: 1 },
      bufferOf(dWih),
      dWih.offset,
    );
    // h_{t-1} of the rows t = 0 .. T-1 is the slot run starting at slot 0 (forward) or 1 (reverse).
    const hPrev = { buffer: a, off: hBase + (rev ? BH : 0), rs: H, cs: 1 };
    product(enc, st.temps, G, H, TB, dGt, hPrev, bufferOf(dWhh), dWhh.offset);
    if (attrs.hasBias === true && db !== undefined)
      product(enc, st.temps, G, 1, TB, dGt, 'ones', bufferOf(db), db.offset);
    ctx.submit(enc, st.temps);
  };

  return [
    ['lstmLayer', forward],
    ['lstmLayerBackward', backward],
  ];
}
