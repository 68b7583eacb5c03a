import { afterAll, describe, expect, it } from 'vitest';
import { type FloatArray, type GemmArgs, gemm, gemmBatched, setGemmThreads } from '../src/cpu/gemm/index.js';
import { jsGemm } from '../src/cpu/gemm/js-kernel.js';
import {
  lastThreads,
  lastWorkerTasks,
  reinitForTests,
  setThreadPolicyForTests,
  setTuningClockForTests,
  warmThreads,
  wasmAvailable,
} from '../src/cpu/gemm/wasm.js';

type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;

/** Deterministic PRNG (mulberry32) + Box-Muller normals. */
function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

function randArray(C: Ctor, len: number, seed: number): FloatArray {
  const r = rng(seed);
  const x = new C(len);
  for (let i = 0; i < len; i++) x[i] = r();
  return x;
}

interface Layout {
  off: number;
  rs: number;
  cs: number;
  len: number;
}

/** Layout of a rows x cols operand: 'n' row-major, 't' column-major, 's' strided slice, 'r' reversed rows,
 *  'b0' broadcast rows (row stride 0), 'b1' broadcast columns (col stride 0). */
function layout(kind: string, rows: number, cols: number, pad: number): Layout {
  switch (kind) {
    case 'n':
      return { off: pad, rs: cols, cs: 1, len: pad + rows * cols };
    case 't':
      return { off: pad, rs: 1, cs: rows, len: pad + rows * cols };
    case 's':
      return { off: pad + 1, rs: 2 * cols + 3, cs: 2, len: pad + 1 + rows * (2 * cols + 3) };
    case 'r':
      return { off: pad + (rows - 1) * cols, rs: -cols, cs: 1, len: pad + rows * cols };
    case 'b0':
      return { off: pad, rs: 0, cs: 1, len: pad + cols };
    case 'b1':
      return { off: pad, rs: 1, cs: 0, len: pad + rows };
    default:
      throw new Error(kind);
  }
}

/** Naive float64 reference, plus sum_p |a||b| per element (the scale of the rounding error). */
function reference(args: GemmArgs<FloatArray>): { ref: Float64Array; scale: Float64Array } {
  const { m, n, k, a, b } = args;
  const ref = new Float64Array(m * n);
  const scale = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let t = 0;
      for (let p = 0; p < k; p++) {
        const x = a[args.aOffset + i * args.aRowStride + p * args.aColStride]!;
        const y = b[args.bOffset + p * args.bRowStride + j * args.bColStride]!;
        s += x * y;
        t += Math.abs(x * y);
      }
      ref[i * n + j] = s;
      scale[i * n + j] = t;
    }
  }
  return { ref, scale };
}

/** Sequential float32 accumulation (mul, round, add, round) in natural p order. */
function referenceF32Sequential(args: GemmArgs<FloatArray>): Float32Array {
  const { m, n, k, a, b } = args;
  const out = new Float32Array(m * n);
  const f = Math.fround;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        const x = a[args.aOffset + i * args.aRowStride + p * args.aColStride]!;
        const y = b[args.bOffset + p * args.bRowStride + j * args.bColStride]!;
        s = f(s + f(x * y));
      }
      out[i * n + j] = s;
    }
  }
  return out;
}

function makeArgs(
  C: Ctor,
  m: number,
  n: number,
  k: number,
  ak: string,
  bk: string,
  seed: number,
  cOffset = 3,
): GemmArgs<FloatArray> {
  const la = layout(ak, m, k, 2);
  const lb = layout(bk, k, n, 5);
  const a = randArray(C, Math.max(la.len, 1), seed);
  const b = randArray(C, Math.max(lb.len, 1), seed + 1);
  const c = new C(cOffset + m * n + 4).fill(Number.NaN);
  return {
    m,
    n,
    k,
    a,
    aOffset: la.off,
    aRowStride: la.rs,
    aColStride: la.cs,
    b,
    bOffset: lb.off,
    bRowStride: lb.rs,
    bColStride: lb.cs,
    c,
    cOffset,
  };
}

function check(args: GemmArgs<FloatArray>, tol: number): void {
  const { m, n, c, cOffset } = args;
  const { ref, scale } = reference(args);
  let worst = 0;
  for (let i = 0; i < m * n; i++) {
    const got = c[cOffset + i]!;
    const err = Math.abs(got - ref[i]!) / (scale[i]! + 1e-300);
    if (!(err <= worst)) worst = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err;
  }
  if (m * n > 0) expect(worst).toBeLessThanOrEqual(tol);
  // Nothing outside C[cOffset, cOffset + m*n) was written (the buffer was NaN-filled).
  for (let i = 0; i < cOffset; i++) expect(c[i]).toBeNaN();
  for (let i = cOffset + m * n; i < c.length; i++) expect(c[i]).toBeNaN();
}

const TOL = { f32: 2e-6, f64: 1e-14 };
const dtypes: [string, Ctor, number][] = [
  ['f32', Float32Array, TOL.f32],
  ['f64', Float64Array, TOL.f64],
];

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [2, 2, 2],
  [1, 5, 1],
  [5, 1, 3],
  [7, 13, 5],
  [8, 8, 8],
  [10, 16, 9],
  [33, 65, 17],
  [64, 256, 8],
  [64, 256, 64],
  [1, 256, 64],
  [6, 9, 300],
  [37, 41, 600],
  [250, 40, 20],
  [129, 257, 63],
];

afterAll(() => {
  setGemmThreads(2);
  setThreadPolicyForTests('auto');
});

describe.each([
  ['threads off', 0],
  ['2 threads', 2],
])('gemm (%s)', (_name, threads) => {
  it('has wasm and the requested workers', () => {
    setGemmThreads(threads);
    // With threads: offer every wasm call to all of them (by default that depends on size and timing).
    setThreadPolicyForTests(threads > 1 ? 'always' : 'auto');
    expect(wasmAvailable()).toBe(true);
    expect(warmThreads(20_000)).toBe(Math.max(1, threads));
  });

  describe.each(dtypes)('%s', (_dt, C, tol) => {
    it.each(SHAPES)('contiguous %i x %i x %i', (m, n, k) => {
      setGemmThreads(threads);
      const args = makeArgs(C, m, n, k, 'n', 'n', m * 1000 + n * 10 + k);
      gemm(args);
      check(args, tol);
    });

    it.each(['t', 's', 'r', 'b0', 'b1'])('A layout %s', (ak) => {
      setGemmThreads(threads);
      for (const [m, n, k] of [
        [7, 13, 5],
        [33, 65, 17],
        [129, 70, 300],
      ] as const) {
        const args = makeArgs(C, m, n, k, ak, 'n', m + n + k);
        gemm(args);
        check(args, tol);
      }
    });

    it.each(['t', 's', 'r', 'b0', 'b1'])('B layout %s', (bk) => {
      setGemmThreads(threads);
      for (const [m, n, k] of [
        [7, 13, 5],
        [33, 65, 17],
        [70, 129, 300],
      ] as const) {
        const args = makeArgs(C, m, n, k, 'n', bk, m * n + k);
        gemm(args);
        check(args, tol);
      }
    });

    it('both transposed, and a large threaded problem', () => {
      setGemmThreads(threads);
      const args = makeArgs(C, 300, 260, 270, 't', 't', 42);
      gemm(args);
      check(args, tol);
      if (threads > 1) expect(lastThreads).toBe(threads);
    });

    it('gathers operands whose span is mostly gaps', () => {
      setGemmThreads(threads);
      // A: 20 x 10 block with a huge row stride (a column slice of a wide matrix).
      const m = 20;
      const k = 10;
      const n = 30;
      const a = randArray(C, 1 + 19 * 50_000 + 10, 7);
      const b = randArray(C, k * n, 8);
      const c = new C(m * n);
      const args = {
        m,
        n,
        k,
        a,
        aOffset: 1,
        aRowStride: 50_000,
        aColStride: 1,
        b,
        bOffset: 0,
        bRowStride: n,
        bColStride: 1,
        c,
        cOffset: 0,
      };
      gemm(args);
      check(args, tol);
    });

    it('k = 0 writes zeros; m = 0 or n = 0 writes nothing', () => {
      setGemmThreads(threads);
      for (const [m, n] of [
        [3, 4],
        [40, 50],
      ] as const) {
        const args = makeArgs(C, m, n, 0, 'n', 'n', 1);
        gemm(args);
        for (let i = 0; i < m * n; i++) expect(args.c[args.cOffset + i]).toBe(0);
        expect(args.c[args.cOffset + m * n]).toBeNaN();
      }
      for (const [m, n] of [
        [0, 4],
        [4, 0],
        [0, 0],
      ] as const) {
        const args = makeArgs(C, m, n, 5, 'n', 'n', 1);
        gemm(args);
        expect(Array.from(args.c).every(Number.isNaN)).toBe(true);
      }
    });

    it('propagates NaN and Infinity like the reference', () => {
      setGemmThreads(threads);
      for (const [m, n, k] of [
        [3, 3, 3],
        [23, 37, 19],
      ] as const) {
        const args = makeArgs(C, m, n, k, 'n', 'n', 9, 0);
        args.a[1] = Number.NaN; // row 0, col 1
        args.b[args.bOffset + 2 * n + 1] = Number.POSITIVE_INFINITY; // row 2, col 1
        gemm(args);
        const { ref } = reference(args);
        for (let i = 0; i < m * n; i++) {
          const r = ref[i]!;
          if (Number.isFinite(r)) expect(Number.isFinite(args.c[i]!)).toBe(true);
          else expect(args.c[i]).toBe(r);
        }
      }
    });

    it('batched, with batch strides (including 0 = broadcast)', () => {
      setGemmThreads(threads);
      for (const [batch, m, n, k, aBatchStride, bBatchStride] of [
        [3, 7, 13, 5, 7 * 5, 13 * 5],
        [4, 33, 20, 17, 33 * 17, 0],
        [3, 64, 120, 100, 0, 120 * 100],
        [5, 2, 2, 2, 4, 4],
        [2, 150, 200, 90, 150 * 90, 200 * 90],
        [8, 40, 40, 40, 40 * 40, 40 * 40],
      ] as const) {
        const a = randArray(C, 3 + Math.max(1, batch * aBatchStride + m * k), batch + m);
        const b = randArray(C, 2 + Math.max(1, batch * bBatchStride + k * n), batch + n);
        const c = new C(1 + batch * m * n + 1).fill(Number.NaN);
        const base = {
          m,
          n,
          k,
          a,
          aOffset: 3,
          aRowStride: k,
          aColStride: 1,
          b,
          bOffset: 2,
          bRowStride: n,
          bColStride: 1,
          c,
          cOffset: 1,
        };
        gemmBatched({ ...base, batch, aBatchStride, bBatchStride });
        for (let t = 0; t < batch; t++) {
          const one = {
            ...base,
            aOffset: 3 + t * aBatchStride,
            bOffset: 2 + t * bBatchStride,
            c: c.subarray(1 + t * m * n, 1 + (t + 1) * m * n),
            cOffset: 0,
          };
          const { ref, scale } = reference(one);
          for (let i = 0; i < m * n; i++) {
            expect(Math.abs(one.c[i]! - ref[i]!) / (scale[i]! + 1e-300)).toBeLessThanOrEqual(tol);
          }
        }
        expect(c[0]).toBeNaN();
        expect(c[c.length - 1]).toBeNaN();
      }
    });

    it('batched with k = 0 and batch = 0', () => {
      setGemmThreads(threads);
      const c = new C(2 * 12 + 1).fill(Number.NaN);
      const base = {
        m: 3,
        n: 4,
        k: 0,
        a: new C(1),
        aOffset: 0,
        aRowStride: 0,
        aColStride: 1,
        b: new C(1),
        bOffset: 0,
        bRowStride: 4,
        bColStride: 1,
        c,
        cOffset: 0,
      };
      gemmBatched({ ...base, batch: 2, aBatchStride: 0, bBatchStride: 0 });
      expect(Array.from(c.subarray(0, 24))).toEqual(new Array(24).fill(0));
      expect(c[24]).toBeNaN();
      const d = new C(4).fill(Number.NaN);
      gemmBatched({ ...base, k: 3, c: d, batch: 0, aBatchStride: 0, bBatchStride: 0 });
      expect(Array.from(d).every(Number.isNaN)).toBe(true);
    });
  });

  it('f32 wasm results equal sequential float32 accumulation exactly (natural order, no fma)', () => {
    setGemmThreads(threads);
    for (const [m, n, k] of [
      [33, 65, 17],
      [12, 20, 700],
      [129, 70, 300],
    ] as const) {
      const args = makeArgs(Float32Array, m, n, k, 'n', 't', m + 2 * n + 3 * k);
      gemm(args);
      const want = referenceF32Sequential(args);
      expect(args.c.subarray(args.cOffset, args.cOffset + m * n)).toEqual(want);
    }
  });

  it('f64 results equal the naive float64 loop exactly', () => {
    setGemmThreads(threads);
    for (const [m, n, k] of [
      [2, 3, 4],
      [33, 65, 17],
      [129, 70, 300],
    ] as const) {
      const args = makeArgs(Float64Array, m, n, k, 's', 'n', m + n + k);
      gemm(args);
      const { ref } = reference(args);
      expect(args.c.subarray(args.cOffset, args.cOffset + m * n)).toEqual(ref);
    }
  });
});

describe('thread policy (auto)', () => {
  it('times one thread and all threads on the first calls of a shape, then keeps the faster', () => {
    setThreadPolicyForTests('auto');
    setGemmThreads(2);
    expect(warmThreads(20_000)).toBe(2);
    const args = makeArgs(Float32Array, 96, 100, 110, 'n', 'n', 11, 0);
    const used: number[] = [];
    // A deterministic clock (every call takes 1 ms either way) so CI load cannot flip the choice: on a
    // tie the policy keeps one thread.
    let tick = 0;
    setTuningClockForTests(() => tick++);
    try {
      for (let i = 0; i < 20; i++) {
        gemm(args);
        used.push(lastThreads);
      }
    } finally {
      setTuningClockForTests(undefined);
    }
    expect(used.slice(0, 4)).toEqual([1, 2, 2, 1]);
    // Afterwards one choice, with the other re-tried from the 20th call on.
    const rest = used.slice(4, 20);
    expect(rest.every((t) => t === rest[0])).toBe(true);
    expect(rest[0]).toBe(1);
    check(args, TOL.f32);
    // Problems below ~64^3 multiply-adds never use threads.
    const small = makeArgs(Float32Array, 20, 30, 40, 'n', 'n', 12, 0);
    for (let i = 0; i < 4; i++) {
      gemm(small);
      expect(lastThreads).toBe(1);
    }
  });
});

describe('gemm 1024 x 1024 x 1024 (float32, threads on)', () => {
  it('matches the float64 reference within 1e-5 relative', () => {
    setGemmThreads(2);
    setThreadPolicyForTests('always');
    warmThreads(20_000);
    const n = 1024;
    const args = makeArgs(Float32Array, n, n, n, 'n', 'n', 1024, 0);
    gemm(args);
    expect(lastThreads).toBe(2);
    // The worker took part (tasks are claimed dynamically: retry in case a busy machine starved it).
    for (let i = 0; i < 3 && lastWorkerTasks === 0; i++) gemm(args);
    expect(lastWorkerTasks).toBeGreaterThan(0);
    // Spot-check 4096 entries against float64 dot products (a full reference is 1G multiply-adds).
    const r = rng(5);
    let worst = 0;
    let worstRel = 0;
    for (let s = 0; s < 4096; s++) {
      const i = Math.floor(Math.abs(r() * 1e6)) % n;
      const j = Math.floor(Math.abs(r() * 1e6)) % n;
      let dot = 0;
      let abs = 0;
      for (let p = 0; p < n; p++) {
        const x = args.a[args.aOffset + i * n + p]! * args.b[args.bOffset + p * n + j]!;
        dot += x;
        abs += Math.abs(x);
      }
      const err = Math.abs(args.c[i * n + j]! - dot);
      worst = Math.max(worst, err / abs);
      worstRel = Math.max(worstRel, err / Math.sqrt(n)); // vs the typical |C| (~sqrt(k) for N(0,1) inputs)
    }
    expect(worst).toBeLessThan(1e-5);
    expect(worstRel).toBeLessThan(1e-5);
  });
});

describe('unshared wasm memory (the browser configuration: no SharedArrayBuffer, one thread)', () => {
  afterAll(() => reinitForTests(false));
  it.each(dtypes)('%s', (_dt, C, tol) => {
    reinitForTests(true);
    setGemmThreads(2);
    expect(wasmAvailable()).toBe(true);
    expect(warmThreads()).toBe(1);
    for (const [m, n, k] of [
      [17, 13, 15],
      [129, 70, 300],
    ] as const) {
      const args = makeArgs(C, m, n, k, 't', 'n', 3);
      gemm(args);
      check(args, tol);
      expect(lastThreads).toBe(1);
    }
  });
});

describe('jsGemm (small-problem / fallback kernel)', () => {
  it.each(dtypes)('%s matches the reference for strided layouts', (_dt, C, tol) => {
    for (const [ak, bk] of [
      ['n', 'n'],
      ['t', 's'],
      ['r', 'b1'],
      ['b0', 't'],
    ] as const) {
      const args = makeArgs(C, 9, 11, 7, ak, bk, 77);
      jsGemm(
        args.m,
        args.n,
        args.k,
        args.a,
        args.aOffset,
        args.aRowStride,
        args.aColStride,
        args.b,
        args.bOffset,
        args.bRowStride,
        args.bColStride,
        args.c,
        args.cOffset,
      );
      check(args, tol);
    }
  });
});
