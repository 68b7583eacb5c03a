import { GradfolioError, registerBackend } from '@gradfolio/tensor';
import { createWebGPUBackend, REQUIRED_LIMITS, type WebGPUBackend } from './backend.js';

/**
 * Options of {@link initWebGPU}.
 *
 * @example
 * ```ts
 * await initWebGPU({ powerPreference: 'high-performance' });
 * await initWebGPU({ dawnFlags: ['backend=opengl'], featureLevel: 'compatibility' }); // Node, no Vulkan
 * ```
 */
export interface WebGPUOptions {
  /** Use this device instead of requesting one. */
  device?: GPUDevice;
  /** Passed to `requestAdapter`. */
  powerPreference?: GPUPowerPreference;
  /** Passed to `requestAdapter` (a software adapter where the platform has one). */
  forceFallbackAdapter?: boolean;
  /** Passed to `requestAdapter`: `'compatibility'` also accepts OpenGL ES class adapters. */
  featureLevel?: 'core' | 'compatibility';
  /** Node only: flags for the `webgpu` package's `create()`, e.g. `['backend=vulkan']`. */
  dawnFlags?: string[];
}

interface DawnModule {
  create(flags: string[]): GPU;
}

const WEBGPU_MODULE = 'webgpu';

/** Features requested when the adapter has them (kernels check the device before using them). */
const OPTIONAL_FEATURES: readonly GPUFeatureName[] = ['subgroups', 'timestamp-query'];

/**
 * Dawn instances by flags. They must stay reachable for as long as any device made from them lives:
 * in `webgpu` 0.6.2 a garbage-collected instance tears down its devices under running work (the process
 * aborts or segfaults). They are never released; there are only ever a few.
 */
const dawnInstances = new Map<string, GPU>();
/** Adapters of the devices created here, kept alive with them for the same reason. */
const adapters = new Set<GPUAdapter>();

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

async function nodeGPU(flags: readonly string[]): Promise<GPU> {
  let mod: DawnModule;
  try {
    // A variable specifier keeps browser bundlers from trying to resolve the Node-only package.
    mod = (await import(/* @vite-ignore */ WEBGPU_MODULE)) as DawnModule;
  } catch (cause) {
    throw new GradfolioError(
      'BACKEND_UNAVAILABLE',
      "initWebGPU: WebGPU in Node needs the optional 'webgpu' package (Dawn for Node); install it with `pnpm add webgpu` (or `npm install webgpu`)",
      { device: 'webgpu' },
      { cause },
    );
  }
  const key = JSON.stringify(flags);
  let gpu = dawnInstances.get(key);
  if (gpu === undefined) {
    gpu = mod.create([...flags]);
    dawnInstances.set(key, gpu);
  }
  return gpu;
}

/**
 * Creates the WebGPU backend and registers it as device `'webgpu'`: in browsers (and Deno) through
 * `navigator.gpu`, in Node through the optional `webgpu` package (Dawn), imported on demand. Resolves to
 * the backend; tensors then go there with `{ device: 'webgpu' }` or `t.to('webgpu')`.
 *
 * Errors: `BACKEND_UNAVAILABLE` when there is no WebGPU (no `navigator.gpu`, `webgpu` not installed)
 * or no adapter.
 *
 * @example
 * ```ts
 * import { tensor } from '@gradfolio/tensor';
 * import { initWebGPU } from '@gradfolio/webgpu';
 *
 * await initWebGPU();
 * const a = tensor([[1, 2], [3, 4]], { device: 'webgpu', dtype: 'float32' });
 * console.log(await a.matmul(a).toArray()); // [[7, 10], [15, 22]]
 * ```
 */
export async function initWebGPU(options: WebGPUOptions = {}): Promise<WebGPUBackend> {
  let device = options.device;
  if (device === undefined) {
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    let gpu: GPU;
    if (nav?.gpu !== undefined) gpu = nav.gpu;
    else if (isNode()) gpu = await nodeGPU(options.dawnFlags ?? []);
    else {
      throw new GradfolioError(
        'BACKEND_UNAVAILABLE',
        'initWebGPU: this environment has no WebGPU (navigator.gpu is undefined); use a browser with WebGPU enabled, or keep tensors on the CPU',
        { device: 'webgpu' },
      );
    }
    const request: GPURequestAdapterOptions & { featureLevel?: string } = {};
    if (options.powerPreference !== undefined) request.powerPreference = options.powerPreference;
    if (options.forceFallbackAdapter !== undefined)
      request.forceFallbackAdapter = options.forceFallbackAdapter;
    if (options.featureLevel !== undefined) request.featureLevel = options.featureLevel;
    const adapter = await gpu.requestAdapter(request);
    if (adapter === null) {
      const hint = isNode()
        ? " In Node, Dawn needs a Vulkan driver (e.g. SwiftShader: VK_ICD_FILENAMES=/path/to/vk_swiftshader_icd.json, with libvulkan.so.1 on the library path), or try { dawnFlags: ['backend=opengl'], featureLevel: 'compatibility' } (with EGL_PLATFORM=surfaceless when headless)."
        : '';
      throw new GradfolioError('BACKEND_UNAVAILABLE', `initWebGPU: no WebGPU adapter is available.${hint}`, {
        device: 'webgpu',
        request,
      });
    }
    // Ask for the adapter's largest buffers (the defaults, 128/256 MiB, are smaller than most GPUs
    // allow) and for the workgroup sizes the kernels use (compatibility-mode defaults are smaller).
    const requiredLimits: Record<string, number> = {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    };
    for (const [name, want] of Object.entries(REQUIRED_LIMITS)) {
      const have = (adapter.limits as unknown as Record<string, number>)[name] ?? 0;
      // Where the adapter cannot, createWebGPUBackend reports the missing limit with a coded error.
      if (have >= want) requiredLimits[name] = want;
    }
    // Optional features the kernels use where present: subgroup reductions, GPU-side kernel timing.
    const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
    adapters.add(adapter);
    const held = adapter;
    void device.lost.then(() => adapters.delete(held));
  }
  const backend = createWebGPUBackend(device);
  registerBackend(backend);
  return backend;
}
