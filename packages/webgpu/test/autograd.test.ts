/**
 * Autograd on the WebGPU backend: derivatives are written with ordinary ops (plus the fused
 * tanhBackward/sigmoidBackward kernels when the backward pass is not recorded), so backward runs on
 * the device the forward ran on.
 */
import { grad } from '@gradfolio/autograd';
import { getBackend, type Kernel, manualSeed, randn, type Tensor } from '@gradfolio/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpuErrors, initTestGPU } from './gpu.js';

beforeAll(async () => {
  await initTestGPU();
  manualSeed(77);
});

async function values(t: Tensor | undefined): Promise<number[]> {
  if (t === undefined) throw new Error('expected a gradient');
  return Array.from((await t.data()) as Float32Array);
}

function expectClose(a: number[], b: number[], tol = 1e-4): void {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => {
    expect(Math.abs(v - b[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i]!)));
  });
}

describe('autograd on webgpu', () => {
  it('x @ w + b, summed: gradients match the CPU', async () => {
    const xc = randn([5, 3]);
    const wc = randn([3, 4]).requiresGrad_();
    const bc = randn([4]).requiresGrad_();
    xc.matmul(wc)
      .add(bc)
      .mul(xc.sum(1, { keepdim: true }))
      .sum()
      .backward();
    const x = xc.to('webgpu');
    const w = wc.detach().to('webgpu').requiresGrad_();
    const b = bc.detach().to('webgpu').requiresGrad_();
    const loss = x
      .matmul(w)
      .add(b)
      .mul(x.sum(1, { keepdim: true }))
      .sum();
    expect(loss.gradFn?.name).toBe('SumBackward0');
    loss.backward();
    expect(w.grad?.device).toBe('webgpu');
    expectClose(await values(w.grad), await values(wc.grad));
    expectClose(await values(b.grad), await values(bc.grad));
    // accumulation happens on the device too
    x.matmul(w)
      .add(b)
      .mul(x.sum(1, { keepdim: true }))
      .sum()
      .backward();
    expectClose(
      await values(b.grad),
      (await values(bc.grad)).map((v) => 2 * v),
    );
    expect(gpuErrors).toEqual([]);
  });

  it('grad() with createGraph: a second derivative of x*x*x', async () => {
    const x = randn([6]).to('webgpu').requiresGrad_();
    const [d1] = grad(x.mul(x).mul(x).sum(), x, { createGraph: true });
    const [d2] = grad(d1!.sum(), x);
    const xs = await values(x);
    expectClose(
      await values(d1),
      xs.map((v) => 3 * v * v),
    );
    expectClose(
      await values(d2),
      xs.map((v) => 6 * v),
    );
  });

  it('an LSTM cell step: gradients match the CPU, through the fused tanh/sigmoid backward kernels', async () => {
    // Count the fused kernels' calls by wrapping them in the backend's kernel table.
    const kernels = getBackend('webgpu').kernels as Map<string, Kernel>;
    const calls = { tanhBackward: 0, sigmoidBackward: 0 };
    const originals = new Map<string, Kernel>();
    for (const name of ['tanhBackward', 'sigmoidBackward'] as const) {
      const k = kernels.get(name);
      if (k === undefined) throw new Error(`no ${name} kernel`);
      originals.set(name, k);
      kernels.set(name, (i, o, a) => {
        calls[name]++;
        k(i, o, a);
      });
    }
    try {
      const step = (x: Tensor, h: Tensor, c: Tensor, w: Tensor, u: Tensor): Tensor => {
        const gates = x.matmul(w).add(h.matmul(u));
        const [i, f, g, o] = gates.chunk(4, 1) as [Tensor, Tensor, Tensor, Tensor];
        const c2 = f.sigmoid().mul(c).add(i.sigmoid().mul(g.tanh()));
        return o.sigmoid().mul(c2.tanh());
      };
      const inputs = [randn([3, 5]), randn([3, 4]), randn([3, 4]), randn([5, 16]), randn([4, 16])];
      const cpu = inputs.map((t) => t.clone().requiresGrad_());
      step(...(cpu as [Tensor, Tensor, Tensor, Tensor, Tensor]))
        .pow(2)
        .sum()
        .backward();
      const gpu = inputs.map((t) => t.to('webgpu').requiresGrad_());
      step(...(gpu as [Tensor, Tensor, Tensor, Tensor, Tensor]))
        .pow(2)
        .sum()
        .backward();
      for (let k = 0; k < inputs.length; k++) {
        expect(gpu[k]!.grad?.device).toBe('webgpu');
        expectClose(await values(gpu[k]!.grad), await values(cpu[k]!.grad));
      }
      expect(calls.tanhBackward).toBe(2);
      expect(calls.sigmoidBackward).toBe(3);
      expect(gpuErrors).toEqual([]);
    } finally {
      for (const [name, k] of originals) kernels.set(name, k);
    }
  });
});
