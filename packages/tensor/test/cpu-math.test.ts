/** The CPU backend's inlined float32 exp/tanh/sigmoid against Math's float64 functions. */
import { expect, it } from 'vitest';
import * as T from '../src/index.js';

/** One float32 ulp at `v` (denormal spacing below 2^-126). */
function ulp32(v: number): number {
  const a = Math.abs(v);
  return a < 2 ** -126 ? 2 ** -149 : 2 ** (Math.floor(Math.log2(a)) - 23);
}

it('float32 exp, tanh and sigmoid are within one ulp of the correctly rounded value, including edge values', () => {
  const n = 400000;
  const g = new T.Generator().manualSeed(12345);
  // Wide inputs reach overflow and the denormal range; narrow ones stress the small-|x| paths.
  const xs = new Float32Array(n).map((_, i) =>
    i < 200000 ? (g.nextDouble() - 0.5) * 200 : (g.nextDouble() - 0.5) * 2.4,
  );
  xs[0] = NaN;
  xs[1] = Infinity;
  xs[2] = -Infinity;
  xs[3] = 0;
  xs[4] = -0.0;
  xs[5] = 88.5;
  xs[6] = -103.5;
  const x = T.tensor(xs);
  const fns: [string, (t: T.Tensor) => T.Tensor, (v: number) => number][] = [
    ['exp', (t) => t.exp(), Math.exp],
    ['tanh', (t) => t.tanh(), Math.tanh],
    ['sigmoid', (t) => t.sigmoid(), (v) => 1 / (1 + Math.exp(-v))],
  ];
  for (const [, f, ref] of fns) {
    const got = f(x).dataSync();
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const r = Math.fround(ref(xs[i]!));
      if (Number.isNaN(r)) {
        expect(Number.isNaN(got[i]!)).toBe(true);
        continue;
      }
      if (!Number.isFinite(r)) {
        expect(got[i]).toBe(r);
        continue;
      }
      worst = Math.max(worst, Math.abs(got[i]! - r) / ulp32(r));
    }
    expect(worst).toBeLessThanOrEqual(1);
  }
});

it('erf matches reference values to 1e-14 (gelu uses it)', async () => {
  const { erf } = await import('../src/cpu/math.js');
  const ref: [number, number][] = [
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [2, 0.9953222650189527],
    [3, 0.9999779095030014],
    [-0.1, -0.1124629160182849],
    [4.5, 0.9999999998033839],
  ];
  for (const [x, v] of ref) expect(Math.abs(erf(x) - v)).toBeLessThan(1e-14);
});
