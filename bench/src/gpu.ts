/**
 * `pnpm bench:gpu` (bench/package.json): the WebGPU issue's GPU mode. In one run on one machine:
 * gradfolio on WebGPU (Dawn through the `webgpu` package in Node) and PyTorch CUDA (`python3` with
 * torch, `torch_gpu.py`, TF32 off), on the same cases:
 *
 * - matmul f32 n = 4096 (TFLOP/s);
 * - seed 003's portfolio LSTM training step (batch 64, 50 steps, 8 features, hidden 64, Sharpe loss,
 *   Adam), each step in `tidy`, the loss read back every step;
 * - seed 000's training epoch (6183 windows of 7, hidden 4, batch 16: 387 steps, the loss read every
 *   step);
 * - memory: `--memory-steps` (default 10,000) steps of the seed-003 model, bytes in use sampled: flat.
 *
 * After each gradfolio case one more run goes through the backend's profiler (`startProfile`): GPU time
 * per kernel from timestamp queries next to the wall time, dispatches and submits.
 *
 * On the H100 machine (no Node.js there) it runs bundled: `pnpm bench:gpu-kit` (scripts/build-gpu-kit.mjs)
 * bundles this file to one .mjs and packs it with `../shared/tools/make-gpu-kit.sh`; then
 * `bash .gpukit/run.sh app/gpu.mjs`. `--quick` shrinks every case (a smoke test on SwiftShader).
 * TensorFlow.js's WebGPU backend (`@tensorflow/tfjs-backend-webgpu`) runs the same cases on the same Dawn
 * (`navigator.gpu` provided from the `webgpu` package), with the models of `tfmodels.ts`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import '@gradfolio/autograd';
import { DataLoader, TensorDataset } from '@gradfolio/data';
import { mseLoss } from '@gradfolio/nn';
import { Adam } from '@gradfolio/optim';
import * as gf from '@gradfolio/tensor';
import { initWebGPU, webgpuStats } from '@gradfolio/webgpu';
import * as tf from '@tensorflow/tfjs';
import { CloseModel, negSharpe, PortfolioModel } from './models.js';
import { tfCloseEpoch, tfCloseModel, tfNegSharpe, tfPortfolioModel } from './tfmodels.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const flag = (name: string, fallback: number): number => {
  const a = args.find((s) => s.startsWith(`--${name}=`));
  return a === undefined ? fallback : Number(a.slice(name.length + 3));
};

interface Row {
  bench: string;
  impl: string;
  ms: number;
  params: Record<string, unknown>;
}
const rows: Row[] = [];
function report(bench: string, impl: string, ms: number, params: Record<string, unknown>): void {
  const r = { bench, impl, ms: Number(ms.toPrecision(4)), params };
  rows.push(r);
  console.log(JSON.stringify(r));
}

async function median(fn: () => Promise<unknown>, runs: number, warmup: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)] as number;
}

/**
 * One more run of `fn` under the backend's profiler: GPU time per kernel (timestamp queries) against
 * the wall time, so a missed goal says whether kernels or the host side (dispatch, submit, readback)
 * limit it.
 */
async function profiled(bench: string, fn: () => Promise<unknown>): Promise<void> {
  backend.startProfile();
  await fn();
  const p = await backend.endProfile();
  const top = p.kernels
    .slice(0, 10)
    .map((k) => ({ kernel: k.kernel, n: k.dispatches, ms: Number(k.ms.toFixed(4)) }));
  console.log(
    JSON.stringify({
      bench,
      impl: 'gradfolio-webgpu',
      profile: {
        timestamps: p.timestamps,
        wallMs: Number(p.wallMs.toFixed(3)),
        gpuMs: Number(p.gpuMs.toFixed(3)),
        dispatches: p.dispatches,
        submits: p.submits,
        top,
      },
    }),
  );
}

async function benchMatmul(n: number): Promise<void> {
  const a = gf.randn([n, n], { device: 'webgpu' });
  const b = gf.randn([n, n], { device: 'webgpu' });
  const runs = quick ? 3 : 20;
  // Several products per timed call, read once: the time per product without a readback each.
  const reps = quick ? 1 : 10;
  const products = async (): Promise<void> => {
    let c: gf.Tensor | undefined;
    for (let i = 0; i < reps; i++) {
      c?.dispose();
      c = a.matmul(b);
    }
    await (c as gf.Tensor).sum().data();
    c?.dispose();
  };
  const ms = (await median(products, runs, 2)) / reps;
  await profiled('matmul', products);
  report('matmul', 'gradfolio-webgpu', ms, {
    n,
    dtype: 'float32',
    tflops: Number(((2 * n ** 3) / (ms * 1e9)).toFixed(2)),
  });
}

async function portfolioStep(B: number, T: number, F: number, H: number, steps: number, memory: boolean) {
  gf.manualSeed(0);
  const model = new PortfolioModel(F, H, 4).to('webgpu');
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const x = gf.randn([B, T, F], { device: 'webgpu' });
  const r = gf.randn([B, 4], { device: 'webgpu' }).mul(0.01);
  const step = async (): Promise<number> => {
    const loss = gf.tidy(() => {
      opt.zeroGrad();
      const l = negSharpe(model.forward(x), r);
      l.backward();
      opt.step();
      return l.detach();
    });
    const v = Number(await loss.item());
    loss.dispose();
    return v;
  };
  if (!memory) {
    const ms = await median(step, steps, 5);
    await profiled('lstm-train-step', step);
    return ms;
  }
  const samples: number[] = [];
  for (let i = 0; i < steps; i++) {
    await step();
    if (i % Math.max(1, Math.floor(steps / 20)) === 0 || i === steps - 1)
      samples.push(webgpuStats().bytesInUse);
  }
  return samples;
}

async function closeEpoch(windows: number, batch: number): Promise<number> {
  gf.manualSeed(0);
  const model = new CloseModel().to('webgpu');
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const ds = new TensorDataset(
    gf.randn([windows, 7, 1], { device: 'webgpu' }),
    gf.randn([windows, 1], { device: 'webgpu' }),
  );
  const loader = new DataLoader(ds, {
    batchSize: batch,
    shuffle: true,
    generator: new gf.Generator().manualSeed(0),
  });
  const epoch = async (): Promise<void> => {
    for (const [xb, yb] of loader) {
      const loss = gf.tidy(() => {
        opt.zeroGrad();
        const l = mseLoss(model.forward(xb as gf.Tensor), yb as gf.Tensor);
        l.backward();
        opt.step();
        return l.detach();
      });
      await loss.item();
      loss.dispose();
      (xb as gf.Tensor).dispose();
      (yb as gf.Tensor).dispose();
    }
  };
  const ms = await median(epoch, quick ? 1 : 3, 1);
  await profiled('lstm-epoch', epoch);
  return ms;
}

function torchSide(cfg: Record<string, unknown>): Record<string, number | string> | string {
  const here = dirname(fileURLToPath(import.meta.url));
  const script = [join(here, 'torch_gpu.py'), join(here, '..', 'src', 'torch_gpu.py')].find((p) =>
    existsSync(p),
  );
  if (script === undefined) return 'torch_gpu.py not found next to the bench';
  // The H100 machine's python3 has torch 2.11; on Debian dev machines only /usr/bin/python3 has torch.
  let why = '';
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, [script], { input: JSON.stringify(cfg), encoding: 'utf8' });
    if (r.error === undefined && r.status === 0)
      return JSON.parse(r.stdout) as Record<string, number | string>;
    why += `${py}: ${r.error?.message ?? r.stderr.trim().split('\n').at(-1)}; `;
  }
  return `torch side failed (${why})`;
}

// Dawn rounds timestamps (to about 65 us) unless told not to: the profiles need exact kernel times.
const backend = await initWebGPU({
  powerPreference: 'high-performance',
  dawnFlags: ['disable-dawn-features=timestamp_quantization'],
});
const info = (
  backend.device as unknown as {
    adapterInfo?: { vendor?: string; architecture?: string; description?: string };
  }
).adapterInfo;
console.error(
  `webgpu adapter: ${info?.vendor ?? '?'} ${info?.architecture ?? ''} ${info?.description ?? ''}`,
);

const n = quick ? 256 : 4096;
const s3 = quick ? { B: 8, T: 10, F: 8, H: 16 } : { B: 64, T: 50, F: 8, H: 64 };
const ep = quick ? { windows: 320, batch: 16 } : { windows: 6183, batch: 16 };
const memSteps = flag('memory-steps', quick ? 50 : 10_000);

await benchMatmul(n);
report(
  'lstm-train-step',
  'gradfolio-webgpu',
  (await portfolioStep(s3.B, s3.T, s3.F, s3.H, quick ? 5 : 50, false)) as number,
  { model: 'seed003', ...s3 },
);
report('lstm-epoch', 'gradfolio-webgpu', await closeEpoch(ep.windows, ep.batch), {
  model: 'seed000',
  ...ep,
  steps: Math.ceil(ep.windows / ep.batch),
});
const samples = (await portfolioStep(s3.B, s3.T, s3.F, s3.H, memSteps, true)) as number[];
// Flat: over the second half of the run memory never rises above where it stood at the midpoint
// (earlier cases' tensors may still be collected during the run, which only lowers it).
const mid = samples[Math.floor(samples.length / 2)] as number;
const flat = samples.slice(Math.floor(samples.length / 2)).every((v) => v <= mid);
console.log(
  JSON.stringify({ bench: 'memory', impl: 'gradfolio-webgpu', steps: memSteps, bytesInUse: samples, flat }),
);

/** The tfjs-webgpu column: its backend registers itself only where `navigator.gpu` exists. */
async function tfjsWebGPU(): Promise<void> {
  try {
    const wg = (await import('webgpu')) as unknown as { create(f: string[]): GPU; globals: object };
    Object.assign(globalThis, wg.globals);
    if ((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu === undefined) {
      Object.defineProperty(globalThis, 'navigator', { value: { gpu: wg.create([]) }, configurable: true });
    }
    await import('@tensorflow/tfjs-backend-webgpu');
    await tf.setBackend('webgpu');
    await tf.ready();
  } catch (e) {
    console.error(`tfjs-webgpu skipped: ${(e as Error).message}`);
    return;
  }
  const a = tf.randomNormal([n, n]);
  const reps = quick ? 1 : 10;
  const mm =
    (await median(
      async () => {
        let c: tf.Tensor | undefined;
        for (let i = 0; i < reps; i++) {
          c?.dispose();
          c = tf.matMul(a, a);
        }
        await tf.sum(c as tf.Tensor).data();
        c?.dispose();
      },
      quick ? 3 : 20,
      2,
    )) / reps;
  report('matmul', 'tfjs-webgpu', mm, {
    n,
    dtype: 'float32',
    tflops: Number(((2 * n ** 3) / (mm * 1e9)).toFixed(2)),
  });
  const port = tfPortfolioModel(s3.T, s3.F, s3.H);
  const adam = tf.train.adam(1e-3);
  const x = tf.randomNormal([s3.B, s3.T, s3.F]);
  const r = tf.mul(tf.randomNormal([s3.B, 4]), 0.01);
  const step = await median(
    async () => {
      const loss = adam.minimize(() => tfNegSharpe(port.apply(x) as tf.Tensor, r), true) as tf.Scalar;
      await loss.data();
      loss.dispose();
    },
    quick ? 5 : 50,
    5,
  );
  report('lstm-train-step', 'tfjs-webgpu', step, { model: 'seed003', ...s3 });
  const close = tfCloseModel();
  const adam0 = tf.train.adam(1e-3);
  const xs = tf.randomNormal([ep.windows, 7, 1]);
  const ys = tf.randomNormal([ep.windows, 1]);
  const g = new gf.Generator().manualSeed(1);
  const epoch = await median(() => tfCloseEpoch(close, adam0, xs, ys, ep.batch, g), quick ? 1 : 3, 1);
  report('lstm-epoch', 'tfjs-webgpu', epoch, {
    model: 'seed000',
    ...ep,
    steps: Math.ceil(ep.windows / ep.batch),
  });
}

await tfjsWebGPU();

const torch = torchSide({ n, ...s3, windows: ep.windows, batch: ep.batch, quick });
if (typeof torch === 'string') console.error(`torch skipped: ${torch}`);
else {
  const impl = `torch-${String(torch.device)}`;
  const ms = (k: string): number => Number(torch[k]);
  report('matmul', impl, ms('matmul_ms'), {
    n,
    dtype: 'float32',
    tflops: Number(((2 * n ** 3) / (ms('matmul_ms') * 1e9)).toFixed(2)),
  });
  report('lstm-train-step', impl, ms('step_ms'), { model: 'seed003', ...s3 });
  report('lstm-epoch', impl, ms('epoch_ms'), {
    model: 'seed000',
    ...ep,
    steps: Math.ceil(ep.windows / ep.batch),
  });
}
console.log('\nratios: peer time / gradfolio-webgpu time (> 1: gradfolio is faster)');
for (const r of rows.filter((x) => x.impl === 'gradfolio-webgpu')) {
  for (const peer of rows.filter((x) => x.impl !== r.impl && x.bench === r.bench)) {
    console.log(
      `${r.bench.padEnd(16)} gradfolio ${String(r.ms).padEnd(10)} ${peer.impl.padEnd(12)} ${String(peer.ms).padEnd(10)} ${(peer.ms / r.ms).toFixed(2)}`,
    );
  }
}
process.exit(0);
