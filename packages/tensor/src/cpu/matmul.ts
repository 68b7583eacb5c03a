import type { Kernel } from '../backend.js';
import type { TypedArray } from '../dtype.js';
import { type FloatArray, gemmRaw } from './gemm/index.js';
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
  const isFloat = a.dtype === 'float32' || a.dtype === 'float64';
  // `batch` matrices whose A/B offsets advance by a fixed stride; C is contiguous (stride m*n).
  const run = (aOff: number, bOff: number, cOff: number, batch: number, aBs: number, bBs: number) => {
    if (isFloat) {
      gemmRaw(
        m,
        n,
        k,
        batch,
        aa as FloatArray,
        aOff,
        ars,
        acs,
        aBs,
        ba as FloatArray,
        bOff,
        brs,
        bcs,
        bBs,
        oa as FloatArray,
        cOff,
      );
    } else {
      for (let t = 0; t < batch; t++)
        intGemm(aa, aOff + t * aBs, ars, acs, ba, bOff + t * bBs, brs, bcs, oa, cOff + t * m * n, m, n, k);
    }
  };
  if (batchShape.length === 0) {
    run(a.offset, b.offset, o.offset, 1, 0, 0);
    return;
  }
  // Coalesce the batch dims of (a, b, out); each inner row is one gemmBatched call (one staging pass).
  const outBatchStrides = batchShape.map((_, i) => o.strides[i]!);
  const p = plan(batchShape, [a.strides.slice(0, nd - 2), b.strides.slice(0, nd - 2), outBatchStrides]);
  const [sa, sb] = p.strides.map((s) => s.at(-1)!) as [number, number, number];
  forEachRow(p, [a.offset, b.offset, o.offset], (off, rows) => run(off[0]!, off[1]!, off[2]!, rows, sa, sb));
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
