/**
 * initWebGPU in Node: the coded errors when the optional `webgpu` package or an adapter is missing, and
 * registration of a backend on a caller-provided device.
 */
import { GradfolioError } from '@gradfolio/tensor';
import { afterEach, describe, expect, it, vi } from 'vitest';

afterEach(() => {
  vi.doUnmock('webgpu');
  vi.resetModules();
});

async function rejection(p: Promise<unknown>): Promise<GradfolioError> {
  try {
    await p;
  } catch (e) {
    if (GradfolioError.isInstance(e)) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('initWebGPU', () => {
  it("throws BACKEND_UNAVAILABLE naming 'pnpm add webgpu' when the package is missing", async () => {
    vi.doMock('webgpu', () => {
      throw new Error("Cannot find package 'webgpu'");
    });
    const { initWebGPU } = await import('../src/init.js');
    const err = await rejection(initWebGPU());
    expect(err.code).toBe('BACKEND_UNAVAILABLE');
    expect(err.message).toMatch(/pnpm add webgpu/);
  });

  it('throws BACKEND_UNAVAILABLE with setup hints when there is no adapter', async () => {
    vi.doMock('webgpu', () => ({ create: () => ({ requestAdapter: async () => null }), globals: {} }));
    const { initWebGPU } = await import('../src/init.js');
    const err = await rejection(initWebGPU({ dawnFlags: ['backend=vulkan'] }));
    expect(err.code).toBe('BACKEND_UNAVAILABLE');
    expect(err.message).toMatch(/no WebGPU adapter/);
    expect(err.message).toMatch(/VK_ICD_FILENAMES/);
  });

  it("registers the 'webgpu' backend, also on a device the caller created", async () => {
    // After resetModules, init.js and the test must share one fresh copy of the tensor package.
    const { getBackend, hasBackend, tensor } = await import('@gradfolio/tensor');
    const { initWebGPU } = await import('../src/init.js');
    const first = await initWebGPU({ dawnFlags: ['backend=vulkan'] }).catch(() =>
      initWebGPU({ dawnFlags: ['backend=opengl'], featureLevel: 'compatibility' }),
    );
    expect(hasBackend('webgpu')).toBe(true);
    expect(getBackend('webgpu')).toBe(first);
    const second = await initWebGPU({ device: first.device });
    expect(second).not.toBe(first);
    expect(second.device).toBe(first.device);
    expect(getBackend('webgpu')).toBe(second);
    expect(Array.from(await tensor([1, 2], { device: 'webgpu' }).add(1).data())).toEqual([2, 3]);
  });
});
