/**
 * The fused Adam update on WebGPU: one dispatch per parameter (moments and step together), and the
 * two-dispatch form that devices binding only 4 storage buffers need for AMSGrad; both give the same
 * bits, and match the CPU's fused kernel. (The torch.optim fixtures run in the conformance suite.)
 */
import { adamUpdate_, manualSeed, randn, registerBackend, type Tensor } from '@gradfolio/tensor';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createWebGPUBackend, type WebGPUBackend } from '../src/index.js';
import { gpuErrors, initTestGPU, withLimits } from './gpu.js';

let gpu: WebGPUBackend;

beforeAll(async () => {
  gpu = await initTestGPU();
  manualSeed(11);
});

afterEach(() => {
  registerBackend(gpu);
  expect(gpuErrors).toEqual([]);
});

const bits = (a: ArrayLike<number>): number[] =>
  Array.from(new Uint32Array(Float32Array.from(a as ArrayLike<number>).buffer));

/** Three Adam steps on state [p, g, m, v, x?] made from the same seed; returns the state read back. */
async function adamSteps(amsgrad: boolean, device: 'cpu' | 'webgpu'): Promise<number[][]> {
  manualSeed(5);
  const n = 1000;
  const state = [randn([n]), randn([n]), randn([n]).mul(0.1), randn([n]).abs(), randn([n]).abs()].map((t) =>
    device === 'cpu' ? t : t.to('webgpu'),
  ) as Tensor[];
  const [p, g, m, v, x] = state as [Tensor, Tensor, Tensor, Tensor, Tensor];
  for (let step = 1; step <= 3; step++) {
    const done = adamUpdate_(p, g, m, v, amsgrad ? x : undefined, {
      lr: 1e-2,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      step,
    });
    expect(done).toBe(true);
  }
  return Promise.all(state.map(async (t) => Array.from(await t.data(), Number)));
}

describe('adamUpdate on WebGPU', () => {
  for (const amsgrad of [false, true]) {
    it(`${amsgrad ? 'AMSGrad' : 'Adam'}: one dispatch per step, the 4-binding form agrees bit for bit`, async () => {
      gpu.startProfile();
      const one = await adamSteps(amsgrad, 'webgpu');
      const p = await gpu.endProfile();
      expect(
        p.kernels.filter((k) => k.kernel.startsWith('optim|')).map((k) => [k.kernel, k.dispatches]),
      ).toEqual([[`optim|adam|${amsgrad ? 1 : 0}`, 3]]);
      const narrow = createWebGPUBackend(withLimits(gpu.device, { maxStorageBuffersPerShaderStage: 4 }));
      registerBackend(narrow);
      narrow.startProfile();
      const two = await adamSteps(amsgrad, 'webgpu');
      const q = await narrow.endProfile();
      registerBackend(gpu);
      const kernels = q.kernels
        .filter((k) => k.kernel.startsWith('optim|'))
        .map((k) => k.kernel)
        .sort();
      expect(kernels).toEqual(amsgrad ? ['optim|adam-moments', 'optim|adam-step|1'] : ['optim|adam|0']);
      for (const [i, t] of one.entries()) expect(bits(t), `state ${i}`).toEqual(bits(two[i]!));
      const cpu = await adamSteps(amsgrad, 'cpu');
      for (const [i, t] of one.entries()) {
        const want = cpu[i]!;
        // The CPU applies the 1 - beta1 multiplier in double (as its elementwise add does), the GPU in f32.
        const err = Math.max(...t.map((v, j) => Math.abs(v - want[j]!) - 1e-5 * Math.abs(want[j]!)));
        expect(err, `state ${i} against the CPU`).toBeLessThan(1e-6);
      }
    });
  }
});
