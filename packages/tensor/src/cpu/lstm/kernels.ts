import type { Kernel, KernelAttrs, TensorView } from '../../backend.js';
import { type FloatArray, gemmRaw } from '../gemm/index.js';
import { POW2, sigmoidStatements, tanhStatements } from '../math.js';
import { lstmBackwardWasm, lstmForwardWasm, lstmWasmEligible } from './wasm.js';

/**
 * The CPU's fused LSTM layer (`lstmLayer` / `lstmLayerBackward` of the op table): one kernel call runs
 * a whole sequence of one direction, so a training step costs a handful of dispatches instead of ~15 per
 * time step. Per step, one GEMM `h_{t-1} @ W_hh^T` lands in the gate buffer and one fused loop adds the
 * input projection and bias, applies the gate activations and updates `c` and `h`. The backward walks
 * the sequence once (one GEMM per step for `dh_{t-1}`) and finishes `dW_hh` with a single GEMM over
 * all steps.
 *
 * Layouts (every view contiguous, any offset): gates `[T, B, 4H]` in PyTorch's order i, f, g, o.
 */

type Scalar = (x: number) => number;

// float32: the inlined polynomial exp of the elementwise kernels (float64 math, below one float32 ulp);
// float64: Math's functions, so float64 results stay within a few ulps of PyTorch's.
const fast = new Function(
  'H',
  `return [function (x) { let y = 0; ${sigmoidStatements('x', 'y')} return y; },
           function (x) { let y = 0; ${tanhStatements('x', 'y')} return y; }];`,
)({ POW2 }) as [Scalar, Scalar];
const sigmoid32 = fast[0];
const tanh32 = fast[1];
const sigmoid64: Scalar = (x) => 1 / (1 + Math.exp(-x));
const tanh64: Scalar = Math.tanh;

function arr(v: TensorView): FloatArray {
  return v.handle as FloatArray;
}

/** C[m, n] = A[m, k] @ B^T where B is `[n, k]` row-major (so B^T is read with swapped strides). */
function gemmABt(
  m: number,
  n: number,
  k: number,
  a: FloatArray,
  aOff: number,
  b: FloatArray,
  bOff: number,
  c: FloatArray,
  cOff: number,
): void {
  gemmRaw(m, n, k, 1, a, aOff, k, 1, 0, b, bOff, 1, k, 0, c, cOff);
}

function dims(xp: TensorView, h0: TensorView): { T: number; B: number; H: number } {
  return { T: xp.shape[0] as number, B: h0.shape[0] as number, H: h0.shape[1] as number };
}

/**
 * Forward. Inputs `[xp [T,B,4H], h0 [B,H], c0 [B,H], whh [4H,H], bhh [4H]?]` (xp already holds
 * `x @ W_ih^T + b_ih`); outputs `[out [T,B,H], cN [B,H], gates [T,B,4H] (activated), cells [T,B,H]]`;
 * attrs `reverse` (walk t = T-1 .. 0), `hasBias`.
 */
export const lstmLayerKernel: Kernel = (inputs, outputs, attrs: KernelAttrs) => {
  const [xpV, h0V, c0V, whhV, bhhV] = inputs as [TensorView, TensorView, TensorView, TensorView, TensorView?];
  const [outV, cNV, gatesV, cellsV] = outputs as [TensorView, TensorView, TensorView, TensorView];
  const { T, B, H } = dims(xpV, h0V);
  const reverse = attrs.reverse === true;
  const is32 = xpV.dtype === 'float32';
  const sig = is32 ? sigmoid32 : sigmoid64;
  const th = is32 ? tanh32 : tanh64;
  const xp = arr(xpV);
  const h0 = arr(h0V);
  const c0 = arr(c0V);
  const whh = arr(whhV);
  const bhh = attrs.hasBias === true && bhhV !== undefined ? arr(bhhV) : undefined;
  const bOff = bhhV?.offset ?? 0;
  const out = arr(outV);
  const gates = arr(gatesV);
  const cells = arr(cellsV);
  if (
    is32 &&
    T > 0 &&
    lstmWasmEligible(H) &&
    lstmForwardWasm(
      T,
      B,
      H,
      reverse,
      xp as Float32Array,
      xpV.offset,
      h0 as Float32Array,
      h0V.offset,
      c0 as Float32Array,
      c0V.offset,
      whh as Float32Array,
      whhV.offset,
      bhh as Float32Array | undefined,
      bOff,
      out as Float32Array,
      outV.offset,
      arr(cNV) as Float32Array,
      cNV.offset,
      gates as Float32Array,
      gatesV.offset,
      cells as Float32Array,
      cellsV.offset,
    )
  )
    return;
  const G = 4 * H;
  const BG = B * G;
  const BH = B * H;
  let hArr = h0;
  let hOff = h0V.offset;
  let cArr = c0;
  let cOff = c0V.offset;
  for (let k = 0; k < T; k++) {
    const t = reverse ? T - 1 - k : k;
    const gOff = gatesV.offset + t * BG;
    gemmABt(B, G, H, hArr, hOff, whh, whhV.offset, gates, gOff);
    const xOff = xpV.offset + t * BG;
    const oOff = outV.offset + t * BH;
    const ccOff = cellsV.offset + t * BH;
    for (let b = 0; b < B; b++) {
      const row = gOff + b * G;
      const xrow = xOff + b * G;
      const hrow = b * H;
      for (let j = 0; j < H; j++) {
        const r = row + j;
        const xr = xrow + j;
        let zi = gates[r]! + xp[xr]!;
        let zf = gates[r + H]! + xp[xr + H]!;
        let zg = gates[r + 2 * H]! + xp[xr + 2 * H]!;
        let zo = gates[r + 3 * H]! + xp[xr + 3 * H]!;
        if (bhh !== undefined) {
          zi += bhh[bOff + j]!;
          zf += bhh[bOff + H + j]!;
          zg += bhh[bOff + 2 * H + j]!;
          zo += bhh[bOff + 3 * H + j]!;
        }
        const i = sig(zi);
        const f = sig(zf);
        const g = th(zg);
        const o = sig(zo);
        gates[r] = i;
        gates[r + H] = f;
        gates[r + 2 * H] = g;
        gates[r + 3 * H] = o;
        const c = f * cArr[cOff + hrow + j]! + i * g;
        cells[ccOff + hrow + j] = c;
        out[oOff + hrow + j] = o * th(c);
      }
    }
    hArr = out;
    hOff = oOff;
    cArr = cells;
    cOff = ccOff;
  }
  const cN = arr(cNV);
  if (T === 0) for (let e = 0; e < BH; e++) cN[cNV.offset + e] = c0[c0V.offset + e]!;
  else for (let e = 0; e < BH; e++) cN[cNV.offset + e] = cArr[cOff + e]!;
};

/**
 * Backward. Inputs `[gOut [T,B,H], gcN [B,H], h0, c0, whh, gates, cells, out]` (the forward's saved
 * tensors); outputs `[dGates [T,B,4H] (= d xp), dh0 [B,H], dc0 [B,H], dWhh [4H,H], dbhh [4H]?]`.
 */
export const lstmLayerBackwardKernel: Kernel = (inputs, outputs, attrs: KernelAttrs) => {
  const [gOutV, gcNV, h0V, c0V, whhV, gatesV, cellsV, outV] = inputs as TensorView[] as [
    TensorView,
    TensorView,
    TensorView,
    TensorView,
    TensorView,
    TensorView,
    TensorView,
    TensorView,
  ];
  const [dGV, dh0V, dc0V, dWV, dbV] = outputs as [
    TensorView,
    TensorView,
    TensorView,
    TensorView,
    TensorView?,
  ];
  const { T, B, H } = dims(gatesV, h0V);
  const reverse = attrs.reverse === true;
  const th = gatesV.dtype === 'float32' ? tanh32 : tanh64;
  const G = 4 * H;
  const BG = B * G;
  const BH = B * H;
  const gOut = arr(gOutV);
  const gcN = arr(gcNV);
  const c0 = arr(c0V);
  const whh = arr(whhV);
  const gates = arr(gatesV);
  const cells = arr(cellsV);
  const out = arr(outV);
  const dG = arr(dGV);
  const dh0 = arr(dh0V);
  const dc0 = arr(dc0V);
  const dW = arr(dWV);
  const hasBias = dbV !== undefined && attrs.hasBias === true;
  if (
    gatesV.dtype === 'float32' &&
    T > 0 &&
    lstmWasmEligible(H) &&
    lstmBackwardWasm(
      T,
      B,
      H,
      reverse,
      gOut as Float32Array,
      gOutV.offset,
      gcN as Float32Array,
      gcNV.offset,
      arr(h0V) as Float32Array,
      h0V.offset,
      c0 as Float32Array,
      c0V.offset,
      whh as Float32Array,
      whhV.offset,
      gates as Float32Array,
      gatesV.offset,
      cells as Float32Array,
      cellsV.offset,
      out as Float32Array,
      outV.offset,
      dG as Float32Array,
      dGV.offset,
      dh0 as Float32Array,
      dh0V.offset,
      dc0 as Float32Array,
      dc0V.offset,
      dW as Float32Array,
      dWV.offset,
      hasBias ? (arr(dbV as TensorView) as Float32Array) : undefined,
      dbV?.offset ?? 0,
    )
  )
    return;
  // dh and dc of the step being processed; dh is rewritten by each step's GEMM.
  const dh = new (dGV.dtype === 'float32' ? Float32Array : Float64Array)(BH);
  const dc = new Float64Array(BH);
  for (let e = 0; e < BH; e++) dc[e] = gcN[gcNV.offset + e]!;
  for (let k = T - 1; k >= 0; k--) {
    const t = reverse ? T - 1 - k : k;
    const first = k === 0;
    const prevT = reverse ? t + 1 : t - 1;
    const cPrev = first ? c0 : cells;
    const cPrevOff = first ? c0V.offset : cellsV.offset + prevT * BH;
    const gOff = gatesV.offset + t * BG;
    const dOff = dGV.offset + t * BG;
    const goOff = gOutV.offset + t * BH;
    const cOff = cellsV.offset + t * BH;
    for (let b = 0; b < B; b++) {
      const row = gOff + b * G;
      const drow = dOff + b * G;
      for (let j = 0; j < H; j++) {
        const e = b * H + j;
        const i = gates[row + j]!;
        const f = gates[row + H + j]!;
        const g = gates[row + 2 * H + j]!;
        const o = gates[row + 3 * H + j]!;
        const dhe = dh[e]! + gOut[goOff + e]!;
        const tc = th(cells[cOff + e]!);
        const dce = dc[e]! + dhe * o * (1 - tc * tc);
        dG[drow + j] = dce * g * i * (1 - i);
        dG[drow + H + j] = dce * cPrev[cPrevOff + e]! * f * (1 - f);
        dG[drow + 2 * H + j] = dce * i * (1 - g * g);
        dG[drow + 3 * H + j] = dhe * tc * o * (1 - o);
        dc[e] = dce * f;
      }
    }
    // dh_{t-1} = dGates_t @ W_hh.
    gemmRaw(B, H, G, 1, dG, dOff, G, 1, 0, whh, whhV.offset, H, 1, 0, dh, 0);
  }
  for (let e = 0; e < BH; e++) {
    dh0[dh0V.offset + e] = T === 0 ? 0 : dh[e]!;
    dc0[dc0V.offset + e] = dc[e]!;
  }
  if (T === 0) return;
  // dW_hh = sum_t dGates_t^T @ h_{t-1}: the first processed step pairs with h0, the others with the
  // output rows one step behind, which are contiguous in both directions.
  const first = reverse ? T - 1 : 0;
  const dTmp = new (dGV.dtype === 'float32' ? Float32Array : Float64Array)(G * H);
  const dGt = (
    off: number,
    rows: number,
    hArr: FloatArray,
    hOff: number,
    c: FloatArray,
    cOff: number,
  ): void => gemmRaw(G, H, rows, 1, dG, off, 1, G, 0, hArr, hOff, H, 1, 0, c, cOff);
  dGt(dGV.offset + first * BG, B, arr(h0V), h0V.offset, dW, dWV.offset);
  if (T > 1) {
    const dRest = dGV.offset + (reverse ? 0 : BG);
    const hRest = outV.offset + (reverse ? BH : 0);
    dGt(dRest, (T - 1) * B, out, hRest, dTmp, 0);
    for (let e = 0; e < G * H; e++) dW[dWV.offset + e] = dW[dWV.offset + e]! + dTmp[e]!;
  }
  if (hasBias) {
    const db = arr(dbV as TensorView);
    const acc = new Float64Array(G);
    for (let r = 0; r < T * B; r++) {
      const off = dGV.offset + r * G;
      for (let q = 0; q < G; q++) acc[q] = acc[q]! + dG[off + q]!;
    }
    for (let q = 0; q < G; q++) db[dbV.offset + q] = acc[q]!;
  }
};
