/**
 * The float32 fused LSTM on wasm SIMD: the sequence's tensors are copied once into the module's own
 * memory, where the per-step products (register-blocked, W_hh laid out once), the gate activations, the
 * state updates and their backward run four lanes at a time (lstm.wat). Used when H is a
 * multiple of 4; scalar JS handles the rest (kernels.ts).
 */
import { gemmRaw } from '../gemm/index.js';
import { decodeBase64 } from '../gemm/wasm.js';
import { LSTM_WASM_BASE64 } from './wasm-module.generated.js';

interface LSTMExports {
  fwd(
    g: number,
    x: number,
    bias: number,
    cp: number,
    c: number,
    h: number,
    rows: number,
    hidden: number,
  ): void;
  bwd(
    g: number,
    c: number,
    cp: number,
    gout: number,
    dh: number,
    dc: number,
    dg: number,
    rows: number,
    hidden: number,
  ): void;
  colsum(m: number, rows: number, cols: number, out: number): void;
  /** out[rows, cols] = a[rows, inner] @ w[inner, cols]. */
  mm(a: number, w: number, out: number, rows: number, inner: number, cols: number): void;
  /** out[rows, cols] = a^T @ w with a stored [inner, rows]. */
  atb(a: number, w: number, out: number, rows: number, inner: number, cols: number): void;
}

/** Weight-gradient sums over more rows than this (T * B) run on the GEMM engine. */
const ATB_MAX_ROWS = 512;

let memory: WebAssembly.Memory | undefined;
let ex: LSTMExports | null | undefined;

function load(): LSTMExports | null {
  if (ex !== undefined) return ex;
  ex = null;
  try {
    if (typeof WebAssembly !== 'object' || typeof atob !== 'function') return ex;
    memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    const mod = new WebAssembly.Module(decodeBase64(LSTM_WASM_BASE64));
    ex = new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as LSTMExports;
  } catch {
    // No wasm SIMD or synchronous compilation refused: the JS kernels run instead.
    ex = null;
  }
  return ex;
}

/** Whether the wasm path can run an LSTM with `hidden` units in float32. */
export function lstmWasmEligible(hidden: number): boolean {
  return hidden % 4 === 0 && load() !== null;
}

/** Bump allocator over the module memory (byte offsets, 16-byte aligned). */
class Arena {
  private top = 16; // offset 0 stays unused: the kernels read pointer 0 as "no bias"
  readonly offsets: number[] = [];
  alloc(floats: number): number {
    const at = this.top;
    this.top += Math.ceil((floats * 4) / 16) * 16;
    return at;
  }
  /** Grows the memory to hold everything allocated and returns a float view of it (or undefined). */
  view(): Float32Array | undefined {
    const mem = memory as WebAssembly.Memory;
    const need = Math.ceil(this.top / 65536) - mem.buffer.byteLength / 65536;
    if (need > 0) {
      try {
        mem.grow(need);
      } catch {
        return undefined;
      }
    }
    return new Float32Array(mem.buffer);
  }
}

function copyIn(f32: Float32Array, at: number, src: Float32Array, off: number, n: number): void {
  f32.set(src.subarray(off, off + n), at >> 2);
}

function copyOut(f32: Float32Array, at: number, dst: Float32Array, off: number, n: number): void {
  dst.set(f32.subarray(at >> 2, (at >> 2) + n), off);
}

/** The arrays of one kernel call: float32 data and element offsets. */
export interface F32Ref {
  readonly a: Float32Array;
  readonly off: number;
}

/** Layer sizes: steps, batch, hidden units, input features. */
export interface LSTMDims {
  readonly T: number;
  readonly B: number;
  readonly H: number;
  readonly I: number;
  readonly reverse: boolean;
}

/**
 * Forward of one direction of one layer (see lstmLayerKernel): the input projection x @ W_ih^T, the
 * recurrence and the state updates, all in the module. `bias` is b_ih + b_hh. Returns false (having
 * written nothing) when the memory cannot grow.
 */
export function lstmForwardWasm(
  d: LSTMDims,
  x: F32Ref,
  h0: F32Ref,
  c0: F32Ref,
  wih: F32Ref,
  whh: F32Ref,
  bias: Float32Array | undefined,
  out: F32Ref,
  cN: F32Ref,
  gates: F32Ref,
  cells: F32Ref,
): boolean {
  const w = load() as LSTMExports;
  const { T, B, H, I, reverse } = d;
  const G = 4 * H;
  const BG = B * G;
  const BH = B * H;
  const a = new Arena();
  const pXin = a.alloc(T * B * I);
  const pWihT = a.alloc(I * G);
  const pX = a.alloc(T * BG);
  const pG = a.alloc(T * BG);
  const pC = a.alloc(T * BH);
  const pH = a.alloc(T * BH);
  const pH0 = a.alloc(BH);
  const pC0 = a.alloc(BH);
  const pB = bias === undefined ? 0 : a.alloc(G);
  const pWT = a.alloc(H * G);
  const f32 = a.view();
  if (f32 === undefined) return false;
  // W_ih^T [I, 4H] and W_hh^T [H, 4H], laid out once so that the products read rows of them.
  transposeIn(f32, pWihT, wih, G, I);
  transposeIn(f32, pWT, whh, G, H);
  copyIn(f32, pXin, x.a, x.off, T * B * I);
  copyIn(f32, pH0, h0.a, h0.off, BH);
  copyIn(f32, pC0, c0.a, c0.off, BH);
  if (bias !== undefined) copyIn(f32, pB, bias, 0, G);
  w.mm(pXin, pWihT, pX, T * B, I, G);
  let hPrev = pH0;
  let cPrev = pC0;
  for (let k = 0; k < T; k++) {
    const t = reverse ? T - 1 - k : k;
    const g = pG + t * BG * 4;
    w.mm(hPrev, pWT, g, B, H, G);
    const c = pC + t * BH * 4;
    const h = pH + t * BH * 4;
    w.fwd(g, pX + t * BG * 4, pB, cPrev, c, h, B, H);
    hPrev = h;
    cPrev = c;
  }
  copyOut(f32, pH, out.a, out.off, T * BH);
  copyOut(f32, pG, gates.a, gates.off, T * BG);
  copyOut(f32, pC, cells.a, cells.off, T * BH);
  copyOut(f32, cPrev, cN.a, cN.off, BH);
  return true;
}

/** Writes m^T (m is [rows, cols] row-major) to the module memory at byte offset `at`. */
function transposeIn(f32: Float32Array, at: number, m: F32Ref, rows: number, cols: number): void {
  const base = at >> 2;
  const src = m.a;
  for (let r = 0; r < rows; r++) {
    const row = m.off + r * cols;
    for (let q = 0; q < cols; q++) f32[base + q * rows + r] = src[row + q] as number;
  }
}

/**
 * Backward of {@link lstmForwardWasm} (see lstmLayerBackwardKernel): every gradient, `db` being that of
 * both biases. Returns false (having written nothing) when the memory cannot grow.
 */
export function lstmBackwardWasm(
  d: LSTMDims,
  gOut: F32Ref,
  gcN: F32Ref,
  x: F32Ref,
  h0: F32Ref,
  c0: F32Ref,
  wih: F32Ref,
  whh: F32Ref,
  gates: F32Ref,
  cells: F32Ref,
  out: F32Ref,
  dx: F32Ref,
  dh0: F32Ref,
  dc0: F32Ref,
  dWih: F32Ref,
  dWhh: F32Ref,
  db: F32Ref | undefined,
): boolean {
  const w = load() as LSTMExports;
  const { T, B, H, I, reverse } = d;
  const G = 4 * H;
  const BG = B * G;
  const BH = B * H;
  const TB = T * B;
  const a = new Arena();
  const pG = a.alloc(T * BG);
  const pC = a.alloc(T * BH);
  const pGo = a.alloc(T * BH);
  const pC0 = a.alloc(BH);
  const pDG = a.alloc(T * BG);
  const pDh = a.alloc(BH);
  const pDc = a.alloc(BH);
  const pDb = a.alloc(G);
  // h_{t-1} of every step in time order: [h0, out[0..T-2]] forward, [out[1..T-1], h0] reverse, so that
  // dW_hh is one product over all rows.
  const pHp = a.alloc(T * BH);
  const pW = a.alloc(G * H);
  const pDW = a.alloc(G * H);
  // dx and dW_ih run in the module when their width (I) fits its 4-lane products, else on the GEMM engine.
  const inModule = I % 4 === 0;
  const pXin = a.alloc(TB * I);
  const pWih = inModule ? a.alloc(G * I) : 0;
  const pDx = inModule ? a.alloc(TB * I) : 0;
  const pDWih = inModule ? a.alloc(G * I) : 0;
  const f32 = a.view();
  if (f32 === undefined) return false;
  copyIn(f32, pG, gates.a, gates.off, T * BG);
  copyIn(f32, pC, cells.a, cells.off, T * BH);
  copyIn(f32, pGo, gOut.a, gOut.off, T * BH);
  copyIn(f32, pC0, c0.a, c0.off, BH);
  copyIn(f32, pDc, gcN.a, gcN.off, BH);
  copyIn(f32, pW, whh.a, whh.off, G * H);
  copyIn(f32, pXin, x.a, x.off, TB * I);
  if (reverse) {
    copyIn(f32, pHp, out.a, out.off + BH, (T - 1) * BH);
    copyIn(f32, pHp + (T - 1) * BH * 4, h0.a, h0.off, BH);
  } else {
    copyIn(f32, pHp, h0.a, h0.off, BH);
    copyIn(f32, pHp + BH * 4, out.a, out.off, (T - 1) * BH);
  }
  f32.fill(0, pDh >> 2, (pDh >> 2) + BH);
  for (let k = T - 1; k >= 0; k--) {
    const t = reverse ? T - 1 - k : k;
    const prevT = reverse ? t + 1 : t - 1;
    const cp = k === 0 ? pC0 : pC + prevT * BH * 4;
    const dg = pDG + t * BG * 4;
    w.bwd(pG + t * BG * 4, pC + t * BH * 4, cp, pGo + t * BH * 4, pDh, pDc, dg, B, H);
    // dh_{t-1} = dGates_t @ W_hh.
    w.mm(dg, pW, pDh, B, G, H);
  }
  copyOut(f32, pDh, dh0.a, dh0.off, BH);
  copyOut(f32, pDc, dc0.a, dc0.off, BH);
  // dW_hh = dGates^T @ h_prev and dW_ih = dGates^T @ x over all T * B rows (time order); dx = dGates @ W_ih.
  // Long sums (many rows) go to the GEMM engine, whose cache blocking the in-module product lacks
  // (measured 4x slower at T * B = 3200).
  const longSum = TB > ATB_MAX_ROWS;
  if (longSum) gemmRaw(G, H, TB, 1, f32, pDG >> 2, 1, G, 0, f32, pHp >> 2, H, 1, 0, dWhh.a, dWhh.off);
  else {
    w.atb(pDG, pHp, pDW, G, TB, H);
    copyOut(f32, pDW, dWhh.a, dWhh.off, G * H);
  }
  if (inModule) {
    copyIn(f32, pWih, wih.a, wih.off, G * I);
    w.mm(pDG, pWih, pDx, TB, G, I);
    copyOut(f32, pDx, dx.a, dx.off, TB * I);
  } else gemmRaw(TB, I, G, 1, f32, pDG >> 2, G, 1, 0, wih.a, wih.off, I, 1, 0, dx.a, dx.off);
  if (inModule && !longSum) {
    w.atb(pDG, pXin, pDWih, G, TB, I);
    copyOut(f32, pDWih, dWih.a, dWih.off, G * I);
  } else gemmRaw(G, I, TB, 1, f32, pDG >> 2, 1, G, 0, f32, pXin >> 2, I, 1, 0, dWih.a, dWih.off);
  if (db !== undefined) {
    w.colsum(pDG, TB, G, pDb);
    copyOut(f32, pDb, db.a, db.off, G);
  }
  return true;
}
