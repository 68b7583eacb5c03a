import { initWebGPU, type WebGPUBackend } from '../src/index.js';

let backend: Promise<WebGPUBackend> | undefined;

/**
 * Initialises (once per test file) the 'webgpu' backend on whatever adapter Dawn finds: Vulkan first
 * (SwiftShader on CI), then OpenGL ES in compatibility mode (llvmpipe). `GRADFOLIO_WEBGPU_FLAGS`
 * (comma-separated Dawn flags, e.g. `backend=opengl`) forces a choice. Validation errors the device
 * reports fail the test run through `gpuErrors`.
 */
export function initTestGPU(): Promise<WebGPUBackend> {
  backend ??= (async () => {
    const forced = process.env.GRADFOLIO_WEBGPU_FLAGS;
    let b: WebGPUBackend;
    if (forced !== undefined) {
      const dawnFlags = forced.split(',').filter((f) => f !== '');
      b = await initWebGPU({ dawnFlags, featureLevel: 'compatibility' });
    } else {
      try {
        b = await initWebGPU({ dawnFlags: ['backend=vulkan'] });
      } catch {
        b = await initWebGPU({ dawnFlags: ['backend=opengl'], featureLevel: 'compatibility' });
      }
    }
    b.device.addEventListener('uncapturederror', (e) => {
      gpuErrors.push(String((e as GPUUncapturedErrorEvent).error.message));
    });
    return b;
  })();
  return backend;
}

/** Messages of uncaptured WebGPU errors (validation, out of memory) seen so far. */
export const gpuErrors: string[] = [];

/**
 * `device` as a backend sees it when the adapter's limits are `overrides` (every other property and
 * limit is the real device's): e.g. `{ maxComputeWorkgroupsPerDimension: 7 }` forces the 2-D grid.
 */
export function withLimits(device: GPUDevice, overrides: Readonly<Record<string, number>>): GPUDevice {
  const limits = new Proxy(device.limits, {
    get: (l, k) => (typeof k === 'string' && k in overrides ? overrides[k] : Reflect.get(l, k, l)),
  });
  return new Proxy(device, {
    get(target, prop) {
      if (prop === 'limits') return limits;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}
