/**
 * `pnpm bench`: gradfolio's CPU backend next to TensorFlow.js 4.22 (cpu and wasm backends) in one
 * process, on the same inputs (and, for autograd, PyTorch in a Python subprocess). One JSON line per
 * measurement, then a table of ratios.
 */
import * as gf from '@gradfolio/tensor';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { benchAutograd } from './autograd.js';
import { benchData } from './data.js';
import { measure, printRatios, randData, useTf } from './harness.js';
import { benchLSTM } from './lstm.js';
import { benchOptim } from './optim.js';

const quick = process.argv.includes('--quick');
/** `--only=core` (dispatch, elementwise, matmul), `--only=autograd`, `--only=optim`, `--only=data` or `--only=lstm`; default all. */
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);

async function benchMatmul(n: number): Promise<void> {
  const params = { n, dtype: 'float32', gflop: Number(((2 * n * n * n) / 1e9).toFixed(3)) };
  const ad = randData(n * n, 1);
  const bd = randData(n * n, 2);
  const runs = n >= 1024 ? 5 : 15;
  const a = gf.tensor(ad).reshape(n, n);
  const b = gf.tensor(bd).reshape(n, n);
  const gr = await measure('matmul', 'gradfolio-cpu', params, () => a.matmul(b), { runs });
  console.error(`  gradfolio-cpu matmul n=${n}: ${((2 * n ** 3) / (gr.ms * 1e6)).toFixed(1)} GFLOP/s`);
  for (const backend of ['wasm', 'cpu'] as const) {
    if (backend === 'cpu' && n >= 1024 && quick) continue;
    await useTf(backend);
    const ta = tf.tensor2d(ad, [n, n]);
    const tb = tf.tensor2d(bd, [n, n]);
    const r = await measure(`matmul`, `tfjs-${backend}`, params, () => tf.matMul(ta, tb).dataSync(), {
      runs: backend === 'cpu' && n >= 1024 ? 3 : runs,
      warmup: backend === 'cpu' && n >= 1024 ? 1 : 2,
    });
    console.error(`  tfjs-${backend} matmul n=${n}: ${((2 * n ** 3) / (r.ms * 1e6)).toFixed(1)} GFLOP/s`);
    tf.disposeVariables();
    ta.dispose();
    tb.dispose();
  }
}

async function benchElementwise(): Promise<void> {
  const n = 1 << 20;
  const params = { n, chain: 10, reduction: 'sum' };
  const xd = randData(n, 3);
  const yd = randData(n, 4);
  const x = gf.tensor(xd);
  const y = gf.tensor(yd);
  // Ten pointwise ops (with a broadcast scalar or a second tensor) and a full reduction.
  const chain = () =>
    x.mul(0.5).add(y).tanh().sub(0.25).abs().add(1).sqrt().mul(y).neg().sigmoid().sum().itemSync();
  await measure('elementwise-chain', 'gradfolio-cpu', params, chain);
  for (const backend of ['wasm', 'cpu'] as const) {
    await useTf(backend);
    const tx = tf.tensor1d(xd);
    const ty = tf.tensor1d(yd);
    await measure('elementwise-chain', `tfjs-${backend}`, params, () =>
      tf.tidy(() =>
        tf
          .sigmoid(
            tf.neg(
              tf.mul(tf.sqrt(tf.add(tf.abs(tf.sub(tf.tanh(tf.add(tf.mul(tx, 0.5), ty)), 0.25)), 1)), ty),
            ),
          )
          .sum()
          .dataSync(),
      ),
    );
    tx.dispose();
    ty.dispose();
  }
}

async function benchDispatch(): Promise<void> {
  const count = 1000;
  const params = { adds: count, size: 4 };
  const a = gf.tensor(new Float32Array([1, 2, 3, 4]));
  const b = gf.tensor(new Float32Array([0.5, 0.5, 0.5, 0.5]));
  await measure(
    'dispatch-1000-adds',
    'gradfolio-cpu',
    params,
    () => {
      let s = a;
      for (let i = 0; i < count; i++) s = s.add(b);
      return s.dataSync();
    },
    { runs: 31 },
  );
  for (const backend of ['wasm', 'cpu'] as const) {
    await useTf(backend);
    const ta = tf.tensor1d([1, 2, 3, 4]);
    const tb = tf.tensor1d([0.5, 0.5, 0.5, 0.5]);
    await measure(
      'dispatch-1000-adds',
      `tfjs-${backend}`,
      params,
      () =>
        tf.tidy(() => {
          let s = ta;
          for (let i = 0; i < count; i++) s = tf.add(s, tb);
          return s.dataSync();
        }),
      { runs: 31 },
    );
    ta.dispose();
    tb.dispose();
  }
}

await useTf('wasm');
const tfjsWasm = `simd=${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')} multithread=${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')} threads=${getThreadsCount()}`;
console.error(`tfjs-wasm: ${tfjsWasm}`);
console.error(
  `gradfolio bench on ${process.platform}-${process.arch}, node ${process.version}, ${(await import('node:os')).cpus().length} cpus`,
);
if (only === undefined || only === 'core') {
  await benchDispatch();
  await benchElementwise();
  await benchMatmul(256);
  await benchMatmul(1024);
}
if (only === undefined || only === 'autograd') await benchAutograd(quick);
if (only === undefined || only === 'optim') await benchOptim(quick);
if (only === undefined || only === 'data') await benchData(quick);
if (only === undefined || only === 'lstm') await benchLSTM(quick);
printRatios('gradfolio-cpu');
process.exit(0);
