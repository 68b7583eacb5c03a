/**
 * Worker-thread pool of the wasm GEMM (Node only).
 *
 * Workers are created lazily, from an inline source string (`eval: true`, so bundling never breaks a worker
 * path), receive the compiled WebAssembly.Module and the shared WebAssembly.Memory, instantiate the module on
 * that memory and loop: wait for a wake-up, call `run_f32/run_f64(desc, slot)`, which claims tasks of the
 * current job (compare-and-swap on a claim word in wasm memory) until none is left, and go back to waiting.
 * The calling thread runs the same function, then waits only for tasks that other threads actually claimed,
 * so a worker that wakes late (or never) costs nothing: the caller simply does more of the tasks itself.
 *
 * An idle worker polls for ~0.25 ms, then blocks in `Atomics.wait`. Workers are unref()'d, so they never
 * keep the process alive; at exit Node terminates them (termination interrupts `Atomics.wait`).
 * A new worker needs ~20 ms to start; calls made meanwhile run on the threads that are ready.
 */

/** Int32 words per worker slot in the control buffer (one 64-byte cache line each). */
const SLOT = 16;
const SEQ = 0; // main -> worker: bumped to wake the worker
const ACK = 1; // worker -> main: SEQ value of the quit request, once the worker stopped touching memory
const READY = 2; // worker -> main: 1 once instantiated
const KIND = 3; // main -> worker: 0 run_f32, 1 run_f64, -1 quit
/** How long an idle worker polls for the next job before blocking in Atomics.wait (milliseconds). */
const SPIN_MS = 0.25;
/** Upper bound on threads (caller + workers); also the number of control slots. Slot 0 is the caller. */
export const MAX_THREADS = 16;
/** Descriptor words the workers touch on failure (see gemm.wat): tasks done, error flag. */
export const DESC_DONE = 22;
export const DESC_ERR = 23;

const WORKER_SOURCE = `'use strict';
const { workerData } = require('node:worker_threads');
const { module, memory, control, slot, desc } = workerData;
const ctl = new Int32Array(control);
const base = slot * ${SLOT};
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
let seen = Atomics.load(ctl, base + ${SEQ});
Atomics.store(ctl, base + ${READY}, 1);
Atomics.notify(ctl, base + ${READY});
for (;;) {
  // Poll a little before sleeping: back-to-back GEMMs then skip the futex wake-up (tens of microseconds).
  let s = Atomics.load(ctl, base + ${SEQ});
  if (s === seen) {
    const until = performance.now() + ${SPIN_MS};
    do {
      for (let i = 0; i < 256 && s === seen; i++) s = Atomics.load(ctl, base + ${SEQ});
    } while (s === seen && performance.now() < until);
  }
  if (s === seen) {
    Atomics.wait(ctl, base + ${SEQ}, seen);
    continue;
  }
  seen = s;
  const kind = Atomics.load(ctl, base + ${KIND});
  if (kind < 0) {
    Atomics.store(ctl, base + ${ACK}, seen);
    break;
  }
  try {
    if (kind === 0) ex.run_f32(desc, slot);
    else ex.run_f64(desc, slot);
  } catch {
    // A trap inside a claimed task (a bug): report it and count the task done so the caller never hangs.
    const w = new Int32Array(memory.buffer);
    Atomics.store(w, (desc >> 2) + ${DESC_ERR}, 1);
    Atomics.add(w, (desc >> 2) + ${DESC_DONE}, 1);
    Atomics.notify(w, (desc >> 2) + ${DESC_DONE});
  }
}
`;

interface NodeWorker {
  unref(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}
type WorkerCtor = new (
  src: string,
  options: { eval: boolean; workerData: unknown; name?: string },
) => NodeWorker;

interface NodeProcessLike {
  versions?: { node?: string };
  getBuiltinModule?: (id: string) => unknown;
}

function nodeProcess(): NodeProcessLike | undefined {
  const p = (globalThis as { process?: NodeProcessLike }).process;
  return p?.versions?.node !== undefined && typeof p.getBuiltinModule === 'function' ? p : undefined;
}

/** Default thread count: min(availableParallelism, 4) in Node with worker_threads, else 1 (no workers). */
export function defaultThreads(): number {
  const p = nodeProcess();
  if (p === undefined || typeof SharedArrayBuffer !== 'function') return 1;
  try {
    const os = p.getBuiltinModule!('node:os') as {
      availableParallelism?: () => number;
      cpus: () => unknown[];
    };
    const n = os.availableParallelism?.() ?? os.cpus().length;
    return Math.max(1, Math.min(n, 4));
  } catch {
    return 1;
  }
}

let WorkerClass: WorkerCtor | null | undefined;
function workerClass(): WorkerCtor | null {
  if (WorkerClass === undefined) {
    WorkerClass = null;
    try {
      const wt = nodeProcess()?.getBuiltinModule?.('node:worker_threads') as
        | { Worker?: WorkerCtor }
        | undefined;
      if (typeof wt?.Worker === 'function') WorkerClass = wt.Worker;
    } catch {
      WorkerClass = null;
    }
  }
  return WorkerClass;
}

let control: Int32Array | null = null;
/** Control slots held by a live worker; gen[slot] tells successive workers of a slot apart. */
const slotBusy: boolean[] = [];
const gen: number[] = [];
/** Live workers' slots, in spawn order. */
const active: number[] = [];
const dead: boolean[] = [];
let broken = false;

function freeSlot(ctl: Int32Array): number {
  for (let s = 1; s < MAX_THREADS; s++) {
    if (slotBusy[s] === true) continue;
    // A released worker may still be finishing a call: reuse its slot (and its thread id, which selects
    // pack buffers) only once it acknowledged the quit.
    if (Atomics.load(ctl, s * SLOT + ACK) !== Atomics.load(ctl, s * SLOT + SEQ)) continue;
    return s;
  }
  return -1;
}

/**
 * Make sure `count - 1` workers exist (spawning missing ones, never waiting for them) and write into `out`
 * the slots (thread ids) of those ready now; returns how many were written.
 */
export function readyWorkers(
  count: number,
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  desc: number,
  out: number[],
): number {
  if (count <= 1 || broken) return 0;
  const W = workerClass();
  if (W === null) return 0;
  count = Math.min(count, MAX_THREADS);
  if (control === null) control = new Int32Array(new SharedArrayBuffer(MAX_THREADS * SLOT * 4));
  const ctl = control;
  for (let i = active.length - 1; i >= 0; i--) if (dead[active[i]!]) active.splice(i, 1);
  while (active.length < count - 1) {
    const slot = freeSlot(ctl);
    if (slot < 0) break;
    Atomics.store(ctl, slot * SLOT + READY, 0);
    try {
      const w = new W(WORKER_SOURCE, {
        eval: true,
        name: `gemm-${slot}`,
        workerData: { module, memory, control: ctl.buffer, slot, desc },
      });
      w.unref();
      const g = (gen[slot] ?? 0) + 1;
      gen[slot] = g;
      // Without an 'error' listener a failing worker would crash the process; just stop using it.
      const onEnd = () => {
        if (gen[slot] !== g) return;
        dead[slot] = true;
        slotBusy[slot] = false;
      };
      w.on('error', onEnd);
      w.on('exit', onEnd);
    } catch {
      broken = true;
      return 0;
    }
    slotBusy[slot] = true;
    dead[slot] = false;
    active.push(slot);
  }
  let n = 0;
  for (let i = 0; i < active.length && n < count - 1; i++) {
    const slot = active[i]!;
    if (Atomics.load(ctl, slot * SLOT + READY) === 1) out[n++] = slot;
  }
  return n;
}

/** Wake the worker of `slot` to take part in the job whose descriptor is in wasm memory (kind 0 f32, 1 f64). */
export function wakeWorker(slot: number, kind: number): void {
  const ctl = control!;
  const base = slot * SLOT;
  ctl[base + KIND] = kind;
  Atomics.store(ctl, base + SEQ, (ctl[base + SEQ]! + 1) | 0);
  Atomics.notify(ctl, base + SEQ);
}

/** Ask all workers to exit (each acknowledges once it stopped touching memory, then ends). */
export function releaseThreads(): void {
  for (const slot of active) {
    wakeWorker(slot, -1);
    slotBusy[slot] = false; // reusable once the quit is acknowledged (see freeSlot)
    gen[slot] = (gen[slot] ?? 0) + 1;
  }
  active.length = 0;
}

let sleeper: Int32Array | null = null;
/** Test/diagnostic helper: block up to timeoutMs until `count - 1` workers are ready; returns 1 + that. */
export function waitForThreads(
  count: number,
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
  desc: number,
  timeoutMs: number,
): number {
  const t0 = Date.now();
  const out: number[] = [];
  let n = readyWorkers(count, module, memory, desc, out);
  while (n + 1 < Math.min(count, MAX_THREADS) && !broken && Date.now() - t0 < timeoutMs) {
    sleeper ??= new Int32Array(new SharedArrayBuffer(4));
    Atomics.wait(sleeper, 0, 0, 2);
    n = readyWorkers(count, module, memory, desc, out);
  }
  return n + 1;
}
