import type { FloatArray } from './index.js';

/**
 * Plain-JS C = A @ B for one matrix (any strides). Used for tiny problems, where staging into wasm memory
 * costs more than the arithmetic, and as the fallback where WebAssembly is unavailable (or, in browsers,
 * until the module has compiled). Dot products accumulate in float64 (JS numbers) in natural order and are
 * rounded once when stored, so float32 results are at least as accurate as the wasm kernel's.
 * Four output columns per pass over k keep the loads of A shared.
 */
export function jsGemm(
  m: number,
  n: number,
  k: number,
  a: FloatArray,
  ao: number,
  ars: number,
  acs: number,
  b: FloatArray,
  bo: number,
  brs: number,
  bcs: number,
  c: FloatArray,
  co: number,
): void {
  if (k === 0) {
    c.fill(0, co, co + m * n);
    return;
  }
  const b2 = 2 * bcs;
  const b3 = 3 * bcs;
  const b4 = 4 * bcs;
  for (let i = 0; i < m; i++) {
    const ai = ao + i * ars;
    const ci = co + i * n;
    let j = 0;
    let bj = bo;
    for (; j + 4 <= n; j += 4, bj += b4) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let pa = ai;
      let pb = bj;
      for (let p = 0; p < k; p++, pa += acs, pb += brs) {
        const x = a[pa]!;
        s0 += x * b[pb]!;
        s1 += x * b[pb + bcs]!;
        s2 += x * b[pb + b2]!;
        s3 += x * b[pb + b3]!;
      }
      c[ci + j] = s0;
      c[ci + j + 1] = s1;
      c[ci + j + 2] = s2;
      c[ci + j + 3] = s3;
    }
    for (; j < n; j++, bj += bcs) {
      let s = 0;
      let pa = ai;
      let pb = bj;
      for (let p = 0; p < k; p++, pa += acs, pb += brs) s += a[pa]! * b[pb]!;
      c[ci + j] = s;
    }
  }
}
