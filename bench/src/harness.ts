/** Minimal benchmark harness: warm up, time repeated runs, report the median. */
import * as gf from '@gradfolio/tensor';
import * as tf from '@tensorflow/tfjs';

export interface BenchResult {
  bench: string;
  impl: string;
  ms: number;
  params: Record<string, unknown>;
}

const results: BenchResult[] = [];

/** Times `fn` (which must finish its work, including any async readback) and prints one JSON line. */
export async function measure(
  bench: string,
  impl: string,
  params: Record<string, unknown>,
  fn: () => unknown,
  options: { warmup?: number; runs?: number; minMs?: number } = {},
): Promise<BenchResult> {
  const warmup = options.warmup ?? 2;
  const runs = options.runs ?? 9;
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < runs || performance.now() - start < (options.minMs ?? 0); i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
    if (times.length >= 200) break;
  }
  return report(bench, impl, params, times);
}

/**
 * Like {@link measure}, but each run first calls `setup` untimed and times only `fn(setup())`: for
 * the part of a computation that needs fresh state every run (a backward pass needs a new graph).
 */
export async function measureWithSetup<S>(
  bench: string,
  impl: string,
  params: Record<string, unknown>,
  setup: () => S,
  fn: (state: S) => unknown,
  options: { warmup?: number; runs?: number; minMs?: number } = {},
): Promise<BenchResult> {
  const warmup = options.warmup ?? 2;
  const runs = options.runs ?? 9;
  for (let i = 0; i < warmup; i++) await fn(setup());
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < runs || performance.now() - start < (options.minMs ?? 0); i++) {
    const state = setup();
    const t0 = performance.now();
    await fn(state);
    times.push(performance.now() - t0);
    if (times.length >= 200) break;
  }
  return report(bench, impl, params, times);
}

/** Records a median measured elsewhere (e.g. by a Python subprocess) and prints its JSON line. */
export function record(
  bench: string,
  impl: string,
  params: Record<string, unknown>,
  ms: number,
  runs: number,
): BenchResult {
  const r: BenchResult = { bench, impl, ms: Number(ms.toPrecision(4)), params: { ...params, runs } };
  results.push(r);
  console.log(JSON.stringify(r));
  return r;
}

function report(bench: string, impl: string, params: Record<string, unknown>, times: number[]): BenchResult {
  times.sort((a, b) => a - b);
  return record(bench, impl, params, times[Math.floor(times.length / 2)]!, times.length);
}

/** Prints, per bench, each implementation's time relative to gradfolio's (>1 means gradfolio is faster). */
export function printRatios(baseImpl: string): void {
  const byBench = new Map<string, BenchResult[]>();
  for (const r of results) {
    const key = `${r.bench} ${JSON.stringify(Object.fromEntries(Object.entries(r.params).filter(([k]) => k !== 'runs')))}`;
    byBench.set(key, [...(byBench.get(key) ?? []), r]);
  }
  console.log(`\nratios: other impl's time / ${baseImpl}'s time (> 1: ${baseImpl} is faster)`);
  const rows: string[][] = [['bench', 'params', `${baseImpl} ms`, 'impl', 'ms', 'ratio']];
  for (const [key, rs] of byBench) {
    const base = rs.find((r) => r.impl === baseImpl);
    if (!base) continue;
    const [bench, ...rest] = key.split(' ');
    for (const r of rs) {
      if (r === base) continue;
      rows.push([bench!, rest.join(' '), String(base.ms), r.impl, String(r.ms), (r.ms / base.ms).toFixed(2)]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(row.map((c, i) => c.padEnd(widths[i]!)).join('  '));
}

/** Switches TensorFlow.js to `backend`. */
export async function useTf(backend: 'cpu' | 'wasm'): Promise<void> {
  await tf.setBackend(backend);
  await tf.ready();
}

/** `n` standard normal floats from gradfolio's seeded generator (the same inputs for every impl). */
export function randData(n: number, seed: number): Float32Array {
  const g = new gf.Generator().manualSeed(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = g.nextNormal();
  return out;
}
