import type { Kernel, KernelAttrs, TensorView } from '../../backend.js';
import { contiguousStrides, numel } from '../../shape.js';
import { type FloatArray, gemmRaw } from '../gemm/index.js';
import { POW2, sigmoidStatements, tanhStatements } from '../math.js';
import { type F32Ref, lstmBackwardWasm, lstmForwardWasm, lstmWasmEligible } from './wasm.js';

/**
 * The CPU's fused LSTM layer (`lstmLayer` / `lstmLayerBackward` of the op table): one kernel call runs
 * a whole sequence of one direction, so a training step costs a handful of dispatches instead of ~15 per
 * time step. The input projection is one GEMM up front; per step, one GEMM `h_{t-1} @ W_hh^T` lands in
 * the gate buffer and one fused loop adds the projection and bias, applies the gate activations and
 * updates `c` and `h`. The backward walks the sequence once (one GEMM per step for `dh_{t-1}`) and
 * finishes `dW_hh`, `dW_ih` and `dx` with one GEMM each over all steps. float32 with H % 4 == 0 runs
 * the same algorithm in the wasm SIMD module (wasm.ts); this file is the scalar JS version.
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

function ref(v: TensorView): F32Ref {
  return { a: v.handle as Float32Array, off: v.offset };
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
 * The recurrence given the input projection: inputs `[xp [T,B,4H], h0, c0, whh [4H,H], bias [4H]?]` (bias
 * when `attrs.hasBias`, the sum of both); outputs as {@link lstmLayerKernel}'s.
 */
const projectedForward: Kernel = (inputs, outputs, attrs: KernelAttrs) => {
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
 * The recurrence's backward: inputs `[gOut, gcN, h0, c0, whh, gates, cells, out]`; outputs `[dXp [T,B,4H],
 * dh0, dc0, dWhh, db?]`.
 */
const projectedBackward: Kernel = (inputs, outputs, attrs: KernelAttrs) => {
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
  // dW_hh = sum_t dGates_t^T @ h_{t-1}: one GEMM over all T * B rows, with h_{t-1} laid out in time
  // order ([h0, out[0..T-2]] forward, [out[1..T-1], h0] reverse).
  const hPrev = new (dGV.dtype === 'float32' ? Float32Array : Float64Array)(T * BH);
  const h0 = arr(h0V).subarray(h0V.offset, h0V.offset + BH);
  const rest = out.subarray(outV.offset + (reverse ? BH : 0), outV.offset + (reverse ? T : T - 1) * BH);
  hPrev.set(h0, reverse ? (T - 1) * BH : 0);
  hPrev.set(rest, reverse ? 0 : BH);
  gemmRaw(G, H, T * B, 1, dG, dGV.offset, 1, G, 0, hPrev, 0, H, 1, 0, dW, dWV.offset);
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

function temp(dtype: TensorView['dtype'], shape: number[]): TensorView & { handle: FloatArray } {
  const n = numel(shape);
  const strides = contiguousStrides(shape);
  return {
    handle: dtype === 'float32' ? new Float32Array(n) : new Float64Array(n),
    dtype,
    shape,
    strides,
    offset: 0,
  };
}

/**
 * Forward of one direction of one layer. Inputs `[x [T,B,I], h0 [B,H], c0 [B,H], wih [4H,I], whh [4H,H],
 * bih [4H], bhh [4H]]` (biases when `attrs.hasBias`); outputs `[out [T,B,H], cN [B,H], gates [T,B,4H]
 * (activated), cells [T,B,H]]`; `attrs.reverse` walks t = T-1 .. 0. The input projection of every step is
 * one GEMM up front; the two biases are added once, summed.
 */
export const lstmLayerKernel: Kernel = (inputs, outputs, attrs: KernelAttrs) => {
  const [xV, h0V, c0V, wihV, whhV, bihV, bhhV] = inputs as [
    TensorView,
    TensorView,
    TensorView,
    TensorView,
    TensorView,
    TensorView?,
    TensorView?,
  ];
  const [T, B, I] = xV.shape as [number, number, number];
  const G = wihV.shape[0] as number;
  const H = G / 4;
  let bias: (TensorView & { handle: FloatArray }) | undefined;
  if (attrs.hasBias === true && bihV !== undefined && bhhV !== undefined) {
    const b = temp(xV.dtype, [G]);
    const bi = arr(bihV);
    const bh = arr(bhhV);
    for (let q = 0; q < G; q++)
      b.handle[q] = (bi[bihV.offset + q] as number) + (bh[bhhV.offset + q] as number);
    bias = b;
  }
  if (xV.dtype === 'float32' && T > 0 && lstmWasmEligible(H)) {
    const [outV, cNV, gatesV, cellsV] = outputs as [TensorView, TensorView, TensorView, TensorView];
    const d = { T, B, H, I, reverse: attrs.reverse === true };
    const done = lstmForwardWasm(
      d,
      ref(xV),
      ref(h0V),
      ref(c0V),
      ref(wihV),
      ref(whhV),
      bias?.handle as Float32Array | undefined,
      ref(outV),
      ref(cNV),
      ref(gatesV),
      ref(cellsV),
    );
    if (done) return;
  }
  const xp = temp(xV.dtype, [T, B, G]);
  gemmRaw(T * B, G, I, 1, arr(xV), xV.offset, I, 1, 0, arr(wihV), wihV.offset, 1, I, 0, xp.handle, 0);
  projectedForward(bias === undefined ? [xp, h0V, c0V, whhV] : [xp, h0V, c0V, whhV, bias], outputs, attrs);
};

/**
 * Backward of {@link lstmLayerKernel}. Inputs `[gOut [T,B,H], gcN [B,H], x, h0, c0, wih, whh, gates, cells,
 * out]`; outputs `[dx [T,B,I], dh0, dc0, dWih [4H,I], dWhh [4H,H], db [4H]]` (`db` when `attrs.hasBias`: the
 * gradient of both biases).
 */
export const lstmLayerBackwardKernel: Kernel = (inputs, outputs, attrs: KernelAttrs) => {
  const [gOutV, gcNV, xV, h0V, c0V, wihV, whhV, gatesV, cellsV, outV] = inputs as TensorView[] as [
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
  const [dxV, dh0V, dc0V, dWihV, dWhhV, dbV] = outputs as [
    TensorView,
    TensorView,
    TensorView,
    TensorView,
    TensorView,
    TensorView?,
  ];
  const [T, B, I] = xV.shape as [number, number, number];
  const G = wihV.shape[0] as number;
  const H = G / 4;
  if (xV.dtype === 'float32' && T > 0 && lstmWasmEligible(H)) {
    const d = { T, B, H, I, reverse: attrs.reverse === true };
    const done = lstmBackwardWasm(
      d,
      ref(gOutV),
      ref(gcNV),
      ref(xV),
      ref(h0V),
      ref(c0V),
      ref(wihV),
      ref(whhV),
      ref(gatesV),
      ref(cellsV),
      ref(outV),
      ref(dxV),
      ref(dh0V),
      ref(dc0V),
      ref(dWihV),
      ref(dWhhV),
      attrs.hasBias === true && dbV !== undefined ? ref(dbV) : undefined,
    );
    if (done) return;
  }
  const dG = temp(xV.dtype, [T, B, G]);
  const rest = dbV === undefined ? [dG, dh0V, dc0V, dWhhV] : [dG, dh0V, dc0V, dWhhV, dbV];
  projectedBackward([gOutV, gcNV, h0V, c0V, whhV, gatesV, cellsV, outV], rest, attrs);
  // dx = dGates @ W_ih and dW_ih = dGates^T @ x, each one GEMM over all T * B rows.
  gemmRaw(T * B, I, G, 1, dG.handle, 0, G, 1, 0, arr(wihV), wihV.offset, I, 1, 0, arr(dxV), dxV.offset);
  gemmRaw(G, I, T * B, 1, dG.handle, 0, 1, G, 0, arr(xV), xV.offset, I, 1, 0, arr(dWihV), dWihV.offset);
};
