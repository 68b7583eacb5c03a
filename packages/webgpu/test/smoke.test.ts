import { tensor } from '@gradfolio/tensor';
import { beforeAll, expect, it } from 'vitest';
import { gpuErrors, initTestGPU } from './gpu.js';

beforeAll(async () => {
  const b = await initTestGPU();
  const info = (b.device as unknown as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  console.log('adapter', info?.vendor, info?.architecture, info?.description, process.env.LD_LIBRARY_PATH);
});

it('adds', async () => {
  const a = tensor([1, 2, 3], { device: 'webgpu', dtype: 'float32' });
  expect(Array.from(await a.add(a).data())).toEqual([2, 4, 6]);
  expect(gpuErrors).toEqual([]);
});
