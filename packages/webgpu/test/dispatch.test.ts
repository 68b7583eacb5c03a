/**
 * The dispatch path: explicit bind group layouts per binding signature, cached bind groups, and the
 * uniform arenas (every dispatch's uniforms in an aligned slice, bound at a dynamic offset).
 */
import { manualSeed, randn, type Tensor, tidy } from '@gradfolio/tensor';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { gpuErrors, initTestGPU } from './gpu.js';

let gpu: WebGPUBackend;

beforeAll(async () => {
  gpu = await initTestGPU();
  manualSeed(3);
});

afterEach(() => {
  vi.restoreAllMocks();
  expect(gpuErrors).toEqual([]);
});

const close = async (got: Tensor, want: Tensor, tol: number): Promise<void> => {
  const g = await got.data();
  const w = await want.data();
  expect(g.length).toBe(w.length);
  let err = 0;
  for (let i = 0; i < g.length; i++) err = Math.max(err, Math.abs(Number(g[i]) - Number(w[i])));
  expect(err).toBeLessThan(tol);
};

describe('bind groups and uniform arenas', () => {
  it('a repeated step creates no new bind groups (buffers come back from the pool in order)', async () => {
    const xc = randn([32, 16]);
    const wc = randn([16, 8]);
    const x = xc.to('webgpu');
    const w = wc.to('webgpu');
    const step = async (): Promise<number> => {
      // In tidy, as a training step is: temporaries go back to the pool in the same order every time.
      const y = tidy(() => x.matmul(w).tanh().sum(0));
      const v = await y.data();
      y.dispose();
      return Number(v[0]);
    };
    await step(); // compiles and fills the cache
    await step();
    const spy = vi.spyOn(gpu.device, 'createBindGroup');
    const a = await step();
    const b = await step();
    expect(spy).not.toHaveBeenCalled();
    expect(a).toBe(b);
    await close(x.matmul(w).tanh().sum(0), xc.matmul(wc).tanh().sum(0), 1e-4);
    x.dispose();
    w.dispose();
  });

  it('one batch with more dispatches than one arena holds gets a second arena', async () => {
    // 200 two-pass sums (a tree pass, then a pass over the partial sums) of views of different lengths
    // are 400 dispatches with different uniforms in one batch (batches end at 256 ops): more slices
    // than one 64 KiB arena of 256-byte slots holds.
    const xc = randn([2, 9000]);
    const x = xc.to('webgpu');
    const outs: Tensor[] = [];
    gpu.startProfile();
    for (let i = 0; i < 200; i++) outs.push(x.narrow(1, 0, 8800 - 7 * i).sum(1));
    await outs[199]!.data();
    const p = await gpu.endProfile();
    expect(p.dispatches).toBe(400);
    expect(p.submits).toBe(1);
    for (const i of [0, 57, 128, 199]) await close(outs[i]!, xc.narrow(1, 0, 8800 - 7 * i).sum(1), 2e-3);
    for (const o of outs) o.dispose();
    x.dispose();
  });

  it('buffers destroyed by trimPool leave no stale bind groups behind', async () => {
    const xc = randn([300]);
    for (let round = 0; round < 3; round++) {
      const x = xc.to('webgpu');
      const y = x.exp().sum();
      await close(y, xc.exp().sum(), 1e-2);
      x.dispose();
      y.dispose();
      gpu.trimPool(); // destroys every pooled buffer, and with them the cached groups that bind them
    }
  });
});
