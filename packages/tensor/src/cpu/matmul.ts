import type { Kernel } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import { type FloatArray, gemm } from './gemm/index.js';
import { forEachRow, plan } from './iter.js';

/**
 * The batched `matmul` kernel: a [...batch, M, K] @ b [...batch, K, N] -> out [...batch, M, N].
 * Float dtypes go to the blocked/SIMD GEMM; int32 (rare: seed 004's integer example) runs a plain loop.
 */
export const matmulKernel: Kernel = (inputs, outputs) => {
  const a = inputs[0]!;
  const b = inputs[1]!;
  const o = outputs[0]!;
  const nd = o.shape.length;
  const m = o.shape[nd - 2]!;
  const n = o.shape[nd - 1]!;
  const k = a.shape[nd - 1]!;
  const batchShape = o.shape.slice(0, nd - 2);
  const ars = a.strides[nd - 2]!;
  const acs = a.strides[nd - 1]!;
  const brs = b.strides[nd - 2]!;
  const bcs = b.strides[nd - 1]!;
  const aa = a.handle as TypedArray;
  const ba = b.handle as TypedArray;
  const oa = o.handle as TypedArray;
  const one = (aOff: number, bOff: number, cOff: number) => {
    if (a.dtype === 'float32' || a.dtype === 'float64') {
      gemm({
        m,
        n,
        k,
        a: aa as FloatArray,
        aOffset: aOff,
        aRowStride: ars,
        aColStride: acs,
        b: ba as FloatArray,
        bOffset: bOff,
        bRowStride: brs,
        bColStride: bcs,
        c: oa as FloatArray,
        cOffset: cOff,
      });
    } else {
      intGemm(aa, aOff, ars, acs, ba, bOff, brs, bcs, oa, cOff, m, n, k);
    }
  };
  if (batchShape.length === 0) {
    one(a.offset, b.offset, o.offset);
    return;
  }
  // Batch dims iterate like an elementwise op over (a, b, out) batch offsets.
  const outBatchStrides = batchShape.map((_, i) => o.strides[i]!);
  const p = plan(batchShape, [a.strides.slice(0, nd - 2), b.strides.slice(0, nd - 2), outBatchStrides]);
  const [sa, sb, so] = p.strides.map((s) => s.at(-1)!) as [number, number, number];
  forEachRow(p, [a.offset, b.offset, o.offset], (off, rows) => {
    let ao = off[0]!;
    let bo = off[1]!;
    let oo = off[2]!;
    for (let r = 0; r < rows; r++, ao += sa, bo += sb, oo += so) one(ao, bo, oo);
  });
};

function intGemm(
  a: TypedArray,
  ao: number,
  ars: number,
  acs: number,
  b: TypedArray,
  bo: number,
  brs: number,
  bcs: number,
  c: TypedArray,
  co: number,
  m: number,
  n: number,
  k: number,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++)
        s = (s + Math.imul(a[ao + i * ars + p * acs]!, b[bo + p * brs + j * bcs]!)) | 0;
      c[co + i * n + j] = s;
    }
  }
}
