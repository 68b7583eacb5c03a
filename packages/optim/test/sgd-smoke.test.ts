import { tensor } from '@gradfolio/tensor';
import { expect, it } from 'vitest';
import { SGD } from '../src/index.js';

it('SGD momentum: two steps by hand', () => {
  const w = tensor([1, -2], { requiresGrad: true });
  const opt = new SGD([w], { lr: 0.1, momentum: 0.9 });
  for (let i = 0; i < 2; i++) {
    opt.zeroGrad();
    w.mul(w).sum().backward();
    opt.step();
  }
  // step 1: g = 2w = [2, -4], buf = g, w = [0.8, -1.6]; step 2: g = [1.6, -3.2], buf = 0.9*[2,-4] + g = [3.4, -6.8], w = [0.46, -0.92]
  const v = Array.from(w.dataSync() as Float32Array);
  expect(v[0]).toBeCloseTo(0.46, 6);
  expect(v[1]).toBeCloseTo(-0.92, 6);
  const sd = opt.stateDict();
  expect(Object.keys(sd.state)).toEqual(['0']);
  expect(sd.paramGroups[0]!.params).toEqual([0]);
});
