/**
 * The per-device state of the WebGPU backend: the size-bucketed buffer pool, the pipeline cache,
 * pending zero-fills, and the one helper every kernel dispatches through.
 *
 * Ordering: everything goes through the single device queue. `queue.writeBuffer` and `queue.submit`
 * execute in call order on the queue timeline, so a buffer returned to the pool right after the submit
 * that last used it can be handed out again at once: later writes and dispatches run after that work.
 */
import type { DType } from '@gradfolio/tensor';

// Numeric flags (the WebGPU spec's values), so nothing depends on the GPUBufferUsage global, which
// Node only has when `webgpu`'s globals were installed.
/** @internal */
export const MAP_READ = 0x0001;
/** @internal */
export const COPY_SRC = 0x0004;
/** @internal */
export const COPY_DST = 0x0008;
/** @internal */
export const UNIFORM = 0x0040;
/** @internal */
export const STORAGE = 0x0080;
const MAP_MODE_READ = 0x0001;

/** Workgroup size of the 1-D kernels (elementwise, reductions). @internal */
export const WG = 256;
/** Pooled bytes kept at most; buffers freed beyond this are destroyed. */
const MAX_POOLED_BYTES = 512 * 1024 * 1024;

/**
 * The storage handle of a tensor on the WebGPU backend: one GPU buffer (STORAGE | COPY_SRC | COPY_DST)
 * of `bytes` bytes (a size class, at least 4 bytes per element rounded up to 16) holding `size`
 * elements of `dtype`, 4 bytes each (f32, i32, or bool as one u32 0/1 word per element).
 *
 * @example
 * ```ts
 * const t = tensor([1, 2, 3], { device: 'webgpu' });
 * const { buffer, bytes } = t.storage.handle as GPUStorage; // bytes === 16
 * ```
 */
export interface GPUStorage {
  readonly buffer: GPUBuffer;
  /** Allocated bytes (the pool bucket). */
  readonly bytes: number;
  readonly dtype: DType;
  /** Elements the tensor core asked for. */
  readonly size: number;
  /** Set once the storage went back to the pool. @internal */
  freed: boolean;
}

/** Counters summed over every WebGPU backend of this module. @internal */
export const totals = { bytesInUse: 0, bytesPooled: 0, liveBuffers: 0, buffersCreated: 0 };

/**
 * Size classes: multiples of 16 bytes up to 4 KiB, then 8 steps per power of two (at most 12.5% waste),
 * so buffers of similar sizes share a bucket.
 * @internal
 */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 4096) return b;
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 8;
  return Math.ceil(b / step) * step;
}

/** One buffer binding of a dispatch. @internal */
export interface Binding {
  readonly buffer: GPUBuffer;
  /** True for the bindings the shader writes (declared `read_write`). */
  readonly write?: boolean;
}

/** @internal */
export class GpuContext {
  readonly #pool = new Map<number, GPUBuffer[]>();
  readonly #uniformPool = new Map<number, GPUBuffer[]>();
  readonly #pipelines = new Map<string, GPUComputePipeline>();
  /** Buffers handed out by `alloc` that still need zeroing; cleared at the head of the next encoder. */
  readonly #pendingClears = new Set<GPUBuffer>();
  readonly maxWorkgroups: number;

  constructor(readonly device: GPUDevice) {
    this.maxWorkgroups = device.limits.maxComputeWorkgroupsPerDimension;
  }

  // ------------------------------------------------------------------ memory

  /** A storage buffer of at least `bytes` bytes from the pool (or new); `zero` schedules a clear. */
  acquire(bytes: number, zero: boolean): { buffer: GPUBuffer; bytes: number } {
    const cls = sizeClass(bytes);
    const free = this.#pool.get(cls);
    let buffer = free?.pop();
    if (buffer !== undefined) {
      totals.bytesPooled -= cls;
      // A fresh buffer is zero already; a recycled one is zeroed before anything else touches it.
      if (zero) this.#pendingClears.add(buffer);
    } else {
      buffer = this.device.createBuffer({ size: cls, usage: STORAGE | COPY_SRC | COPY_DST });
      totals.buffersCreated++;
    }
    totals.bytesInUse += cls;
    totals.liveBuffers++;
    return { buffer, bytes: cls };
  }

  /** Returns a buffer to the pool (or destroys it when the pool is full). */
  release(buffer: GPUBuffer, bytes: number): void {
    this.#pendingClears.delete(buffer);
    totals.bytesInUse -= bytes;
    totals.liveBuffers--;
    if (totals.bytesPooled + bytes > MAX_POOLED_BYTES) {
      buffer.destroy();
      return;
    }
    let list = this.#pool.get(bytes);
    if (list === undefined) {
      list = [];
      this.#pool.set(bytes, list);
    }
    list.push(buffer);
    totals.bytesPooled += bytes;
  }

  /** Destroys every pooled buffer. */
  trim(): void {
    for (const [bytes, list] of this.#pool) {
      for (const b of list) {
        b.destroy();
        totals.bytesPooled -= bytes;
      }
    }
    this.#pool.clear();
  }

  /** Writes host data into a buffer (queue-ordered). */
  write(buffer: GPUBuffer, data: ArrayBufferView): void {
    if (data.byteLength === 0) return;
    this.device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  }

  // ------------------------------------------------------------------ encoding

  /** A command encoder that first zeroes every pending fresh allocation. */
  encoder(): GPUCommandEncoder {
    const enc = this.device.createCommandEncoder();
    for (const b of this.#pendingClears) enc.clearBuffer(b);
    this.#pendingClears.clear();
    return enc;
  }

  /** Compiles (once) the pipeline `key` from `code()`. */
  pipeline(key: string, code: () => string): GPUComputePipeline {
    let p = this.#pipelines.get(key);
    if (p === undefined) {
      const module = this.device.createShaderModule({ code: code(), label: key });
      p = this.device.createComputePipeline({
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
        label: key,
      });
      this.#pipelines.set(key, p);
    }
    return p;
  }

  /**
   * Splits `count` workgroups into an (x, y) grid within the per-dimension limit. Shaders recover the
   * linear id as `wid.x + wid.y * nwg.x` and return when it is `>= count`.
   */
  grid(count: number): [number, number] {
    if (count <= this.maxWorkgroups) return [Math.max(1, count), 1];
    const y = Math.ceil(count / this.maxWorkgroups);
    return [Math.ceil(count / y), y];
  }

  /**
   * Records one compute dispatch: binding 0 is a uniform buffer holding `uniforms`, bindings 1.. are
   * `bindings` in order. A read binding whose buffer is also written by this dispatch (in-place ops,
   * copies within one storage) is snapshotted into a temporary buffer first, because WebGPU forbids a
   * buffer bound both read-only and writable in one dispatch.
   */
  dispatch(
    enc: GPUCommandEncoder,
    pipeline: GPUComputePipeline,
    uniforms: Int32Array,
    bindings: readonly Binding[],
    workgroups: number,
    temps: Array<{ buffer: GPUBuffer; bytes: number }>,
  ): void {
    const written = new Set<GPUBuffer>();
    for (const b of bindings) if (b.write) written.add(b.buffer);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.uniform(uniforms) } }];
    bindings.forEach((b, i) => {
      let buffer = b.buffer;
      if (!b.write && written.has(buffer)) {
        const snap = this.acquire(buffer.size, false);
        enc.copyBufferToBuffer(buffer, 0, snap.buffer, 0, buffer.size);
        temps.push(snap);
        buffer = snap.buffer;
      }
      entries.push({ binding: i + 1, resource: { buffer } });
    });
    const group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    const [x, y] = this.grid(workgroups);
    pass.dispatchWorkgroups(x, y);
    pass.end();
  }

  /** Submits `enc` and returns the temporaries to the pool (safe: later work is queue-ordered). */
  submit(enc: GPUCommandEncoder, temps: ReadonlyArray<{ buffer: GPUBuffer; bytes: number }> = []): void {
    this.device.queue.submit([enc.finish()]);
    for (const t of temps) this.release(t.buffer, t.bytes);
    for (const [size, list] of this.#uniformsInFlight) {
      let pool = this.#uniformPool.get(size);
      if (pool === undefined) {
        pool = [];
        this.#uniformPool.set(size, pool);
      }
      pool.push(...list);
    }
    this.#uniformsInFlight.clear();
  }

  readonly #uniformsInFlight = new Map<number, GPUBuffer[]>();

  /** A uniform buffer holding `data`, reused from the uniform pool after the next submit. */
  uniform(data: Int32Array): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    let buffer = this.#uniformPool.get(size)?.pop();
    buffer ??= this.device.createBuffer({ size, usage: UNIFORM | COPY_DST });
    this.device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    let inFlight = this.#uniformsInFlight.get(size);
    if (inFlight === undefined) {
      inFlight = [];
      this.#uniformsInFlight.set(size, inFlight);
    }
    inFlight.push(buffer);
    return buffer;
  }

  #errors: GPUBuffer | undefined;

  /**
   * The device-side error record of the index kernels, created on first use: four i32 words
   * [op code, index, dim, size], all 0 while no kernel saw an out-of-range index. A kernel cannot
   * throw, so it records the first bad index here and the next read raises it (see `readBytes`).
   */
  get errorBuffer(): GPUBuffer {
    this.#errors ??= this.device.createBuffer({ size: 16, usage: STORAGE | COPY_SRC | COPY_DST });
    return this.#errors;
  }

  /**
   * Copies `bytes` bytes at `srcOffset` of `src` to a mappable buffer and reads them back, together
   * with the error record (when one exists) in the same submission. A non-zero record is cleared and
   * returned as `error`.
   */
  async readBytes(
    enc: GPUCommandEncoder,
    src: GPUBuffer,
    srcOffset: number,
    bytes: number,
    temps: Array<{ buffer: GPUBuffer; bytes: number }>,
  ): Promise<{ data: ArrayBuffer; error?: Int32Array }> {
    const errors = this.#errors;
    const extra = errors === undefined ? 0 : 16;
    const staging = this.device.createBuffer({ size: bytes + extra, usage: MAP_READ | COPY_DST });
    enc.copyBufferToBuffer(src, srcOffset, staging, 0, bytes);
    if (errors !== undefined) enc.copyBufferToBuffer(errors, 0, staging, bytes, 16);
    this.submit(enc, temps);
    try {
      await staging.mapAsync(MAP_MODE_READ);
      const all = staging.getMappedRange();
      const data = all.slice(0, bytes);
      if (errors !== undefined) {
        const record = new Int32Array(all.slice(bytes, bytes + 16));
        if (record[0] !== 0) {
          this.write(errors, new Int32Array(4));
          return { data, error: record };
        }
      }
      return { data };
    } finally {
      if (staging.mapState === 'mapped') staging.unmap();
      staging.destroy();
    }
  }
}
