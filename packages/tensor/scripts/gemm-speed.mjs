// Quick GEMM throughput measurement (not a test).
//
//   node packages/tensor/scripts/gemm-speed.mjs [sizes...]
//
// Bundles src/cpu/gemm with esbuild (tsup's) into a temp file, then times gemm() on random float32 inputs:
// GFLOP/s for square n x n x n (threads on / off) and microseconds per call for small LSTM-like shapes.
import { mkdtempSync, writeFileSync } from 'node:fs';
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
  const args = { m, n, k, a, aOffset: 0, aRowStride: k, aColStride: 1, b, bOffset: 0, bRowStride: n, bColStride: 1, c, cOffset: 0 };
  return () => gemm(args);
}

const sizes = process.argv.slice(2).map(Number);
const threadsOn = warmThreads(10000);
console.log(`threads ready: ${threadsOn}`);
for (const ctor of [Float32Array, Float64Array]) {
  const tag = ctor === Float32Array ? 'f32' : 'f64';
  for (const n of sizes.length ? sizes : [64, 128, 256, 512, 1024]) {
    const f = mm(n, n, n, ctor);
    setGemmThreads(1);
    const t1 = timeCall(f);
    setGemmThreads(threadsOn);
    warmThreads();
    const tN = timeCall(f);
    const gf = (t) => ((2 * n * n * n) / t / 1e6).toFixed(1);
    console.log(`${tag} ${n}^3: 1 thread ${gf(t1)} GFLOP/s (${t1.toFixed(3)} ms), ${threadsOn} threads ${gf(tN)} GFLOP/s (${tN.toFixed(3)} ms)`);
  }
}
for (const [m, k, n] of [[2, 2, 2], [64, 8, 256], [64, 64, 256], [1, 64, 256], [64, 256, 64]]) {
  const f = mm(m, n, k);
  const t = timeCall(f, 200);
  console.log(`f32 [${m},${k}]x[${k},${n}]: ${(t * 1000).toFixed(2)} us/call (${((2 * m * n * k) / t / 1e6).toFixed(2)} GFLOP/s)`);
}
