/**
 * Kernel profiling with timestamp queries: `startProfile()` / `endProfile()` count dispatches and
 * submits and, where the device has `timestamp-query` (SwiftShader has), sum each kernel's GPU time.
 */
import { manualSeed, randn } from '@gradfolio/tensor';
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
    expect(names).toEqual(expect.arrayContaining(['matmul', 'exp', 'sum']));
    const matmul = p.kernels.filter((k) => k.kernel.startsWith('matmul|'));
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
      expect(p.kernels[0]!.kernel.startsWith('matmul|')).toBe(true);
      expect(p.kernels.reduce((t, k) => t + k.ms, 0)).toBeCloseTo(p.gpuMs, 9);
    }
    for (const t of [a, b, c, d, s]) t.dispose();
    expect(gpuErrors).toEqual([]);
  });

  it('resolves the query set when one flush records more passes than it holds', async () => {
    const x = randn([64]).to('webgpu');
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
