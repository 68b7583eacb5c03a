/**
 * The per-device state of the WebGPU backend: the size-bucketed buffer pool, the pipeline cache,
 * pending zero-fills, and the one helper every kernel dispatches through.
 *
 * Ordering: everything goes through the single device queue. Ops record into one open command encoder
 * that is submitted in batches (`flush`), so commands run in recording order; a buffer returned to the
 * pool can be handed out again at once, because later dispatches are recorded after the work that last
 * used it, and host writes are recorded in order too (small ones as copies from a staging chunk into the
 * open encoder; large ones with `queue.writeBuffer` after the open encoder is submitted).
 *
 * Deferred work: pointwise ops may not record at once but join a pending fused group (fusion.ts), held
 * here as {@link DeferredWork}. It is recorded (in order with everything else) before any other
 * kernel, read or flush, and before a buffer it binds is destroyed; freed buffers it reads stay out of
 * the pool until then, so nothing else is handed one of its buffers.
 */
import { type DType, GradfolioError } from '@gradfolio/tensor';

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
/** GPUShaderStage.COMPUTE. */
const COMPUTE = 0x4;
/** Bytes of one uniform arena (a batch of 256 dispatches with 256-byte slots fills one). */
const ARENA_BYTES = 64 * 1024;
/** Cached bind groups at most (the cache is cleared when full). */
const MAX_BIND_GROUPS = 8192;
/** Host writes up to this size are staged into the open encoder instead of submitting it first. */
const STAGED_WRITE_MAX = 64 * 1024;
/** Bytes of one mapped staging chunk (several small writes share one). */
const STAGING_CHUNK = 64 * 1024;
/** Dispatches recorded into one command encoder before it is submitted (see `flush`). */
const MAX_BATCH = 256;

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
  /** The storage's GPU buffer (pooled; views share it). */
  readonly buffer: GPUBuffer;
  /** Allocated bytes (the pool bucket). */
  readonly bytes: number;
  /** Element type (bool as one u32 per element). */
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

/** Timestamp queries per query set: 2 per compute pass; resolved when full and at every flush. */
const PROFILE_QUERIES = 512;
const QUERY_RESOLVE = 0x0200;

/**
 * GPU time of one kernel (pipeline) over a profiled span.
 *
 * @example
 * ```ts
 * const { kernels } = await gpu.endProfile();
 * for (const k of kernels) console.log(k.kernel, k.dispatches, k.ms.toFixed(3));
 * ```
 */
export interface KernelTime {
  /** The pipeline's cache key, e.g. `matmul|float32|b0|4x4`. */
  readonly kernel: string;
  /** Compute passes of this kernel (one per dispatch). */
  readonly dispatches: number;
  /** Summed GPU time of those passes, from timestamp queries, in milliseconds. */
  readonly ms: number;
}

/**
 * What {@link GpuContext.endProfile} measured between `startProfile()` and `endProfile()`.
 *
 * @example
 * ```ts
 * gpu.startProfile();
 * step();
 * const p = await gpu.endProfile();
 * console.log(`${p.gpuMs.toFixed(2)} ms on the GPU of ${p.wallMs.toFixed(2)} ms wall`);
 * ```
 */
export interface WebGPUProfile {
  /** False when the device has no `timestamp-query`: then only `dispatches` and `wallMs` are filled. */
  readonly timestamps: boolean;
  /** Compute passes recorded (one per kernel dispatch). */
  readonly dispatches: number;
  /** Command-buffer submits (`queue.submit` calls). */
  readonly submits: number;
  /** Sum of every pass's GPU time, in milliseconds. */
  readonly gpuMs: number;
  /** Wall time from `startProfile()` until the profiled work had finished on the GPU, in milliseconds. */
  readonly wallMs: number;
  /** Per-kernel totals, largest GPU time first. */
  readonly kernels: readonly KernelTime[];
}

interface ProfileState {
  readonly start: number;
  readonly querySet: GPUQuerySet | undefined;
  /** Pipeline keys of the passes written into the query set since its last resolve. */
  labels: string[];
  /** Resolved slices waiting for their submit, then mapped. */
  readonly toMap: Array<{ staging: GPUBuffer; labels: string[] }>;
  readonly reads: Array<Promise<void>>;
  readonly byKernel: Map<string, { dispatches: number; ns: number }>;
  dispatches: number;
  submits: number;
}

/**
 * A kernel as `pipeline()` returns it: its WGSL, compiled once, and a compute pipeline per binding
 * signature (explicit layouts, so bind groups are shared and cached). @internal
 */
export interface KernelPipeline {
  readonly key: string;
  readonly code: () => string;
  module: GPUShaderModule | undefined;
  readonly bySignature: Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>;
}

/** One buffer binding of a dispatch. @internal */
export interface Binding {
  readonly buffer: GPUBuffer;
  /** True for the bindings the shader writes (declared `read_write`). */
  readonly write?: boolean;
}

/**
 * Work that is recorded lazily: the pending fused elementwise group of fusion.ts. The context records it
 * into the open encoder before anything that could conflict with it. @internal
 */
export interface DeferredWork {
  /** Nothing pending. */
  readonly empty: boolean;
  /** True when recording the work would bind `buffer` (it reads it, or stores into it). */
  binds(buffer: GPUBuffer): boolean;
  /** `buffer` went back to the pool: whatever the work would store into it is dead. */
  released(buffer: GPUBuffer): void;
  /** Records the work into `enc` (after the pending clears) and empties it. */
  record(enc: GPUCommandEncoder): void;
}

/** @internal */
export class GpuContext {
  readonly #pool = new Map<number, GPUBuffer[]>();
  readonly #pipelines = new Map<string, KernelPipeline>();
  /** Buffers handed out by `alloc` that still need zeroing; cleared at the head of the next encoder. */
  readonly #pendingClears = new Set<GPUBuffer>();
  readonly maxWorkgroups: number;
  /** The command encoder ops record into until `flush` submits it. */
  #open: GPUCommandEncoder | undefined;
  #openOps = 0;
  #flushScheduled = false;
  /** Buffers to destroy once the open encoder (which may still use them) is submitted. */
  readonly #destroyAfterFlush: GPUBuffer[] = [];

  /**
   * The device has the `subgroups` feature (WGSL `enable subgroups;`): kernels may use subgroup
   * operations. Tests turn it off to check the portable path on the same device.
   */
  subgroups: boolean;
  /** The device has `timestamp-query`: {@link GpuContext.startProfile} can time kernels on the GPU. */
  readonly timestamps: boolean;
  /**
   * Consecutive pointwise ops are fused into one dispatch (fusion.ts). Tests turn it off to compare
   * with the one-dispatch-per-op path on the same device.
   */
  fusion = true;
  /** The pending fused group (created by fusion.ts on first use). */
  deferred: DeferredWork | undefined;

  /** Dynamic uniform offsets are multiples of this (the device's minUniformBufferOffsetAlignment). */
  readonly #uniformAlign: number;

  constructor(readonly device: GPUDevice) {
    this.maxWorkgroups = device.limits.maxComputeWorkgroupsPerDimension;
    this.#uniformAlign = device.limits.minUniformBufferOffsetAlignment;
    this.subgroups = device.features.has('subgroups');
    this.timestamps = device.features.has('timestamp-query');
  }

  // ------------------------------------------------------------------ memory

  /** A storage buffer of at least `bytes` bytes from the pool (or new); `zero` schedules a clear. */
  acquire(bytes: number, zero: boolean): { buffer: GPUBuffer; bytes: number } {
    const cls = sizeClass(bytes);
    const free = this.#pool.get(cls);
    let buffer = free?.pop();
    if (buffer !== undefined) {
      // Never one the pending group binds: `release` holds those out of the pool until it is recorded.
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
    this.deferred?.released(buffer);
    totals.bytesInUse -= bytes;
    totals.liveBuffers--;
    if (totals.bytesPooled + bytes > MAX_POOLED_BYTES) {
      this.#destroy(buffer);
      return;
    }
    if (this.deferred?.binds(buffer) === true) {
      // The pending group still reads it: held out of the pool until the group is recorded, so the
      // next allocations (the scalar operands of the same chain) do not have to record the group.
      this.#held.push({ buffer, bytes });
      totals.bytesPooled += bytes;
      return;
    }
    this.#toPool(buffer, bytes);
  }

  /** Freed buffers the pending group reads, returned to the pool once it is recorded. */
  readonly #held: Array<{ buffer: GPUBuffer; bytes: number }> = [];

  #toPool(buffer: GPUBuffer, bytes: number): void {
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
    this.#recordDeferred(); // returns the held buffers to the pool
    for (const [bytes, list] of this.#pool) {
      for (const b of list) {
        this.#destroy(b);
        totals.bytesPooled -= bytes;
      }
    }
    this.#pool.clear();
  }

  #destroy(buffer: GPUBuffer): void {
    // Recording the pending group opens the encoder, so the destroy waits for its submit.
    if (this.deferred?.binds(buffer) === true) this.#recordDeferred();
    this.#evictGroups(buffer);
    if (this.#open === undefined) buffer.destroy();
    else this.#destroyAfterFlush.push(buffer);
  }

  /**
   * Writes host data into a buffer, in recording order. While an encoder is open (recorded work not yet
   * submitted, which may still read a pooled `buffer` under its previous owner), the bytes go into a
   * mapped staging chunk and a copy is recorded after that work: scalar operands and small uploads
   * then cost no submit (a training step stays one `queue.submit`). Large writes, or writes with
   * nothing recorded, use `queue.writeBuffer` after submitting what is open.
   */
  write(buffer: GPUBuffer, data: ArrayBufferView): void {
    const n = data.byteLength;
    if (n === 0) return;
    // Writes go to fresh or pooled buffers, which the pending group never binds (see `release`), so they
    // may be recorded before it: scalar operands do not end a fused chain.
    if (this.#open !== undefined && n <= STAGED_WRITE_MAX) {
      const enc = this.#openEncoder();
      let chunk = this.#staging.at(-1);
      if (chunk === undefined || chunk.used + n > chunk.bytes.length) {
        const size = Math.max(STAGING_CHUNK, n);
        const buf = this.device.createBuffer({ size, usage: COPY_SRC, mappedAtCreation: true });
        chunk = { buffer: buf, bytes: new Uint8Array(buf.getMappedRange()), used: 0 };
        this.#staging.push(chunk);
      }
      chunk.bytes.set(new Uint8Array(data.buffer, data.byteOffset, n), chunk.used);
      // Element data is 4-byte words, so offsets and sizes meet copyBufferToBuffer's 4-byte alignment.
      enc.copyBufferToBuffer(chunk.buffer, chunk.used, buffer, 0, n);
      chunk.used += n;
      this.submit(enc);
      return;
    }
    this.#submitOpen();
    this.device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, n);
  }

  /** Mapped staging chunks of {@link GpuContext.write}, unmapped and submitted with the open encoder. */
  readonly #staging: Array<{ buffer: GPUBuffer; bytes: Uint8Array; used: number }> = [];

  // ------------------------------------------------------------------ encoding

  /**
   * The open command encoder (created on demand), after recording the zeroing of every pending fresh
   * allocation. Ops record into it and call {@link GpuContext.submit}; the batch is submitted by
   * {@link GpuContext.flush}: when a read or a host write needs it, after `MAX_BATCH` ops, or at the
   * end of the current task (a microtask), so a synchronous training step is one submit.
   */
  encoder(): GPUCommandEncoder {
    const enc = this.#openEncoder();
    this.#recordDeferred();
    return enc;
  }

  /**
   * The open encoder after the pending clears, without recording the pending group. Clears may go
   * before the group: a pending clear is either of a group output (it must precede the group) or of a
   * buffer the group does not bind (`acquire` records the group before scheduling a clear of a buffer
   * it reads).
   */
  #openEncoder(): GPUCommandEncoder {
    this.#open ??= this.device.createCommandEncoder();
    const enc = this.#open;
    for (const b of this.#pendingClears) enc.clearBuffer(b);
    this.#pendingClears.clear();
    return enc;
  }

  /** Records the pending fused group (if any) into the open encoder as one op of the batch. */
  #recordDeferred(): void {
    const d = this.deferred;
    if (d === undefined || d.empty) return;
    d.record(this.#openEncoder());
    for (const h of this.#held.splice(0)) {
      totals.bytesPooled -= h.bytes;
      this.#toPool(h.buffer, h.bytes);
    }
    // Counted, but the batch is not submitted here: `encoder()` callers still record into it.
    this.#openOps++;
    this.scheduleFlush();
  }

  /** Makes sure the open work (and the pending group) is submitted at the end of the current task. */
  scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.flush();
    });
  }

  /**
   * The kernel `key` (its WGSL from `code()`, compiled once). Pipelines are created per binding
   * signature at the first dispatch (see {@link GpuContext.dispatch}).
   */
  pipeline(key: string, code: () => string): KernelPipeline {
    let p = this.#pipelines.get(key);
    if (p === undefined) {
      p = { key, code, module: undefined, bySignature: new Map() };
      this.#pipelines.set(key, p);
    }
    return p;
  }

  /** The compute pipeline of `kp` for binding signature `sig` (`r`/`w` per storage binding). */
  #compiled(kp: KernelPipeline, sig: string): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    let c = kp.bySignature.get(sig);
    if (c === undefined) {
      kp.module ??= this.device.createShaderModule({ code: kp.code(), label: kp.key });
      const layout = this.#layout(sig);
      const pipeline = this.device.createComputePipeline({
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module: kp.module, entryPoint: 'main' },
        label: kp.key,
      });
      c = { pipeline, layout };
      kp.bySignature.set(sig, c);
    }
    return c;
  }

  /**
   * The bind group layout of a signature: binding 0 the uniforms (a slice of the uniform arena, at a
   * dynamic offset), then one storage buffer per letter, writable for `w`. Explicit layouts (not
   * 'auto') are shared by every kernel with the same signature, so bind groups can be cached.
   */
  #layout(sig: string): GPUBindGroupLayout {
    let l = this.#layouts.get(sig);
    if (l === undefined) {
      const entries: GPUBindGroupLayoutEntry[] = [
        { binding: 0, visibility: COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } },
      ];
      for (let i = 0; i < sig.length; i++) {
        entries.push({
          binding: i + 1,
          visibility: COMPUTE,
          buffer: { type: sig[i] === 'w' ? 'storage' : 'read-only-storage' },
        });
      }
      l = this.device.createBindGroupLayout({ entries, label: `bindings ${sig}` });
      this.#layouts.set(sig, l);
    }
    return l;
  }

  readonly #layouts = new Map<string, GPUBindGroupLayout>();

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
   * Records one compute dispatch: binding 0 holds `uniforms` (a slice of the batch's uniform arena at a
   * dynamic offset), bindings 1.. are `bindings` in order (`read-only-storage`, or `storage` when
   * written: the WGSL must declare them so). A read binding whose buffer is also written by this
   * dispatch (in-place ops, copies within one storage) is snapshotted into a temporary buffer first,
   * because WebGPU forbids a buffer bound both read-only and writable in one dispatch. The bind group
   * is cached by signature and buffers (Dawn spends more host time creating one than on the rest of a
   * dispatch), so a training loop whose temporaries come back from the pool in order creates none.
   */
  dispatch(
    enc: GPUCommandEncoder,
    kernel: KernelPipeline,
    uniforms: Int32Array,
    bindings: readonly Binding[],
    workgroups: number,
    temps: Array<{ buffer: GPUBuffer; bytes: number }>,
  ): void {
    const buffers: GPUBuffer[] = [];
    let sig = '';
    for (const b of bindings) {
      let buffer = b.buffer;
      if (!b.write && bindings.some((w) => w.write === true && w.buffer === buffer)) {
        const snap = this.acquire(buffer.size, false);
        enc.copyBufferToBuffer(buffer, 0, snap.buffer, 0, buffer.size);
        temps.push(snap);
        buffer = snap.buffer;
      }
      buffers.push(buffer);
      sig += b.write ? 'w' : 'r';
    }
    const { pipeline, layout } = this.#compiled(kernel, sig);
    const { arena, offset, size } = this.#uniformSlot(uniforms);
    const group = this.#bindGroup(sig, layout, arena, size, buffers);
    const pass = enc.beginComputePass(this.#timestampWrites(enc, kernel.key));
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group, [offset]);
    const [x, y] = this.grid(workgroups);
    pass.dispatchWorkgroups(x, y);
    pass.end();
  }

  // ------------------------------------------------------------------ uniforms and bind groups

  /**
   * Uniform arenas: every dispatch's uniforms get an aligned slice of a host-side arena, uploaded with
   * one `writeBuffer` per arena when the batch is submitted. The GPU arena buffers are reused by the
   * next batch: queue order puts that batch's upload after this batch's work.
   */
  readonly #arenas: Array<{ gpu: GPUBuffer; host: Uint8Array; used: number }> = [];
  #arenaIndex = 0;

  #uniformSlot(data: Int32Array): { arena: number; offset: number; size: number } {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    let i = this.#arenaIndex;
    let a = this.#arenas[i];
    if (a !== undefined && a.used + size > a.host.length) {
      i = ++this.#arenaIndex;
      a = this.#arenas[i];
    }
    if (a === undefined) {
      const bytes = Math.max(ARENA_BYTES, size);
      a = {
        gpu: this.device.createBuffer({ size: bytes, usage: UNIFORM | COPY_DST, label: `uniforms ${i}` }),
        host: new Uint8Array(bytes),
        used: 0,
      };
      this.#arenas[i] = a;
    }
    const offset = a.used;
    a.host.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
    a.used = Math.ceil((offset + size) / this.#uniformAlign) * this.#uniformAlign;
    return { arena: i, offset, size };
  }

  /** Uploads the arenas the open batch used (before its submit) and rewinds them. */
  #uploadUniforms(): void {
    for (let i = 0; i <= this.#arenaIndex; i++) {
      const a = this.#arenas[i];
      if (a === undefined || a.used === 0) continue;
      this.device.queue.writeBuffer(a.gpu, 0, a.host.buffer as ArrayBuffer, a.host.byteOffset, a.used);
      a.used = 0;
    }
    this.#arenaIndex = 0;
  }

  /** Cached bind groups by signature, arena slice size and buffers; evicted when a buffer is destroyed. */
  readonly #groups = new Map<string, GPUBindGroup>();
  /** Cache keys that name a buffer, to evict them when it is destroyed. */
  readonly #groupsOf = new Map<GPUBuffer, string[]>();
  readonly #ids = new WeakMap<GPUBuffer, number>();
  #nextId = 1;

  #bindGroup(
    sig: string,
    layout: GPUBindGroupLayout,
    arena: number,
    size: number,
    buffers: readonly GPUBuffer[],
  ): GPUBindGroup {
    let key = `${sig}|${arena}|${size}`;
    for (const b of buffers) {
      let id = this.#ids.get(b);
      if (id === undefined) {
        id = this.#nextId++;
        this.#ids.set(b, id);
      }
      key += `|${id}`;
    }
    let group = this.#groups.get(key);
    if (group === undefined) {
      if (this.#groups.size >= MAX_BIND_GROUPS) {
        this.#groups.clear();
        this.#groupsOf.clear();
      }
      const entries: GPUBindGroupEntry[] = [
        { binding: 0, resource: { buffer: this.#arenas[arena]!.gpu, offset: 0, size } },
      ];
      buffers.forEach((buffer, i) => {
        entries.push({ binding: i + 1, resource: { buffer } });
        let keys = this.#groupsOf.get(buffer);
        if (keys === undefined) {
          keys = [];
          this.#groupsOf.set(buffer, keys);
        }
        keys.push(key);
      });
      group = this.device.createBindGroup({ layout, entries });
      this.#groups.set(key, group);
    }
    return group;
  }

  /** Drops the cached bind groups that bind `buffer` (about to be destroyed). */
  #evictGroups(buffer: GPUBuffer): void {
    const keys = this.#groupsOf.get(buffer);
    if (keys === undefined) return;
    for (const k of keys) this.#groups.delete(k);
    this.#groupsOf.delete(buffer);
  }

  /**
   * Ends one op: its temporaries go back to the pool at once (whatever reuses them is recorded later in
   * the same encoder, or written by the host only after a flush), and the batch is submitted when full
   * or, at the latest, at the end of the current task.
   */
  submit(enc: GPUCommandEncoder, temps: ReadonlyArray<{ buffer: GPUBuffer; bytes: number }> = []): void {
    for (const t of temps) this.release(t.buffer, t.bytes);
    if (enc !== this.#open) throw new Error('GpuContext.submit: not the open encoder (use encoder())');
    if (++this.#openOps >= MAX_BATCH) this.flush();
    else this.scheduleFlush();
  }

  /**
   * Records the pending group, submits the recorded ops (one `queue.submit`), then recycles their
   * uniforms and destroys deferred buffers.
   */
  flush(): void {
    this.#recordDeferred();
    this.#submitOpen();
  }

  /** Submits the open encoder (not the pending group, which binds none of what follows). */
  #submitOpen(): void {
    const enc = this.#open;
    if (enc === undefined) return;
    this.#open = undefined;
    this.#openOps = 0;
    const prof = this.#profile;
    if (prof !== undefined) this.#resolveProfile(enc, prof);
    for (const chunk of this.#staging) {
      chunk.buffer.unmap();
      this.#destroyAfterFlush.push(chunk.buffer);
    }
    this.#staging.length = 0;
    this.#uploadUniforms();
    this.device.queue.submit([enc.finish()]);
    if (prof !== undefined) {
      prof.submits++;
      for (const m of prof.toMap.splice(0)) prof.reads.push(this.#readProfile(prof, m.staging, m.labels));
    }
    for (const b of this.#destroyAfterFlush) b.destroy();
    this.#destroyAfterFlush.length = 0;
  }

  // ------------------------------------------------------------------ profiling

  #profile: ProfileState | undefined;

  /**
   * Starts timing every kernel dispatch with timestamp queries (when the device has `timestamp-query`;
   * otherwise only dispatches and submits are counted). Work recorded before the call is flushed first
   * so it is not counted.
   */
  startProfile(): void {
    this.flush();
    this.#profile = {
      start: performance.now(),
      querySet: this.timestamps
        ? this.device.createQuerySet({ type: 'timestamp', count: PROFILE_QUERIES })
        : undefined,
      labels: [],
      toMap: [],
      reads: [],
      byKernel: new Map(),
      dispatches: 0,
      submits: 0,
    };
  }

  /** Stops profiling, waits for the profiled work to finish on the GPU, and returns the totals. */
  async endProfile(): Promise<WebGPUProfile> {
    const prof = this.#profile;
    if (prof === undefined) {
      throw new GradfolioError(
        'INVALID_ARGUMENT',
        'endProfile: no profile was started (call startProfile() first)',
        {
          op: 'endProfile',
        },
      );
    }
    this.flush();
    this.#profile = undefined;
    await this.device.queue.onSubmittedWorkDone();
    const wallMs = performance.now() - prof.start;
    await Promise.all(prof.reads);
    prof.querySet?.destroy();
    let ns = 0;
    const kernels: KernelTime[] = [];
    for (const [kernel, k] of prof.byKernel) {
      ns += k.ns;
      kernels.push({ kernel, dispatches: k.dispatches, ms: k.ns / 1e6 });
    }
    kernels.sort((a, b) => b.ms - a.ms);
    return {
      timestamps: prof.querySet !== undefined,
      dispatches: prof.dispatches,
      submits: prof.submits,
      gpuMs: ns / 1e6,
      wallMs,
      kernels,
    };
  }

  /** The timestamp writes of the next compute pass (none when not profiling). */
  #timestampWrites(enc: GPUCommandEncoder, label: string): GPUComputePassDescriptor | undefined {
    const prof = this.#profile;
    if (prof === undefined) return undefined;
    prof.dispatches++;
    if (prof.querySet === undefined) {
      const k = prof.byKernel.get(label) ?? { dispatches: 0, ns: 0 };
      k.dispatches++;
      prof.byKernel.set(label, k);
      return undefined;
    }
    if (prof.labels.length * 2 >= PROFILE_QUERIES) this.#resolveProfile(enc, prof);
    const i = prof.labels.length * 2;
    prof.labels.push(label);
    return {
      timestampWrites: { querySet: prof.querySet, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 },
    };
  }

  /** Records the resolve of the used queries into a mappable buffer; the query set is reused after it. */
  #resolveProfile(enc: GPUCommandEncoder, prof: ProfileState): void {
    const n = prof.labels.length * 2;
    if (prof.querySet === undefined || n === 0) return;
    const resolved = this.device.createBuffer({ size: n * 8, usage: QUERY_RESOLVE | COPY_SRC });
    const staging = this.device.createBuffer({ size: n * 8, usage: MAP_READ | COPY_DST });
    enc.resolveQuerySet(prof.querySet, 0, n, resolved, 0);
    enc.copyBufferToBuffer(resolved, 0, staging, 0, n * 8);
    this.#destroyAfterFlush.push(resolved);
    prof.toMap.push({ staging, labels: prof.labels });
    prof.labels = [];
  }

  async #readProfile(prof: ProfileState, staging: GPUBuffer, labels: readonly string[]): Promise<void> {
    await staging.mapAsync(MAP_MODE_READ);
    const t = new BigUint64Array(staging.getMappedRange());
    labels.forEach((label, j) => {
      const k = prof.byKernel.get(label) ?? { dispatches: 0, ns: 0 };
      k.dispatches++;
      // A pass whose end reads before its begin (some drivers reset counters) counts as 0.
      const d = t[2 * j + 1]! - t[2 * j]!;
      k.ns += d > 0n ? Number(d) : 0;
      prof.byKernel.set(label, k);
    });
    staging.unmap();
    staging.destroy();
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
    this.flush();
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
