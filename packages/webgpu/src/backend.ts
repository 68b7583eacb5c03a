import {
  type Backend,
  type DType,
  GradfolioError,
  type Kernel,
  liveTensors,
  type TensorView,
  type TypedArray,
} from '@gradfolio/tensor';
import { type GPUStorage, GpuContext, totals, type WebGPUProfile } from './context.js';
import { elementwiseKernels, isContiguous, runElementwise } from './kernels/elementwise.js';
import { deviceError } from './kernels/errors.js';
import { indexKernels } from './kernels/index.js';
import { linalgKernels } from './kernels/linalg.js';
import { lineKernels } from './kernels/lines.js';
import { lstmKernels } from './kernels/lstm.js';
import { matmulKernel } from './kernels/matmul.js';
import { optimKernels } from './kernels/optim.js';
import { type ReduceOp, reduceKernel } from './kernels/reduce.js';
import { contiguousStrides, numelOf } from './layout.js';

export type { GPUStorage, KernelTime, WebGPUProfile } from './context.js';

/**
 * The `Backend` this package creates: the tensor-core contract plus the `GPUDevice` it runs on.
 *
 * @example
 * ```ts
 * const gpu = await initWebGPU();
 * gpu.device.limits.maxStorageBufferBindingSize;
 * ```
 */
export interface WebGPUBackend extends Backend {
  /** The device every buffer and pipeline of this backend belongs to. */
  readonly device: GPUDevice;
  /** Destroys the pooled (free) buffers now; live tensors are untouched. */
  trimPool(): void;
  /**
   * Starts timing kernels on the GPU (timestamp queries, one pair per dispatch) for {@link endProfile}.
   * Dawn quantises timestamps unless started with
   * `dawnFlags: ['disable-dawn-features=timestamp_quantization']` (Node); browsers quantise too.
   *
   * @example
   * ```ts
   * gpu.startProfile();
   * const y = x.matmul(x).sum();
   * await y.item();
   * const p = await gpu.endProfile(); // p.kernels[0].kernel === 'matmul|float32|b0|4x4', ...
   * ```
   */
  startProfile(): void;
  /**
   * Ends the profile {@link startProfile} began: GPU time per kernel, dispatches, submits, wall time.
   * Throws `INVALID_ARGUMENT` when no profile was started.
   *
   * @example
   * ```ts
   * const p = await gpu.endProfile();
   * if (p.gpuMs < 0.5 * p.wallMs) console.log('host-bound:', p.dispatches, 'dispatches', p.submits, 'submits');
   * ```
   */
  endProfile(): Promise<WebGPUProfile>;
  /** The per-device state (pool, pipelines, feature switches) the kernels share. @internal */
  readonly context: GpuContext;
}

/**
 * Memory counters of the WebGPU backend, summed over every backend this module created.
 *
 * @example
 * ```ts
 * const { bytesInUse, liveBuffers } = webgpuStats();
 * ```
 */
export interface WebGPUStats {
  /** Bytes of the GPU buffers currently owned by live storage (size classes, not requested sizes). */
  bytesInUse: number;
  /** Bytes of the freed buffers kept in the pool for reuse. */
  bytesPooled: number;
  /** Number of GPU buffers currently owned by live storage. */
  liveBuffers: number;
  /** Storage buffers ever created with `createBuffer` (pool misses), for checking reuse. */
  buffersCreated: number;
  /** Live tensors on `'webgpu'` (views included): created and neither disposed nor collected. */
  liveTensors: number;
}

/**
 * Memory counters of the WebGPU backend. Disposing tensors (or their finalization) returns their
 * buffers to a size-bucketed pool, so `bytesInUse` falls and `bytesPooled` rises; the next allocation of
 * a similar size reuses a pooled buffer instead of creating one.
 *
 * @example
 * ```ts
 * const before = webgpuStats().bytesInUse;
 * const t = zeros([1024], { device: 'webgpu' });
 * webgpuStats().bytesInUse - before; // 4096
 * t.dispose();
 * webgpuStats().bytesInUse - before; // 0
 * ```
 */
export function webgpuStats(): WebGPUStats {
  return { ...totals, liveTensors: liveTensors('webgpu') };
}

/**
 * Device limits the kernels need (the WebGPU core defaults; compatibility-mode devices default lower).
 * @internal
 */
export const REQUIRED_LIMITS: Readonly<Record<string, number>> = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 16,
  maxComputeWorkgroupStorageSize: 16384,
  // where (cond, a, b, out) and the index kernels (three operands plus the error record) bind four.
  maxStorageBuffersPerShaderStage: 4,
};

function checkLimits(device: GPUDevice): void {
  const limits = device.limits as unknown as Record<string, number | undefined>;
  const short = Object.entries(REQUIRED_LIMITS).filter(([name, want]) => (limits[name] ?? want) < want);
  if (short.length > 0) {
    throw new GradfolioError(
      'BACKEND_UNAVAILABLE',
      `createWebGPUBackend: the device's limits are too small for the kernels: ${short
        .map(([name, want]) => `${name} is ${limits[name]}, needs ${want}`)
        .join(
          '; ',
        )}. Request them in requestDevice({ requiredLimits }) (initWebGPU does), if the adapter allows.`,
      { device: 'webgpu', limits: Object.fromEntries(short) },
    );
  }
}

/** Element bytes on the GPU: every dtype is one 4-byte word (bool included). */
const BYTES = 4;

const FLOAT64_MESSAGE =
  "the 'webgpu' backend does not support float64 (WGSL has no 64-bit floats); keep float64 tensors on the CPU (device 'cpu'), or cast with .float() before moving them to 'webgpu'";

function toGpuArray(data: TypedArray, dtype: DType): Float32Array | Int32Array | Uint32Array {
  if (dtype === 'bool') {
    const out = new Uint32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = data[i] !== 0 ? 1 : 0;
    return out;
  }
  if (dtype === 'float32') return data instanceof Float32Array ? data : Float32Array.from(data);
  return data instanceof Int32Array ? data : Int32Array.from(data);
}

function fromGpuBytes(bytes: ArrayBuffer, dtype: DType): TypedArray {
  if (dtype === 'float32') return new Float32Array(bytes);
  if (dtype === 'int32') return new Int32Array(bytes);
  const words = new Uint32Array(bytes);
  const out = new Uint8Array(words.length);
  for (let i = 0; i < words.length; i++) out[i] = words[i] !== 0 ? 1 : 0;
  return out;
}

/**
 * Creates a WebGPU backend on an existing `GPUDevice` (does not register it; see `initWebGPU`).
 *
 * Storage is one GPU buffer per tensor storage (float32 as f32, int32 as i32, bool as one u32 0/1 word
 * per element), pooled by size class on free. Kernels: every primitive of the op table (pointwise
 * ops, reductions, scans, max/min/arg-reductions, sort, gather, scatter, indexSelect, matmul, float32
 * cholesky/solve/inverse, and the fused `tanhBackward`/`sigmoidBackward`). Errors a kernel finds (an
 * out-of-range index, a singular or non-positive-definite matrix) make the next read raise
 * `INDEX_OUT_OF_RANGE` or `LINALG_ERROR`; a lost device makes the next allocation or read raise
 * `DEVICE_LOST` (call `initWebGPU()` again to re-initialise), and an uncaptured device error
 * (validation, out of memory) raises `GPU_ERROR` there. There is no `readSync`, so the tensor core's synchronous
 * reads raise `SYNC_READ_UNAVAILABLE`. Throws `BACKEND_UNAVAILABLE` when the device's compute limits
 * are below the WebGPU core defaults the kernels use (256 invocations per workgroup, 16 KiB of
 * workgroup memory, 4 storage buffers per stage): compatibility-mode devices must
 * request them.
 *
 * @example
 * ```ts
 * import { registerBackend, tensor } from '@gradfolio/tensor';
 * import { createWebGPUBackend } from '@gradfolio/webgpu';
 *
 * const adapter = await navigator.gpu.requestAdapter();
 * registerBackend(createWebGPUBackend(await adapter!.requestDevice()));
 * await tensor([1, 2], { device: 'webgpu' }).add(1).data(); // Float32Array [2, 3]
 * ```
 */
export function createWebGPUBackend(device: GPUDevice): WebGPUBackend {
  checkLimits(device);
  const ctx = new GpuContext(device);
  const kernels = new Map<string, Kernel>(elementwiseKernels(ctx));
  for (const op of ['sum', 'prod', 'amax', 'amin', 'all', 'any'] as ReduceOp[]) {
    kernels.set(op, reduceKernel(ctx, op));
  }
  kernels.set('matmul', matmulKernel(ctx));
  for (const [name, k] of indexKernels(ctx)) kernels.set(name, k);
  for (const [name, k] of lineKernels(ctx, kernels.get('copy')!)) kernels.set(name, k);
  for (const [name, k] of linalgKernels(ctx)) kernels.set(name, k);
  for (const [name, k] of lstmKernels(ctx)) kernels.set(name, k);
  for (const [name, k] of optimKernels(ctx)) kernels.set(name, k);

  const store = (dtype: DType, size: number, zero: boolean): GPUStorage => {
    const { buffer, bytes } = ctx.acquire(size * BYTES, zero);
    return { buffer, bytes, dtype, size, freed: false };
  };

  // Device loss and errors nobody captured (validation, out-of-memory) surface as coded errors at the
  // next allocation or read, instead of silently wrong or missing results.
  let lost: string | undefined;
  let uncaptured: string | undefined;
  void device.lost.then((info) => {
    lost = `${info.reason ?? 'unknown'}${info.message ? `: ${info.message}` : ''}`;
  });
  const onError = (ev: Event): void => {
    uncaptured ??= (ev as GPUUncapturedErrorEvent).error?.message ?? String(ev);
  };
  if (typeof device.addEventListener === 'function') device.addEventListener('uncapturederror', onError);
  else (device as unknown as { onuncapturederror?: (ev: Event) => void }).onuncapturederror = onError;
  const check = (op: string): void => {
    if (lost !== undefined) {
      throw new GradfolioError(
        'DEVICE_LOST',
        `${op}: the WebGPU device was lost (${lost}); the tensors on it are gone. Call initWebGPU() again to re-initialise, then recreate them (keep a CPU copy or a state dict of what you need).`,
        { op, device: 'webgpu', reason: lost },
      );
    }
    if (uncaptured !== undefined) {
      const message = uncaptured;
      uncaptured = undefined;
      throw new GradfolioError('GPU_ERROR', `${op}: the WebGPU device reported an error: ${message}`, {
        op,
        device: 'webgpu',
      });
    }
  };

  const read = async (view: TensorView): Promise<TypedArray> => {
    check('read');
    const n = numelOf(view.shape);
    if (n === 0) return fromGpuBytes(new ArrayBuffer(0), view.dtype);
    const s = view.handle as GPUStorage;
    const temps: Array<{ buffer: GPUBuffer; bytes: number }> = [];
    let src = s.buffer;
    let offset = view.offset;
    if (!isContiguous(view)) {
      // Gather the strided view into a contiguous temporary with the copy kernel first.
      const tmp = store(view.dtype, n, false);
      runElementwise(
        ctx,
        'copy',
        [view],
        {
          handle: tmp,
          dtype: view.dtype,
          shape: view.shape,
          strides: contiguousStrides(view.shape),
          offset: 0,
        },
        {},
      );
      temps.push({ buffer: tmp.buffer, bytes: tmp.bytes });
      src = tmp.buffer;
      offset = 0;
    }
    const { data, error } = await ctx.readBytes(ctx.encoder(), src, offset * BYTES, n * BYTES, temps);
    check('read');
    if (error !== undefined) throw deviceError(error);
    return fromGpuBytes(data, view.dtype);
  };

  return {
    name: 'webgpu',
    device,
    kernels,
    alloc: (dtype, size) => {
      check('alloc');
      return store(dtype, size, true);
    },
    upload: (data, dtype) => {
      check('upload');
      const s = store(dtype, data.length, false);
      ctx.write(s.buffer, toGpuArray(data, dtype));
      return s;
    },
    read,
    free: (handle) => {
      const s = handle as GPUStorage;
      if (s.freed) return;
      s.freed = true;
      ctx.release(s.buffer, s.bytes);
    },
    sync: () => {
      ctx.flush();
      return device.queue.onSubmittedWorkDone();
    },
    unsupportedDType: (dtype) => (dtype === 'float64' ? FLOAT64_MESSAGE : undefined),
    trimPool: () => ctx.trim(),
    startProfile: () => {
      check('startProfile');
      ctx.startProfile();
    },
    endProfile: () => ctx.endProfile(),
    context: ctx,
  };
}
