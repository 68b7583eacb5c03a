/**
 * The WebAssembly GEMM engine: one wasm instance (plus one per worker thread) on one WebAssembly.Memory
 * (shared where SharedArrayBuffer exists). Per call the operands are copied into that memory ("staged"),
 * each thread packs and multiplies its part of C (see scripts/build-gemm-wasm.mjs for the kernel design),
 * and C is copied out. The memory only grows, and is reused across calls.
 *
 * Memory layout of a call (bytes):
 *   [0, 4096)      job descriptor and task table (read by run_f32 / run_f64; layout documented in gemm.wat)
 *   [4096, ...)    per-thread pack buffers (packed A block, then packed B block)
 *   then           staged A (batch), staged B (batch), C (batch x mPad x nPad, rows/cols padded to the tile)
 */
import type { FloatArray } from './index.js';
import {
  DESC_DONE,
  DESC_ERR,
  defaultThreads,
  readyWorkers,
  releaseThreads,
  waitForThreads,
  wakeWorker,
} from './threads.js';
import { GEMM_WASM_BASE64, MEMORY_FLAGS_OFFSET, WASM_BLOCKING } from './wasm-module.generated.js';

interface GemmExports {
  run_f32(desc: number, tid: number): void;
  run_f64(desc: number, tid: number): void;
}

const DESC = 0;
const WORK = 4096;
/** Descriptor words (see gemm.wat). */
const D_MASK = 18;
const D_CLAIM = 20;
const D_NTASKS = 21;
const D_BY_WORKERS = 24;
const D_TASKS = 32;
const MAX_TASKS = 120;
/** Guided scheduling: a task takes 1/(GUIDED * threads) of the work left. */
const GUIDED = 2;
/** Minimum width (height) of a column (row) task. */
const MIN_TASK_EXTENT = 64;
const PAGE = 65536;
/** Below this many multiply-adds (m*n*k*batch) a call always stays on the calling thread. */
const THREAD_MIN_MACS = 1 << 18;
/**
 * Above it, whether threads pay off depends on the machine's state (a busy machine, or vCPUs that are SMT
 * siblings, make a second thread useless or harmful) and on the call pattern (a worker that fell asleep
 * between sparse calls wakes too late to help with a small problem). So it is measured, per problem shape:
 * calls 0-3 run one thread, all threads, all threads, one thread; then the faster is used and the other
 * re-tried ("probe") after TUNE_PROBE_EVERY calls, twice as long after each probe that did not change the
 * choice (up to TUNE_PROBE_MAX). A threaded probe is two calls (the first may only wake the workers).
 * Estimates are the best recent time: est = min(sample, est * TUNE_DRIFT).
 */
interface Tuning {
  single: number;
  threaded: number;
  calls: number;
  /** Call index of the next probe, its length and the choice before it. */
  probe: number;
  probeLen: number;
  probeWasThreaded: boolean;
  interval: number;
}
const tunings = new Map<number, Tuning>();
const TUNE_PROBE_EVERY = 16;
const TUNE_PROBE_MAX = 1024;
const TUNE_DRIFT = 1.1;
const TUNE_MAX_SHAPES = 256;

/** 0 not initialised; 1 ready; 2 compiling asynchronously (browser main thread); 3 unavailable. */
let state: 0 | 1 | 2 | 3 = 0;
let memory: WebAssembly.Memory;
let wasmModule: WebAssembly.Module;
let ex: GemmExports;
let shared = false;
let memBytes = 0;
let i32: Int32Array;
let f32: Float32Array;
let f64: Float64Array;
let threads = -1; // -1: default, resolved lazily
/** Diagnostics: threads offered the last wasm call (the caller + workers ready then). */
export let lastThreads = 0;
/** Diagnostics: tasks of the last wasm call, and how many of them workers ran. */
export let lastTasks = 0;
export let lastWorkerTasks = 0;
let jobTag = 0;
const workerSlots: number[] = [];

function refreshViews(): void {
  const buf = memory.buffer;
  memBytes = buf.byteLength;
  i32 = new Int32Array(buf);
  f32 = new Float32Array(buf);
  f64 = new Float64Array(buf);
}

export function decodeBase64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function newMemory(isShared: boolean): WebAssembly.Memory | null {
  // A shared memory needs a maximum (address space is reserved up front): try 4 GiB, then smaller.
  for (const maximum of [65536, 16384, 4096]) {
    try {
      return new WebAssembly.Memory({ initial: 32, maximum, shared: isShared });
    } catch {
      // try a smaller maximum / give up
    }
  }
  return null;
}

function finishInit(module: WebAssembly.Module, instance: WebAssembly.Instance): void {
  wasmModule = module;
  ex = instance.exports as unknown as GemmExports;
  refreshViews();
  state = 1;
}

function init(): void {
  state = 3;
  if (typeof WebAssembly !== 'object' || typeof atob !== 'function') return;
  try {
    const bytes = decodeBase64(GEMM_WASM_BASE64);
    let mem: WebAssembly.Memory | null = null;
    if (typeof SharedArrayBuffer === 'function' && !forceUnshared) mem = newMemory(true);
    shared = mem !== null;
    if (mem === null) {
      bytes[MEMORY_FLAGS_OFFSET] = 0x01; // import an unshared memory (max present) instead
      mem = newMemory(false);
      if (mem === null) return;
    }
    memory = mem;
    const imports = { env: { memory: mem } };
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(bytes);
    } catch (e) {
      // Browsers may refuse synchronous compilation on the main thread: compile in the background and
      // let the JS kernel serve the calls made meanwhile.
      if (!(e instanceof RangeError) || typeof WebAssembly.compile !== 'function') return;
      state = 2;
      WebAssembly.compile(bytes)
        .then(async (m) => finishInit(m, await WebAssembly.instantiate(m, imports)))
        .catch(() => {
          state = 3;
        });
      return;
    }
    finishInit(module, new WebAssembly.Instance(module, imports));
  } catch {
    state = 3;
  }
}

let forceUnshared = false;
/** Tests only: re-create the engine, with an unshared memory (the browser configuration) if asked. */
export function reinitForTests(unshared: boolean): void {
  releaseThreads();
  forceUnshared = unshared;
  state = 0;
  tunings.clear();
  init();
}

/** True when the wasm engine can take a call now (initialises it on first use). */
export function wasmAvailable(): boolean {
  if (state === 0) init();
  return state === 1;
}

function threadsWanted(): number {
  if (threads < 0) threads = defaultThreads();
  return shared ? threads : 1;
}

/** setGemmThreads: total threads taking part (caller included); 0 or 1 = the caller only. */
export function setThreads(n: number): void {
  const t = Math.max(0, Math.floor(n));
  threads = t;
  if (t <= 1) releaseThreads();
}

/** Test/diagnostic helper: start the workers now and wait (up to timeoutMs) until they are ready. */
export function warmThreads(timeoutMs = 5000): number {
  if (!wasmAvailable()) return 1;
  const want = threadsWanted();
  if (want <= 1) return 1;
  return waitForThreads(want, wasmModule, memory, DESC, timeoutMs);
}

const align64 = (x: number) => (x + 63) & ~63;

// Staging plan of one operand (module-level scratch: no per-call allocation).
let spanLo = 0;
let spanLen = 0;
let spanDense = false;

/** Plan the copy of a [batch, rows, cols] strided operand into wasm memory; returns the elements needed. */
function planStage(
  off: number,
  rs: number,
  cs: number,
  bs: number,
  rows: number,
  cols: number,
  batch: number,
): number {
  let lo = off;
  let hi = off;
  let d = rs * (rows - 1);
  if (d < 0) lo += d;
  else hi += d;
  d = cs * (cols - 1);
  if (d < 0) lo += d;
  else hi += d;
  d = bs * (batch - 1);
  if (d < 0) lo += d;
  else hi += d;
  const dense = rows * cols * batch;
  spanLo = lo;
  spanLen = hi - lo + 1;
  // Copy the whole span with one memcpy-like set() unless it is mostly gaps (then gather densely).
  spanDense = spanLen > 2 * dense + 4096;
  return spanDense ? dense : spanLen;
}

// Staged operand: element index of its [0,0,0] and its strides (module-level scratch).
let stOff = 0;
let stRs = 0;
let stCs = 0;
let stBs = 0;

function stage(
  view: FloatArray,
  dst: number,
  src: FloatArray,
  off: number,
  rs: number,
  cs: number,
  bs: number,
  rows: number,
  cols: number,
  batch: number,
): void {
  planStage(off, rs, cs, bs, rows, cols, batch);
  if (!spanDense) {
    if (spanLen === 1) view[dst] = src[spanLo]!;
    else view.set(src.subarray(spanLo, spanLo + spanLen), dst);
    stOff = dst + (off - spanLo);
    stRs = rs;
    stCs = cs;
    stBs = bs;
    return;
  }
  let q = dst;
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < rows; i++) {
      let s = off + t * bs + i * rs;
      for (let j = 0; j < cols; j++, s += cs) view[q++] = src[s]!;
    }
  }
  stOff = dst;
  stRs = cols;
  stCs = 1;
  stBs = rows * cols;
}

function ensureMemory(bytes: number): boolean {
  if (bytes <= memBytes) return true;
  const pages = Math.ceil((bytes - memBytes) / PAGE);
  // Grow geometrically (at least 1.5x) to avoid many small grows.
  const want = Math.max(pages, Math.ceil((memBytes / PAGE) * 0.5));
  try {
    memory.grow(want);
  } catch {
    try {
      memory.grow(pages);
    } catch {
      return false;
    }
  }
  refreshViews();
  return true;
}

/**
 * C[t] = A[t] @ B[t] for t in [0, batch) on the wasm engine (caller checked wasmAvailable(), m, n, k, batch
 * > 0). Returns false (having done nothing) if wasm memory cannot hold the problem.
 */
export function wasmGemm(
  m: number,
  n: number,
  k: number,
  batch: number,
  a: FloatArray,
  ao: number,
  ars: number,
  acs: number,
  abs: number,
  b: FloatArray,
  bo: number,
  brs: number,
  bcs: number,
  bbs: number,
  c: FloatArray,
  co: number,
): boolean {
  const is64 = a instanceof Float64Array;
  const blk = is64 ? WASM_BLOCKING.f64 : WASM_BLOCKING.f32;
  const es = blk.es;
  const mr = blk.mr;
  const nr = blk.nr;
  const mPad = Math.ceil(m / mr) * mr;
  const nPad = Math.ceil(n / nr) * nr;

  // Threads: the caller plus the workers ready now, for big enough problems. Each thread id (0 = caller,
  // else the worker's slot) owns pack buffers; `mask` tells run_* which ids may take part in this job.
  let nWorkers = 0;
  let tuning: Tuning | undefined;
  const t0 = tuningClock();
  if (alwaysThreads) {
    const want = threadsWanted();
    if (want > 1) nWorkers = readyWorkers(want, wasmModule, memory, DESC, workerSlots);
  } else if (m * n * k * batch >= THREAD_MIN_MACS) {
    const want = threadsWanted();
    if (want > 1) {
      const key = shapeKey(m, n, k, batch, is64);
      tuning = tunings.get(key);
      if (tuning === undefined) {
        if (tunings.size >= TUNE_MAX_SHAPES) tunings.clear();
        const inf = Number.POSITIVE_INFINITY;
        tuning = {
          single: inf,
          threaded: inf,
          calls: 0,
          probe: 4 + TUNE_PROBE_EVERY,
          probeLen: 0,
          probeWasThreaded: false,
          interval: TUNE_PROBE_EVERY,
        };
        tunings.set(key, tuning);
      }
      const call = tuning.calls++;
      let useThreads: boolean;
      if (call < 4) useThreads = call === 1 || call === 2;
      else if (call === tuning.probe) {
        tuning.probeWasThreaded = tuning.threaded < tuning.single;
        tuning.probeLen = tuning.probeWasThreaded ? 1 : 2;
        useThreads = !tuning.probeWasThreaded;
      } else if (call > tuning.probe && call < tuning.probe + tuning.probeLen) {
        useThreads = !tuning.probeWasThreaded;
      } else useThreads = tuning.threaded < tuning.single;
      if (useThreads) nWorkers = readyWorkers(want, wasmModule, memory, DESC, workerSlots);
    }
  }
  let mask = 1;
  let nBuffers = 1;
  for (let w = 0; w < nWorkers; w++) {
    const s = workerSlots[w]!;
    mask |= 1 << s;
    if (s + 1 > nBuffers) nBuffers = s + 1;
  }
  const T = 1 + nWorkers;
  // Tasks, claimed dynamically: whole matrices when the batch is large enough, else column blocks (each
  // task packs all of A) or row blocks (each packs all of B), whichever repacks the smaller operand.
  const nUnit = 2 * nr; // 64-byte multiples of C rows: no false sharing between threads
  let mode = 0; // 0 batch, 1 columns, 2 rows
  let units = 1;
  let unitSize = 1;
  if (T > 1) {
    if (batch >= 3 * T || (batch >= T && batch % T === 0)) {
      mode = 0;
      units = batch;
    } else if (m <= n || mPad === mr) {
      mode = 1;
      units = Math.ceil(n / nUnit);
      unitSize = nUnit;
    } else {
      mode = 2;
      units = mPad / mr;
      unitSize = mr;
    }
  }
  // Guided self-scheduling: each task takes 1/(GUIDED * T) of what is left, but a column (row) task repacks
  // all of A (B), so at least MIN_TASK_EXTENT columns (rows) unless that leaves fewer tasks than threads.
  // Early tasks are big (little repacking), the last ones small (a slow thread holds up the end briefly).
  const minUnits =
    mode === 0 ? 1 : Math.max(1, Math.min(Math.floor(MIN_TASK_EXTENT / unitSize), Math.ceil(units / T)));

  const kcE = Math.min(blk.kc, k);
  const apBytes = align64(Math.min(blk.mc, mPad) * kcE * es);
  const workStride = apBytes + align64(kcE * Math.min(blk.nc, nPad) * es);
  const aStart = align64(WORK + nBuffers * workStride);
  const aLen = planStage(ao, ars, acs, abs, m, k, batch);
  const bStart = align64(aStart + aLen * es);
  const bLen = planStage(bo, brs, bcs, bbs, k, n, batch);
  const cStart = align64(bStart + bLen * es);
  const cBatch = mPad * nPad;
  const end = cStart + batch * cBatch * es;
  if (end > 4294901760 || !ensureMemory(end)) return false;

  const view = is64 ? f64 : f32;
  const d = DESC >> 2;
  const I = i32;
  // Close the claim word under a new job tag first: a late thread can then no longer claim anything while
  // the descriptor is rewritten.
  jobTag = (jobTag + 1) & 0x7fff;
  Atomics.store(I, d + D_CLAIM, (jobTag << 16) | 0xffff);
  stage(view, aStart / es, a, ao, ars, acs, abs, m, k, batch);
  I[d] = m;
  I[d + 1] = n;
  I[d + 2] = k;
  I[d + 3] = batch;
  I[d + 4] = stOff * es;
  I[d + 5] = stRs;
  I[d + 6] = stCs;
  I[d + 7] = stBs;
  stage(view, bStart / es, b, bo, brs, bcs, bbs, k, n, batch);
  I[d + 8] = stOff * es;
  I[d + 9] = stRs;
  I[d + 10] = stCs;
  I[d + 11] = stBs;
  I[d + 12] = cStart;
  I[d + 13] = nPad;
  I[d + 14] = cBatch;
  I[d + 15] = WORK;
  I[d + 16] = workStride;
  I[d + 17] = apBytes;
  I[d + D_MASK] = mask;
  let nTasks = 0;
  for (let u0 = 0; u0 < units; nTasks++) {
    const size = Math.max(minUnits, Math.ceil((units - u0) / (GUIDED * T)));
    const u1 = nTasks === MAX_TASKS - 1 ? units : Math.min(units, u0 + size);
    const r = d + D_TASKS + 8 * nTasks;
    I[r] = mode === 0 && T > 1 ? u0 : 0;
    I[r + 1] = mode === 0 && T > 1 ? u1 : batch;
    I[r + 2] = mode === 2 ? u0 * unitSize : 0;
    I[r + 3] = mode === 2 ? Math.min(m, u1 * unitSize) : m;
    I[r + 4] = mode === 1 ? u0 * unitSize : 0;
    I[r + 5] = mode === 1 ? Math.min(n, u1 * unitSize) : n;
    u0 = u1;
  }
  Atomics.store(I, d + D_NTASKS, nTasks);
  Atomics.store(I, d + DESC_DONE, 0);
  I[d + D_BY_WORKERS] = 0;
  I[d + DESC_ERR] = 0;
  Atomics.store(I, d + D_CLAIM, jobTag << 16); // open
  lastThreads = T;

  const kind = is64 ? 1 : 0;
  for (let w = 0; w < nWorkers; w++) wakeWorker(workerSlots[w]!, kind);
  try {
    if (is64) ex.run_f64(DESC, 0);
    else ex.run_f32(DESC, 0);
  } catch (e) {
    state = 3; // a trap is a bug: stop using the engine (JS kernel from now on)
    throw e;
  }
  // Wait for the tasks other threads claimed. They are running, so poll (sleeping in Atomics.wait costs a
  // futex wake-up of tens of microseconds); doze only if they take long (e.g. a preempted worker).
  if (Atomics.load(I, d + DESC_DONE) < nTasks) {
    const dozeAt = performance.now() + 2;
    for (;;) {
      let done = 0;
      for (let i = 0; i < 512; i++) {
        done = Atomics.load(I, d + DESC_DONE);
        if (done >= nTasks) break;
      }
      if (done >= nTasks) break;
      if (performance.now() > dozeAt) Atomics.wait(I, d + DESC_DONE, done, 1);
    }
  }
  lastWorkerTasks = I[d + D_BY_WORKERS]!;
  lastTasks = nTasks;
  if (I[d + DESC_ERR] !== 0) {
    state = 3;
    throw new Error('gemm: a worker thread failed');
  }

  // Copy C out (rows are padded to nPad columns, matrices to mPad rows).
  const c0 = cStart / es;
  if (nPad === n) {
    if (batch === 1 || mPad === m) c.set(view.subarray(c0, c0 + (batch - 1) * cBatch + m * n), co);
    else
      for (let t = 0; t < batch; t++)
        c.set(view.subarray(c0 + t * cBatch, c0 + t * cBatch + m * n), co + t * m * n);
  } else {
    for (let t = 0; t < batch; t++) {
      let src = c0 + t * cBatch;
      let dst = co + t * m * n;
      if (n >= 32) {
        for (let i = 0; i < m; i++, src += nPad, dst += n) c.set(view.subarray(src, src + n), dst);
      } else {
        for (let i = 0; i < m; i++, src += nPad - n) for (let j = 0; j < n; j++) c[dst++] = view[src++]!;
      }
    }
  }
  if (tuning !== undefined) {
    const dt = tuningClock() - t0;
    if (nWorkers > 0) tuning.threaded = Math.min(dt, tuning.threaded * TUNE_DRIFT);
    else tuning.single = Math.min(dt, tuning.single * TUNE_DRIFT);
    if (tuning.probeLen > 0 && tuning.calls === tuning.probe + tuning.probeLen) {
      const changed = tuning.probeWasThreaded !== tuning.threaded < tuning.single;
      tuning.interval = changed ? TUNE_PROBE_EVERY : Math.min(2 * tuning.interval, TUNE_PROBE_MAX);
      tuning.probe = tuning.calls + tuning.interval;
      tuning.probeLen = 0;
    }
  }
  return true;
}

/** A hash of the problem shape (collisions only mix two shapes' timings). */
function shapeKey(m: number, n: number, k: number, batch: number, is64: boolean): number {
  let h = Math.imul(m, 0x9e3779b1) ^ n;
  h = Math.imul(h, 0x85ebca6b) ^ k;
  h = Math.imul(h, 0xc2b2ae35) ^ batch;
  return (Math.imul(h, 0x27d4eb2f) ^ (is64 ? 1 : 0)) >>> 0;
}

/** The clock the thread policy times calls with (tests substitute a deterministic one). */
let tuningClock: () => number = () => performance.now();
/** Tests only: replaces the policy's clock (undefined restores `performance.now`). */
export function setTuningClockForTests(clock: (() => number) | undefined): void {
  tuningClock = clock ?? (() => performance.now());
}

let alwaysThreads = false;
/** Tests only: 'always' offers every wasm call (whatever its size) to all threads; 'auto' is the default. */
export function setThreadPolicyForTests(policy: 'auto' | 'always'): void {
  alwaysThreads = policy === 'always';
  tunings.clear();
}
