/**
 * Memory that does not depend on the garbage collector: a training loop whose step runs in `tidy` holds
 * GPU memory flat (every temporary goes back to the pool when the step ends; the graph's saved tensors
 * when its backward pass is done; dropped gradients at `zeroGrad`). The model is seed 003's portfolio
 * model written with the op-level pieces (`lstmLayer` -> linear -> softmax weights, negative Sharpe ratio,
 * a plain gradient step), so it runs on the fused WebGPU LSTM kernels.
 */
import { noGrad, zeroGrad } from '@gradfolio/autograd';
import { Generator, lstmLayer, randn, type Tensor, tidy, zeros } from '@gradfolio/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { webgpuStats } from '../src/index.js';
import { initTestGPU } from './gpu.js';

beforeAll(async () => {
  await initTestGPU();
});

function model(I: number, H: number, assets: number, seed: number) {
  const g = new Generator().manualSeed(seed);
  const p = (shape: number[], s: number): Tensor =>
    randn(shape, { generator: g }).mul(s).to('webgpu').requiresGrad_();
  const w = { wih: p([4 * H, I], 0.2), whh: p([4 * H, H], 0.2), bih: p([4 * H], 0.1), bhh: p([4 * H], 0.1) };
  const fc = p([H, assets], 0.2);
  const fb = p([assets], 0.1);
  const params = [w.wih, w.whh, w.bih, w.bhh, fc, fb];
  const step = (x: Tensor, r: Tensor): Tensor =>
    tidy(() => {
      zeroGrad(params);
      const B = x.shape[1] as number;
      const h0 = zeros([B, H], { device: 'webgpu' });
      const [, hN] = lstmLayer(x, h0, h0, w);
      const weights = hN.matmul(fc).add(fb).softmax(1);
      const port = weights.mul(r).sum(1);
      const loss = port.mean().div(port.std()).neg();
      loss.backward();
      noGrad(() => {
        for (const q of params) q.sub_((q.grad as Tensor).mul(0.01));
      });
      return loss.detach();
    });
  return { step, params };
}

async function train(T: number, B: number, I: number, H: number, steps: number) {
  const g = new Generator().manualSeed(1);
  const x = randn([T, B, I], { generator: g }).to('webgpu');
  const r = randn([B, 4], { generator: g }).mul(0.01).to('webgpu');
  const m = model(I, H, 4, 2);
  const samples: Array<{ inUse: number; live: number; created: number; tensors: number }> = [];
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const loss = m.step(x, r);
    losses.push(Number(await loss.item()));
    loss.dispose();
    const st = webgpuStats();
    samples.push({
      inUse: st.bytesInUse,
      live: st.liveBuffers,
      created: st.buffersCreated,
      tensors: st.liveTensors,
    });
  }
  return { samples, losses };
}

describe('webgpuStats', () => {
  it('counts live tensors (views included) until they are disposed', () => {
    const before = webgpuStats().liveTensors;
    const t = zeros([8], { device: 'webgpu' });
    const v = t.reshape(2, 4);
    expect(webgpuStats().liveTensors - before).toBe(2);
    v.dispose();
    t.dispose();
    expect(webgpuStats().liveTensors).toBe(before);
  });
});

describe('GPU memory stays flat over a training loop', () => {
  it('150 steps of a small portfolio LSTM: bytes in use, live buffers and buffer creations flat', async () => {
    const { samples, losses } = await train(10, 8, 8, 16, 150);
    const ref = samples[4]!;
    for (const s of samples.slice(5)) {
      expect(s.inUse).toBe(ref.inUse);
      expect(s.live).toBe(ref.live);
      expect(s.tensors).toBe(ref.tensors);
    }
    // After warm-up every buffer comes from the pool: nothing new is created.
    expect(samples.at(-1)!.created).toBe(samples[9]!.created);
    // It does train: the loss falls.
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
  }, 240_000);

  it("seed 003's size (T 50, B 64, 8 features, H 64): flat from the second step on", async () => {
    const { samples } = await train(50, 64, 8, 64, 4);
    expect(samples[3]!.inUse).toBe(samples[1]!.inUse);
    expect(samples[3]!.live).toBe(samples[1]!.live);
  }, 240_000);
});
