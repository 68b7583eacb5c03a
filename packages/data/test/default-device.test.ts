/**
 * Samplers and splits draw their permutations on the CPU (host-side indices), so shuffling works when
 * the default device is one without synchronous reads (WebGPU after `useWebGPU()`).
 */
import { createCPUBackend, Generator, randn, registerBackend, setDefaultDevice } from '@gradfolio/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { DataLoader, RandomSampler, randomSplit, SubsetRandomSampler, TensorDataset } from '../src/index.js';

// A CPU backend under another name without readSync: what a GPU backend looks like to these code paths.
const cpu = createCPUBackend();
const { readSync: _sync, ...asyncOnly } = cpu;
registerBackend({ ...asyncOnly, name: 'async-only' });
afterAll(() => setDefaultDevice('cpu'));

describe('shuffling with a default device that cannot read synchronously', () => {
  it('RandomSampler, SubsetRandomSampler, randomSplit and a shuffled DataLoader', () => {
    const ds = new TensorDataset(randn([10, 3]), randn([10]));
    setDefaultDevice('async-only');
    const g = new Generator().manualSeed(1);
    expect([...new RandomSampler(ds, { generator: g })].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect([...new SubsetRandomSampler([3, 5, 7], { generator: g })].sort()).toEqual([3, 5, 7]);
    const [a, b] = randomSplit(ds, [7, 3], { generator: g });
    expect((a?.length ?? 0) + (b?.length ?? 0)).toBe(10);
    const sizes = [...new DataLoader(ds, { batchSize: 4, shuffle: true, generator: g })].map(
      ([x]) => x.shape[0],
    );
    expect(sizes).toEqual([4, 4, 2]);
  });
});
