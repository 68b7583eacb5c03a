/**
 * Matrix multiply of the CPU backend (synchronous).
 *
 * - Tiny problems run a plain-JS kernel (no staging, no allocation).
 * - Everything else runs a WebAssembly SIMD packed-panel GEMM (Goto/BLIS blocking, 5x8 f32x4 / 5x4 f64x2
 *   register-tiled micro-kernel; see scripts/build-gemm-wasm.mjs and wasm.ts). In Node, problems from
 *   ~64^3 multiply-adds up are cut into tasks that worker threads (shared wasm memory) and the caller claim
 *   dynamically; the caller returns once all tasks are done, so the call stays synchronous.
 * - Browsers: single-threaded wasm (the main thread may not Atomics.wait; no shared memory without
 *   cross-origin isolation); the JS kernel until the module compiled where synchronous compilation is refused.
 */
import { jsGemm } from './js-kernel.js';
import { setThreads, wasmAvailable, wasmGemm } from './wasm.js';

export type FloatArray = Float32Array | Float64Array;
/** C = A @ B for one matrix (overwrites C). A[i,p] = a[aOffset + i*aRowStride + p*aColStride];
 *  B[p,j] = b[bOffset + p*bRowStride + j*bColStride]; C is written row-major contiguous: c[cOffset + i*n + j].
 *  Strides may be any integers (including 0 for broadcast, and transposed layouts). a, b, c have the same element type. */
export interface GemmArgs<T extends FloatArray> {
  m: number;
  n: number;
  k: number;
  a: T;
  aOffset: number;
  aRowStride: number;
  aColStride: number;
  b: T;
  bOffset: number;
  bRowStride: number;
  bColStride: number;
  c: T;
  cOffset: number;
}

/** At most this many multiply-adds per call go to the JS kernel (staging into wasm costs ~2.5 us a call, measured). */
const JS_MAX_MACS = 2048;
/** Batches of matrices this small (multiply-adds each) stay in JS (wasm costs ~30 ns per matrix). */
const JS_MAX_MACS_PER_MATRIX = 64;

/** C = A @ B for one matrix (overwrites C). */
export function gemm<T extends FloatArray>(args: GemmArgs<T>): void {
  gemmRaw(
    args.m,
    args.n,
    args.k,
    1,
    args.a,
    args.aOffset,
    args.aRowStride,
    args.aColStride,
    0,
    args.b,
    args.bOffset,
    args.bRowStride,
    args.bColStride,
    0,
    args.c,
    args.cOffset,
  );
}

/** Batched: for each batch index t in [0, batch): A offset aOffset + t*aBatchStride, B offset bOffset + t*bBatchStride, C offset cOffset + t*m*n. */
export function gemmBatched<T extends FloatArray>(
  args: GemmArgs<T> & { batch: number; aBatchStride: number; bBatchStride: number },
): void {
  gemmRaw(
    args.m,
    args.n,
    args.k,
    args.batch,
    args.a,
    args.aOffset,
    args.aRowStride,
    args.aColStride,
    args.aBatchStride,
    args.b,
    args.bOffset,
    args.bRowStride,
    args.bColStride,
    args.bBatchStride,
    args.c,
    args.cOffset,
  );
}

/**
 * {@link gemmBatched} with positional arguments: the hot path of small matmuls (an LSTM step), where
 * building and spreading an argument object cost more than the multiply itself.
 */
export function gemmRaw(
  m: number,
  n: number,
  k: number,
  batch: number,
  a: FloatArray,
  aOffset: number,
  aRowStride: number,
  aColStride: number,
  aBatchStride: number,
  b: FloatArray,
  bOffset: number,
  bRowStride: number,
  bColStride: number,
  bBatchStride: number,
  c: FloatArray,
  cOffset: number,
): void {
  if (m <= 0 || n <= 0 || batch <= 0) return;
  const mn = m * n;
  if (k <= 0) {
    c.fill(0, cOffset, cOffset + batch * mn);
    return;
  }
  if (
    mn * k * batch > JS_MAX_MACS &&
    mn * k > JS_MAX_MACS_PER_MATRIX &&
    wasmAvailable() &&
    wasmGemm(
      m,
      n,
      k,
      batch,
      a,
      aOffset,
      aRowStride,
      aColStride,
      aBatchStride,
      b,
      bOffset,
      bRowStride,
      bColStride,
      bBatchStride,
      c,
      cOffset,
    )
  )
    return;
  for (let t = 0; t < batch; t++) {
    jsGemm(
      m,
      n,
      k,
      a,
      aOffset + t * aBatchStride,
      aRowStride,
      aColStride,
      b,
      bOffset + t * bBatchStride,
      bRowStride,
      bColStride,
      c,
      cOffset + t * mn,
    );
  }
}

/** Configure worker threads (Node only): 0 disables; default = min(availableParallelism, 4).
 *  `n` counts the calling thread too (it always takes a share), so 2 = the caller + 1 worker; 0 and 1 both
 *  mean the caller only (existing workers are asked to exit). */
export function setGemmThreads(n: number): void {
  setThreads(n);
}
