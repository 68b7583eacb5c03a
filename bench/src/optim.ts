/**
 * Optimizer cases of `pnpm bench`: one `step()` over a single float32 parameter of 1M elements with a
 * fixed gradient (SGD with momentum, Adam), gradfolio's CPU backend next to torch 1.13 (subprocess)
 * and TensorFlow.js (`tf.train.momentum` / `tf.train.adam` applying the same gradient).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Adam, type Optimizer, SGD } from '@gradfolio/optim';
import * as gf from '@gradfolio/tensor';
import * as tf from '@tensorflow/tfjs';
import { measure, randData, record, useTf } from './harness.js';

const PYTHON = '/usr/bin/python3';

function torchTimes(n: number, runs: number, warmup: number): Record<string, number> | string {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const script = fileURLToPath(new URL('./torch_optim.py', import.meta.url));
  const r = spawnSync(PYTHON, [script], { input: JSON.stringify({ n, runs, warmup }), encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0)
    return `torch side failed: ${r.error?.message ?? r.stderr.trim()}`;
  return JSON.parse(r.stdout) as Record<string, number>;
}

/** Runs the optimizer-step benches (1M parameters). */
export async function benchOptim(quick: boolean): Promise<void> {
  const n = 1 << 20;
  const runs = quick ? 9 : 31;
  const warmup = 5;
  const pd = randData(n, 11);
  const gd = randData(n, 12);
  const cases: Array<[string, (p: gf.Tensor) => Optimizer<object>, () => tf.Optimizer]> = [
    ['sgd-momentum', (p) => new SGD([p], { lr: 1e-3, momentum: 0.9 }), () => tf.train.momentum(1e-3, 0.9)],
    ['adam', (p) => new Adam([p], { lr: 1e-3 }), () => tf.train.adam(1e-3)],
  ];
  for (const [name, make] of cases) {
    const p = gf.tensor(pd).requiresGrad_();
    p.grad = gf.tensor(gd);
    const opt = make(p);
    await measure(`optim-step-${name}`, 'gradfolio-cpu', { n }, () => opt.step(), { runs, warmup });
  }
  const torch = torchTimes(n, runs, warmup);
  if (typeof torch === 'string') console.error(`  optim: torch skipped (${torch})`);
  else {
    record('optim-step-sgd-momentum', 'torch-1t', { n }, torch.sgd_momentum!, runs);
    record('optim-step-adam', 'torch-1t', { n }, torch.adam!, runs);
  }
  for (const backend of ['wasm', 'cpu'] as const) {
    await useTf(backend);
    for (const [name, , makeTf] of cases) {
      const v = tf.variable(tf.tensor1d(pd));
      const g = tf.tensor1d(gd);
      const opt = makeTf();
      await measure(
        `optim-step-${name}`,
        `tfjs-${backend}`,
        { n },
        async () => {
          opt.applyGradients({ [v.name]: g });
          await v.data();
        },
        { runs, warmup },
      );
      opt.dispose();
      v.dispose();
      g.dispose();
    }
  }
}
