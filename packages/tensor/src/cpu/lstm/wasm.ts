/**
 * The float32 fused LSTM on wasm SIMD: the sequence's tensors are copied once into the module's own
 * memory, the per-step GEMMs (the shared GEMM engine) read and write views of that memory, and the gate
 * activations, state updates and their backward run four lanes at a time (lstm.wat). Used when H is a
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
  mm(a: number, w: number, out: number, rows: number, inner: number, cols: number): void;
  atb(a: number, b: number, out: number, rows: number, acols: number, bcols: number): void;
}

/** Products up to this many multiply-adds run in the module (a GEMM call costs ~2.5 us to set up). */
const SMALL_MACS = 32768;

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

/** Forward of one direction (see lstmLayerKernel); returns false when memory could not grow. */
export function lstmForwardWasm(
  T: number,
  B: number,
  H: number,
  reverse: boolean,
  xp: Float32Array,
  xpOff: number,
  h0: Float32Array,
  h0Off: number,
  c0: Float32Array,
  c0Off: number,
  whh: Float32Array,
  whhOff: number,
  bhh: Float32Array | undefined,
  bhhOff: number,
  out: Float32Array,
  outOff: number,
  cN: Float32Array,
  cNOff: number,
  gates: Float32Array,
  gatesOff: number,
  cells: Float32Array,
  cellsOff: number,
): boolean {
  const w = load() as LSTMExports;
  const G = 4 * H;
  const BG = B * G;
  const BH = B * H;
  const a = new Arena();
  const pX = a.alloc(T * BG);
  const pG = a.alloc(T * BG);
  const pC = a.alloc(T * BH);
  const pH = a.alloc(T * BH);
  const pH0 = a.alloc(BH);
  const pC0 = a.alloc(BH);
  const pB = bhh === undefined ? 0 : a.alloc(G);
  const small = B * G * H <= SMALL_MACS;
  const pWT = small ? a.alloc(H * G) : 0;
  const f32 = a.view();
  if (f32 === undefined) return false;
  if (small) {
    // W_hh^T [H, 4H], so the in-module product reads rows of it.
    const base = pWT >> 2;
    for (let r = 0; r < G; r++)
      for (let q = 0; q < H; q++) f32[base + q * G + r] = whh[whhOff + r * H + q] as number;
  }
  copyIn(f32, pX, xp, xpOff, T * BG);
  copyIn(f32, pH0, h0, h0Off, BH);
  copyIn(f32, pC0, c0, c0Off, BH);
  if (bhh !== undefined) copyIn(f32, pB, bhh, bhhOff, G);
  let hPrev = pH0;
  let cPrev = pC0;
  for (let k = 0; k < T; k++) {
    const t = reverse ? T - 1 - k : k;
    const g = pG + t * BG * 4;
    // gates_t = h_{t-1} @ W_hh^T (W_hh is [4H, H] row-major, read transposed).
    if (small) w.mm(hPrev, pWT, g, B, H, G);
    else gemmRaw(B, G, H, 1, f32, hPrev >> 2, H, 1, 0, whh, whhOff, 1, H, 0, f32, g >> 2);
    const c = pC + t * BH * 4;
    const h = pH + t * BH * 4;
    w.fwd(g, pX + t * BG * 4, pB, cPrev, c, h, B, H);
    hPrev = h;
    cPrev = c;
  }
  copyOut(f32, pH, out, outOff, T * BH);
  copyOut(f32, pG, gates, gatesOff, T * BG);
  copyOut(f32, pC, cells, cellsOff, T * BH);
  copyOut(f32, cPrev, cN, cNOff, BH);
  return true;
}

/** Backward of one direction (see lstmLayerBackwardKernel); returns false when memory could not grow. */
export function lstmBackwardWasm(
  T: number,
  B: number,
  H: number,
  reverse: boolean,
  gOut: Float32Array,
  gOutOff: number,
  gcN: Float32Array,
  gcNOff: number,
  h0: Float32Array,
  h0Off: number,
  c0: Float32Array,
  c0Off: number,
  whh: Float32Array,
  whhOff: number,
  gates: Float32Array,
  gatesOff: number,
  cells: Float32Array,
  cellsOff: number,
  out: Float32Array,
  outOff: number,
  dXp: Float32Array,
  dXpOff: number,
  dh0: Float32Array,
  dh0Off: number,
  dc0: Float32Array,
  dc0Off: number,
  dW: Float32Array,
  dWOff: number,
  db: Float32Array | undefined,
  dbOff: number,
): boolean {
  const w = load() as LSTMExports;
  const G = 4 * H;
  const BG = B * G;
  const BH = B * H;
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
  const small = B * G * H <= SMALL_MACS;
  const pW = small ? a.alloc(G * H) : 0;
  const smallW = T * B * G * H <= SMALL_MACS;
  const pDW = smallW ? a.alloc(G * H) : 0;
  const f32 = a.view();
  if (f32 === undefined) return false;
  copyIn(f32, pG, gates, gatesOff, T * BG);
  copyIn(f32, pC, cells, cellsOff, T * BH);
  copyIn(f32, pGo, gOut, gOutOff, T * BH);
  copyIn(f32, pC0, c0, c0Off, BH);
  copyIn(f32, pDc, gcN, gcNOff, BH);
  if (small) copyIn(f32, pW, whh, whhOff, G * H);
  if (reverse) {
    copyIn(f32, pHp, out, outOff + BH, (T - 1) * BH);
    copyIn(f32, pHp + (T - 1) * BH * 4, h0, h0Off, BH);
  } else {
    copyIn(f32, pHp, h0, h0Off, BH);
    copyIn(f32, pHp + BH * 4, out, outOff, (T - 1) * BH);
  }
  f32.fill(0, pDh >> 2, (pDh >> 2) + BH);
  for (let k = T - 1; k >= 0; k--) {
    const t = reverse ? T - 1 - k : k;
    const prevT = reverse ? t + 1 : t - 1;
    const cp = k === 0 ? pC0 : pC + prevT * BH * 4;
    const dg = pDG + t * BG * 4;
    w.bwd(pG + t * BG * 4, pC + t * BH * 4, cp, pGo + t * BH * 4, pDh, pDc, dg, B, H);
    // dh_{t-1} = dGates_t @ W_hh.
    if (small) w.mm(dg, pW, pDh, B, G, H);
    else gemmRaw(B, H, G, 1, f32, dg >> 2, G, 1, 0, whh, whhOff, H, 1, 0, f32, pDh >> 2);
  }
  copyOut(f32, pDh, dh0, dh0Off, BH);
  copyOut(f32, pDc, dc0, dc0Off, BH);
  // dW_hh = sum_t dGates_t^T @ h_{t-1}: one product over the T * B rows (both in time order).
  if (smallW) {
    w.atb(pDG, pHp, pDW, T * B, G, H);
    copyOut(f32, pDW, dW, dWOff, G * H);
  } else gemmRaw(G, H, T * B, 1, f32, pDG >> 2, 1, G, 0, f32, pHp >> 2, H, 1, 0, dW, dWOff);
  if (db !== undefined) {
    w.colsum(pDG, T * B, G, pDb);
    copyOut(f32, pDb, db, dbOff, G);
  }
  copyOut(f32, pDG, dXp, dXpOff, T * BG);
  return true;
}
