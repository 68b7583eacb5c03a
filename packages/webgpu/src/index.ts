/**
 * @gradfolio/webgpu: a WebGPU backend for `@gradfolio/tensor` (WGSL compute kernels for every primitive
 * op of the op table, pooled GPU buffers, asynchronous reads).
 *
 * @example
 * ```ts
 * import { tensor } from '@gradfolio/tensor';
 * import { initWebGPU } from '@gradfolio/webgpu';
 *
 * await initWebGPU();
 * const x = tensor([[1, 2, 3], [4, 5, 6]], { device: 'webgpu', dtype: 'float32' });
 * await x.sum(1).data(); // Float32Array [6, 15]
 * ```
 *
 * @packageDocumentation
 */

export {
  createWebGPUBackend,
  type GPUStorage,
  type KernelTime,
  type WebGPUBackend,
  type WebGPUProfile,
  type WebGPUStats,
  webgpuStats,
} from './backend.js';
export { initWebGPU, type WebGPUOptions } from './init.js';
