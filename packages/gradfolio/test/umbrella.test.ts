import { describe, expect, it } from 'vitest';
import * as gf from '../src/index.js';

describe('gradfolio umbrella', () => {
  it('exposes a torch-like namespace with autograd installed', () => {
    const x = gf.tensor([1, 2, 3], { dtype: 'float32' }).requiresGrad_();
    const y = x.pow(2).sum();
    y.backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([2, 4, 6]);
    expect(typeof gf.nn.LSTM).toBe('function');
    expect(typeof gf.optim.Adam).toBe('function');
    expect(typeof gf.data.DataLoader).toBe('function');
    expect(typeof gf.finance.sharpeLoss).toBe('function');
    expect(gf.noGrad(() => x.mul(2).requiresGrad)).toBe(false);
  });

  it('trains one step of a small LSTM through the namespaces', () => {
    gf.manualSeed(0);
    const lstm = new gf.nn.LSTM(3, 8, { batchFirst: true });
    const fc = new gf.nn.Linear(8, 2);
    const opt = new gf.optim.Adam([...lstm.parameters(), ...fc.parameters()], { lr: 0.05 });
    const x = gf.randn([16, 5, 3]);
    const r = gf
      .randn([16, 2])
      .mul(0.01)
      .add(gf.tensor([0.002, -0.001]));
    const lossAt = (): number => {
      const [, [hN]] = lstm.forward(x);
      return gf.finance.sharpeLoss(r, fc.forward(hN.select(0, -1)).softmax(1)).itemSync() as number;
    };
    const before = lossAt();
    for (let i = 0; i < 20; i++) {
      opt.zeroGrad();
      const [, [hN]] = lstm.forward(x);
      gf.finance.sharpeLoss(r, fc.forward(hN.select(0, -1)).softmax(1)).backward();
      opt.step();
    }
    expect(lossAt()).toBeLessThan(before);
  });

  it('useWebGPU falls back to the CPU with a reason when no adapter can be made, or throws on request', async () => {
    const choice = await gf.useWebGPU({ dawnFlags: ['backend=definitely-not-a-backend'] });
    expect(gf.device()).toBe(choice.device);
    if (choice.device === 'cpu') expect(choice.reason).toBeTruthy();
    else expect(gf.zeros([1]).device).toBe('webgpu');
    gf.useCPU();
    expect(gf.zeros([1]).device).toBe('cpu');
  });
});
