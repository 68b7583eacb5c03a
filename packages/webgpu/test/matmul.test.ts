/**
 * The two matmul shader families against the CPU backend in float64: the vec4 128x128-tile kernel
 * (`tiled128`) on the layouts it accepts (row- and column-major operands, partial tiles, K tails, batch
 * broadcast, offset views) and the general kernel on the cases that must fall back to it. Each case also
 * checks which pipeline actually ran, so a silent fallback cannot pass as a fast-path test.
 */
import '@gradfolio/autograd'; // installs backward()
import { manualSeed, randint, randn, registerBackend, slice, type Tensor } from '@gradfolio/tensor';
import { beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import { createWebGPUBackend, type WebGPUBackend } from '../src/index.js';
import { type MatmulPath, matmulPath } from '../src/kernels/matmul.js';
import { gpuErrors, initTestGPU, withLimits } from './gpu.js';
import { expectSame } from './helpers.js';

let pipelines: MockInstance<WebGPUBackend['context']['pipeline']>;

beforeAll(async () => {
  pipelines = vi.spyOn((await initTestGPU()).context, 'pipeline');
  manualSeed(4321);
});

const f = (shape: number[]) => randn(shape);
/** float32 unit roundoff. */
const U = 2 ** -24;

/**
 * Asserts `got` (WebGPU) equals ca @ cb (CPU) computed in float64: |got - want| <= 4 u sqrt(K) (|a| @ |b|)
 * per element (float32 rounding that grows like a random walk over K, scaled by each element's magnitude
 * sum), the same non-finite values where the exact result is not finite, and exactness for int32.
 */
async function expectMatmul(got: Tensor, ca: Tensor, cb: Tensor): Promise<void> {
  if (ca.dtype === 'int32') {
    await expectSame(got, ca.matmul(cb));
    return;
  }
  const want = ca.double().matmul(cb.double());
  const mag = ca.double().abs().matmul(cb.double().abs());
  expect([...got.shape]).toEqual([...want.shape]);
  const g = await got.data();
  const w = await want.data();
  const s = await mag.data();
  const scale = 4 * U * Math.sqrt(ca.shape[ca.ndim - 1]!);
  for (let i = 0; i < w.length; i++) {
    const gi = Number(g[i]);
    const wi = Number(w[i]);
    const ok = Number.isFinite(wi) ? Math.abs(gi - wi) <= scale * Number(s[i]) : Object.is(gi, wi);
    if (!ok) {
      throw new Error(`element ${i} of [${want.shape}]: got ${gi}, want ${wi} (tol ${scale * Number(s[i])})`);
    }
  }
}

/** The matmul pipelines (general or tiled128) fetched while running `fn`. */
function matmulKeys(fn: () => void): string[] {
  pipelines.mockClear();
  fn();
  return pipelines.mock.calls.map((c) => c[0]).filter((key) => key.startsWith('matmul'));
}

const prefix = (path: MatmulPath) => (path === 'tiled128' ? 'matmul128|' : 'matmul|');

/**
 * Runs `fn` (two views to multiply) on WebGPU copies of the CPU `inputs`, asserts that the kernel took
 * `path` (by `matmulPath` on the views as the kernel receives them, and by the pipeline it used), and
 * compares with the CPU (see {@link expectMatmul}).
 */
async function check(
  fn: (a: Tensor, b: Tensor) => [Tensor, Tensor],
  inputs: [Tensor, Tensor],
  path: MatmulPath,
): Promise<void> {
  const [ga, gb] = fn(inputs[0].to('webgpu'), inputs[1].to('webgpu'));
  let got: Tensor | undefined;
  const keys = matmulKeys(() => {
    got = ga.matmul(gb);
  });
  if (got === undefined) throw new Error('no result');
  expect(keys).toHaveLength(1);
  expect(keys[0]!.startsWith(prefix(path))).toBe(true);
  // Batch dims broadcast to the output's, as the kernel receives them.
  const batch = got.shape.slice(0, -2);
  const k = ga.shape[ga.ndim - 1]!;
  const ea = ga.expand(...batch, ga.shape[ga.ndim - 2]!, k);
  const eb = gb.expand(...batch, k, gb.shape[gb.ndim - 1]!);
  expect(matmulPath(ea, eb, got)).toBe(path);
  await expectMatmul(got, ...fn(inputs[0], inputs[1]));
  expect(gpuErrors).toEqual([]);
}

const mm = (a: Tensor, b: Tensor): [Tensor, Tensor] => [a, b];

describe('matmul tiled128 (vec4, 128x128 tiles)', () => {
  it('multiplies contiguous matrices: whole tiles, partial tiles, K tails', async () => {
    for (const [m, k, n] of [
      [128, 128, 128],
      [256, 64, 384],
      [200, 132, 260], // M, N not multiples of 128; K = 8 slices + 4
      [136, 20, 144], // K = 16 + 4
      [129, 36, 132], // K = 2 slices + 4, one-row edge tile
      [1160, 8, 260], // 10 tile rows: a full group of 8 and a partial one; K shorter than a slice
    ] as const) {
      await check(mm, [f([m, k]), f([k, n])], 'tiled128');
    }
  });

  it('reads transposed operands (column-major a, b or both)', async () => {
    // a = x.T of a contiguous x [K, M]: column-major; K need not be a multiple of 4 there.
    await check((x, y) => [x.T, y], [f([68, 132]), f([68, 144])], 'tiled128');
    await check((x, y) => [x.T, y], [f([18, 200]), f([18, 136])], 'tiled128');
    // b = y.T of y [N, K] (as in x @ W^T).
    await check((x, y) => [x, y.T], [f([140, 36]), f([260, 36])], 'tiled128');
    // Both (as in x^T @ dy of a backward pass).
    await check((x, y) => [x.T, y.T], [f([40, 200]), f([132, 40])], 'tiled128');
  });

  it('batches, with broadcast (stride 0) and transposed batched operands', async () => {
    await check(mm, [f([3, 136, 40]), f([40, 132])], 'tiled128'); // b broadcast over the batch
    await check(mm, [f([136, 24]), f([2, 24, 140])], 'tiled128'); // a broadcast
    await check(mm, [f([2, 1, 132, 12]), f([3, 12, 128])], 'tiled128'); // [2, 3] batch, both broadcast
    await check((x, y) => [x.mT, y], [f([2, 20, 132]), f([2, 20, 136])], 'tiled128');
  });

  it('reads offset views whose offsets and strides are multiples of 4', async () => {
    // Rows 4..133 of a [140, 64] matrix (offset 256) and columns 8..143 of a [64, 160] one (offset 8).
    await check(
      (x, y) => [x.narrow(0, 4, 130), y.narrow(1, 8, 136)],
      [f([140, 64]), f([64, 160])],
      'tiled128',
    );
    // Columns 4..35 of a [132, 44] matrix (offset 4, row stride 44) and rows 8..39 of a [48, 128] one.
    await check((x, y) => [x.narrow(1, 4, 32), y.narrow(0, 8, 32)], [f([132, 44]), f([48, 128])], 'tiled128');
    // Transposed and sliced: column-major with offset 4 x 140.
    await check((x, y) => [x.narrow(0, 4, 20).T, y], [f([28, 140]), f([20, 132])], 'tiled128');
  });
  it('reads no stray elements past K (an Inf there would turn masked zeros into NaN)', async () => {
    const inf = (x: Tensor, r: number, c: number) => {
      x.index(r, c).fill_(Number.POSITIVE_INFINITY);
      return x;
    };
    // Row-major a: its last vec4 along K holds the Inf; column-major b: the same for b's columns.
    await check(mm, [inf(f([136, 20]), 3, 19), f([20, 140])], 'tiled128');
    await check((x, y) => [x.T, y.T], [inf(f([20, 136]), 19, 3), inf(f([140, 20]), 7, 19)], 'tiled128');
  });
  it('numbers workgroups over a 2-D grid when a dimension limit is exceeded', async () => {
    // A second backend on the same device reporting at most 7 workgroups per dimension (as in
    // kernels.test.ts): 3 batches x 2 x 3 tiles = 18 workgroups run as a 7 x 3 grid, 3 of them idle.
    const real = await initTestGPU();
    const small = withLimits(real.device, { maxComputeWorkgroupsPerDimension: 7 });
    const backend = createWebGPUBackend(small);
    registerBackend(backend);
    try {
      const a = f([3, 136, 20]);
      const b = f([20, 260]);
      const keys = vi.spyOn(backend.context, 'pipeline');
      const got = a.to('webgpu').matmul(b.to('webgpu'));
      expect(keys.mock.calls.map((c) => c[0]).filter((k) => k.startsWith('matmul128|'))).toHaveLength(1);
      await expectMatmul(got, a, b);
    } finally {
      registerBackend(real);
    }
    expect(gpuErrors).toEqual([]);
  });

  it("runs autograd's backward products (dy @ W^T, x^T @ dy) on it", async () => {
    const xc = f([136, 128]);
    const wc = f([128, 132]);
    const gc = f([136, 132]);
    const x = xc.to('webgpu').requiresGrad_();
    const w = wc.to('webgpu').requiresGrad_();
    const g = gc.to('webgpu');
    const loss = x.matmul(w).mul(g).sum();
    const keys = matmulKeys(() => loss.backward());
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(key.startsWith('matmul128|')).toBe(true);
    await expectMatmul(x.grad!, gc, wc.T);
    await expectMatmul(w.grad!, xc.T, gc);
    expect(gpuErrors).toEqual([]);
  });
});

describe('matmul fallback to the general kernel', () => {
  it('falls back when a vec4 read would be misaligned or partial', async () => {
    // Row-major a with K = 130: rows are not whole vec4s.
    await check(mm, [f([128, 130]), f([130, 128])], 'general');
    // Offset 1.
    await check((x, y) => [x.narrow(1, 1, 128), y], [f([128, 132]), f([128, 128])], 'general');
    // Row stride not a multiple of 4 (a slice of a [128, 130] matrix).
    await check((x, y) => [x.narrow(1, 0, 64), y], [f([128, 130]), f([64, 128])], 'general');
    // Neither row- nor column-major (every other column).
    await check(
      (x, y) => [x, y.index(slice(null), slice(null, null, 2))],
      [f([128, 32]), f([32, 256])],
      'general',
    );
    // N not a multiple of 4: no vec4 stores.
    await check(mm, [f([128, 32]), f([32, 130])], 'general');
  });

  it('falls back for small M or N, and for int32', async () => {
    await check(mm, [f([64, 32]), f([32, 256])], 'general');
    await check(mm, [f([256, 32]), f([32, 100])], 'general');
    await check(mm, [randint(-20, 20, [128, 16]), randint(-20, 20, [16, 128])], 'general');
  });

  it('matmulPath rejects a misaligned output offset and K = 0', () => {
    const a = { dtype: 'float32', shape: [128, 8], strides: [8, 1], offset: 0 } as const;
    const b = { dtype: 'float32', shape: [8, 128], strides: [128, 1], offset: 0 } as const;
    expect(matmulPath(a, b, { shape: [128, 128], offset: 0 })).toBe('tiled128');
    expect(matmulPath(a, b, { shape: [128, 128], offset: 2 })).toBe('general');
    const a0 = { ...a, shape: [128, 0], strides: [0, 1] };
    const b0 = { ...b, shape: [0, 128] };
    expect(matmulPath(a0, b0, { shape: [128, 128], offset: 0 })).toBe('general');
    // Batch strides not multiples of 4.
    const ab = { ...a, shape: [2, 128, 8], strides: [1026, 8, 1] };
    const bb = { ...b, shape: [2, 8, 128], strides: [0, 128, 1] };
    expect(matmulPath(ab, bb, { shape: [2, 128, 128], offset: 0 })).toBe('general');
    expect(matmulPath({ ...ab, strides: [1028, 8, 1] }, bb, { shape: [2, 128, 128], offset: 0 })).toBe(
      'tiled128',
    );
  });
});
