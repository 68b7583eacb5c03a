/**
 * A lost device and uncaptured device errors surface as coded errors at the next allocation or read,
 * and initWebGPU() re-initialises. Uses its own devices (not the suite's shared one).
 */
import { GradfolioError, getBackend, type Tensor, tensor } from '@gradfolio/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWebGPUBackend, initWebGPU } from '../src/index.js';
import { initTestGPU } from './gpu.js';

beforeAll(async () => {
  await initTestGPU();
});

/** A device of its own, from the adapter kind the suite uses (initWebGPU registers it as 'webgpu'). */
async function freshDevice(): Promise<GPUDevice> {
  const b = await initWebGPU({ dawnFlags: ['backend=vulkan'] }).catch(() =>
    initWebGPU({ dawnFlags: ['backend=opengl'], featureLevel: 'compatibility' }),
  );
  return b.device;
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<GradfolioError> {
  try {
    if (typeof p === 'function') p();
    else await p;
  } catch (e) {
    if (GradfolioError.isInstance(e)) return e;
    throw e;
  }
  throw new Error('expected an error');
}

describe('device loss and uncaptured errors', () => {
  it('a lost device raises DEVICE_LOST (with the way out) at the next read or allocation; initWebGPU re-initialises', async () => {
    const device = await freshDevice();
    const backend = createWebGPUBackend(device);
    const name = backend.name;
    // Use the backend directly (not registered), as a tensor core would.
    const handle = backend.upload(new Float32Array([1, 2, 3]), 'float32');
    const view = { handle, dtype: 'float32' as const, shape: [3], strides: [1], offset: 0 };
    expect(Array.from((await backend.read(view)) as Float32Array)).toEqual([1, 2, 3]);
    device.destroy();
    await device.lost;
    const e = await codeOf(backend.read(view));
    expect(e.code).toBe('DEVICE_LOST');
    expect(e.message).toMatch(/initWebGPU\(\) again/);
    expect((await codeOf(() => backend.alloc('float32', 4))).code).toBe('DEVICE_LOST');
    expect(name).toBe('webgpu');
    // Re-initialising registers a working backend again.
    const again = await freshDevice();
    expect(getBackend('webgpu')).toBeDefined();
    const t: Tensor = tensor([1, 2], { device: 'webgpu', dtype: 'float32' }).add(1);
    expect(Array.from((await t.data()) as Float32Array)).toEqual([2, 3]);
    again.destroy();
  });

  it('an uncaptured validation error raises GPU_ERROR at the next read, once', async () => {
    const device = await freshDevice();
    const backend = createWebGPUBackend(device);
    const handle = backend.upload(new Float32Array([5]), 'float32');
    const view = { handle, dtype: 'float32' as const, shape: [1], strides: [1], offset: 0 };
    // Invalid on purpose: a MAP_READ buffer may only be combined with COPY_DST.
    device.createBuffer({ size: 4, usage: 0x0001 | 0x0080 }); // MAP_READ | STORAGE
    await device.queue.onSubmittedWorkDone();
    await new Promise((r) => setTimeout(r, 50));
    const e = await codeOf(backend.read(view));
    expect(e.code).toBe('GPU_ERROR');
    expect(Array.from((await backend.read(view)) as Float32Array)).toEqual([5]);
    device.destroy();
  });
});
