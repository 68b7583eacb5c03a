/**
 * Kernel profiling with timestamp queries: `startProfile()` / `endProfile()` count dispatches and
 * submits and, where the device has `timestamp-query` (SwiftShader has), sum each kernel's GPU time.
 */
import { manualSeed, randn, tensor } from '@gradfolio/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { gpuErrors, initTestGPU } from './gpu.js';

let gpu: WebGPUBackend;

beforeAll(async () => {
  gpu = await initTestGPU();
  manualSeed(7);
});

describe('startProfile / endProfile', () => {
  it('attributes GPU time to each kernel and counts dispatches and submits', async () => {
    const a = randn([192, 192]).to('webgpu');
    const b = randn([192, 192]).to('webgpu');
    await a.sum().item(); // uploads and first compiles outside the profile
    gpu.startProfile();
    const c = a.matmul(b);
    const d = c.matmul(b);
    const s = d.exp().sum();
    const value = Number(await s.item());
    const p = await gpu.endProfile();
    expect(Number.isNaN(value)).toBe(false);
    const names = p.kernels.map((k) => k.kernel.split('|')[0]);
    expect(names).toEqual(expect.arrayContaining(['exp', 'sum']));
    const matmul = p.kernels.filter((k) => k.kernel.startsWith('matmul'));
    expect(matmul.reduce((n, k) => n + k.dispatches, 0)).toBe(2);
    expect(p.dispatches).toBe(p.kernels.reduce((n, k) => n + k.dispatches, 0));
    expect(p.dispatches).toBeGreaterThanOrEqual(4);
    // The read of `s` submits once; nothing else was flushed.
    expect(p.submits).toBeGreaterThanOrEqual(1);
    expect(p.submits).toBeLessThanOrEqual(2);
    expect(p.timestamps).toBe(gpu.device.features.has('timestamp-query'));
    if (p.timestamps) {
      // Two 192^3 products take milliseconds on a CPU emulator and dominate; the GPU time fits the wall time.
      expect(p.gpuMs).toBeGreaterThan(0);
      expect(p.gpuMs).toBeLessThanOrEqual(p.wallMs * 1.05 + 0.2);
      expect(p.kernels[0]!.kernel.startsWith('matmul')).toBe(true);
      expect(p.kernels.reduce((t, k) => t + k.ms, 0)).toBeCloseTo(p.gpuMs, 9);
    }
    for (const t of [a, b, c, d, s]) t.dispose();
    expect(gpuErrors).toEqual([]);
  });

  it('resolves the query set when one flush records more passes than it holds', async () => {
    const x = randn([64]).to('webgpu');
    // Unfused, so every op is its own pass (fused, the chain would be a few dispatches).
    gpu.context.fusion = false;
    gpu.startProfile();
    let y = x;
    // 300 dispatches: more than the 256 pairs of queries one set holds, and more than one batch.
    for (let i = 0; i < 300; i++) {
      const z = y.mul(1.0001);
      if (y !== x) y.dispose();
      y = z;
    }
    await y.data();
    const p = await gpu.endProfile();
    gpu.context.fusion = true;
    expect(p.dispatches).toBe(300);
    expect(p.kernels.reduce((n, k) => n + k.dispatches, 0)).toBe(300);
    expect(p.submits).toBeGreaterThanOrEqual(2);
    y.dispose();
    x.dispose();
    expect(gpuErrors).toEqual([]);
  });

  it('endProfile without startProfile says so', async () => {
    await expect(gpu.endProfile()).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/startProfile/),
    });
  });
});

describe('host writes inside a batch', () => {
  it('scalar operands and small uploads do not submit the open batch', async () => {
    const xc = randn([1000]);
    const x = xc.to('webgpu');
    await x.sum().item();
    gpu.startProfile();
    // Each scalar operand is a 0-d upload; every op and upload records into the one open encoder.
    const y = x
      .div(3)
      .add(2)
      .mul(0.5)
      .sub(tensor([1.5, 2.5], { device: 'webgpu' }).sum());
    const got = await y.data();
    const p = await gpu.endProfile();
    expect(p.submits).toBe(1);
    const want = await xc.div(3).add(2).mul(0.5).sub(4).data();
    // WGSL's f32 division is within 2.5 ulp, not correctly rounded.
    const err = Math.max(...Array.from(got, (v, i) => Math.abs(Number(v) - Number(want[i]))));
    expect(err).toBeLessThan(1e-5);
    x.dispose();
    y.dispose();
  });

  it('an upload into a recycled buffer lands after the recorded work that read its old contents', async () => {
    const n = 4096;
    const src = Array.from({ length: n }, (_, i) => i);
    const again = Array.from({ length: n }, (_, i) => 5000 - i);
    for (let round = 0; round < 3; round++) {
      const a = tensor(src, { device: 'webgpu', dtype: 'float32' });
      const doubled = a.mul(2); // recorded, not submitted
      a.dispose(); // a's buffer goes back to the pool at once...
      const b = tensor(again, { device: 'webgpu', dtype: 'float32' }); // ...and is the first reuse
      const [d, bb] = await Promise.all([doubled.data(), b.data()]);
      expect(Array.from(d)).toEqual(src.map((v) => 2 * v));
      expect(Array.from(bb)).toEqual(again);
      doubled.dispose();
      b.dispose();
    }
    // Larger than a staging chunk: submitted first, then queue.writeBuffer; same ordering guarantee.
    const big = Array.from({ length: 40_000 }, (_, i) => i % 97);
    const a = tensor(big, { device: 'webgpu', dtype: 'float32' });
    const plus = a.add(1);
    a.dispose();
    const b = tensor(
      big.map((v) => 1000 - v),
      { device: 'webgpu', dtype: 'float32' },
    );
    expect(Array.from(await plus.data())).toEqual(big.map((v) => v + 1));
    expect(Array.from(await b.data())).toEqual(big.map((v) => 1000 - v));
    plus.dispose();
    b.dispose();
    expect(gpuErrors).toEqual([]);
  });
});
