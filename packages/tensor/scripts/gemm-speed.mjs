// Quick GEMM throughput measurement (not a test).
//
//   node packages/tensor/scripts/gemm-speed.mjs [sizes...]
//
// Bundles src/cpu/gemm with esbuild (tsup's) into a temp file, then times gemm() on random float32 inputs:
// GFLOP/s for square n x n x n (threads on / off) and microseconds per call for small LSTM-like shapes.
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const req = createRequire(createRequire(import.meta.url).resolve('tsup'));
const esbuild = req('esbuild');
const out = join(mkdtempSync(join(tmpdir(), 'gemm-speed-')), 'gemm.mjs');
await esbuild.build({
  stdin: {
    contents: "export * from './index.ts'; export { warmThreads } from './wasm.ts';",
    resolveDir: join(here, '..', 'src', 'cpu', 'gemm'),
    loader: 'ts',
  },
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  outfile: out,
  logLevel: 'error',
});
const { gemm, setGemmThreads, warmThreads } = await import(pathToFileURL(out).href);

function rand(len, Ctor = Float32Array) {
  const x = new Ctor(len);
  for (let i = 0; i < len; i++) x[i] = Math.random() * 2 - 1;
  return x;
}

function timeCall(f, minMs = 300) {
  for (let i = 0; i < 3; i++) f();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f();
    const dt = performance.now() - t0;
    if (dt > minMs) {
      // best of a few
      let best = dt / reps;
      for (let r = 0; r < 3; r++) {
        const t1 = performance.now();
        for (let i = 0; i < reps; i++) f();
        best = Math.min(best, (performance.now() - t1) / reps);
      }
      return best;
    }
    reps *= 2;
  }
}

function mm(m, n, k, Ctor = Float32Array) {
  const a = rand(m * k, Ctor);
  const b = rand(k * n, Ctor);
  const c = new Ctor(m * n);
  const args = {
    m,
    n,
    k,
    a,
    aOffset: 0,
    aRowStride: k,
    aColStride: 1,
    b,
    bOffset: 0,
    bRowStride: n,
    bColStride: 1,
    c,
    cOffset: 0,
  };
  return () => gemm(args);
}

// First call: compiles + instantiates the wasm module (kernels start in V8's baseline tier).
{
  const f = mm(64, 64, 64);
  const t0 = performance.now();
  f();
  const t1 = performance.now();
  f();
  const t2 = performance.now();
  console.log(`first call 64^3: ${(t1 - t0).toFixed(2)} ms (second ${(t2 - t1).toFixed(3)} ms)`);
}

const sizes = process.argv.slice(2).map(Number);
const squares = sizes.length ? sizes : [64, 128, 256, 512, 1024];
const small = [
  [2, 2, 2],
  [64, 8, 256],
  [64, 64, 256],
  [1, 64, 256],
  [64, 256, 64],
];
const threadsDefault = warmThreads(10000);
const gf = (n, t) => ((2 * n * n * n) / t / 1e6).toFixed(1);
const results = {};
function record(key, value) {
  results[key] = [...(results[key] ?? []), value];
}
for (const threads of [1, threadsDefault]) {
  setGemmThreads(threads);
  warmThreads(10000);
  for (const ctor of [Float32Array, Float64Array]) {
    const tag = ctor === Float32Array ? 'f32' : 'f64';
    for (const n of squares) {
      const t = timeCall(mm(n, n, n, ctor));
      record(`${tag} ${n}^3`, `${gf(n, t)} GFLOP/s (${t.toFixed(3)} ms)`);
    }
  }
  for (const [m, k, n] of small) {
    const t = timeCall(mm(m, n, k), 200);
    record(`f32 [${m},${k}]x[${k},${n}]`, `${(t * 1000).toFixed(2)} us`);
  }
}
console.log(`threads: 1 | ${threadsDefault}`);
for (const [key, vals] of Object.entries(results)) console.log(`${key}: ${vals.join(' | ')}`);
